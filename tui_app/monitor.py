"""The monitor's background half: all file and /proc I/O, no Textual.

One :class:`Monitor` owns a :class:`~agent_session.SessionStore` and the
process matcher. Its :meth:`Monitor.collect` runs in the app's worker thread
and returns a frozen :class:`MonitorSnapshot`: display-ready rows and labels,
already formatted, so the UI thread only diffs and paints. Keeping this module
free of Textual also lets ``--once --json`` and the benchmark use it directly.
"""

from __future__ import annotations

import dataclasses
import heapq
import operator
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
    label_process,
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

    by_id: dict[tuple[AgentType, str], AgentSession] = {}
    seen: list[Sequence[AgentSession]] = [()]

    def probe(sessions: Sequence[AgentSession]) -> ProbeResult:
        snap = snapshotter.snapshot()
        if not any(label_process(p.name, p.exe, p.cmdline) for p in snap.processes):
            # No agent runs: nothing to match (matching indexes every session: 0.3 s at 50,000).
            growth.forget_except(())
            return ProbeResult(matches=SessionProcessMatches(matches=(), trees=(), now_ms=snap.taken_ms))
        result = match_live(matcher, sessions, homes, snap)
        now_ms = snap.taken_ms
        if not _same_objects(sessions, seen[0]):
            # Rebuilt only when the store handed out another list of sessions, not every second.
            by_id.clear()
            by_id.update(((s.agent_type, s.session_id), s) for s in sessions)
            seen[0] = sessions
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
    #: Sessions whose rows are not built yet (a huge history: the top rows come first).
    rows_pending: int = 0
    #: The window the Tokens and Cost columns and the totals show (``w``), and the rate window.
    window: TimeWindow | None = None
    rate_window_s: float = 300.0
    #: Raw sessions for ``--once --json`` (not used by the widgets).
    raw_sessions: tuple[AgentSession, ...] = field(default=(), compare=False, repr=False)
    #: The probe's answer, for the processes of ``--once --json``.
    raw_probe: ProbeResult = field(default_factory=ProbeResult, compare=False, repr=False)
    #: ``sessions`` differs from the rows of snapshot ``changed_from`` only at these places
    #: (None: rows came, went or moved; compare them). Lets the UI skip a 50,000-row diff.
    changed_rows: tuple[int, ...] | None = field(default=None, compare=False, repr=False)
    changed_from: int = field(default=-1, compare=False, repr=False)
    #: Where each row key is in ``sessions`` (None: not known, ``row`` searches).
    places: Mapping[str, int] | None = field(default=None, compare=False, repr=False)

    def row(self, key: str | None) -> SessionRow | None:
        if key is None:
            return None
        if self.places is not None:
            i = self.places.get(key)
            return self.sessions[i] if i is not None else None
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


# --------------------------------------------------------------------------- rows
#: AgentType → its value; ``Enum.value`` is a descriptor call, and it is asked 50,000 times.
_AGENT_VALUE: dict[AgentType, str] = {a: a.value for a in AgentType}

#: (tokens in the rate window, their cost, requests in it, tokens in the ``w`` window, their cost).
_Own = tuple[int, float | None, int, int, float | None]
_NO_RATE: tuple[int, float | None, int] = (0, None, 0)


@dataclass(slots=True, eq=False)
class _Entry:
    """What the row book knows about one session (one store snapshot object)."""

    s: AgentSession
    key: str
    agent: str
    #: Row key of the parent session (set whether or not the parent is present).
    parent: str | None
    last_ms: int
    own: _Own = (0, None, 0, 0, None)
    #: False until its numbers were first computed (a session first seen waits in ``_unpriced``).
    priced: bool = False
    #: The row's numbers (everything but its age text); None until first computed.
    facts: tuple[Any, ...] | None = None
    row: SessionRow | None = None
    #: Age text of ``row`` and the time (ms) it next changes.
    age: str = ""
    age_until: int = 0


