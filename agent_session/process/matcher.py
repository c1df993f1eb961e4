"""The sticky matcher: which session each live agent tree is writing.

It takes plain data (process records, parsed sessions, Claude pid files,
Gemini's project map), so every rule is unit-tested without processes.

Pass 1 binds a tree by evidence, strongest first (pid file 0.95; an open
session file or Claude temp folder 0.90; a session id in a tool process's
environment 0.90; an id in argv 0.85), or keeps the binding an earlier
refresh found (0.70) while the same ``(pid, create_time)`` lives and no
current evidence names another session. Pass 2 gives what is left the
session in the same project that is active *now* — latest activity after the
process started — never one that went quiet before it started (AgentSight
picked the session whose end was nearest the process start, i.e. a stale
one). Each session goes to one tree per refresh. ``codex app-server`` trees
serve several threads, including those of TUI clients outside their tree, so
they choose last.

Only sessions we were given count: a file open in a tree (``history.jsonl``,
sqlite caches, logs) that is not a known session file is not evidence.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePath
from typing import Any

from ..model import AgentSession, AgentType, make_display_id
from .evidence import (
    ENV_SESSION_KEYS,
    ClaudePidFile,
    argv_session_ids,
    claude_temp_session_id,
    codex_lock_thread_id,
    gemini_project_keys,
)
from .info import ProcessInfo
from .recognize import AgentTree, build_trees

__all__ = [
    "CONFIDENCE",
    "Evidence",
    "SessionMatch",
    "SessionProcessMatcher",
    "SessionProcessMatches",
]


class Evidence(StrEnum):
    PID_FILE = "pid_file"
    OPEN_FILE = "open_file"
    TEMP_DIR = "temp_dir"
    ENV = "env"
    ARGV = "argv"
    STICKY = "sticky"
    CWD = "cwd"


CONFIDENCE: Mapping[Evidence, float] = {
    Evidence.PID_FILE: 0.95,
    Evidence.OPEN_FILE: 0.90,
    Evidence.TEMP_DIR: 0.90,
    Evidence.ENV: 0.90,
    Evidence.ARGV: 0.85,
    Evidence.STICKY: 0.70,
    Evidence.CWD: 0.55,
}
_RANK = {ev: i for i, ev in enumerate(Evidence)}


@dataclass(frozen=True)
class SessionMatch:
    root_pid: int
    root_create_time: float
    #: The root and every process of its tree (tool children included), root first.
    matched_pids: tuple[int, ...]
    agent_type: AgentType
    session_id: str
    path: str
    evidence: Evidence
    confidence: float
    #: Human-readable note on what was seen (which pid held which file, …).
    detail: str = ""

    @property
    def display_id(self) -> str:
        return make_display_id(self.agent_type, self.session_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root_pid": self.root_pid,
            "matched_pids": list(self.matched_pids),
            "agent_type": self.agent_type.value,
            "session_id": self.session_id,
            "display_id": self.display_id,
            "path": self.path,
            "evidence": self.evidence.value,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class SessionProcessMatches:
    """One refresh's answer; immutable, safe to hand to another thread."""

    matches: tuple[SessionMatch, ...]
    #: Every live agent tree, matched or not (the monitor shows both).
    trees: tuple[AgentTree, ...]
    now_ms: int
    _by_pid: dict[int, SessionMatch] = field(init=False, repr=False, compare=False)
    _by_session: dict[str, SessionMatch] = field(init=False, repr=False, compare=False)
    _tree_by_pid: dict[int, AgentTree] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_pid = {pid: m for m in self.matches for pid in m.matched_pids}
        by_session = {m.session_id: m for m in self.matches}
        trees = {pid: t for t in self.trees for pid in t.pids}
        object.__setattr__(self, "_by_pid", by_pid)
        object.__setattr__(self, "_by_session", by_session)
        object.__setattr__(self, "_tree_by_pid", trees)

    def __iter__(self) -> Iterator[SessionMatch]:
        return iter(self.matches)

    def __len__(self) -> int:
        return len(self.matches)

    def match_for_pid(self, pid: int) -> SessionMatch | None:
        return self._by_pid.get(pid)

    def session_for_pid(self, pid: int) -> str | None:
        """Session id written by the tree ``pid`` belongs to (root or any descendant)."""
        m = self._by_pid.get(pid)
        return m.session_id if m is not None else None

    def match_for_session(self, session_id: str) -> SessionMatch | None:
        return self._by_session.get(session_id)

    def tree_for_pid(self, pid: int) -> AgentTree | None:
        return self._tree_by_pid.get(pid)

    @property
    def unmatched(self) -> tuple[AgentTree, ...]:
        return tuple(t for t in self.trees if t.root.pid not in self._by_pid)


