"""The counting model behind ``agentsession serve``: exact, monotonic totals.

Why a model of its own: a Prometheus counter must never go down and must
never count the same request twice, but the numbers it is built from are
re-derived from files that can be truncated, rewritten or deleted at any
time. So every number is kept as a **high-water mark** per
``(agent, session_id, model, bucket)`` (tools: per ``(agent, session_id,
tool, status)``), and the exported totals are the sums of those marks:

* a session seen for the first time adds its whole history, once;
* a session that grows adds exactly the growth (``new - mark``);
* a session whose file shrinks, is rewritten with fewer requests, or
  vanishes adds nothing and takes nothing back: its mark stays;
* a rewritten file that grows past its old mark adds only the part above
  the mark, so a file copied back in place is never counted twice.

The price of that rule: a file truncated and then refilled with *different*
requests is under-counted until it passes its old mark. Counting twice or
going down would break ``increase()`` and ``rate()``; under-counting a rare
rewrite does not.

Tool calls are counted by outcome (``status``: ``ok``, ``fail``,
``observed``) and only once they have one: a call still waiting for its
result is in no series yet. Counting it as ``pending`` first would need the
``pending`` series to go down when the result arrives (a counter never
does) or would count the call twice; so ``agentsession_tool_calls_total``
summed over ``status`` is the finished calls, and a call whose result never
comes (an interrupted session) is never counted. A re-sent result that
changes a call's outcome raises the new status's mark and leaves the old
one where it was, the same rule as a rewritten file.

A restart re-reads the files, so the totals come back the same for every
session still on disk (history counted once, as at the first start). The
marks of sessions deleted meanwhile come back from the daemon's state file
(:class:`~agent_session.serve.daemon.MarksFile`, :meth:`CounterModel.
load_marks`); without it (``--state off``) a restart after a deletion lowers
the totals, which Prometheus reads as a counter reset.

Nothing here touches OpenTelemetry: the exporter reads :meth:`CounterModel.
counters`, :meth:`CounterModel.sessions_gauge` and :meth:`CounterModel.context_fill`
from its callbacks, and tests feed
plain :class:`SessionObservation` values.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..model import AgentSession
from ..pricing import CostAccumulator, context_window
from ..text import one_line

__all__ = [
    "MAX_MODEL_LABELS",
    "MAX_TOOL_LABELS",
    "OTHER_LABEL",
    "TOKEN_TYPES",
    "TOOL_STATUSES",
    "CounterModel",
    "ModelObservation",
    "SessionObservation",
    "context_window",
    "observe_session",
]

#: The four buckets that sum to ``total_tokens`` (reasoning is part of output, kept apart).
TOKEN_TYPES = ("input", "output", "cache_creation", "cache_read")
#: Distinct label values kept per agent before the rest are folded into ``OTHER_LABEL``:
#: names come from files, and an unbounded label set would swamp any time-series store.
MAX_MODEL_LABELS = 64
MAX_TOOL_LABELS = 128
OTHER_LABEL = "(other)"
#: Tool call outcomes that are counted (``ToolStatus`` values); ``pending`` is not one.
TOOL_STATUSES = ("ok", "fail", "observed")
#: Statuses every new (agent, tool) series starts at 0, so ``rate()`` sees the first failure.
_SEEDED_STATUSES = ("ok", "fail")
#: Longest label value (model, tool, session id); longer ones are cut.
MAX_LABEL_CHARS = 96

#: ``(agent, session_id)``
SessionKey = tuple[str, str]


@dataclass(frozen=True)
class ModelObservation:
    """What one session spent on one model, as the files say now."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    requests: int = 0
    cost_usd: float = 0.0

    def values(self) -> tuple[float, ...]:
        """In the order of ``_MODEL_BUCKETS``."""
        return (
            self.input_tokens,
            self.output_tokens,
            self.cache_creation_tokens,
            self.cache_read_tokens,
            self.reasoning_tokens,
            self.requests,
            self.cost_usd,
        )


_MODEL_BUCKETS = (*TOKEN_TYPES, "reasoning", "requests", "cost_usd")
#: Mark bucket of a tool call status (``tool.ok``…). Marks saved before statuses were
#: counted (bucket ``tool``) are not loaded: their series, without ``status``, are gone.
_TOOL_PREFIX = "tool."
_ALL_BUCKETS = frozenset((*_MODEL_BUCKETS, *(_TOOL_PREFIX + st for st in TOOL_STATUSES)))


