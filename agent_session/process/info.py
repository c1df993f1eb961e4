"""Plain process records: what a snapshot hands the recogniser and the matcher.

Kept apart from the psutil reader so that recognition and matching depend on
data only — they can be run on a recorded or made-up snapshot, and importing
them never imports psutil. (It also ends the import circle in which
``recognize`` needed ``ProcessInfo`` from the snapshot module, which itself
needed ``recognize`` to pick the processes worth a detailed read.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ENV_KEYS", "ProcessInfo", "ProcessSnapshot"]

#: The only environment variables we keep; the rest of an environment is never stored.
ENV_KEYS: tuple[str, ...] = (
    "CLAUDE_CODE_SESSION_ID",
    "CODEX_THREAD_ID",
    "CODEX_SESSION_ID",
    "CLAUDE_PID",
    "GEMINI_CLI",
)


@dataclass(frozen=True, eq=True)
class ProcessInfo:
    """What the matcher needs to know about one process (plain data, no psutil)."""

    pid: int
    ppid: int
    #: Seconds since the epoch; with ``pid`` it is the process identity.
    create_time: float
    name: str = ""
    exe: str | None = None
    cmdline: tuple[str, ...] = ()
    cwd: str | None = None
    #: Regular files the process holds open (absolute paths, as the kernel reports them).
    open_files: tuple[str, ...] = ()
    #: Only the keys in ``ENV_KEYS`` that are set.
    environ: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: CPU since the previous snapshot and resident memory; like cwd, open files
    #: and environ, a snapshot fills them for agent trees only.
    cpu_percent: float = 0.0
    rss: int = 0

    @property
    def identity(self) -> tuple[int, float]:
        return (self.pid, self.create_time)

    @property
    def create_ms(self) -> int:
        return int(self.create_time * 1000)


@dataclass(frozen=True)
class ProcessSnapshot:
    """The processes seen in one pass and when (ms since the epoch) it was taken."""

    processes: tuple[ProcessInfo, ...]
    taken_ms: int

    def by_pid(self) -> dict[int, ProcessInfo]:
        return {p.pid: p for p in self.processes}
