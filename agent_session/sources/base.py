"""What every agent format shares: line decoding, usage accounting, tool linking.

A parser is a *stateful accumulator*: the store feeds it complete lines as they
are appended (or a whole document for rewritten-whole formats) and asks for a
snapshot whenever it needs one. Feeding the same bytes in any split must give
the same session as one feed, which is why all state lives here and not in
locals of a one-shot parse function.

Two levels of detail: ``detail=False`` keeps the summary (usage, models,
counts, first prompt, times) and drops per-event records, so a history of
thousands of sessions stays small; ``detail=True`` also keeps events (prompts,
tool calls with linked results, responses) for the session a user opens.
Events are bounded too: only the newest ``MAX_TOOL_EVENTS`` tool calls (and
``MAX_PROMPT_EVENTS`` prompts, ``MAX_RESPONSE_EVENTS`` responses) are kept,
each with capped text, so opening a 1.5 GB transcript costs the same memory
as opening a long ordinary one. Older events are counted, and a parser given
an :data:`EVENT_WINDOW` re-reads the file keeping just one page of them.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import orjson

from ..model import (
    MAX_INPUT_CHARS,
    MAX_OUTPUT_PREVIEW_CHARS,
    MAX_PROMPT_CHARS,
    AgentSession,
    AgentType,
    LlmResponse,
    ParseDiagnostics,
    SessionEvents,
    TokenUsage,
    ToolCategory,
    ToolEvent,
    ToolPath,
    ToolStatus,
    UserPrompt,
)
from ..pricing import CostAccumulator
from ..text import cap, clean_text, one_line, to_int

# The walk helpers live in ``walk.py`` (one walk for every source), re-exported here.
from .walk import collect_walk_errors, is_session_file, note_walk_error

UsageTuple = tuple[int, int, int, int, int]

__all__ = [
    "EVENT_WINDOW",
    "MAX_EARLY_RESULTS",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PATH_CHARS",
    "MAX_PROMPT_EVENTS",
    "MAX_RESPONSE_EVENTS",
    "MAX_TOOL_EVENTS",
    "EventKind",
    "ParseContext",
    "SessionFile",
    "SessionParser",
    "collect_walk_errors",
    "decode_lossy",
    "future_limit_ms",
    "is_session_file",
    "note_walk_error",
]

_PREVIEW_CHARS = 240
#: Longest model, tool, branch or version name kept; longer ones are junk, not names.
MAX_NAME_CHARS = 256
#: Longest path or id kept (PATH_MAX): nothing longer names a real file, or a real session.
MAX_PATH_CHARS = 4096
#: Ids longer than this are shortened, keeping them unique with a digest of the whole.
MAX_ID_CHARS = 256
_MAX_COUNT = 1 << 53
#: How far past the clock a time may be: clocks drift and zones get mixed up,
#: but a time days ahead is junk, and would keep its session "most recent" forever.
FUTURE_SLACK_MS = 24 * 3600 * 1000


def future_limit_ms() -> int:
    """The latest plausible time now (epoch ms): the clock plus ``FUTURE_SLACK_MS``."""
    return time.time_ns() // 1_000_000 + FUTURE_SLACK_MS


#: Newest events an opened session keeps, per kind. Each kept event's text is
#: capped (``model.MAX_INPUT_CHARS``…), so these bound one detail's memory:
#: about 5,000 × (16 + 8) KiB of tool text at worst. Older events are counted
#: in ``SessionEvents.*_dropped`` and can be paged from the file.
MAX_TOOL_EVENTS = 5_000
MAX_PROMPT_EVENTS = 1_000
MAX_RESPONSE_EVENTS = 5_000
#: Records of one kind whose field names are all compared with the known
#: ones, before only one in ``FIELD_CHECKS_EVERY`` is.
FIELD_CHECKS_FIRST = 32
FIELD_CHECKS_EVERY = 256
#: Tool results seen before their call (kept until the call arrives to link them).
MAX_EARLY_RESULTS = 1_000
#: ``ParseContext.extra`` key of an event window ``(kind, start, stop)``: the parser
#: then keeps only events of that kind whose position in the session is in
#: ``[start, stop)``, and nothing of the other kinds (a page of older events).
EVENT_WINDOW = "event_window"

EventKind = Literal["tools", "prompts", "responses"]


@dataclass(frozen=True)
class ParseContext:
    """Facts from outside the file that a parser may need.

    ``cwd_hint``: a working directory known from the file's location (Gemini's
    project folder resolved through ``projects.json`` / ``.project_root``).
    ``known_roots``: candidate project roots to hash against Gemini's
    ``projectHash`` when the folder mapping is missing.
    """

    cwd_hint: str | None = None
    known_roots: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


#: The context of a file discovery knows nothing about (one object, not one per file).
_NO_CONTEXT = ParseContext()


@dataclass(frozen=True)
class SessionFile:
    """A file discovery found: where it is and how to parse it.

    ``priority`` breaks ties when two files hold the same session id (Gemini's
    ``.jsonl`` beside its legacy ``.json``, a migrated project folder copy):
    the store keeps the file with the higher priority, then the newer one.
    ``codec`` is ``"zst"`` for compressed archived Codex rollouts, read whole.
    """

    path: Path
    agent_type: AgentType
    parser_cls: type[SessionParser]
    #: Shared by every file without facts of its own (frozen: never changed in place).
    context: ParseContext = _NO_CONTEXT
    priority: int = 0
    codec: str | None = None

    @property
    def append_only(self) -> bool:
        return self.parser_cls.append_only and self.codec is None

    def new_parser(self, *, detail: bool = False) -> SessionParser:
        return self.parser_cls(self.path, detail=detail, context=self.context)


class SessionParser:
    """Base class for one session file's parser. Subclasses implement ``handle``."""

    agent_type: ClassVar[AgentType]
    #: False for formats rewritten whole on every save (Gemini legacy ``.json``).
    append_only: ClassVar[bool] = True
    #: True for a parser dropped after its one snapshot (the summary scanners): the
    #: snapshot is the session itself, not a deep copy nobody needs.
    single_use: ClassVar[bool] = False

    def __init__(
        self, path: str | Path, *, detail: bool = False, context: ParseContext | None = None
    ) -> None:
        self.path = str(path)
        self.detail = detail
        self.context = context or _NO_CONTEXT
        self.session = AgentSession(
            agent_type=self.agent_type,
            session_id=self.default_session_id(Path(self.path)),
            path=self.path,
            events=SessionEvents() if detail else None,
        )
        self.diag: ParseDiagnostics = self.session.diagnostics
        self._cost = CostAccumulator(self.agent_type)
        # Index in ``session.requests`` of the record kept per request key, so a
        # re-sent request replaces its record instead of adding one.
        self._requests: dict[Hashable, int] = {}
        # Usage per model as plain int lists (the five buckets, then the number of
        # records): a pydantic attribute write per token bucket per request was a
        # tenth of the parse time. Models are built in snapshot().
        self._usage_by_model: dict[str, list[int]] = {}
        self._lines = 0
        #: The last line counted as having a future time (once per line).
        self._future_line = -1
        #: Position (in the whole session) of the response recorded under a usage key.
        self._response_index: dict[Hashable, int] = {}
        self._tools_by_id: dict[str, ToolEvent] = {}
        # (name, current status) of every call that has an id, in both modes and
        # whether its event is kept or not: a result, however late, early or
        # re-sent, moves the call's one count in ``session.tool_status``. Stored
        # as an index into ``_kinds`` (a few names × four statuses): a small int
        # per call, the id string shared with ``_tools_by_id``, no tuple each.
        self._call_status: dict[str, int] = {}
        self._kinds: list[tuple[str, ToolStatus]] = []
        self._kind_index: dict[tuple[str, ToolStatus], int] = {}
        self._early_results: dict[str, tuple[Any, bool | None, int | None, int | None]] = {}
        # Positions of the next new tool call and response in the whole session.
        self._tool_seq = 0
        self._response_seq = 0
        # Read when the parser is made, so a test can lower them with monkeypatch.
        self._caps: dict[str, int] = {
            "tools": MAX_TOOL_EVENTS,
            "prompts": MAX_PROMPT_EVENTS,
            "responses": MAX_RESPONSE_EVENTS,
        }
        self._window: tuple[str, int, int] | None = _event_window(self.context)
        if self._window is not None and self.session.events is not None:
            kind, start, _stop = self._window
            ev = self.session.events
            # Positions before the window count as dropped, so position - dropped
            # is an index into the list in both modes.
            if kind == "tools":
                ev.tools_dropped = start
            elif kind == "responses":
                ev.responses_dropped = start
            else:
                ev.prompts_dropped = start
        #: Records of each kind whose fields were compared with the known ones.
        self._field_checks: dict[str, int] = {}
        self._dirty = True

    # ----------------------------------------------------------------- identity
    @classmethod
    def default_session_id(cls, path: Path) -> str:
        """Id used until the file says otherwise: the file name's stem."""
        return path.name.split(".", 1)[0]

    # ------------------------------------------------------------------ feeding
    def feed(self, data: bytes) -> None:
        """Feed a block of complete lines (the store keeps torn tails back)."""
        self.diag.bytes_consumed += len(data)
        for line in data.split(b"\n"):
            if line.strip():
                self.feed_line(line)
        self._dirty = True

    @property
    def line_no(self) -> int:
        """Number of the line being parsed (1-based), for diagnostics."""
        return self._lines

    def feed_line(self, line: bytes) -> None:
        self._lines += 1
        if self.wants(line):
            self.decode_line(line)

    def skip_line(self, reason: str, error: str) -> None:
        """Count a line that is not parsed at all (the reader's ``oversized``), named by ``reason``."""
        self._lines += 1
        self.diag.skip(reason, f"line {self._lines}: {error}"[:300])
        self._dirty = True

    def decode_line(self, line: bytes) -> None:
        """Decode one line already counted and wanted, and hand the record to ``handle``."""
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            record = self._decode_fallback(line, exc)
            if record is None:
                return
        if not isinstance(record, dict):
            self.diag.skip("not_an_object", f"line {self._lines}: {type(record).__name__}, not an object")
            return
        try:
            self.handle(record)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # Wrong types deep inside an otherwise valid record: skip the line, keep the session.
            self.diag.skip("bad_record", f"line {self._lines}: {type(exc).__name__}: {exc}"[:300])
        self._dirty = True

    def _decode_fallback(self, line: bytes, exc: Exception) -> Any:
        """The slow path for lines orjson rejects: say what was wrong, keep what can be kept."""
        n = self._lines
        if b"\x00" in line:
            # NUL padding left by a crash (a pre-allocated block never written), often
            # glued to the line written after it: that line is whole, keep it.
            rest = line.rpartition(b"\x00")[2].strip()
            if not rest and not line.strip(b"\x00 \t\r"):
                self.diag.skip("nul_bytes", f"line {n}: only NUL bytes (a block the writer never filled)")
                return None
            record = _loads_or_none(rest) if rest.startswith(b"{") else None
            if isinstance(record, dict):
                self.diag.bad_value("nul_bytes", f"line {n}: NUL bytes before the line were dropped")
                return record
        if line.startswith(_BOM):
            # A byte-order mark (an editor saved the file): the line itself may be fine.
            record = _loads_or_none(line[len(_BOM) :])
            if isinstance(record, dict):
                self.diag.bad_value("byte_order_mark", f"line {n}: UTF-8 byte-order mark dropped")
                return record
        try:
            record = decode_lossy(line)
        except ValueError:
            self.diag.skip("malformed_json", f"line {n}: {exc}"[:300])
            return None
        self.diag.bad_value(_lenient_reason(line, exc), f"line {n}: {exc}"[:300])
        return record

    def feed_document(self, data: bytes) -> None:
        """Parse a whole rewritten-whole file. Only for ``append_only = False`` formats."""
        raise NotImplementedError

    def wants(self, line: bytes) -> bool:
        """Cheap byte-level prefilter; False skips JSON decoding of the line entirely.

        Pure: it may read the parser's state but never changes it, so it can be
        asked twice, or not at all. A parser that must learn something from a
        line it does not decode does so in its own ``feed_line``.
        """
        return True

    def handle(self, record: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- recording
    def count(self, value: Any, field: str) -> int:
        """A token count from untrusted JSON (``text.to_int``), noting any value that
        was not a plain non-negative integer in the diagnostics (absent is fine)."""
        if type(value) is int and 0 <= value < _MAX_COUNT:
            return value
        if value is None:
            return 0
        shown = repr(value)[:40] if isinstance(value, str | int | float) else type(value).__name__
        self.diag.bad_value(field, f"line {self._lines}: {field} is {shown}")
        return to_int(value)

    def check_fields(self, kind: str, obj: dict[str, Any], known: frozenset[str]) -> None:
        """Count ``obj``'s fields outside ``known`` (``diagnostics.unknown_fields``).

        Sampled, because it runs on the hottest records: the first
        ``FIELD_CHECKS_FIRST`` of each kind, then one in ``FIELD_CHECKS_EVERY``.
        A new field appears in every record of its kind, so a sample sees it.
        """
        n = self._field_checks.get(kind, 0) + 1
        self._field_checks[kind] = n
        if n > FIELD_CHECKS_FIRST and n % FIELD_CHECKS_EVERY:
            return
        if not known.issuperset(obj):
            self.diag.unknown_field_names(kind, sorted(k for k in obj if k not in known))

    def bad_type(self, value: Any, field: str) -> None:
        """Note a field whose value has the wrong type (the parser ignores it)."""
        self.diag.bad_value(field, f"line {self._lines}: {field} is {type(value).__name__}")

    def bad_time(self, value: Any, field: str = "timestamp") -> None:
        """Note a time that is not a time, or not a plausible one (it is ignored)."""
        shown = repr(value)[:40] if isinstance(value, str | int | float) else type(value).__name__
        self.diag.bad_value(field, f"line {self._lines}: {field} {shown} is not a plausible time")

    def future_time(self, ts_ms: int) -> bool:
        """True (and counted once per line as ``future_timestamp``) for a time past ``future_limit_ms()``.

        Such a time is never used: as an end time it would keep its session
        first in every most-recent list until that date.
        """
        if ts_ms <= future_limit_ms():
            return False
        if self._future_line != self._lines:
            self._future_line = self._lines
            self.diag.bad_value(
                "future_timestamp", f"line {self._lines}: a time more than a day ahead, ignored"
            )
        return True

    def see_timestamp(self, ts_ms: int | None) -> None:
        if ts_ms is None or self.future_time(ts_ms):
            return
        s = self.session
        if s.start_timestamp_ms is None or ts_ms < s.start_timestamp_ms:
            s.start_timestamp_ms = ts_ms
        if s.end_timestamp_ms is None or ts_ms > s.end_timestamp_ms:
            s.end_timestamp_ms = ts_ms

    def see_model(self, model: str | None) -> None:
        """Record a model in force (``models`` keeps first-seen order)."""
        if not model or not isinstance(model, str):
            return
        model = model[:MAX_NAME_CHARS]
        s = self.session
        s.model = model
        if model not in s.models:
            s.models.append(model)

    def record_usage(
        self,
        key: Hashable | None,
        model: str | None,
        usage: TokenUsage,
        ts_ms: int | None = None,
        response_id: str | None = None,
    ) -> None:
        """Charge one request's usage to ``model``.

        With a ``key``, a later call for the same key *replaces* the earlier
        contribution (Claude's per-block lines, Gemini's re-written messages),
        and its record in ``session.requests`` is overwritten in place, so the
        records always sum to ``usage`` and ``model_usage``.
        """
        self.record_counts(key, model, usage.as_tuple(), ts_ms, response_id)

    def record_counts(
        self,
        key: Hashable | None,
        model: str | None,
        counts: UsageTuple,
        ts_ms: int | None = None,
        response_id: str | None = None,
    ) -> None:
        """``record_usage`` with the usage as ``TokenUsage.as_tuple()`` (no model built on the hot path)."""
        model = (model or "unknown")[:MAX_NAME_CHARS]
        s = self.session
        log = s.requests
        replaced = False
        index = self._requests.get(key) if key is not None else None
        if index is not None:
            self._charge(log.model_at(index), log.counts_at(index), -1)
            s.request_count -= 1
            replaced = True
            log.replace(index, ts_ms, model, counts)
        else:
            index = log.append(ts_ms, model, counts)
            if key is not None:
                self._requests[key] = index
        self._charge(model, counts, 1)
        s.request_count += 1
        self.see_model(model if model != "unknown" else None)
        if self.detail and s.events is not None:
            self._record_response(key, replaced, model, TokenUsage.from_tuple(counts), ts_ms, response_id)

    def _record_response(
        self,
        key: Hashable | None,
        replaced: bool,
        model: str,
        usage: TokenUsage,
        ts_ms: int | None,
        response_id: str | None,
    ) -> None:
        """Keep one response event (detail mode), replacing the one of a re-sent request.

        A replaced response that is no longer kept (dropped as old, or outside
        a page's window) is simply not shown: its usage is in the summary.
        """
        ev = self.session.events
        assert ev is not None
        if replaced and key in self._response_index:
            i = self._response_index[key] - ev.responses_dropped
            if 0 <= i < len(ev.llm_responses):
                ev.llm_responses[i] = _response(model, usage, ts_ms, response_id)
            return
        position = self._response_seq
        self._response_seq += 1
        if key is not None:
            self._response_index[key] = position
        if self._keeps("responses", position):
            ev.llm_responses.append(_response(model, usage, ts_ms, response_id))
            if self._window is None:
                ev.responses_dropped += _trim(ev.llm_responses, self._caps["responses"])

    def _charge(self, model: str, counts: UsageTuple, sign: int) -> None:
        acc = self._usage_by_model.get(model)
        if acc is None:
            acc = self._usage_by_model[model] = [0, 0, 0, 0, 0, 0]
        for i in range(5):
            acc[i] += sign * counts[i]
        acc[5] += sign
        if acc[5] <= 0:
            del self._usage_by_model[model]  # no record left on this model
        self._cost.add(model, counts, sign)

    def has_tool(self, call_id: str) -> bool:
        """Whether a call with this id was already counted (re-written records)."""
        return call_id in self._tools_by_id

    def usage_of(self, key: Hashable) -> tuple[str, UsageTuple] | None:
        """(model, counts) recorded under ``key`` by ``record_usage``, if any."""
        index = self._requests.get(key)
        if index is None:
            return None
        log = self.session.requests
        return log.model_at(index), log.counts_at(index)

    def _sync_usage(self) -> None:
        s = self.session
        total = [0, 0, 0, 0, 0]
        model_usage: dict[str, TokenUsage] = {}
        for model, acc in self._usage_by_model.items():
            model_usage[model] = TokenUsage.from_tuple((acc[0], acc[1], acc[2], acc[3], acc[4]))
            for i in range(5):
                total[i] += acc[i]
        s.model_usage = model_usage
        s.usage = TokenUsage.from_tuple((total[0], total[1], total[2], total[3], total[4]))
        self.diag.lines_read = self._lines

    def add_prompt(self, text: str, ts_ms: int | None = None, command: str | None = None) -> None:
        """A real prompt (the caller has already decided it is not injected text)."""
        text = clean_text(text).strip()
        if not text:
            return
        s = self.session
        s.prompt_count += 1
        if s.prompt_preview is None:
            s.prompt_preview = one_line(text, _PREVIEW_CHARS)
        ev = s.events
        if self.detail and ev is not None and self._keeps("prompts", s.prompt_count - 1):
            prompt = UserPrompt(text=cap(text, MAX_PROMPT_CHARS) or "", ts_ms=ts_ms, command=command)
            ev.prompts.append(prompt)
            if self._window is None:
                _trim(ev.prompts, self._caps["prompts"])
                # Derived rather than accumulated: a parser that retracts its prompts
                # (Codex fallback prompts) resets prompt_count and clears the list.
                ev.prompts_dropped = s.prompt_count - len(ev.prompts)

    def start_tool(
        self,
        call_id: str | None,
        tool_name: str,
        *,
        category: ToolCategory,
        command: str | None = None,
        input: Any = None,
        paths: Iterable[ToolPath] = (),
        ts_ms: int | None = None,
        status: ToolStatus = ToolStatus.PENDING,
    ) -> ToolEvent | None:
        """Count a tool call and its files; in detail mode keep the event for linking.

        Returns the kept event, or None (summary mode, or a call not kept: older
        than the newest ``MAX_TOOL_EVENTS``, or outside a page's window).
        """
        s = self.session
        if call_id is not None and call_id in self._tools_by_id:
            known = self._tools_by_id[call_id]  # a re-written call: counted once
            return None if known is _COUNTED else known
        tool_name = tool_name[:MAX_NAME_CHARS]
        s.tools[tool_name] = s.tools.get(tool_name, 0) + 1
        self._count_status(tool_name, status, 1)
        if call_id is not None:
            self._call_status[call_id] = self._kind(tool_name, status)
        path_list = [_bounded_path(p) for p in paths]
        for p in path_list:
            s.files[p.path] = s.files.get(p.path, 0) + 1
        position = self._tool_seq
        self._tool_seq += 1
        ev = s.events
        if not self.detail or ev is None or not self._keeps("tools", position):
            if call_id is not None:
                self._tools_by_id[call_id] = _COUNTED
                # A result that came first belongs to a call nobody will see: only
                # its outcome is kept, in the summary's counts.
                early = self._early_results.pop(call_id, None)
                if early is not None:
                    self._settle(call_id, _outcome(early[1], early[2]))
            if ev is not None:
                ev.tools_version += 1
            return None
        event = ToolEvent(
            call_id=call_id,
            tool_name=tool_name,
            category=category,
            command=one_line(command, 500),
            input=cap(_as_text(input), MAX_INPUT_CHARS),
            ts_ms=ts_ms,
            status=status,
            paths=path_list,
            prompt_index=s.prompt_count - 1 if s.prompt_count else None,
        )
        ev.tools.append(event)
        ev.tools_version += 1
        if call_id is not None:
            self._tools_by_id[call_id] = event
            early = self._early_results.pop(call_id, None)
            if early is not None:
                self.finish_tool(call_id, *early)
        if self._window is None:
            self._trim_tools(force=False)
        return event

    def _trim_tools(self, *, force: bool) -> None:
        """Drop the oldest calls beyond the cap; their ids stay known, so a late
        result for one is recognized and ignored instead of waiting as an early result."""
        ev = self.session.events
        assert ev is not None
        cap_ = self._caps["tools"]
        excess = len(ev.tools) - cap_
        if excess <= 0 or (not force and excess < _slack(cap_)):
            return
        by_id = self._tools_by_id
        for old in ev.tools[:excess]:
            if old.call_id is not None and by_id.get(old.call_id) is old:
                by_id[old.call_id] = _COUNTED
        del ev.tools[:excess]
        ev.tools_dropped += excess
        ev.tools_version += 1

    def _keeps(self, kind: EventKind, position: int) -> bool:
        """Whether the event at ``position`` (in the whole session) is kept."""
        w = self._window
        return w is None or (w[0] == kind and w[1] <= position < w[2])

    def finish_tool(
        self,
        call_id: str | None,
        output: Any = None,
        is_error: bool | None = None,
        exit_code: int | None = None,
        ts_ms: int | None = None,
    ) -> None:
        """Link a result to its call: status, exit code, end time, duration, output preview.

        In both modes the call's outcome moves its count in ``session.tool_status``
        (a re-sent result moves it again, never adds a call); the rest is detail only.
        """
        if call_id is None:
            return
        status = _outcome(is_error, exit_code)
        if call_id not in self._call_status:
            # The result came before its call: kept (bounded) until the call arrives.
            if len(self._early_results) < MAX_EARLY_RESULTS:
                preview = _preview(output) if self.detail else None
                self._early_results[call_id] = (preview, is_error, exit_code, ts_ms)
            return
        self._settle(call_id, status)
        if not self.detail:
            return
        event = self._tools_by_id.get(call_id)
        if event is None or event is _COUNTED:
            return  # the call is counted but not kept: nothing to link, nothing to invent
        if self.session.events is not None:
            self.session.events.tools_version += 1
        if exit_code is not None:
            event.exit_code = exit_code
        event.status = status
        event.output_preview = _preview(output)
        if ts_ms is not None:
            event.end_ts_ms = ts_ms
            if event.ts_ms is not None:
                event.duration_ms = max(0, ts_ms - event.ts_ms)

    def _count_status(self, tool_name: str, status: ToolStatus, sign: int) -> None:
        """Add ``sign`` to ``session.tool_status[tool_name][status]``, dropping counts that reach 0."""
        by_name = self.session.tool_status
        per = by_name.get(tool_name)
        if per is None:
            per = by_name[tool_name] = {}
        value = _STATUS_VALUE[status]  # an enum's ``.value`` is a descriptor call: slow on the hot path
        n = per.get(value, 0) + sign
        if n > 0:
            per[value] = n
        else:
            per.pop(value, None)

    def _kind(self, tool_name: str, status: ToolStatus) -> int:
        """The index of ``(tool_name, status)`` in ``_kinds``, added when new."""
        key = (tool_name, status)
        index = self._kind_index.get(key)
        if index is None:
            index = self._kind_index[key] = len(self._kinds)
            self._kinds.append(key)
        return index

    def _settle(self, call_id: str, status: ToolStatus) -> None:
        """Move a known call's one count from its current status to ``status``."""
        tool_name, old = self._kinds[self._call_status[call_id]]
        if old is status:
            return
        self._call_status[call_id] = self._kind(tool_name, status)
        self._count_status(tool_name, old, -1)
        self._count_status(tool_name, status, 1)

    # --------------------------------------------------------------- snapshots
    def snapshot(self) -> AgentSession:
        """A deep copy of the session as parsed so far (safe to hand to other threads)."""
        s = self.session
        self._sync_usage()
        cost, unpriced = self._cost.result()
        s.cost_usd = cost
        s.unpriced_models = unpriced
        if s.last_activity_ms is None or (s.end_timestamp_ms or 0) > s.last_activity_ms:
            s.last_activity_ms = s.end_timestamp_ms
        self.finalize()
        ev = s.events
        if ev is not None and self._window is None:
            # Between snapshots the lists may run a little over their caps (trimming
            # in steps is cheaper); a snapshot holds exactly the newest N.
            self._trim_tools(force=True)
            _trim(ev.prompts, self._caps["prompts"], force=True)
            ev.prompts_dropped = s.prompt_count - len(ev.prompts)
            ev.responses_dropped += _trim(ev.llm_responses, self._caps["responses"], force=True)
        self._dirty = False
        return _bounded(s if self.single_use else s.model_copy(deep=True))

    def finalize(self) -> None:
        """Hook for derived fields computed from the whole state (e.g. cwd resolution)."""

    @property
    def dirty(self) -> bool:
        return self._dirty


_COUNTED: Any = object()


_STATUS_VALUE: dict[ToolStatus, str] = {status: status.value for status in ToolStatus}


def _outcome(is_error: bool | None, exit_code: int | None) -> ToolStatus:
    """A linked result's status: failed when flagged so or when it exited non-zero."""
    failed = bool(is_error) or (exit_code is not None and exit_code != 0)
    return ToolStatus.FAIL if failed else ToolStatus.OK


def _slack(cap_: int) -> int:
    """How far a list may run over its cap before it is trimmed (amortizes the shift)."""
    return max(16, cap_ // 8)


def _trim(items: list[Any], cap_: int, force: bool = False) -> int:
    """Drop the oldest items beyond ``cap_`` (only once past the slack unless ``force``)."""
    excess = len(items) - cap_
    if excess <= 0 or (not force and excess < _slack(cap_)):
        return 0
    del items[:excess]
    return excess


def _response(model: str, usage: TokenUsage, ts_ms: int | None, response_id: str | None) -> LlmResponse:
    return LlmResponse(ts_ms=ts_ms, model=model, usage=usage.model_copy(), response_id=response_id)


def _event_window(context: ParseContext) -> tuple[str, int, int] | None:
    """The ``(kind, start, stop)`` a page-reading parser keeps, from its context (else None)."""
    w = context.extra.get(EVENT_WINDOW)
    if w is None:
        return None
    kind, start, stop = w
    if kind not in ("tools", "prompts", "responses") or not (0 <= start <= stop):
        raise ValueError(f"bad event window {w!r}")
    return (str(kind), int(start), int(stop))


def _bounded(s: AgentSession) -> AgentSession:
    """The session with every text taken from the file bounded, whatever the file holds.

    Prompts and tool text are capped when recorded; these are the fields
    parsers set directly (ids, cwd, branch, version), shown on every screen.
    An over-long id keeps a digest of the whole, so two never merge.
    """
    s.session_id = _bounded_id(s.session_id) or s.session_id
    s.conversation_id = _bounded_id(s.conversation_id)
    s.parent_session_id = _bounded_id(s.parent_session_id)
    if s.cwd is not None and len(s.cwd) > MAX_PATH_CHARS:
        s.cwd = cap(s.cwd, MAX_PATH_CHARS)
    if s.git_branch is not None and len(s.git_branch) > MAX_NAME_CHARS:
        s.git_branch = cap(s.git_branch, MAX_NAME_CHARS)
    if s.version is not None and len(s.version) > MAX_NAME_CHARS:
        s.version = cap(s.version, MAX_NAME_CHARS)
    return s


def _bounded_id(value: str | None) -> str | None:
    if value is None or len(value) <= MAX_ID_CHARS:
        return value
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{value[: MAX_ID_CHARS - 20]}…{digest}"


def _bounded_path(p: ToolPath) -> ToolPath:
    if len(p.path) <= MAX_PATH_CHARS and (p.previous_path is None or len(p.previous_path) <= MAX_PATH_CHARS):
        return p
    return ToolPath(
        path=cap(p.path, MAX_PATH_CHARS) or "",
        access=p.access,
        previous_path=cap(p.previous_path, MAX_PATH_CHARS),
    )


def decode_lossy(data: bytes) -> Any:
    """``json.loads`` for what orjson rejects: bad UTF-8 and lone surrogates become U+FFFD.

    Strings with lone surrogates cannot be encoded as UTF-8 (orjson refuses to
    dump them, a UTF-8 terminal refuses to print them), so none may leave here.
    Raises ``ValueError`` when the data is not JSON at all.
    """
    try:
        return _scrub(json.loads(data.decode("utf-8", errors="replace")))
    except RecursionError as exc:  # nesting deeper than the interpreter's stack
        raise ValueError("nested too deeply") from exc


_SURROGATES = re.compile(r"[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.isascii() else _SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


_BOM = b"\xef\xbb\xbf"


def _lenient_reason(data: bytes, exc: Exception) -> str:
    """Why orjson refused what the lenient decoder took (named in the diagnostics)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    return "lone_surrogate" if "surrogate" in str(exc) else "non_standard_json"


def _loads_or_none(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(value)
    try:
        return clean_text(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
    except TypeError:
        return clean_text(str(value))


def _preview(output: Any) -> str | None:
    """Tool output as capped plain text, whatever shape the agent stored it in."""
    if output is None:
        return None
    if isinstance(output, str):
        text = output
    elif isinstance(output, list):
        parts: list[str] = []
        for item in output:
            if isinstance(item, dict):
                t = item.get("text")
                if isinstance(t, str):
                    parts.append(t)
                elif item.get("type") in ("image", "input_image"):
                    parts.append("[image]")
                else:
                    parts.append(_as_text(item) or "")
            else:
                parts.append(str(item))
        text = "\n".join(parts)
    else:
        text = _as_text(output) or ""
    return cap(clean_text(text[: MAX_OUTPUT_PREVIEW_CHARS * 2]), MAX_OUTPUT_PREVIEW_CHARS)
