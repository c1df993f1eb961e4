"""Codex CLI rollouts: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl``.

A rollout is append-only JSONL of ``{timestamp, type, payload}`` lines (builds
before 2025-09 wrote a bare meta object, then bare response items). Three
things make it harder than it looks:

- Usage is a *cumulative* per-thread total, re-emitted many times (``token_count``
  events, plus per-response ``token_usage_record`` lines in newer builds). Both
  are read as one stream of running totals: only an increase over the previous
  distinct total is charged, to the model in force, so re-emits, rate-limit-only
  events and the two line kinds never add up twice, and a model switch charges
  each model its own share (AgentSight reports 1100 + 2200 as 3300).
- Sub-agent and forked rollouts start by replaying the parent's lines, stamped
  at (or before) the child's creation second. The replay seeds the running
  total but is never counted, nor are its prompts and tool calls.
- The typed prompt is the ``user_message`` event; user-role response items also
  carry injected context (environment, AGENTS.md, skills…), so they are used
  only by files that have no ``user_message`` events at all.

Model fallback: a usage event that names its own model (``info.model``, written
by some builds and by ccusage's fixtures) is charged to it; otherwise to the
latest ``turn_context.model``; files with neither are charged to ``"unknown"``
rather than to a guessed model, so the cost says "unpriced" instead of lying.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from pathlib import Path
from typing import Any

import orjson

from ..model import (
    AgentSession,
    AgentType,
    FileAccess,
    PlanStep,
    ToolCategory,
    ToolPath,
    ToolStatus,
)
from ..text import parse_ts_ms
from ..tools import classify_tool, resolve_path, shell_paths, shell_script
from .base import ParseContext, SessionFile, SessionParser, future_limit_ms
from .walk import TreeRules, walk_tree

__all__ = ["CodexParser", "find_session_files", "is_injected", "patch_paths"]

# Running totals: (input, cached input, output, reasoning output, total, cache write input).
_Totals = tuple[int, int, int, int, int, int]
_USAGE_KEYS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
    "cache_write_input_tokens",
)

_KNOWN_USAGE = frozenset(_USAGE_KEYS)
# Fields of the usage-bearing payloads (0.16x-0.17x); others are counted in
# ``diagnostics.unknown_fields``.
_KNOWN_INFO = frozenset(
    [
        "last_token_usage",
        "last_usage_includes_reasoning",
        "model",
        "model_context_window",
        "model_name",
        "total_token_usage",
    ]
)
_KNOWN_USAGE_RECORD = frozenset(
    [
        "model",
        "response_id",
        "root_turn_id",
        "session_id",
        "thread_id",
        "thread_token_usage",
        "turn_id",
        "turn_token_usage",
        "usage",
    ]
)

_TS_PREFIX_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EXIT_RE = re.compile(r"^(?:Exit code:|Process exited with code)\s*(-?\d+)", re.MULTILINE)
_CWD_RE = re.compile(r"<cwd>([^<\n]+)</cwd>")

# Byte-level prefilter tables (summary mode decodes only what it needs).
_WANTED_KINDS = frozenset({b"session_meta", b"turn_context", b"token_usage_record"})
_IGNORED_KINDS = frozenset({b"world_state", b"compacted"})
_CALL_ITEMS = frozenset(
    {b"function_call", b"custom_tool_call", b"local_shell_call", b"web_search_call", b"tool_search_call"}
)
_OUTPUT_ITEMS = frozenset({b"function_call_output", b"custom_tool_call_output", b"tool_search_output"})
_ITEM_KINDS = (
    _CALL_ITEMS
    | _OUTPUT_ITEMS
    | {b"message", b"reasoning", b"ghost_snapshot", b"compaction", b"image_generation_call", b"other"}
)
_DETAIL_EVENTS = frozenset({b"item_completed", b"exec_command_end", b"patch_apply_end", b"mcp_tool_call_end"})

#: ``_triage`` verdicts.
_DECODE, _SKIP, _UNKNOWN, _IMAGE = object(), object(), object(), object()

_SHELL_TOOLS = frozenset({"shell", "shell_command", "exec_command", "container.exec", "local_shell"})

#: Codex's contextual user fragments (``contextual_user_message.rs``): start and end markers.
_INJECTED = (
    ("# agents.md instructions for ", "</instructions>"),
    ("<user_instructions>", "</user_instructions>"),
    ("<environment_context>", "</environment_context>"),
    ("<skill>", "</skill>"),
    ("<user_shell_command>", "</user_shell_command>"),
    ("<turn_aborted>", "</turn_aborted>"),
    ("<subagent_notification>", "</subagent_notification>"),
    ("<additional_context>", "</additional_context>"),
)
_PATCH_HEADERS = (
    ("*** Add File: ", FileAccess.CREATE),
    ("*** Delete File: ", FileAccess.DELETE),
    ("*** Update File: ", FileAccess.WRITE),
)


# --------------------------------------------------------------------- discovery
def _take(name: str, _rel: tuple[str, ...]) -> bool:
    return name.startswith("rollout-") and name.endswith((".jsonl", ".jsonl.zst"))


def _enter(_name: str, _rel: tuple[str, ...]) -> bool:
    return True  # YYYY/MM/DD (any folder: the layout changed before)


_TREES = (
    ("sessions", TreeRules(_take, _enter, depth=4)),
    ("archived_sessions", TreeRules(_take, _enter, depth=0)),
)


def find_session_files(root: Path) -> list[SessionFile]:
    """Rollouts under ``root/sessions`` (any depth ≤ 4) and flat ``root/archived_sessions``.

    ``history.jsonl``, ``session_index.jsonl``, ``*.sqlite`` and the rest of the
    home are outside both trees, so never sessions. A plain ``.jsonl`` wins
    over its ``.jsonl.zst`` twin, and a name present in both roots is read from
    ``sessions/`` (where a live session is appended).
    """
    best: dict[str, tuple[tuple[int, int], Path, str | None]] = {}
    for place, (folder, rules) in enumerate(_TREES):
        for path, _rel in walk_tree(root / folder, rules):
            name = path.name
            if name.endswith(".jsonl"):
                key, codec, rank = name, None, (place, 0)
            else:
                key, codec, rank = name[: -len(".zst")], "zst", (place, 1)
            current = best.get(key)
            if current is None or rank < current[0]:
                best[key] = (rank, path, codec)
    files = [
        SessionFile(
            path=path, agent_type=AgentType.CODEX, parser_cls=CodexParser, priority=1 - rank[0], codec=codec
        )
        for rank, path, codec in best.values()
    ]
    files.sort(key=lambda f: str(f.path))
    return files


# ------------------------------------------------------------------------ parser
class CodexParser(SessionParser):
    agent_type = AgentType.CODEX

    def __init__(
        self, path: str | Path, *, detail: bool = False, context: ParseContext | None = None
    ) -> None:
        super().__init__(path, detail=detail, context=context)
        self._cwd: str | None = None  # the current turn's cwd (tool paths resolve against it)
        self._model: str | None = None  # the model in force
        self._prev: _Totals | None = None  # last distinct running total
        self._metas = 0
        self._creation_sec: str | None = None  # "YYYY-MM-DDThh:mm:ss" of the first session_meta
        self._replaying = False
        self._user_events = False  # the file writes user_message events
        self._fallback_prompts = False  # prompts taken from user response items so far
        self._line_ts: str | None = None  # raw timestamp of the line being fed, read from bytes
        self._max_ts = ""
        #: ``_max_ts`` is an hour or more before the future limit, so a later time in its hour is plausible.
        self._max_in_past = False
        self._flushed_ts = ""
        self._exit_codes: dict[str, int] = {}

    @classmethod
    def default_session_id(cls, path: Path) -> str:
        """The UUID after the timestamp in ``rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl[.zst]``."""
        name = path.name
        for suffix in (".jsonl.zst", ".jsonl"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        if not name.startswith("rollout-"):
            return name
        rest = name[len("rollout-") :]
        m = _TS_PREFIX_RE.match(rest)
        if m:
            rest = rest[m.end() :]
        return rest or name

    # -------------------------------------------------------------- prefilter
    def feed_line(self, line: bytes) -> None:
        """Count the line, take its time (decoded or not), then act on ``_triage``'s verdict."""
        self._lines += 1
        ts = _head_ts(line)
        self._line_ts = ts
        if ts is not None:
            self._observe_ts(ts)
        verdict, kind = self._triage(line)
        if verdict is _DECODE:
            self.decode_line(line)
        elif verdict is _UNKNOWN:
            self.diag.unknown(kind.decode("utf-8", "replace"))
        elif verdict is _IMAGE:
            # Lines carry the whole image: count the call from bytes, never decode it.
            ts_ms = parse_ts_ms(ts)
            self.start_tool(
                None, "image_generation", category=ToolCategory.TOOL, ts_ms=ts_ms, status=ToolStatus.OBSERVED
            )

    def wants(self, line: bytes) -> bool:
        return self._triage(line)[0] is _DECODE

    def _triage(self, line: bytes) -> tuple[object, bytes]:
        """Decode only lines that can change the result; the CLI writes compact JSON.

        Reasoning, developer/assistant messages, world state and (in summary mode)
        tool outputs are most of a rollout's bytes and never matter for usage,
        counts or prompts. Unknown envelope types are counted, undecoded, and
        image generation calls counted from their bytes (by ``feed_line``: this
        only reads state). Anything laid out unexpectedly is decoded, to be safe.
        """
        head = line[:200]
        i = head.find(b'"type":"')
        if i < 0:
            return _DECODE, b""
        j = head.find(b'"', i + 8)
        if j < 0:
            return _DECODE, b""
        kind = head[i + 8 : j]
        if kind in (b"response_item", b"event_msg"):
            if not head.startswith(b',"payload":{"type":"', j + 1):
                return _DECODE, kind
            start = j + 21
            end = head.find(b'"', start)
            if end < 0:
                return _DECODE, kind
            sub = head[start:end]
            return (
                self._triage_item(sub, line) if kind == b"response_item" else self._triage_event(sub, line)
            ), sub
        if kind in _WANTED_KINDS:
            return _DECODE, kind
        if kind in _IGNORED_KINDS:
            return _SKIP, kind
        if kind in _ITEM_KINDS:  # a pre-2025-09 bare response item
            return self._triage_item(kind, line), kind
        return _UNKNOWN, kind

    def _triage_item(self, sub: bytes, line: bytes) -> object:
        if sub in _CALL_ITEMS:
            return _DECODE
        if sub == b"message":
            r = line.find(b'"role":"', 0, 600)
            if r < 0:
                return _DECODE
            return _DECODE if line.startswith(b'user"', r + 8) and not self._user_events else _SKIP
        if sub in _OUTPUT_ITEMS:
            return _DECODE
        if sub == b"image_generation_call" and not self._replaying:
            return _IMAGE
        return _SKIP

    def _triage_event(self, sub: bytes, line: bytes) -> object:
        if sub == b"token_count":
            return _DECODE if b'"info":null' not in line else _SKIP
        if sub == b"user_message":
            return _DECODE
        return _DECODE if sub in _DETAIL_EVENTS else _SKIP

    def _observe_ts(self, ts: str) -> None:
        """Every line's time, decoded or not: end time, and where a replay ends.

        The end time is the largest time *string*, so a junk one (``9999-99-99``)
        must never win: it would freeze the end time for good. A new hour is
        checked by parsing it, a later time within the same hour by its clock digits.
        """
        if len(ts) < 19 or ts[10:11] != "T":
            return
        if ts > self._max_ts:
            if ts[:13] == self._max_ts[:13] and self._max_in_past:
                # Same hour as a time already in the past: plausible if its clock digits are.
                if not (ts[13] == ts[16] == ":" and ts[14:16] <= "59" and ts[17:19] <= "60"):
                    return
            else:
                ms = parse_ts_ms(ts)
                if ms is None or self.future_time(ms):
                    return
                # Any later time in the same hour is then at most an hour later: still plausible.
                self._max_in_past = ms + 3_600_000 <= future_limit_ms()
            self._max_ts = ts
        if self._replaying and self._creation_sec is not None and ts[:19] > self._creation_sec:
            self._replaying = False

    def snapshot(self) -> AgentSession:
        if self._max_ts > self._flushed_ts:
            self.see_timestamp(parse_ts_ms(self._max_ts))
            self._flushed_ts = self._max_ts
        return super().snapshot()

    def finalize(self) -> None:
        s = self.session
        if s.conversation_id is None and _UUID_RE.fullmatch(s.session_id):
            s.conversation_id = s.session_id

    # --------------------------------------------------------------- records
    def handle(self, record: dict[str, Any]) -> None:
        ts_raw = record.get("timestamp")
        if self._line_ts is None and isinstance(ts_raw, str):
            self._observe_ts(ts_raw)
        ts_ms = parse_ts_ms(ts_raw)
        if ts_ms is None and ts_raw is not None:
            self.bad_time(ts_raw)
        kind = record.get("type")
        payload = record.get("payload")
        if not isinstance(payload, dict):
            if payload is not None:
                self.bad_type(payload, "payload")
                return
            self._handle_bare(record, kind, ts_ms)
            return
        replay = self._replaying
        if not replay:
            self.see_timestamp(ts_ms)
        if kind == "session_meta":
            self._meta(payload, ts_raw if isinstance(ts_raw, str) else None)
        elif kind == "turn_context":
            self._turn_context(payload, replay)
        elif kind == "event_msg":
            self._event(payload, ts_ms, replay)
        elif kind == "response_item":
            self._item(payload, ts_ms, replay)
        elif kind == "token_usage_record":
            self._usage_record(payload, ts_ms, replay)
        elif kind not in ("world_state", "compacted"):
            self.diag.unknown(str(kind))

    def _handle_bare(self, record: dict[str, Any], kind: Any, ts_ms: int | None) -> None:
        """Pre-2025-09 files: a meta object, then response items without an envelope."""
        if kind is None:
            if self._metas == 0 and isinstance(record.get("id"), str):
                self.see_timestamp(ts_ms)
                self._meta(record, None)
            return  # also ``{"record_type": "state"}`` lines
        if isinstance(kind, str) and kind.encode() in _ITEM_KINDS:
            self.see_timestamp(ts_ms)
            self._item(record, ts_ms, False)
        else:
            self.diag.unknown(str(kind))

    def _meta(self, payload: dict[str, Any], ts_raw: str | None) -> None:
        self._metas += 1
        s = self.session
        sid = _str(payload.get("id"))
        stamp = ts_raw or _str(payload.get("timestamp"))
        if self._metas > 1:
            # The parent's meta, replayed into a sub-agent or fork at its creation.
            if sid and sid != s.session_id and self._in_creation_second(stamp):
                self._replaying = True
                if s.parent_session_id is None:
                    s.parent_session_id = sid
            return
        if sid:
            s.session_id = sid
            s.conversation_id = sid
        cwd = _str(payload.get("cwd"))
        if cwd:
            s.cwd = self._cwd = cwd
        s.version = _str(payload.get("cli_version")) or s.version
        git = payload.get("git")
        if isinstance(git, dict):
            s.git_branch = _str(git.get("branch")) or s.git_branch
        parent = _parent_id(payload)
        if parent:
            s.parent_session_id = parent
        if stamp and len(stamp) >= 19:
            self._creation_sec = stamp[:19]
        self._replaying = parent is not None
        if ts_raw is None:
            self.see_timestamp(parse_ts_ms(payload.get("timestamp")))

    def _in_creation_second(self, stamp: str | None) -> bool:
        if stamp is None or self._creation_sec is None:
            return True
        return stamp[:19] <= self._creation_sec

    def _turn_context(self, payload: dict[str, Any], replay: bool) -> None:
        model = _str(payload.get("model"))
        if model:
            self._model = model
            if not replay:
                self.see_model(model)
        cwd = _str(payload.get("cwd"))
        if cwd and not replay:
            self._cwd = cwd
            if self.session.cwd is None:
                self.session.cwd = cwd

    # ----------------------------------------------------------------- usage
    def _token_count(self, payload: dict[str, Any], ts_ms: int | None, replay: bool) -> None:
        info = payload.get("info")
        if not isinstance(info, dict):
            if info is not None:
                self.bad_type(info, "info")
            return  # rate limits only
        self.check_fields("codex.token_count.info", info, _KNOWN_INFO)
        total = self._totals(info.get("total_token_usage"), "total_token_usage", self._prev)
        last = self._totals(info.get("last_token_usage"), "last_token_usage")
        model = _str(info.get("model")) or _str(payload.get("model")) or _str(info.get("model_name"))
        if model:
            self._model = model
        if replay:
            if total is not None:
                self._prev = total
            return
        self._advance(total, last, ts_ms, None)

    def _usage_record(self, payload: dict[str, Any], ts_ms: int | None, replay: bool) -> None:
        self.check_fields("codex.token_usage_record", payload, _KNOWN_USAGE_RECORD)
        thread = self._totals(payload.get("thread_token_usage"), "thread_token_usage", self._prev)
        usage = self._totals(payload.get("usage"), "usage")
        model = _str(payload.get("model"))
        if model:
            self._model = model
        if replay:
            if thread is not None:
                self._prev = thread
            return
        if thread is None and usage is not None:
            base = self._prev or (0, 0, 0, 0, 0, 0)
            thread = _plus(base, usage)
        self._advance(thread, usage, ts_ms, _str(payload.get("response_id")))

    def _advance(
        self, total: _Totals | None, last: _Totals | None, ts_ms: int | None, rid: str | None
    ) -> None:
        """Charge the increase of the running total (the rule of FORMATS §1 "Usage and totals")."""
        prev = self._prev
        if total is None:
            delta = last  # a per-call figure only: nothing to dedupe against
        elif total == prev:
            return  # re-emitted unchanged total
        elif prev is None:
            # A first total above its own last call already holds usage recorded elsewhere
            # (a fork that did not replay its parent): charge only the call itself.
            delta = (
                last if last is not None and all(a <= b for a, b in zip(last, total, strict=True)) else total
            )
        elif any(a < b for a, b in zip(total, prev, strict=True)):
            delta = last if last is not None else total  # reset by a resume or compaction
        else:
            delta = _minus(total, prev)
        if total is not None:
            self._prev = total
        if delta is None:
            return
        counts = _to_ir(delta)
        if any(counts):
            self.record_counts(None, self._model, counts, ts_ms, rid)

    def _totals(self, obj: Any, name: str, carry: _Totals | None = None) -> _Totals | None:
        """A usage object as a tuple; None when absent.

        A count that is not usable (negative, absurd, not a number) is noted and
        replaced by ``carry``'s value (the previous running total), or 0: these
        are running totals, and a zeroed field would look like a reset and make
        the next good total charge that field's whole history again. A usage
        object of the wrong type stands for ``carry`` (no change) for the same reason.
        """
        if not isinstance(obj, dict):
            if obj is not None:
                self.bad_type(obj, name)
                return carry
            return None
        self.check_fields("codex.usage", obj, _KNOWN_USAGE)
        out: list[int] = []
        for i, key in enumerate(_USAGE_KEYS):
            value = obj.get(key)
            n = self.count(value, f"{name}.{key}")
            if n == 0 and value is not None and value not in (0, "0") and carry is not None:
                n = carry[i]
            out.append(n)
        return (out[0], out[1], out[2], out[3], out[4], out[5])

    # --------------------------------------------------------------- prompts
    def _user_message(self, payload: dict[str, Any], ts_ms: int | None, replay: bool) -> None:
        if not self._user_events:
            self._user_events = True
            if self._fallback_prompts:
                self._retract_fallback_prompts()
        if replay:
            return
        kind = payload.get("kind")
        if isinstance(kind, str) and kind not in ("", "plain"):
            return  # old builds tagged injected instructions/context events this way
        text = payload.get("message")
        if isinstance(text, str) and not is_injected(text):
            self.add_prompt(text, ts_ms)

    def _retract_fallback_prompts(self) -> None:
        """Prompts read from response items before the first user_message event are its twins."""
        s = self.session
        s.prompt_count = 0
        s.prompt_preview = None
        if s.events is not None:
            s.events.prompts.clear()
            for tool in s.events.tools:
                tool.prompt_index = None
        self._fallback_prompts = False

    def _user_item(self, payload: dict[str, Any], ts_ms: int | None) -> None:
        content = payload.get("content")
        if self._user_events or not isinstance(content, list):
            return
        texts: list[str] = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("input_text", "text"):
                continue
            text = part.get("text")
            if not isinstance(text, str):
                continue
            if is_injected(text):
                if self.session.cwd is None and (m := _CWD_RE.search(text)):
                    self.session.cwd = self._cwd = m.group(1).strip()
                continue
            texts.append(text)
        if texts:
            self.add_prompt("\n".join(texts), ts_ms)
            self._fallback_prompts = True

    # ----------------------------------------------------------------- tools
    def _event(self, payload: dict[str, Any], ts_ms: int | None, replay: bool) -> None:
        t = payload.get("type")
        if t == "token_count":
            self._token_count(payload, ts_ms, replay)
        elif t == "user_message":
            self._user_message(payload, ts_ms, replay)
        elif replay:
            return
        elif t == "exec_command_end":
            out = payload.get("aggregated_output") or payload.get("stdout") or payload.get("stderr")
            self._finish_extended(payload.get("call_id"), out, payload.get("exit_code"), None, ts_ms)
        elif t == "item_completed":
            item = payload.get("item")
            if isinstance(item, dict) and item.get("type") == "CommandExecution":
                self._finish_extended(
                    item.get("id"), item.get("aggregated_output"), item.get("exit_code"), None, ts_ms
                )
        elif t == "patch_apply_end":
            ok = payload.get("success")
            out = payload.get("stdout") or payload.get("stderr")
            self._finish_extended(payload.get("call_id"), out, None, ok is False, ts_ms)
        elif t == "mcp_tool_call_end":
            result = payload.get("result")
            failed = isinstance(result, dict) and "Err" in result
            self._finish_extended(payload.get("call_id"), result, None, failed, ts_ms)

    def _finish_extended(
        self, call_id: Any, output: Any, exit_code: Any, is_error: bool | None, ts_ms: int | None
    ) -> None:
        if not isinstance(call_id, str):
            return
        code = exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None
        if code is not None and len(self._exit_codes) < 10_000:
            self._exit_codes[call_id] = code
        self.finish_tool(call_id, output, is_error, code, ts_ms)

    def _item(self, payload: dict[str, Any], ts_ms: int | None, replay: bool) -> None:
        t = payload.get("type")
        if replay:
            return
        if t == "message":
            if payload.get("role") == "user":
                self._user_item(payload, ts_ms)
        elif t == "function_call":
            raw = payload.get("arguments")
            args = _json_object(raw)
            name = _str(payload.get("name")) or "function"
            self._start_call(_call_id(payload), name, args, raw, ts_ms)
        elif t == "custom_tool_call":
            raw = payload.get("input")
            name = _str(payload.get("name")) or "custom_tool"
            self._start_call(_call_id(payload), name, None, raw, ts_ms)
        elif t == "local_shell_call":
            action = payload.get("action")
            if not isinstance(action, dict):
                action = {}
            args = {"command": action.get("command"), "workdir": action.get("working_directory")}
            self._start_call(_call_id(payload), "local_shell", args, action, ts_ms)
        elif t == "web_search_call":
            self._web_search(payload, ts_ms)
        elif t == "tool_search_call":
            raw = payload.get("arguments")
            self._start_call(_call_id(payload), "tool_search", _json_object(raw), raw, ts_ms)
        elif t in ("function_call_output", "custom_tool_call_output", "tool_search_output"):
            call_id = _str(payload.get("call_id"))
            if call_id:
                text, code, failed = _read_output(payload.get("output"))
                if code is None:
                    code = self._exit_codes.get(call_id)
                self.finish_tool(call_id, text, failed, code, ts_ms)

    def _start_call(
        self, call_id: str | None, name: str, args: dict[str, Any] | None, raw: Any, ts_ms: int | None
    ) -> None:
        category = classify_tool(name)
        if category is ToolCategory.TOOL and "__" in name:
            category = ToolCategory.MCP  # Codex names MCP tools ``server__tool``
        a = args or {}
        workdir = _str(a.get("workdir")) or _str(a.get("working_directory"))
        base = resolve_path(workdir, self._cwd) if workdir else self._cwd
        command: str | None = None
        paths: list[ToolPath] = []
        if name == "apply_patch":
            patch = a.get("input") or a.get("patch") if args is not None else raw
            if isinstance(patch, str):
                paths = patch_paths(patch, base)
                command = _patch_summary(patch)
        elif name in _SHELL_TOOLS:
            command, paths = _shell_call(a.get("command") or a.get("cmd"), base)
        elif name == "write_stdin":
            command = _str(a.get("chars"))
        elif name == "view_image":
            p = _str(a.get("path"))
            if p:
                command = p
                paths = [ToolPath(path=resolve_path(p, base), access=FileAccess.READ)]
        elif name == "update_plan":
            command = self._plan(a)
        elif isinstance(raw, str):
            command = raw
        self.start_tool(
            call_id, name, category=category, command=command, input=raw, paths=paths, ts_ms=ts_ms
        )

    def _web_search(self, payload: dict[str, Any], ts_ms: int | None) -> None:
        action = payload.get("action")
        query: str | None = None
        if isinstance(action, dict):
            query = _str(action.get("query")) or _str(action.get("url")) or _str(action.get("pattern"))
            queries = action.get("queries")
            if query is None and isinstance(queries, list):
                query = "; ".join(q for q in queries if isinstance(q, str)) or None
        self.start_tool(
            _str(payload.get("id")),
            "web_search",
            category=ToolCategory.NETWORK,
            command=query,
            input=action,
            ts_ms=ts_ms,
            status=ToolStatus.OBSERVED,
        )

    def _plan(self, args: dict[str, Any]) -> str | None:
        plan = args.get("plan")
        if not isinstance(plan, list):
            return _str(args.get("explanation"))
        steps = [
            PlanStep(step=str(p.get("step", "")), status=_str(p.get("status")))
            for p in plan
            if isinstance(p, dict) and p.get("step")
        ]
        if self.detail and self.session.events is not None:
            self.session.events.plan = steps
        return _str(args.get("explanation")) or (steps[0].step if steps else None)


