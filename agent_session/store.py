"""SessionStore: every session under the agent homes, kept up to date cheaply.

``refresh()`` walks the homes (directory listings and ``stat`` only), reads the
bytes appended since the last call, re-parses what was truncated, replaced or
is rewritten whole, and drops what vanished. Summaries of all sessions stay in
memory; full events are parsed on demand for the few sessions a user opens
(:meth:`SessionStore.detail`) and then followed incrementally too.

Sessions handed out are snapshots: treat them as read-only values. A new
snapshot object replaces a session whenever its file changes, so a caller can
compare by identity to see what changed.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .discovery import AgentHomes, find_session_files
from .model import AgentSession, AgentType, TokenUsage
from .reader import TrackedFile
from .sources.base import SessionFile

__all__ = ["RefreshStats", "SessionLookupError", "SessionStore"]

#: How many opened sessions keep a full-detail parser alive.
DETAIL_CACHE_SIZE = 4


class SessionLookupError(LookupError):
    """An id matched no session, or more than one."""

    def __init__(self, query: str, candidates: list[AgentSession]) -> None:
        self.query = query
        self.candidates = candidates
        if candidates:
            ids = ", ".join(s.display_id for s in candidates[:5])
            msg = f"{query!r} is ambiguous: it matches {len(candidates)} sessions ({ids})"
        else:
            msg = f"no session matches {query!r}"
        super().__init__(msg)


@dataclass
class RefreshStats:
    files_seen: int = 0
    files_read: int = 0
    bytes_read: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    errors: int = 0
    seconds: float = 0.0
    changed_paths: list[str] = field(default_factory=list)


class SessionStore:
    """Parsed state of every session file under ``homes``; thread-safe."""

    def __init__(self, homes: AgentHomes | None = None, *, agents: Iterable[AgentType] | None = None) -> None:
        self.homes = homes if homes is not None else AgentHomes.resolve()
        self.agents = frozenset(agents) if agents is not None else frozenset(AgentType)
        self._files: dict[str, TrackedFile] = {}
        self._detail: OrderedDict[str, TrackedFile] = OrderedDict()
        #: Store-level problems (a file that cannot be read), by path.
        self.errors: dict[str, str] = {}
        self._sessions: list[AgentSession] | None = None
        self._lock = threading.RLock()
        self.generation = 0

    # ------------------------------------------------------------------ refresh
    def refresh(self) -> RefreshStats:
        """Discover files and bring every parser up to date."""
        started = time.perf_counter()
        stats = RefreshStats()
        found = find_session_files(self.homes, self.agents)
        with self._lock:
            seen: set[str] = set()
            for sf in found:
                key = str(sf.path)
                if key in seen:
                    continue
                seen.add(key)
                tracked = self._files.get(key)
                if tracked is None:
                    tracked = self._files[key] = TrackedFile(sf)
                    stats.added += 1
                elif tracked.file != sf:
                    # Same path, new facts (e.g. a Gemini project mapping appeared): start over.
                    tracked = self._files[key] = TrackedFile(sf)
                    stats.changed += 1
                self._update(tracked, stats)
            for key in [k for k in self._files if k not in seen]:
                del self._files[key]
                self._detail.pop(key, None)
                self.errors.pop(key, None)
                stats.removed += 1
                stats.changed_paths.append(key)
            for key, tracked in list(self._detail.items()):
                if key in seen:
                    self._update(tracked, None)
            stats.files_seen = len(seen)
            if stats.changed_paths:
                self._sessions = None
                self.generation += 1
        stats.seconds = time.perf_counter() - started
        return stats

    def _update(self, tracked: TrackedFile, stats: RefreshStats | None) -> None:
        try:
            read = tracked.update()
        except (OSError, ValueError) as exc:
            msg = f"{type(exc).__name__}: {exc}"
            tracked.error = msg
            if stats is not None:
                if self.errors.get(tracked.path) != msg:
                    stats.changed_paths.append(tracked.path)
                self.errors[tracked.path] = msg
                stats.errors += 1
            return
        if stats is not None:
            if tracked.path in self.errors:
                del self.errors[tracked.path]
                stats.changed_paths.append(tracked.path)
            if read or tracked.parser is not None and tracked.parser.dirty:
                stats.files_read += 1
                stats.bytes_read += read
                if tracked.path not in stats.changed_paths:
                    stats.changed_paths.append(tracked.path)

    # ------------------------------------------------------------------ queries
    def sessions(self) -> list[AgentSession]:
        """All sessions (summaries, no events), one per session id, subagent usage rolled up."""
        with self._lock:
            if self._sessions is None:
                self._sessions = self._build()
            return list(self._sessions)

    def _build(self) -> list[AgentSession]:
        best: dict[tuple[AgentType, str], tuple[tuple[int, int], AgentSession]] = {}
        for tracked in self._files.values():
            if tracked.parser is None:
                continue
            snap = tracked.snapshot()
            rank = (tracked.file.priority, snap.last_activity_ms or 0)
            key = (snap.agent_type, snap.session_id)
            current = best.get(key)
            if current is None or rank > current[0]:
                best[key] = (rank, snap)
        sessions = [s for _, s in best.values()]
        children: dict[tuple[AgentType, str], list[AgentSession]] = {}
        for s in sessions:
            if s.parent_session_id:
                children.setdefault((s.agent_type, s.parent_session_id), []).append(s)
        out: list[AgentSession] = []
        for s in sessions:
            kids = children.get((s.agent_type, s.session_id))
            if kids:
                rolled = TokenUsage()
                for k in kids:
                    rolled.add(k.usage)
                s = s.model_copy(
                    update={"subagent_usage": rolled, "subagent_ids": sorted(k.session_id for k in kids)}
                )
            out.append(s)
        out.sort(key=lambda s: (s.last_activity_ms or 0), reverse=True)
        return out

    def get(self, session_id: str) -> AgentSession | None:
        for s in self.sessions():
            if s.session_id == session_id:
                return s
        return None

    def resolve(self, query: str) -> AgentSession:
        """A session by id, display id or unique prefix of either; raises SessionLookupError."""
        sessions = self.sessions()
        exact = [s for s in sessions if s.session_id == query]
        if not exact:
            # Display ids are short and can collide (first 6 + last 5 chars).
            exact = [s for s in sessions if s.display_id == query]
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            raise SessionLookupError(query, exact)
        agent, sep, bare = query.partition(":")
        if not sep:
            agent, bare = "", query
        candidates = [
            s
            for s in sessions
            if (s.session_id.startswith(bare) or s.display_id.startswith(query))
            and (not agent or s.agent_type.value == agent)
        ]
        if len(candidates) == 1:
            return candidates[0]
        raise SessionLookupError(query, candidates)

    def detail(self, session: AgentSession | str) -> AgentSession:
        """The session with its events, parsed from its file (and followed incrementally)."""
        if isinstance(session, str):
            session = self.resolve(session)
        with self._lock:
            base = self._files.get(session.path)
            if base is None:
                raise SessionLookupError(session.session_id, [])
            tracked = self._detail.get(session.path)
            if tracked is None:
                tracked = TrackedFile(base.file, detail=True)
                self._detail[session.path] = tracked
                while len(self._detail) > DETAIL_CACHE_SIZE:
                    self._detail.popitem(last=False)
            else:
                self._detail.move_to_end(session.path)
            self._update(tracked, None)
            if tracked.parser is None:
                raise SessionLookupError(session.session_id, [])
            snap = tracked.snapshot()
            return snap.model_copy(
                update={"subagent_usage": session.subagent_usage, "subagent_ids": session.subagent_ids}
            )

    def tracked_files(self) -> list[SessionFile]:
        with self._lock:
            return [t.file for t in self._files.values()]

    def file_mtime_ms(self, path: str) -> int | None:
        try:
            return os.stat(path).st_mtime_ns // 1_000_000
        except OSError:
            return None