@dataclass(frozen=True)
class _Binding:
    create_time: float
    agent: AgentType
    session_id: str
    evidence: Evidence


@dataclass(frozen=True)
class _Candidate:
    session: AgentSession
    evidence: Evidence
    detail: str

    @property
    def confidence(self) -> float:
        return CONFIDENCE[self.evidence]


def _activity(s: AgentSession) -> int:
    return s.last_activity_ms or s.end_timestamp_ms or s.start_timestamp_ms or 0


def _key(s: AgentSession) -> tuple[AgentType, str]:
    return (s.agent_type, s.session_id)


def _gemini_folder(path: str) -> str | None:
    """``tmp/<project>/chats/session-….json[l]`` → ``<project>``."""
    parts = PurePath(path).parts
    if len(parts) >= 3 and parts[-2] == "chats":
        return parts[-3]
    return None


class _Index:
    """Sessions by id and by path; real paths computed lazily through the matcher's cache."""

    def __init__(self, sessions: Iterable[AgentSession], realpath: Callable[[str], str]) -> None:
        self.by_id: dict[tuple[AgentType, str], AgentSession] = {}
        self.by_path: dict[str, AgentSession] = {}
        self._realpath = realpath
        self._by_real: dict[str, AgentSession] | None = None
        for s in sessions:
            key = _key(s)
            prev = self.by_id.get(key)
            if prev is None or _activity(s) > _activity(prev):
                self.by_id[key] = s
            self.by_path[s.path] = s

    def get(self, agent: AgentType, session_id: str) -> AgentSession | None:
        return self.by_id.get((agent, session_id))

    def for_path(self, path: str) -> AgentSession | None:
        s = self.by_path.get(path)
        if s is not None:
            return s
        if self._by_real is None:
            self._by_real = {self._realpath(p): s for p, s in self.by_path.items()}
        return self._by_real.get(path)


