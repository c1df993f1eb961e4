"""``agentsession doctor``: why a list is empty or a process has no session.

An empty ``list`` has many causes a user cannot tell apart: the agent keeps
its data elsewhere (an environment variable points at another home, or was
not exported to this shell), the home exists but no session was saved yet, a
folder cannot be read, files were skipped as empty or malformed, the cache is
ignored, or the agent process runs but none of its evidence points at a
file. :func:`diagnose` looks at each of those in turn, the way the store and
the matcher do, and returns a :class:`DoctorReport` that renders as plain text
(answers in sentences) or as JSON with a stable shape (for bug reports).

It only reads: directories are listed, never created, and the process table
is read through an injectable snapshot function so tests do not depend on the
agents running on the machine.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import cache_disabled_by_env
from .discovery import AgentHomes
from .model import AgentSession, AgentType
from .sources.registry import SESSION_TREES as _SESSION_TREES
from .store import SessionStore
from .text import one_line

if TYPE_CHECKING:
    from .process import ProcessSnapshot

__all__ = ["AgentCheck", "CacheCheck", "DoctorReport", "FolderCheck", "ProcessCheck", "diagnose"]

#: Files listed by path per agent and kind (unreadable, skipped); the rest are counted.
MAX_LISTED = 50
#: Unknown record types listed per agent (most frequent first); the rest are counted.
MAX_UNKNOWN_TYPES = 20

_NAMES = {AgentType.CLAUDE: "Claude Code", AgentType.CODEX: "Codex CLI", AgentType.GEMINI: "Gemini CLI"}
#: The variable that moves each agent's home, as the agents themselves read it.
_ENV = {
    AgentType.CLAUDE: "CLAUDE_CONFIG_DIR",
    AgentType.CODEX: "CODEX_HOME",
    AgentType.GEMINI: "GEMINI_CLI_HOME",
}


@dataclass(frozen=True)
class FolderCheck:
    """A directory looked at: a home or a session folder inside one.

    ``state`` is ``found``, ``missing``, ``unreadable`` or ``not_a_directory``;
    ``reason`` says why for the last two.
    """

    path: str
    state: str
    reason: str | None = None
    #: Session files found below (all of them, readable or not) and sessions read from them.
    files: int = 0
    sessions: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "state": self.state,
            "reason": self.reason,
            "files": self.files,
            "sessions": self.sessions,
        }


@dataclass(frozen=True)
class AgentCheck:
    agent: AgentType
    #: How the homes were chosen: ``--home``, the variable's value, or "not set".
    env_note: str
    homes: tuple[FolderCheck, ...]
    folders: tuple[FolderCheck, ...]
    sessions: int
    subagents: int
    lines_skipped: int
    unreadable: tuple[tuple[str, str], ...]
    unreadable_total: int
    skipped: tuple[tuple[str, str], ...]
    skipped_total: int
    unknown_types: dict[str, int]
    unknown_types_other: int
    #: ``kind.field`` -> sessions whose sampled records had that field (see
    #: ``ParseDiagnostics.unknown_fields``): a CLI release changed its records.
    unknown_fields: dict[str, int]
    advice: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent.value,
            "env": self.env_note,
            "homes": [h.to_json() for h in self.homes],
            "folders": [f.to_json() for f in self.folders],
            "sessions": self.sessions,
            "subagents": self.subagents,
            "lines_skipped": self.lines_skipped,
            "unreadable": [{"path": p, "reason": r} for p, r in self.unreadable],
            "unreadable_total": self.unreadable_total,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "skipped_total": self.skipped_total,
            "unknown_types": dict(self.unknown_types),
            "unknown_types_other": self.unknown_types_other,
            "unknown_fields": dict(self.unknown_fields),
            "advice": list(self.advice),
        }


@dataclass(frozen=True)
class ProcessCheck:
    """Agent processes seen in one snapshot and what each was matched to."""

    available: bool
    error: str | None = None
    #: One entry per agent tree: pid, agent, name, cwd, and the match (or None).
    trees: tuple[dict[str, Any], ...] = ()

    @property
    def matched(self) -> int:
        return sum(1 for t in self.trees if t["session"] is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "error": self.error,
            "seen": len(self.trees),
            "matched": self.matched,
            "trees": [dict(t) for t in self.trees],
        }


@dataclass(frozen=True)
class CacheCheck:
    enabled: bool
    #: Why the cache is off (``--no-cache``, the environment variable) when it is.
    off_reason: str | None
    path: str | None
    exists: bool
    size: int | None
    diagnostic: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "off_reason": self.off_reason,
            "path": self.path,
            "exists": self.exists,
            "size": self.size,
            "diagnostic": self.diagnostic,
        }


@dataclass(frozen=True)
class DoctorReport:
    """Everything :func:`diagnose` found; ``to_json()`` keeps its keys stable across releases."""

    home: str | None
    agents: tuple[AgentCheck, ...]
    processes: ProcessCheck
    cache: CacheCheck
    user_home: str = field(default="", compare=False)

    @property
    def sessions(self) -> int:
        return sum(a.sessions for a in self.agents)

    def to_json(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "sessions": self.sessions,
            "agents": [a.to_json() for a in self.agents],
            "processes": self.processes.to_json(),
            "cache": self.cache.to_json(),
        }

    def to_text(self) -> str:
        lines: list[str] = []
        t = self._tilde
        for a in self.agents:
            lines.append(f"{_NAMES[a.agent]} ({self._tilde_all(a.env_note)})")
            for h in a.homes:
                lines.append(f"  home    {t(h.path)}: {_state_text(h)}")
            for f in a.folders:
                count = f", {f.files} file(s), {f.sessions} session(s)" if f.state == "found" else ""
                lines.append(f"  folder  {t(f.path)}: {_state_text(f)}{count}")
            lines.append(
                f"  {a.sessions} session(s) ({a.subagents} subagent), {a.unreadable_total} unreadable file(s), "
                f"{a.skipped_total} skipped file(s), {a.lines_skipped} skipped line(s)"
            )
            for label, items, total in (
                ("unreadable", a.unreadable, a.unreadable_total),
                ("skipped", a.skipped, a.skipped_total),
            ):
                for path, reason in items:
                    lines.append(f"  {label}: {t(path)}: {one_line(reason, 300)}")
                if total > len(items):
                    lines.append(f"  … and {total - len(items)} more {label} file(s) (--json lists them)")
            if a.unknown_types:
                types = ", ".join(f"{one_line(k, 60)}×{v}" for k, v in a.unknown_types.items())
                more = f" and {a.unknown_types_other} more type(s)" if a.unknown_types_other else ""
                lines.append(f"  unknown record types (ignored): {types}{more}")
            if a.unknown_fields:
                fields = ", ".join(
                    f"{one_line(k, 100)} in {v} session(s)" for k, v in a.unknown_fields.items()
                )
                lines.append(f"  fields this version does not know (a newer CLI?): {fields}")
            lines.extend(f"  -> {self._tilde_all(msg)}" for msg in a.advice)
            lines.append("")
        p = self.processes
        lines.append("Processes")
        if not p.available:
            lines.append(f"  cannot read the process table: {p.error}")
        else:
            lines.append(f"  {len(p.trees)} agent process tree(s) seen, {p.matched} matched to a session")
            for tr in p.trees:
                head = f"  pid {tr['pid']:<7} {tr['agent']:<7}"
                if tr["session"] is not None:
                    lines.append(
                        f"{head} -> {tr['session']} by {tr['evidence']} ({tr['confidence']:.2f}) {t(tr['path'] or '')}"
                    )
                else:
                    cwd = t(tr["cwd"]) if tr["cwd"] else "unknown"
                    lines.append(
                        f"{head} not matched: no evidence names a session file, and none of its "
                        f"sessions was active in its cwd ({cwd}) since it started"
                    )
        lines.append("")
        c = self.cache
        lines.append("Cache")
        if not c.enabled:
            lines.append(f"  off ({c.off_reason})")
        else:
            state = f"present, {c.size:,} bytes" if c.exists and c.size is not None else "not written yet"
            lines.append(f"  {t(c.path or '')}: {state}")
        if c.diagnostic:
            lines.append(f"  {one_line(c.diagnostic, 300)}")
        lines.append("")
        if self.sessions == 0:
            lines.append("No session found for any agent: see the '->' lines above for why.")
        else:
            lines.append(f"{self.sessions} session(s) in all.")
        return "\n".join(lines) + "\n"

    def _tilde(self, path: str) -> str:
        clean = one_line(path, 4096) or ""
        home = self.user_home
        if home and (clean == home or clean.startswith(home.rstrip("/") + "/")):
            return "~" + clean[len(home.rstrip("/")) :]
        return clean

    def _tilde_all(self, text: str) -> str:
        clean = one_line(text, 4096) or ""
        home = self.user_home.rstrip("/")
        return clean.replace(home + "/", "~/") if home else clean


def _state_text(f: FolderCheck) -> str:
    if f.reason:
        return f"{f.state} ({one_line(f.reason, 300)})"
    return f.state.replace("_", " ")


def _probe(path: Path) -> tuple[str, str | None]:
    """State of a directory, found by listing it as the walk would (so the answer is the walk's)."""
    try:
        with os.scandir(path) as it:
            next(it, None)
    except FileNotFoundError:
        return "missing", None
    except NotADirectoryError:
        return "not_a_directory", "it is a file"
    except OSError as exc:
        return "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}"
    return "found", None


def _under(path: str, folder: Path) -> bool:
    root = str(folder).rstrip(os.sep) + os.sep
    return path.startswith(root)


def _env_note(agent: AgentType, home: str | None, env: Mapping[str, str]) -> str:
    if home is not None:
        return "--home given: environment variables ignored"
    name = _ENV[agent]
    value = env.get(name)
    return f"{name}={value}" if value else f"{name} not set"


def _check_agent(
    agent: AgentType,
    homes: AgentHomes,
    home_arg: str | None,
    env: Mapping[str, str],
    store: SessionStore,
    sessions: Sequence[AgentSession],
) -> AgentCheck:
    roots = homes.roots(agent)
    files = [str(f.path) for f in store.tracked_files() if f.agent_type is agent]
    home_checks = []
    folder_checks = []
    advice: list[str] = []
    for root in roots:
        state, reason = _probe(root)
        home_checks.append(
            FolderCheck(
                str(root),
                state,
                reason,
                files=sum(1 for f in files if _under(f, root)),
                sessions=sum(1 for s in sessions if _under(s.path, root)),
            )
        )
        if state == "unreadable":
            advice.append(f"cannot read {root} ({reason}): sessions inside are not shown")
        if state != "found":
            continue
        found_folder = False
        for sub, _depth in _SESSION_TREES.get(agent, ()):
            folder = root / sub
            fstate, freason = _probe(folder)
            n_files = sum(1 for f in files if _under(f, folder))
            n_sessions = sum(1 for s in sessions if _under(s.path, folder))
            folder_checks.append(FolderCheck(str(folder), fstate, freason, n_files, n_sessions))
            if fstate == "unreadable":
                advice.append(f"cannot read {folder} ({freason}): sessions inside are not shown")
            elif fstate == "found":
                found_folder = True
                if n_files == 0:
                    advice.append(f"{folder} holds no session file yet")
        if not found_folder and not any(f.state == "unreadable" for f in folder_checks):
            subs = " or ".join(f"{sub}/" for sub, _ in _SESSION_TREES.get(agent, ()))
            advice.append(f"{root} exists but has no {subs}: {_NAMES[agent]} has not saved a session there")
    if not any(h.state == "found" for h in home_checks) and not any(
        h.state == "unreadable" for h in home_checks
    ):
        where = " or ".join(str(r) for r in roots) or "(no home configured)"
        advice.append(f"no {_NAMES[agent]} home at {where} ({_env_note(agent, home_arg, env)})")

    mine = [s for s in sessions if s.agent_type is agent]
    unreadable = sorted(
        (p, r) for p, r in store.errors.items() if any(_under(p, r0) or p == str(r0) for r0 in roots)
    )
    skipped_all: dict[str, str] = getattr(store, "skipped", {})
    skipped = sorted((p, r) for p, r in skipped_all.items() if any(_under(p, r0) for r0 in roots))
    if unreadable:
        advice.append(f"{len(unreadable)} file(s) or folder(s) could not be read: their sessions are missing")
    unknown: Counter[str] = Counter()
    for s in mine:
        unknown.update(s.diagnostics.unknown_types)
    top = dict(unknown.most_common(MAX_UNKNOWN_TYPES))
    new_fields: Counter[str] = Counter()
    for s in mine:
        new_fields.update(
            f"{kind}.{name}" for kind, names in s.diagnostics.unknown_fields.items() for name in names
        )
    return AgentCheck(
        agent=agent,
        env_note=_env_note(agent, home_arg, env),
        homes=tuple(home_checks),
        folders=tuple(folder_checks),
        sessions=len(mine),
        subagents=sum(1 for s in mine if s.parent_session_id),
        lines_skipped=sum(s.diagnostics.lines_skipped for s in mine),
        unreadable=tuple(unreadable[:MAX_LISTED]),
        unreadable_total=len(unreadable),
        skipped=tuple(skipped[:MAX_LISTED]),
        skipped_total=len(skipped),
        unknown_types=top,
        unknown_types_other=len(unknown) - len(top),
        unknown_fields=dict(new_fields.most_common(MAX_UNKNOWN_TYPES)),
        advice=tuple(advice),
    )


def _check_processes(
    sessions: Sequence[AgentSession], homes: AgentHomes, snapshot: Callable[[], ProcessSnapshot] | None
) -> ProcessCheck:
    from .process import SessionProcessMatcher, match_live, snapshot_processes

    try:
        snap = snapshot() if snapshot is not None else snapshot_processes()
        result = match_live(SessionProcessMatcher(), sessions, homes, snap)
    except Exception as exc:  # psutil missing permissions, an exotic platform: report, never crash
        return ProcessCheck(False, f"{type(exc).__name__}: {exc}")
    trees = []
    for tree in result.trees:
        m = result.match_for_pid(tree.root_pid)
        trees.append(
            {
                "pid": tree.root_pid,
                "agent": tree.agent_type.value,
                "name": one_line(tree.root.name, 100),
                "cwd": tree.root.cwd,
                "pids": list(tree.pids),
                "session": m.display_id if m is not None else None,
                "path": m.path if m is not None else None,
                "evidence": m.evidence.value if m is not None else None,
                "confidence": m.confidence if m is not None else None,
                "detail": m.detail if m is not None else None,
            }
        )
    return ProcessCheck(True, None, tuple(trees))


def _check_cache(store: SessionStore, wanted: bool, env: Mapping[str, str]) -> CacheCheck:
    cache = store.cache
    if cache is None:
        reason = (
            "--no-cache"
            if not wanted
            else "AGENTSESSION_NO_CACHE is set"
            if cache_disabled_by_env(env)
            else "off"
        )
        return CacheCheck(False, reason, None, False, None, None)
    path = str(cache.path)
    try:
        size: int | None = os.stat(path).st_size
    except OSError:
        size = None
    return CacheCheck(True, None, path, size is not None, size, store.cache_diagnostic)


def diagnose(
    home: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cache: bool = True,
    snapshot: Callable[[], ProcessSnapshot] | None = None,
) -> DoctorReport:
    """Look at every place sessions and processes could go missing; see the module docstring.

    ``home`` is the CLI's ``--home DIR``; ``env`` replaces ``os.environ`` for
    the home overrides; ``snapshot`` replaces the live process table (tests).
    """
    env = os.environ if env is None else env
    home_arg = None if home is None else str(home)
    homes = AgentHomes.resolve(home, env)
    store = SessionStore(homes, cache=cache)
    try:
        store.refresh()
        sessions = store.sessions()
        agents = tuple(_check_agent(a, homes, home_arg, env, store, sessions) for a in AgentType)
        processes = _check_processes(sessions, homes, snapshot)
    finally:
        store.close()  # writes the cache when it is on: look at it after
    cache_check = _check_cache(store, cache, env)
    user_home = env.get("HOME") or str(Path.home())  # "~" is always the real home, never --home
    return DoctorReport(home_arg, agents, processes, cache_check, user_home=user_home)
