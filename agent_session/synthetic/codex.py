"""Codex CLI rollouts shaped like Codex 0.169 writes them (``samples/real``).

Each turn carries what the real CLI writes around the usage: ``task_started``,
a ``turn_context``, the prompt as a user response item *and* a ``user_message``
event (the parser must count it once), injected AGENTS.md/environment context
(never prompts), reasoning items, ``exec_command`` calls answered with "Process
exited with code N" outputs, freeform ``apply_patch`` calls, ``local_shell_call``
and ``web_search_call`` items, per-response ``token_usage_record`` lines and
cumulative ``token_count`` events, re-emitted unchanged totals and rate-limit-only
``token_count`` events (``info: null``), ``task_complete``. Several models in
``spec.models`` switch the model per turn.

``spec.extra`` options:

- ``parent_id``: write a sub-agent (``thread_spawn``) child that first replays
  its parent's history (a second ``session_meta`` and parent usage within the
  creation second); ``fork=True`` marks it with ``forked_from_id`` instead;
  ``reset_totals=True`` restarts the child's running total at zero.
- ``user_events=False``: write no ``user_message`` events (like ``codex exec``
  0.169, which writes ``item_completed`` UserMessage events instead).
- ``archived=True``: place the file in ``archived_sessions/``; ``zst=True``:
  write it zstd-compressed as ``.jsonl.zst``.
- ``resume_turn`` / ``resume_gap_ms``: the turn that a ``codex resume`` starts
  after a gap, re-emitting the unchanged running total first (default: the last
  turn of a session with 3 or more turns, 3 days later; ``-1`` for none).
- ``git_branch``: the branch in ``session_meta.git`` (default ``main``).

Path dates use UTC (the CLI uses local time) so generated homes are reproducible.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from ..model import TokenUsage
from . import SynthSpec

__all__ = ["CLI_VERSION", "expected", "session_lines", "session_path", "write_session"]

CLI_VERSION = "0.169.0"

#: A line to write: (time offset in ms, envelope type, payload).
_Line = tuple[int, str, dict[str, Any]]
#: Raw usage of one model response: (input incl. cached, cached, output incl. reasoning, reasoning).
_Raw = tuple[int, int, int, int]

_BASE_INSTRUCTIONS = (
    "You are Codex, a coding agent. You and the user share one workspace; keep going until the task is "
    "handled end to end. Prefer small, verifiable steps, read before you edit, run the tests you touch. "
) * 110
_DEVELOPER_TEXT = (
    "<permissions instructions>Filesystem sandboxing: danger-full-access. Approvals: never.</permissions "
    "instructions>\n<skills_instructions>\n## Skills\nA skill is a set of local instructions stored in a "
    "SKILL.md file. Use a skill when the task matches its description.\n</skills_instructions>\n"
) * 18
_WORLD_STATE_NOTE = "Workspace roots and environment for this thread. " * 90
_TOOL_KINDS = 7
_RESUME_GAP_MS = 3 * 86_400_000


def session_path(home: Path, spec: SynthSpec) -> Path:
    """``home/.codex/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`` (or archived / ``.zst``)."""
    t = time.gmtime(spec.start_ms / 1000)
    name = f"rollout-{time.strftime('%Y-%m-%dT%H-%M-%S', t)}-{spec.session_id}.jsonl"
    if spec.extra.get("zst"):
        name += ".zst"
    root = home / ".codex"
    if spec.extra.get("archived"):
        return root / "archived_sessions" / name
    return root / "sessions" / f"{t.tm_year:04d}" / f"{t.tm_mon:02d}" / f"{t.tm_mday:02d}" / name


def write_session(home: Path, spec: SynthSpec) -> Path:
    path = session_path(home, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(session_lines(spec))
    if spec.extra.get("zst"):
        import zstandard

        data = zstandard.ZstdCompressor(level=3).compress(data)
    path.write_bytes(data)
    return path


def expected(spec: SynthSpec) -> dict[str, TokenUsage]:
    """Usage per model in IR meaning: the session's own responses (a replayed parent's excluded)."""
    out: dict[str, TokenUsage] = {}
    for turn, responses in enumerate(_plan(spec)):
        model = spec.models[turn % len(spec.models)]
        acc = out.setdefault(model, TokenUsage())
        for inp, cached, output, reasoning in responses:
            acc.add(
                TokenUsage(
                    input_tokens=inp - cached,
                    output_tokens=output,
                    cache_read_tokens=cached,
                    reasoning_tokens=reasoning,
                )
            )
    return out


def _plan(spec: SynthSpec) -> list[list[_Raw]]:
    """Deterministic usage of each response, per turn (a tool-using turn makes two responses)."""
    rng = random.Random(f"codex:{spec.seed}:{spec.session_id}")
    per_turn = 2 if spec.tools_per_turn > 0 else 1
    return [[_raw(rng) for _ in range(per_turn)] for _ in range(spec.turns)]


def _raw(rng: random.Random) -> _Raw:
    cached = rng.randrange(0, 9000)
    inp = cached + rng.randrange(300, 5000)
    reasoning = rng.randrange(0, 900)
    return inp, cached, reasoning + rng.randrange(20, 1600), reasoning


def _ts(ms: int) -> str:
    t = time.gmtime(ms // 1000)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f".{ms % 1000:03d}Z"
    )


def _usage(u: tuple[int, int, int, int]) -> dict[str, int]:
    inp, cached, output, reasoning = u
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "cache_write_input_tokens": 0,
        "output_tokens": output,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + output,
    }


def _add(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


@lru_cache(maxsize=64)
def _body(size: int, salt: int) -> str:
    """Tool output text of about ``size`` characters."""
    lines: list[str] = []
    n = 0
    i = 0
    while n < size:
        line = f"{salt:04d}:{i:05d}  def handler_{i}(request): return render(request, 'page_{i}.html')\n"
        lines.append(line)
        n += len(line)
        i += 1
    return "".join(lines)[:size]


class _Writer:
    """Builds compact envelope lines with a running ``ordinal``, as 0.169 writes them."""

    def __init__(self) -> None:
        self.ordinal = 0

    def line(self, ms: int, kind: str, payload: dict[str, Any]) -> bytes:
        rec = {"timestamp": _ts(ms), "ordinal": self.ordinal, "type": kind, "payload": payload}
        self.ordinal += 1
        return orjson.dumps(rec) + b"\n"


def _message(role: str, text: str, kind: str = "input_text", msg_id: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "message"}
    if msg_id:
        payload["id"] = msg_id
    payload["role"] = role
    payload["content"] = [{"type": kind, "text": text}]
    return payload


def _token_count(total: tuple[int, int, int, int], last: tuple[int, int, int, int]) -> dict[str, Any]:
    return {
        "type": "token_count",
        "info": {
            "total_token_usage": _usage(total),
            "last_token_usage": _usage(last),
            "last_usage_includes_reasoning": False,
            "model_context_window": 258400,
        },
        "rate_limits": {"limit_id": "codex", "primary": None, "secondary": None, "credits": None},
    }


_RATE_LIMITS_ONLY: dict[str, Any] = {
    "type": "token_count",
    "info": None,
    "rate_limits": {
        "limit_id": "codex",
        "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_in_seconds": 8100},
        "secondary": {"used_percent": 3.0, "window_minutes": 10080, "resets_in_seconds": 400000},
    },
}


def session_lines(spec: SynthSpec) -> Iterator[bytes]:
    w = _Writer()
    sid = spec.session_id
    parent_id = spec.extra.get("parent_id")
    is_child = isinstance(parent_id, str) and bool(parent_id)
    t0 = spec.start_ms
    meta: dict[str, Any] = {
        "session_id": sid,
        "id": sid,
        "timestamp": _ts(t0 - 33),
        "cwd": spec.cwd,
        "runtime_workspace_roots": [spec.cwd],
        "originator": "codex_cli_rs",
        "cli_version": CLI_VERSION,
        "source": "cli",
        "thread_source": "user",
        "model_provider": "openai",
    }
    if is_child and spec.extra.get("fork"):
        meta["forked_from_id"] = parent_id
    elif is_child:
        meta["source"] = {"subagent": {"thread_spawn": {"parent_thread_id": parent_id, "depth": 1}}}
    meta["base_instructions"] = {"text": _BASE_INSTRUCTIONS}
    meta["history_mode"] = "paginated"
    meta["git"] = {"commit_hash": f"{spec.seed:08x}" * 5, "branch": spec.extra.get("git_branch", "main")}
    yield w.line(t0, "session_meta", meta)

    thread: tuple[int, int, int, int] = (0, 0, 0, 0)
    ms = t0
    if is_child:
        replayed, thread = _replay(w, spec, str(parent_id), t0)
        yield from replayed
        if spec.extra.get("reset_totals"):
            thread = (0, 0, 0, 0)
        ms = (t0 // 1000 + 2) * 1000  # the child's own work starts after the creation second

    user_events = spec.extra.get("user_events", True)
    resume_turn = _int(spec.extra.get("resume_turn"), spec.turns - 1 if spec.turns >= 3 else -1)
    resume_gap = _int(spec.extra.get("resume_gap_ms"), _RESUME_GAP_MS)
    last_used: tuple[int, int, int, int] = thread
    for turn, responses in enumerate(_plan(spec)):
        start = t0 + turn * 45_000
        if turn == resume_turn:
            # ``codex resume`` days later appends to the same file, re-emitting the unchanged total.
            ms = start = max(ms, start) + resume_gap
            yield w.line(ms, "event_msg", _token_count(thread, last_used))
        ms = max(ms, start) + 7
        model = spec.models[turn % len(spec.models)]
        turn_id = f"{sid[:8]}-turn-{turn:04d}"
        prompt = spec.prompts[turn % len(spec.prompts)] if spec.prompts else None
        prompt = prompt or f"Turn {turn + 1}: explain src/mod_{turn}.py and fix its TODOs."
        yield w.line(
            ms, "event_msg", {"type": "task_started", "turn_id": turn_id, "model_context_window": 258400}
        )
        yield w.line(ms + 1, "event_msg", _RATE_LIMITS_ONLY)
        if turn == 0:
            yield w.line(
                ms + 2, "response_item", _message("developer", _DEVELOPER_TEXT, msg_id=f"msg_{sid[:8]}_dev")
            )
            agents = (
                f"# AGENTS.md instructions for {spec.cwd}\n\n<INSTRUCTIONS>\nRun the tests.\n</INSTRUCTIONS>"
            )
            yield w.line(ms + 2, "response_item", _message("user", agents))
            env = f"<environment_context>\n  <cwd>{spec.cwd}</cwd>\n  <shell>bash</shell>\n</environment_context>"
            yield w.line(ms + 3, "response_item", _message("user", env))
            world = {"full": True, "state": {"cwd": spec.cwd, "note": _WORLD_STATE_NOTE}}
            yield w.line(ms + 4, "world_state", world)
        turn_context = {
            "turn_id": turn_id,
            "cwd": spec.cwd,
            "approval_policy": "never",
            "sandbox_policy": {"type": "danger-full-access"},
            "model": model,
            "effort": "medium",
            "summary": "auto",
        }
        yield w.line(ms + 5, "turn_context", turn_context)
        ms += 20
        yield w.line(ms, "response_item", _message("user", prompt, msg_id=f"msg_{sid[:8]}_u{turn}"))
        event: dict[str, Any]
        if user_events:
            event = {"type": "user_message", "message": prompt, "images": [], "local_images": []}
        else:
            item = {"type": "UserMessage", "id": f"um_{turn}", "content": [{"type": "text", "text": prompt}]}
            event = {"type": "item_completed", "thread_id": sid, "turn_id": turn_id, "item": item}
        yield w.line(ms + 1, "event_msg", event)
        ms += 50
        turn_total: tuple[int, int, int, int] = (0, 0, 0, 0)
        for r, used in enumerate(responses):
            final = r == len(responses) - 1
            reasoning = {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": f"Planning step {r} of turn {turn}."}],
                "encrypted_content": "gAAAAB" + "x" * 800,
            }
            yield w.line(ms, "response_item", reasoning)
            ms += 30
            outputs: list[_Line] = []
            if not final:
                for j in range(spec.tools_per_turn):
                    call_lines, out_lines = _tool(spec, turn, j)
                    for offset, kind, payload in call_lines:
                        yield w.line(ms + offset, kind, payload)
                    outputs.extend(out_lines)
                    ms += 3
            else:
                answer = f"Done with turn {turn + 1}: the TODOs in src/mod_{turn}.py are fixed."
                msg = _message("assistant", answer, kind="output_text", msg_id=f"msg_{sid[:8]}_a{turn}")
                yield w.line(ms, "response_item", msg)
                yield w.line(ms, "event_msg", {"type": "agent_message", "message": answer})
            thread = _add(thread, used)
            turn_total = _add(turn_total, used)
            last_used = used
            record = {
                "thread_id": sid,
                "turn_id": turn_id,
                "session_id": sid,
                "response_id": f"resp_{sid[:8]}_{turn}_{r}",
                "usage": _usage(used),
                "turn_token_usage": _usage(turn_total),
                "thread_token_usage": _usage(thread),
            }
            yield w.line(ms + 1, "token_usage_record", record)
            ms += 40
            for offset, kind, payload in outputs:
                yield w.line(ms + offset, kind, payload)
            ms += 60
            yield w.line(ms, "event_msg", _token_count(thread, used))
            if final:
                # The CLI re-emits the unchanged total (UI refresh / resume): must not count again.
                yield w.line(ms + 2, "event_msg", _token_count(thread, used))
            ms += 10
        done = {"type": "task_complete", "turn_id": turn_id, "last_agent_message": "Done."}
        yield w.line(ms + 5, "event_msg", done)
        ms += 100


def _replay(
    w: _Writer, spec: SynthSpec, parent_id: str, t0: int
) -> tuple[list[bytes], tuple[int, int, int, int]]:
    """The parent's history as a spawned child re-writes it, stamped within its creation second."""
    end = (t0 // 1000) * 1000 + 999
    ms = [t0]

    def at() -> int:
        ms[0] = min(ms[0] + 1, end)
        return ms[0]

    parent_model = str(spec.extra.get("parent_model", spec.models[0]))
    rng = random.Random(f"codex-parent:{spec.seed}:{parent_id}")
    first, second = _raw(rng), _raw(rng)
    total = _add(first, second)
    prompt = "Spawn a helper to review the parser."
    parent_meta = {
        "id": parent_id,
        "timestamp": _ts(t0 - 60_000),
        "cwd": spec.cwd,
        "cli_version": CLI_VERSION,
        "source": "cli",
        "git": {"branch": "main"},
    }
    args = orjson.dumps({"cmd": "cat PARENT_NOTES.md"}).decode()
    call = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": args,
        "call_id": f"call_parent_{spec.seed}",
    }
    output = {
        "type": "function_call_output",
        "call_id": f"call_parent_{spec.seed}",
        "output": "Process exited with code 0\nOutput:\nnotes\n",
    }
    lines = [
        w.line(at(), "session_meta", parent_meta),
        w.line(at(), "turn_context", {"cwd": spec.cwd, "model": parent_model, "approval_policy": "never"}),
        w.line(at(), "response_item", _message("user", prompt)),
        w.line(at(), "event_msg", {"type": "user_message", "message": prompt, "images": []}),
        w.line(at(), "response_item", call),
        w.line(at(), "event_msg", _token_count(first, first)),
        w.line(at(), "response_item", output),
        w.line(at(), "event_msg", _token_count(total, second)),
        w.line(at(), "event_msg", {"type": "task_complete", "turn_id": "parent-turn"}),
    ]
    return lines, total


