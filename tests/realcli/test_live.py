"""The process matcher against the real CLIs while they run.

The server holds a response open — first before the agent has answered
anything, then while a scripted shell tool waits for a release file — and the
test matches meanwhile. The process table is reduced to the tree of the CLI
this test started (``harness.own_snapshot``), so nothing else running on the
machine is looked at.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent_session.process import Evidence, SessionProcessMatcher, SessionProcessMatches

from . import clis
from .clis import Cli, Sandbox
from .harness import find_descendant, match_own, sessions, wait_for
from .server import ModelServer, answer, shell

pytestmark = pytest.mark.realcli

#: What each pinned CLI leaves for the matcher (DESIGN §5): Claude writes a pid
#: file, Codex keeps its rollout open, Gemini leaves nothing but its cwd.
EXPECTED = {
    "claude": (Evidence.PID_FILE, 0.95),
    "codex": (Evidence.OPEN_FILE, 0.90),
    "gemini": (Evidence.CWD, 0.55),
}


def _command(agent: str, cli: Cli, sb: Sandbox, prompt: str) -> tuple[list[str], dict[str, str]]:
    if agent == "claude":
        return clis.claude_args(cli, prompt, "--model", "claude-sonnet-4-5"), clis.claude_setup(sb)
    if agent == "codex":
        return clis.codex_args(cli, prompt), clis.codex_setup(sb, "gpt-5.5")
    return clis.gemini_args(cli, prompt, "-m", "gemini-2.5-pro"), clis.gemini_setup(sb)


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_live_match_while_waiting_and_in_tool(
    agent: str, request: pytest.FixtureRequest, server: ModelServer, sandbox: Sandbox
) -> None:
    cli: Cli = request.getfixturevalue(agent)
    release = sandbox.root / f"release-{agent}"
    hold = threading.Event()
    tag = server.script(
        "live",
        [
            shell(f"while [ ! -e {release} ]; do sleep 0.1; done; echo released", hold=hold),
            answer("Live done."),
        ],
    )
    args, env = _command(agent, cli, sandbox, f"Wait for it. {tag}")
    evidence, confidence = EXPECTED[agent]
    matcher = SessionProcessMatcher()
    with clis.started(args, env, sandbox.project) as proc:
        try:
            # 1. The first response is held: the agent waits on the model.
            wait_for(lambda: any(r.step == 0 and r.main for r in server.log), 60, "the first request")
            [s] = wait_for(lambda: sessions(sandbox.home), 30, "the session file")
            result, _ = match_own(matcher, sandbox.home, proc.pid)
            m = result.match_for_pid(proc.pid)
            assert m is not None, f"root not matched: {result.trees}"
            assert (m.root_pid, m.session_id, m.evidence, m.confidence) == (
                proc.pid,
                s.session_id,
                evidence,
                confidence,
            )

            # 2. Released: the tool's shell runs until the release file exists.
            hold.set()

            # A CLI may start short-lived helpers with the command in argv first; the
            # tool's shell is the one that is still there when the snapshot is taken.
            def tool_shell() -> tuple[int, SessionProcessMatches] | None:
                pid = find_descendant(proc.pid, str(release))
                if pid is None:
                    return None
                res, _ = match_own(SessionProcessMatcher(), sandbox.home, proc.pid)
                tree = res.tree_for_pid(proc.pid)
                return (pid, res) if tree is not None and pid in tree.pids else None

            child, result = wait_for(tool_shell, 60, "the tool's shell")
            assert result.session_for_pid(child) == s.session_id
            m = result.match_for_pid(child)
            assert m is not None
            assert child in m.matched_pids and child != m.root_pid
            assert (m.root_pid, m.evidence) == (proc.pid, evidence)
            # The first matcher keeps its binding for the same process.
            again, _ = match_own(matcher, sandbox.home, proc.pid)
            assert again.session_for_pid(child) == s.session_id
        finally:
            hold.set()
            Path(release).touch()
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err[-2000:]
    assert "Live done." in out
    # Gone: nothing of ours is left to match.
    result, _ = match_own(matcher, sandbox.home, proc.pid)
    assert result.session_for_pid(proc.pid) is None
