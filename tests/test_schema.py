"""``agentsession schema``: valid JSON Schemas that accept the commands' real output (and reject junk)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from agent_session import AgentHomes, SessionStore
from agent_session.cli import main, match_command
from agent_session.events import EventStream, event_json
from agent_session.process import ProcessInfo, ProcessSnapshot
from agent_session.schemas import SCHEMA_NAMES, schema_for
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

jsonschema = pytest.importorskip("jsonschema")

CODEX_SID = "0199aaaa-0001-7bbb-8ccc-ddddeeeeffff"


def _validator(name: str) -> Any:
    schema = schema_for(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _home(tmp_path: Path) -> Path:
    synth_claude.write_session(
        tmp_path,
        SynthSpec(
            session_id="01a20c00-1111-2222-3333-444444a4cb6b",
            cwd="/src/x",
            start_ms=1_795_000_000_000,
            models=("claude-sonnet-4-5", "claude-haiku-4-5"),
            extra={"subagents": 1},
        ),
    )
    synth_codex.write_session(
        tmp_path, SynthSpec(session_id=CODEX_SID, cwd="/src/y", start_ms=1_795_000_001_000, models=("gpt-5",))
    )
    synth_gemini.write_session(
        tmp_path,
        SynthSpec(
            session_id="8d7c6b5a-4e3f-4a1b-9c2d-1e0f9a8b7c6d",
            cwd="/src/z",
            start_ms=1_795_000_002_000,
            models=("gemini-2.5-pro",),
        ),
    )
    return tmp_path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = schema_for(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_command_prints_one_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["schema", "watch"], capsys)
    assert code == 0 and json.loads(out) == schema_for("watch")
    code, out = _run(["schema"], capsys)
    assert code == 0 and json.loads(out) == {name: schema_for(name) for name in SCHEMA_NAMES}
    with pytest.raises(SystemExit) as exc:
        main(["schema", "nope"])
    assert exc.value.code == 2


def test_list_and_show_output_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(_home(tmp_path))
    code, out = _run(["list", "--json", "--home", home], capsys)
    data = json.loads(out)
    assert code == 0 and len(data) == 4  # three sessions and the Claude subagent
    assert list(_validator("list").iter_errors(data)) == []
    show = _validator("show")
    for d in data:
        code, out = _run(["show", d["session_id"], "--json", "--home", home], capsys)
        detail = json.loads(out)
        assert code == 0 and detail["events"] is not None
        assert list(show.iter_errors(detail)) == []
    # Not vacuous: a wrong type is an error.
    bad = [{**data[0], "usage": "lots"}]
    assert [e.json_path for e in _validator("list").iter_errors(bad)] == ["$[0].usage"]


def test_match_output_validates(tmp_path: Path) -> None:
    home = _home(tmp_path)
    rollout = synth_codex.session_path(home, SynthSpec(CODEX_SID, "/src/y", 1_795_000_001_000, ("gpt-5",)))
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    sessions = store.sessions()
    taken = max(s.last_activity_ms or 0 for s in sessions) + 1000
    agent = ProcessInfo(
        pid=4242,
        ppid=1,
        create_time=1_795_000_000.5,
        name="codex",
        cmdline=("codex",),
        cwd="/src/y",
        open_files=(str(rollout),),
    )
    out = io.StringIO()
    code = match_command(
        str(home),
        None,
        True,
        out,
        sessions=lambda _homes: sessions,
        snapshot=lambda: ProcessSnapshot(processes=(agent,), taken_ms=taken),
    )
    data = json.loads(out.getvalue())
    assert code == 0 and [(m["root_pid"], m["session_id"]) for m in data] == [(4242, CODEX_SID)]
    assert list(_validator("match").iter_errors(data)) == []
    assert list(_validator("match").iter_errors([{**data[0], "confidence": 2}])) != []


def test_watch_lines_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = _home(tmp_path)
    validator = _validator("watch")
    code, out = _run(
        [
            "watch",
            "--once",
            "--from-start",
            "--home",
            str(home),
            "--events",
            "session_started,prompt,request,tool_started,tool_finished,session_updated",
        ],
        capsys,
    )
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len({x["event"] for x in lines}) == 6
    for line in lines:
        assert list(validator.iter_errors(line)) == [], line["event"]
    # Process lines, from a made-up snapshot.
    frames = [(ProcessInfo(pid=7, ppid=1, create_time=1.0, name="gemini", cmdline=("gemini",)),), ()]
    stream = EventStream(
        SessionStore(AgentHomes.resolve(home)),
        from_start=True,
        events=["process_started", "process_ended"],
        snapshot=lambda: ProcessSnapshot(processes=frames.pop(0), taken_ms=2000),
    )
    events = stream.poll() + stream.poll()
    assert [e.event for e in events] == ["process_started", "process_ended"]
    for e in events:
        assert list(validator.iter_errors(json.loads(event_json(e)))) == []
    assert list(validator.iter_errors({**lines[0], "event": "exploded"})) != []
    # Every field is in every line, nulls included: the schema requires them all.
    prompt = schema_for("watch")["$defs"]["PromptEvent"]
    assert prompt["required"] == list(prompt["properties"])
    assert prompt["required"][:6] == ["schema_version", "event", "ts", "session", "agent", "display_id"]


def test_report_shape_validates() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_creation_tokens": 0,
        "cache_read_tokens": 100,
        "reasoning_tokens": 1,
        "total_tokens": 115,
    }
    row: dict[str, Any] = {
        "period": "2026-11-18",
        "agent_type": "claude",
        "model": "claude-sonnet-4-5",
        "usage": usage,
        "cost_usd": 0.01,
        "sessions": 2,
    }
    doc: dict[str, Any] = {
        "report": "daily",
        "rows": [
            row,
            {
                "period": "2026-11-18",
                "agent_type": "codex",
                "model": "x",
                "usage": usage,
                "cost_usd": None,
                "sessions": 1,
            },
        ],
        "totals": {"period": "TOTAL", "usage": usage, "cost_usd": None, "sessions": 3},
    }
    validator = _validator("report")
    assert list(validator.iter_errors(doc)) == []
    broken = {**doc, "rows": [{k: v for k, v in row.items() if k != "usage"}]}
    assert [e.message for e in validator.iter_errors(broken)] == ["'usage' is a required property"]


def test_report_output_validates(tmp_path: Path) -> None:
    reports = pytest.importorskip("agent_session.reports")
    store = SessionStore(AgentHomes.resolve(_home(tmp_path)))
    store.refresh()
    sessions = store.sessions()
    validator = _validator("report")
    for kind in ("daily", "weekly", "monthly", "blocks", "projects", "models"):
        for breakdown in (False, True):
            doc = reports.build_report(
                kind, sessions, breakdown=breakdown, now_ms=1_795_000_000_000
            ).to_json()
            assert doc["rows"], kind
            assert list(validator.iter_errors(doc)) == [], (kind, breakdown)
