"""Codex CLI against the local server: rollout totals must equal the usage the server returned."""

from __future__ import annotations

import json

import pytest

from .clis import Cli, Sandbox, codex_args, codex_setup, run
from .harness import events, observed, prompts, sessions, tool_paths, truth
from .server import ModelServer, answer, code, edit, read, shell, write

pytestmark = pytest.mark.realcli


def _thread_id(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("{"):
            ev = json.loads(line)
            if ev.get("type") == "thread.started":
                return str(ev["thread_id"])
    raise AssertionError(f"no thread.started event in {stdout[-1000:]}")


def _last_message(stdout: str) -> str:
    text = ""
    for line in stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line).get("item") or {}
            if item.get("type") == "agent_message":
                text = item["text"]
    return text


def test_codex_tools(codex: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    p = sandbox.project
    (p / "notes.txt").write_text("alpha\nbeta\n")
    tag = server.script(
        "tools",
        [
            shell("echo codex-shell"),
            read(str(p / "notes.txt")),
            write(str(p / "new.txt"), "one\ntwo\n"),
            edit(str(p / "notes.txt"), "beta", "gamma"),
            answer("All four done."),
        ],
    )
    prompt = f"Use the tools. {tag}"
    env = codex_setup(sandbox, "gpt-5.5")
    r = run(codex_args(codex, prompt), env, p).check()

    assert _last_message(r.stdout) == "All four done."
    assert (p / "notes.txt").read_text() == "alpha\ngamma\n"
    assert (p / "new.txt").read_text() == "one\ntwo\n"
    [s] = sessions(sandbox.home)
    assert s.session_id == _thread_id(r.stdout)
    assert s.cwd == str(p)
    assert all(rec.main for rec in server.log)
    total, per_model = truth(server.log, ["tools"])
    assert observed(s) == (total, per_model)
    assert total == {
        "input_tokens": 121,
        "output_tokens": 484,
        "cache_creation_tokens": 0,
        "cache_read_tokens": 363,
        "reasoning_tokens": 242,
        "total_tokens": 968,
    }
    assert s.models == ["gpt-5.5"]
    assert s.tools == {"exec_command": 2, "apply_patch": 2}
    assert tool_paths(s, p) == [
        ("exec_command", []),
        ("exec_command", [("notes.txt", "read")]),  # best-effort `cat` read
        ("apply_patch", [("new.txt", "create")]),
        ("apply_patch", [("notes.txt", "write")]),
    ]
    assert prompts(s) == [prompt]
    assert [(t.status.value, t.exit_code) for t in events(s).tools] == [("ok", 0)] * 4


def test_codex_resume_and_model_switch(codex: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    """exec, then `exec resume ID -m other`: one rollout, cumulative totals split by model."""
    p = sandbox.project
    t1 = server.script("first", [shell("echo first"), answer("First.")])
    t2 = server.script("second", [shell("echo second"), answer("Second.")])
    env = codex_setup(sandbox, "gpt-5.5")
    first = run(codex_args(codex, f"One {t1}"), env, p).check()
    tid = _thread_id(first.stdout)
    second = run(codex_args(codex, f"Two {t2}", "-m", "gpt-5.4-mini", resume=tid), env, p).check()
    assert _last_message(second.stdout) == "Second."

    [s] = sessions(sandbox.home)
    assert s.session_id == tid
    total, per_model = truth(server.log, ["first", "second"])
    assert set(per_model) == {"gpt-5.5", "gpt-5.4-mini"}
    assert observed(s) == (total, per_model)
    assert s.models == ["gpt-5.5", "gpt-5.4-mini"]
    assert s.model == "gpt-5.4-mini"
    assert prompts(s) == [f"One {t1}", f"Two {t2}"]
    assert s.tools == {"exec_command": 2}


def test_codex_code_mode(codex: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    """`features.code_mode`: the model calls one freeform `exec` tool with JavaScript."""
    p = sandbox.project
    js = (
        'const r = await tools.exec_command({cmd: "echo from-code-mode > cm.txt"});\ntext(JSON.stringify(r));'
    )
    tag = server.script("code", [code(js), answer("Code ran.")])
    env = codex_setup(sandbox, "gpt-5.5", extra="[features]\ncode_mode = true\n")
    r = run(codex_args(codex, f"Run code {tag}"), env, p).check()

    offered = [rec.tools for rec in server.log if rec.main]
    assert all("exec" in t for t in offered), offered
    assert _last_message(r.stdout) == "Code ran."
    assert (p / "cm.txt").read_text() == "from-code-mode\n"
    [s] = sessions(sandbox.home)
    assert observed(s) == truth(server.log, ["code"])
    assert s.tools.get("exec") == 1
    [cell] = [t for t in events(s).tools if t.tool_name == "exec"]
    assert "from-code-mode" in (cell.command or "") + (cell.input or "")