def _age_until(ms: int | None, now_ms: int) -> int:
    """When ``fmt_ago_short(ms, now)`` next shows another text (epoch ms)."""
    if ms is None or ms <= 0:
        return 1 << 62
    delta = now_ms - ms
    if delta < 0:
        return ms + 1000  # in the future: "0s" until it is in the past, then seconds tick
    for unit, limit in ((1000, 60_000), (60_000, 3_600_000), (3_600_000, 86_400_000)):
        if delta < limit:
            return ms + (delta // unit + 1) * unit
    return ms + (delta // 86_400_000 + 1) * 86_400_000


def _same_objects(a: Sequence[object], b: Sequence[object]) -> bool:
    """True when ``a`` and ``b`` hold the same sessions in the same order, at C speed.

    Two lists compare item by item with an identity check first, so the usual
    answer (the store's new list of the very same objects) costs a pointer
    comparison per session; an object that is not the same is compared by
    value, and a session equal in every field is as good as the same one.
    """
    if len(a) != len(b):
        return False
    if type(a) is type(b) and isinstance(a, list | tuple):
        return a == b
    return all(map(operator.is_, a, b))


class _RowBook:
    """The sessions table's rows, kept from one collection to the next.

    Why: with 50,000 sessions, recomputing every row each second cost more
    than a core. The store hands out a new, immutable session object whenever
    a session changes, so an object seen before has the same numbers, except
    for what time moves: the rate window and the sparkline (only for sessions
    active within the longer of the two: the *hot* ones, recomputed every call),
    the ``w`` window when its start moves (only sessions active since then),
    and the age text (each row knows when its text next changes; a heap hands
    out the rows that are due). An idle call is then a pointer comparison of
    the session lists plus the few hot sessions.

    Sessions seen for the first time can be priced (numbers) and built
    (formatted rows) within a time budget, most burning first (the default
    order), so a first screen over a huge history does not wait for 50,000
    rows; ``pending`` says how many wait. Totals count priced sessions only.
    """

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.by_key: dict[str, AgentSession] = {}
        self._by_id: dict[int, _Entry] = {}
        self._list: Sequence[AgentSession] = ()
        self._kids: dict[str, list[str]] = {}
        self._hot: set[str] = set()
        self._heap: list[tuple[int, str]] = []
        #: Keys seen for the first time whose numbers are still to be computed, in the store's order.
        self._unpriced: list[str] = []
        #: Keys whose row was never built, most burning first (built from the front).
        self._unbuilt: list[str] = []
        self._rows: tuple[SessionRow, ...] = ()
        #: The rows before the last ``update``, and the places in ``_rows`` whose row it
        #: replaced (None: rows came or went).
        self.previous_rows: tuple[SessionRow, ...] = ()
        #: True when the last ``update`` was given another list of sessions than the one before.
        self.restructured = True
        self.changed: tuple[int, ...] | None = None
        #: ``_rows`` as a list, and each row's place in it (valid until rows come or go).
        self._row_list: list[SessionRow] = []
        self._place: dict[str, int] = {}
        self._live: frozenset[str] = frozenset()
        self._window: tuple[str, int | None] | None = None
        self._rate_window = 0.0
        #: True when ``_unbuilt`` got new keys and must be put in order again.
        self._resort = False
        #: Per-agent sums for the totals bar; recomputed when some row's numbers moved.
        self.sums: dict[str, tuple[int, int, int, float, float, float, tuple[int, ...]]] = {}

    @property
    def places(self) -> Mapping[str, int]:
        """Row key → index in the rows last returned (a new mapping whenever rows came or went)."""
        return self._place

    @property
    def pending(self) -> int:
        """Sessions without a row yet (first seen, not yet priced or not yet built)."""
        return len(self._unpriced) + len(self._unbuilt)

    def _price_new(
        self,
        mon: Monitor,
        rate: TimeWindow,
        window: TimeWindow,
        hot_from: int,
        affected: set[str],
        started: float,
        budget: float | None,
    ) -> None:
        """Compute the numbers of sessions seen for the first time, in the store's order.

        With a budget, about half of it goes here (the numbers of 50,000
        sessions take longer than a first screen may); the rest are priced by
        later calls, and count as pending until then.
        """
        until = None if budget is None else started + budget / 2
        done = 0
        for key in self._unpriced:
            done += 1
            e = self.entries.get(key)
            if e is None or e.priced:
                continue
            e.priced = True
            e.own = self._own(mon, e, rate, window)
            if e.last_ms > hot_from:
                self._hot.add(key)
            affected.add(key)
            self._unbuilt.append(key)
            if until is not None and done % 256 == 0 and time.perf_counter() >= until:
                break
        del self._unpriced[:done]
        self._resort = True

    def update(
        self,
        mon: Monitor,
        sessions: Sequence[AgentSession],
        live: frozenset[str],
        now: float,
        window: TimeWindow,
        budget: float | None,
    ) -> tuple[SessionRow, ...]:
        started = time.perf_counter()
        self.previous_rows = self._rows
        now_ms = int(now * 1000)
        rate = resolve_window("now", now, mon.rate_window)
        hot_from = now_ms - max(int(mon.rate_window * 1000), SPARK_MINUTES * 60_000) - 1000
        touched: set[str] = set()  # own numbers to recompute
        affected: set[str] = set()  # numbers to recompute (touched, their parents, …)
        structure = not _same_objects(sessions, self._list)
        self.restructured = structure
        # Equal but not the same objects: keep the new list, so the next look is pointer-fast.
        self._list = sessions
        if structure:
            self._restructure(sessions, touched, affected)
        if mon.rate_window != self._rate_window:
            self._rate_window = mon.rate_window
            touched.update(self.entries)
        sig = (window.name, window.start_ms)
        if self._window is None or sig[0] != self._window[0]:
            touched.update(self.entries)
        elif sig[1] != self._window[1] and window.name != "now":
            # The window's start moved (today at midnight, the week each minute, a new block):
            # only sessions active since the earlier start can see their sums change.
            lows = [v for v in (sig[1], self._window[1]) if v is not None]
            low = min(lows) if lows else 0
            touched.update(k for k, e in self.entries.items() if e.last_ms >= low)
        self._window = sig
        for key in list(self._hot):
            e = self.entries.get(key)
            if e is None or e.last_ms <= hot_from:
                self._hot.discard(key)
            if e is not None:
                touched.add(key)  # rates and sparklines move with the clock (one last time when cooling)
        if live != self._live:
            affected.update(live ^ self._live)
            self._live = live
        for key in touched:
            e = self.entries.get(key)
            if e is None or not e.priced:
                continue
            e.own = self._own(mon, e, rate, window)
            affected.add(key)
            if e.last_ms > hot_from:
                self._hot.add(key)
        if self._unpriced:
            self._price_new(mon, rate, window, hot_from, affected, started, budget)
        for key in list(affected):
            e = self.entries.get(key)
            if e is not None and e.parent is not None and e.parent in self.entries:
                affected.add(e.parent)
        moved = structure
        spark_from = now_ms - SPARK_MINUTES * 60_000
        dirty: list[_Entry] = []
        for key in affected:
            e = self.entries.get(key)
            if e is None or not e.priced:
                continue
            facts = self._facts(e, window, mon.rate_window / 60, key in live, spark_from, now_ms)
            if facts != e.facts:
                e.facts = facts
                moved = True
                if e.row is not None:
                    dirty.append(e)
        # Rows rebuilt in place (their position in the tuple stays), and whether rows came or went.
        replaced: list[_Entry] = []
        reshaped = structure
        for e in dirty:
            if self._build(mon, e, now, now_ms, force=True):
                replaced.append(e)
        while self._heap and self._heap[0][0] <= now_ms:
            _, key = heapq.heappop(self._heap)
            e = self.entries.get(key)
            due = e is not None and e.row is not None and e.age_until <= now_ms
            if due and e is not None and self._build(mon, e, now, now_ms, force=False):
                replaced.append(e)
        if len(self._heap) > 2 * len(self.entries) + 64:
            self._heap = [(e.age_until, k) for k, e in self.entries.items() if e.row is not None]
            heapq.heapify(self._heap)
        if self._resort:
            # Build the rows a first screen shows first: burning now, then the most tokens.
            self._unbuilt = [k for k in self._unbuilt if k in self.entries]
            self._unbuilt.sort(key=self._priority)
            self._resort = False
        if self._unbuilt:
            deadline = None if budget is None else started + budget
            built = 0
            for key in self._unbuilt:
                e = self.entries.get(key)
                if e is not None and e.row is None:
                    self._build(mon, e, now, now_ms, force=True)
                    reshaped = True
                built += 1
                if deadline is not None and built % 32 == 0 and time.perf_counter() >= deadline:
                    break
            del self._unbuilt[:built]
        self.changed = None if reshaped else ()
        if reshaped:
            shown = [e for e in self.entries.values() if e.row is not None]
            self._place = {e.key: i for i, e in enumerate(shown)}
            self._row_list = [e.row for e in shown if e.row is not None]
            self._rows = tuple(self._row_list)
        elif replaced:
            # An age ticked over, a session grew: the same rows in the same places, a few new.
            places: list[int] = []
            for e in replaced:
                if e.row is not None:
                    places.append(self._place[e.key])
                    self._row_list[places[-1]] = e.row
            self._rows = tuple(self._row_list)
            self.changed = tuple(sorted(set(places)))
        if moved:
            self._sum_agents()
        if len(mon._sums) > 4 * len(self.entries) + 64:
            mon._sums = {k: v for k, v in mon._sums.items() if k[0] in self.entries}
        return self._rows

    # ------------------------------------------------------------------ pieces
    def _restructure(self, sessions: Sequence[AgentSession], touched: set[str], affected: set[str]) -> None:
        """Take a new session list: reuse the entries of objects seen before, add the rest."""
        old = self.entries
        entries: dict[str, _Entry] = {}
        by_id: dict[int, _Entry] = {}
        by_key: dict[str, AgentSession] = {}
        new: list[str] = []
        for s in sessions:
            e = self._by_id.get(id(s))
            if e is None or e.s is not s:
                agent = _AGENT_VALUE[s.agent_type]
                key = f"{agent}:{s.session_id}"
                parent = f"{agent}:{s.parent_session_id}" if s.parent_session_id else None
                prev = old.get(key)
                e = _Entry(s, key, agent, parent, s.last_activity_ms or 0)
                if prev is not None and prev.priced:
                    # A session that changed: its numbers and row are redone in this call.
                    e.facts, e.row, e.priced = None, prev.row, True
                    prev.row = None
                    touched.add(key)
                else:
                    new.append(key)
            entries[e.key] = e
            by_id[id(s)] = e
            by_key[e.key] = s
        for key in old.keys() - entries.keys():
            parent = old[key].parent
            if parent is not None:
                affected.add(parent)
        kids: dict[str, list[str]] = {}
        for e in entries.values():
            if e.parent is not None and e.parent in entries:
                kids.setdefault(e.parent, []).append(e.key)
        self.entries, self._by_id, self.by_key, self._kids, self._list = (
            entries,
            by_id,
            by_key,
            kids,
            sessions,
        )
        if len(entries) < len(old):
            self._unpriced = [k for k in self._unpriced if k in entries]
        self._unpriced.extend(new)

    def _priority(self, key: str) -> tuple[bool, float, int]:
        """The default sort's key (``rate``): requests in the rate window first, fastest, then most tokens."""
        f = self.entries[key].facts
        return (True, 0.0, 0) if f is None else (not f[3], -f[1], -f[4])

    @staticmethod
    def _own(mon: Monitor, e: _Entry, rate: TimeWindow, window: TimeWindow) -> _Own:
        s = e.s
        r = mon._sum(s, e.key, "rate", rate.start_ms, rate.end_ms)
        if window.is_all:
            return (*r, s.usage.total_tokens, s.cost_usd)
        if window.name == "now":
            return (*r, r[0], r[1])
        w_tok, w_cost, _ = mon._sum(s, e.key, "win", window.start_ms, None)
        return (*r, w_tok, w_cost)

    def _facts(
        self, e: _Entry, window: TimeWindow, minutes: float, is_live: bool, spark_from: int, now_ms: int
    ) -> tuple[Any, ...]:
        """Own numbers plus the subagents' (rows show what a parent really burned)."""
        s = e.s
        r_tok, r_cost, r_n, w_tok, w_cost = e.own
        cost = s.cost_usd
        kids = self._kids.get(e.key, ())
        logs: list[RequestLog] = []
        if e.parent is None and e.last_ms > spark_from:
            logs.append(s.requests)
        for k in kids:
            c = self.entries[k]
            co = c.own
            r_tok += co[0]
            r_cost = _add_cost(r_cost, co[1])
            r_n += co[2]
            if not window.is_all:
                w_tok += co[3]
                w_cost = _add_cost(w_cost, co[4])
            cost = _add_cost(cost, c.s.cost_usd)
            if c.last_ms > spark_from:
                logs.append(c.s.requests)
        if window.is_all:
            w_tok, w_cost = s.usage.total_tokens + s.subagent_usage.total_tokens, cost
        return (
            is_live,
            r_tok / minutes,
            (r_cost * 60 / minutes) if r_cost is not None else None,
            r_n > 0,
            w_tok,
            w_cost,
            e.parent,
            len(kids),
            cost,
            _spark(logs, now_ms),
        )

    def _build(self, mon: Monitor, e: _Entry, now: float, now_ms: int, *, force: bool) -> bool:
        """(Re)build ``e``'s row when ``force``d (new numbers) or its age text changed; True if it did."""
        age = fmt_ago_short(e.s.last_activity_ms, now)
        until = _age_until(e.s.last_activity_ms, now_ms)
        if e.age_until != until:
            e.age_until = until
            heapq.heappush(self._heap, (until, e.key))
        if not force and e.row is not None and e.age == age:
            return False
        e.age = age
        f = e.facts
        assert f is not None
        e.row = mon._row(e.s, e.key, (f[0], age, *f[1:]))
        return True

    def _sum_agents(self) -> None:
        """Per agent: sessions, live sessions and the top rows' window tokens, cost, rates, sparklines."""
        acc: dict[str, list[Any]] = {a: [0, 0, 0, 0.0, 0.0, 0.0, [0] * SPARK_MINUTES] for a in AGENTS}
        entries = self.entries
        for e in entries.values():
            f = e.facts
            if f is None:
                continue
            a = acc[e.agent]
            a[0] += 1
            if f[0]:
                a[1] += 1
            if e.parent is None or e.parent not in entries:
                a[2] += f[4]
                a[3] += f[5] or 0.0
                a[4] += f[1]
                a[5] += f[2] or 0.0
                if f[9]:
                    spark = a[6]
                    for i, v in enumerate(f[9]):
                        spark[i] += v
        self.sums = {
            agent: (n, n_live, tok, cost, tpm, usd_h, tuple(sp) if any(sp) else ())
            for agent, (n, n_live, tok, cost, tpm, usd_h, sp) in acc.items()
        }


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
        row_budget: float | None = None,
    ) -> None:
        self.homes = homes
        self.user_home = str(user_home) if user_home is not None else os.path.expanduser("~")
        self.clock = clock
        # History (files not written in the last minutes) is summary-scanned: the rows need
        # no per-file parser, and an opened session is parsed in full by ``store.detail``.
        self.store = (
            store if store is not None else SessionStore(homes, cache=cache, watch=watch, summary_scan=True)
        )
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
        #: Seconds a collection may spend building rows never shown before (None: all of them):
        #: the first screen over 50,000 sessions shows the top rows, the rest follow.
        self.row_budget = row_budget
        #: True: the first collection leaves processes out (the app asks for the next one at once),
        #: so the first screen waits for the session rows only.
        self.defer_first_probe = False
        #: (summary, its detail) of the last detail loaded: an unchanged session is not re-read.
        self._detail_hit: tuple[AgentSession, AgentSession] | None = None
        self._book = _RowBook()
        #: (session list, minute) the 5-hour block's request times were gathered for, and them.
        self._block_cache: tuple[Sequence[AgentSession], int, list[int]] | None = None
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

    def collect(self, detail_key: str | None = None, *, probe: bool = True) -> MonitorSnapshot:
        """Refresh the store, snapshot and match processes, build display rows.

        ``probe=False`` leaves processes out (an empty process pane): the app's
        first screen does not wait for a look at the whole process table.
        """
        started = time.perf_counter()
        stats = self.store.refresh(budget=self.parse_budget)
        sessions = self.store.sessions()
        report = ProbeResult()
        if probe and not (self.defer_first_probe and self._last is None):
            try:
                report = self.probe(sessions)
            except Exception as exc:  # a /proc race or psutil quirk must not stop the monitor
                report = ProbeResult(error=f"{type(exc).__name__}: {exc}")
        now = self.clock()
        name = self.window if self.window in WINDOWS else "all"
        window = resolve_window(name, now, self.rate_window, self._block_times(sessions, now, name))
        book = self._book
        last_rows = self._last is not None and bool(self._last.sessions)
        # Matches need the sessions by key; the book keeps that map, so take the new list first.
        budget = self.row_budget
        if budget is not None and last_rows:
            budget *= 4  # behind a first screen, bigger batches: fewer re-sorts in the UI
        rows = self._rows(sessions, _live_keys(report), now, window, budget)
        by_key = book.by_key
        matches = self._matches(report, by_key)
        roots = self._tree(report, matches, by_key)
        totals = self._totals(report, matches)
        last = self._last
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
            rows_pending=book.pending,
            window=window,
            rate_window_s=self.rate_window,
            detail=self._detail(detail_key, by_key, now),
            raw_sessions=(
                last.raw_sessions if last is not None and not book.restructured else tuple(sessions)
            ),
            raw_probe=report,
            places=book.places,
            changed_rows=book.changed if last is not None and last.sessions is book.previous_rows else None,
            changed_from=last.seq if last is not None else -1,
        )
        snap = dataclasses.replace(snap, collect_seconds=time.perf_counter() - started)
        self._last = snap
        return snap

    def with_detail(self, detail_key: str | None) -> MonitorSnapshot:
        """The last snapshot with the detail of another session (selection changed)."""
        last = self._last
        if last is None:
            return self.collect(detail_key)
        by_key = self._book.by_key
        self._seq += 1
        snap = dataclasses.replace(
            last,
            seq=self._seq,
            detail=self._detail(detail_key, by_key, last.taken_at),
            changed_rows=(),
            changed_from=last.seq,
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
        minute = int(now // 60)
        hit = self._block_cache
        if hit is not None and hit[1] == minute and _same_objects(sessions, hit[0]):
            return hit[2]
        since = int((now - 86_400) * 1000)
        out: list[int] = []
        for s in sessions:
            if s.last_activity_ms is not None and s.last_activity_ms < since:
                continue
            out.extend(t for t in s.requests.timestamps() if t >= since)
        self._block_cache = (sessions, minute, out)
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
        live: Collection[str],
        now: float,
        window: TimeWindow | None = None,
        budget: float | None = None,
    ) -> tuple[SessionRow, ...]:
        """The display rows, brought up to date incrementally (see :class:`_RowBook`).

        ``budget``: seconds that building rows seen for the first time may take;
        the rest wait for later calls (``rows_pending``). None: build them all.
        """
        window = window if window is not None else resolve_window("all", now, self.rate_window)
        return self._book.update(self, sessions, frozenset(live), now, window, budget)

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

    def _totals(self, report: ProbeResult, matches: Sequence[MatchView]) -> tuple[AgentTotal, ...]:
        """The totals bar: the row book's per-agent sums plus what the probe found running.

        Subagent usage is already inside its parent's numbers, so only top rows
        are summed (a subagent whose parent file is missing counts on its own).
        """
        out: list[AgentTotal] = []
        for agent in AGENTS:
            n, n_live, tokens, cost, tpm, usd_h, spark = self._book.sums.get(
                agent, (0, 0, 0, 0.0, 0.0, 0.0, ())
            )
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
                    sessions=n,
                    live=sum(1 for m in matches if m.agent == agent),
                    tokens=tokens,
                    cost_usd=cost,
                    cpu_percent=round(cpu, 1),
                    live_sessions=n_live,
                    rate_tpm=tpm,
                    rate_usd_h=usd_h,
                    spark=spark,
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
        hit = self._detail_hit
        if hit is not None and hit[0] is summary:
            # The store hands out a new summary whenever the file changed: same summary, same events.
            s = hit[1]
        else:
            try:
                s = self.store.detail(summary)
            except (SessionLookupError, OSError, ValueError) as exc:
                return DetailView(key=key, session=None, fingerprint=(key, "error", str(exc)), error=str(exc))
            self._detail_hit = (summary, s)
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


def _live_keys(report: ProbeResult) -> frozenset[str]:
    """Row keys of the sessions a live agent tree writes (as the probe matched them)."""
    found = report.matches
    keys: set[str] = set()
    for tree in found.trees:
        m = found.match_for_pid(tree.root.pid)
        if m is not None:
            keys.add(session_key(m.agent_type.value, m.session_id))
    return frozenset(keys)


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
