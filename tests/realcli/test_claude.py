"""Claude Code against the local server: what it writes must add up to what the server returned."""

from __future__ import annotations

import json

import pytest

from .clis import Cli, Sandbox, claude_args, claude_setup, run
from .harness import BUCKETS, events, observed, prompts, sessions, tool_paths, truth
from .server import ModelServer, agent, answer, edit, read, shell, write

pytestmark = pytest.mark.realcli


def test_claude_tools(claude: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    p = sandbox.project
    (p / "notes.txt").write_text("alpha\nbeta\n")
    tag = server.script(
        "tools",
        [
            shell("echo claude-shell > shell.txt"),
            read(str(p / "notes.txt")),
            write(str(p / "new.txt"), "one\ntwo\n"),
            edit(str(p / "notes.txt"), "beta", "gamma"),
            answer("All four done."),
        ],
    )
    prompt = f"Use the tools. {tag}"
    env = claude_setup(sandbox)
    out = json.loads(run(claude_args(claude, prompt, "--model", "claude-sonnet-4-5"), env, p).check().stdout)

    assert out["result"] == "All four done."
    assert (p / "notes.txt").read_text() == "alpha\ngamma\n"
    assert (p / "new.txt").read_text() == "one\ntwo\n"
    assert (p / "shell.txt").read_text() == "claude-shell\n"
    [s] = sessions(sandbox.home)
    assert s.session_id == out["session_id"]
    assert s.cwd == str(p)
    assert [r.tools != () for r in server.log] == [True] * 5  # no side requests in -p mode
    total, per_model = truth(server.log, ["tools"])
    assert observed(s) == (total, per_model)
    assert total["input_tokens"] == 121 and total["cache_read_tokens"] == 363
    assert s.models == ["claude-sonnet-4-5"]
    assert s.tools == {"Bash": 1, "Read": 1, "Write": 1, "Edit": 1}
    assert tool_paths(s, p) == [
        ("Bash", [("shell.txt", "write")]),  # best-effort `>` redirection
        ("Read", [("notes.txt", "read")]),
        ("Write", [("new.txt", "create")]),
        ("Edit", [("notes.txt", "write")]),
    ]
    assert s.files == {str(p / "notes.txt"): 2, str(p / "new.txt"): 1, str(p / "shell.txt"): 1}
    assert prompts(s) == [prompt]
    assert [t.status.value for t in events(s).tools] == ["ok"] * 4


def test_claude_continue_resume_and_model_switch(claude: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    """-p, then --continue with another model, then --resume ID: one file, usage split per model."""
    p = sandbox.project
    (p / "a.txt").write_text("A\n")
    t1 = server.script("first", [read(str(p / "a.txt")), answer("Read it.")])
    t2 = server.script("second", [shell("echo second"), answer("Ran it.")])
    t3 = server.script("third", [answer("Third answer.")])
    env = claude_setup(sandbox)
    first = json.loads(
        run(claude_args(claude, f"Read a.txt {t1}", "--model", "claude-sonnet-4-5"), env, p).check().stdout
    )
    second = json.loads(
        run(claude_args(claude, f"Now a shell {t2}", "--continue", "--model", "claude-haiku-4-5"), env, p)
        .check()
        .stdout
    )
    third = json.loads(
        run(
            claude_args(
                claude, f"And again {t3}", "--resume", first["session_id"], "--model", "claude-haiku-4-5"
            ),
            env,
            p,
        )
        .check()
        .stdout
    )
    assert first["session_id"] == second["session_id"] == third["session_id"]

    [s] = sessions(sandbox.home)
    assert s.session_id == first["session_id"]
    total, per_model = truth(server.log, ["first", "second", "third"])
    assert set(per_model) == {"claude-sonnet-4-5", "claude-haiku-4-5"}
    assert observed(s) == (total, per_model)
    assert s.models == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert s.model == "claude-haiku-4-5"
    assert prompts(s) == [f"Read a.txt {t1}", f"Now a shell {t2}", f"And again {t3}"]
    assert s.tools == {"Read": 1, "Bash": 1}


def test_claude_subagent(claude: Cli, server: ModelServer, sandbox: Sandbox) -> None:
    """The Agent tool's subagent writes its own file; each file adds up to its own requests."""
    p = sandbox.project
    sub = server.script("sub", [shell("echo from-subagent > sub.txt"), answer("Subagent finished.")])
    parent = server.script(
        "parent", [agent(f"Write sub.txt for me. {sub}", "haiku"), answer("Parent finished.")]
    )
    env = claude_setup(sandbox)
    out = json.loads(
        run(claude_args(claude, f"Delegate this. {parent}", "--model", "claude-sonnet-4-5"), env, p)
        .check()
        .stdout
    )
    assert out["result"] == "Parent finished."
    assert (p / "sub.txt").read_text() == "from-subagent\n"

    found = {s.session_id: s for s in sessions(sandbox.home)}
    main = found.pop(out["session_id"])
    [child] = found.values()
    assert child.parent_session_id == main.session_id
    assert main.parent_session_id is None
    assert observed(main) == truth(server.log, ["parent"])
    assert observed(child) == truth(server.log, ["sub"])
    # The subagent ran on another model (the Agent tool's "haiku" alias): per-model split per file.
    assert set(child.model_usage).isdisjoint(main.model_usage)
    # The parent shows its own usage and, apart, its subagents' (never the Agent result's copy).
    assert main.subagent_ids == [child.session_id]
    assert {k: getattr(main.subagent_usage, k) for k in BUCKETS} == truth(server.log, ["sub"])[0]
    assert main.total_with_subagents.total_tokens == truth(server.log, ["parent", "sub"])[0]["total_tokens"]
    assert main.tools == {"Agent": 1}
    assert child.tools == {"Bash": 1}
    assert prompts(main) == [f"Delegate this. {parent}"]
    assert prompts(child) == []  # the subagent's prompt was written by the parent, not typed