@dataclass(frozen=True)
class SessionObservation:
    """One session's current numbers: the only input of :class:`CounterModel`."""

    agent: str
    session_id: str
    models: Mapping[str, ModelObservation] = field(default_factory=dict)
    #: Finished tool calls: tool name -> status (one of ``TOOL_STATUSES``) -> count.
    tools: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Input of the latest request over the model's context window (None: unknown).
    context_fill: float | None = None
    #: Model of the latest request (the one ``context_fill`` is about).
    last_model: str | None = None
    #: Subagent sessions count in the token counters, not in the sessions gauge.
    is_subagent: bool = False

    @property
    def key(self) -> SessionKey:
        return (self.agent, self.session_id)


def _label(value: str | None) -> str:
    """A label value from untrusted text: one line, no control sequences, bounded."""
    text = one_line(value, MAX_LABEL_CHARS) if value else None
    return text or "unknown"


class _Folding:
    """Keeps at most ``limit`` distinct label values per agent; later ones become ``OTHER_LABEL``.

    A value, once given a label, keeps it for the life of the process, so a
    series never changes its labels midway.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, set[str]] = {}

    def __call__(self, agent: str, value: str) -> str:
        seen = self._seen.setdefault(agent, set())
        if value in seen:
            return value
        if len(seen) >= self.limit:
            return OTHER_LABEL
        seen.add(value)
        return value


class CounterModel:
    """High-water marks per session and the label-set totals they sum to; thread-safe.

    ``per_session``: every counter also carries the session id (and live
    sessions get a context-fill gauge). Off by default: one series per
    session grows without bound over months of history.
    """

    def __init__(self, *, per_session: bool = False) -> None:
        self.per_session = per_session
        self._lock = threading.Lock()
        #: (agent, session_id, model, bucket) -> mark; tools: (agent, session_id, tool, "tool.<status>") -> mark.
        self._marks: dict[tuple[str, str, str, str], float] = {}
        #: counter name -> label tuple -> total (the sums of the marks).
        self._totals: dict[str, dict[tuple[str, ...], float]] = {
            "tokens": {},
            "reasoning_tokens": {},
            "requests": {},
            "cost_usd": {},
            "tool_calls": {},
        }
        self._seeded: set[tuple[str, ...]] = set()
        self._seeded_tools: set[tuple[str, ...]] = set()
        self._models = _Folding(MAX_MODEL_LABELS)
        self._tools = _Folding(MAX_TOOL_LABELS)
        self._live: dict[str, int] = {}
        self._idle: dict[str, int] = {}
        self._fill: dict[tuple[str, ...], float] = {}
        #: How many observations changed a mark (tests and the daemon's log line).
        self.updates = 0

    # ------------------------------------------------------------------ input
    def observe(self, sessions: Iterable[SessionObservation]) -> int:
        """Fold the current state of ``sessions`` into the marks; returns how many marks rose.

        ``sessions`` need not be all of them: a session left out (unchanged,
        or deleted) keeps its marks. The gauges are left alone (see
        :meth:`observe_all`).
        """
        rose = 0
        with self._lock:
            for obs in sessions:
                rose += self._observe_one(obs)
            self.updates += rose
        return rose

    def observe_all(self, sessions: Iterable[SessionObservation], live: Iterable[SessionKey]) -> int:
        """:meth:`observe` plus :meth:`set_state`: ``sessions`` is every session known now."""
        items = list(sessions)
        rose = self.observe(items)
        self.set_state(items, live)
        return rose

    def set_state(self, sessions: Iterable[SessionObservation], live: Iterable[SessionKey]) -> None:
        """Set the gauges from every session known now and the keys matched to live processes."""
        live_keys = set(live)
        live_by: dict[str, int] = {}
        idle_by: dict[str, int] = {}
        fill: dict[tuple[str, ...], float] = {}
        with self._lock:
            for obs in sessions:
                if obs.is_subagent:
                    continue
                if obs.key in live_keys:
                    live_by[obs.agent] = live_by.get(obs.agent, 0) + 1
                    if self.per_session and obs.context_fill is not None:
                        model = self._models(obs.agent, _label(obs.last_model))
                        fill[(obs.agent, model, _label(obs.session_id))] = obs.context_fill
                else:
                    idle_by[obs.agent] = idle_by.get(obs.agent, 0) + 1
            self._live, self._idle, self._fill = live_by, idle_by, fill

    def _observe_one(self, obs: SessionObservation) -> int:
        rose = 0
        for raw_model, m in obs.models.items():
            for bucket, value in zip(_MODEL_BUCKETS, m.values(), strict=True):
                # The mark is per raw model name: two names folded into one label keep two marks.
                rose += self._bump((obs.agent, obs.session_id, raw_model, bucket), value)
        for raw_tool, by_status in obs.tools.items():
            for status, n in by_status.items():
                if status in TOOL_STATUSES:
                    rose += self._bump((obs.agent, obs.session_id, raw_tool, _TOOL_PREFIX + status), n)
        return rose

    def _bump(self, key: tuple[str, str, str, str], value: float) -> int:
        """Raise one mark to ``value`` (if higher) and add the rise to its label set's total; 1 if it rose."""
        old = self._marks.get(key, 0)
        if not value > old:
            return 0
        self._marks[key] = value
        delta = value - old
        agent, session_id, name, bucket = key
        extra = (_label(session_id),) if self.per_session else ()
        if bucket.startswith(_TOOL_PREFIX):
            tool = self._tools(agent, _label(name))
            base = (agent, tool, *extra)
            if base not in self._seeded_tools:
                self._seeded_tools.add(base)
                for status in _SEEDED_STATUSES:
                    self._totals["tool_calls"].setdefault((agent, tool, status, *extra), 0)
            self._add("tool_calls", (agent, tool, bucket[len(_TOOL_PREFIX) :], *extra), delta)
            return 1
        model = self._models(agent, _label(name))
        base = (agent, model, *extra)
        if base not in self._seeded:
            self._seed(base)
        if bucket in TOKEN_TYPES:
            self._add("tokens", (agent, model, bucket, *extra), delta)
        elif bucket == "reasoning":
            self._add("reasoning_tokens", (agent, model, *extra), delta)
        else:
            self._add(bucket, (agent, model, *extra), delta)
        return 1

    # ---------------------------------------------------------- persistence
    def dump_marks(self) -> list[list[str | float]]:
        """Every mark as ``[agent, session_id, model or tool, bucket, value]`` (JSON-ready).

        A tool mark's bucket is ``tool.<status>`` (``tool.ok``, ``tool.fail``, ``tool.observed``).
        """
        with self._lock:
            return [[*key, value] for key, value in self._marks.items()]

    def load_marks(self, rows: Iterable[object]) -> int:
        """Raise marks from :meth:`dump_marks` rows (a saved state); returns how many were used.

        Rows come from a file, so each is checked (four strings and a finite
        number ≥ 0, a known bucket) and a bad one is skipped, never trusted.
        """
        used = 0
        with self._lock:
            for row in rows:
                if not isinstance(row, list) or len(row) != 5:
                    continue
                agent, sid, name, bucket, value = row
                if not all(isinstance(x, str) for x in (agent, sid, name, bucket)):
                    continue
                if (
                    bucket not in _ALL_BUCKETS
                    or isinstance(value, bool)
                    or not isinstance(value, int | float)
                ):
                    continue
                if not (0 <= value < 1e18):  # also refuses NaN
                    continue
                self._bump((agent, sid, name, bucket), value)
                used += 1
        return used

    def _seed(self, base: tuple[str, ...]) -> None:
        """Start every series of a new (agent, model) at 0.

        A series first seen with its value lets ``rate()`` miss that value (it
        needs two samples); seeding all buckets at once limits the miss to
        the request that brought the model in, not the first cache write or
        reasoning token of a model already in use.
        """
        self._seeded.add(base)
        agent, model, *extra = base
        for token_type in TOKEN_TYPES:
            self._totals["tokens"].setdefault((agent, model, token_type, *extra), 0)
        for name in ("reasoning_tokens", "requests", "cost_usd"):
            self._totals[name].setdefault(base, 0)

    def _add(self, name: str, labels: tuple[str, ...], delta: float) -> None:
        totals = self._totals[name]
        totals[labels] = totals.get(labels, 0) + delta

    # ----------------------------------------------------------------- output
    def counters(self, name: str) -> dict[tuple[str, ...], float]:
        """Totals of one counter by label tuple (see ``label_names``); a copy."""
        with self._lock:
            return dict(self._totals[name])

    def label_names(self, name: str) -> tuple[str, ...]:
        """Label names of a counter or gauge, in the order of its label tuples."""
        base = {
            "tokens": ("agent_type", "model", "token_type"),
            "reasoning_tokens": ("agent_type", "model"),
            "requests": ("agent_type", "model"),
            "cost_usd": ("agent_type", "model"),
            "tool_calls": ("agent_type", "tool", "status"),
            "sessions": ("agent_type", "state"),
            "context_fill_ratio": ("agent_type", "model", "session_id"),
        }[name]
        if self.per_session and name not in ("sessions", "context_fill_ratio"):
            return (*base, "session_id")
        return base

    def sessions_gauge(self) -> dict[tuple[str, ...], int]:
        """Sessions by (agent, state): ``live`` (matched to a running agent process) or ``idle``.

        Every agent that has sessions reports both states, so a series drops
        to 0 rather than vanishing when the last live session ends.
        """
        with self._lock:
            out: dict[tuple[str, ...], int] = {}
            for agent in sorted(set(self._live) | set(self._idle)):
                out[(agent, "live")] = self._live.get(agent, 0)
                out[(agent, "idle")] = self._idle.get(agent, 0)
            return out

    def context_fill(self) -> dict[tuple[str, ...], float]:
        """Context fill of live sessions by (agent, model, session_id); empty unless ``per_session``."""
        with self._lock:
            return dict(self._fill)

    def mark(self, agent: str, session_id: str, model: str, bucket: str) -> float:
        """One high-water mark (0 when never seen): for tests and debugging."""
        with self._lock:
            return self._marks.get((agent, session_id, model, bucket), 0)


