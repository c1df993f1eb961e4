"""Gemini CLI sessions shaped like the real CLI writes them (``samples/real``, Gemini CLI 0.61).

Current form (``.jsonl``): a metadata header; a ``$set`` whose ``messages``
hold the ``<session_context>`` preamble; then per turn the typed prompt, a
``gemini`` message written once with its tokens and *again under the same id*
with its ``toolCalls`` (call and result in one record), the tool-response
``user`` turn (``functionResponse`` parts, not a prompt) and the final reply,
each message followed by a ``$set`` of ``lastUpdated``. The legacy form
(``spec.extra["legacy"]``) is one pretty-printed ConversationRecord.

Variants (``spec.extra``), each something a parser can get wrong:
``legacy``; ``rewind`` (a turn then ``$rewindTo`` its prompt: still billed);
``checkpoint`` (``$set.messages`` replacing the list with a compression
summary plus kept messages); ``resume`` (a second header, same session id,
half the turns after it); ``tokens_null`` (tool-calling replies carry
``tokens: null``); ``token_update`` (a reply's first write has provisional
tokens that the second write replaces); ``sha_folder`` (older CLIs: the
project folder is sha256 of the root, no ``projects.json`` entry);
``parent_session_id`` (a sub-agent file under ``chats/<parent>/``). The
legacy form has no rewind or checkpoint records (that CLI rewrote the whole
list), so those two variants only shape the ``.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..model import TokenUsage
from . import SynthSpec

__all__ = [
    "expected",
    "expected_files",
    "expected_prompts",
    "expected_tools",
    "project_folder",
    "session_lines",
    "session_path",
    "write_session",
]

_ACK = "Got it. Thanks for the additional context!"
_DISPLAY_NAMES = {
    "read_file": "ReadFile",
    "run_shell_command": "Shell",
    "write_file": "WriteFile",
    "replace": "Edit",
    "grep_search": "SearchText",
    "list_directory": "ReadFolder",
}
_TOOL_CYCLE = ("read_file", "run_shell_command", "write_file", "replace", "grep_search", "list_directory")


# ---------------------------------------------------------------------- plan
@dataclass
class _Call:
    id: str
    name: str
    args: dict[str, Any]
    status: str
    output: str
    display: Any
    description: str
    #: (absolute path, access) the parser must report.
    paths: list[tuple[str, str]]


@dataclass
class _Reply:
    id: str
    ts: int
    model: str
    tokens: dict[str, int] | None
    text: str
    calls: list[_Call] = field(default_factory=list)
    first_tokens: dict[str, int] | None = None
    tool_ts: int = 0
    response_id: str = ""
    response_ts: int = 0


@dataclass
class _Turn:
    prompt_id: str
    prompt: str
    ts: int
    replies: list[_Reply]
    at_file: str | None = None
    rewound: bool = False
    resumed: bool = False


@dataclass
class _Plan:
    context_id: str
    start: int
    turns: list[_Turn]
    end: int


def _flag(spec: SynthSpec, name: str) -> bool:
    return bool(spec.extra.get(name))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _tokens(rng: random.Random) -> dict[str, int]:
    cached = rng.randrange(0, 30_000)
    fresh = rng.randrange(200, 6_000)
    inp = fresh + cached
    out = rng.randrange(5, 3_000)
    thoughts = rng.randrange(0, 2_000)
    tool = rng.choice((0, 0, 0, rng.randrange(1, 60)))
    return {
        "input": inp,
        "output": out,
        "cached": cached,
        "thoughts": thoughts,
        "tool": tool,
        "total": inp + out + thoughts + tool,
    }


def _filler(seed: int, size: int) -> str:
    line = f"line {seed:06d}: lorem ipsum dolor sit amet, consectetur adipiscing elit\n"
    return (line * (size // len(line) + 1))[:size]


def _call(spec: SynthSpec, k: int, ts: int, rng: random.Random) -> _Call:
    name = _TOOL_CYCLE[k % len(_TOOL_CYCLE)]
    cwd = spec.cwd.rstrip("/") or "/"
    call_id = f"{name}__{name}_{ts}_{k}"
    out = _filler(spec.seed * 1000 + k, spec.output_bytes)
    status = "error" if k % 5 == 4 else "success"
    display: Any = ""
    paths: list[tuple[str, str]] = []
    if name == "read_file":
        path = f"{cwd}/src/mod{k}.py"
        args: dict[str, Any] = {"file_path": path}
        description, paths = f"src/mod{k}.py", [(path, "read")]
    elif name == "run_shell_command":
        args = {"command": "ls -la", "description": "List files"}
        description = "ls -la"
        out = f"<untrusted_context>\nOutput: {out}Process Group PGID: {20000 + k}\n</untrusted_context>"
        display = out[:200]
    elif name == "write_file":
        path = f"{cwd}/notes/out{k}.md"
        args = {"file_path": path, "content": "# notes\n"}
        description, paths = f"notes/out{k}.md", [(path, "create")]
        display = {
            "fileDiff": f"--- out{k}.md\n+++ out{k}.md\n+# notes\n",
            "fileName": f"out{k}.md",
            "originalContent": None,
            "newContent": "# notes\n",
        }
        out = f"Successfully created and wrote to new file: {path}."
    elif name == "replace":
        path = f"{cwd}/src/mod{k}.py"
        args = {"file_path": path, "old_string": "x = 1", "new_string": f"x = {k}"}
        description, paths = f"src/mod{k}.py", [(path, "write")]
        display = {
            "fileDiff": f"-x = 1\n+x = {k}\n",
            "fileName": f"mod{k}.py",
            "originalContent": "x = 1\n",
            "newContent": f"x = {k}\n",
        }
        out = f"Successfully modified file: {path} (1 replacements)."
    elif name == "grep_search":
        args = {"pattern": "TODO", "dir_path": cwd}
        description = "'TODO'"
    else:
        args = {"dir_path": cwd}
        description = "."
    if status == "error":
        out = f"Tool failed: simulated error {rng.randrange(1000)}"
    return _Call(call_id, name, args, status, out, display, description, paths)


def _plan(spec: SynthSpec) -> _Plan:
    rng = random.Random(f"gemini:{spec.seed}:{spec.session_id}")
    legacy = _flag(spec, "legacy")
    t = spec.start_ms
    context_id = uuid.UUID(int=rng.getrandbits(128)).hex
    turns: list[_Turn] = []
    k = 0
    n_turns = spec.turns + (1 if _flag(spec, "rewind") and not legacy else 0)
    resume_at = (spec.turns + 1) // 2 if _flag(spec, "resume") else None
    for i in range(n_turns):
        t += rng.randrange(2_000, 9_000)
        prompt = spec.prompts[i % len(spec.prompts)] if spec.prompts else f"Step {i + 1}: tidy module {i}."
        turn = _Turn(_uuid(rng), prompt, t, [])
        turn.rewound = i == spec.turns
        turn.resumed = resume_at is not None and i >= resume_at
        if i == 1:
            turn.at_file = f"{spec.cwd.rstrip('/')}/README.md"
        model = spec.models[i % len(spec.models)] if spec.models else "gemini-2.5-pro"
        if spec.tools_per_turn > 0:
            t += rng.randrange(500, 3_000)
            reply = _Reply(_uuid(rng), t, model, _tokens(rng), "")
            for _ in range(spec.tools_per_turn):
                reply.calls.append(_call(spec, k, t, rng))
                k += 1
            if _flag(spec, "tokens_null"):
                reply.tokens = None
            elif _flag(spec, "token_update"):
                reply.first_tokens = _tokens(rng)
            t += rng.randrange(50, 900)
            reply.tool_ts = t
            t += rng.randrange(1, 5)
            reply.response_id, reply.response_ts = _uuid(rng), t
            turn.replies.append(reply)
        t += rng.randrange(500, 3_000)
        turn.replies.append(_Reply(_uuid(rng), t, model, _tokens(rng), f"Done with step {i + 1}."))
        turns.append(turn)
    return _Plan(context_id, spec.start_ms, turns, t + 1)


# ---------------------------------------------------------------- rendering
def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _dump(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def _session_context(spec: SynthSpec, folder: str) -> str:
    cwd = spec.cwd.rstrip("/") or "/"
    return (
        "<session_context>\nThis is the Gemini CLI. We are setting up the context for our chat.\n"
        "My operating system is: linux\n"
        f"The project's temporary directory is: /home/dev/.gemini/tmp/{folder}\n"
        f"- **Workspace Directories:**\n  - {cwd}\n- **Directory Structure:**\n\n"
        f"{cwd}/\n├───README.md\n└───src/\n\n</session_context>"
    )


def _user_msg(turn: _Turn) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": turn.prompt_id, "timestamp": _iso(turn.ts), "type": "user"}
    if turn.at_file:
        msg["content"] = [
            {"text": turn.prompt},
            {"text": "\n--- Content from referenced files ---"},
            {"text": f"\nContent from @{turn.at_file}:\n"},
            {"text": "# project\n\nSome readme text.\n"},
            {"text": "\n--- End of content ---"},
        ]
        msg["displayContent"] = [{"text": turn.prompt}]
    else:
        msg["content"] = [{"text": turn.prompt}]
    return msg


def _function_response(call: _Call) -> dict[str, Any]:
    key = "error" if call.status == "error" else "output"
    return {"functionResponse": {"id": call.id, "name": call.name, "response": {key: call.output}}}


def _gemini_msg(reply: _Reply, *, with_calls: bool, first: bool = False) -> dict[str, Any]:
    tokens = reply.first_tokens if first and reply.first_tokens is not None else reply.tokens
    msg: dict[str, Any] = {
        "id": reply.id,
        "timestamp": _iso(reply.ts),
        "type": "gemini",
        "content": reply.text,
        "thoughts": [],
        "tokens": tokens,
        "model": reply.model,
    }
    if with_calls and reply.calls:
        msg["toolCalls"] = [
            {
                "id": c.id,
                "name": c.name,
                "args": c.args,
                "result": [_function_response(c)],
                "status": c.status,
                "timestamp": _iso(reply.tool_ts),
                "resultDisplay": c.display,
                "description": c.description,
                "displayName": _DISPLAY_NAMES.get(c.name, c.name),
                "renderOutputAsMarkdown": c.name == "read_file",
            }
            for c in reply.calls
        ]
    return msg


def _set_updated(ms: int) -> bytes:
    return _dump({"$set": {"lastUpdated": _iso(ms)}})


def _header(spec: SynthSpec, plan: _Plan, last: int) -> dict[str, Any]:
    header: dict[str, Any] = {
        "sessionId": spec.session_id,
        "projectHash": _sha(spec.cwd),
        "startTime": _iso(plan.start),
        "lastUpdated": _iso(last),
        "kind": "subagent" if spec.extra.get("parent_session_id") else "main",
    }
    if spec.extra.get("parent_session_id"):
        header["directories"] = [spec.cwd]
    return header


def _turn_lines(turn: _Turn) -> Iterator[bytes]:
    yield _dump(_user_msg(turn))
    yield _set_updated(turn.ts)
    for reply in turn.replies:
        yield _dump(_gemini_msg(reply, with_calls=False, first=True))
        yield _set_updated(reply.ts)
        if reply.calls:
            yield _dump(_gemini_msg(reply, with_calls=True))
            yield _dump(
                {
                    "id": reply.response_id,
                    "timestamp": _iso(reply.response_ts),
                    "type": "user",
                    "content": [_function_response(c) for c in reply.calls],
                }
            )
            yield _set_updated(reply.response_ts)


def session_lines(spec: SynthSpec) -> Iterator[bytes]:
    """The file's lines, each ending in ``\\n`` (the legacy form: its pretty-printed document)."""
    plan = _plan(spec)
    if _flag(spec, "legacy"):
        yield from legacy_document(spec, plan).splitlines(keepends=True)
        return
    yield _dump(_header(spec, plan, plan.start))
    context = {
        "id": plan.context_id,
        "timestamp": _iso(plan.start),
        "type": "user",
        "content": [{"text": _session_context(spec, _folder_name(spec, None))}],
    }
    yield _dump({"$set": {"messages": [context], "lastUpdated": _iso(plan.start)}})
    resumed = False
    for turn in plan.turns:
        if turn.resumed and not resumed:
            resumed = True
            header = _header(spec, plan, turn.ts - 1)
            yield _dump(header)
        yield from _turn_lines(turn)
        if turn.rewound:
            yield _dump({"$rewindTo": turn.prompt_id})
            yield _set_updated(turn.replies[-1].ts + 1)
    if _flag(spec, "checkpoint") and plan.turns:
        kept = plan.turns[-1]
        summary_ts = plan.end
        messages: list[dict[str, Any]] = [
            {
                "id": _uuid(random.Random(spec.seed + 1)),
                "timestamp": _iso(summary_ts),
                "type": "user",
                "content": [
                    {"text": "<state_snapshot>\n<overall_goal>tidy</overall_goal>\n</state_snapshot>"}
                ],
            },
            {
                "id": _uuid(random.Random(spec.seed + 2)),
                "timestamp": _iso(summary_ts),
                "type": "gemini",
                "content": [{"text": _ACK}],
            },
            _user_msg(kept),
        ]
        messages.extend(_gemini_msg(r, with_calls=True) for r in kept.replies)
        yield _dump({"$set": {"messages": messages, "lastUpdated": _iso(summary_ts)}})


