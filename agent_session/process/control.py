"""Acting on agent trees: signalling them safely, their listening ports, their state.

Everything a process pane needs beyond the snapshot, kept here so it is
tested on plain data and usable without a UI:

* :func:`plan_signal` decides, from a *fresh* list of processes, which pids
  may be signalled to end one agent tree. A pid is only a process identity
  together with its start time: between the moment a user looked at a tree
  and the moment they confirmed, the agent may have exited and its pid been
  handed to an unrelated process. So the root must still be the same
  ``(pid, create_time)`` and still be recognised as that agent's root, and
  the targets are the members of the tree rebuilt *now* — never a pid that
  is merely remembered. Children come first (deepest first), then the root,
  so a dying root cannot leave its tool processes orphaned and running.
* :func:`signal_agent_tree` runs that plan against the live system, checking
  each identity once more right before its signal (psutil's ``send_signal``
  refuses a reused pid too).
* :class:`PortScanner` lists the TCP ports each agent tree listens on. Per
  process ``net_connections`` walks the process's descriptors, so results
  are cached per process identity for a few seconds and a failure (denied,
  gone) is an empty answer, never an error.
* :func:`classify_state` and :class:`GrowthTracker` turn CPU, session growth
  and the last prompt/response times into working / waiting / idle.
"""

from __future__ import annotations

import signal as _signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import psutil

from ..model import AgentType
from .info import ProcessInfo, ProcessSnapshot
from .recognize import AgentTree, build_trees
from .snapshot import ProcessSnapshotter

__all__ = [
    "CREATE_TIME_TOLERANCE",
    "WAITING_SLACK_MS",
    "WORKING_CPU_PERCENT",
    "WORKING_WINDOW_S",
    "AgentState",
    "GrowthTracker",
    "PortScanner",
    "SignalPlan",
    "SignalReport",
    "classify_state",
    "plan_signal",
    "signal_agent_tree",
    "sorted_ports",
    "tree_identities",
]

#: Start times are compared with this slack (seconds): a UI may keep them rounded to
#: 1/100 s, the kernel's clock tick. A pid reused within 10 ms of the same start is not a risk.
CREATE_TIME_TOLERANCE = 0.01


