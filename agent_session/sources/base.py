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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

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

UsageTuple = tuple[int, int, int, int, int]

__all__ = [
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PATH_CHARS",
    "ParseContext",
    "SessionFile",
    "SessionParser",
    "collect_walk_errors",
    "decode_lossy",
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
    context: ParseContext = field(default_factory=lambda: ParseContext())
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

    def __init__(
        self, path: str | Path, *, detail: bool = False, context: ParseContext | None = None
    ) -> None:
        self.path = str(path)
        self.detail = detail
        self.context = context or ParseContext()
        self.session = AgentSession(
            agent_type=self.agent_type,
            session_id=self.default_session_id(Path(self.path)),
            path=self.path,
            events=SessionEvents() if detail else None,
        )
        self.diag: ParseDiagnostics = self.session.diagnostics
        self._cost = CostAccumulator(self.agent_type)
        # Per-request contributions, so a re-sent request replaces instead of adding.
        self._requests: dict[Hashable, tuple[str, UsageTuple]] = {}
        # Usage per model as plain int lists: a pydantic attribute write per token
        # bucket per request was a tenth of the parse time. Models are built in snapshot().
        self._usage_by_model: dict[str, list[int]] = {}
        self._lines = 0
        self._response_index: dict[Hashable, int] = {}
        self._tools_by_id: dict[str, ToolEvent] = {}
        self._early_results: dict[str, tuple[Any, bool | None, int | None, int | None]] = {}
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
        if not self.wants(line):
            return
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
        """Cheap byte-level prefilter; False skips JSON decoding of the line entirely."""
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

    def bad_type(self, value: Any, field: str) -> None:
        """Note a field whose value has the wrong type (the parser ignores it)."""
        self.diag.bad_value(field, f"line {self._lines}: {field} is {type(value).__name__}")

    def bad_time(self, value: Any, field: str = "timestamp") -> None:
        """Note a time that is not a time, or not a plausible one (it is ignored)."""
        shown = repr(value)[:40] if isinstance(value, str | int | float) else type(value).__name__
        self.diag.bad_value(field, f"line {self._lines}: {field} {shown} is not a plausible time")

    def see_timestamp(self, ts_ms: int | None) -> None:
        if ts_ms is None:
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
        contribution (Claude's per-block lines, Gemini's re-written messages).
        """
        model = (model or "unknown")[:MAX_NAME_CHARS]
        s = self.session
        replaced = False
        counts = usage.as_tuple()
        if key is not None:
            old = self._requests.get(key)
            if old is not None:
                self._charge(old[0], old[1], -1)
                s.request_count -= 1
                replaced = True
            self._requests[key] = (model, counts)
        self._charge(model, counts, 1)
        s.request_count += 1
        self.see_model(model if model != "unknown" else None)
        if self.detail and s.events is not None:
            resp = LlmResponse(ts_ms=ts_ms, model=model, usage=usage.model_copy(), response_id=response_id)
            if replaced and key in self._response_index:
                s.events.llm_responses[self._response_index[key]] = resp
            else:
                if key is not None:
                    self._response_index[key] = len(s.events.llm_responses)
                s.events.llm_responses.append(resp)

    def _charge(self, model: str, counts: UsageTuple, sign: int) -> None:
        acc = self._usage_by_model.get(model)
        if acc is None:
            acc = self._usage_by_model[model] = [0, 0, 0, 0, 0]
        for i in range(5):
            acc[i] += sign * counts[i]
        if sign < 0 and not any(acc):
            del self._usage_by_model[model]
        self._cost.add(model, counts, sign)

    def has_tool(self, call_id: str) -> bool:
        """Whether a call with this id was already counted (re-written records)."""
        return call_id in self._tools_by_id

    def usage_of(self, key: Hashable) -> tuple[str, UsageTuple] | None:
        """(model, counts) recorded under ``key`` by ``record_usage``, if any."""
        return self._requests.get(key)

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
        if self.detail and s.events is not None:
            s.events.prompts.append(
                UserPrompt(text=cap(text, MAX_PROMPT_CHARS) or "", ts_ms=ts_ms, command=command)
            )

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
        """Count a tool call and its files; in detail mode keep the event for linking."""
        s = self.session
        if call_id is not None and call_id in self._tools_by_id:
            return self._tools_by_id[call_id]  # a re-written call: counted once
        tool_name = tool_name[:MAX_NAME_CHARS]
        s.tools[tool_name] = s.tools.get(tool_name, 0) + 1
        path_list = [_bounded_path(p) for p in paths]
        for p in path_list:
            s.files[p.path] = s.files.get(p.path, 0) + 1
        if not self.detail or s.events is None:
            if call_id is not None:
                self._tools_by_id[call_id] = _COUNTED
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
            prompt_index=(len(s.events.prompts) - 1) if s.events.prompts else None,
        )
        s.events.tools.append(event)
        if call_id is not None:
            self._tools_by_id[call_id] = event
            early = self._early_results.pop(call_id, None)
            if early is not None:
                self.finish_tool(call_id, *early)
        return event

    def finish_tool(
        self,
        call_id: str | None,
        output: Any = None,
        is_error: bool | None = None,
        exit_code: int | None = None,
        ts_ms: int | None = None,
    ) -> None:
        """Link a result to its call: status, exit code, end time, duration, output preview."""
        if call_id is None or not self.detail:
            return
        event = self._tools_by_id.get(call_id)
        if event is None:
            if len(self._early_results) < 10_000:
                self._early_results[call_id] = (_preview(output), is_error, exit_code, ts_ms)
            return
        if event is _COUNTED:
            return
        if exit_code is not None:
            event.exit_code = exit_code
        failed = bool(is_error) or (exit_code is not None and exit_code != 0)
        event.status = ToolStatus.FAIL if failed else ToolStatus.OK
        event.output_preview = _preview(output)
        if ts_ms is not None:
            event.end_ts_ms = ts_ms
            if event.ts_ms is not None:
                event.duration_ms = max(0, ts_ms - event.ts_ms)

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
        self._dirty = False
        return _bounded(s.model_copy(deep=True))

    def finalize(self) -> None:
        """Hook for derived fields computed from the whole state (e.g. cwd resolution)."""

    @property
    def dirty(self) -> bool:
        return self._dirty


_COUNTED: Any = object()


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


# ------------------------------------------------------------------ discovery
#: Where the walkers report what they could not list, while a collector is active.
_walk_errors: ContextVar[dict[str, str] | None] = ContextVar("agent_session_walk_errors", default=None)


@contextmanager
def collect_walk_errors() -> Iterator[dict[str, str]]:
    """Collect, by path, what the source walkers could not list or read during the block.

    A folder that cannot be listed hides every session inside it, so it must
    be reported somewhere; a missing one is not a problem (no such agent, or
    it vanished mid-walk).
    """
    errors: dict[str, str] = {}
    token = _walk_errors.set(errors)
    try:
        yield errors
    finally:
        _walk_errors.reset(token)


def note_walk_error(path: str | os.PathLike[str], error: OSError | str) -> None:
    """Report a directory or file the walk could not use (ignored when nobody collects)."""
    errors = _walk_errors.get()
    if errors is None or isinstance(error, FileNotFoundError):
        return
    errors[os.fspath(path)] = (
        error if isinstance(error, str) else f"{type(error).__name__}: {error.strerror or error}"
    )


def is_session_file(entry: os.DirEntry[str]) -> bool:
    """True for a regular file (or a link to one); anything else carrying a session
    file's name (a folder, a FIFO, a symlink loop, a dangling link) is reported and skipped.

    FIFOs and devices are never opened: a read would block or never end.
    """
    try:
        if entry.is_file():
            return True
        mode = entry.stat().st_mode
    except OSError as exc:
        note_walk_error(entry.path, exc)
        return False
    kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
    note_walk_error(entry.path, f"{kind}, not a session file")
    return False