def legacy_document(spec: SynthSpec, plan: _Plan | None = None) -> bytes:
    """The legacy ``session-*.json``: one ConversationRecord, final state of every message."""
    plan = plan or _plan(spec)
    messages: list[dict[str, Any]] = []
    last = plan.start
    for turn in plan.turns:
        messages.append(_user_msg(turn))
        for reply in turn.replies:
            messages.append(_gemini_msg(reply, with_calls=True))
            last = max(last, reply.tool_ts, reply.ts)
    doc = _header(spec, plan, last)
    doc["messages"] = messages
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


# -------------------------------------------------------------- expectations
def expected(spec: SynthSpec) -> dict[str, TokenUsage]:
    """Usage per model in IR meaning: every billed reply once, with its final tokens.

    ``input`` includes ``cached`` in the CLI's numbers: fresh input is
    ``input - cached + tool``, ``thoughts`` are output (and reasoning).
    Rewound replies were billed, so they count.
    """
    out: dict[str, TokenUsage] = {}
    for turn in _plan(spec).turns:
        for reply in turn.replies:
            tk = reply.tokens
            if tk is None:
                continue
            u = out.setdefault(reply.model, TokenUsage())
            u.input_tokens += tk["input"] - tk["cached"] + tk["tool"]
            u.output_tokens += tk["output"] + tk["thoughts"]
            u.cache_read_tokens += tk["cached"]
            u.reasoning_tokens += tk["thoughts"]
    return out


