"""The counting model of ``agentsession serve``: exact, monotonic, never counts twice.

Plain inputs (``SessionObservation``) for the rule itself, then the real
store on generated files for truncation, rewrite and deletion, and the
parser of ``serve`` (no OpenTelemetry import on the way).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_session.discovery import AgentHomes
from agent_session.errors import InvalidArgument
from agent_session.model import AgentSession, AgentType
from agent_session.process import ProcessInfo, ProcessSnapshot
from agent_session.serve.cli import add_serve_parser, parse_listen
from agent_session.serve.daemon import MarksFile, ServeDaemon, default_state_path
from agent_session.serve.metrics import (
    MAX_TOOL_LABELS,
    OTHER_LABEL,
    CounterModel,
    ModelObservation,
    SessionObservation,
    context_window,
    observe_session,
)
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import codex as synth_codex

T0 = 1_767_000_000_000


def obs(
    sid: str, inp: int, out: int = 0, *, model: str = "m1", requests: int = 1, **tools: int
) -> SessionObservation:
    return SessionObservation(
        agent="claude",
        session_id=sid,
        models={
            model: ModelObservation(
                input_tokens=inp, output_tokens=out, requests=requests, cost_usd=inp / 1000
            )
        },
        tools={name: {"ok": n} for name, n in tools.items()},
    )


def tokens(model: CounterModel) -> dict[tuple[str, ...], float]:
    """Token totals by label set, the series still at 0 left out (see the seeding test)."""
    return {k: v for k, v in model.counters("tokens").items() if v}


def test_every_series_of_a_new_model_starts_together() -> None:
    """So a model's first cache write or reasoning token is a rise rate() sees, not a new series."""
    m = CounterModel()
    m.observe([obs("a", 5)])
    assert m.counters("tokens") == {
        ("claude", "m1", "input"): 5,
        ("claude", "m1", "output"): 0,
        ("claude", "m1", "cache_creation"): 0,
        ("claude", "m1", "cache_read"): 0,
    }
    assert m.counters("reasoning_tokens") == {("claude", "m1"): 0}
    assert m.counters("requests") == {("claude", "m1"): 1}


def test_history_counts_once_and_appends_add_exactly_their_usage() -> None:
    m = CounterModel()
    assert m.observe([obs("a", 100, 10), obs("b", 50, 5)]) > 0
    assert tokens(m)[("claude", "m1", "input")] == 150
    assert tokens(m)[("claude", "m1", "output")] == 15
    # The same state observed again adds nothing.
    assert m.observe([obs("a", 100, 10), obs("b", 50, 5)]) == 0
    assert tokens(m)[("claude", "m1", "input")] == 150
    # An appended request adds exactly its usage.
    m.observe([obs("a", 130, 12, requests=2)])
    assert tokens(m)[("claude", "m1", "input")] == 180
    assert tokens(m)[("claude", "m1", "output")] == 17
    assert m.counters("requests")[("claude", "m1")] == 3


def test_truncate_rewrite_delete_never_lower_or_double_count() -> None:
    m = CounterModel()
    m.observe([obs("a", 100, 10, Bash=4)])
    # Truncated to less: nothing goes down.
    m.observe([obs("a", 40, 2, Bash=1)])
    assert tokens(m)[("claude", "m1", "input")] == 100
    assert m.counters("tool_calls")[("claude", "Bash", "ok")] == 4
    # Rewritten back to the same content: not counted twice.
    m.observe([obs("a", 100, 10, Bash=4)])
    assert tokens(m)[("claude", "m1", "input")] == 100
    # Grows past the old mark: only the part above the mark is added.
    m.observe([obs("a", 125, 10, Bash=6)])
    assert tokens(m)[("claude", "m1", "input")] == 125
    assert m.counters("tool_calls")[("claude", "Bash", "ok")] == 6
    # Deleted (no longer observed, state set without it): counters keep their value.
    m.set_state([], live=())
    assert tokens(m)[("claude", "m1", "input")] == 125
    assert m.mark("claude", "a", "m1", "input") == 125
    # The file restored in place: not counted again.
    m.observe([obs("a", 125, 10, Bash=6)])
    assert tokens(m)[("claude", "m1", "input")] == 125


