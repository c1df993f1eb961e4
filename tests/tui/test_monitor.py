"""The worker half and the app's refresh machinery: snapshots, in-place updates, responsiveness."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import orjson
import pytest
from tui_helpers import (
    NOW_S,
    Corpus,
    FakeProbe,
    env_without_agents,
    refreshed,
    replace_processes,
    settled,
    wait_for,
    write_corpus,
)

import tui_app.monitor as monitor_module
from agent_session import AgentHomes, AgentSession
from agent_session.process.snapshot import MAX_ARG_CHARS
from tui_app.app import MonitorApp, _print_once, build_parser, choose_home, main
from tui_app.demo import synth_module
from tui_app.monitor import (
    CMDLINE_CHARS,
    Monitor,
    MonitorSnapshot,
    ProbeResult,
    ProcessProbe,
    Wakeup,
    bounded_cmdline,
)
from tui_app.widgets import ProcessTree, SessionsTable

MakeApp = Callable[..., MonitorApp]


def monitor_for(corpus: Corpus, probe: FakeProbe | None = None) -> Monitor:
    return Monitor(
        AgentHomes.resolve(corpus.home),
        user_home=corpus.home,
        clock=lambda: NOW_S,
        probe=probe or FakeProbe(),
    )


def test_snapshot_rows_totals_and_matches(corpus: Corpus) -> None:
    live = corpus.spec("claude", 0)
    snap = monitor_for(corpus, FakeProbe({700: ("claude", live.spec.session_id)})).collect()
    assert len(snap.sessions) == 11
    row = snap.row(corpus.key(live))
    assert row is not None and row.live and row.cells[0] == "●"
    assert sum(r.live for r in snap.sessions) == 1
    (match,) = snap.matches
    assert (match.root_pid, match.session_key, match.evidence, match.matched_pids) == (
        700,
        corpus.key(live),
        "pid_file",
        (700, 701),
    )
    (root,) = snap.roots
    assert root.label == (
        f"{700:>12} {'12.5%':>6} {'300M':>5} {'-':>9} {'':<7} "
        f"claude  {row.display_id} · claude-sonnet-4-5 · {row.cells[4]} tok · pid_file 0.95"
    )
    assert [c.pid for c in root.children] == [701]
    claude = next(t for t in snap.totals if t.agent == "claude")
    # Each token once: parents already include their subagents, the subagent row is not re-added.
    assert claude.tokens == sum(
        r.total_tokens for r in snap.sessions if r.agent == "claude" and not r.is_subagent
    )
    assert (claude.sessions, claude.live, claude.cpu_percent) == (5, 1, 13.0)


def test_unchanged_files_give_an_equal_snapshot(corpus: Corpus) -> None:
    m = monitor_for(corpus)
    a, b = m.collect(), m.collect()
    assert b.seq == a.seq + 1
    assert (a.sessions, a.roots, a.totals) == (b.sessions, b.roots, b.totals)


def test_wakeup_coalesces_and_respects_pause() -> None:
    w = Wakeup()
    assert w.wait(0) == "tick"
    w.request_change()
    w.request_change()
    w.request_detail()
    assert w.wait(0) == "change"  # one collection covers both changes and the detail
    assert w.wait(0) == "tick"
    w.request_change()
    w.request_detail()
    assert w.wait(0, paused=True) == "detail"  # paused: file changes are dropped, selections served
    assert w.wait(0, paused=True) == "tick"
    w.request_refresh()
    assert w.wait(0, paused=True) == "refresh"  # `r` works while paused
    w.stop()
    assert w.wait(10) == "stop"


def test_once_json_prints_processes_matches_and_sessions(corpus: Corpus) -> None:
    live = corpus.spec("gemini", 0)
    out = io.StringIO()
    _print_once(monitor_for(corpus, FakeProbe({900: ("gemini", live.spec.session_id)})), True, out)
    data = json.loads(out.getvalue())
    assert set(data) >= {"processes", "matches", "sessions", "totals", "errors"}
    assert [p["pid"] for p in data["processes"]] == [900, 901]
    assert data["matches"][0]["session_id"] == live.spec.session_id
    by_id = {s["session_id"]: s for s in data["sessions"]}
    assert len(by_id) == 11 and by_id[live.spec.session_id]["live"] is True
    expected = sum(u.total_tokens for u in synth_module("gemini").expected(live.spec).values())
    assert by_id[live.spec.session_id]["usage"]["total_tokens"] == expected


def _probe_only_trees_of(monkeypatch: pytest.MonkeyPatch, pids: Collection[int]) -> None:
    """Make the monitor built by ``main`` see the trees of ``pids`` only, not the machine's agents."""
    real = monitor_module.default_probe

    def scoped(homes: AgentHomes, only_trees_of: Collection[int] | None = None) -> ProcessProbe:
        return real(homes, only_trees_of=pids)

    monkeypatch.setattr(monitor_module, "default_probe", scoped)