def _tool(spec: SynthSpec, turn: int, j: int) -> tuple[list[_Line], list[_Line]]:
    """One tool call's lines, and its result lines (written after the response's usage)."""
    kind = (turn * spec.tools_per_turn + j) % _TOOL_KINDS
    call_id = f"call_{spec.seed}_{turn}_{j}"
    body = _body(spec.output_bytes, spec.seed % 10_000)
    calls: list[_Line] = []
    results: list[_Line] = []
    payload: dict[str, Any]

    def exec_call(cmd: str, code: int, workdir: str | None = None) -> None:
        args: dict[str, Any] = {"cmd": cmd, "yield_time_ms": 10000}
        if workdir:
            args["workdir"] = workdir
        payload = {
            "type": "function_call",
            "status": "completed",
            "name": "exec_command",
            "arguments": orjson.dumps(args).decode(),
            "call_id": call_id,
        }
        calls.append((0, "response_item", payload))
        item = {
            "type": "CommandExecution",
            "id": call_id,
            "command": ["/bin/bash", "-lc", cmd],
            "status": "completed",
            "aggregated_output": body[:200],
            "exit_code": code,
        }
        results.append((5, "event_msg", {"type": "item_completed", "item": item}))
        text = (
            f"Chunk ID: {turn:03x}{j:03x}\nWall time: 0.0012 seconds\nProcess exited with code {code}\n"
            f"Original token count: {len(body) // 4}\nOutput:\n{body}"
        )
        results.append((9, "response_item", _output("function_call_output", call_id, text)))

    if kind == 0:
        exec_call("cat README.md", 0)
    elif kind == 1:
        exec_call(f"sed -n '1,80p' src/mod_{turn}.py", 0)
    elif kind == 2:
        patch = (
            f"*** Begin Patch\n*** Add File: notes/turn_{turn}.md\n+# Turn {turn}\n"
            "*** Update File: src/app.py\n@@\n-TODO = True\n+TODO = False\n*** End Patch\n"
        )
        payload = {
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": call_id,
            "name": "apply_patch",
        }
        payload["input"] = patch
        calls.append((0, "response_item", payload))
        result = {
            "output": f"Success. Updated the following files:\nA notes/turn_{turn}.md\nM src/app.py\n",
            "metadata": {"exit_code": 0, "duration_seconds": 0.01},
        }
        out = _output("custom_tool_call_output", call_id, orjson.dumps(result).decode())
        results.append((9, "response_item", out))
    elif kind == 3:
        exec_call("rg -n TODO src/app.py", 1)
    elif kind == 4:
        exec_call("ls -la", 0, workdir=f"{spec.cwd}/src")
    elif kind == 5:
        action: dict[str, Any] = {
            "type": "exec",
            "command": ["bash", "-lc", "head -n 20 docs/guide.md"],
            "working_directory": spec.cwd,
            "timeout_ms": 10000,
        }
        payload = {"type": "local_shell_call", "call_id": call_id, "status": "completed", "action": action}
        calls.append((0, "response_item", payload))
        legacy = {"output": body, "metadata": {"exit_code": 0, "duration_seconds": 0.2}}
        text = orjson.dumps(legacy).decode()
        results.append((9, "response_item", _output("function_call_output", call_id, text)))
    else:
        action = {"type": "search", "query": f"python parser turn {turn}"}
        payload = {"type": "web_search_call", "id": f"ws_{call_id}", "status": "completed", "action": action}
        calls.append((0, "response_item", payload))
    return calls, results


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _output(kind: str, call_id: str, text: str) -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "output": text}