# ------------------------------------------------------------ from sessions
def observe_session(s: AgentSession, *, with_context: bool = False) -> SessionObservation:
    """The numbers of one session summary, per model, from its request log.

    The log sums exactly to ``model_usage`` (see ``requests.py``) and also
    gives the request count and the cost per model (priced per request tier,
    as the CLI prices it). A model genai-prices does not know adds no cost.
    Sessions are counted without their subagents: those are sessions of
    their own and count once, on their own.
    """
    agent = s.agent_type.value
    per: dict[str, list[int]] = {}
    costs: dict[str, CostAccumulator] = {}
    for r in s.requests:
        row = per.get(r.model)
        if row is None:
            row = per[r.model] = [0, 0, 0, 0, 0, 0]
            costs[r.model] = CostAccumulator(s.agent_type)
        row[0] += r.input_tokens
        row[1] += r.output_tokens
        row[2] += r.cache_creation_tokens
        row[3] += r.cache_read_tokens
        row[4] += r.reasoning_tokens
        row[5] += 1
        costs[r.model].add(r.model, r.counts)
    models: dict[str, ModelObservation] = {}
    for model, row in per.items():
        cost, _unpriced = costs[model].result()
        models[model] = ModelObservation(
            input_tokens=row[0],
            output_tokens=row[1],
            cache_creation_tokens=row[2],
            cache_read_tokens=row[3],
            reasoning_tokens=row[4],
            requests=row[5],
            cost_usd=cost or 0.0,
        )
    fill: float | None = None
    last_model: str | None = None
    if with_context and len(s.requests):
        last = s.requests[len(s.requests) - 1]
        last_model = last.model
        window = context_window(last.model, s.agent_type)
        if window:
            fill = last.tier_input_tokens / window
    # Finished calls only (see the module docstring): a pending call joins its
    # status's series when its result arrives, so no series ever goes down.
    tools: dict[str, dict[str, int]] = {}
    for name, by_status in s.tool_status.items():
        done = {st: n for st, n in by_status.items() if st in TOOL_STATUSES and n > 0}
        if done:
            tools[name] = done
    return SessionObservation(
        agent=agent,
        session_id=s.session_id,
        models=models,
        tools=tools,
        context_fill=fill,
        last_model=last_model,
        is_subagent=s.is_subagent,
    )