def test_marks_are_per_session_and_model() -> None:
    m = CounterModel()
    m.observe([obs("a", 100), obs("a", 70, model="m2"), obs("b", 100)])
    # Session b shrinking does not let a's growth hide inside an aggregate.
    m.observe([obs("b", 10), obs("a", 160)])
    assert tokens(m)[("claude", "m1", "input")] == 260
    assert tokens(m)[("claude", "m2", "input")] == 70
    assert m.counters("cost_usd")[("claude", "m1")] == pytest.approx(0.26)


def test_per_session_labels_and_gauges() -> None:
    m = CounterModel(per_session=True)
    a = SessionObservation(
        "codex",
        "s-1",
        {"gpt-5": ModelObservation(input_tokens=7, requests=1)},
        context_fill=0.25,
        last_model="gpt-5",
    )
    b = SessionObservation("codex", "s-2", {"gpt-5": ModelObservation(input_tokens=3, requests=1)})
    sub = SessionObservation("claude", "agent-x", {}, is_subagent=True)
    m.observe_all([a, b, sub], live=[("codex", "s-1")])
    assert m.label_names("tokens") == ("agent_type", "model", "token_type", "session_id")
    assert tokens(m) == {("codex", "gpt-5", "input", "s-1"): 7, ("codex", "gpt-5", "input", "s-2"): 3}
    assert m.sessions_gauge() == {("codex", "live"): 1, ("codex", "idle"): 1}
    assert m.context_fill() == {("codex", "gpt-5", "s-1"): 0.25}
    # Without --per-session: no session label, no fill gauge.
    plain = CounterModel()
    plain.observe_all([a, b], live=[("codex", "s-1")])
    assert tokens(plain) == {("codex", "gpt-5", "input"): 10}
    assert plain.context_fill() == {}


def _with_status(**tool_status: dict[str, int]) -> AgentSession:
    return AgentSession(agent_type=AgentType.CLAUDE, session_id="a", path="/x", tool_status=tool_status)


def test_tool_calls_count_finished_calls_by_status_and_never_go_down() -> None:
    """Pending calls are in no series; their result adds them to ok/fail, nothing is lowered."""
    m = CounterModel()
    assert m.label_names("tool_calls") == ("agent_type", "tool", "status")
    m.observe([observe_session(_with_status(Bash={"pending": 2, "ok": 1}, Read={"pending": 1}))])
    assert m.counters("tool_calls") == {("claude", "Bash", "ok"): 1, ("claude", "Bash", "fail"): 0}
    # The three pending calls finish: two Bash (one failed), one Read.
    m.observe([observe_session(_with_status(Bash={"ok": 2, "fail": 1}, Read={"ok": 1}))])
    assert m.counters("tool_calls") == {
        ("claude", "Bash", "ok"): 2,
        ("claude", "Bash", "fail"): 1,
        ("claude", "Read", "ok"): 1,
        ("claude", "Read", "fail"): 0,
    }
    # A re-sent result turns the failure into a success: ok rises, fail keeps its value.
    m.observe([observe_session(_with_status(Bash={"ok": 3}, Read={"ok": 1}, web_search={"observed": 2}))])
    assert m.counters("tool_calls") == {
        ("claude", "Bash", "ok"): 3,
        ("claude", "Bash", "fail"): 1,
        ("claude", "Read", "ok"): 1,
        ("claude", "Read", "fail"): 0,
        ("claude", "web_search", "ok"): 0,
        ("claude", "web_search", "fail"): 0,
        ("claude", "web_search", "observed"): 2,
    }
    assert m.mark("claude", "a", "Bash", "tool.fail") == 1
    assert CounterModel(per_session=True).label_names("tool_calls") == (
        "agent_type",
        "tool",
        "status",
        "session_id",
    )


def test_untrusted_label_values_are_one_line_and_bounded() -> None:
    m = CounterModel()
    weird = "evil\x1b[31m\nmodel" + "x" * 500
    tools = {f"mcp__t{i}": {"ok": 1} for i in range(MAX_TOOL_LABELS + 5)}
    m.observe([SessionObservation("claude", "a", {weird: ModelObservation(input_tokens=1)}, tools)])
    (label,) = {k[1] for k in tokens(m)}
    assert "\x1b" not in label and "\n" not in label and len(label) <= 96
    calls = m.counters("tool_calls")
    assert len(calls) == 2 * (MAX_TOOL_LABELS + 1)  # ok and fail, each label
    assert calls[("claude", OTHER_LABEL, "ok")] == 5
    assert calls[("claude", OTHER_LABEL, "fail")] == 0
    assert sum(calls.values()) == MAX_TOOL_LABELS + 5


