"""Gemini CLI sessions: ``tmp/<project>/chats/session-*.jsonl`` (current) and ``.json`` (legacy).

The current CLI appends four kinds of lines, told apart by their keys: a
metadata header (``sessionId``, ``projectHash``, ``startTime``…; a resume
appends another), message lines (a string ``id``; the *same id is appended
again* whenever the message changes, e.g. tokens or tool results attached),
``{"$set": {...}}`` metadata patches (``$set.messages`` replaces the CLI's
whole message list: a checkpoint) and ``{"$rewindTo": id}``. Legacy CLIs
rewrote one ``ConversationRecord`` document whole.

What we count, and why:

* **Usage is spend.** Each ``gemini`` message id contributes its *last*
  ``tokens`` (``record_usage`` keyed by the id replaces, never adds). A later
  write without tokens does not take an earlier contribution back: the CLI
  never un-bills a message, it only attaches tokens late (``queuedTokens``).
* **Rewinds and checkpoints change the conversation, not the history.**
  ``$rewindTo`` and a ``$set.messages`` that drops messages remove them from
  the CLI's view of the chat, but the requests were billed, the tools ran
  (files were read, commands executed) and the prompts were sent. A monitor
  reports what the agent did, so usage, tool calls, files and prompts of
  rewound or checkpointed-away messages all stay counted; counts never go
  down while a session is followed. Messages a checkpoint carries are merged
  by id like any other write, so nothing is counted twice.
* **Tool calls** live inside the ``gemini`` message (call and result in one
  record, ``toolCalls[]``) and are counted once per call id however often the
  message is rewritten. The CLI stamps a tool record when it records the
  *completed* call, so a call starts at its message's time (when the model
  asked for it) and ends at the tool's own ``timestamp``.
* **cwd is not in the file.** Discovery resolves the project folder through
  ``projects.json`` / ``.project_root`` / hashing known roots and passes it as
  ``ParseContext.cwd_hint``; failing that, the file's ``projectHash``
  (sha256 of the project root) is matched against known roots, header
  ``directories`` and the workspace directories the CLI lists in its
  ``<session_context>`` preamble; until one matches, the first of those
  workspace directories (the folder the CLI ran in) stands as a guess. The
  answer depends only on the lines read, never on when a snapshot is taken.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from ..model import AgentType, FileAccess, TokenUsage, ToolPath
from ..text import parse_ts_ms, to_int
from ..tools import classify_tool, resolve_path, shell_paths
from .base import ParseContext, SessionFile, SessionParser, decode_lossy
from .walk import TreeRules, note_walk_error, read_small_file, walk_tree

__all__ = [
    "GeminiLegacyParser",
    "GeminiParser",
    "find_session_files",
    "project_hash",
    "tool_paths",
    "typed_prompt",
    "usage_from_tokens",
]

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_OK_STATUSES = frozenset({"success"})
_FAIL_STATUSES = frozenset({"error", "cancelled", "canceled"})
#: ``isIgnoredUserContent`` (``core/src/utils/sessionUtils.ts``) plus compaction summaries.
_INJECTED_PREFIXES = ("<session_context>", "<hook_context>", "<state_snapshot>")
#: ``@file`` expansions are appended to the typed text in ``content`` (``displayContent`` has none).
_REFERENCED_FILES_MARK = "\n--- Content from referenced files ---"
_COMMAND_RE = re.compile(r"/([A-Za-z][\w.:-]*)(?=\s|$)")
_EXIT_CODE_RE = re.compile(r"(?m)^Exit Code: (-?\d+)")
_WORKSPACE_DIR_RE = re.compile(
    r"(?m)^[ \t]+- (/[^\n]*?)[ \t]*$|currently working in the directory: (/[^\n]*?)\s*$"
)
_GLOB_CHARS = frozenset("*?[]{}")
_FILE_ARG_KEYS = ("file_path", "absolute_path", "path")
_COMMAND_ARG_KEYS = (
    "command",
    "file_path",
    "absolute_path",
    "path",
    "dir_path",
    "pattern",
    "query",
    "url",
    "prompt",
)
_MAX_MAPPING_BYTES = 1 << 20
_LAST_UPDATED_HEAD = b'{"$set":{"lastUpdated":"'
_MAX_CANDIDATES = 32


@lru_cache(maxsize=4096)
def project_hash(root: str) -> str:
    """The CLI's ``getProjectHash``: sha256 hex of the project root as given."""
    return hashlib.sha256(root.encode("utf-8", "surrogatepass")).hexdigest()


