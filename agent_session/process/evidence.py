"""What a live agent leaves behind that names its session.

Two halves: tiny file reads (Claude's ``sessions/<pid>.json`` pid files,
Gemini's ``projects.json``) done only for the agents that are running, and
pure helpers the matcher applies to process records (session ids in argv, in
the environment, in paths of open files). Nothing here decides a match; the
matcher weighs what these return.

What each real CLI leaves (Claude Code 2.1, Codex 0.169, Gemini 0.61, Linux):

- Claude: ``<claude home>/sessions/<pid>.json`` while an interactive session
  lives; an open fd under ``$TMPDIR/claude-<uid>/<encoded cwd>/<session id>/``;
  ``CLAUDE_CODE_SESSION_ID`` in its tool shells; ``--resume``/``--session-id``.
- Codex: the rollout file open (append) in the native child, plus
  ``thread-writer-locks/<thread id>.lock``; ``CODEX_THREAD_ID`` in tool shells;
  ``codex resume <id>``.
- Gemini: nothing but its cwd (mapped to the project folder) and
  ``--resume <id>`` when a full id is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model import AgentType
from .recognize import agent_args, codex_positionals

__all__ = [
    "ENV_SESSION_KEYS",
    "ClaudePidFile",
    "argv_session_ids",
    "claude_temp_session_id",
    "codex_lock_thread_id",
    "gemini_project_keys",
    "parse_proc_start",
    "read_claude_pid_files",
    "read_gemini_projects",
]

#: Environment variables an agent gives its tool processes, naming its own session.
ENV_SESSION_KEYS: Mapping[AgentType, tuple[str, ...]] = {
    AgentType.CLAUDE: ("CLAUDE_CODE_SESSION_ID",),
    AgentType.CODEX: ("CODEX_THREAD_ID", "CODEX_SESSION_ID"),
    AgentType.GEMINI: (),
}

_MAX_SMALL_FILE = 256 * 1024


def _clock_ticks() -> int:
    try:
        return max(1, os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


#: Half a clock tick in seconds: how far apart two readings of one start time can be.
_HALF_TICK = 0.5 / _clock_ticks()
_CLAUDE_TMP_DIR = re.compile(r"^claude-\d+$")
_SESSION_ID_SHAPE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{7,127}$")


@dataclass(frozen=True)
class ClaudePidFile:
    """``<claude home>/sessions/<pid>.json``: Claude's own word on its current session."""

    pid: int
    session_id: str
    path: str
    cwd: str | None = None
    #: ``startedAt`` (ms since the epoch) as written by the CLI.
    started_at_ms: int | None = None
    #: ``procStart`` converted to seconds since the epoch, when it could be.
    proc_start: float | None = None
    #: The file's mtime in ms (the last time the CLI rewrote it).
    mtime_ms: int | None = None
    version: str | None = None
    kind: str | None = None
    #: ``procStart`` was clock ticks since boot (Linux), the very count psutil's
    #: ``create_time`` is computed from, so the two can be compared to the tick.
    proc_start_ticks: bool = False

    def belongs_to(self, create_time: float, skew_ms: int = 2000) -> bool:
        """Whether this file was written by the process started at ``create_time``.

        A pid file left by an earlier process with the same pid was written
        before the current process started, so every available time must not
        predate the start (beyond a skew). ``procStart`` is compared exactly:
        in clock ticks both sides are boot time + the same tick count, and the
        kernel's boot time only moves by whole seconds (when the wall clock is
        stepped), so any fraction of a second apart is another process — one
        that held the pid moments before (a second's tolerance let it through).
        """
        if self.proc_start is not None:
            diff = self.proc_start - create_time
            if not self.proc_start_ticks:
                return abs(diff) <= 1.0  # a date with one-second resolution (macOS)
            whole = round(diff)
            return abs(whole) <= 1 and abs(diff - whole) < _HALF_TICK
        create_ms = create_time * 1000.0
        if self.started_at_ms is not None:
            return self.started_at_ms >= create_ms - skew_ms
        if self.mtime_ms is not None:
            return self.mtime_ms >= create_ms - skew_ms
        return False


def _read_small(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_SMALL_FILE + 1)
    except OSError:
        return None
    return data if len(data) <= _MAX_SMALL_FILE else None


