"""The monitor's background half: all file and /proc I/O, no Textual.

One :class:`Monitor` owns a :class:`~agent_session.SessionStore` and the
process matcher. Its :meth:`Monitor.collect` runs in the app's worker thread
and returns a frozen :class:`MonitorSnapshot`: display-ready rows and labels,
already formatted, so the UI thread only diffs and paints. Keeping this module
free of Textual also lets ``--once --json`` and the benchmark use it directly.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent_session import AgentHomes, AgentSession, AgentType, SessionLookupError, SessionStore
from agent_session.text import one_line

from .formatting import fmt_age, fmt_bytes, fmt_cost, fmt_pct, fmt_tokens, shorten_path

__all__ = [
    "AgentTotal",
    "DetailView",
    "MatchView",
    "Monitor",
    "MonitorSnapshot",
    "ProcNode",
    "ProcSample",
    "ProcessProbe",
    "ProcessReport",
    "RootInfo",
    "SessionRow",
    "Wakeup",
    "bounded_cmdline",
    "default_probe",
    "session_key",
]

AGENTS: tuple[str, ...] = tuple(a.value for a in AgentType)


def session_key(agent: str, session_id: str) -> str:
    """Stable row key: session ids are only unique per agent."""
    return f"{agent}:{session_id}"


# --------------------------------------------------------------------------- process input
@dataclass(frozen=True, slots=True)
class ProcSample:
    """One process as the monitor shows it (filled by the process probe)."""

    pid: int
    ppid: int
    name: str
    create_time: float = 0.0
    cpu_percent: float = 0.0
    rss_bytes: int = 0
    #: At most ``CMDLINE_CHARS`` characters in all (see :func:`bounded_cmdline`) …
    cmdline: tuple[str, ...] = ()
    #: … and how many characters of the command line (as the snapshot keeps it) that left out.
    cmdline_omitted_chars: int = 0


@dataclass(frozen=True, slots=True)
class RootInfo:
    """An agent root process, its tree and the session it is writing (if matched)."""

    pid: int
    agent: str
    members: tuple[int, ...]
    session_id: str | None = None
    evidence: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class ProcessReport:
    processes: Mapping[int, ProcSample] = field(default_factory=dict)
    roots: tuple[RootInfo, ...] = ()
    error: str | None = None


#: Takes the current sessions (for matching), returns live agent processes.
ProcessProbe = Callable[[Sequence[AgentSession]], ProcessReport]


#: Characters of a command line kept per process (a shell can pass megabytes of argv).
CMDLINE_CHARS = 1000
#: Levels of a process tree shown; what lies deeper is summed up in one marker node.
MAX_TREE_DEPTH = 64


def bounded_cmdline(argv: Sequence[str], limit: int = CMDLINE_CHARS) -> tuple[tuple[str, ...], int]:
    """``argv`` cut to ``limit`` characters in all, and how many characters were left out.

    Whole arguments are kept while they fit; the one that crosses the limit is
    cut and ends with ``…``; the rest are dropped (and counted).
    """
    kept: list[str] = []
    used = 0
    total = sum(len(a) for a in argv)
    for arg in argv:
        if used + len(arg) <= limit:
            kept.append(arg)
            used += len(arg)
            continue
        room = limit - used
        if room > 1:
            kept.append(arg[: room - 1] + "…")
            used += room - 1
        break
    return tuple(kept), total - used


def default_probe(homes: AgentHomes, only_trees_of: Collection[int] | None = None) -> ProcessProbe:
    """The adapter to ``agent_session.process``: the only code that knows its API.

    The snapshotter and matcher live in the closure, so CPU percentages are
    relative to the previous call and sticky bindings carry across refreshes.
    ``only_trees_of`` limits the probe to the trees of those pids (the demo's
    stand-ins, a test's own processes) instead of the whole machine.
    """
    from agent_session.process import ProcessSnapshotter, SessionProcessMatcher, match_live

    snapshotter = ProcessSnapshotter(only_trees_of)
    matcher = SessionProcessMatcher()

    def probe(sessions: Sequence[AgentSession]) -> ProcessReport:
        result = match_live(matcher, sessions, homes, snapshotter.snapshot())
        procs: dict[int, ProcSample] = {}
        roots: list[RootInfo] = []
        for tree in result.trees:
            for p in tree.members:
                argv, omitted = bounded_cmdline(p.cmdline)
                procs[p.pid] = ProcSample(
                    pid=p.pid,
                    ppid=p.ppid,
                    name=p.name,
                    create_time=p.create_time,
                    cpu_percent=p.cpu_percent,
                    rss_bytes=p.rss,
                    cmdline=argv,
                    cmdline_omitted_chars=omitted,
                )
            m = result.match_for_pid(tree.root.pid)
            roots.append(
                RootInfo(
                    pid=tree.root.pid,
                    agent=tree.agent_type.value,
                    members=tree.pids,
                    session_id=m.session_id if m is not None else None,
                    evidence=m.evidence.value if m is not None else None,
                    confidence=m.confidence if m is not None else None,
                )
            )
        return ProcessReport(processes=procs, roots=tuple(roots))

    return probe


# --------------------------------------------------------------------------- snapshot
SESSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("live", ""),
    ("id", "Session"),
    ("agent", "Agent"),
    ("model", "Model"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
    ("active", "Active"),
    ("cwd", "Cwd"),
)


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One sessions-table row: sort keys plus the already formatted cells."""

    key: str
    agent: str
    session_id: str
    display_id: str
    model: str
    #: Own usage plus subagents' (what a parent really burned).
    total_tokens: int
    cost_usd: float | None
    last_activity_ms: int
    cwd: str
    live: bool
    is_subagent: bool
    #: One string per SESSION_COLUMNS entry.
    cells: tuple[str, ...]
    #: Lower-cased text the ``/`` filter searches (agent, model(s), cwd, ids).
    haystack: str


@dataclass(frozen=True, slots=True)
class ProcNode:
    """A process tree node; ``key`` is ``pid:create_time`` so a reused pid is a new node."""

    key: str
    pid: int
    name: str
    cpu_percent: float
    rss_bytes: int
    agent: str | None
    session_key: str | None
    label: str
    children: tuple[ProcNode, ...] = ()
    #: Non-zero only on the marker that stands for a cut subtree: how many processes it hides.
    hidden: int = 0


@dataclass(frozen=True, slots=True)
class MatchView:
    root_pid: int
    agent: str
    session_key: str | None
    session_id: str | None
    display_id: str | None
    evidence: str | None
    confidence: float | None
    matched_pids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AgentTotal:
    agent: str
    sessions: int
    live: int
    tokens: int
    cost_usd: float
    cpu_percent: float


@dataclass(frozen=True, slots=True)
class DetailView:
    """The selected session with its events, loaded in the worker."""

    key: str
    session: AgentSession | None
    #: Changes whenever what the detail pane shows would change.
    fingerprint: tuple[Any, ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    seq: int
    #: The monitor clock (epoch seconds) when this was taken: ages are relative to it.
    taken_at: float
    sessions: tuple[SessionRow, ...] = ()
    roots: tuple[ProcNode, ...] = ()
    matches: tuple[MatchView, ...] = ()
    totals: tuple[AgentTotal, ...] = ()
    errors: tuple[str, ...] = ()
    process_error: str | None = None
    refresh_seconds: float = 0.0
    collect_seconds: float = 0.0
    detail: DetailView | None = None
    #: True when only the detail was reloaded (a selection change), not files and processes.
    detail_only: bool = False
    #: Session files of the history still waiting for their first parse (first paint
    #: shows the newest sessions while background workers read the rest), of all known.
    history_pending: int = 0
    history_files: int = 0
    #: Raw sessions for ``--once --json`` (not used by the widgets).
    raw_sessions: tuple[AgentSession, ...] = field(default=(), compare=False, repr=False)
    raw_processes: tuple[ProcSample, ...] = field(default=(), compare=False, repr=False)

    def row(self, key: str | None) -> SessionRow | None:
        if key is None:
            return None
        for r in self.sessions:
            if r.key == key:
                return r
        return None

    def to_json(self) -> dict[str, Any]:
        """Processes, matches and sessions, as ``--once --json`` prints them."""
        live = {m.session_key for m in self.matches if m.session_key}
        return {
            "taken_at": self.taken_at,
            "refresh_seconds": round(self.refresh_seconds, 4),
            "processes": [_process_json(p) for p in self.raw_processes],
            "matches": [dataclasses.asdict(m) for m in self.matches],
            "sessions": [
                {
                    **s.model_dump(mode="json", exclude={"events"}),
                    "live": session_key(s.agent_type.value, s.session_id) in live,
                }
                for s in self.raw_sessions
            ],
            "totals": [dataclasses.asdict(t) for t in self.totals],
            "errors": list(self.errors),
            "process_error": self.process_error,
        }


def _process_json(p: ProcSample) -> dict[str, Any]:
    """One process for ``--once --json``: its command line bounded, the cut counted."""
    out = dataclasses.asdict(p)
    argv, omitted = bounded_cmdline(p.cmdline)
    out["cmdline"] = list(argv)
    out["cmdline_omitted_chars"] = p.cmdline_omitted_chars + omitted
    return out


# --------------------------------------------------------------------------- wakeup
WakeReason = Literal["stop", "refresh", "change", "detail", "tick"]


class Wakeup:
    """Tells the worker why to run next: stop, refresh now, a file changed, new selection, tick.

    Requests made while the worker is busy are remembered and coalesced, so a
    burst of file events or cursor moves costs one collection, not one each.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._refresh = False
        self._change = False
        self._detail = False
        self._stop = False

    def request_refresh(self) -> None:
        with self._cond:
            self._refresh = True
            self._cond.notify_all()

    def request_change(self) -> None:
        with self._cond:
            self._change = True
            self._cond.notify_all()

    def request_detail(self) -> None:
        with self._cond:
            self._detail = True
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop

    def wait(self, timeout: float, paused: bool = False) -> WakeReason:
        """Block until a request or ``timeout``; while paused only ``r`` and selections count."""
        with self._cond:
            if not (self._stop or self._refresh or self._detail or (self._change and not paused)):
                self._cond.wait(timeout)
            if self._stop:
                return "stop"
            if paused:
                self._change = False
            if self._refresh or self._change:
                reason: WakeReason = "refresh" if self._refresh else "change"
                # A full collection loads the detail too.
                self._refresh = self._change = self._detail = False
                return reason
            if self._detail:
                self._detail = False
                return "detail"
            return "tick"


# --------------------------------------------------------------------------- monitor
class Monitor:
    """Collects snapshots. Called from one thread at a time (the app's worker)."""

    def __init__(
        self,
        homes: AgentHomes,
        *,
        user_home: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        store: SessionStore | None = None,
        probe: ProcessProbe | None = None,
        parse_budget: float | None = None,
        cache: bool = False,
        watch: bool = False,
    ) -> None:
        self.homes = homes
        self.user_home = str(user_home) if user_home is not None else os.path.expanduser("~")
        self.clock = clock
        self.store = store if store is not None else SessionStore(homes, cache=cache, watch=watch)
        self.probe = probe if probe is not None else default_probe(homes)
        #: Seconds a refresh may spend on first parses before showing what it has
        #: (newest files first); the rest is read behind, shown as progress. None:
        #: every refresh is complete (deterministic, for tests and screenshots).
        self.parse_budget = parse_budget
        self._seq = 0
        self._last: MonitorSnapshot | None = None
        self._ages: dict[int, tuple[int, str]] = {}
        self._row_cache: dict[str, tuple[AgentSession, bool, float | None, str, SessionRow]] = {}

    @property
    def last(self) -> MonitorSnapshot | None:
        return self._last

    def watch_paths(self) -> list[Path]:
        """Existing agent homes, for the file watcher (missing ones are covered by the interval)."""
        found: list[Path] = []
        for roots in self.homes.existing().values():
            found.extend(roots)
        return found

    def collect(self, detail_key: str | None = None) -> MonitorSnapshot:
        """Refresh the store, snapshot and match processes, build display rows."""
        started = time.perf_counter()
        stats = self.store.refresh(budget=self.parse_budget)
        sessions = self.store.sessions()
        try:
            report = self.probe(sessions)
        except Exception as exc:  # a /proc race or psutil quirk must not stop the monitor
            report = ProcessReport(error=f"{type(exc).__name__}: {exc}")
        now = self.clock()
        by_key = {session_key(s.agent_type.value, s.session_id): s for s in sessions}
        matches = self._matches(report, by_key)
        live = {m.session_key: m for m in matches if m.session_key}
        rows = self._rows(sessions, live, now)
        roots = self._tree(report, matches, by_key)
        totals = self._totals(rows, report, matches)
        self._seq += 1
        snap = MonitorSnapshot(
            seq=self._seq,
            taken_at=now,
            sessions=rows,
            roots=roots,
            matches=tuple(matches),
            totals=totals,
            errors=tuple(
                f"{shorten_path(p, self.user_home)}: {e}" for p, e in sorted(self.store.errors.items())
            ),
            process_error=report.error,
            refresh_seconds=stats.seconds,
            collect_seconds=0.0,
            history_pending=stats.pending,
            history_files=stats.files_seen,
            detail=self._detail(detail_key, by_key, now),
            raw_sessions=tuple(sessions),
            raw_processes=tuple(sorted(report.processes.values(), key=lambda p: p.pid)),
        )
        snap = dataclasses.replace(snap, collect_seconds=time.perf_counter() - started)
        self._last = snap
        return snap

    def with_detail(self, detail_key: str | None) -> MonitorSnapshot:
        """The last snapshot with the detail of another session (selection changed)."""
        last = self._last
        if last is None:
            return self.collect(detail_key)
        by_key = {session_key(s.agent_type.value, s.session_id): s for s in last.raw_sessions}
        self._seq += 1
        snap = dataclasses.replace(
            last, seq=self._seq, detail=self._detail(detail_key, by_key, last.taken_at)
        )
        self._last = snap
        return snap

    # ------------------------------------------------------------------ pieces
    def _matches(self, report: ProcessReport, by_key: Mapping[str, AgentSession]) -> list[MatchView]:
        out: list[MatchView] = []
        for r in report.roots:
            key = session_key(r.agent, r.session_id) if r.session_id else None
            s = by_key.get(key) if key else None
            out.append(
                MatchView(
                    root_pid=r.pid,
                    agent=r.agent,
                    session_key=key,
                    session_id=r.session_id,
                    display_id=s.display_id if s else None,
                    evidence=r.evidence,
                    confidence=r.confidence,
                    matched_pids=r.members,
                )
            )
        return out

    def _age(self, ms: int | None, now: float) -> str:
        """``fmt_age`` with a cache: old ages are recomputed each minute (or ten), not each second."""
        if ms is None:
            return "-"
        delta = now - ms / 1000
        tick = int(now) if delta < 3600 else int(now) // 60 if delta < 86_400 else int(now) // 600
        hit = self._ages.get(ms)
        if hit is not None and hit[0] == tick:
            return hit[1]
        text = fmt_age(ms, now)
        self._ages[ms] = (tick, text)
        return text

    def _rows(
        self, sessions: Sequence[AgentSession], live: Mapping[str, MatchView], now: float
    ) -> tuple[SessionRow, ...]:
        child_cost: dict[tuple[str, str], float] = {}
        for s in sessions:
            if s.parent_session_id and s.cost_usd is not None:
                k = (s.agent_type.value, s.parent_session_id)
                child_cost[k] = child_cost.get(k, 0.0) + s.cost_usd
        rows: list[SessionRow] = []
        cache: dict[str, tuple[AgentSession, bool, float | None, str, SessionRow]] = {}
        for s in sessions:
            agent = s.agent_type.value
            key = session_key(agent, s.session_id)
            cost = s.cost_usd
            extra = child_cost.get((agent, s.session_id))
            if extra is not None:
                cost = (cost or 0.0) + extra
            is_live = key in live
            age = self._age(s.last_activity_ms, now)
            hit = self._row_cache.get(key)
            # The store hands out a new object whenever a session changes: same object, same row.
            if hit is not None and hit[0] is s and hit[1:4] == (is_live, cost, age):
                row = hit[4]
            else:
                row = self._row(s, key, is_live, cost, age)
            cache[key] = (s, is_live, cost, age, row)
            rows.append(row)
        self._row_cache = cache
        if len(self._ages) > 4 * len(sessions) + 64:
            self._ages.clear()
        return tuple(rows)

    def _row(self, s: AgentSession, key: str, is_live: bool, cost: float | None, age: str) -> SessionRow:
        agent = s.agent_type.value
        total = s.usage.total_tokens + s.subagent_usage.total_tokens
        model = one_line(s.model, 40) or "-"
        cwd = shorten_path(one_line(s.cwd, 400), self.user_home) if s.cwd else "-"
        display = ("↳ " if s.parent_session_id else "") + s.display_id
        cells = (
            "●" if is_live else "",
            display,
            agent + ("/sub" if s.parent_session_id else ""),
            model,
            fmt_tokens(total),
            fmt_cost(cost),
            age,
            cwd,
        )
        hay = " ".join([agent, s.session_id, s.display_id, *s.models, s.model or "", s.cwd or ""]).lower()
        return SessionRow(
            key=key,
            agent=agent,
            session_id=s.session_id,
            display_id=s.display_id,
            model=model,
            total_tokens=total,
            cost_usd=cost,
            last_activity_ms=s.last_activity_ms or 0,
            cwd=cwd,
            live=is_live,
            is_subagent=s.parent_session_id is not None,
            cells=cells,
            haystack=hay,
        )

    def _tree(
        self, report: ProcessReport, matches: Sequence[MatchView], by_key: Mapping[str, AgentSession]
    ) -> tuple[ProcNode, ...]:
        procs = report.processes
        out: list[ProcNode] = []
        for m in sorted(matches, key=lambda m: m.root_pid):
            if m.root_pid not in procs:
                continue
            members = {pid for pid in m.matched_pids if pid in procs} | {m.root_pid}
            kids: dict[int, list[int]] = {}
            for pid in members:
                if pid == m.root_pid:
                    continue
                parent = procs[pid].ppid
                # A member whose parent is outside the tree (reparented) hangs off the root.
                kids.setdefault(parent if parent in members else m.root_pid, []).append(pid)
            s = by_key.get(m.session_key) if m.session_key else None
            out.append(_build_node(m.root_pid, procs, kids, m, s, 0))
        return tuple(out)

    def _totals(
        self, rows: Sequence[SessionRow], report: ProcessReport, matches: Sequence[MatchView]
    ) -> tuple[AgentTotal, ...]:
        out: list[AgentTotal] = []
        for agent in AGENTS:
            mine = [r for r in rows if r.agent == agent]
            # Subagent usage is already inside the parent's total; count each token once.
            tokens = sum(r.total_tokens for r in mine if not r.is_subagent)
            cost = sum(r.cost_usd or 0.0 for r in mine if not r.is_subagent)
            cpu = 0.0
            for m in matches:
                if m.agent == agent:
                    cpu += sum(
                        report.processes[p].cpu_percent
                        for p in {m.root_pid, *m.matched_pids}
                        if p in report.processes
                    )
            out.append(
                AgentTotal(
                    agent=agent,
                    sessions=len(mine),
                    live=sum(1 for m in matches if m.agent == agent),
                    tokens=tokens,
                    cost_usd=cost,
                    cpu_percent=round(cpu, 1),
                )
            )
        return tuple(out)

    def _detail(self, key: str | None, by_key: Mapping[str, AgentSession], now: float) -> DetailView | None:
        if key is None:
            return None
        summary = by_key.get(key)
        if summary is None:
            return DetailView(
                key=key, session=None, fingerprint=(key, "gone"), error="session no longer exists"
            )
        try:
            s = self.store.detail(summary)
        except (SessionLookupError, OSError, ValueError) as exc:
            return DetailView(key=key, session=None, fingerprint=(key, "error", str(exc)), error=str(exc))
        d = s.diagnostics
        fp = (
            key,
            d.bytes_consumed,
            d.lines_read,
            d.reparses,
            s.last_activity_ms,
            s.subagent_usage.total_tokens,
            s.cost_usd,
            fmt_age(s.last_activity_ms, now),
            fmt_age(s.start_timestamp_ms, now),
        )
        return DetailView(key=key, session=s, fingerprint=fp)


def _build_node(
    pid: int,
    procs: Mapping[int, ProcSample],
    kids: Mapping[int, list[int]],
    m: MatchView,
    s: AgentSession | None,
    depth: int,
) -> ProcNode:
    """The node of ``pid`` with its subtree, cut below ``MAX_TREE_DEPTH`` levels.

    A cut is never silent: the deepest shown node gets one marker child that
    says how many processes lie below it.
    """
    p = procs[pid]
    is_root = pid == m.root_pid
    key = f"{p.pid}:{p.create_time:.2f}"
    below = sorted(kids.get(pid, ()))
    children: tuple[ProcNode, ...]
    if not below:
        children = ()
    elif depth < MAX_TREE_DEPTH:
        children = tuple(_build_node(c, procs, kids, m, s, depth + 1) for c in below)
    else:
        children = (_deeper_marker(key, _count_below(pid, kids), m),)
    return ProcNode(
        key=key,
        pid=p.pid,
        name=one_line(p.name, 40) or "?",
        cpu_percent=p.cpu_percent,
        rss_bytes=p.rss_bytes,
        agent=m.agent if is_root else None,
        session_key=m.session_key,
        label=_root_label(p, m, s) if is_root else _child_label(p),
        children=children,
    )


def _count_below(pid: int, kids: Mapping[int, list[int]]) -> int:
    """Processes in the subtree under ``pid`` (iterative: the chain may be very deep)."""
    seen = {pid}
    stack = list(kids.get(pid, ()))
    while stack:
        child = stack.pop()
        if child in seen:
            continue
        seen.add(child)
        stack.extend(kids.get(child, ()))
    return len(seen) - 1


def _deeper_marker(parent_key: str, hidden: int, m: MatchView) -> ProcNode:
    """Stands for the ``hidden`` processes below the deepest level shown (pid 0: no process)."""
    noun = "process" if hidden == 1 else "processes"
    return ProcNode(
        key=f"{parent_key}:deeper",
        pid=0,
        name="…",
        cpu_percent=0.0,
        rss_bytes=0,
        agent=None,
        session_key=m.session_key,
        label=f"… {hidden} deeper {noun} not shown",
        hidden=hidden,
    )


def _root_label(p: ProcSample, m: MatchView, s: AgentSession | None) -> str:
    head = f"{one_line(p.name, 40) or '?'} {p.pid}  {fmt_pct(p.cpu_percent)} {fmt_bytes(p.rss_bytes)}"
    if s is not None:
        total = s.usage.total_tokens + s.subagent_usage.total_tokens
        what = f"{s.display_id} · {one_line(s.model, 30) or '-'} · {fmt_tokens(total)} tok"
    elif m.session_id:
        what = one_line(m.session_id, 13) or "?"
    else:
        what = "(no session)"
    if m.evidence:
        conf = f" {m.confidence:.2f}" if m.confidence is not None else ""
        what += f" · {m.evidence}{conf}"
    return f"{head}  {what}"


def _short_cmd(argv: Sequence[str]) -> str:
    """argv with absolute paths cut to their basename: what the process runs, in a tree-width line."""
    return " ".join(os.path.basename(a) if a.startswith("/") else a for a in argv)


def _child_label(p: ProcSample) -> str:
    cmd = one_line(_short_cmd(p.cmdline), 60) or ""
    return "  ".join(
        x
        for x in (
            f"{one_line(p.name, 40) or '?'} {p.pid}",
            fmt_pct(p.cpu_percent),
            fmt_bytes(p.rss_bytes),
            cmd,
        )
        if x
    )


def flatten(nodes: Iterable[ProcNode]) -> tuple[ProcNode, ...]:
    """Every process at one level (the ``t`` flat view)."""
    out: list[ProcNode] = []

    def walk(n: ProcNode) -> None:
        out.append(dataclasses.replace(n, children=()))
        for c in n.children:
            walk(c)

    for n in nodes:
        walk(n)
    return tuple(out)
