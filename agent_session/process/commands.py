"""``agentsession match``: live agent processes and the sessions they write.

Also the one-call helper the monitor uses: snapshot processes, read the pid
files of the Claude processes found, and run the matcher.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from ..discovery import AgentHomes
from ..model import AgentSession, AgentType
from ..text import dump_json, one_line
from .evidence import read_claude_pid_files, read_gemini_projects
from .matcher import SessionProcessMatcher, SessionProcessMatches
from .recognize import label_process
from .snapshot import ProcessSnapshot, snapshot_processes

__all__ = ["match_command", "match_live"]


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


def _store_sessions(homes: AgentHomes, cache: bool = True) -> list[AgentSession]:
    from ..store import SessionStore  # type: ignore[import-not-found,unused-ignore]

    store = SessionStore(homes, cache=cache)
    store.refresh()
    return list(store.sessions())


def _table(result: SessionProcessMatches, pid: int | None, out: TextIO) -> None:
    rows = [("ROOT", "AGENT", "SESSION", "EVIDENCE", "CONF", "PIDS", "PATH")]
    shown = [result.match_for_pid(pid)] if pid is not None else list(result.matches)
    for m in shown:
        if m is None:
            continue
        pids = " ".join(str(p) for p in m.matched_pids)
        rows.append(
            (
                str(m.root_pid),
                m.agent_type.value,
                m.display_id,
                m.evidence.value,
                f"{m.confidence:.2f}",
                pids,
                one_line(m.path, 4096) or "-",
            )
        )
    if pid is None:
        for tree in result.unmatched:
            pids = " ".join(str(p) for p in tree.pids)
            rows.append((str(tree.root_pid), tree.agent_type.value, "-", "-", "-", pids, "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] + "\n")


def match_command(
    home: str | None,
    pid: int | None,
    as_json: bool,
    out: TextIO,
    *,
    sessions: Callable[[AgentHomes], Sequence[AgentSession]] | None = None,
    snapshot: Callable[[], ProcessSnapshot] | None = None,
    cache: bool = True,
) -> int:
    """Body of ``agentsession match [--home DIR] [--pid PID] [--json]``; returns the exit code.

    With ``--pid`` only the match that pid belongs to is shown (any process of
    the tree, tool children included), and the exit code is 1 when there is none.
    ``--json`` prints an array of matches either way.
    """
    homes = AgentHomes.resolve(home)
    found = sessions(homes) if sessions is not None else _store_sessions(homes, cache)
    snap = snapshot() if snapshot is not None else None
    result = match_live(SessionProcessMatcher(), list(found), homes, snap)
    selected = list(result.matches)
    if pid is not None:
        m = result.match_for_pid(pid)
        selected = [m] if m is not None else []
    if as_json:
        out.write(dump_json([m.to_dict() for m in selected]).decode())
    elif pid is not None and not selected:
        out.write(f"no agent session matched for pid {pid}\n")
    else:
        _table(result, pid, out)
    return 1 if pid is not None and not selected else 0