def _ts(value: Any) -> int | None:
    """The CLI writes ISO strings only; a number here is junk, not an epoch."""
    return parse_ts_ms(value) if isinstance(value, str) else None


# Fields of a ``gemini`` message and its ``tokens`` as CLI 0.6x writes them;
# others are counted in ``diagnostics.unknown_fields``.
_KNOWN_MESSAGE = frozenset(
    [
        "content",
        "displayContent",
        "id",
        "model",
        "queuedTokens",
        "thoughts",
        "timestamp",
        "tokens",
        "toolCalls",
        "type",
    ]
)
_KNOWN_TOKENS = frozenset(["cached", "input", "output", "thoughts", "tool", "total"])


def usage_from_tokens(tokens: dict[str, Any], count: Callable[[Any, str], int] | None = None) -> TokenUsage:
    """One message's ``tokens`` in IR meaning (DESIGN §3).

    ``input`` includes ``cached`` (so our total equals the CLI's ``total``);
    tool-use prompt tokens are input, thoughts are output. Should a writer
    ever record ``cached`` beside ``input`` instead, ``total`` says so and
    nothing is subtracted.
    """
    num = count or (lambda value, _field: to_int(value))
    inp = num(tokens.get("input"), "tokens.input")
    out = num(tokens.get("output"), "tokens.output")
    cached = num(tokens.get("cached"), "tokens.cached")
    thoughts = num(tokens.get("thoughts"), "tokens.thoughts")
    tool = num(tokens.get("tool"), "tokens.tool")
    total = num(tokens.get("total"), "tokens.total")
    beside = cached > 0 and total == inp + cached + out + thoughts + tool
    fresh = inp if beside or cached > inp else inp - cached
    return TokenUsage(
        input_tokens=fresh + tool,
        output_tokens=out + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


# ------------------------------------------------------------------ discovery
def _take(name: str, rel: tuple[str, ...]) -> bool:
    if name.startswith(".") or len(rel) < 2:
        return False
    if len(rel) == 2:  # tmp/<project>/chats/session-*.json[l]
        return name.startswith("session-") and name.endswith((".json", ".jsonl"))
    return name.endswith((".json", ".jsonl"))  # chats/<parent id>/<id>.json[l]


def _enter(name: str, rel: tuple[str, ...]) -> bool:
    if name.startswith("."):
        return False
    return name == "chats" if len(rel) == 1 else True


#: ``tmp/<project>/chats/<parent id>/``: three folders deep at most.
_RULES = TreeRules(take=_take, enter=_enter, depth=3)


def find_session_files(root: Path) -> list[SessionFile]:
    """Session files under one ``.gemini`` dir: only ``tmp/<project>/chats/**``.

    ``logs.json``, ``logs/``, ``tool-outputs/``, checkpoints and the other
    files beside ``chats/`` are never sessions, and inside ``chats/`` only
    ``session-*.jsonl``/``.json`` and sub-agent ``<parent id>/<id>.jsonl``
    (or ``.json``) are taken (``*.jsonl.unreadable-*`` recovery leftovers are not).
    """
    tmp = root / "tmp"
    folders = _project_dirs(tmp)
    if not folders:
        return []
    mapped = _read_projects_json(root / "projects.json")
    declared: dict[str, str] = {}
    for name in folders:
        if name in mapped:
            continue  # its .project_root names the same root
        text = _read_small(tmp / name / ".project_root")
        if text and text.strip():
            declared[name] = text.strip()
    roots = sorted(set(mapped.values()) | set(declared.values()))
    by_hash = {project_hash(r): r for r in roots}
    known = tuple(roots)
    contexts: dict[str, tuple[ParseContext, int]] = {}
    for name in folders:
        hashed = _SHA256_RE.fullmatch(name) is not None
        cwd = mapped.get(name) or declared.get(name) or (by_hash.get(name) if hashed else None)
        # Resolved folders need no candidates: keeping their context free of the
        # root list means a new project elsewhere does not force a reparse here.
        ctx = ParseContext(cwd_hint=cwd) if cwd else ParseContext(known_roots=known)
        # A copy left in an old sha256 folder by the CLI's migration ranks below the live one.
        contexts[name] = (ctx, 0 if hashed else 1)
    out: list[SessionFile] = []
    for path, rel in walk_tree(tmp, _RULES):
        ctx, folder_rank = contexts.get(rel[0], (ParseContext(known_roots=known), 1))
        if path.name.endswith(".jsonl"):
            out.append(SessionFile(path, AgentType.GEMINI, GeminiParser, ctx, priority=2 + folder_rank))
        else:
            out.append(SessionFile(path, AgentType.GEMINI, GeminiLegacyParser, ctx, priority=folder_rank))
    return out


def _project_dirs(tmp: Path) -> list[str]:
    """Names of the project folders in ``tmp`` (real folders only: the walk reports links)."""
    try:
        with os.scandir(tmp) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        note_walk_error(tmp, exc)
        return []
    out: list[str] = []
    for e in entries:
        try:
            if not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
                out.append(e.name)
        except OSError as exc:
            note_walk_error(e.path, exc)
    return out


def _read_small(path: str | Path) -> str | None:
    """A tiny mapping file's text, or None (missing, unreadable, a symlink, suspiciously large)."""
    data = read_small_file(path, _MAX_MAPPING_BYTES)
    return None if data is None else data.decode("utf-8", errors="replace")


def _read_projects_json(path: Path) -> dict[str, str]:
    """``{"projects": {"/abs/root": "slug"}}`` reversed to slug -> root (first root wins)."""
    text = _read_small(path)
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    projects = data.get("projects") if isinstance(data, dict) else None
    out: dict[str, str] = {}
    if isinstance(projects, dict):
        for root, slug in projects.items():
            if isinstance(root, str) and root and isinstance(slug, str) and slug:
                out.setdefault(slug, root)
    return out


# -------------------------------------------------------------------- parsing
class GeminiParser(SessionParser):
    """Append-only ``session-*.jsonl`` (and sub-agent ``<parent>/<id>.jsonl``)."""

    agent_type = AgentType.GEMINI

    def __init__(
        self, path: str | Path, *, detail: bool = False, context: ParseContext | None = None
    ) -> None:
        super().__init__(path, detail=detail, context=context)
        self._project_hash: str | None = None
        #: Paths the file itself names as workspace roots (header ``directories``, ``<session_context>``).
        self._candidates: list[str] = []
        self._resolved_for: tuple[str | None, int] | None = None
        self._cwd_guessed = False
        #: User message ids already judged prompt or not (a re-write is not a new prompt).
        self._user_ids: set[str] = set()
        #: Digests of prompts recorded, so a checkpoint re-listing one under a new id adds nothing.
        self._prompt_digests: set[bytes] = set()
        p = Path(self.path)
        if p.parent.name != "chats" and p.parent.parent.name == "chats":
            self.session.parent_session_id = p.parent.name
        if self.context.cwd_hint:
            self.session.cwd = self.context.cwd_hint

    @classmethod
    def default_session_id(cls, path: Path) -> str:
        """Until the header is read: the 8-char id in ``session-<time>-<id8>``, else the stem."""
        stem = path.name.split(".", 1)[0]
        if stem.startswith("session-"):
            tail = stem.rsplit("-", 1)[-1]
            if tail:
                return tail
        return stem

    def feed_line(self, line: bytes) -> None:
        # A third of the lines are ``{"$set":{"lastUpdated":"<iso>"}}``: take the time without decoding.
        if line.startswith(_LAST_UPDATED_HEAD) and line.endswith(b'"}}') and len(line) < 80:
            ts = _ts(line[len(_LAST_UPDATED_HEAD) : -3].decode("ascii", "replace"))
            if ts is not None:
                self._lines += 1
                self.see_timestamp(ts)
                self._dirty = True
                return
        super().feed_line(line)

    def wants(self, line: bytes) -> bool:
        # A tool-response turn (``type:user`` whose content opens with a
        # functionResponse) repeats results the gemini message already holds,
        # is never a prompt, and is the biggest line kind: skip it undecoded.
        # A following ``$set.lastUpdated`` carries its time.
        head = line[:320]
        return not (b'"type":"user"' in head and b'"content":[{"functionResponse":' in head)

    def handle(self, record: dict[str, Any]) -> None:
        if "$rewindTo" in record:
            return  # see the module docstring: history stays counted
        if isinstance(record.get("id"), str):
            self._message(record, from_checkpoint=False)
            return
        patch = record.get("$set")
        if isinstance(patch, dict):
            self._metadata(patch, checkpoint=True)
            return
        if isinstance(record.get("sessionId"), str) or isinstance(record.get("projectHash"), str):
            self._metadata(record, checkpoint=False)
            return
        dollar = next((k for k in record if isinstance(k, str) and k.startswith("$")), None)
        rtype = record.get("type")
        self.diag.unknown(dollar or (rtype if isinstance(rtype, str) else "record"))

    # ------------------------------------------------------------- records
    def _metadata(self, rec: dict[str, Any], *, checkpoint: bool) -> None:
        """A header, a ``$set`` patch, or a whole legacy document (all partial ConversationRecords)."""
        s = self.session
        sid = rec.get("sessionId")
        if isinstance(sid, str) and sid:
            s.session_id = sid
        ph = rec.get("projectHash")
        if isinstance(ph, str) and ph:
            self._project_hash = ph.strip().lower()
        self.see_timestamp(_ts(rec.get("startTime")))
        self.see_timestamp(_ts(rec.get("lastUpdated")))
        version = rec.get("version") or rec.get("cliVersion")
        if isinstance(version, str) and version:
            s.version = version
        dirs = rec.get("directories")
        if isinstance(dirs, list):
            for d in dirs:
                self._add_candidate(d)
        messages = rec.get("messages")
        if isinstance(messages, list):
            for msg in messages:
                if isinstance(msg, dict) and isinstance(msg.get("id"), str):
                    self._message(msg, from_checkpoint=checkpoint)
                else:
                    self.bad_type(msg, "messages[]")
        elif messages is not None:
            self.bad_type(messages, "messages")
        self._resolve_cwd()

    def _message(self, msg: dict[str, Any], *, from_checkpoint: bool) -> None:
        mid: str = msg["id"]
        raw_ts = msg.get("timestamp")
        ts = _ts(raw_ts)
        if ts is None and raw_ts is not None:
            self.bad_time(raw_ts)
        self.see_timestamp(ts)
        mtype = msg.get("type")
        if mtype == "gemini":
            self._gemini(mid, msg, ts, from_checkpoint)
        elif mtype == "user":
            self._user(mid, msg, ts, from_checkpoint)
        elif mtype not in ("info", "error", "warning"):  # UI notes: only their time matters
            self.diag.unknown(f"message:{mtype}" if isinstance(mtype, str) else "message")

    def _gemini(self, mid: str, msg: dict[str, Any], ts: int | None, from_checkpoint: bool) -> None:
        self.check_fields("gemini.message", msg, _KNOWN_MESSAGE)
        model = msg.get("model")
        model = model if isinstance(model, str) and model else None
        tokens = msg.get("tokens")
        if isinstance(tokens, dict):
            self.check_fields("gemini.tokens", tokens, _KNOWN_TOKENS)
            usage = usage_from_tokens(tokens, self.count)
            key = ("gemini", mid)
            old = self.usage_of(key)
            # A rewrite that only adds tool calls repeats the tokens: nothing to re-charge.
            if old is None or old[0] != (model or "unknown") or old[1] != usage.as_tuple():
                self.record_usage(key, model, usage, ts, response_id=mid)
        else:
            if tokens is not None:
                self.bad_type(tokens, "tokens")
            self.see_model(model)
        calls = msg.get("toolCalls")
        if isinstance(calls, list):
            for i, call in enumerate(calls):
                if isinstance(call, dict):
                    self._tool(mid, i, call, ts, from_checkpoint)

    def _user(self, mid: str, msg: dict[str, Any], ts: int | None, from_checkpoint: bool) -> None:
        if self.session.cwd is None or self._cwd_guessed:
            before = len(self._candidates)
            self._collect_workspace_dirs(msg.get("content"))
            if len(self._candidates) != before:
                self._resolve_cwd()
        if mid in self._user_ids:
            return
        self._user_ids.add(mid)
        typed = typed_prompt(msg)
        if typed is None:
            return
        text, command = typed
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        if from_checkpoint and digest in self._prompt_digests:
            return
        self._prompt_digests.add(digest)
        self.add_prompt(text, ts, command)

    def _tool(
        self, mid: str, index: int, call: dict[str, Any], msg_ts: int | None, from_checkpoint: bool
    ) -> None:
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = f"{mid}#{index}"
        name = call.get("name")
        name = name if isinstance(name, str) and name else "unknown"
        args = call.get("args")
        args = args if isinstance(args, dict) else {}
        tool_ts = _ts(call.get("timestamp"))
        if self.has_tool(call_id):  # a re-written message: the call is counted already
            if from_checkpoint:
                return  # a checkpoint may carry masked results: keep the ones recorded live
        else:
            self.start_tool(
                call_id,
                name,
                category=classify_tool(name),
                command=_command_of(args, call.get("description")),
                input=args or None,
                paths=tool_paths(name, args, call.get("resultDisplay"), self.session.cwd),
                ts_ms=msg_ts if msg_ts is not None else tool_ts,
            )
        status = call.get("status")
        has_result = call.get("result") is not None
        if status in _OK_STATUSES or status in _FAIL_STATUSES or (status is None and has_result):
            output, errored = _tool_output(call)
            exit_code = None
            if name == "run_shell_command" and isinstance(output, str):
                m = _EXIT_CODE_RE.search(output)
                if m:
                    exit_code = int(m.group(1))
            failed = status in _FAIL_STATUSES or (status is None and errored)
            self.finish_tool(call_id, output, failed, exit_code, tool_ts)

    # ----------------------------------------------------------------- cwd
    def _add_candidate(self, value: Any) -> None:
        if isinstance(value, str) and value.startswith("/") and len(self._candidates) < _MAX_CANDIDATES:
            value = value.strip()
            if value not in self._candidates:
                self._candidates.append(value)

    def _collect_workspace_dirs(self, content: Any) -> None:
        for part in _as_parts(content):
            text = part if isinstance(part, str) else part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and text.lstrip().startswith("<session_context>"):
                for m in _WORKSPACE_DIR_RE.finditer(text[:20_000]):
                    self._add_candidate(m.group(1) or m.group(2))

    def _resolve_cwd(self) -> None:
        """Settle cwd from what has been read so far (never from *when* a snapshot was taken).

        A verified answer (the folder mapping, or a candidate whose sha256 is
        the file's ``projectHash``) is final; the first workspace directory the
        file names is a guess that a later verified candidate replaces.
        """
        s = self.session
        if s.cwd is not None and not self._cwd_guessed:
            return
        if self.context.cwd_hint:
            s.cwd, self._cwd_guessed = self.context.cwd_hint, False
            return
        key = (self._project_hash, len(self._candidates))
        if key == self._resolved_for:
            return
        self._resolved_for = key
        if self._project_hash:
            for cand in (*self.context.known_roots, *self._candidates):
                if project_hash(cand) == self._project_hash:
                    s.cwd, self._cwd_guessed = cand, False
                    return
        if s.cwd is None and self._candidates:
            s.cwd, self._cwd_guessed = self._candidates[0], True

    def finalize(self) -> None:
        self._resolve_cwd()


class GeminiLegacyParser(GeminiParser):
    """Legacy ``session-*.json``: one ConversationRecord rewritten whole on every save.

    The CLI writes it non-atomically, so a read can catch it half-written: that
    is a diagnostic, and the store parses it again on its next change.
    """

    append_only = False

    def feed_document(self, data: bytes) -> None:
        self.diag.bytes_consumed += len(data)
        self._dirty = True
        if not data.strip():
            return  # created, not yet written
        self._lines += 1
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            try:
                doc = decode_lossy(data)
            except ValueError:
                reason = "malformed_json" if data.rstrip().endswith(b"}") else "truncated_json"
                self.diag.skip(reason, f"{reason}: {exc}"[:300])
                return
            self.diag.bad_value("lenient_decode", f"document: {exc}"[:300])
        if not isinstance(doc, dict):
            self.diag.skip("not_an_object", f"document is {type(doc).__name__}, not an object")
            return
        try:
            self._metadata(doc, checkpoint=False)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            self.diag.skip("bad_record", f"{type(exc).__name__}: {exc}"[:300])


# -------------------------------------------------------------------- helpers
def _as_parts(content: Any) -> list[Any]:
    """PartListUnion -> list: a string, one Part, or a list of either."""
    if content is None:
        return []
    return content if isinstance(content, list) else [content]


def typed_prompt(msg: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(text, slash command)`` of a user message a person typed, else None.

    Prefers ``displayContent`` (as typed; ``content`` carries ``@file``
    expansions). Tool-response turns, the ``<session_context>`` preamble,
    ``<hook_context>`` parts, compaction ``<state_snapshot>`` summaries, empty
    text and ``?`` help are not prompts. A ``/command`` that reached the file
    was sent to the model (custom commands expand to a prompt), so it is a
    prompt with its command set.
    """
    content = _as_parts(msg.get("content"))
    if any(isinstance(p, dict) and "functionResponse" in p for p in content):
        return None
    display = _as_parts(msg.get("displayContent"))
    texts: list[str] = []
    for part in display or content:
        if isinstance(part, str):
            text = part
        elif isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought"):
            text = part["text"]
        else:
            continue
        if text.lstrip().startswith(_INJECTED_PREFIXES):
            continue
        texts.append(text)
    joined = "".join(texts)
    if not display:
        cut = joined.find(_REFERENCED_FILES_MARK)
        if cut >= 0:
            joined = joined[:cut]
    joined = joined.strip()
    if not joined or joined.startswith("?"):
        return None
    command = None
    if joined.startswith("/"):
        m = _COMMAND_RE.match(joined)
        command = f"/{m.group(1)}" if m else None
    return joined, command


def _command_of(args: dict[str, Any], description: Any) -> str | None:
    for key in _COMMAND_ARG_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    return description if isinstance(description, str) and description else None


def tool_paths(name: str, args: dict[str, Any], display: Any, cwd: str | None) -> list[ToolPath]:
    """Files a Gemini tool call read or wrote (directories listed or searched are not files)."""
    low = name.lower()
    if low == "read_file":
        path = _first_str(args, _FILE_ARG_KEYS)
        return [ToolPath(path=resolve_path(path, cwd), access=FileAccess.READ)] if path else []
    if low in ("write_file", "replace", "edit"):
        path = _first_str(args, _FILE_ARG_KEYS)
        if not path:
            return []
        access = FileAccess.WRITE
        if isinstance(display, dict) and "originalContent" in display:
            original = display.get("originalContent")
            if original is None or (low == "write_file" and original == ""):
                access = FileAccess.CREATE
        return [ToolPath(path=resolve_path(path, cwd), access=access)]
    if low == "read_many_files":
        include = args.get("include", args.get("paths"))
        items = include if isinstance(include, list) else [include]
        out: list[ToolPath] = []
        for item in items:
            if (
                isinstance(item, str)
                and item.strip()
                and not _GLOB_CHARS.intersection(item)
                and not item.endswith("/")
            ):
                out.append(ToolPath(path=resolve_path(item, cwd), access=FileAccess.READ))
        return out
    if low == "run_shell_command":
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            return []
        where = _first_str(args, ("dir_path", "directory"))
        base = resolve_path(where, cwd) if where else cwd
        return shell_paths(command, base)
    return []


def _first_str(args: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _tool_output(call: dict[str, Any]) -> tuple[Any, bool]:
    """The result the model saw (``functionResponse.response.output|error``), else the display text."""
    for part in _as_parts(call.get("result")):
        fr = part.get("functionResponse") if isinstance(part, dict) else None
        if not isinstance(fr, dict):
            continue
        resp = fr.get("response")
        if isinstance(resp, dict):
            err = resp.get("error")
            if err not in (None, ""):
                return err, True
            if "output" in resp:
                return resp.get("output"), False
            return resp, False
        if resp is not None:
            return resp, False
    display = call.get("resultDisplay")
    if isinstance(display, str) and display:
        return display, False
    if isinstance(display, dict) and isinstance(display.get("fileDiff"), str):
        return display["fileDiff"], False
    return None, False
