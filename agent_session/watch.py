"""Watching the session trees: a file watcher's hints and directory mtimes.

Split from the store: two ways of knowing what changed without reading the
history. :class:`Watcher` collects the paths ``watchfiles`` reports (and
re-arms when a tree is deleted and recreated); :class:`TreeState` remembers
the mtimes of the directories that hold session files, so discovery walks
again only when one changed. Which folders are session trees is each
source's declaration (:data:`agent_session.sources.registry.SESSION_TREES`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from stat import S_ISDIR

from .discovery import AgentHomes
from .model import AgentType
from .sources.registry import MAPPING_FILES, SESSION_TREES

__all__ = ["WATCH_CHECK_SECONDS", "TreeState", "Watcher", "tree_roots"]

#: Directory mtimes this close to the walk may hide a change made in the same tick.
_RACY_NS = 2_000_000_000

#: How often a watcher checks that its tree is still the one it watches (and
#: whether a missing tree has appeared): watching resumes within about this long.
WATCH_CHECK_SECONDS = 0.25


class Watcher:
    """Paths changed under the session trees, collected by one ``watchfiles`` thread per tree.

    A watch is tied to the directory it was armed on: when a tree is deleted
    (or replaced, e.g. an agent home removed and created again) it would go
    on reporting nothing. So each thread checks, every ``WATCH_CHECK_SECONDS``,
    that its tree is still the same directory (device and inode); when it is
    gone it polls for it, and when it is back (or was replaced) it arms a new
    watch and then reports the tree's own path, which tells the store to walk
    it and stat its files: what happened before the new watch was in place is
    not lost. A tree that does not exist yet is polled for the same way.

    ``ready_at`` is set once every tree is watched or known to be missing;
    ``drain()`` returns None until then, and for good if a watch fails for
    another reason (too many watches…), and the store then stats every file
    as if there were no watcher.
    """

    def __init__(self, paths: list[str]) -> None:
        self.ready_at: float | None = None
        self.error: str | None = None
        self._changes: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: Set whenever a change is noted: lets a caller (the monitor, ``watch``) sleep until one.
        self._changed = threading.Event()
        self._waiting = len(paths)
        self._threads = [
            threading.Thread(target=self._follow, args=(p,), name="agentsession-watch", daemon=True)
            for p in paths
        ]
        for t in self._threads:
            t.start()

    def _follow(self, root: str) -> None:
        """Watch ``root`` for as long as the store lives, re-arming whenever it is a new directory."""
        first = True
        while not self._stop.is_set():
            ident = _dir_identity(root)
            if ident is None:
                if first:
                    first = False
                    self._one_ready()
                self._stop.wait(WATCH_CHECK_SECONDS)
                continue
            try:
                self._watch(root, ident, first)
            except Exception as exc:
                if _dir_identity(root) == ident:  # not a tree that vanished under the watch: give up
                    self._fail(exc)
                    return
            if first:
                first = False
                self._one_ready()
            self._note(root)  # gone or replaced: the store walks it again

    def _watch(self, root: str, ident: tuple[int, int], first: bool) -> None:
        """Collect changes under ``root`` until it is no longer the directory ``ident`` names."""
        import watchfiles

        armed = False
        for changes in watchfiles.watch(
            root,
            watch_filter=None,
            debounce=50,
            step=20,
            stop_event=self._stop,
            rust_timeout=int(WATCH_CHECK_SECONDS * 1000),
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if not armed:
                armed = True
                if first:
                    self._one_ready()
                else:
                    self._note(root)  # watching again: what happened meanwhile was not seen
            if changes:
                with self._lock:
                    self._changes.update(path for _change, path in changes)
                self._changed.set()
            if _dir_identity(root) != ident:
                return

    def _one_ready(self) -> None:
        with self._lock:
            self._waiting -= 1
            if self._waiting == 0 and self.error is None:
                self.ready_at = time.monotonic()

    def _note(self, path: str) -> None:
        with self._lock:
            self._changes.add(path)
        self._changed.set()

    def wait_for_change(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True (and re-armed) when a change was noted meanwhile."""
        if self._changed.wait(timeout):
            self._changed.clear()
            return True
        return False

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self.error = f"{type(exc).__name__}: {exc}"
            self.ready_at = None

    def drain(self) -> set[str] | None:
        with self._lock:
            if self.ready_at is None:
                return None
            out, self._changes = self._changes, set()
        return out

    def close(self) -> None:
        self._stop.set()
        self._changed.set()  # wake anyone waiting for a change
        for t in self._threads:
            if t.is_alive():
                t.join(5)


def _dir_identity(path: str) -> tuple[int, int] | None:
    """``(device, inode)`` of a directory, or None when there is none at ``path``."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if S_ISDIR(st.st_mode) else None


class TreeState:
    """Mtimes of the directories that hold session files, to skip discovery when none changed.

    Creating, renaming or deleting a file changes its directory's mtime; the
    walk also records the small mapping files discovery reads. A directory
    whose mtime is within ``_RACY_NS`` of the walk is re-checked by walking
    again (a change in the same timestamp tick would not show).
    """

    def __init__(self) -> None:
        self._mtimes: dict[str, int] | None = None
        self._racy = False

    def changed(self) -> bool:
        if self._mtimes is None or self._racy:
            return True
        for path, mtime in self._mtimes.items():
            try:
                current = os.stat(path).st_mtime_ns
            except OSError:
                current = -1
            if current != mtime:
                return True
        return False

    def record(self, homes: AgentHomes, agents: frozenset[AgentType]) -> None:
        now = time.time_ns()
        mtimes: dict[str, int] = {}
        for agent in AgentType:
            if agent not in agents:
                continue
            for root in homes.roots(agent):
                _stat_into(str(root), mtimes)  # a home that appears later shows as a change
                for name in MAPPING_FILES:
                    _stat_into(os.path.join(root, name), mtimes)
                for sub, depth in SESSION_TREES.get(agent, ()):
                    _walk_dirs(os.path.join(root, sub), depth, mtimes)
        self._mtimes = mtimes
        self._racy = any(m >= 0 and now - m < _RACY_NS for m in mtimes.values())


def _stat_into(path: str, out: dict[str, int]) -> None:
    try:
        out[path] = os.stat(path).st_mtime_ns
    except OSError:
        out[path] = -1


def _walk_dirs(folder: str, depth: int, out: dict[str, int]) -> None:
    try:
        out[folder] = os.stat(folder).st_mtime_ns
        it = os.scandir(folder)
    except OSError:
        out.setdefault(folder, -1)
        return
    with it:
        entries = list(it)
    for entry in entries:
        try:
            if entry.name in MAPPING_FILES:
                out[entry.path] = entry.stat().st_mtime_ns
            elif depth > 0 and entry.is_dir():
                _walk_dirs(entry.path, depth - 1, out)
        except OSError:
            continue


def tree_roots(homes: AgentHomes, agents: Iterable[AgentType]) -> tuple[str, ...]:
    """The session trees of ``agents`` under ``homes``: the folders a watcher follows."""
    return tuple(
        os.path.join(root, sub)
        for agent in agents
        for root in homes.roots(agent)
        for sub, _depth in SESSION_TREES.get(agent, ())
    )
