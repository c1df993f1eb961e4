"""Gemini CLI against the local server: message tokens must equal the usage the server returned."""

from __future__ import annotations

import json
import time

import pytest

from .clis import Cli, Sandbox, gemini_args, gemini_setup, run
from .harness import events, observed, prompts, sessions, tool_paths, truth
from .server import ModelServer, answer, edit, read, shell, write

pytestmark = pytest.mark.realcli


def test_gemini_tools(gemini: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    p = sandbox.project
    (p / "notes.txt").write_text("alpha\nbeta\n")
    tag = server.script(
        "tools",
        [
            shell("echo gemini-shell"),
            read(str(p / "notes.txt")),
            write(str(p / "new.txt"), "one\ntwo\n"),
            edit(str(p / "notes.txt"), "beta", "gamma"),
            answer("All four done."),
        ],
    )
    prompt = f"Use the tools. {tag}"
    env = gemini_setup(sandbox)
    out = json.loads(run(gemini_args(gemini, prompt, "-m", "gemini-2.5-pro"), env, p).check().stdout)

    assert out["response"] == "All four done."
    assert (p / "notes.txt").read_text() == "alpha\ngamma\n"
    assert (p / "new.txt").read_text() == "one\ntwo\n"
    [s] = sessions(sandbox.home)
    assert s.cwd == str(p)
    total, per_model = truth(server.log, ["tools"])
    assert observed(s) == (total, per_model)
    # input = prompt − cached + toolUsePrompt; output = candidates + thoughts.
    assert total == {
        "input_tokens": 242,
        "output_tokens": 484,
        "cache_creation_tokens": 0,
        "cache_read_tokens": 363,
        "reasoning_tokens": 242,
        "total_tokens": 1089,
    }
    assert s.models == ["gemini-2.5-pro"]
    assert s.tools == {"run_shell_command": 1, "read_file": 1, "write_file": 1, "replace": 1}
    assert tool_paths(s, p) == [
        ("run_shell_command", []),
        ("read_file", [("notes.txt", "read")]),
        ("write_file", [("new.txt", "create")]),
        ("replace", [("notes.txt", "write")]),
    ]
    assert prompts(s) == [prompt]
    assert [t.status.value for t in events(s).tools] == ["ok"] * 4


def test_gemini_resume_and_model_switch(gemini: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    """-p, then `--resume latest -m other`: the resumed turns append to the same session."""
    p = sandbox.project
    t1 = server.script("first", [shell("echo first"), answer("First.")])
    t2 = server.script("second", [shell("echo second"), answer("Second.")])
    env = gemini_setup(sandbox)
    first = json.loads(run(gemini_args(gemini, f"One {t1}", "-m", "gemini-2.5-pro"), env, p).check().stdout)
    second = json.loads(
        run(gemini_args(gemini, f"Two {t2}", "-m", "gemini-2.5-flash", "--resume", "latest"), env, p)
        .check()
        .stdout
    )
    assert (first["response"], second["response"]) == ("First.", "Second.")

    found = sessions(sandbox.home)
    # A resume in a later minute may leave a header-only file with the same id: one session either way.
    assert len({s.session_id for s in found}) == 1
    [s] = found
    total, per_model = truth(server.log, ["first", "second"])
    assert set(per_model) == {"gemini-2.5-pro", "gemini-2.5-flash"}
    assert observed(s) == (total, per_model)
    assert s.models == ["gemini-2.5-pro", "gemini-2.5-flash"]
    assert prompts(s) == [f"One {t1}", f"Two {t2}"]
    assert s.tools == {"run_shell_command": 2}


def test_gemini_router_side_requests_excluded(gemini: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    """Without -m the CLI asks its model router first (no tools offered): not in the file, not in the truth."""
    p = sandbox.project
    tag = server.script("routed", [shell("echo routed"), answer("Routed.")])
    env = gemini_setup(sandbox)
    out = json.loads(run(gemini_args(gemini, f"Route me {tag}"), env, p).check().stdout)
    assert out["response"] == "Routed."

    side = [r for r in server.log if not r.main]
    assert side, "expected the router's side requests"
    assert all(r.tools == () for r in side)
    [s] = sessions(sandbox.home)
    total, per_model = truth(server.log, ["routed"])
    assert observed(s) == (total, per_model)
    assert set(per_model) == set(s.models)


def test_gemini_resume_in_a_later_minute(gemini: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    """A resume that starts in a later UTC minute writes a second, header-only file for the same id.

    File names carry the minute, so the CLI opens a new ``session-<minute>-<id8>.jsonl``
    (header and a ``$set`` line, no messages) and appends the turns to the
    original file: one session, usage counted once.
    """
    p = sandbox.project
    t1 = server.script("first", [answer("First.")])
    t2 = server.script("second", [shell("echo later"), answer("Later.")])
    env = gemini_setup(sandbox)
    run(gemini_args(gemini, f"One {t1}", "-m", "gemini-2.5-pro"), env, p).check()
    minute = time.strftime("%Y-%m-%dT%H-%M", time.gmtime())
    while time.strftime("%Y-%m-%dT%H-%M", time.gmtime()) == minute:
        time.sleep(0.5)
    run(gemini_args(gemini, f"Two {t2}", "-m", "gemini-2.5-pro", "--resume", "latest"), env, p).check()

    files = sorted((sandbox.home / ".gemini" / "tmp").glob("*/chats/session-*.jsonl"))
    found = sessions(sandbox.home)
    assert len({s.session_id for s in found}) == 1, [(s.session_id, s.path) for s in found]
    [s] = found
    assert observed(s) == truth(server.log, ["first", "second"])
    assert prompts(s) == [f"One {t1}", f"Two {t2}"]
    assert len(files) == 2
    assert [len(f.read_text().splitlines()) for f in files][1] == 2  # header + $set, no messages
