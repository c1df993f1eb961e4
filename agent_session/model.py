"""The normalized session model (IR) shared by every agent format.

Field names follow AgentSight's ``agent-session`` crate so users of either can
switch; everything that crate lacks (per-model usage, reasoning tokens, tool
end times, diagnostics, subagent totals) is added here. The models are plain
pydantic v2 classes: parsers mutate them while accumulating and the store
hands out deep copies, so nothing a caller holds changes under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from .requests import RequestLog
from .text import clean_text

__all__ = [
    "MAX_INPUT_CHARS",
    "MAX_OUTPUT_PREVIEW_CHARS",
    "MAX_PROMPT_CHARS",
    "AgentSession",
    "AgentType",
    "FileAccess",
    "LlmResponse",
    "ParseDiagnostics",
    "PlanStep",
    "SessionEvents",
    "TokenUsage",
    "ToolCategory",
    "ToolEvent",
    "ToolPath",
    "ToolStatus",
    "UserPrompt",
    "make_display_id",
]

#: Caps that keep memory bounded whatever the transcripts hold.
MAX_PROMPT_CHARS = 64 * 1024
MAX_OUTPUT_PREVIEW_CHARS = 8 * 1024
MAX_INPUT_CHARS = 16 * 1024


class AgentType(StrEnum):
    CLAUDE = "claude"
    CODEX = "codex"
    GEMINI = "gemini"


class ToolCategory(StrEnum):
    SHELL = "shell"
    EDIT = "edit"
    READ = "read"
    SEARCH = "search"
    NETWORK = "network"
    PLAN = "plan"
    SUBAGENT = "subagent"
    MCP = "mcp"
    TOOL = "tool"


class ToolStatus(StrEnum):
    OK = "ok"
    FAIL = "fail"
    PENDING = "pending"
    #: Seen without a linkable result (e.g. Codex ``web_search_call``).
    OBSERVED = "observed"


class FileAccess(StrEnum):
    READ = "read"
    WRITE = "write"
    CREATE = "create"
    DELETE = "delete"
    RENAME = "rename"


class _Model(BaseModel):
    model_config = ConfigDict(use_enum_values=False, validate_assignment=False, defer_build=True)


class TokenUsage(_Model):
    """One meaning for every agent.

    ``input_tokens`` is uncached input only; ``output_tokens`` is everything
    generated, reasoning included; ``reasoning_tokens`` is the reasoning part
    of the output, kept for display and never added to the total again.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (
            self.input_tokens,
            self.output_tokens,
            self.cache_creation_tokens,
            self.cache_read_tokens,
            self.reasoning_tokens,
        )

    @classmethod
    def from_tuple(cls, t: tuple[int, int, int, int, int]) -> TokenUsage:
        return cls(
            input_tokens=t[0],
            output_tokens=t[1],
            cache_creation_tokens=t[2],
            cache_read_tokens=t[3],
            reasoning_tokens=t[4],
        )

    def add(self, other: TokenUsage, sign: int = 1) -> None:
        """Accumulate in place (``sign=-1`` takes a contribution back out)."""
        self.input_tokens += sign * other.input_tokens
        self.output_tokens += sign * other.output_tokens
        self.cache_creation_tokens += sign * other.cache_creation_tokens
        self.cache_read_tokens += sign * other.cache_read_tokens
        self.reasoning_tokens += sign * other.reasoning_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        out = self.model_copy()
        out.add(other)
        return out

    def is_zero(self) -> bool:
        return not any(self.as_tuple())


class ToolPath(_Model):
    path: str
    access: FileAccess
    previous_path: str | None = None


class ToolEvent(_Model):
    call_id: str | None = None
    tool_name: str
    category: ToolCategory = ToolCategory.TOOL
    #: One-line projection of the input for lists (a shell command, a path…).
    command: str | None = None
    #: The input as JSON text, capped at ``MAX_INPUT_CHARS``.
    input: str | None = None
    output_preview: str | None = None
    status: ToolStatus = ToolStatus.PENDING
    exit_code: int | None = None
    ts_ms: int | None = None
    end_ts_ms: int | None = None
    duration_ms: int | None = None
    paths: list[ToolPath] = Field(default_factory=list)
    #: Position of the prompt this call answers among *all* the session's prompts:
    #: ``events.prompts[prompt_index - events.prompts_dropped]`` when that prompt is kept.
    prompt_index: int | None = None


