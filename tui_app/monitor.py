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
from agent_session.charts import per_minute_series_many, sparkline_chars
from agent_session.pricing import CostAccumulator, context_window
from agent_session.process import (
    AgentTree,
    GrowthTracker,
    PortScanner,
    ProcessInfo,
    ProcessSnapshotter,
    SessionMatch,
    SessionProcessMatcher,
    SessionProcessMatches,
    classify_state,
    match_live,
)
from agent_session.requests import RequestLog
from agent_session.text import one_line

from .formatting import fmt_age, fmt_cost, fmt_pct, fmt_tokens, shorten_path
from .rates import WINDOWS, TimeWindow, fmt_ago_short, fmt_ctx, fmt_rate, resolve_window

__all__ = [
    "NO_MATCHES",
    "PROCESS_HEADER",
    "WINDOWS",
    "AgentTotal",
    "DetailView",
    "MatchView",
    "Monitor",
    "MonitorSnapshot",
    "ProbeResult",
    "ProcNode",
    "ProcessProbe",
    "SessionRow",
    "Wakeup",
    "bounded_cmdline",
    "default_probe",
    "fmt_elapsed",
    "fmt_mem",
    "session_key",
]

AGENTS: tuple[str, ...] = tuple(a.value for a in AgentType)


def session_key(agent: str, session_id: str) -> str:
    """Stable row key: session ids are only unique per agent."""
    return f"{agent}:{session_id}"


