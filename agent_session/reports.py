"""Usage reports over many sessions: per day, ISO week, month, 5-hour block, project, model, tool.

Why a module of its own: the monitor answers "who burns tokens now", a report
answers "what did last week cost, and on what". Both read the same per-request
records (:class:`~agent_session.requests.RequestLog`), so a report never
re-reads a transcript, except the ``tools`` report, which needs the events.

Rules every report follows:

* **Requests are placed by their own time.** A session that runs across
  midnight puts its 23:58 request on one day and its 00:03 request on the
  next, in the report's time zone (``tz``; None means the machine's local
  zone). Requests without a time (``ts_ms == 0``) are in no day, week, month
  or block; the ``projects`` and ``models`` reports count them only when no
  ``since``/``until`` window is given (they have no period to fall in).
* **Each request counts once.** Subagent sessions have their own session and
  their own request log (``parent_session_id`` set); their parent's log does
  not hold their requests, so summing every session's log counts each request
  exactly once (``subagent_usage`` on the parent is a roll-up and is never
  added). Two files holding one session id are already reduced to one session
  by the store. Copies of the *same* request in two different sessions (a
  resumed transcript that repeats old messages) cannot be told apart: the
  request log keeps no message ids.
* **Cost is per request.** A row's cost is the requests it holds bucketed by
  ``(model, long-context tier)`` and priced by
  :class:`~agent_session.pricing.CostAccumulator` with each request's agent as
  the provider, i.e. exactly what :func:`~agent_session.pricing.price_requests`
  gives for the same requests. ``None`` when no request of the row has a known
  price; models without a price are listed in ``unpriced_models``. A totals
  row's cost (and a block's over its models) is the sum of its rows' costs,
  so each request is priced once.
* **Periods** are named ``2026-11-01`` (day), ``2026-W45`` (ISO week, Monday
  first), ``2026-11`` (month).
* **Blocks** follow ccusage 20.0.24 (checked against it): a block starts at
  the first request's time floored to the UTC hour and ends 5 h later; a
  request *later* than the end (a request exactly at the end still belongs
  to the block, as does one exactly 5 h after the previous request) starts
  a new block at its own hour floor. Blocks are built per agent (each
  vendor's plan limits are separate) and have no "gap" rows. The block that contains ``now`` is
  *active*: its burn rate is its tokens (and cost) since its first request
  divided by the time from that request to ``now`` (at least one minute), and
  its projection adds that rate over the minutes left until the block's end.
* **Projects** are the session's working directory (the IR records no git
  root, so the cwd is the project); the row lists the branches seen.
* **Tools** (needs each session's events, :func:`tool_report`): per tool
  name, calls, errors (status ``fail``), summed duration, and the *output*
  tokens of the request that issued the call, split evenly between the calls
  that request issued (so the column sums to at most the output total). The
  issuing request is, for Claude and Gemini, the last response recorded at or
  before the call (the call is a block of that response), for Codex the first
  response at or after it (Codex logs the token count after the calls of its
  response). The *input* that a tool result adds to the next request is not
  attributed: the IR records the next request's whole prompt, not the share
  of it that the result took, so any number would be an estimate.
  ``mcp__server__tool`` names are also summed per MCP server.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from .model import AgentSession, AgentType, TokenUsage, ToolEvent, ToolStatus
from .pricing import CostAccumulator

__all__ = [
    "BLOCK_HOURS",
    "REPORT_KINDS",
    "Report",
    "ReportKind",
    "ReportRow",
    "ToolEvents",
    "build_report",
    "mcp_server",
    "project_of",
    "tool_report",
]

ReportKind = Literal["daily", "weekly", "monthly", "blocks", "projects", "models", "tools"]
REPORT_KINDS: tuple[str, ...] = ("daily", "weekly", "monthly", "blocks", "projects", "models", "tools")
BLOCK_HOURS = 5
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
_UNKNOWN_PROJECT = "(unknown)"

#: What :func:`tool_report` needs of one session: its tool calls and its responses
#: as ``(ts_ms, output_tokens)``, both in file order and complete (not capped).
ToolEvents = tuple[Sequence[ToolEvent], Sequence[tuple[int | None, int]]]


@dataclass
class ReportRow:
    """One line of a report (or its totals): usage, cost and sessions of the requests it holds.

    ``agent_type``/``model`` are set when the row is one agent's / one model's
    (``--breakdown`` rows, the ``models`` report), else None. ``extra`` holds
    what only one report has (a block's end, a project's branches, a tool's
    calls); it is merged into the row's JSON object.
    """

    period: str
    agent_type: AgentType | None = None
    model: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float | None = None
    sessions: int = 0
    requests: int = 0
    models: list[str] = field(default_factory=list)
    unpriced_models: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "period": self.period,
            "agent_type": self.agent_type.value if self.agent_type is not None else None,
            "model": self.model,
            "usage": self.usage.model_dump(mode="json"),
            "cost_usd": self.cost_usd,
            "sessions": self.sessions,
            "requests": self.requests,
            "models": list(self.models),
            "unpriced_models": list(self.unpriced_models),
        }
        out.update(self.extra)
        return out


@dataclass
class Report:
    """A computed report: its rows in display order and one totals row over all of them."""

    kind: str
    rows: list[ReportRow]
    totals: ReportRow
    #: Per MCP server sums (``tools`` report only), rows like ``rows``.
    mcp_servers: list[ReportRow] = field(default_factory=list)
    #: Options the report was computed with, echoed in the JSON (tz name, window).
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "report": self.kind,
            **self.meta,
            "rows": [r.to_json() for r in self.rows],
            "totals": self.totals.to_json(),
        }
        if self.kind == "tools":
            out["mcp_servers"] = [r.to_json() for r in self.mcp_servers]
        return out


# ------------------------------------------------------------------ accumulation
class _Acc:
    """Running sums of one row: buckets, cost per agent (the agent picks the provider), sessions.

    A row that is a sum of other rows (the totals, a block over its models)
    is made with ``parts``: it prices nothing itself and its cost is the sum of
    its parts' costs, so each request goes through the pricer once.
    """

    __slots__ = ("costs", "counts", "models", "n", "parts", "sessions")

    def __init__(self, parts: list[_Acc] | None = None) -> None:
        self.counts = [0, 0, 0, 0, 0]
        self.costs: dict[AgentType, CostAccumulator] = {}
        self.sessions: set[tuple[AgentType, str]] = set()
        self.models: dict[str, None] = {}
        self.n = 0
        self.parts = parts

    def add(self, skey: tuple[AgentType, str], model: str, counts: tuple[int, int, int, int, int]) -> None:
        c = self.counts
        c[0] += counts[0]
        c[1] += counts[1]
        c[2] += counts[2]
        c[3] += counts[3]
        c[4] += counts[4]
        if self.parts is None:
            acc = self.costs.get(skey[0])
            if acc is None:
                acc = self.costs[skey[0]] = CostAccumulator(skey[0])
            acc.add(model, counts)
        self.sessions.add(skey)
        self.models[model] = None
        self.n += 1

    def cost(self) -> tuple[float | None, list[str]]:
        results = (
            [p.cost() for p in self.parts]
            if self.parts is not None
            else [a.result() for a in self.costs.values()]
        )
        total: float | None = None
        unpriced: list[str] = []
        for c, u in results:
            if c is not None:
                total = (total or 0.0) + c
            unpriced.extend(m for m in u if m not in unpriced)
        return total, unpriced

    def row(self, period: str, agent: AgentType | None = None, model: str | None = None) -> ReportRow:
        cost, unpriced = self.cost()
        c = self.counts
        return ReportRow(
            period=period,
            agent_type=agent,
            model=model,
            usage=TokenUsage.from_tuple((c[0], c[1], c[2], c[3], c[4])),
            cost_usd=cost,
            sessions=len(self.sessions),
            requests=self.n,
            models=list(self.models),
            unpriced_models=unpriced,
        )


# ------------------------------------------------------------------ helpers
def project_of(session: AgentSession) -> str:
    """The project a session belongs to: its working directory (the IR records no git root)."""
    return session.cwd or _UNKNOWN_PROJECT


def _charge(
    groups: dict[Any, _Acc],
    total: _Acc,
    gkey: Any,
    skey: tuple[AgentType, str],
    model: str,
    counts: tuple[int, int, int, int, int],
) -> None:
    """Add one request to its group (made on first use, and listed in the total's parts) and to the total."""
    acc = groups.get(gkey)
    if acc is None:
        acc = groups[gkey] = _Acc()
        assert total.parts is not None
        total.parts.append(acc)
    acc.add(skey, model, counts)
    total.add(skey, model, counts)


def mcp_server(tool_name: str) -> str | None:
    """``github`` for ``mcp__github__create_issue``; None for a tool that is not an MCP one."""
    if not tool_name.startswith("mcp__"):
        return None
    server, sep, _tool = tool_name[5:].partition("__")
    return server if sep and server else None


def _local(ts_ms: int, tz: tzinfo | None) -> datetime:
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return dt.astimezone(tz) if tz is not None else dt.astimezone()


def _period_key(kind: str, tz: tzinfo | None) -> Callable[[int], str]:
    if kind == "daily":
        return lambda t: _local(t, tz).date().isoformat()
    if kind == "weekly":

        def week(t: int) -> str:
            y, w, _ = _local(t, tz).isocalendar()
            return f"{y:04d}-W{w:02d}"

        return week
    if kind == "monthly":
        return lambda t: _local(t, tz).strftime("%Y-%m")
    raise ValueError(f"not a period report: {kind!r}")


def _in_window(ts: int, since_ms: int | None, until_ms: int | None) -> bool:
    """Whether a request time is in ``[since, until)``; an untimed request only when there is no window."""
    if since_ms is None and until_ms is None:
        return True
    if ts <= 0:
        return False
    return (since_ms is None or ts >= since_ms) and (until_ms is None or ts < until_ms)


def _rows_from(
    groups: dict[tuple[str, AgentType | None, str | None], _Acc],
    order: Callable[[tuple[str, AgentType | None, str | None], _Acc], Any],
) -> list[ReportRow]:
    keys = sorted(groups, key=lambda k: order(k, groups[k]))
    return [groups[k].row(k[0], k[1], k[2]) for k in keys]


def _by_tokens_desc(key: tuple[str, AgentType | None, str | None], acc: _Acc) -> Any:
    return (-(sum(acc.counts[:4])), key[0], key[1].value if key[1] else "", key[2] or "")


def _by_period(key: tuple[str, AgentType | None, str | None], acc: _Acc) -> Any:
    del acc
    return (key[0], key[1].value if key[1] else "", key[2] or "")


# ------------------------------------------------------------------ reports
def build_report(
    kind: str,
    sessions: Iterable[AgentSession],
    *,
    tz: tzinfo | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    breakdown: bool = False,
    now_ms: int | None = None,
) -> Report:
    """The ``daily``/``weekly``/``monthly``/``blocks``/``projects``/``models`` report of ``sessions``.

    ``sessions`` are already filtered by agent and project; ``since_ms`` and
    ``until_ms`` select *requests* by their own time (``[since, until)``).
    ``breakdown`` splits each row per agent and model. ``now_ms`` decides the
    active block (default: the clock). The ``tools`` report needs events: see
    :func:`tool_report`.
    """
    sessions = list(sessions)
    if kind in ("daily", "weekly", "monthly"):
        return _period_report(kind, sessions, tz, since_ms, until_ms, breakdown)
    if kind == "blocks":
        now = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
        return _blocks_report(sessions, tz, since_ms, until_ms, breakdown, now)
    if kind == "projects":
        return _projects_report(sessions, since_ms, until_ms, breakdown)
    if kind == "models":
        return _models_report(sessions, since_ms, until_ms)
    raise ValueError(f"unknown report {kind!r} (tools: use tool_report)")


def _period_report(
    kind: str,
    sessions: list[AgentSession],
    tz: tzinfo | None,
    since_ms: int | None,
    until_ms: int | None,
    breakdown: bool,
) -> Report:
    key_of = _period_key(kind, tz)
    groups: dict[tuple[str, AgentType | None, str | None], _Acc] = {}
    total = _Acc(parts=[])
    # Many requests share a day: convert each distinct hour once, not every request.
    hour_cache: dict[int, str] = {}
    for s in sessions:
        skey = (s.agent_type, s.session_id)
        for r in s.requests:
            t = r.ts_ms
            if t <= 0 or not _in_window(t, since_ms, until_ms):
                continue
            hour = t // _HOUR_MS
            period = hour_cache.get(hour)
            if period is None:
                # Zone offsets are whole quarter hours, so one hour can straddle a boundary
                # only in zones with :30/:45 offsets: those get converted per request.
                period = key_of(t)
                if key_of(hour * _HOUR_MS) == key_of(hour * _HOUR_MS + _HOUR_MS - 1):
                    hour_cache[hour] = period
            gkey = (period, s.agent_type, r.model) if breakdown else (period, None, None)
            _charge(groups, total, gkey, skey, r.model, r.counts)
    return Report(kind, _rows_from(groups, _by_period), total.row("total"))


def _projects_report(
    sessions: list[AgentSession], since_ms: int | None, until_ms: int | None, breakdown: bool
) -> Report:
    groups: dict[tuple[str, AgentType | None, str | None], _Acc] = {}
    total = _Acc(parts=[])
    branches: dict[str, set[str]] = {}
    for s in sessions:
        project = project_of(s)
        skey = (s.agent_type, s.session_id)
        used = False
        for r in s.requests:
            if not _in_window(r.ts_ms, since_ms, until_ms):
                continue
            gkey = (project, s.agent_type, r.model) if breakdown else (project, None, None)
            _charge(groups, total, gkey, skey, r.model, r.counts)
            used = True
        if used:
            seen = branches.setdefault(project, set())
            if s.git_branch:
                seen.add(s.git_branch)
    rows = _rows_from(groups, _by_project)
    for row in rows:
        row.extra["branches"] = sorted(branches.get(row.period, ()))
    return Report("projects", rows, total.row("total"))


def _by_project(key: tuple[str, AgentType | None, str | None], acc: _Acc) -> Any:
    del acc
    return (key[0], key[1].value if key[1] else "", key[2] or "")


def _models_report(sessions: list[AgentSession], since_ms: int | None, until_ms: int | None) -> Report:
    groups: dict[tuple[str, AgentType | None, str | None], _Acc] = {}
    total = _Acc(parts=[])
    for s in sessions:
        skey = (s.agent_type, s.session_id)
        for r in s.requests:
            if not _in_window(r.ts_ms, since_ms, until_ms):
                continue
            gkey = (r.model, s.agent_type, r.model)
            _charge(groups, total, gkey, skey, r.model, r.counts)
    return Report("models", _rows_from(groups, _by_tokens_desc), total.row("total"))


# ------------------------------------------------------------------ blocks
@dataclass
class _Block:
    agent: AgentType
    start: int
    first: int
    last: int
    total: _Acc = field(default_factory=lambda: _Acc(parts=[]))
    by_model: dict[str, _Acc] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.start + BLOCK_HOURS * _HOUR_MS


def _blocks_report(
    sessions: list[AgentSession],
    tz: tzinfo | None,
    since_ms: int | None,
    until_ms: int | None,
    breakdown: bool,
    now_ms: int,
) -> Report:
    span = BLOCK_HOURS * _HOUR_MS
    per_agent: dict[
        AgentType, list[tuple[int, tuple[AgentType, str], str, tuple[int, int, int, int, int]]]
    ] = {}
    for s in sessions:
        skey = (s.agent_type, s.session_id)
        bucket = per_agent.setdefault(s.agent_type, [])
        for r in s.requests:
            if r.ts_ms > 0 and _in_window(r.ts_ms, since_ms, until_ms):
                bucket.append((r.ts_ms, skey, r.model, r.counts))
    blocks: list[_Block] = []
    total = _Acc(parts=[])
    for agent, reqs in per_agent.items():
        reqs.sort(key=lambda x: x[0])
        cur: _Block | None = None
        for t, skey, model, counts in reqs:
            # ccusage's rule: more than 5 h after the block's start, or more than 5 h after the
            # previous request (implied by the first, as that request is inside the block).
            if cur is None or t > cur.end or t - cur.last > span:
                cur = _Block(agent, t // _HOUR_MS * _HOUR_MS, t, t)
                blocks.append(cur)
            cur.last = t
            cur.total.add(skey, model, counts)
            total.add(skey, model, counts)
            m = cur.by_model.get(model)
            if m is None:
                m = cur.by_model[model] = _Acc()
                assert cur.total.parts is not None and total.parts is not None
                cur.total.parts.append(m)
                total.parts.append(m)
            m.add(skey, model, counts)
    blocks.sort(key=lambda b: (b.start, b.agent.value))
    rows: list[ReportRow] = []
    for b in blocks:
        extra = _block_extra(b, tz, now_ms)
        label = _local(b.start, tz).isoformat(timespec="minutes")
        if breakdown:
            for model, acc in sorted(b.by_model.items()):
                row = acc.row(label, b.agent, model)
                row.extra.update(extra)
                rows.append(row)
        else:
            row = b.total.row(label, b.agent)
            row.extra.update(extra)
            rows.append(row)
    return Report("blocks", rows, total.row("total"))


def _block_extra(b: _Block, tz: tzinfo | None, now_ms: int) -> dict[str, Any]:
    """A block's times, and for the active block its burn rate and projection (see the module doc)."""
    iso = lambda t: _local(t, tz).isoformat(timespec="seconds")  # noqa: E731
    active = b.start <= now_ms < b.end
    out: dict[str, Any] = {
        "start": iso(b.start),
        "end": iso(b.end),
        "first_request": iso(b.first),
        "last_request": iso(b.last),
        "active": active,
    }
    if active:
        minutes = max(now_ms - b.first, _MINUTE_MS) / _MINUTE_MS
        c = b.total.counts
        tokens = c[0] + c[1] + c[2] + c[3]
        cost, _ = b.total.cost()
        remaining = (b.end - now_ms) / _MINUTE_MS
        rate = tokens / minutes
        out["burn_tokens_per_minute"] = rate
        out["burn_usd_per_hour"] = cost / minutes * 60 if cost is not None else None
        out["remaining_minutes"] = remaining
        out["projected_total_tokens"] = round(tokens + rate * remaining)
        out["projected_cost_usd"] = cost + cost / minutes * remaining if cost is not None else None
    return out


# ------------------------------------------------------------------ tools
def tool_report(
    items: Iterable[tuple[AgentSession, ToolEvents]],
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> Report:
    """Per tool: calls, errors, duration and the output tokens of the issuing requests (module doc).

    ``items`` pairs each session with its complete tool calls and responses
    (``(ts_ms, output_tokens)``); calls are selected by their own time.
    """
    calls: dict[str, list[int]] = {}  # name -> [calls, errors, duration_ms, output_tokens]
    sessions_of: dict[str, set[tuple[AgentType, str]]] = {}
    for session, (tools, responses) in items:
        skey = (session.agent_type, session.session_id)
        issuer = _issuers(session.agent_type, tools, responses)
        shares: dict[int, int] = {}
        for ri in issuer:
            if ri is not None:
                shares[ri] = shares.get(ri, 0) + 1
        seen_share: dict[int, int] = {}
        for ev, ri in zip(tools, issuer, strict=True):
            out_tokens = 0
            if ri is not None:
                # An even split, the remainder to the first calls: the column adds up exactly.
                k = seen_share.get(ri, 0)
                seen_share[ri] = k + 1
                q, rem = divmod(responses[ri][1], shares[ri])
                out_tokens = q + (1 if k < rem else 0)
            if not _in_window(ev.ts_ms or 0, since_ms, until_ms):
                continue
            row = calls.setdefault(ev.tool_name, [0, 0, 0, 0])
            row[0] += 1
            row[1] += ev.status == ToolStatus.FAIL
            row[2] += ev.duration_ms or 0
            row[3] += out_tokens
            sessions_of.setdefault(ev.tool_name, set()).add(skey)

    def make(name: str, v: list[int], sess: set[tuple[AgentType, str]]) -> ReportRow:
        return ReportRow(
            period=name,
            usage=TokenUsage(output_tokens=v[3]),
            sessions=len(sess),
            extra={
                "calls": v[0],
                "errors": v[1],
                "duration_ms": v[2],
                "output_tokens": v[3],
                "mcp_server": mcp_server(name),
            },
        )

    names = sorted(calls, key=lambda n: (-calls[n][0], n))
    rows = [make(n, calls[n], sessions_of[n]) for n in names]
    servers: dict[str, tuple[list[int], set[tuple[AgentType, str]]]] = {}
    for n in names:
        server = mcp_server(n)
        if server is None:
            continue
        sums, sess = servers.setdefault(server, ([0, 0, 0, 0], set()))
        for i in range(4):
            sums[i] += calls[n][i]
        sess |= sessions_of[n]
    mcp_rows = [make(f"mcp__{srv}", v, s) for srv, (v, s) in sorted(servers.items())]
    for r in mcp_rows:
        r.extra["mcp_server"] = r.period[5:]
    all_sums = [sum(v[i] for v in calls.values()) for i in range(4)]
    all_sessions: set[tuple[AgentType, str]] = set().union(*sessions_of.values()) if sessions_of else set()
    totals = make("total", all_sums, all_sessions)
    totals.extra["mcp_server"] = None
    return Report("tools", rows, totals, mcp_servers=mcp_rows)


def _issuers(
    agent: AgentType, tools: Sequence[ToolEvent], responses: Sequence[tuple[int | None, int]]
) -> list[int | None]:
    """Index (into ``responses``) of the request that issued each call, or None when unknown."""
    timed = sorted((t, i) for i, (t, _) in enumerate(responses) if t is not None)
    times = [t for t, _ in timed]
    out: list[int | None] = []
    for ev in tools:
        t = ev.ts_ms
        if t is None or not timed:
            out.append(None)
            continue
        # Codex: the first response at or after the call; the others: the last at or before it.
        j = bisect_left(times, t) if agent == AgentType.CODEX else bisect_right(times, t) - 1
        out.append(timed[j][1] if 0 <= j < len(timed) else None)
    return out