# ---------------------------------------------------------------------- helpers
def _head_ts(line: bytes) -> str | None:
    """The raw ``timestamp`` a line opens with (every envelope line does), read from bytes."""
    if line.startswith(b'{"timestamp":"'):
        end = line.find(b'"', 14, 200)
        if end > 14:
            return line[14:end].decode("ascii", "replace")
    return None


def is_injected(text: str) -> bool:
    """True for context Codex injects as a user message (never a prompt the user typed)."""
    t = text.strip()
    low_head = t[:40].lower()
    low_tail = t[-40:].lower()
    return any(low_head.startswith(a) and low_tail.endswith(b) for a, b in _INJECTED)


def patch_paths(patch: str, cwd: str | None) -> list[ToolPath]:
    """Files an ``apply_patch`` body touches, from its ``*** Add/Update/Delete File:`` headers."""
    out: list[ToolPath] = []
    last_update: int | None = None
    for raw in patch.splitlines():
        line = raw.rstrip()
        if line.startswith("*** Move to: ") and last_update is not None:
            old = out[last_update]
            new = resolve_path(line[len("*** Move to: ") :].strip(), cwd)
            out[last_update] = ToolPath(path=new, access=FileAccess.RENAME, previous_path=old.path)
            last_update = None
            continue
        for prefix, access in _PATCH_HEADERS:
            if line.startswith(prefix):
                target = line[len(prefix) :].strip()
                if target:
                    out.append(ToolPath(path=resolve_path(target, cwd), access=access))
                    last_update = len(out) - 1 if access is FileAccess.WRITE else None
                break
    seen: set[tuple[str, FileAccess]] = set()
    unique: list[ToolPath] = []
    for p in out:
        if (p.path, p.access) not in seen:
            seen.add((p.path, p.access))
            unique.append(p)
    return unique


