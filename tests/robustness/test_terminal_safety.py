"""Session text never drives the terminal: escapes, markup, bidi and huge strings render inert and bounded.

Hostile text is planted everywhere a session file can put it: prompts, tool
names, commands, inputs and outputs, model, cwd, git branch, version, the
session id (from file contents, and a file name). The CLI's text and JSON
output and the monitor's rendered widgets (driven by Pilot) must show none of
it raw: no escape or C1 control, no bidi override, markup shown literally,
no hyperlink, and every rendered line bounded.
"""

from __future__ import annotations

import dataclasses
import io
import re
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.text import Text

from agent_session import AgentHomes, AgentSession, AgentType, SessionStore
from agent_session.cli import main as cli_main
from agent_session.process import (
    CONFIDENCE,
    AgentTree,
    Evidence,
    ProcessInfo,
    SessionMatch,
    SessionProcessMatches,
)
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\"
C1 = "\x9b31m\x9d0;t\x9c"
MARKUP = "[bold red]PWNED[/] [link=https://evil.example]x[/link] [blink]b[/blink]"
BIDI = "\u202eevil\u202c \u2066iso\u2069 \u200f"
LONG = "A" * 100_000
EVIL = f"{CLEAR}{TITLE}{LINK}{C1}{MARKUP}{BIDI}"
EVIL_LONG = EVIL + LONG

#: What must never reach a terminal raw.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
START_MS = 1_795_000_000_000


def _line(rec: dict[str, Any]) -> bytes:
    return orjson.dumps(rec) + b"\n"


def build_evil_home(home: Path) -> None:
    claude = SynthSpec(
        session_id="ec1a0000-1111-4222-8333-444455556666",
        cwd="/home/dev/" + EVIL,
        start_ms=START_MS,
        models=("claude-sonnet-4-5",),
        prompts=(EVIL_LONG, "second " + EVIL),
        turns=2,
    )
    path = synth_claude.write_session(home, claude)
    ts = "2026-11-18T12:30:00.000Z"
    extra = [
        {
            "type": "assistant",
            "timestamp": ts,
            "cwd": "/home/dev/" + EVIL_LONG,
            "gitBranch": EVIL_LONG,
            "version": EVIL,
            "requestId": "req_evil",
            "message": {
                "id": "msg_evil",
                "role": "assistant",
                "model": EVIL_LONG,
                "content": [
                    {"type": "tool_use", "id": "tu_evil", "name": EVIL_LONG, "input": {"command": EVIL_LONG}},
                    {
                        "type": "tool_use",
                        "id": "tu_read",
                        "name": "Read",
                        "input": {"file_path": "/x/" + EVIL_LONG},
                    },
                ],
                "usage": {"input_tokens": 5, "output_tokens": 5},
            },
        },
        {
            "type": "user",
            "timestamp": ts,
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "tu_evil", "content": EVIL_LONG}],
            },
        },
    ]
    with open(path, "ab") as fh:
        fh.writelines(_line(r) for r in extra)
    # A file name carrying escapes (Claude takes the id from it).
    odd = path.with_name("ab\x1b[2Jcd\u202eef.jsonl")
    odd.write_bytes(path.read_bytes())

    codex = SynthSpec(
        session_id="0199e011-aaaa-7bbb-8ccc-ddddeeeeffff",
        cwd="/home/dev/api",
        start_ms=START_MS + 60_000,
        models=("gpt-5",),
        turns=2,
    )
    cpath = synth_codex.write_session(home, codex)
    data = cpath.read_bytes().replace(
        codex.session_id.encode(), (EVIL + "-" + "B" * 50_000).encode("utf-8"), 1
    )
    cpath.write_bytes(data.replace(orjson.dumps(codex.session_id), orjson.dumps(EVIL + "-" + "B" * 50_000)))

    gem = SynthSpec(
        session_id="9e9ee011-1234-4567-89ab-cdef01234567",
        cwd="/home/dev/web",
        start_ms=START_MS + 120_000,
        models=("gemini-2.5-pro",),
        turns=2,
    )
    gpath = synth_gemini.write_session(home, gem)
    with open(gpath, "ab") as fh:
        fh.write(_line({"$set": {"sessionId": EVIL, "lastUpdated": ts}}))