class UserPrompt(_Model):
    text: str
    ts_ms: int | None = None
    #: The slash command when the user typed one (``/compact``), else None.
    command: str | None = None


class LlmResponse(_Model):
    ts_ms: int | None = None
    model: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    #: Native request/response id when the agent records one.
    response_id: str | None = None


class PlanStep(_Model):
    step: str
    status: str | None = None


class SessionEvents(_Model):
    """The per-event records of one session: the newest ones only, in file order.

    A transcript can hold hundreds of thousands of tool calls; keeping them
    all made one opened session cost gigabytes. Each list therefore keeps the
    newest events up to a cap (``sources.base.MAX_TOOL_EVENTS`` and friends)
    and counts the older ones in ``*_dropped``, so the absolute position of
    ``tools[i]`` in the session is ``tools_dropped + i``. The older events can
    be read again from the file a page at a time
    (:meth:`~agent_session.store.SessionStore.detail_page`). The session's
    summary fields (``tools`` histogram, ``files``, usage) always cover the
    whole file.
    """

    prompts: list[UserPrompt] = Field(default_factory=list)
    tools: list[ToolEvent] = Field(default_factory=list)
    llm_responses: list[LlmResponse] = Field(default_factory=list)
    plan: list[PlanStep] = Field(default_factory=list)
    #: Older events not kept in the lists above (they precede the first kept one).
    prompts_dropped: int = 0
    tools_dropped: int = 0
    responses_dropped: int = 0
    #: Bumped whenever a tool call is added or one of them changes (a result
    #: linked): a viewer compares it to skip work when nothing changed.
    tools_version: int = 0

    @property
    def tools_total(self) -> int:
        """Tool calls in the whole session, kept or not."""
        return self.tools_dropped + len(self.tools)

    @property
    def prompts_total(self) -> int:
        return self.prompts_dropped + len(self.prompts)

    @property
    def responses_total(self) -> int:
        return self.responses_dropped + len(self.llm_responses)


class ParseDiagnostics(_Model):
    """What the parser could not use, so nothing is dropped silently."""

    lines_read: int = 0
    lines_skipped: int = 0
    #: Skipped lines counted by reason (``malformed_json``, ``not_an_object``, …).
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    #: Record types we do not know, counted; they are ignored, never fatal.
    unknown_types: dict[str, int] = Field(default_factory=dict)
    bytes_consumed: int = 0
    last_error: str | None = None
    #: Times the file was read again from zero (shrunk, replaced, rewritten-whole).
    reparses: int = 0
    #: Values of the wrong type or out of range inside lines that were otherwise
    #: used, by field (``message.usage``, ``usage.input_tokens``, ``timestamp``…):
    #: the value was ignored (a count as 0) or, for a number written as a
    #: string, converted; the rest of the line was kept.
    bad_values: dict[str, int] = Field(default_factory=dict)
    #: Fields the parser does not know, by record kind (``claude.usage``,
    #: ``codex.token_count.info``, ``gemini.tokens``…), counted on a sample of
    #: the records: a CLI release that adds a token bucket shows here before it
    #: skews a total. Bounded: 32 kinds, 16 names each.
    unknown_fields: dict[str, dict[str, int]] = Field(default_factory=dict)

    def skip(self, reason: str, error: str | None = None) -> None:
        self.lines_skipped += 1
        self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1
        if error is not None:
            self.last_error = error

    def unknown(self, record_type: str) -> None:
        key = record_type[:64]
        self.unknown_types[key] = self.unknown_types.get(key, 0) + 1

    def unknown_field_names(self, kind: str, names: Iterable[str]) -> None:
        per = self.unknown_fields.get(kind)
        if per is None:
            if len(self.unknown_fields) >= 32:
                return
            per = self.unknown_fields[kind] = {}
        for name in names:
            key = str(name)[:64]
            if key in per:
                per[key] += 1
            elif len(per) < 16:
                per[key] = 1

    def bad_value(self, field: str, error: str | None = None) -> None:
        """Count a value that could not be used; ``error`` (if given) becomes ``last_error``."""
        if field not in self.bad_values and len(self.bad_values) >= 64:
            field = "(other)"
        self.bad_values[field] = self.bad_values.get(field, 0) + 1
        if error is not None:
            self.last_error = error[:300]

    @property
    def has_problems(self) -> bool:
        return bool(self.lines_skipped or self.last_error or self.bad_values)