# --------------------------------------------------------------------------- signalling
@dataclass(frozen=True)
class SignalPlan:
    """Which processes to signal, in order, and which remembered pids were left alone (and why)."""

    #: ``(pid, create_time, name)``: children deepest first, the root last.
    targets: tuple[tuple[int, float, str], ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()
    #: Set when nothing may be signalled at all (the root is gone or no longer that agent).
    refused: str | None = None


@dataclass(frozen=True)
class SignalReport:
    """What :func:`signal_agent_tree` did: pids signalled, pids skipped with the reason."""

    signal_name: str
    root_pid: int
    signalled: tuple[tuple[int, str], ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()
    refused: str | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None and bool(self.signalled)

    def summary(self) -> str:
        """One line for a status bar or notification."""
        if self.refused is not None:
            return f"{self.signal_name} not sent to {self.root_pid}: {self.refused}"
        sent = ", ".join(f"{name} {pid}" for pid, name in self.signalled) or "nothing"
        text = f"{self.signal_name} sent to {sent}"
        if self.skipped:
            text += f"; skipped {', '.join(f'{pid} ({why})' for pid, why in self.skipped)}"
        return text


def _same_time(a: float, b: float) -> bool:
    return abs(a - b) <= CREATE_TIME_TOLERANCE


def _depths(tree: AgentTree) -> dict[int, int]:
    """Depth of each member below the root (a member whose parent left the tree hangs off the root)."""
    kids: dict[int, list[int]] = {}
    for p in tree.members[1:]:
        kids.setdefault(p.ppid, []).append(p.pid)
    depth = {tree.root.pid: 0}
    frontier = [tree.root.pid]
    while frontier:
        nxt: list[int] = []
        for pid in frontier:
            for child in kids.get(pid, ()):
                if child not in depth:
                    depth[child] = depth[pid] + 1
                    nxt.append(child)
        frontier = nxt
    for p in tree.members:
        depth.setdefault(p.pid, 1)
    return depth


def plan_signal(
    root: tuple[int, float],
    agent: AgentType | str,
    processes: Iterable[ProcessInfo],
    expected: Mapping[int, float] | None = None,
) -> SignalPlan:
    """The processes that may be signalled to end the agent tree rooted at ``root`` now.

    ``processes`` is a fresh read of the system (or of the root's subtree);
    ``expected`` maps the pids the user was shown to their start times. A pid
    the user saw whose start time changed (reused) is skipped and reported;
    a member that appeared since is included (it is in the tree now). Nested
    agents started from a tool shell are their own trees and are not touched.
    """
    root_pid, root_time = root
    agent_type = AgentType(agent)
    trees = build_trees(processes)
    tree = next((t for t in trees if t.root.pid == root_pid), None)
    if tree is None:
        member = next((t for t in trees if root_pid in t.pids), None)
        why = "no longer an agent root" if member is not None else "no longer running as an agent"
        return SignalPlan(refused=why)
    if not _same_time(tree.root.create_time, root_time):
        return SignalPlan(refused="pid now belongs to another process (start time changed)")
    if tree.agent_type is not agent_type:
        return SignalPlan(refused=f"now runs {tree.agent_type.value}, not {agent_type.value}")
    skipped: list[tuple[int, str]] = []
    current = {p.pid: p for p in tree.members}
    for pid, seen_time in sorted((expected or {}).items()):
        proc = current.get(pid)
        if proc is None:
            skipped.append((pid, "gone or left the tree"))
        elif not _same_time(proc.create_time, seen_time):
            skipped.append((pid, "pid reused"))
    reused = {pid for pid, why in skipped if why == "pid reused"}
    depth = _depths(tree)
    children = [p for p in tree.members[1:] if p.pid not in reused]
    children.sort(key=lambda p: (-depth.get(p.pid, 1), p.pid))
    targets = [(p.pid, p.create_time, p.name) for p in children]
    targets.append((tree.root.pid, tree.root.create_time, tree.root.name))
    return SignalPlan(targets=tuple(targets), skipped=tuple(skipped))


def _send(pid: int, create_time: float, sig: int) -> str | None:
    """Signal ``pid`` if it is still the process that started at ``create_time``; None when sent."""
    try:
        proc = psutil.Process(pid)
        if not _same_time(proc.create_time(), create_time):
            return "pid reused"
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        return "already gone"
    except psutil.AccessDenied:
        return "permission denied"
    except (psutil.Error, OSError) as exc:
        return f"{type(exc).__name__}"
    return None


def signal_agent_tree(
    root: tuple[int, float],
    agent: AgentType | str,
    sig: int = _signal.SIGTERM,
    expected: Mapping[int, float] | None = None,
    snapshot: Callable[[int], ProcessSnapshot] | None = None,
) -> SignalReport:
    """Send ``sig`` to the agent tree rooted at ``root`` (children first), re-checked now.

    ``snapshot(root_pid)`` reads the processes fresh; by default the root's
    subtree only. Returns what was signalled and what was skipped.
    """
    name = _signal.Signals(sig).name
    read = snapshot or (lambda pid: ProcessSnapshotter([pid]).snapshot())
    plan = plan_signal(root, agent, read(root[0]).processes, expected)
    if plan.refused is not None:
        return SignalReport(name, root[0], refused=plan.refused)
    sent: list[tuple[int, str]] = []
    skipped = list(plan.skipped)
    for pid, create_time, proc_name in plan.targets:
        why = _send(pid, create_time, sig)
        if why is None:
            sent.append((pid, proc_name))
        else:
            skipped.append((pid, why))
    return SignalReport(name, root[0], tuple(sent), tuple(skipped))


# --------------------------------------------------------------------------- ports
def _listening(pid: int) -> tuple[int, ...]:
    proc = psutil.Process(pid)
    conns = proc.net_connections(kind="tcp")
    return tuple(sorted({c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN and c.laddr}))


@dataclass
class PortScanner:
    """Listening TCP ports per process, cached per ``(pid, create_time)`` for ``ttl`` seconds.

    One read costs a few milliseconds (the process's descriptors plus the
    kernel's TCP table), so at most ``max_reads`` processes are read per call;
    the others keep their last answer (or none yet) and are read next time.
    """

    ttl: float = 5.0
    clock: Callable[[], float] = time.monotonic
    read: Callable[[int], tuple[int, ...]] = _listening
    max_reads: int = 16
    _cache: dict[tuple[int, float], tuple[float, tuple[int, ...]]] = field(default_factory=dict)

    def ports(self, processes: Iterable[tuple[int, float]]) -> dict[int, tuple[int, ...]]:
        """Ports of each listed ``(pid, create_time)``; entries of processes not listed are dropped."""
        now = self.clock()
        out: dict[int, tuple[int, ...]] = {}
        kept: dict[tuple[int, float], tuple[float, tuple[int, ...]]] = {}
        reads = 0
        for identity in processes:
            hit = self._cache.get(identity)
            if hit is not None and (now - hit[0] < self.ttl or reads >= self.max_reads):
                found = hit[1]
                kept[identity] = hit
            elif reads >= self.max_reads:
                found = ()  # over budget and never read: not cached, so read next call
            else:
                reads += 1
                try:
                    found = self.read(identity[0])
                except (psutil.Error, OSError):
                    found = ()  # gone, denied or unsupported: no ports is the honest answer
                kept[identity] = (now, found)
            out[identity[0]] = found
        self._cache = kept
        return out


# --------------------------------------------------------------------------- state
class AgentState(StrEnum):
    WORKING = "working"
    WAITING = "waiting"
    IDLE = "idle"


#: Tree CPU (percent of one core) above which an agent counts as working.
WORKING_CPU_PERCENT = 3.0
#: A session written within this many seconds means its agent is working.
WORKING_WINDOW_S = 5.0
#: A response this close (ms) before the last activity still counts as the last word:
#: agents write bookkeeping records (durations, token counts) right after a reply.
WAITING_SLACK_MS = 3000


def classify_state(
    cpu_percent: float,
    now_ms: int,
    last_activity_ms: int | None = None,
    last_response_ms: int | None = None,
    last_prompt_ms: int | None = None,
    grew_recently: bool = False,
) -> AgentState:
    """Working, waiting for the user, or idle, from plain numbers.

    Working: the tree burns CPU, or its session grew or was written in the
    last ``WORKING_WINDOW_S`` seconds. Waiting: quiet, and the assistant had
    the last word — its last response is after the last prompt (when prompt
    times are known) or is the last record, give or take bookkeeping. Idle:
    anything else (no session, or quiet after a prompt the agent never answered).
    """
    if cpu_percent >= WORKING_CPU_PERCENT or grew_recently:
        return AgentState.WORKING
    if last_activity_ms is not None and now_ms - last_activity_ms < WORKING_WINDOW_S * 1000:
        return AgentState.WORKING
    if last_response_ms is None:
        return AgentState.IDLE
    if last_prompt_ms is not None:
        return AgentState.WAITING if last_response_ms >= last_prompt_ms else AgentState.IDLE
    if last_activity_ms is None or last_response_ms >= last_activity_ms - WAITING_SLACK_MS:
        return AgentState.WAITING
    return AgentState.IDLE


@dataclass
class GrowthTracker:
    """Remembers each session's size marker and when it last changed ("grew in the last seconds")."""

    window: float = WORKING_WINDOW_S
    _seen: dict[str, tuple[object, float]] = field(default_factory=dict)

    def grew(self, key: str, marker: object, now: float) -> bool:
        """True when ``marker`` (bytes read, last record time…) changed within ``window`` seconds.

        The first sighting is not growth: it would paint every agent "working" on start.
        """
        prev = self._seen.get(key)
        if prev is None:
            self._seen[key] = (marker, float("-inf"))
            return False
        if prev[0] != marker:
            self._seen[key] = (marker, now)
            return True
        return now - prev[1] < self.window

    def forget_except(self, keys: Iterable[str]) -> None:
        """Drop sessions no longer watched (bounded memory on a long-running monitor)."""
        keep = set(keys)
        for key in [k for k in self._seen if k not in keep]:
            del self._seen[key]


def tree_identities(tree: AgentTree) -> tuple[tuple[int, float], ...]:
    """``(pid, create_time)`` of each member: the keys for :class:`PortScanner`."""
    return tuple(p.identity for p in tree.members)


def sorted_ports(ports: Sequence[Iterable[int]]) -> tuple[int, ...]:
    """Union of several port lists, sorted."""
    return tuple(sorted({p for group in ports for p in group}))