def expected_tools(spec: SynthSpec) -> dict[str, int]:
    """Tool calls by name, each call once."""
    out: dict[str, int] = {}
    for turn in _plan(spec).turns:
        for reply in turn.replies:
            for c in reply.calls:
                out[c.name] = out.get(c.name, 0) + 1
    return out


def expected_files(spec: SynthSpec) -> dict[str, str]:
    """Files touched -> access of their last touch."""
    out: dict[str, str] = {}
    for turn in _plan(spec).turns:
        for reply in turn.replies:
            for c in reply.calls:
                for path, access in c.paths:
                    out[path] = access
    return out


def expected_prompts(spec: SynthSpec) -> list[str]:
    """Typed prompts in order (the injected preamble, tool responses and summaries are not)."""
    return [turn.prompt for turn in _plan(spec).turns]


# ------------------------------------------------------------------- layout
def _sha(root: str) -> str:
    return hashlib.sha256(root.encode("utf-8")).hexdigest()


def _slug(root: str) -> str:
    base = root.rstrip("/").rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9]", "-", base) or "project"


def _read_projects(home: Path) -> dict[str, str]:
    try:
        data = json.loads((home / ".gemini" / "projects.json").read_text())
    except (OSError, ValueError):
        return {}
    projects = data.get("projects") if isinstance(data, dict) else None
    return {k: v for k, v in projects.items() if isinstance(v, str)} if isinstance(projects, dict) else {}