# --------------------------------------------------------------------------- process input
#: What a probe answers when it found nothing (or failed): no trees, no matches.
NO_MATCHES = SessionProcessMatches(matches=(), trees=(), now_ms=0)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe: the library's matches plus, per pid, what the library does not carry.

    The trees, their processes (``ProcessInfo``) and which session each tree
    writes come straight from :class:`~agent_session.process.SessionProcessMatches`;
    the monitor reads them there instead of keeping its own copy. Run time,
    listening ports and the agent's state are measured by the probe around it.
    """

    matches: SessionProcessMatches = NO_MATCHES
    #: Seconds each process had run when it was sampled (a pid left out: the probe does not know).
    elapsed: Mapping[int, float] = field(default_factory=dict)
    #: TCP ports each process listens on (read for agent-tree processes only; left out: none).
    ports: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    #: Agent root pid → "working", "waiting" or "idle" (see ``classify_state``).
    states: Mapping[int, str] = field(default_factory=dict)
    error: str | None = None

    def processes(self) -> dict[int, ProcessInfo]:
        """Every process of every agent tree, by pid."""
        return {p.pid: p for tree in self.matches.trees for p in tree.members}


#: Takes the current sessions (for matching), returns live agent processes.
ProcessProbe = Callable[[Sequence[AgentSession]], ProbeResult]


#: Characters of a command line kept per process (a shell can pass megabytes of argv).
CMDLINE_CHARS = 1000
#: Levels of a process tree shown; what lies deeper is summed up in one marker node.
MAX_TREE_DEPTH = 64
#: Width of the right-aligned PID column. It is wider than any pid so the process
#: pane can take its tree guides out of it and keep the other columns aligned.
PID_WIDTH = 12
#: The process pane's column headers, aligned with every process label.
PROCESS_HEADER = f"{'PID':>{PID_WIDTH}} {'CPU%':>6} {'MEM':>5} {'TIME':>9} {'STATE':<7} COMMAND"


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
    """The adapter to ``agent_session.process``: snapshot, match, then ports, run times and states.

    The snapshotter, matcher, port scanner and growth tracker live in the
    closure, so CPU percentages are relative to the previous call, sticky
    bindings carry across refreshes, ports are re-read every few seconds only
    and "working" can mean "its session grew since the last look".
    ``only_trees_of`` limits the probe to the trees of those pids (the demo's
    stand-ins, a test's own processes) instead of the whole machine.
    """
    snapshotter = ProcessSnapshotter(only_trees_of)
    matcher = SessionProcessMatcher()
    scanner = PortScanner()
    growth = GrowthTracker()

    def probe(sessions: Sequence[AgentSession]) -> ProbeResult:
        snap = snapshotter.snapshot()
        result = match_live(matcher, sessions, homes, snap)
        now_ms = snap.taken_ms
        by_id = {(s.agent_type, s.session_id): s for s in sessions}
        ports = scanner.ports(p.identity for tree in result.trees for p in tree.members)
        states: dict[int, str] = {}
        watched: list[str] = []
        for tree in result.trees:
            m = result.match_for_pid(tree.root.pid)
            s = by_id.get((tree.agent_type, m.session_id)) if m is not None else None
            grew = False
            if s is not None:
                key = session_key(s.agent_type.value, s.session_id)
                watched.append(key)
                grew = growth.grew(key, (s.diagnostics.bytes_consumed, s.last_activity_ms), now_ms / 1000)
            states[tree.root.pid] = classify_state(
                sum(p.cpu_percent for p in tree.members),
                now_ms,
                last_activity_ms=s.last_activity_ms if s is not None else None,
                last_response_ms=s.requests.last_ts_ms() if s is not None else None,
                grew_recently=grew,
            ).value
        growth.forget_except(watched)
        elapsed = {
            p.pid: max(0.0, now_ms / 1000 - p.create_time) for tree in result.trees for p in tree.members
        }
        return ProbeResult(
            matches=result,
            elapsed=elapsed,
            ports={pid: found for pid, found in ports.items() if found},
            states=states,
        )

    return probe


# --------------------------------------------------------------------------- snapshot
SESSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("live", ""),
    ("id", "Session"),
    ("rate", "Rate"),
    ("trend", "Last 12 min"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
    ("ctx", "Ctx"),
    ("active", "Active"),
    ("agent", "Agent"),
    ("model", "Model"),
    ("cwd", "Cwd"),
)

#: Context fill (percent) from which the Ctx cell and the detail bar are highlighted.
CONTEXT_WARN_PCT = 80.0
#: Minutes the Trend sparklines cover (one block a minute).
SPARK_MINUTES = 12


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
    #: Tokens per minute over the rate window (own plus subagents'), and its price per hour.
    rate_tpm: float = 0.0
    rate_usd_h: float | None = None
    #: True when at least one request (own or a subagent's) falls in the rate window.
    recent: bool = False
    #: Tokens and cost in the window ``w`` selects (own plus subagents'); "all" equals the totals.
    win_tokens: int = 0
    win_cost: float | None = None
    #: Prompt size of the last request (input + cache read + cache write), the model's
    #: context window (None: unknown) and the fill in percent (None: unknown).
    ctx_tokens: int = 0
    ctx_limit: int | None = None
    ctx_pct: float | None = None
    #: Row key of the parent session (subagents), and how many subagent rows hang below this one.
    parent_key: str | None = None
    children: int = 0
    #: Tokens per minute over the last ``SPARK_MINUTES`` (own plus subagents'), oldest first;
    #: empty when nothing happened in that time.
    spark: tuple[int, ...] = ()


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
    """One agent type's line of the totals bar; tokens and cost are of the selected window."""

    agent: str
    sessions: int
    #: Live agent *processes* (roots found on the machine), matched to a session or not.
    live: int
    tokens: int
    cost_usd: float
    cpu_percent: float
    #: Sessions a live process is writing (never more than ``live``).
    live_sessions: int = 0
    rate_tpm: float = 0.0
    rate_usd_h: float = 0.0
    #: Tokens per minute of the agent's sessions over the last ``SPARK_MINUTES``.
    spark: tuple[int, ...] = ()


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
    #: The window the Tokens and Cost columns and the totals show (``w``), and the rate window.
    window: TimeWindow | None = None
    rate_window_s: float = 300.0
    #: Raw sessions for ``--once --json`` (not used by the widgets).
    raw_sessions: tuple[AgentSession, ...] = field(default=(), compare=False, repr=False)
    #: The probe's answer, for the processes of ``--once --json``.
    raw_probe: ProbeResult = field(default_factory=ProbeResult, compare=False, repr=False)

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
            "processes": [
                _process_json(p, self.raw_probe) for _, p in sorted(self.raw_probe.processes().items())
            ],
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


def _process_json(p: ProcessInfo, probe: ProbeResult) -> dict[str, Any]:
    """One process for ``--once --json``: its command line bounded, the cut counted."""
    argv, omitted = bounded_cmdline(p.cmdline)
    return {
        "pid": p.pid,
        "ppid": p.ppid,
        "name": p.name,
        "create_time": p.create_time,
        "cpu_percent": p.cpu_percent,
        "rss_bytes": p.rss,
        "cmdline": list(argv),
        "cmdline_omitted_chars": omitted,
        "elapsed_seconds": probe.elapsed.get(p.pid),
        "listen_ports": probe.ports.get(p.pid, ()),
        "state": probe.states.get(p.pid),
    }


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
        rate_window: float = 300.0,
        window: str = "all",
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
        #: Seconds of the sliding window rates are measured over (``--rate-window``).
        self.rate_window = rate_window
        #: Which of ``WINDOWS`` the Tokens/Cost columns and totals show; the app sets it (``w``).
        self.window = window
        self._seq = 0
        self._last: MonitorSnapshot | None = None
        self._row_cache: dict[str, tuple[AgentSession, tuple[Any, ...], SessionRow]] = {}
        #: Windowed sums per session: (session object, window bounds) → (tokens, cost, requests).
        self._sums: dict[
            tuple[str, str], tuple[AgentSession, int | None, int | None, tuple[int, float | None, int]]
        ] = {}

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
            report = ProbeResult(error=f"{type(exc).__name__}: {exc}")
        now = self.clock()
        by_key = {session_key(s.agent_type.value, s.session_id): s for s in sessions}
        matches = self._matches(report, by_key)
        live = {m.session_key: m for m in matches if m.session_key}
        name = self.window if self.window in WINDOWS else "all"
        window = resolve_window(name, now, self.rate_window, self._block_times(sessions, now, name))
        rows = self._rows(sessions, live, now, window)
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
            window=window,
            rate_window_s=self.rate_window,
            detail=self._detail(detail_key, by_key, now),
            raw_sessions=tuple(sessions),
            raw_probe=report,
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
    def _matches(self, report: ProbeResult, by_key: Mapping[str, AgentSession]) -> list[MatchView]:
        """One view per live agent tree, in the library's order, with the session it writes."""
        return [
            _match_view(tree, report.matches.match_for_pid(tree.root.pid), by_key)
            for tree in report.matches.trees
        ]

    def _block_times(self, sessions: Sequence[AgentSession], now: float, name: str) -> list[int]:
        """Request times that can decide the running 5-hour block (only needed for that window).

        A block chain can in principle reach back forever; a day of history
        decides it in practice (a gap of 5 hours resets the chain).
        """
        if name != "block":
            return []
        since = int((now - 86_400) * 1000)
        out: list[int] = []
        for s in sessions:
            if s.last_activity_ms is not None and s.last_activity_ms < since:
                continue
            out.extend(t for t in s.requests.timestamps() if t >= since)
        return out

    def _sum(
        self, s: AgentSession, key: str, tag: str, lo: int | None, hi: int | None
    ) -> tuple[int, float | None, int]:
        """(tokens, cost, requests) of ``s`` in ``[lo, hi)``, cached while session and bounds stay."""
        if lo is not None and s.last_activity_ms is not None and s.last_activity_ms < lo:
            return (0, None, 0)  # nothing this session did can be in the window
        hit = self._sums.get((key, tag))
        if hit is not None and hit[0] is s and hit[1] == lo and hit[2] == hi:
            return hit[3]
        log = s.requests
        # One cheap pass over the times; only the requests inside are summed and priced.
        first = 1 if lo is None else max(lo, 1)
        last = (1 << 63) if hi is None else hi
        inside = [i for i in range(len(log)) if first <= log.ts_at(i) < last]
        if not inside:
            out: tuple[int, float | None, int] = (0, None, 0)
        else:
            acc = CostAccumulator(s.agent_type)
            tokens = 0
            for i in inside:
                c = log.counts_at(i)
                tokens += c[0] + c[1] + c[2] + c[3]
                acc.add(log.model_at(i), c)
            out = (tokens, acc.result()[0], len(inside))
        self._sums[(key, tag)] = (s, lo, hi, out)
        return out

    def _rows(
        self,
        sessions: Sequence[AgentSession],
        live: Mapping[str, MatchView],
        now: float,
        window: TimeWindow | None = None,
    ) -> tuple[SessionRow, ...]:
        window = window if window is not None else resolve_window("all", now, self.rate_window)
        rate = resolve_window("now", now, self.rate_window)
        minutes = self.rate_window / 60
        # Own numbers first, then each subagent's added to its parent (rows show what a parent really burned).
        own: dict[str, tuple[int, float | None, int, int, float | None]] = {}
        own_cost: dict[str, float | None] = {}
        parents: dict[str, str] = {}
        for s in sessions:
            agent = s.agent_type.value
            key = session_key(agent, s.session_id)
            r_tok, r_cost, r_n = self._sum(s, key, "rate", rate.start_ms, rate.end_ms)
            if window.is_all:
                w_tok, w_cost = s.usage.total_tokens, s.cost_usd
            else:
                # Open-ended above (nothing is logged after "now"): while the start stays put
                # (today, the block, the week's minute) an unchanged session is not summed again.
                w_tok, w_cost, _ = self._sum(s, key, "win", window.start_ms, None)
            own[key] = (r_tok, r_cost, r_n, w_tok, w_cost)
            own_cost[key] = s.cost_usd
            if s.parent_session_id:
                parents[key] = session_key(agent, s.parent_session_id)
        summed = dict(own)
        children: dict[str, int] = {}
        all_cost = dict(own_cost)
        for child, parent in parents.items():
            if parent not in summed:
                continue
            children[parent] = children.get(parent, 0) + 1
            all_cost[parent] = _add_cost(all_cost[parent], own_cost[child])
            c, p = own[child], summed[parent]
            summed[parent] = (
                p[0] + c[0],
                _add_cost(p[1], c[1]),
                p[2] + c[2],
                # "all" takes the store's subagent_usage and all_cost below.
                p[3] if window.is_all else p[3] + c[3],
                p[4] if window.is_all else _add_cost(p[4], c[4]),
            )
        # Trend: own requests plus subagents', only for sessions active in the last minutes.
        now_ms = int(now * 1000)
        spark_from = now_ms - SPARK_MINUTES * 60_000
        spark_logs: dict[str, list[RequestLog]] = {}
        for s in sessions:
            if (s.last_activity_ms or 0) > spark_from:
                key = session_key(s.agent_type.value, s.session_id)
                spark_logs.setdefault(parents.get(key, key), []).append(s.requests)
        rows: list[SessionRow] = []
        cache: dict[str, tuple[AgentSession, tuple[Any, ...], SessionRow]] = {}
        for s in sessions:
            agent = s.agent_type.value
            key = session_key(agent, s.session_id)
            r_tok, r_cost, r_n, w_tok, w_cost = summed[key]
            cost = all_cost[key]
            if window.is_all:
                w_tok, w_cost = s.usage.total_tokens + s.subagent_usage.total_tokens, cost
            is_live = key in live
            age = fmt_ago_short(s.last_activity_ms, now)
            facts = (
                is_live,
                age,
                r_tok / minutes,
                (r_cost * 60 / minutes) if r_cost is not None else None,
                r_n > 0,
                w_tok,
                w_cost,
                parents.get(key),
                children.get(key, 0),
                cost,
                _spark(spark_logs.get(key), now_ms),
            )
            hit = self._row_cache.get(key)
            # The store hands out a new object whenever a session changes: same object, same facts, same row.
            fresh = hit is None or hit[0] is not s or hit[1] != facts
            row = self._row(s, key, facts) if fresh or hit is None else hit[2]
            cache[key] = (s, facts, row)
            rows.append(row)
        self._row_cache = cache
        if len(self._sums) > 4 * len(sessions) + 64:
            self._sums = {k: v for k, v in self._sums.items() if k[0] in own}
        return tuple(rows)

    def _row(self, s: AgentSession, key: str, facts: tuple[Any, ...]) -> SessionRow:
        is_live, age, tpm, usd_h, recent, w_tok, w_cost, parent_key, children, cost, spark = facts
        agent = s.agent_type.value
        total = s.usage.total_tokens + s.subagent_usage.total_tokens
        model = one_line(s.model, 40) or "-"
        cwd = shorten_path(one_line(s.cwd, 400), self.user_home) if s.cwd else "-"
        display = ("↳ " if s.parent_session_id else "") + s.display_id
        ctx_tokens, ctx_limit, ctx_pct = _context(s)
        cells = (
            "●" if is_live else "",
            display,
            fmt_rate(tpm),
            sparkline_chars(spark, SPARK_MINUTES) if spark else "",
            fmt_tokens(w_tok),
            fmt_cost(w_cost),
            fmt_ctx(ctx_pct) if ctx_tokens else "-",
            age,
            agent + ("/sub" if s.parent_session_id else ""),
            model,
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
            rate_tpm=tpm,
            rate_usd_h=usd_h,
            recent=recent,
            win_tokens=w_tok,
            win_cost=w_cost,
            spark=spark,
            ctx_tokens=ctx_tokens,
            ctx_limit=ctx_limit,
            ctx_pct=ctx_pct,
            parent_key=parent_key,
            children=children,
        )

    def _tree(
        self, report: ProbeResult, matches: Sequence[MatchView], by_key: Mapping[str, AgentSession]
    ) -> tuple[ProcNode, ...]:
        """The process pane's trees, root pid order; ``matches`` are the views of ``report``'s trees."""
        views = {m.root_pid: m for m in matches}
        out: list[ProcNode] = []
        for tree in sorted(report.matches.trees, key=lambda t: t.root.pid):
            m = views[tree.root.pid]
            procs = {p.pid: p for p in tree.members}
            procs[tree.root.pid] = tree.root
            kids: dict[int, list[int]] = {}
            for pid, p in procs.items():
                if pid == tree.root.pid:
                    continue
                # A member whose parent is outside the tree (reparented) hangs off the root.
                kids.setdefault(p.ppid if p.ppid in procs else tree.root.pid, []).append(pid)
            s = by_key.get(m.session_key) if m.session_key else None
            tree_ports = tuple(sorted({port for pid in procs for port in report.ports.get(pid, ())}))
            out.append(_build_node(tree.root.pid, _TreeCtx(procs, kids, m, s, report, tree_ports), 0))
        return tuple(out)

    def _totals(
        self, rows: Sequence[SessionRow], report: ProbeResult, matches: Sequence[MatchView]
    ) -> tuple[AgentTotal, ...]:
        out: list[AgentTotal] = []
        for agent in AGENTS:
            mine = [r for r in rows if r.agent == agent]
            # Subagent usage is already inside its parent's row; count each token once
            # (a subagent whose parent file is missing counts on its own).
            present = {r.key for r in mine}
            top = [r for r in mine if r.parent_key is None or r.parent_key not in present]
            tokens = sum(r.win_tokens for r in top)
            cost = sum(r.win_cost or 0.0 for r in top)
            # A tree's members are its root and every tool process (root first).
            cpu = sum(
                p.cpu_percent
                for tree in report.matches.trees
                if tree.agent_type.value == agent
                for p in tree.members
            )
            out.append(
                AgentTotal(
                    agent=agent,
                    sessions=len(mine),
                    live=sum(1 for m in matches if m.agent == agent),
                    tokens=tokens,
                    cost_usd=cost,
                    cpu_percent=round(cpu, 1),
                    live_sessions=sum(1 for r in mine if r.live),
                    rate_tpm=sum(r.rate_tpm for r in top),
                    rate_usd_h=sum(r.rate_usd_h or 0.0 for r in top),
                    spark=_sum_series(r.spark for r in top),
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


def _add_cost(a: float | None, b: float | None) -> float | None:
    """Sum of two costs where None is "unknown", not zero: unknown only when both are."""
    if a is None:
        return b
    return a if b is None else a + b


def _context(s: AgentSession) -> tuple[int, int | None, float | None]:
    """(prompt tokens of the last request, the model's context window, fill in percent).

    The prompt of a request is everything the model read: input plus cache
    reads plus cache writes. The window comes from genai-prices; unknown → None.
    """
    log = s.requests
    if not log:
        return (0, None, None)
    last = len(log) - 1
    c = log.counts_at(last)
    prompt = c[0] + c[2] + c[3]
    limit = context_window(log.model_at(last), s.agent_type)
    if limit is None or prompt <= 0:
        return (prompt, limit, None)
    return (prompt, limit, 100.0 * prompt / limit)


def _spark(logs: Sequence[RequestLog] | None, now_ms: int) -> tuple[int, ...]:
    """Tokens per minute over the last ``SPARK_MINUTES``; empty when there were none."""
    if not logs:
        return ()
    series = per_minute_series_many(logs, now_ms, SPARK_MINUTES)
    return tuple(series) if any(series) else ()


def _sum_series(many: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    acc = [0] * SPARK_MINUTES
    for series in many:
        for i, v in enumerate(series):
            acc[i] += v
    return tuple(acc) if any(acc) else ()


def _match_view(tree: AgentTree, m: SessionMatch | None, by_key: Mapping[str, AgentSession]) -> MatchView:
    """The display record of one agent tree and the match the library found for it (if any)."""
    key = session_key(m.agent_type.value, m.session_id) if m is not None else None
    s = by_key.get(key) if key else None
    return MatchView(
        root_pid=tree.root.pid,
        agent=tree.agent_type.value,
        session_key=key,
        session_id=m.session_id if m is not None else None,
        display_id=s.display_id if s else None,
        evidence=m.evidence.value if m is not None else None,
        confidence=m.confidence if m is not None else None,
        matched_pids=tree.pids,
    )


@dataclass(frozen=True, slots=True)
class _TreeCtx:
    """What every node of one agent tree is built from (passed down the recursion as one)."""

    procs: Mapping[int, ProcessInfo]
    kids: Mapping[int, list[int]]
    match: MatchView
    session: AgentSession | None
    probe: ProbeResult
    #: Every TCP port a process of the tree listens on, sorted (shown on the root).
    ports: tuple[int, ...]


def _build_node(pid: int, ctx: _TreeCtx, depth: int) -> ProcNode:
    """The node of ``pid`` with its subtree, cut below ``MAX_TREE_DEPTH`` levels.

    A cut is never silent: the deepest shown node gets one marker child that
    says how many processes lie below it.
    """
    p = ctx.procs[pid]
    m = ctx.match
    is_root = pid == m.root_pid
    key = f"{p.pid}:{p.create_time:.2f}"
    below = sorted(ctx.kids.get(pid, ()))
    children: tuple[ProcNode, ...]
    if not below:
        children = ()
    elif depth < MAX_TREE_DEPTH:
        children = tuple(_build_node(c, ctx, depth + 1) for c in below)
    else:
        children = (_deeper_marker(key, _count_below(pid, ctx.kids), m),)
    elapsed = ctx.probe.elapsed.get(pid)
    return ProcNode(
        key=key,
        pid=p.pid,
        name=one_line(p.name, 40) or "?",
        cpu_percent=p.cpu_percent,
        rss_bytes=p.rss,
        agent=m.agent if is_root else None,
        session_key=m.session_key,
        label=(
            _root_label(p, elapsed, ctx.probe.states.get(pid), m, ctx.session, ctx.ports)
            if is_root
            else _child_label(p, elapsed, ctx.probe.ports.get(pid, ()))
        ),
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


def fmt_mem(n: int) -> str:
    """Resident memory in one unit style for every row: ``0B``, ``512B``, ``4.0M``, ``171M``, ``1.2G``.

    Binary units with one letter; one decimal below 10 so small values keep a digit.
    """
    value = float(max(0, n))
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_elapsed(seconds: float | None) -> str:
    """Run time as ``M:SS``, ``H:MM:SS`` or ``Nd HHh`` (``-`` when unknown)."""
    if seconds is None:
        return "-"
    total = int(max(0.0, seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _ports(ports: Sequence[int]) -> str:
    return " ".join(f":{port}" for port in ports)


def _columns(p: ProcessInfo, elapsed: float | None, state: str, command: str) -> str:
    """One process row, aligned with ``PROCESS_HEADER``."""
    return (
        f"{p.pid:>{PID_WIDTH}} {fmt_pct(p.cpu_percent):>6} {fmt_mem(p.rss):>5} "
        f"{fmt_elapsed(elapsed):>9} {state:<7} {command}"
    )


def _root_label(
    p: ProcessInfo,
    elapsed: float | None,
    state: str | None,
    m: MatchView,
    s: AgentSession | None,
    tree_ports: Sequence[int] = (),
) -> str:
    """The agent's row: its agent name (``gemini``, not ``node``), ports, session and evidence."""
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
    name = one_line(m.agent, 20) or one_line(p.name, 40) or "?"
    ports = _ports(tree_ports)
    return _columns(p, elapsed, state or "", f"{name}{' ' + ports if ports else ''}  {what}")


def _short_cmd(argv: Sequence[str]) -> str:
    """argv with absolute paths cut to their basename: what the process runs, in a tree-width line."""
    return " ".join(os.path.basename(a) if a.startswith("/") else a for a in argv)


def _child_label(p: ProcessInfo, elapsed: float | None, ports_of: Sequence[int]) -> str:
    """A tool process's row: its command (bounded before it is shortened) and its ports."""
    cmd = one_line(_short_cmd(bounded_cmdline(p.cmdline)[0]), 60) or one_line(p.name, 40) or "?"
    ports = _ports(ports_of)
    return _columns(p, elapsed, "", f"{cmd}{'  ' + ports if ports else ''}")


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
