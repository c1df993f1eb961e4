"""A typed stream of what happens in agent sessions: ``agentsession watch``, as a library.

Why a diff of store states and not a tail of files: the store already follows
every session file incrementally, with the file watcher, the summary cache and
the per-agent parsers; comparing two of its states is all it takes to say
"a prompt was typed", "a request was billed", "a tool call started or
finished", whatever the agent's file format. :class:`EventStream` keeps, per
session, a handful of counters (requests, prompts, tool calls seen, the tool
calls still running) and turns each change into typed events:

``session_started``  a session not seen before (a new file, or one that
                     appeared under a filter)
``prompt``           a prompt the user typed
``request``          one model request with its token usage (one record of the
                     session's :class:`~agent_session.requests.RequestLog`)
``tool_started``     a tool call was issued
``tool_finished``    its result came back (any status but ``pending``)
``session_updated``  the session's summary changed (tokens, cost, counts or
                     last activity): at most one per session per poll, after
                     the events that caused it
``process_started``  a live agent process tree appeared
``process_ended``    it went away

Costs stay bounded: request events come from the summaries' request logs,
which every session carries anyway; prompts and tool calls need a session's
*detail*, which is read only for sessions whose summary changed since the
previous poll (the store keeps a few details parsed, least recently used
first out). The first poll records a baseline and emits nothing, so only new
events are reported, unless ``from_start`` replays every session's history
(requests complete; prompts and tool calls as far as the detail keeps them,
the newest ``sources.base.MAX_*`` per session).

Every event is a pydantic model with ``schema_version`` 1; the JSON Schema of
one line is :data:`WATCH_EVENT_ADAPTER` ``.json_schema()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .errors import AgentSessionError
from .model import AgentSession, AgentType, TokenUsage, ToolCategory, ToolEvent, ToolStatus
from .text import dump_json, inert_json, one_line

if TYPE_CHECKING:
    from .process import ProcessSnapshot
    from .store import SessionStore

__all__ = [
    "EVENT_NAMES",
    "SCHEMA_VERSION",
    "WATCH_EVENT_ADAPTER",
    "EventStream",
    "ProcessEnded",
    "ProcessStarted",
    "PromptEvent",
    "RequestEvent",
    "SessionStarted",
    "SessionUpdated",
    "ToolFinished",
    "ToolStarted",
    "WatchEvent",
    "event_json",
    "find_sessions",
    "session_matches",
]

#: Bumped when a field changes meaning or is removed (adding a field does not bump it).
SCHEMA_VERSION = 1
#: Longest prompt text an event carries (characters, on one line); the session file has the rest.
MAX_PROMPT_CHARS = 2000
#: Longest tool command an event carries.
MAX_COMMAND_CHARS = 500
#: At the baseline, sessions active this recently have their detail read, so a tool
#: call already running when the watch starts still gets its ``tool_finished``.
ACTIVE_WINDOW_MS = 15 * 60_000
#: …at most this many of them (the most recent): the baseline stays cheap on a big history.
MAX_BASELINE_DETAILS = 16

EventName = Literal[
    "session_started",
    "prompt",
    "request",
    "tool_started",
    "tool_finished",
    "session_updated",
    "process_started",
    "process_ended",
]
EVENT_NAMES: tuple[str, ...] = EventName.__args__  # type: ignore[attr-defined]


# ------------------------------------------------------------------ event models
class _Event(BaseModel):
    """Fields every event line starts with, in this order."""

    # Every field is in every line (null when unknown): the schema says so.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)

    schema_version: Literal[1] = Field(default=1, description="Version of this line's shape.")
    event: str = Field(description="What happened; decides the other fields.")
    ts: int = Field(
        description="When it happened, epoch milliseconds: the time the session file records, "
        "else when it was observed."
    )
    session: str | None = Field(description="Full native session id (null: a process with no session).")
    agent: AgentType | None = Field(description="claude, codex or gemini.")
    display_id: str | None = Field(description="Short id as `agentsession list` prints it.")


class _SessionEvent(_Event):
    session: str = Field(description="Full native session id.")
    agent: AgentType = Field(description="claude, codex or gemini.")
    display_id: str = Field(description="Short id as `agentsession list` prints it.")


class SessionStarted(_SessionEvent):
    event: Literal["session_started"] = "session_started"
    path: str
    cwd: str | None = None
    model: str | None = None
    parent_session: str | None = Field(default=None, description="The parent's id, for a subagent.")


class PromptEvent(_SessionEvent):
    event: Literal["prompt"] = "prompt"
    index: int = Field(description="Position among all the session's prompts, from 0.")
    text: str = Field(
        description=f"The prompt on one line, control characters removed, at most {MAX_PROMPT_CHARS}."
    )
    command: str | None = Field(default=None, description="The slash command, when one was typed.")


class RequestEvent(_SessionEvent):
    event: Literal["request"] = "request"
    index: int = Field(description="Position among all the session's requests, from 0.")
    model: str
    usage: TokenUsage


class ToolStarted(_SessionEvent):
    event: Literal["tool_started"] = "tool_started"
    index: int = Field(description="Position among all the session's tool calls, from 0.")
    call_id: str | None = None
    tool: str
    category: ToolCategory
    command: str | None = Field(default=None, description="One-line projection of the input.")


class ToolFinished(_SessionEvent):
    event: Literal["tool_finished"] = "tool_finished"
    index: int = Field(description="Same index as the call's tool_started.")
    call_id: str | None = None
    tool: str
    status: ToolStatus
    exit_code: int | None = None
    duration_ms: int | None = None


class SessionUpdated(_SessionEvent):
    event: Literal["session_updated"] = "session_updated"
    model: str | None = None
    usage: TokenUsage
    cost_usd: float | None = Field(description="null when a model has no known price.")
    request_count: int
    prompt_count: int
    tool_count: int
    last_activity_ms: int | None = None


class ProcessStarted(_Event):
    event: Literal["process_started"] = "process_started"
    pid: int = Field(description="The agent's root process.")
    pids: list[int] = Field(description="The root and its tool children.")
    evidence: str | None = Field(default=None, description="How the session was tied to it (null: none).")


class ProcessEnded(_Event):
    event: Literal["process_ended"] = "process_ended"
    pid: int


WatchEvent = Annotated[
    SessionStarted
    | PromptEvent
    | RequestEvent
    | ToolStarted
    | ToolFinished
    | SessionUpdated
    | ProcessStarted
    | ProcessEnded,
    Field(discriminator="event"),
]
#: Validates and describes one line of ``agentsession watch``.
WATCH_EVENT_ADAPTER: TypeAdapter[WatchEvent] = TypeAdapter(WatchEvent)


def event_json(event: _Event) -> bytes:
    """One NDJSON line, inert on a terminal (see :func:`agent_session.text.inert_json`)."""
    try:
        return inert_json(event.__pydantic_serializer__.to_json(event) + b"\n")
    except ValueError:  # lone surrogates from an undecodable file name: dump_json replaces them
        return dump_json(event.model_dump(mode="json"), compact=True)


# ------------------------------------------------------------------ id matching
def session_matches(session: AgentSession, query: str) -> bool:
    """Does ``query`` name ``session``? The one rule for ``show ID`` and ``watch --session ID``.

    Accepted, with an optional ``agent:`` prefix: the full id or any prefix of
    it; the display id or any prefix of it (``01a20c.4cb``); either part of the
    display id, the last part matching the end of the full id (``4cb6b``) —
    Codex ids share their leading time, so the end is what tells them apart.
    """
    agent, sep, bare = query.partition(":")
    if sep and agent in _AGENTS:
        if session.agent_type.value != agent:
            return False
    else:
        bare = query
    if not bare:
        return False
    sid = session.session_id
    if sid.startswith(bare) or sid.endswith(bare):
        return True
    short = session.display_id.partition(":")[2]
    if short.startswith(bare):
        return True
    head, dot, tail = bare.partition(".")
    return bool(dot and head and tail and sid.startswith(head) and sid.endswith(tail))


_AGENTS = frozenset(a.value for a in AgentType)


def find_sessions(sessions: Iterable[AgentSession], query: str) -> list[AgentSession]:
    """The sessions ``query`` names: an exact id or display id wins over prefixes and parts."""
    pool = list(sessions)
    exact = [s for s in pool if query in (s.session_id, s.display_id)]
    if exact:
        return exact
    return [s for s in pool if session_matches(s, query)]


# ------------------------------------------------------------------ the stream
_Key = tuple[AgentType, str]


@dataclass
class _Seen:
    """What was already reported for one session."""

    requests: int
    prompts: int
    tools: int
    fingerprint: tuple[object, ...] | None
    #: How much of the file the summary has read: a tool result changes no total, only this.
    progress: tuple[int, int]
    #: False until the session's detail was read once: which old calls are still running is unknown.
    detailed: bool
    #: Positions of tool calls reported (or found) running, waiting for their result.
    open_tools: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _Proc:
    agent: AgentType
    pid: int
    pids: tuple[int, ...]
    session: AgentSession | None
    evidence: str | None


def _tool_count(s: AgentSession) -> int:
    return sum(s.tools.values())


def _progress(s: AgentSession) -> tuple[int, int]:
    return (s.diagnostics.bytes_consumed, s.diagnostics.lines_read)


def _fingerprint(s: AgentSession) -> tuple[object, ...]:
    return (
        s.usage.as_tuple(),
        s.cost_usd,
        s.model,
        len(s.requests),
        s.prompt_count,
        _tool_count(s),
        s.last_activity_ms,
        s.path,
    )


class EventStream:
    """Successive states of a :class:`~agent_session.store.SessionStore` (and of the process table) as events.

    ``poll()`` refreshes the store once and returns the events since the
    previous poll; ``follow()`` polls until stopped, woken by a file change
    or every ``interval`` seconds. ``agents``, ``session`` (an id as
    :func:`session_matches` reads it) and ``events`` (names from
    :data:`EVENT_NAMES`) filter. ``snapshot``: a function returning a
    :class:`~agent_session.process.ProcessSnapshot`; without it there are no
    process events (tests hand in snapshots of their own processes).
    ``clock`` returns epoch seconds (the time of events that carry none).
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        agents: Collection[AgentType] | None = None,
        session: str | None = None,
        events: Collection[str] | None = None,
        from_start: bool = False,
        snapshot: Callable[[], ProcessSnapshot] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unknown = sorted(set(events or ()) - set(EVENT_NAMES))
        if unknown:
            raise AgentSessionError(
                f"unknown event name(s): {', '.join(unknown)} (known: {', '.join(EVENT_NAMES)})"
            )
        self.store = store
        self.agents = frozenset(agents) if agents else None
        self.session_query = session
        self.events = frozenset(events) if events else frozenset(EVENT_NAMES)
        self.from_start = from_start
        self.snapshot = snapshot
        self.clock = clock
        self._seen: dict[_Key, _Seen] = {}
        self._procs: dict[tuple[int, float], _Proc] = {}
        self._primed = False
        self._want_detail = bool(self.events & {"prompt", "tool_started", "tool_finished"})
        self._want_procs = snapshot is not None and bool(self.events & {"process_started", "process_ended"})

    # -------------------------------------------------------------- polling
    def poll(self) -> list[_Event]:
        """Refresh once; the events since the previous call (none on the first, unless ``from_start``)."""
        self.store.refresh()
        now_ms = int(self.clock() * 1000)
        emit = self._primed or self.from_start
        sessions = [s for s in self.store.sessions() if self._selected(s)]
        if emit:
            # A replay reads oldest first, as the history happened.
            sessions.sort(key=lambda s: (s.start_timestamp_ms or s.last_activity_ms or 0, s.session_id))
        out: list[_Event] = []
        present: set[_Key] = set()
        for s in sessions:
            key = (s.agent_type, s.session_id)
            present.add(key)
            out.extend(self._session_events(s, key, emit, now_ms))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        if not emit and self._want_detail:
            self._adopt_running_tools(sessions, now_ms)
        if self._want_procs:
            out.extend(self._process_events(emit, sessions))
        self._primed = True
        return [e for e in out if e.event in self.events]

    def _selected(self, s: AgentSession) -> bool:
        if self.agents is not None and s.agent_type not in self.agents:
            return False
        return self.session_query is None or session_matches(s, self.session_query)

    def _session_events(self, s: AgentSession, key: _Key, emit: bool, now_ms: int) -> list[_Event]:
        seen = self._seen.get(key)
        fp = _fingerprint(s)
        if seen is None:
            if not emit:
                self._seen[key] = _Seen(
                    len(s.requests), s.prompt_count, _tool_count(s), fp, _progress(s), detailed=False
                )
                return []
            seen = self._seen[key] = _Seen(0, 0, 0, None, (-1, -1), detailed=True)
            started: list[_Event] = [
                SessionStarted(
                    ts=s.start_timestamp_ms or s.last_activity_ms or now_ms,
                    **_ids(s),
                    path=s.path,
                    cwd=one_line(s.cwd, 4096),
                    model=s.model,
                    parent_session=s.parent_session_id,
                )
            ]
        else:
            if seen.fingerprint == fp and seen.progress == _progress(s):
                return []
            started = []
        seen.progress = _progress(s)
        ids = _ids(s)
        found: list[_Event] = []
        log = s.requests
        for i in range(seen.requests, len(log)):
            rec = log[i]
            found.append(
                RequestEvent(
                    ts=rec.ts_ms or s.last_activity_ms or now_ms,
                    **ids,
                    index=i,
                    model=rec.model,
                    usage=TokenUsage.from_tuple(rec.counts),
                )
            )
        seen.requests = len(log)
        if self._want_detail and (
            s.prompt_count != seen.prompts
            or _tool_count(s) != seen.tools
            or seen.open_tools
            or not seen.detailed
        ):
            found.extend(self._detail_events(s, seen, ids, now_ms))
        found.sort(key=lambda e: e.ts)  # stable: a call's start stays before its end
        if seen.fingerprint == fp:
            return [*started, *found]  # only read further (a tool result): no total changed
        seen.fingerprint = fp
        updated = SessionUpdated(
            ts=s.last_activity_ms or now_ms,
            **ids,
            model=s.model,
            usage=s.usage,
            cost_usd=s.cost_usd,
            request_count=len(s.requests),
            prompt_count=s.prompt_count,
            tool_count=_tool_count(s),
            last_activity_ms=s.last_activity_ms,
        )
        return [*started, *found, updated]

    def _adopt_running_tools(self, sessions: Sequence[AgentSession], now_ms: int) -> None:
        """Note the tool calls running at the baseline in recently active sessions (their end is news)."""
        recent = [s for s in sessions if (s.last_activity_ms or 0) >= now_ms - ACTIVE_WINDOW_MS]
        recent.sort(key=lambda s: -(s.last_activity_ms or 0))
        for s in recent[:MAX_BASELINE_DETAILS]:
            seen = self._seen.get((s.agent_type, s.session_id))
            if seen is not None and not seen.detailed:
                self._detail_events(s, seen, _ids(s), now_ms)  # nothing new yet: only the open calls

    def _detail_events(self, s: AgentSession, seen: _Seen, ids: _Ids, now_ms: int) -> list[_Event]:
        from .store import SessionLookupError

        try:
            detail = self.store.detail(s)
        except (SessionLookupError, OSError):
            return []  # vanished or unreadable since the summary: the next poll sees it gone
        ev = detail.events
        if ev is None:
            return []
        out: list[_Event] = []
        for pos in range(max(seen.prompts, ev.prompts_dropped), ev.prompts_total):
            p = ev.prompts[pos - ev.prompts_dropped]
            out.append(
                PromptEvent(
                    ts=p.ts_ms or now_ms,
                    **ids,
                    index=pos,
                    text=one_line(p.text, MAX_PROMPT_CHARS) or "",
                    command=one_line(p.command, 200),
                )
            )
        seen.prompts = ev.prompts_total
        dropped, total = ev.tools_dropped, ev.tools_total
        if not seen.detailed:
            seen.detailed = True
            for pos in range(dropped, min(seen.tools, total)):
                if ev.tools[pos - dropped].status is ToolStatus.PENDING:
                    seen.open_tools.add(pos)  # running since before the watch: its end is news
        for pos in sorted(seen.open_tools):
            if pos < dropped or pos >= total:
                seen.open_tools.discard(pos)  # no longer kept by the detail: bounded, not followed
                continue
            t = ev.tools[pos - dropped]
            if t.status is not ToolStatus.PENDING:
                out.append(_finished(t, pos, ids, now_ms))
                seen.open_tools.discard(pos)
        for pos in range(max(seen.tools, dropped), total):
            t = ev.tools[pos - dropped]
            out.append(
                ToolStarted(
                    ts=t.ts_ms or now_ms,
                    **ids,
                    index=pos,
                    call_id=t.call_id,
                    tool=one_line(t.tool_name, 200) or "?",
                    category=t.category,
                    command=one_line(t.command, MAX_COMMAND_CHARS),
                )
            )
            if t.status is ToolStatus.PENDING:
                seen.open_tools.add(pos)
            else:
                out.append(_finished(t, pos, ids, now_ms))
        seen.tools = total
        return out

    def _process_events(self, emit: bool, sessions: Sequence[AgentSession]) -> list[_Event]:
        from .process import SessionProcessMatcher, match_live

        assert self.snapshot is not None
        snap = self.snapshot()
        result = match_live(SessionProcessMatcher(), list(self.store.sessions()), self.store.homes, snap)
        selected = {(s.agent_type, s.session_id): s for s in sessions}
        current: dict[tuple[int, float], _Proc] = {}
        for tree in result.trees:
            if self.agents is not None and tree.agent_type not in self.agents:
                continue
            m = result.match_for_pid(tree.root_pid)
            session = selected.get((m.agent_type, m.session_id)) if m is not None else None
            if self.session_query is not None and session is None:
                continue
            current[tree.root.identity] = _Proc(
                tree.agent_type,
                tree.root_pid,
                tree.pids,
                session,
                m.evidence.value if m is not None else None,
            )
        out: list[_Event] = []
        for ident, proc in current.items():
            if ident not in self._procs and emit:
                out.append(
                    ProcessStarted(
                        ts=int(ident[1] * 1000),
                        **_proc_ids(proc),
                        pid=proc.pid,
                        pids=list(proc.pids),
                        evidence=proc.evidence,
                    )
                )
        for ident, proc in self._procs.items():
            if ident not in current:
                out.append(ProcessEnded(ts=snap.taken_ms, **_proc_ids(proc), pid=proc.pid))
        self._procs = current
        return out

    # -------------------------------------------------------------- following
    def follow(
        self,
        interval: float = 1.0,
        *,
        stop: threading.Event | None = None,
        once: bool = False,
        watch: bool = True,
    ) -> Iterator[list[_Event]]:
        """Poll until ``stop`` is set: a batch of events per poll (maybe empty).

        Between polls it waits for a file change under the agent homes
        (the store's watcher, when ``watch``) or ``interval`` seconds, whichever
        comes first; the interval also covers homes that do not exist yet.
        """
        stop = stop if stop is not None else threading.Event()
        while not stop.is_set():
            yield self.poll()
            if once:
                return
            if not watch:
                stop.wait(interval)
                continue
            # The store's own file watcher (``SessionStore(watch=True)``) wakes us early.
            deadline = time.monotonic() + interval
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or self.store.wait_for_change(min(left, 0.25)):
                    break


class _Ids(TypedDict):
    session: str
    agent: AgentType
    display_id: str


class _ProcIds(TypedDict):
    session: str | None
    agent: AgentType
    display_id: str | None


def _ids(s: AgentSession) -> _Ids:
    return {"session": s.session_id, "agent": s.agent_type, "display_id": s.display_id}


def _proc_ids(p: _Proc) -> _ProcIds:
    s = p.session
    return {
        "session": s.session_id if s is not None else None,
        "agent": p.agent,
        "display_id": s.display_id if s is not None else None,
    }


def _finished(t: ToolEvent, pos: int, ids: _Ids, now_ms: int) -> ToolFinished:
    return ToolFinished(
        ts=t.end_ts_ms or t.ts_ms or now_ms,
        **ids,
        index=pos,
        call_id=t.call_id,
        tool=one_line(t.tool_name, 200) or "?",
        status=t.status,
        exit_code=t.exit_code,
        duration_ms=t.duration_ms,
    )