def make_display_id(agent_type: AgentType | str, session_id: str) -> str:
    """Short, stable, agent-prefixed id: ``claude:fa86d6.6184f``.

    Ids come from file names and file contents, so the shown form drops
    control sequences, bidi overrides and whitespace first: a display id is
    printed everywhere, raw, and must never drive the terminal.
    """
    agent = agent_type.value if isinstance(agent_type, AgentType) else str(agent_type)
    if not session_id.isprintable() or " " in session_id:
        session_id = "".join(clean_text(session_id).split())
    short = session_id if len(session_id) <= 12 else f"{session_id[:6]}.{session_id[-5:]}"
    return f"{agent}:{short}"


class AgentSession(_Model):
    agent_type: AgentType
    #: The native id, always set (Claude subagents: the agent id from the filename).
    session_id: str
    #: A real thread/conversation id when the agent records one; never invented.
    conversation_id: str | None = None
    parent_session_id: str | None = None
    path: str
    cwd: str | None = None
    git_branch: str | None = None
    version: str | None = None
    #: First and last record time (never the file's mtime).
    start_timestamp_ms: int | None = None
    end_timestamp_ms: int | None = None
    #: Most recent evidence of activity: last record time, else the file mtime.
    last_activity_ms: int | None = None
    model: str | None = None
    models: list[str] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    model_usage: dict[str, TokenUsage] = Field(default_factory=dict)
    #: Usage of this session's subagent sessions (filled by the store).
    subagent_usage: TokenUsage = Field(default_factory=TokenUsage)
    subagent_ids: list[str] = Field(default_factory=list)
    tools: dict[str, int] = Field(default_factory=dict)
    #: Tool calls by name, then by outcome (a ``ToolStatus`` value: ``ok``, ``fail``,
    #: ``observed``, or ``pending`` while no result is linked); each call counts
    #: once, under its current status, so the inner counts of a name sum to
    #: ``tools[name]``. Kept in the summary (not only in ``events``) so error
    #: rates survive the event caps and need no reparse. Bounded like ``tools``:
    #: the same names, at most four statuses each.
    tool_status: dict[str, dict[str, int]] = Field(default_factory=dict)
    files: dict[str, int] = Field(default_factory=dict)
    prompt_preview: str | None = None
    prompt_count: int = 0
    request_count: int = 0
    #: One compact record per request (time, model, buckets): windows and rates
    #: without reparsing; sums to ``usage``/``model_usage`` exactly (see ``requests.py``).
    requests: RequestLog = Field(default_factory=RequestLog)
    cost_usd: float | None = None
    #: Models whose price genai-prices does not know (their cost is not in cost_usd).
    unpriced_models: list[str] = Field(default_factory=list)
    events: SessionEvents | None = None
    diagnostics: ParseDiagnostics = Field(default_factory=ParseDiagnostics)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def display_id(self) -> str:
        return make_display_id(self.agent_type, self.session_id)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> int | None:
        if self.start_timestamp_ms is None or self.end_timestamp_ms is None:
            return None
        return max(0, self.end_timestamp_ms - self.start_timestamp_ms)

    @property
    def total_with_subagents(self) -> TokenUsage:
        return self.usage + self.subagent_usage

    @property
    def is_subagent(self) -> bool:
        return self.parent_session_id is not None
