"""Truth from the server's log, the library's view of a throwaway home, and live-process helpers.

The rule that decides what a session file's truth is (documented once, here):

- only *main* requests count — a request that offers tools. Side requests
  (no tools: Claude title/topic/quota probes, Gemini's model router and
  next-speaker checks) are answered and logged but never written to a
  session file by the CLI, so they are not part of any truth;
- a main request belongs to the session whose script it ran: the scenario
  tag in its last tagged user message names the script, and each test
  knows which scripts ran in which session (a Claude subagent gets its own
  tag in its prompt, so its requests are the subagent file's truth);
- each response's usage is converted to the IR's meaning (DESIGN §2): for
  Codex ``input = input_tokens − cached``, for Gemini ``input = prompt −
  cached + toolUsePrompt``, ``output`` includes reasoning/thoughts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

from agent_session import AgentHomes, AgentSession, SessionEvents, SessionStore
from agent_session.process import SessionProcessMatcher, SessionProcessMatches, match_live
from agent_session.process.snapshot import ProcessSnapshot, snapshot_processes

from .server import Record, Usage

BUCKETS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "total_tokens",
)


def ir(u: Usage) -> dict[str, int]:
    return {
        "input_tokens": u.input,
        "output_tokens": u.output,
        "cache_creation_tokens": u.cache_creation,
        "cache_read_tokens": u.cache_read,
        "reasoning_tokens": u.reasoning,
        "total_tokens": u.total,
    }


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b[k] for k in BUCKETS}


def truth(
    records: Iterable[Record], scenarios: Iterable[str]
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(total, per model) usage of the main requests that ran ``scenarios``."""
    wanted = set(scenarios)
    total: dict[str, int] = dict.fromkeys(BUCKETS, 0)
    per_model: dict[str, dict[str, int]] = {}
    for r in records:
        if not r.main or r.scenario not in wanted:
            continue
        total = _add(total, ir(r.usage))
        per_model[r.model] = _add(per_model.get(r.model, {}), ir(r.usage))
    return total, per_model


def observed(s: AgentSession) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    return (
        {k: getattr(s.usage, k) for k in BUCKETS},
        {m: {k: getattr(u, k) for k in BUCKETS} for m, u in s.model_usage.items()},
    )


def store_for(home: Path) -> SessionStore:
    """The library pointed at one throwaway home only, cache off, parsed in this process."""
    return SessionStore(AgentHomes.resolve(home), cache=False, workers=0)


def sessions(home: Path) -> list[AgentSession]:
    store = store_for(home)
    try:
        store.refresh()
        return [store.detail(s) for s in store.sessions()]
    finally:
        store.close()


def tool_paths(s: AgentSession, root: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """(tool, [(path relative to root, access)]) per tool call, in order."""
    assert s.events is not None, "use a detailed session (store.detail)"
    out = []
    for t in s.events.tools:
        paths = [
            (
                str(Path(p.path).relative_to(root)) if p.path.startswith(str(root)) else p.path,
                str(p.access.value),
            )
            for p in t.paths
        ]
        out.append((t.tool_name, paths))
    return out


def events(s: AgentSession) -> SessionEvents:
    assert s.events is not None, "use a detailed session (store.detail)"
    return s.events


def prompts(s: AgentSession) -> list[str]:
    assert s.events is not None, "use a detailed session (store.detail)"
    return [p.text for p in s.events.prompts]


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# --------------------------------------------------------------------------- live processes
def own_snapshot(root_pid: int) -> ProcessSnapshot:
    """The process table reduced to the tree of a process this test started.

    The matcher sees only our CLI and its descendants, so a developer's own
    running agents can neither be matched nor disturb the assertions.
    """
    snap = snapshot_processes()
    children: dict[int, list[int]] = {}
    for p in snap.processes:
        children.setdefault(p.ppid, []).append(p.pid)
    keep = {root_pid}
    stack = [root_pid]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in keep:
                keep.add(c)
                stack.append(c)
    return ProcessSnapshot(tuple(p for p in snap.processes if p.pid in keep), snap.taken_ms)


def match_own(
    matcher: SessionProcessMatcher, home: Path, root_pid: int
) -> tuple[SessionProcessMatches, list[AgentSession]]:
    found = sessions(home)
    return match_live(matcher, found, AgentHomes.resolve(home), own_snapshot(root_pid)), found


def find_descendant(root_pid: int, marker: str) -> int | None:
    """pid of the innermost descendant of ``root_pid`` whose argv mentions ``marker``."""
    try:
        procs = psutil.Process(root_pid).children(recursive=True)
    except psutil.Error:
        return None
    hits = []
    for p in procs:
        try:
            if any(marker in a for a in p.cmdline()):
                hits.append(p)
        except psutil.Error:
            continue
    if not hits:
        return None
    hit_pids = {h.pid for h in hits}
    # innermost: a hit none of whose children is a hit
    for h in hits:
        try:
            if not any(c.pid in hit_pids for c in h.children(recursive=True)):
                return int(h.pid)
        except psutil.Error:
            continue
    return int(hits[-1].pid)