def _folder_name(spec: SynthSpec, projects: dict[str, str] | None) -> str:
    if _flag(spec, "sha_folder"):
        return _sha(spec.cwd)
    projects = projects or {}
    if spec.cwd in projects:
        return projects[spec.cwd]
    taken = set(projects.values())
    base = slug = _slug(spec.cwd)
    n = 0
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def project_folder(home: Path, spec: SynthSpec) -> str:
    """The ``tmp/<id>`` folder name: the slug ``projects.json`` maps (or would map) the cwd to."""
    return _folder_name(spec, _read_projects(home))


def session_path(home: Path, spec: SynthSpec) -> Path:
    chats = home / ".gemini" / "tmp" / project_folder(home, spec) / "chats"
    ext = ".json" if _flag(spec, "legacy") else ".jsonl"
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", spec.session_id)
    parent = spec.extra.get("parent_session_id")
    if isinstance(parent, str) and parent:
        return chats / re.sub(r"[^A-Za-z0-9_-]", "_", parent) / f"{safe_id}{ext}"
    stamp = datetime.fromtimestamp(spec.start_ms // 1000, UTC).strftime("%Y-%m-%dT%H-%M")
    return chats / f"session-{stamp}-{safe_id[:8]}{ext}"


def write_session(home: Path, spec: SynthSpec) -> Path:
    """Write the session plus the project mapping (``projects.json``, ``.project_root``) a current CLI keeps."""
    gemini = home / ".gemini"
    projects = _read_projects(home)
    folder = _folder_name(spec, projects)
    if not _flag(spec, "sha_folder"):
        projects[spec.cwd] = folder
        gemini.mkdir(parents=True, exist_ok=True)
        (gemini / "projects.json").write_text(json.dumps({"projects": projects}, indent=2) + "\n")
        project_dir = gemini / "tmp" / folder
        project_dir.mkdir(parents=True, exist_ok=True)
        (project_dir / ".project_root").write_text(spec.cwd)
    path = session_path(home, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.writelines(session_lines(spec))
    return path