def _to_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value:
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def parse_proc_start(
    value: object, boot_time: float | None = None, clock_ticks: int | None = None
) -> float | None:
    """``procStart`` as seconds since the epoch.

    Linux CLIs write field 22 of ``/proc/<pid>/stat`` (clock ticks since boot);
    macOS ones write a ``ctime``-style local date. psutil computes
    ``create_time`` from the same boot time and ticks, so they compare exactly.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            ticks = int(text)
        else:
            try:
                return time.mktime(time.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y"))
            except (ValueError, OverflowError):
                return None
    elif isinstance(value, int) and not isinstance(value, bool):
        ticks = value
    else:
        return None
    if boot_time is None:
        import psutil

        boot_time = psutil.boot_time()
    if clock_ticks is None:
        try:
            clock_ticks = os.sysconf("SC_CLK_TCK")
        except (ValueError, OSError, AttributeError):
            clock_ticks = 100
    return boot_time + ticks / max(1, clock_ticks)


def _is_ticks(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())


def _parse_pid_file(
    pid: int, path: Path, data: bytes, mtime_ms: int | None, boot_time: float | None
) -> ClaudePidFile | None:
    try:
        obj = json.loads(data)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    session_id = obj.get("sessionId")
    if not isinstance(session_id, str) or not session_id:
        return None
    file_pid = _to_int(obj.get("pid"))
    if file_pid is not None and file_pid != pid:
        return None
    cwd = obj.get("cwd")
    version = obj.get("version")
    kind = obj.get("kind")
    return ClaudePidFile(
        pid=pid,
        session_id=session_id,
        path=str(path),
        cwd=cwd if isinstance(cwd, str) else None,
        started_at_ms=_to_int(obj.get("startedAt")),
        proc_start=parse_proc_start(obj.get("procStart"), boot_time),
        proc_start_ticks=_is_ticks(obj.get("procStart")),
        mtime_ms=mtime_ms,
        version=version if isinstance(version, str) else None,
        kind=kind if isinstance(kind, str) else None,
    )


def read_claude_pid_files(
    claude_roots: Iterable[Path], pids: Iterable[int], boot_time: float | None = None
) -> dict[int, ClaudePidFile]:
    """Pid files of the given (live Claude) pids; one tiny read per pid and root.

    When several Claude homes hold a file for the same pid, the most recently
    written one wins.
    """
    roots = list(claude_roots)
    out: dict[int, ClaudePidFile] = {}
    for pid in pids:
        for root in roots:
            path = root / "sessions" / f"{pid}.json"
            try:
                st = path.stat()
            except OSError:
                continue
            data = _read_small(path)
            if data is None:
                continue
            record = _parse_pid_file(pid, path, data, int(st.st_mtime * 1000), boot_time)
            if record is None:
                continue
            prev = out.get(pid)
            if prev is None or (record.mtime_ms or 0) > (prev.mtime_ms or 0):
                out[pid] = record
    return out


def read_gemini_projects(gemini_roots: Iterable[Path]) -> dict[str, str]:
    """Gemini's ``projects.json``: project root → folder name under ``tmp/``."""
    out: dict[str, str] = {}
    for root in gemini_roots:
        data = _read_small(root / "projects.json")
        if data is None:
            continue
        try:
            obj = json.loads(data)
        except ValueError:
            continue
        projects = obj.get("projects") if isinstance(obj, dict) else None
        if isinstance(projects, dict):
            for key, value in projects.items():
                if isinstance(key, str) and isinstance(value, str) and value:
                    out.setdefault(key, value)
    return out


def gemini_project_keys(cwd: str, projects: Mapping[str, str], real_cwd: str | None = None) -> set[str]:
    """Folder names under Gemini's ``tmp/`` that a process in ``cwd`` writes to.

    Current CLIs use the short name from ``projects.json``; older ones the
    sha256 of the project root.
    """
    keys: set[str] = set()
    for path in {cwd, real_cwd or cwd}:
        keys.add(hashlib.sha256(path.encode()).hexdigest())
        name = projects.get(path)
        if name:
            keys.add(name)
    return keys


def claude_temp_session_id(path: str) -> str | None:
    """Session id from a path under ``$TMPDIR/claude-<uid>/<encoded cwd>/<session id>/…``."""
    if "claude-" not in path:
        return None
    parts = path.split("/")
    for i, part in enumerate(parts):
        if _CLAUDE_TMP_DIR.match(part) and i + 2 < len(parts):
            candidate = parts[i + 2]
            if _SESSION_ID_SHAPE.match(candidate):
                return candidate
    return None


def codex_lock_thread_id(path: str) -> str | None:
    """Thread id from Codex's ``thread-writer-locks/<id>.lock``, held while it writes."""
    head, _, name = path.rpartition("/")
    if not head.endswith("/thread-writer-locks") or not name.endswith(".lock"):
        return None
    candidate = name[: -len(".lock")]
    return candidate if _SESSION_ID_SHAPE.match(candidate) else None


def _option_values(args: Sequence[str], names: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for i, tok in enumerate(args):
        for name in names:
            if tok == name and i + 1 < len(args) and not args[i + 1].startswith("-"):
                out.append(args[i + 1])
            elif tok.startswith(name + "="):
                out.append(tok[len(name) + 1 :])
    return out


def argv_session_ids(agent: AgentType, cmdline: Sequence[str]) -> list[str]:
    """Session ids a command line names explicitly (resume or a chosen id).

    A fork (``--fork-session``, ``codex fork``) writes a *new* session, so the
    id it names is not this process's session.
    """
    args = agent_args(cmdline)
    if not args:
        return []
    if agent is AgentType.CLAUDE:
        ids = _option_values(args, ("--session-id",))
        if "--fork-session" not in args:
            ids += _option_values(args, ("--resume", "-r"))
        return [i for i in ids if i]
    if agent is AgentType.GEMINI:
        return [
            i for i in _option_values(args, ("--resume", "-r")) if i and i != "latest" and not i.isdigit()
        ]
    # Codex: `codex resume <id>` / `codex exec resume <id>` (not `--last`, not `fork`).
    if "--last" in args:
        return []
    positionals = codex_positionals(cmdline)
    if positionals[:1] == ["resume"] and len(positionals) > 1:
        return [positionals[1]]
    if positionals[:2] == ["exec", "resume"] and len(positionals) > 2:
        return [positionals[2]]
    return []