def _assert_inert(text: str, where: str, limit: int | None = None) -> None:
    bad = UNSAFE.search(text)
    assert bad is None, (
        f"{where}: raw {bad.group()!r} at {bad.start()}: {text[max(0, bad.start() - 40) : bad.start() + 40]!r}"
    )
    if limit is not None:
        longest = max((len(line) for line in text.split("\n")), default=0)
        assert longest <= limit, f"{where}: a line of {longest} chars"


@pytest.fixture
def evil_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    build_evil_home(home)
    return home


def _sessions(home: Path) -> list[AgentSession]:
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    assert not store.errors
    return store.sessions()


def test_cli_text_output_is_inert_and_bounded(evil_home: Path) -> None:
    sessions = _sessions(evil_home)
    assert len(sessions) == 4
    runs = [["list"], ["match"], *(["show", s.session_id] for s in sessions)]
    for argv in runs:
        buf = io.StringIO()
        with redirect_stdout(buf):
            assert cli_main([*argv, "--home", str(evil_home)]) == 0
        out = buf.getvalue()
        _assert_inert(out, " ".join(argv[:1]), limit=400)
        if argv[0] == "show":
            assert "[bold red]PWNED[/]" in out or "ec1a" not in argv[1]


def test_cli_json_output_is_inert(evil_home: Path) -> None:
    sessions = _sessions(evil_home)
    claude = next(s for s in sessions if s.session_id.startswith("ec1a"))
    for argv in (
        ["list", "--json"],
        ["watch", "--once"],
        ["show", "--json", claude.session_id],
        ["match", "--json"],
    ):
        buf = io.StringIO()
        with redirect_stdout(buf):
            assert cli_main([*argv, "--home", str(evil_home)]) == 0
        out = buf.getvalue()
        _assert_inert(out.replace("\n", " "), " ".join(argv))
        for line in out.splitlines() if argv[0] == "watch" else [out]:
            orjson.loads(line)  # still valid JSON carrying the same data, escaped


def test_stored_text_is_bounded_at_the_source(evil_home: Path) -> None:
    for s in _sessions(evil_home):
        for value in (s.session_id, s.model, s.git_branch, s.version, *s.models, *s.tools):
            assert value is None or len(value) <= 300
        assert s.cwd is None or len(s.cwd) <= 4200
        assert all(len(p) <= 4200 for p in s.files)
        _assert_inert(s.display_id, "display id", limit=24)
        _assert_inert(s.prompt_preview or "", "prompt preview", limit=300)


# --------------------------------------------------------------------- TUI
def _plain(value: Any) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def _assert_text(value: Any, where: str, limit: int) -> None:
    _assert_inert(_plain(value), where, limit)
    if isinstance(value, Text):
        for span in value.spans:
            style = str(span.style)
            assert "link" not in style and "blink" not in style, f"{where}: markup ran ({style})"