class SessionProcessMatcher:
    """Keeps bindings across calls; ``match`` is cheap enough to run every second."""

    def __init__(self, skew_ms: int = 2000) -> None:
        self.skew_ms = skew_ms
        self._bindings: dict[int, _Binding] = {}
        self._real: dict[str, str] = {}

    @property
    def bindings(self) -> dict[int, tuple[float, str]]:
        """Root pid → (create_time, session id) kept from evidence (a copy)."""
        return {pid: (b.create_time, b.session_id) for pid, b in self._bindings.items()}

    def reset(self) -> None:
        self._bindings.clear()
        self._real.clear()

    def _realpath(self, path: str) -> str:
        real = self._real.get(path)
        if real is None:
            if len(self._real) > 50_000:
                self._real.clear()
            real = os.path.realpath(path)
            self._real[path] = real
        return real

    # -- evidence ---------------------------------------------------------

    def _candidates(
        self, tree: AgentTree, index: _Index, pid_files: Mapping[int, ClaudePidFile]
    ) -> tuple[list[_Candidate], bool]:
        """Candidates for one tree, and whether a live pid file names a session not known yet."""
        agent = tree.agent_type
        live: list[_Candidate] = []
        pending = False
        if agent is AgentType.CLAUDE:
            for proc in tree.labelled:
                pf = pid_files.get(proc.pid)
                if pf is None or not pf.belongs_to(proc.create_time, self.skew_ms):
                    continue
                s = index.get(agent, pf.session_id)
                if s is None:
                    pending = True
                else:
                    live.append(_Candidate(s, Evidence.PID_FILE, pf.path))
        for proc in tree.members:
            for path in proc.open_files:
                s = index.for_path(path)
                if s is not None:
                    if s.agent_type is agent:
                        live.append(_Candidate(s, Evidence.OPEN_FILE, f"pid {proc.pid} holds {path}"))
                    continue
                if agent is AgentType.CLAUDE:
                    sid = claude_temp_session_id(path)
                    s = index.get(agent, sid) if sid else None
                    if s is not None:
                        live.append(_Candidate(s, Evidence.TEMP_DIR, f"pid {proc.pid} holds {path}"))
                elif agent is AgentType.CODEX:
                    sid = codex_lock_thread_id(path)
                    s = index.get(agent, sid) if sid else None
                    if s is not None:
                        live.append(_Candidate(s, Evidence.OPEN_FILE, f"pid {proc.pid} holds {path}"))
        keys = ENV_SESSION_KEYS[agent]
        if keys:
            inherited = tree.root.environ
            for proc in tree.members[1:]:
                for env_key in keys:
                    value = proc.environ.get(env_key)
                    # The root's own value came from whoever started it (an outer agent).
                    if not value or value == inherited.get(env_key):
                        continue
                    s = index.get(agent, value)
                    if s is not None:
                        live.append(_Candidate(s, Evidence.ENV, f"pid {proc.pid} has {env_key}"))
        argv: list[_Candidate] = []
        for proc in tree.labelled:
            for sid in argv_session_ids(agent, proc.cmdline):
                s = index.get(agent, sid)
                if s is not None:
                    argv.append(_Candidate(s, Evidence.ARGV, f"pid {proc.pid} argv names it"))

        if pending:
            return [], True
        if live:
            return live + argv, False
        binding = self._bindings.get(tree.root.pid)
        if binding is not None and binding.create_time == tree.root.create_time and binding.agent is agent:
            s = index.get(agent, binding.session_id)
            if s is not None:
                # argv is fixed at start; after a /clear or a resume it may name an
                # older session, so it never overrides what live evidence found.
                same = [c for c in argv if c.session.session_id == binding.session_id]
                return same or [_Candidate(s, Evidence.STICKY, f"kept from {binding.evidence.value}")], False
        return argv, False

    # -- the two passes ---------------------------------------------------

    def _bind_by_evidence(
        self,
        trees: Sequence[AgentTree],
        index: _Index,
        pid_files: Mapping[int, ClaudePidFile],
        claimed: dict[tuple[AgentType, str], AgentTree],
        out: dict[int, tuple[AgentSession, Evidence, str]],
        blocked: set[int],
    ) -> None:
        ranked: list[tuple[tuple[float, int, bool, int, str], AgentTree, _Candidate]] = []
        for tree in trees:
            cands, pending = self._candidates(tree, index, pid_files)
            if pending or cands:
                blocked.add(tree.root.pid)
            for c in cands:
                order = (
                    -c.confidence,
                    _RANK[c.evidence],
                    c.session.is_subagent,
                    -_activity(c.session),
                    c.session.session_id,
                )
                ranked.append((order, tree, c))
        ranked.sort(key=lambda item: item[0])
        for _, tree, c in ranked:
            key = _key(c.session)
            if tree.root.pid in out or key in claimed:
                continue
            claimed[key] = tree
            out[tree.root.pid] = (c.session, c.evidence, c.detail)

    def _bind_by_cwd(
        self,
        trees: Sequence[AgentTree],
        sessions: Sequence[AgentSession],
        gemini_projects: Mapping[str, str],
        claimed: dict[tuple[AgentType, str], AgentTree],
        out: dict[int, tuple[AgentSession, Evidence, str]],
    ) -> None:
        waiting: list[tuple[AgentTree, str, str]] = []
        for tree in trees:
            cwd = next((p.cwd for p in tree.labelled if p.cwd), None)
            if cwd:
                waiting.append((tree, cwd, self._realpath(cwd)))
        if not waiting:
            return
        oldest = min(t.root.create_ms for t, _, _ in waiting) - self.skew_ms
        agents = {t.agent_type for t, _, _ in waiting}
        # Sessions quiet since before every waiting process started can never qualify.
        recent = [
            s
            for s in sessions
            if s.agent_type in agents
            and not s.is_subagent
            and _activity(s) >= oldest
            and _key(s) not in claimed
        ]
        if not recent:
            return

        def same_project(s: AgentSession, cwd: str, real: str, gemini_keys: set[str] | None) -> bool:
            if s.cwd and (s.cwd == cwd or self._realpath(s.cwd) == real):
                return True
            if gemini_keys is not None and not s.cwd:
                folder = _gemini_folder(s.path)
                return folder is not None and folder in gemini_keys
            return False

        # Newest process first. With several agents of one kind in one project and
        # no evidence, a session goes preferably to the newest process started
        # before it began; alone, a process takes the session active now.
        waiting.sort(key=lambda w: (-w[0].root.create_time, -w[0].root.pid))
        groups: dict[tuple[AgentType, str], list[AgentTree]] = {}
        for tree, _, real in waiting:
            groups.setdefault((tree.agent_type, real), []).append(tree)

        for tree, cwd, real in waiting:
            agent = tree.agent_type
            gemini_keys = (
                gemini_project_keys(cwd, gemini_projects, real) if agent is AgentType.GEMINI else None
            )
            start = tree.root.create_ms - self.skew_ms
            eligible = [
                s
                for s in recent
                if s.agent_type is agent
                and _key(s) not in claimed
                and _activity(s) >= start
                and same_project(s, cwd, real, gemini_keys)
            ]
            if not eligible:
                continue
            rivals = groups[(agent, real)]

            def owner(s: AgentSession, rivals: list[AgentTree] = rivals) -> AgentTree | None:
                begun = (s.start_timestamp_ms or _activity(s)) + self.skew_ms
                return next((r for r in rivals if r.root.create_ms <= begun), None)

            if len(rivals) > 1:
                best = max(eligible, key=lambda s: (owner(s) is tree, _activity(s), s.session_id))
            else:
                best = max(eligible, key=lambda s: (_activity(s), s.session_id))
            claimed[_key(best)] = tree
            out[tree.root.pid] = (best, Evidence.CWD, f"cwd {cwd}")

    def match(
        self,
        processes: Iterable[ProcessInfo],
        sessions: Iterable[AgentSession],
        *,
        pid_files: Mapping[int, ClaudePidFile] | None = None,
        gemini_projects: Mapping[str, str] | None = None,
        now_ms: int | None = None,
    ) -> SessionProcessMatches:
        session_list = list(sessions)
        trees = build_trees(processes)
        index = _Index(session_list, self._realpath)
        pid_files = pid_files or {}
        alive = {t.root.pid: t.root.create_time for t in trees}
        for pid in [p for p, b in self._bindings.items() if alive.get(p) != b.create_time]:
            del self._bindings[pid]

        claimed: dict[tuple[AgentType, str], AgentTree] = {}
        out: dict[int, tuple[AgentSession, Evidence, str]] = {}
        blocked: set[int] = set()
        clients = [t for t in trees if not t.host]
        hosts = [t for t in trees if t.host]
        self._bind_by_evidence(clients, index, pid_files, claimed, out, blocked)
        left = [t for t in clients if t.root.pid not in out and t.root.pid not in blocked]
        self._bind_by_cwd(left, session_list, gemini_projects or {}, claimed, out)
        self._bind_by_evidence(hosts, index, pid_files, claimed, out, blocked)

        matches: list[SessionMatch] = []
        for tree in trees:
            pid = tree.root.pid
            found = out.get(pid)
            if found is None or found[1] is Evidence.CWD:
                self._bindings.pop(pid, None)
                if found is None:
                    continue
            session, evidence, detail = found
            if evidence is not Evidence.STICKY and evidence is not Evidence.CWD:
                self._bindings[pid] = _Binding(
                    tree.root.create_time, tree.agent_type, session.session_id, evidence
                )
            matches.append(
                SessionMatch(
                    root_pid=pid,
                    root_create_time=tree.root.create_time,
                    matched_pids=tree.pids,
                    agent_type=tree.agent_type,
                    session_id=session.session_id,
                    path=session.path,
                    evidence=evidence,
                    confidence=CONFIDENCE[evidence],
                    detail=detail,
                )
            )
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return SessionProcessMatches(tuple(matches), tuple(trees), now)