def test_once_json_command_line_on_an_empty_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real probe, over this test process's own tree: no agent in it, whatever runs elsewhere.
    _probe_only_trees_of(monkeypatch, [os.getpid()])
    assert main(["--home", str(tmp_path), "--once", "--json"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["sessions"] == [] and data["matches"] == [] and data["processes"] == []


def test_once_json_bounds_the_command_line_of_a_live_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process named ``claude`` with a 100,003-character argument: shown, its argv cut to 1,000 chars."""
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("no sleep(1)")
    long_arg = "0" * 100_000 + "600"  # sleep(1) reads it as 600 seconds
    child = subprocess.Popen(["claude", long_arg], executable=sleep)
    try:
        _probe_only_trees_of(monkeypatch, [child.pid])
        assert main(["--home", str(tmp_path), "--once", "--json"]) == 0
    finally:
        child.kill()
        child.wait()
    data = orjson.loads(capsys.readouterr().out)
    (proc,) = data["processes"]
    assert proc["pid"] == child.pid
    assert proc["cmdline"] == ["claude", long_arg[:993] + "…"]
    assert sum(len(a) for a in proc["cmdline"]) == CMDLINE_CHARS == 1000
    # Counted from the argv as the snapshot keeps it (each argument already cut to 4,096 chars).
    assert proc["cmdline_omitted_chars"] == len("claude") + MAX_ARG_CHARS - 999
    (match,) = data["matches"]
    assert (match["root_pid"], match["agent"], match["session_key"]) == (child.pid, "claude", None)


def test_once_json_bounds_injected_command_lines(corpus: Corpus) -> None:
    """Whatever a probe hands over, ``to_json`` prints at most 1,000 characters of argv per process."""

    class LongArgv(FakeProbe):
        def __call__(self, sessions: Sequence[AgentSession]) -> ProbeResult:
            long = ("bash", "-c", "x" * 5000, "tail")
            return replace_processes(
                super().__call__(sessions),
                lambda p: dataclasses.replace(p, cmdline=long) if p.pid == 901 else p,
            )

    live = corpus.spec("gemini", 0)
    data = monitor_for(corpus, LongArgv({900: ("gemini", live.spec.session_id)})).collect().to_json()
    root, tool = data["processes"]
    assert (root["cmdline"], root["cmdline_omitted_chars"]) == (["gemini"], 0)
    assert tool["cmdline"] == ["bash", "-c", "x" * 993 + "…"]
    assert tool["cmdline_omitted_chars"] == 4 + 2 + 5000 + 4 - 999


def test_bounded_cmdline_edges() -> None:
    assert bounded_cmdline(["a" * 10, "b" * 10], limit=20) == (("a" * 10, "b" * 10), 0)
    assert bounded_cmdline(["a" * 10, "b" * 10], limit=15) == (("a" * 10, "bbbb…"), 6)
    # No room left for even one character and the ellipsis: the argument is dropped, and counted.
    assert bounded_cmdline(["a" * 10, "b" * 10], limit=11) == (("a" * 10,), 10)
    assert bounded_cmdline([], limit=5) == ((), 0)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("agentsession-top ")


def test_demo_starts_by_itself_only_when_no_session_exists(tmp_path: Path) -> None:
    empty = AgentHomes.resolve(env=env_without_agents(tmp_path))
    parse = build_parser().parse_args

    def decide(argv: list[str], homes: AgentHomes) -> tuple[bool, bool]:
        _, demo, auto = choose_home(parse(argv), homes)
        return demo, auto

    assert decide([], empty) == (True, True)
    assert decide(["--demo"], empty) == (True, False)
    assert decide(["--once", "--json"], empty) == (False, False)
    assert decide(["--home", str(tmp_path)], empty) == (False, False)
    (tmp_path / ".claude" / "projects").mkdir(parents=True)
    installed = AgentHomes.resolve(env=env_without_agents(tmp_path))
    # An agent installed but without a single session still gets the demo …
    assert decide([], installed) == (True, True)
    # … and one session file is enough to show the real data.
    write_corpus(tmp_path)
    assert decide([], installed) == (False, False)
    assert isinstance(parse([]), argparse.Namespace)


def test_json_without_once_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--json"])
    assert exc.value.code == 2
    assert "--json needs --once" in capsys.readouterr().err


@pytest.mark.slow
async def test_refresh_updates_in_place_keeping_cursor_and_expansion(
    make_app: MakeApp, corpus: Corpus
) -> None:
    probe = FakeProbe({300: ("codex", corpus.spec("codex", 0).spec.session_id), 400: ("gemini", None)})
    app = make_app(probe)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        table = app.query_one(SessionsTable)
        tree = app.query_one(ProcessTree)
        await pilot.press("down", "down", "down", "down")
        chosen = table.cursor_key
        tree.root.children[0].collapse()
        node_ids = [n.id for n in tree.root.children]

        # The smallest session grows past everything: order changes, cursor must follow its session.
        small = corpus.spec("codex", 2)
        bigger = small.spec.__class__(**{**small.spec.__dict__, "turns": 60})
        synth_module("codex").write_session(corpus.home, bigger)
        calls: list[str] = []
        orig_strip = table._row_strip
        table._row_strip = lambda r, *a: (calls.append(r.key), orig_strip(r, *a))[1]  # type: ignore[method-assign]
        assert app.snapshot is not None
        before = {r.key: r for r in app.snapshot.sessions}
        await refreshed(pilot, app)

        keys = table.row_keys_in_order
        assert keys[0] == corpus.key(small)
        assert table.cursor_key == chosen and app.selected_key == chosen
        # The monitor rebuilt only the grown session's row; every other row is the same object.
        after = {r.key: r for r in app.snapshot.sessions}
        assert after.keys() == before.keys()
        assert [k for k, r in after.items() if r is not before[k]] == [corpus.key(small)]
        # Only lines on screen were drawn again (the order moved), never every row.
        assert corpus.key(small) in calls and len(calls) <= table.scrollable_content_region.height
        # Same tree nodes, the collapsed one still collapsed.
        assert [n.id for n in tree.root.children] == node_ids
        assert not tree.root.children[0].is_expanded and tree.root.children[1].is_expanded

        # An unchanged snapshot touches no widget at all.
        calls.clear()
        await refreshed(pilot, app)
        assert calls == []


@pytest.mark.slow
async def test_slow_refresh_does_not_block_keys(make_app: MakeApp, corpus: Corpus) -> None:
    """A refresh stuck in I/O (here: until the test releases it) must not stop key handling."""
    release = threading.Event()
    entered = threading.Event()

    class SlowMonitor(Monitor):
        slow = False

        def collect(self, detail_key: str | None = None) -> MonitorSnapshot:
            if self.slow:
                entered.set()
                release.wait(30)
            return super().collect(detail_key)

    monitor = SlowMonitor(
        AgentHomes.resolve(corpus.home), user_home=corpus.home, clock=lambda: NOW_S, probe=FakeProbe()
    )
    app = make_app(monitor=monitor)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await settled(pilot, app)
            applied = app.applied
            monitor.slow = True
            await pilot.press("r")
            await wait_for(pilot, entered.is_set, "the refresh to start")
            table = app.query_one(SessionsTable)
            before = table.row_keys_in_order
            await pilot.press("S")
            assert table.row_keys_in_order == list(reversed(before))
            await pilot.press("slash", *"codex", "enter")
            assert len(table.row_keys_in_order) == 3
            await pilot.press("question_mark")
            assert app.screen.__class__.__name__ == "HelpScreen"
            await pilot.press("escape")
            assert app.applied == applied  # all of that happened while the refresh was still running
            release.set()
            await refreshed(pilot, app, press=False)
    finally:
        release.set()


async def test_file_change_triggers_an_early_refresh(make_app: MakeApp, corpus: Corpus) -> None:
    app = make_app(watch=True)  # interval is one hour: only the watcher can cause this refresh
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        await wait_for(
            pilot, lambda: any(w.name == "watch" and w.is_running for w in app.workers), "the watcher"
        )
        await pilot.pause(0.3)  # let the watcher's inotify watches settle
        spec = corpus.spec("claude", 1)
        grown = spec.spec.__class__(**{**spec.spec.__dict__, "turns": 9})
        synth_module("claude").write_session(corpus.home, grown)
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and (r := app.snapshot.row(corpus.key(spec))) is not None
                and r.total_tokens
                == sum(u.total_tokens for u in synth_module("claude").expected(grown).values())
            ),
            "the watcher-triggered refresh",
        )
