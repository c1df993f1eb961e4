"""One call from "what runs now" to matches: snapshot, pid files, matcher.

The monitor, ``agentsession match`` and ``agentsession doctor`` all need the
same few steps, in the same order, so they live here once: label the
processes of a snapshot, read Claude's pid files only when a Claude process
is running (and Gemini's project map only when a Gemini one is), then match.
The snapshot can be handed in, which is how tests run it without touching the
machine's real process table.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..discovery import AgentHomes
from ..model import AgentSession, AgentType
from .evidence import read_claude_pid_files, read_gemini_projects
from .info import ProcessSnapshot
from .matcher import SessionProcessMatcher, SessionProcessMatches
from .recognize import label_process
from .snapshot import snapshot_processes

__all__ = ["match_live"]


def match_live(
    matcher: SessionProcessMatcher,
    sessions: Sequence[AgentSession],
    homes: AgentHomes,
    snapshot: ProcessSnapshot | None = None,
) -> SessionProcessMatches:
    """Match the live processes (a fresh snapshot unless one is given) to ``sessions``."""
    snap = snapshot if snapshot is not None else snapshot_processes()
    labels = {p.pid: label_process(p.name, p.exe, p.cmdline) for p in snap.processes}
    claude_pids = [pid for pid, agent in labels.items() if agent is AgentType.CLAUDE]
    pid_files = read_claude_pid_files(homes.claude, claude_pids) if claude_pids else {}
    gemini = read_gemini_projects(homes.gemini) if AgentType.GEMINI in labels.values() else {}
    return matcher.match(
        snap.processes, sessions, pid_files=pid_files, gemini_projects=gemini, now_ms=snap.taken_ms
    )
