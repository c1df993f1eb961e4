"""Generated sessions for store-level tests: one spec per agent, compared as plain data."""

from __future__ import annotations

import importlib
from typing import Any

from agent_session import AgentSession
from agent_session.synthetic import SynthSpec

AGENTS = ("claude", "codex", "gemini")
START_MS = 1_795_000_000_000


def synth(agent: str) -> Any:
    """The synthetic writer module of an agent."""
    return importlib.import_module(f"agent_session.synthetic.{agent}")


def spec_for(agent: str, n: int = 0, **kw: Any) -> SynthSpec:
    """Session ``n`` of an agent; ids share their ends on purpose (short display ids collide)."""
    ids = {
        "claude": f"5e55{n:04d}-1111-4222-8333-444455556666",
        "codex": f"0199{n:04d}-aaaa-7bbb-8ccc-ddddeeeeffff",
        "gemini": f"9e9e{n:04d}-1234-4567-89ab-cdef01234567",
    }
    models = {
        "claude": ("claude-sonnet-4-5",),
        "codex": ("gpt-5", "gpt-5-codex"),
        "gemini": ("gemini-2.5-pro",),
    }
    base: dict[str, Any] = dict(
        session_id=ids[agent],
        cwd=f"/home/dev/src/proj{n}",
        start_ms=START_MS + n * 60_000,
        models=models[agent],
        turns=3,
        tools_per_turn=2,
        output_bytes=300,
        seed=n,
    )
    base.update(kw)
    return SynthSpec(**base)


#: What a summary scan may see less of (``agent_session/sources/scan.py``'s contract): the
#: times and diagnostics of lines it never visits, and ``files``.
SCAN_LOOSE = frozenset(
    {"files", "diagnostics", "start_timestamp_ms", "end_timestamp_ms", "last_activity_ms", "duration_ms"}
)


def scan_comparable(s: AgentSession) -> dict[str, Any]:
    """Everything a summary scan must reproduce exactly: usage, requests, cost, tools and outcomes, ids, prompts."""
    data = s.model_dump(mode="json", exclude=set(SCAN_LOOSE))
    data["requests"] = s.requests.to_json_obj()
    return data


def comparable(s: AgentSession, *, with_error: bool = False) -> dict[str, Any]:
    """What must be equal between an incremental (or cached) and a cold parse."""
    data = s.model_dump(mode="json", exclude={"last_activity_ms"})
    diag = data.pop("diagnostics")
    lines = (diag["lines_read"], diag["lines_skipped"], diag["bytes_consumed"])
    data["lines"] = (*lines, diag["last_error"]) if with_error else lines
    return data