def _patch_summary(patch: str) -> str | None:
    heads = [
        line[4:].replace(" File:", "").strip()
        for line in patch.splitlines()
        if line.startswith(("*** Add File:", "*** Update File:", "*** Delete File:", "*** Move to:"))
    ]
    return "; ".join(heads) or None


def _shell_call(command: Any, base: str | None) -> tuple[str | None, list[ToolPath]]:
    """Display text and files of a shell tool's command (argv list or script string)."""
    if isinstance(command, list):
        argv = [a for a in command if isinstance(a, str)]
        if not argv:
            return None, []
        if posixpath.basename(argv[0]) in ("apply_patch", "applypatch") and len(argv) >= 2:
            return _patch_summary(argv[1]) or "apply_patch", patch_paths(argv[1], base)
        script = shell_script(argv)
        if script is not None:
            if "*** Begin Patch" in script:
                return script, patch_paths(script, base)
            return script, shell_paths(script, base)
        return shlex.join(argv), shell_paths(argv, base)
    if isinstance(command, str):
        if "*** Begin Patch" in command:
            return command, patch_paths(command, base)
        return command, shell_paths(command, base)
    return None, []


def _read_output(output: Any) -> tuple[str | None, int | None, bool | None]:
    """Text, exit code and failure flag of a tool result, in any of its stored shapes."""
    failed: bool | None = None
    if isinstance(output, dict):
        success = output.get("success")
        failed = (success is False) if isinstance(success, bool) else None
        output = output.get("content", output.get("output"))
    text: str | None
    if isinstance(output, str):
        text = output
    elif isinstance(output, list):
        text = "\n".join(
            str(part.get("text")) if isinstance(part, dict) and part.get("text") is not None else "[content]"
            for part in output
        )
    elif output is None:
        text = None
    else:
        text = str(output)
    code: int | None = None
    if text and text.startswith("{") and '"metadata"' in text:
        obj = _json_object(text)
        if obj is not None:
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                ec = meta.get("exit_code")
                code = ec if isinstance(ec, int) and not isinstance(ec, bool) else None
            inner = obj.get("output")
            if isinstance(inner, str):
                text = inner
    if code is None and text:
        m = _EXIT_RE.search(text[:1000])
        if m:
            code = int(m.group(1))
    return text, code, failed


def _minus(a: _Totals, b: _Totals) -> _Totals:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3], a[4] - b[4], a[5] - b[5])


def _plus(a: _Totals, b: _Totals) -> _Totals:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4], a[5] + b[5])


def _to_ir(t: _Totals) -> tuple[int, int, int, int, int]:
    """The IR's buckets (``TokenUsage.as_tuple`` order) of a Codex usage tuple.

    Codex counts cached (and cache-write) input inside input, reasoning inside output.
    """
    inp, cached, out, reasoning, _total, cache_write = t
    cached = min(cached, inp)
    cache_write = min(cache_write, inp - cached)
    return (inp - cached - cache_write, out, cache_write, cached, reasoning)


def _parent_id(meta: dict[str, Any]) -> str | None:
    source = meta.get("source")
    if isinstance(source, dict):
        sub = source.get("subagent")
        if isinstance(sub, dict):
            spawn = sub.get("thread_spawn")
            if isinstance(spawn, dict):
                parent = _str(spawn.get("parent_thread_id"))
                if parent:
                    return parent
    return _str(meta.get("forked_from_id"))


def _call_id(payload: dict[str, Any]) -> str | None:
    return _str(payload.get("call_id")) or _str(payload.get("id"))


def _json_object(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
