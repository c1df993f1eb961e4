"""Process snapshots from psutil, shaped as plain records for the matcher.

One ``process_iter`` pass reads the cheap attributes of every process (parent,
start time, name); the expensive ones (cwd, open files, environment) are read
only for agent processes and their descendants, because the monitor
snapshots every second. Processes that vanish mid-snapshot are skipped, and a
field we may not read is left empty — never an error. Everything is read
through psutil's public ``process_iter(attrs, ad_value)`` and
``Process.as_dict(attrs, ad_value)``, which turn access-denied and zombie
reads into the ``ad_value`` for us.

psutil caches ``Process`` objects between ``process_iter`` calls together
with their creation time, and since 6.0 no longer checks them for a reused pid
while iterating. Reading ``ppid`` does that check (psutil#2290, in every
release we support): a cached object whose pid now belongs to another process
raises ``NoSuchProcess``, which makes ``process_iter`` skip it and drop it from
its cache, so the new process is read afresh on the next pass. Identity is
``(pid, create_time)`` everywhere; CPU percentages come from our own previous
sample, not psutil's per-object state.

A snapshot can be scoped to the trees of given pids (``only_trees_of``): the
process table is still listed, but only those processes and their
descendants are read and returned. Tests use it to see the agents they
started and nothing else — the machine they run on may well run real ones.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from .info import ENV_KEYS, ProcessInfo, ProcessSnapshot
from .recognize import label_process

__all__ = ["ENV_KEYS", "ProcessInfo", "ProcessSnapshot", "ProcessSnapshotter", "snapshot_processes"]

#: Read for every process, every pass: all from one stat line on Linux. ``ppid`` must
#: stay: reading it is what rules out a cached process object whose pid was reused.
_CHEAP = ("ppid", "create_time", "name")
#: Read once per process identity.
_STATIC = ("exe", "cmdline")
#: Read per pass for agent trees only.
_DETAIL = ("cpu_times", "memory_info", "cwd", "open_files", "environ")
#: Longest argument kept (a path is at most 4096 bytes on Linux; ids are short). A
#: prompt passed on the command line can be megabytes, and every process's argv is
#: kept between passes, so longer arguments are cut and end with "…".
MAX_ARG_CHARS = 4096


def _bounded_arg(arg: str) -> str:
    return arg if len(arg) <= MAX_ARG_CHARS else arg[: MAX_ARG_CHARS - 1] + "…"


def _descendants(roots: Iterable[int], children: Mapping[int, list[int]]) -> set[int]:
    out: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        out.add(pid)
        stack.extend(children.get(pid, ()))
    return out


@dataclass(frozen=True)
class _Static:
    name: str
    exe: str | None
    cmdline: tuple[str, ...]
    is_agent: bool


@dataclass(frozen=True)
class _Row:
    proc: psutil.Process
    ppid: int
    create_time: float
    static: _Static


def _as_dict(proc: psutil.Process, attrs: tuple[str, ...]) -> dict[str, Any] | None:
    """``proc.as_dict`` with unreadable fields as None; None when the process is gone."""
    try:
        return proc.as_dict(list(attrs), ad_value=None)
    except (psutil.Error, OSError):
        return None


def _read_static(proc: psutil.Process, name: str) -> _Static | None:
    info = _as_dict(proc, _STATIC)
    if info is None:
        return None
    exe = info.get("exe") or None
    cmdline = tuple(_bounded_arg(str(a)) for a in info.get("cmdline") or ())
    return _Static(name, exe, cmdline, label_process(name, exe, cmdline) is not None)


class ProcessSnapshotter:
    """Takes snapshots, keeping what does not change between them.

    Per pass every process costs its stat line (ppid, start time, name) and
    psutil's identity check behind ``ppid``. Its exe and cmdline are read once
    per ``(pid, create_time, name)`` (an ``exec`` changes the name, so it is
    seen). CPU, RSS, cwd, open files and environment are read only for agent
    processes and their descendants; other records leave them empty.

    ``only_trees_of``: when given, only these pids and their descendants are
    read and returned (an empty collection gives empty snapshots).
    """

    def __init__(self, only_trees_of: Collection[int] | None = None) -> None:
        self.only_trees_of: frozenset[int] | None = (
            frozenset(only_trees_of) if only_trees_of is not None else None
        )
        self._static: dict[tuple[int, float], _Static] = {}
        self._cpu: dict[tuple[int, float], tuple[float, float]] = {}

    def _list(self) -> list[tuple[psutil.Process, int, float, str]]:
        """Every process (or every one in scope) with its parent, start time and name."""
        listed: list[tuple[psutil.Process, int, float, str]] = []
        for proc in psutil.process_iter(list(_CHEAP), ad_value=None):
            info: dict[str, Any] = proc.info
            create_time = info.get("create_time")
            if create_time is None:
                continue  # no identity without a start time
            listed.append((proc, int(info.get("ppid") or 0), float(create_time), info.get("name") or ""))
        if self.only_trees_of is None:
            return listed
        children: dict[int, list[int]] = {}
        for proc, ppid, _, _ in listed:
            if ppid != proc.pid:
                children.setdefault(ppid, []).append(proc.pid)
        keep = _descendants(self.only_trees_of, children)
        return [entry for entry in listed if entry[0].pid in keep]

    def snapshot(self) -> ProcessSnapshot:
        now = time.monotonic()
        rows: list[_Row] = []
        static_seen: dict[tuple[int, float], _Static] = {}
        for proc, ppid, create_time, name in self._list():
            key = (proc.pid, create_time)
            static = self._static.get(key)
            if static is None or static.name != name:
                static = _read_static(proc, name)
                if static is None:
                    continue  # gone since it was listed
            static_seen[key] = static
            rows.append(_Row(proc, ppid, create_time, static))
        self._static = static_seen

        children: dict[int, list[int]] = {}
        for row in rows:
            if row.ppid != row.proc.pid:
                children.setdefault(row.ppid, []).append(row.proc.pid)
        detailed = _descendants((r.proc.pid for r in rows if r.static.is_agent), children)

        cpu_seen: dict[tuple[int, float], tuple[float, float]] = {}
        out: list[ProcessInfo] = []
        for row in rows:
            pid, st = row.proc.pid, row.static
            if pid not in detailed:
                out.append(ProcessInfo(pid, row.ppid, row.create_time, st.name, st.exe, st.cmdline))
                continue
            d = _as_dict(row.proc, _DETAIL)
            if d is None:
                continue  # exited since it was listed
            cpu = 0.0
            times = d.get("cpu_times")
            if times is not None:
                total = float(times.user + times.system)
                prev = self._cpu.get((pid, row.create_time))
                if prev is not None and now > prev[1]:
                    cpu = max(0.0, (total - prev[0]) / (now - prev[1]) * 100.0)
                cpu_seen[(pid, row.create_time)] = (total, now)
            mem = d.get("memory_info")
            files = d.get("open_files") or ()
            env = d.get("environ") or {}
            out.append(
                ProcessInfo(
                    pid,
                    row.ppid,
                    row.create_time,
                    st.name,
                    st.exe,
                    st.cmdline,
                    d.get("cwd") or None,
                    tuple(dict.fromkeys(f.path for f in files)),
                    {k: env[k] for k in ENV_KEYS if k in env},
                    round(cpu, 1),
                    int(mem.rss) if mem is not None else 0,
                )
            )
        self._cpu = cpu_seen
        return ProcessSnapshot(tuple(out), int(time.time() * 1000))


_default = ProcessSnapshotter()


def snapshot_processes(only_trees_of: Collection[int] | None = None) -> ProcessSnapshot:
    """A snapshot of the machine, or of the trees of ``only_trees_of`` only.

    The unscoped call uses a module-wide snapshotter, so its CPU% is relative
    to the previous call; a scoped call uses a fresh one (CPU% 0.0) — keep a
    :class:`ProcessSnapshotter` to get CPU for a scope.
    """
    if only_trees_of is None:
        return _default.snapshot()
    return ProcessSnapshotter(only_trees_of).snapshot()