def _no_processes() -> ProcessSnapshot:
    return ProcessSnapshot((), T0)


def test_store_truncate_and_delete_keep_exact_totals(home: Path) -> None:
    """The daemon on real files: truncation and deletion leave the totals at the history's."""
    spec = SynthSpec(
        session_id="019a0000-0000-7000-8000-000000000001", cwd="/w/a", start_ms=T0, models=("gpt-5",), turns=4
    )
    path = synth_codex.write_session(home, spec)
    truth = sum(u.total_tokens for u in synth_codex.expected(spec).values())
    model = CounterModel()
    daemon = ServeDaemon(AgentHomes.resolve(home), model, cache=False, watch=False, snapshot=_no_processes)
    try:
        daemon.step()
        assert sum(tokens(model).values()) == truth
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])  # truncated mid-history
        daemon.step()
        assert sum(tokens(model).values()) == truth
        path.write_bytes(data)  # rewritten whole, same content
        daemon.step()
        assert sum(tokens(model).values()) == truth
        path.unlink()
        daemon.step()
        assert sum(tokens(model).values()) == truth
        assert model.sessions_gauge() == {}
    finally:
        daemon.close()


def test_restart_with_state_keeps_totals_of_deleted_sessions(home: Path, tmp_path: Path) -> None:
    """Without saved marks a restart after a deletion would lower the counters (read as a reset)."""
    specs = [
        SynthSpec(
            session_id=f"019a0000-0000-7000-8000-00000000000{i}",
            cwd="/w/a",
            start_ms=T0,
            models=("gpt-5",),
            turns=3,
            seed=i,
        )
        for i in (3, 4)
    ]
    paths = [synth_codex.write_session(home, spec) for spec in specs]
    truth = sum(u.total_tokens for spec in specs for u in synth_codex.expected(spec).values())
    state = MarksFile(tmp_path / "state" / "marks.json")

    def run_once() -> CounterModel:
        model = CounterModel()
        daemon = ServeDaemon(
            AgentHomes.resolve(home), model, cache=False, watch=False, snapshot=_no_processes, state=state
        )
        try:
            daemon.step()
        finally:
            daemon.close()
        return model

    assert sum(tokens(run_once()).values()) == truth
    assert (state.path.stat().st_mode & 0o777, state.path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    paths[0].unlink()
    assert sum(tokens(run_once()).values()) == truth
    # Without the state the same restart would have dropped the deleted session's share.
    fresh = CounterModel()
    daemon = ServeDaemon(AgentHomes.resolve(home), fresh, cache=False, watch=False, snapshot=_no_processes)
    try:
        daemon.step()
    finally:
        daemon.close()
    assert sum(tokens(fresh).values()) == sum(u.total_tokens for u in synth_codex.expected(specs[1]).values())


def test_state_rows_are_checked_and_links_refused(tmp_path: Path) -> None:
    m = CounterModel()
    rows: list[object] = [
        ["claude", "a", "m1", "input", 10],
        ["claude", "a", "m1", "input", 4],  # lower: the mark stays 10
        ["claude", "a", "m1", "bogus", 5],
        ["claude", "a", "m1", "output", -1],
        ["claude", "a", "m1", "output", float("nan")],
        ["claude", "a", "m1", "output", True],
        ["claude", 7, "m1", "output", 3],
        "junk",
        ["claude", "a", "Bash", "tool", 2],  # saved before statuses were counted: skipped
        ["claude", "a", "Bash", "tool.pending", 2],  # pending is never a mark
        ["claude", "a", "Bash", "tool.fail", 2],
    ]
    assert m.load_marks(rows) == 3
    assert tokens(m) == {("claude", "m1", "input"): 10}
    assert m.counters("tool_calls") == {("claude", "Bash", "ok"): 0, ("claude", "Bash", "fail"): 2}
    target = tmp_path / "real.json"
    target.write_text('{"version": 1, "marks": [["claude", "a", "m1", "input", 99]]}')
    link = tmp_path / "link.json"
    link.symlink_to(target)
    used, problem = MarksFile(link).load(CounterModel())
    assert used == 0 and problem is not None and "cannot open" in problem
    assert MarksFile(target).load(CounterModel()) == (1, None)
    (tmp_path / "bad.json").write_text("{not json")
    assert MarksFile(tmp_path / "bad.json").load(CounterModel())[0] == 0


def test_default_state_path_is_in_the_cache_dir_and_per_home(tmp_path: Path) -> None:
    a = default_state_path(AgentHomes.resolve(tmp_path / "a"))
    b = default_state_path(AgentHomes.resolve(tmp_path / "b"))
    assert a != b and a.parent == b.parent
    assert str(tmp_path) not in a.name
    assert a.is_relative_to(os.environ["AGENTSESSION_CACHE_DIR"])


def test_observe_session_sums_to_model_usage(home: Path) -> None:
    spec = SynthSpec(
        session_id="019a0000-0000-7000-8000-000000000002",
        cwd="/w/b",
        start_ms=T0,
        models=("gpt-5", "o3"),
        turns=5,
    )
    synth_codex.write_session(home, spec)
    daemon = ServeDaemon(
        AgentHomes.resolve(home), CounterModel(), cache=False, watch=False, snapshot=_no_processes
    )
    try:
        daemon.store.refresh()
        (s,) = daemon.store.sessions()
    finally:
        daemon.close()
    o = observe_session(s)
    want = synth_codex.expected(spec)
    assert set(o.models) == set(want)
    for name, u in want.items():
        got = o.models[name]
        assert (got.input_tokens, got.output_tokens, got.cache_read_tokens, got.reasoning_tokens) == (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.reasoning_tokens,
        )
    assert sum(x.requests for x in o.models.values()) == len(s.requests)


def test_live_session_gauge_and_context_fill(home: Path) -> None:
    """A made-up snapshot (a codex process holding the rollout open): no real process is looked at."""
    spec = SynthSpec(
        session_id="019a0000-0000-7000-8000-0000000000aa", cwd="/w/c", start_ms=T0, models=("gpt-5",), turns=3
    )
    idle = SynthSpec(
        session_id="019a0000-0000-7000-8000-0000000000bb", cwd="/w/d", start_ms=T0, models=("gpt-5",), turns=2
    )
    path = synth_codex.write_session(home, spec)
    synth_codex.write_session(home, idle)
    proc = ProcessInfo(
        pid=4242,
        ppid=1,
        create_time=T0 / 1000 - 60,
        name="codex",
        exe="/usr/bin/codex",
        cmdline=("codex",),
        cwd="/w/c",
        open_files=(str(path),),
    )
    model = CounterModel(per_session=True)
    daemon = ServeDaemon(
        AgentHomes.resolve(home),
        model,
        cache=False,
        watch=False,
        snapshot=lambda: ProcessSnapshot((proc,), T0 + 3_600_000),
    )
    try:
        daemon.step()
        s = next(x for x in daemon.store.sessions() if x.session_id == spec.session_id)
    finally:
        daemon.close()
    assert model.sessions_gauge() == {("codex", "live"): 1, ("codex", "idle"): 1}
    last = s.requests[len(s.requests) - 1]
    window = context_window("gpt-5", AgentType.CODEX)
    assert window == 400_000  # genai-prices' data for gpt-5
    assert model.context_fill() == {("codex", "gpt-5", spec.session_id): last.tier_input_tokens / window}


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("off") is None
    for bad in ("localhost:9464", "9464", "127.0.0.1:99999", "127.0.0.1:x"):
        with pytest.raises(InvalidArgument):
            parse_listen(bad)


def test_parser_defaults_are_loopback() -> None:
    p = argparse.ArgumentParser()
    add_serve_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["serve"])
    assert args.listen == ("127.0.0.1", 9464)
    assert (args.otlp_endpoint, args.interval, args.per_session) == (None, 5.0, False)


def test_cli_modules_do_not_import_opentelemetry() -> None:
    code = (
        "import sys, agent_session.serve.cli, agent_session.serve.metrics, agent_session.serve.daemon\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'prometheus_client')))\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
