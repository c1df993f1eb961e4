"""Claude Code summary scanner: the cold-scan path for one transcript.

Why a separate path: on a cold start every file of the history is read, and
the parser's per-line Python was most of the time. Three quarters of a
transcript's lines (attachments, request records, progress, queue
operations) never matter for a summary, a third of its bytes are tool
results whose outcome is one flag, and most assistant lines repeat the
message of the line before (one line per content block). So the scanner:

* jumps from one ``"role":`` marker to the next with ``bytes.find`` and
  never looks at the lines between (``feed``);
* settles a tool-result line from its bytes when the layout cannot be
  misread (``_result_from_bytes``), and a block line that repeats the last
  message's id, request and counts by reading its tool calls from bytes
  (``_repeat_from_bytes``);
* decodes the rest and handles a well-formed assistant line on a lean path
  that defers the message's charge to one loop per block (``_flush``); a line
  with anything unusual goes through the parser's own ``handle``, so its
  diagnostics are the parser's.

What this gives up is stated in ``scan.py`` (times and diagnostics of lines
never visited; ``files``); everything else equals the full parse.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import AgentSession, ToolCategory
from .base import _MAX_COUNT, MAX_NAME_CHARS
from .claude import _DECODE, _SKIP, _SKIP_TIMED, _SYNTHETIC_MODEL, ClaudeParser

__all__ = ["ClaudeSummaryScanner"]

_TOOL_BLOCKS = ("tool_use", "server_tool_use")
#: Every message line has one (real lines in ``message``, trimmed fixtures too).
_ASSISTANT_MARK = b'"role":"assistant"'
_USER_MARK = b'"role":"user"'
_USER_TYPE = b'"type":"user"'
_RESULT_MARK = b'"tool_use_id":"'
_IS_ERROR_MARK = b'"is_error":'
_EXTRA_MARK = b'"toolUseResult":'
_MSG_ID = b'"message":{"id":"'
_REQ_ID = b'"requestId":"'
_USAGE_KEY = b'"usage":{'
#: The four counts of a usage object in the CLI's own order (the charge rule compares their sum).
_USAGE_COUNTS = re.compile(
    rb'"usage":\{"input_tokens":\d+,"cache_creation_input_tokens":\d+,"cache_read_input_tokens":\d+,"output_tokens":\d+[,}]'
)
_TOOL_USE_BLOCK = b'{"type":"tool_use","id":"'
_SERVER_TOOL_BLOCK = b'{"type":"server_tool_use","id":"'
_TOOL_USE_TYPE = b'"type":"tool_use"'
_SERVER_TOOL_TYPE = b'"type":"server_tool_use"'
_WEB_RESULT_TYPE = b'"web_search_tool_result"'
_NAME_NEXT = b'","name":"'


class ClaudeSummaryScanner(ClaudeParser):
    """A :class:`ClaudeParser` in summary mode with a lean path for assistant lines."""

    single_use = True

    def __init__(self, path: Any, **kwargs: Any) -> None:
        kwargs["detail"] = False
        super().__init__(path, **kwargs)
        #: Lines visited and decoded or settled (0 at the end: the store reparses in full).
        self._visited = 0
        #: Messages not charged yet, by key: (total, counts, model, time, key).
        self._pending: dict[Any, tuple[Any, ...]] = {}
        #: The envelope facts of the last lean line (unchanged ones need no work).
        self._env_last: tuple[Any, Any, Any] | None = None
        #: (message id, request id, the four counts' bytes) of the last assistant line looked at.
        self._repeat_key: tuple[bytes, bytes, bytes] | None = None
        #: The model of the last line that charged (``session.model`` after a flush).
        self._model_seen: str | None = None

    @property
    def visited(self) -> bool:
        """Whether any message line was decoded or settled (else the store parses the file in full)."""
        return self._visited > 0

    # --------------------------------------------------------------- feeding
    def feed(self, data: bytes) -> None:
        """Visit only the lines that can change a summary, found by their type marker.

        The full parse walks every line in Python; here ``bytes.find`` jumps
        from one ``"role":"assistant"`` / ``"role":"user"`` marker to the next
        at C speed, and everything between (attachments, request records,
        progress, queue operations: three lines in four) is never looked at.
        A visited line still goes through the parser's own prefix triage, so a
        marker nested inside another record changes nothing. Tool-result lines
        (a third of the bytes) give their call id and ``is_error`` from their
        bytes when the layout is unambiguous, else they are decoded.

        What this gives up, by design (the summary contract in ``scan.py``):
        times of lines that are never visited (only each block's first and last
        line are read for them), diagnostics of lines never decoded, and
        envelope facts that only ``system`` lines carry.
        """
        if not data:
            return
        self.diag.bytes_consumed += len(data)
        self._dirty = True
        base = self._lines
        find = data.find
        n = len(data)
        self._edge_times(data)
        counted = 0
        lines = base + 1
        a = find(_ASSISTANT_MARK)
        u = find(_USER_MARK)
        visited = 0
        while a >= 0 or u >= 0:
            hit = a if u < 0 or 0 <= a < u else u
            start = data.rfind(b"\n", 0, hit) + 1
            end = find(b"\n", hit)
            if end < 0:
                end = n
            lines += data.count(b"\n", counted, start)
            counted = start
            self._lines = lines
            line = data[start:end]
            verdict, scope_end = self._triage(line)
            if verdict is _DECODE:
                visited += 1
                settled = (
                    self._result_from_bytes(line)
                    if line.find(_USER_TYPE, 0, scope_end) >= 0
                    else start <= a < end and self._repeat_from_bytes(line)
                )
                if not settled:
                    self.decode_line(line)  # ``handle`` takes the lean path for assistant lines
            elif verdict is _SKIP_TIMED:
                self._see_prefix_timestamp(line, scope_end)
            if 0 <= a < end:
                a = find(_ASSISTANT_MARK, end)
            if 0 <= u < end:
                u = find(_USER_MARK, end)
        self._lines = base + data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        self._visited += visited

    def _edge_times(self, data: bytes) -> None:
        """The prefix time of the block's first and last line (queue operations, ``last-prompt``)."""
        first_end = data.find(b"\n")
        first = data[: first_end if first_end >= 0 else len(data)]
        last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
        for line in (first, data[last_start:].rstrip(b"\n")) if last_start > 0 else (first,):
            verdict, scope_end = self._triage(line)
            if verdict is not _SKIP:
                self._see_prefix_timestamp(line, scope_end)

    def _result_from_bytes(self, line: bytes) -> bool:
        """Settle a one-result tool-result line from its bytes; False: decode it instead.

        Only a layout that cannot be misread qualifies: exactly one
        ``"tool_use_id"`` key, its id plain (no escapes), at most one
        ``"is_error"`` key and that one after the id and before any
        ``"toolUseResult"`` (whose own fields must not be taken for the block's).
        Raw ``"key":`` bytes only occur as real keys: inside a JSON string
        every quote is escaped.
        """
        pos = line.find(_RESULT_MARK)
        if pos < 0 or line.find(_RESULT_MARK, pos + 1) >= 0:
            return False
        start = pos + len(_RESULT_MARK)
        end = line.find(b'"', start, start + 256)
        if end <= start:
            return False
        raw_id = line[start:end]
        if b"\\" in raw_id:
            return False
        if line.find(_IS_ERROR_MARK, 0, pos) >= 0:
            return False
        err = line.find(_IS_ERROR_MARK, end)
        is_error: bool | None = None
        if err >= 0:
            if line.find(_IS_ERROR_MARK, err + 1) >= 0 or 0 <= line.find(_EXTRA_MARK) < err:
                return False
            v = err + len(_IS_ERROR_MARK)
            if line.startswith(b"true", v):
                is_error = True
            elif line.startswith(b"false", v):
                is_error = False
        try:
            call_id = raw_id.decode()
        except UnicodeDecodeError:
            return False
        self.finish_tool(call_id, None, is_error, None, None)
        return True

    def _repeat_from_bytes(self, line: bytes) -> bool:
        """Count the tool calls of a block line that repeats the previous line's message; False: decode it.

        The CLI writes a message as one line per content block, each repeating
        the message id, request id and usage: only the first line of given
        counts can charge (a repeat's total is not larger), so a line whose
        (message id, request id, four counts) equal the previous assistant
        line's changes the summary only through its tool calls, read here from
        the CLI's fixed block layout. The line's time and envelope are taken
        from the lines around it (``scan.py``'s contract). Anything unusual —
        no usage counts in the CLI's layout, an escape in a name, a block
        this does not recognise — returns False and the line is decoded.
        """
        p = line.find(_MSG_ID)
        u = line.rfind(_USAGE_KEY)
        r = line.find(_REQ_ID)
        if p < 0 or u < p or r < 0:
            self._repeat_key = None
            return False
        m = _USAGE_COUNTS.match(line, u)
        if m is None:
            self._repeat_key = None
            return False
        id_end = line.find(b'"', p + len(_MSG_ID))
        r_end = line.find(b'"', r + len(_REQ_ID))
        key = (line[p + len(_MSG_ID) : id_end], line[r + len(_REQ_ID) : r_end], m.group(0))
        if key != self._repeat_key:
            self._repeat_key = key  # the first line of this usage: decoded (it may charge)
            return False
        calls: list[tuple[str, str]] = []
        pos = p
        while True:
            b = line.find(_TOOL_USE_BLOCK, pos, u)
            kind = 0
            s = line.find(_SERVER_TOOL_BLOCK, pos, u)
            if s >= 0 and (b < 0 or s < b):
                b, kind = s, 1
            if b < 0:
                break
            id_start = b + (len(_TOOL_USE_BLOCK) if kind == 0 else len(_SERVER_TOOL_BLOCK))
            id_stop = line.find(b'"', id_start, u)
            if id_stop <= id_start or not line.startswith(_NAME_NEXT, id_stop):
                return False
            name_start = id_stop + len(_NAME_NEXT)
            name_stop = line.find(b'"', name_start, u)
            if name_stop < 0:
                return False
            raw_id, raw_name = line[id_start:id_stop], line[name_start:name_stop]
            if b"\\" in raw_id or b"\\" in raw_name:
                return False
            calls.append((raw_id.decode("utf-8", "replace"), raw_name.decode("utf-8", "replace")))
            pos = name_stop
        # Every tool block must have been read, and no other block kind that counts may hide here.
        if (
            line.count(_TOOL_USE_TYPE, p, u) + line.count(_SERVER_TOOL_TYPE, p, u) != len(calls)
            or line.find(_WEB_RESULT_TYPE, p, u) >= 0
        ):
            return False
        for call_id, name in calls:
            self.start_tool(call_id or None, name or "unknown", category=ToolCategory.TOOL)
        return True

    # --------------------------------------------------------------- records

    def handle(self, record: dict[str, Any]) -> None:
        if record.get("type") == "assistant":
            if self._lean_assistant(record):
                return
            self._flush()  # the parser's own path charges in order after what was deferred
        self._env_last = None  # the parser may set any envelope fact now
        super().handle(record)

    def _lean_assistant(self, record: dict[str, Any]) -> bool:
        """Handle a well-formed assistant line exactly as ``handle`` would; False (untouched) otherwise."""
        message = record.get("message")
        if type(message) is not dict:
            return False
        usage = message.get("usage")
        model = message.get("model")
        if type(usage) is not dict or type(model) is not str or not model or model == _SYNTHETIC_MODEL:
            return False
        get = usage.get
        i, o, cw, cr = (
            get("input_tokens"),
            get("output_tokens"),
            get("cache_creation_input_tokens"),
            get("cache_read_input_tokens"),
        )
        for v in (i, o, cw, cr):
            if v is not None and not (type(v) is int and 0 <= v < _MAX_COUNT):
                return False
        details = get("output_tokens_details")
        thinking = 0
        if type(details) is dict:
            t = details.get("thinking_tokens")
            if t is not None:
                if not (type(t) is int and 0 <= t < _MAX_COUNT):
                    return False
                thinking = t
        raw_ts = record.get("timestamp")
        ts = self._ts(raw_ts)
        if ts is None:
            return False  # no or bad time: the parser notes it
        self.see_timestamp(ts)
        counts = (i or 0, o or 0, cw or 0, cr or 0, min(thinking, o or 0))
        msg_id = message.get("id")
        req_id = record.get("requestId")
        key: Any
        if type(msg_id) is str and msg_id:
            key = (msg_id, req_id) if type(req_id) is str and req_id else (msg_id,)
        else:
            key = None
        total = counts[0] + counts[1] + counts[2] + counts[3]
        # From here on: the effects of handle() -> _see_envelope + _assistant, with the
        # charge of each message deferred to ``_flush`` (only its largest line counts).
        env = (record.get("cwd"), record.get("gitBranch"), record.get("version"))
        if env != self._env_last or self._parent_from_lines:
            self._see_envelope(record, None)
            self._env_last = env
        best = self._best_totals.get(key) if key is not None else None
        if best is not None:
            if total > best:  # a larger line of a message already charged: replace it now
                self._best_totals[key] = total
                response_id = req_id if type(req_id) is str else msg_id if type(msg_id) is str else None
                self.record_counts(key, model, counts, ts, response_id)
                self._model_seen = model
        else:
            slot = key if key is not None else len(self._pending)
            held = self._pending.get(slot)
            if held is None or total > held[0]:
                self._pending[slot] = (total, counts, model, ts, key)
                if model != self._model_seen:
                    self.see_model(model)
                    self._model_seen = model
        content = message.get("content")
        if type(content) is list:
            for block in content:
                if type(block) is dict:
                    btype = block.get("type")
                    if btype in _TOOL_BLOCKS:
                        self._tool_call(block, None)
                    elif btype == "web_search_tool_result":
                        call_id = block.get("tool_use_id")
                        if isinstance(call_id, str):
                            self.finish_tool(call_id, None, None, None, None)
        return True

    def _flush(self) -> None:
        """Charge the deferred messages, in the order they first appeared (as the parser would).

        ``record_counts`` for a new key, less what is already done: none of these
        keys was charged before (a charged key is in ``_best_totals`` and never
        deferred), and the models were noted when their lines were read.
        """
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        append = self.session.requests.append
        for total, counts, model, ts, key in pending.values():
            model = model[:MAX_NAME_CHARS]
            index = append(ts, model, counts)
            if key is not None:
                self._best_totals[key] = total
                self._requests[key] = index
            self._charge(model, counts, 1)
        self.session.request_count += len(pending)

    def snapshot(self) -> AgentSession:
        self._flush()
        return super().snapshot()

    def _tool_call(self, block: dict[str, Any], ts: int | None) -> None:
        """Count the call by name (once per id); its paths are left to the full parse."""
        name = block.get("name")
        name = name if isinstance(name, str) and name else "unknown"
        call_id = block.get("id")
        call_id = call_id if isinstance(call_id, str) and call_id else None
        self.start_tool(call_id, name, category=ToolCategory.TOOL)
