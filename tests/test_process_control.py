"""Ending agent trees safely, their listening ports, and their working/waiting/idle state.

The signalling tests run against stand-in agents this test starts (Python
scripts at the npm path of the real CLIs) and only ever look at, or signal,
those processes: every snapshot is scoped to their trees.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers.standin_agents import PACKAGE_PATHS, StandinFactory

from agent_session.discovery import AgentHomes
from agent_session.process import (
    AgentState,
    GrowthTracker,
    PortScanner,
    ProcessInfo,
    classify_state,
    plan_signal,
    signal_agent_tree,
)
from agent_session.process.control import WAITING_SLACK_MS
from tui_app.monitor import default_probe

CODEX_JS = "/usr/lib/node_modules/@openai/codex/bin/codex.js"
CLAUDE = "/opt/claude/bin/claude"


@pytest.fixture
def standins(tmp_path: Path) -> Iterator[StandinFactory]:
    factory = StandinFactory(tmp_path / "npm")
    try:
        yield factory
    finally:
        factory.close()


def _gone(pid: int, create_time: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.create_time() != create_time or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(identities: list[tuple[int, float]], limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(_gone(*i) for i in identities):
            return True
        time.sleep(0.02)
    return False


# --------------------------------------------------------------------------- plan (plain data)
def _p(pid: int, ppid: int, ct: float, name: str, *argv: str) -> ProcessInfo:
    return ProcessInfo(pid, ppid, ct, name, None, tuple(argv) or (name,))


#: codex 100 → sh 101 → (python 102 → node 104), sh 103; a claude started from sh 103 (105)
#: is its own agent; 200 is an unrelated process with the same name as the root.
TABLE = (
    _p(1, 0, 1.0, "systemd"),
    _p(100, 1, 50.0, "node", "node", CODEX_JS),
    _p(101, 100, 51.0, "sh", "sh", "-c", "make"),
    _p(102, 101, 52.0, "python", "python", "x.py"),
    _p(103, 100, 53.0, "sh"),
    _p(104, 102, 54.0, "node", "node", "server.js"),
    _p(105, 103, 55.0, "claude", CLAUDE),
    _p(106, 105, 56.0, "bash"),
    _p(200, 1, 60.0, "node", "node", "/srv/app.js"),
)


def test_plan_signals_children_deepest_first_then_the_root_and_nothing_else() -> None:
    plan = plan_signal((100, 50.0), "codex", TABLE)
    assert plan.refused is None and plan.skipped == ()
    assert [t[0] for t in plan.targets] == [104, 102, 101, 103, 100]
    assert plan.targets[-1] == (100, 50.0, "node")


def test_plan_refuses_a_root_pid_that_was_reused() -> None:
    # The codex that was shown at 100 exited; 100 now is a new codex started later.
    plan = plan_signal((100, 49.0), "codex", TABLE)
    assert (plan.targets, plan.refused) == ((), "pid now belongs to another process (start time changed)")
    # ... or an unrelated program (not an agent at all), or a member of another tree.
    reused = tuple(_p(100, 1, 70.0, "vim") if p.pid == 100 else p for p in TABLE)
    assert plan_signal((100, 50.0), "codex", reused).refused == "no longer running as an agent"
    assert plan_signal((101, 51.0), "codex", TABLE).refused == "no longer an agent root"
    assert plan_signal((100, 50.0), "claude", TABLE).refused == "now runs codex, not claude"


def test_plan_skips_a_reused_child_pid_and_reports_it() -> None:
    # The user saw python 102 (started at 40.0, i.e. another process) and sh 107 (gone since).
    seen = {100: 50.0, 101: 51.0, 102: 40.0, 103: 53.0, 104: 54.0, 107: 57.0}
    plan = plan_signal((100, 50.0), "codex", TABLE, expected=seen)
    assert plan.skipped == ((102, "pid reused"), (107, "gone or left the tree"))
    assert [t[0] for t in plan.targets] == [104, 101, 103, 100]
    # Start times kept to 1/100 s by the UI still match.
    assert plan_signal((100, 50.004), "codex", TABLE, expected={101: 50.996}).skipped == ()


# --------------------------------------------------------------------------- signalling real processes
def test_k_ends_only_the_chosen_tree(standins: StandinFactory, tmp_path: Path) -> None:
    chosen = standins.start("codex", tmp_path / "a.jsonl", tmp_path)
    other = standins.start("codex", tmp_path / "b.jsonl", tmp_path)
    # Same program name as the stand-in's root ("python"), not in any agent tree.
    bystander = standins.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    by_id = (bystander.pid, psutil.Process(bystander.pid).create_time())
    root_id, child_id = chosen.identities
    root_name = psutil.Process(chosen.pid).name()
    assert psutil.Process(bystander.pid).name() == psutil.Process(chosen.pid).name()

    report = signal_agent_tree(root_id, "codex", signal.SIGTERM, expected=dict(chosen.identities))
    assert report.refused is None and report.skipped == ()
    assert [pid for pid, _ in report.signalled] == [chosen.child_pid, chosen.pid]
    assert report.summary() == f"SIGTERM sent to sh {chosen.child_pid}, {root_name} {chosen.pid}"
    chosen.proc.wait(timeout=10)
    assert _wait_gone([root_id, child_id])
    assert all(not _gone(*i) for i in [*other.identities, by_id])

    # Signalling the ended tree again (its pid may even be reused by now) sends nothing.
    again = signal_agent_tree(root_id, "codex", signal.SIGKILL)
    assert again.signalled == () and again.refused is not None


def test_a_bystander_is_never_signalled(standins: StandinFactory) -> None:
    bystander = standins.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    ident = (bystander.pid, psutil.Process(bystander.pid).create_time())
    report = signal_agent_tree(ident, "codex", signal.SIGKILL)
    assert (report.signalled, report.refused) == ((), "no longer running as an agent")
    assert not _gone(*ident)


# --------------------------------------------------------------------------- ports
_LISTENER = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', 0))\n"
    "s.listen()\n"
    "print(s.getsockname()[1], flush=True)\n"
    "sys.stdin.read()\n"
)
_AGENT = (
    "import subprocess, sys\n"
    f"child = subprocess.Popen([sys.executable, '-c', {_LISTENER!r}])\n"
    "sys.stdin.read()\n"
    "child.wait()\n"
)


@pytest.fixture
def listening_agent(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    """A codex stand-in whose tool child listens on 127.0.0.1: (process, child pid, port)."""
    script = tmp_path / "npm" / PACKAGE_PATHS["codex"]
    script.parent.mkdir(parents=True)
    script.write_text(_AGENT)
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ids: list[tuple[int, float]] = []
    try:
        ids.append((proc.pid, psutil.Process(proc.pid).create_time()))
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        (child,) = psutil.Process(proc.pid).children()
        ids.append((child.pid, child.create_time()))
        yield proc, child.pid, port
    finally:
        for pid, ct in ids:
            with contextlib.suppress(psutil.Error, OSError):
                if psutil.Process(pid).create_time() == ct:
                    os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def test_ports_of_an_agent_tree(
    listening_agent: tuple[subprocess.Popen[bytes], int, int], tmp_path: Path
) -> None:
    proc, child, port = listening_agent
    report = default_probe(AgentHomes.resolve(tmp_path / "home"), only_trees_of=[proc.pid])([])
    (tree,) = report.matches.trees
    assert (tree.root.pid, tree.agent_type.value, set(tree.pids)) == (proc.pid, "codex", {proc.pid, child})
    assert report.matches.match_for_pid(proc.pid) is None
    assert report.ports == {child: (port,)}
    assert report.states == {proc.pid: "idle"}


def test_port_scanner_caches_per_identity_and_tolerates_failures() -> None:
    now = [0.0]
    reads: list[int] = []

    def read(pid: int) -> tuple[int, ...]:
        reads.append(pid)
        if pid == 3:
            raise psutil.AccessDenied(pid)
        return (8000 + pid,)

    scanner = PortScanner(ttl=5.0, clock=lambda: now[0], read=read)
    assert scanner.ports([(1, 10.0), (3, 30.0)]) == {1: (8001,), 3: ()}
    now[0] = 4.9
    assert scanner.ports([(1, 10.0), (2, 20.0)]) == {1: (8001,), 2: (8002,)}
    assert reads == [1, 3, 2]
    now[0] = 5.0
    scanner.ports([(1, 10.0), (1, 11.0)])  # expired, and pid 1 reused: read twice
    assert reads == [1, 3, 2, 1, 1]


# --------------------------------------------------------------------------- state
NOW = 1_000_000_000


@pytest.mark.parametrize(
    ("kw", "state"),
    [
        ({"cpu_percent": 3.0}, AgentState.WORKING),
        ({"cpu_percent": 2.9}, AgentState.IDLE),
        ({"cpu_percent": 0.0, "grew_recently": True}, AgentState.WORKING),
        (
            {"cpu_percent": 0.0, "last_activity_ms": NOW - 4_999, "last_response_ms": NOW - 4_999},
            AgentState.WORKING,
        ),
        (
            {"cpu_percent": 0.0, "last_activity_ms": NOW - 5_000, "last_response_ms": NOW - 5_000},
            AgentState.WAITING,
        ),
        # Bookkeeping written after the reply still leaves the assistant with the last word...
        (
            {
                "cpu_percent": 0.0,
                "last_activity_ms": NOW - 60_000,
                "last_response_ms": NOW - 60_000 - WAITING_SLACK_MS,
            },
            AgentState.WAITING,
        ),
        # ... a later record that is not (a prompt nobody answered) does not.
        (
            {
                "cpu_percent": 0.0,
                "last_activity_ms": NOW - 60_000,
                "last_response_ms": NOW - 61_000 - WAITING_SLACK_MS,
            },
            AgentState.IDLE,
        ),
        # Prompt times, when known, decide.
        (
            {"cpu_percent": 0.0, "last_response_ms": NOW - 9_000, "last_prompt_ms": NOW - 10_000},
            AgentState.WAITING,
        ),
        (
            {"cpu_percent": 0.0, "last_response_ms": NOW - 10_000, "last_prompt_ms": NOW - 9_000},
            AgentState.IDLE,
        ),
        ({"cpu_percent": 0.0, "last_activity_ms": NOW - 60_000}, AgentState.IDLE),
        ({"cpu_percent": 0.0}, AgentState.IDLE),
    ],
)
def test_classify_state(kw: dict[str, float], state: AgentState) -> None:
    assert classify_state(now_ms=NOW, **kw) is state  # type: ignore[arg-type]


def test_growth_is_a_change_within_the_window_not_a_first_sighting() -> None:
    g = GrowthTracker(window=5.0)
    assert g.grew("s", (100, 1), 0.0) is False
    assert g.grew("s", (100, 1), 1.0) is False
    assert g.grew("s", (180, 2), 2.0) is True
    assert g.grew("s", (180, 2), 6.9) is True
    assert g.grew("s", (180, 2), 7.0) is False
    g.forget_except([])
    assert g.grew("s", (999, 3), 8.0) is False


def test_port_scanner_reads_a_bounded_number_per_call() -> None:
    reads: list[int] = []

    def read(pid: int) -> tuple[int, ...]:
        reads.append(pid)
        return (pid,)

    scanner = PortScanner(ttl=5.0, clock=lambda: 0.0, read=read, max_reads=2)
    tree = [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert scanner.ports(tree) == {1: (1,), 2: (2,), 3: ()}
    assert scanner.ports(tree) == {1: (1,), 2: (2,), 3: (3,)}
    assert reads == [1, 2, 3]
