"""The typed watch event stream: one event per cause, filters, replay, processes, the CLI."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_session import AgentHomes, AgentType, SessionStore
from agent_session.cli import main
from agent_session.events import (
    EVENT_NAMES,
    WATCH_EVENT_ADAPTER,
    EventStream,
    ProcessEnded,
    ProcessStarted,
    PromptEvent,
    RequestEvent,
    ToolFinished,
    ToolStarted,
    event_json,
)
from agent_session.process import ProcessInfo, ProcessSnapshot
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex

SID = "01a20c00-1111-2222-3333-444444a4cb6b"
CODEX_SID = "0199aaaa-0001-7bbb-8ccc-ddddeeeeffff"
USAGE = {
    "input_tokens": 10,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 100,
    "output_tokens": 20,
}


class ClaudeSession:
    """A small generated Claude transcript, and appenders for the lines a live session adds."""

    def __init__(self, home: Path, sid: str = SID) -> None:
        self.sid = sid
        spec = SynthSpec(
            session_id=sid,
            cwd="/src/x",
            start_ms=1_795_000_000_000,
            models=("claude-sonnet-4-5",),
            turns=1,
            tools_per_turn=1,
            seed=1,
        )
        self.path = synth_claude.write_session(home, spec)
        self.n = 0
        #: Appended lines are timed from now on, a second apart, as a live session's are.
        self.t0 = int(time.time()) * 1000
        self.last_ts = 0

    def _add(self, record: dict[str, Any]) -> None:
        self.n += 1
        self.last_ts = self.t0 + self.n * 1000
        stamp = datetime.fromtimestamp(self.last_ts / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        base = {
            "sessionId": self.sid,
            "cwd": "/src/x",
            "version": "2.1.330",
            "gitBranch": "main",
            "userType": "external",
            "isSidechain": False,
            "uuid": f"w-{self.n}",
            "timestamp": stamp,
        }
        with open(self.path, "ab") as fh:
            fh.write(orjson.dumps({**base, **record}) + b"\n")

    def prompt(self, text: str) -> None:
        self._add({"type": "user", "message": {"role": "user", "content": text}})

    def reply(self) -> None:
        content = [{"type": "text", "text": "done"}]
        self._assistant(content)

    def tool_call(self, call_id: str, command: str) -> None:
        self._assistant([{"type": "tool_use", "id": call_id, "name": "Bash", "input": {"command": command}}])

    def tool_result(self, call_id: str) -> None:
        content = [{"tool_use_id": call_id, "type": "tool_result", "content": "total 0", "is_error": False}]
        self._add({"type": "user", "message": {"role": "user", "content": content}})

    def _assistant(self, content: list[dict[str, Any]]) -> None:
        message = {
            "id": f"msg_w{self.n}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": content,
            "usage": USAGE,
        }
        self._add({"type": "assistant", "message": message, "requestId": f"req_w{self.n}"})


def _stream(home: Path, **kw: Any) -> EventStream:
    return EventStream(SessionStore(AgentHomes.resolve(home)), **kw)


def _kinds(events: list[Any]) -> Counter[str]:
    return Counter(e.event for e in events)


def _codex(home: Path) -> None:
    synth_codex.write_session(
        home,
        SynthSpec(session_id=CODEX_SID, cwd="/src/y", start_ms=1_795_000_001_000, models=("gpt-5",), seed=2),
    )


# -- one event per cause ------------------------------------------------------------------


def test_nothing_at_start_then_one_event_per_cause(tmp_path: Path) -> None:
    s = ClaudeSession(tmp_path)
    stream = _stream(tmp_path)
    assert stream.poll() == []  # history is not news
    assert stream.poll() == []  # nor is nothing

    s.prompt("watch me")
    events = stream.poll()
    assert _kinds(events) == {"prompt": 1, "session_updated": 1}
    prompt = events[0]
    assert isinstance(prompt, PromptEvent)
    assert (prompt.text, prompt.index, prompt.session, prompt.display_id) == (
        "watch me",
        1,  # the generated turn had one prompt: this is the second
        SID,
        "claude:01a20c.4cb6b",
    )
    assert prompt.ts == s.last_ts  # the line's own time

    s.reply()
    events = stream.poll()
    assert _kinds(events) == {"request": 1, "session_updated": 1}
    req = events[0]
    assert isinstance(req, RequestEvent)
    assert (req.model, req.usage.input_tokens, req.usage.output_tokens, req.usage.total_tokens) == (
        "claude-sonnet-4-5",
        10,
        20,
        130,
    )

    s.tool_call("toolu_w1", "ls -la")
    events = stream.poll()
    assert _kinds(events) == {"request": 1, "tool_started": 1, "session_updated": 1}
    started = next(e for e in events if isinstance(e, ToolStarted))
    assert (started.tool, started.command, started.call_id) == ("Bash", "ls -la", "toolu_w1")

    s.tool_result("toolu_w1")
    events = stream.poll()
    assert _kinds(events) == {"tool_finished": 1}
    finished = events[0]
    assert isinstance(finished, ToolFinished)
    assert (finished.index, finished.call_id, finished.status.value) == (started.index, "toolu_w1", "ok")
    assert finished.duration_ms == 1000

    assert stream.poll() == []


def test_a_call_running_before_the_watch_reports_only_its_end(tmp_path: Path) -> None:
    s = ClaudeSession(tmp_path)
    s.tool_call("toolu_early", "sleep 100")
    stream = _stream(tmp_path)
    assert stream.poll() == []
    s.tool_result("toolu_early")
    events = stream.poll()
    assert [(e.event, getattr(e, "call_id", None)) for e in events] == [("tool_finished", "toolu_early")]


def test_a_new_session_starts_with_its_history(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    stream = _stream(tmp_path)
    assert stream.poll() == []
    ClaudeSession(tmp_path)
    events = stream.poll()
    assert events[0].event == "session_started" and events[-1].event == "session_updated"
    assert _kinds(events) == {
        "session_started": 1,
        "prompt": 1,
        "request": 2,
        "tool_started": 1,
        "tool_finished": 1,
        "session_updated": 1,
    }
    assert [e.index for e in events if isinstance(e, RequestEvent)] == [0, 1]
    assert stream.poll() == []


# -- replay and filters ---------------------------------------------------------------------


def test_from_start_replays_every_session_once(tmp_path: Path) -> None:
    ClaudeSession(tmp_path)
    _codex(tmp_path)
    stream = _stream(tmp_path, from_start=True)
    events = stream.poll()
    per_session = Counter((e.session, e.event) for e in events)
    assert per_session[(SID, "session_started")] == 1
    assert per_session[(CODEX_SID, "session_started")] == 1
    assert per_session[(SID, "request")] == 2 and per_session[(CODEX_SID, "request")] == 6
    assert per_session[(SID, "prompt")] == 1 and per_session[(CODEX_SID, "prompt")] == 3
    assert per_session[(SID, "tool_started")] == 1 and per_session[(CODEX_SID, "tool_finished")] == 6
    # Replayed oldest first: the Claude session started a second before the Codex one.
    assert [e.session for e in events if e.event == "session_started"] == [SID, CODEX_SID]
    assert stream.poll() == []


def test_filters_by_agent_session_and_event(tmp_path: Path) -> None:
    ClaudeSession(tmp_path)
    _codex(tmp_path)
    only_codex = _stream(tmp_path, from_start=True, agents=[AgentType.CODEX]).poll()
    assert {e.session for e in only_codex} == {CODEX_SID}
    # Either part of the display id names the session.
    for query in ("4cb6b", "01a20c.4cb6b", "claude:01a20c", SID):
        picked = _stream(tmp_path, from_start=True, session=query).poll()
        assert {e.session for e in picked} == {SID}, query
    prompts = _stream(tmp_path, from_start=True, events=["prompt"]).poll()
    assert _kinds(prompts) == {"prompt": 4}


def test_unknown_event_names_are_refused(tmp_path: Path) -> None:
    from agent_session.errors import AgentSessionError

    with pytest.raises(AgentSessionError, match="unknown event name"):
        _stream(tmp_path, events=["prompt", "bogus"])


# -- processes (made-up snapshots: never the machine's own agents) -----------------------------


def _proc(pid: int, name: str, created: float) -> ProcessInfo:
    return ProcessInfo(pid=pid, ppid=1, create_time=created, name=name, exe=None, cmdline=(name,))


def test_process_events_from_an_injected_snapshot(tmp_path: Path) -> None:
    ClaudeSession(tmp_path)
    a = _proc(4242, "codex", 1_795_000_000.0)
    b = _proc(4343, "claude", 1_795_000_100.0)
    frames = [[a], [a, b], [b], [b]]
    taken = iter(range(1_795_000_200_000, 1_795_000_300_000, 1000))

    def snapshot() -> ProcessSnapshot:
        return ProcessSnapshot(processes=tuple(frames.pop(0)), taken_ms=next(taken))

    stream = _stream(tmp_path, snapshot=snapshot, events=["process_started", "process_ended"])
    assert stream.poll() == []  # a was running already
    started = stream.poll()
    assert len(started) == 1 and isinstance(started[0], ProcessStarted)
    assert (started[0].pid, started[0].agent, started[0].ts, started[0].pids) == (
        4343,
        AgentType.CLAUDE,
        1_795_000_100_000,
        [4343],
    )
    ended = stream.poll()
    assert len(ended) == 1 and isinstance(ended[0], ProcessEnded)
    assert (ended[0].pid, ended[0].agent, ended[0].ts) == (4242, AgentType.CODEX, 1_795_000_202_000)
    assert stream.poll() == []


# -- lines ----------------------------------------------------------------------------------------


def test_event_lines_are_valid_and_start_with_the_common_fields(tmp_path: Path) -> None:
    ClaudeSession(tmp_path)
    for event in _stream(tmp_path, from_start=True).poll():
        line = event_json(event)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        data = json.loads(line)
        assert list(data)[:6] == ["schema_version", "event", "ts", "session", "agent", "display_id"]
        assert data["schema_version"] == 1 and data["event"] in EVENT_NAMES
        assert WATCH_EVENT_ADAPTER.validate_python(data) == event


def test_prompt_text_is_one_inert_line(tmp_path: Path) -> None:
    s = ClaudeSession(tmp_path)
    stream = _stream(tmp_path)
    stream.poll()
    s.prompt("line one\n\x1b]0;pwned\x07[bold]two\u202e")
    prompt = next(e for e in stream.poll() if isinstance(e, PromptEvent))
    assert prompt.text == "line one [bold]two"
    assert b"\\u202e" not in event_json(prompt) and b"\x1b" not in event_json(prompt)


# -- following with the file watcher -------------------------------------------------------------


def test_follow_wakes_on_a_file_change_well_before_the_interval(tmp_path: Path) -> None:
    s = ClaudeSession(tmp_path)
    store = SessionStore(AgentHomes.resolve(tmp_path), watch=True)
    stream = EventStream(store, events=["prompt"])
    stop = threading.Event()
    got: list[tuple[float, Any]] = []

    primed = threading.Event()

    def run() -> None:
        for batch in stream.follow(interval=30, stop=stop):
            primed.set()
            got.extend((time.monotonic(), e) for e in batch)
            if batch:
                stop.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert primed.wait(20)  # the baseline poll is done…
        time.sleep(0.5)  # …and the watches are armed
        written = time.monotonic()
        s.prompt("are you there")
        thread.join(10)
    finally:
        stop.set()
        thread.join(5)
        store.close()
    assert [e.text for _, e in got] == ["are you there"]
    # Woken by the change, not by the 30 s interval (about 0.15 s when the machine is idle).
    assert got[0][0] - written < 3


# -- the command ----------------------------------------------------------------------------------


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


SESSION_EVENTS = "session_started,prompt,request,tool_started,tool_finished,session_updated"


def test_cli_watch_prints_nothing_for_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ClaudeSession(tmp_path)
    code, out, err = _cli(["watch", "--once", "--home", str(tmp_path), "--events", SESSION_EVENTS], capsys)
    assert (code, out, err) == (0, "", "")


def test_cli_watch_from_start_and_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ClaudeSession(tmp_path)
    _codex(tmp_path)
    code, out, _ = _cli(
        ["--home", str(tmp_path), "watch", "--once", "--from-start", "--events", SESSION_EVENTS], capsys
    )
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and Counter(x["event"] for x in lines)["session_started"] == 2
    code, out, _ = _cli(
        [
            "watch",
            "--once",
            "--from-start",
            "--home",
            str(tmp_path),
            "--agent",
            "codex",
            "--events",
            "prompt",
        ],
        capsys,
    )
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [x["event"] for x in lines] == ["prompt"] * 3
    assert {x["session"] for x in lines} == {CODEX_SID}
    code, out, _ = _cli(
        [
            "watch",
            "--once",
            "--from-start",
            "--home",
            str(tmp_path),
            "--session",
            "4cb6b",
            "--events",
            "request",
        ],
        capsys,
    )
    assert code == 0 and [json.loads(x)["index"] for x in out.splitlines()] == [0, 1]


def test_cli_watch_rejects_unknown_event_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["watch", "--events", "prompt,nope"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "agentsession watch: error: argument --events: unknown event name(s): nope "
        f"(known: {', '.join(EVENT_NAMES)})"
    )


def test_details_are_read_only_for_sessions_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ClaudeSession(tmp_path, sid="01a20c00-1111-2222-3333-444444a00001")  # idle since 2026-11-18
    busy = ClaudeSession(tmp_path)
    _codex(tmp_path)
    stream = _stream(tmp_path)
    read: list[str] = []
    real = stream.store.detail

    def counting(session: Any) -> Any:
        read.append(session.session_id)
        return real(session)

    monkeypatch.setattr(stream.store, "detail", counting)
    assert stream.poll() == [] and read == []  # nothing recently active: no detail at the baseline
    busy.prompt("only this one")
    assert _kinds(stream.poll()) == {"prompt": 1, "session_updated": 1}
    assert read == [SID]
    busy.reply()  # a request changes no prompt or tool count: the summary's request log suffices
    assert _kinds(stream.poll()) == {"request": 1, "session_updated": 1}
    assert read == [SID]