async def _until(pilot: Any, cond: Callable[[], object], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, "the monitor did not get there"
        await pilot.pause(0.02)


@pytest.mark.slow
async def test_monitor_renders_hostile_sessions_inert_and_bounded(evil_home: Path) -> None:
    from textual.widgets import Static

    from tui_app.app import MonitorApp
    from tui_app.monitor import Monitor
    from tui_app.widgets import ProcessTree, SessionsTable
    from tui_app.widgets.detail import DetailPane

    def probe(sessions: Sequence[AgentSession]) -> Any:
        trees = []
        for i, s in enumerate(sessions):
            pid = 7000 + 10 * i
            root = ProcessInfo(
                pid, 1, 1000.0, "claude" + EVIL, cmdline=("claude", EVIL_LONG), cpu_percent=1.0, rss=1 << 20
            )
            tool = ProcessInfo(pid + 1, pid, 1001.0, EVIL, cmdline=(EVIL_LONG, MARKUP), rss=1 << 20)
            trees.append((s.agent_type, (root, tool), s.session_id, Evidence.PID_FILE))
        return _probe_result(trees)

    monitor = Monitor(
        AgentHomes.resolve(evil_home), user_home=evil_home, clock=lambda: START_MS / 1000 + 3600, probe=probe
    )
    app = MonitorApp(monitor, interval=3600.0, watch=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await _until(pilot, lambda: app.snapshot is not None and len(app.snapshot.sessions) == 4)
        table = app.query_one(SessionsTable)
        keys = list(table.row_keys_in_order)
        assert len(keys) == 4
        for key in keys:
            for cell in table.get_row(key):
                _assert_text(cell, f"table cell of {key[:20]!r}", limit=500)
        tree = app.query_one(ProcessTree)
        stack = list(tree.root.children)
        nodes = 0
        while stack:
            node = stack.pop()
            nodes += 1
            _assert_text(node.label, "process tree label", limit=500)
            stack.extend(node.children)
        assert nodes >= 8
        seen_markup = False
        for index, key in enumerate(keys):
            table.move_cursor(row=index)

            def shown(key: str = key) -> bool:
                return (
                    app.snapshot is not None
                    and app.snapshot.detail is not None
                    and app.snapshot.detail.key == key
                    and app.snapshot.detail.session is not None
                )

            await _until(pilot, shown)
            await pilot.pause()
            body = app.query_one(DetailPane).query_one("#detail-body", Static).content
            _assert_text(body, f"detail of {key[:20]!r}", limit=5000)
            seen_markup |= "[bold red]PWNED[/]" in _plain(body)
            if key.startswith("claude:ec1a"):
                await pilot.press("enter")  # the tool calls
                await pilot.pause(0.2)
                calls = app.screen.query_one("#calls")
                for row in range(calls.row_count):  # type: ignore[attr-defined]
                    for cell in calls.get_row_at(row):  # type: ignore[attr-defined]
                        _assert_text(cell, "tool-call cell", limit=500)
                await pilot.press("enter")  # the first call, whole
                await pilot.pause(0.2)
                call = app.screen.query_one("#call-body", Static).content
                _assert_text(call, "tool call body", limit=20_000)
                await pilot.press("escape", "escape")
        assert seen_markup, "markup must be shown as text, not dropped"
        svg = app.export_screenshot()
        _assert_inert(svg.replace("\n", " "), "rendered screen")
        assert "evil.example" not in svg or "href" not in svg.split("evil.example")[0][-60:]


def _probe_result(trees: Sequence[tuple[AgentType, Sequence[ProcessInfo], str, Evidence]]) -> Any:
    """A monitor probe's answer shaped as the library's: one tree per entry, root first, each matched."""
    from tui_app.monitor import ProbeResult

    built = [AgentTree(agent, procs[0], tuple(procs), (procs[0],)) for agent, procs, _, _ in trees]
    matches = [
        SessionMatch(t.root.pid, t.root.create_time, t.pids, t.agent_type, sid, "", ev, CONFIDENCE[ev])
        for t, (_, _, sid, ev) in zip(built, trees, strict=True)
    ]
    return ProbeResult(matches=SessionProcessMatches(tuple(matches), tuple(built), 0))


def _top_once(home: Path, *argv: str) -> str:
    from tui_app.app import main as top_main

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert top_main([*argv, "--home", str(home)]) == 0
    return buf.getvalue()


def test_monitor_once_text_output_is_inert(evil_home: Path) -> None:
    _assert_inert(_top_once(evil_home, "--once"), "--once", limit=400)


def test_monitor_once_json_output_is_inert(evil_home: Path) -> None:
    out = _top_once(evil_home, "--once", "--json")
    _assert_inert(out.replace("\n", " "), "--once --json")
    orjson.loads(out)


def test_process_labels_of_a_session_unknown_to_the_store(evil_home: Path) -> None:
    """A match naming a session the store no longer has shows the raw id: it must still be clean."""
    from tui_app.monitor import Monitor, flatten

    def probe(_sessions: Sequence[AgentSession]) -> Any:
        root = ProcessInfo(9000, 1, 1.0, "claude", cmdline=("claude",))
        return _probe_result([(AgentType.CLAUDE, (root,), "\x1b]0;x\x07\x1b[2J", Evidence.ENV)])

    monitor = Monitor(AgentHomes.resolve(evil_home), user_home=evil_home, probe=probe)
    snap = monitor.collect()
    for node in flatten(snap.roots):
        _assert_inert(node.label, "unmatched root label", limit=500)


def test_row_cells_of_the_snapshot_are_clean(evil_home: Path) -> None:
    from tui_app.monitor import Monitor, ProbeResult

    monitor = Monitor(AgentHomes.resolve(evil_home), user_home=evil_home, probe=lambda s: ProbeResult())
    snap = monitor.collect()
    for row in snap.sessions:
        for cell in row.cells:
            _assert_inert(cell, "row cell", limit=500)
    assert dataclasses.is_dataclass(snap)
