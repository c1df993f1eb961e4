"""SessionStore: every session under the agent homes, kept up to date cheaply.

``refresh()`` finds the session files, reads the bytes appended since the last
call, re-parses what was truncated, replaced or is rewritten whole, and drops
what vanished. Summaries of all sessions stay in memory; full events are
parsed on demand for the few sessions a user opens (:meth:`SessionStore.detail`)
and then followed incrementally too.

What makes a large history cheap (DESIGN §4, §8):

- **Walk less.** Discovery runs again only when a directory under the session
  trees changed (directory mtimes are checked, not listed); otherwise a
  refresh only ``stat``s the known files, and with ``changed=`` hints (from a
  file watcher) only the files named.
- **Parse once.** With a persistent cache (``cache=True``) a file whose stat
  and parser version match its cache entry is not read at all.
- **Both cores.** A large initial parse is split across worker processes
  (:func:`scan_files`), each handing back the summary and the pickled parser, so
  a later append to any file is still read incrementally. Workers are forked
  from a single-threaded caller (the CLI) and started as fresh interpreters
  from a threaded one (the monitor), where a fork could copy a held lock.
- **Newest first.** ``refresh(budget=…)`` parses the most recently modified
  files until the time budget is spent and leaves the rest to worker processes
  in the background; later refreshes take in what they finished. A monitor
  paints the live sessions at once and shows ``RefreshStats.pending`` until
  the history is complete.

Sessions handed out are snapshots: treat them as read-only values. A new
snapshot object replaces a session whenever its file changes, so a caller can
compare by identity to see what changed.
"""

from __future__ import annotations

import bisect
import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Literal, overload

from pydantic import TypeAdapter, ValidationError

from .cache import CacheEntry, SummaryCache, cache_disabled_by_env, file_key
from .discovery import AgentHomes, find_session_files
from .errors import AgentSessionError
from .model import AgentSession, AgentType, LlmResponse, TokenUsage, ToolEvent, UserPrompt
from .reader import FileCursor, TrackedFile
from .sources.base import EVENT_WINDOW, EventKind, SessionFile

__all__ = ["RefreshStats", "SessionLookupError", "SessionStore", "scan_files"]

#: How many opened sessions keep a full-detail parser alive.
DETAIL_CACHE_SIZE = 4
#: Files of at least this size count as huge: the detail LRU keeps one of them at most.
HUGE_DETAIL_BYTES = 64 * 1024 * 1024
#: Default and largest ``detail_page`` sizes (a page's memory is bounded by its size).
PAGE_SIZE = 500
MAX_PAGE_SIZE = 5_000
#: Below this many bytes to parse, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 24 * 1024 * 1024
#: Work is handed to workers in batches of about this many bytes (big files alone):
#: larger when the caller waits for all of it, smaller for a background fill so
#: sessions arrive in a steady stream, newest first.
BATCH_BYTES = 6 * 1024 * 1024
BACKGROUND_BATCH_BYTES = 2 * 1024 * 1024
BATCH_FILES = 24
#: With ``changed=`` hints, every known file is still stat'ed this often (a missed event).
FULL_STAT_INTERVAL = 10.0
#: A complete store saves its cache at most this often while it keeps changing.
CACHE_SAVE_INTERVAL = 60.0
#: Directory mtimes this close to the walk may hide a change made in the same tick.
_RACY_NS = 2_000_000_000

#: Where each agent keeps session files under its home, and how deep they nest.
#: Only these trees are watched for new or vanished files (a home holds much else).
_SESSION_TREES: dict[AgentType, tuple[tuple[str, int], ...]] = {
    AgentType.CLAUDE: (("projects", 8),),
    AgentType.CODEX: (("sessions", 5), ("archived_sessions", 1)),
    AgentType.GEMINI: (("tmp", 4),),
}
#: Small files discovery reads to resolve a session's context: a change means rediscovery.
_MAPPING_FILES = frozenset({"projects.json", ".project_root"})


class SessionLookupError(AgentSessionError, LookupError):
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
    #: Files whose first parse is still to come (``refresh(budget=…)``): progress is
    #: ``files_seen - pending`` of ``files_seen``.
    pending: int = 0
    #: Files taken from the persistent cache without reading them.
    cache_hits: int = 0
    #: Files parsed by worker processes (this refresh).
    parsed_by_workers: int = 0
    #: True when discovery walked the homes (False: directory mtimes showed nothing new).
    discovered: bool = False
    #: True when every known file was stat'ed (False: only what a watcher or ``changed=`` named).
    full_pass: bool = False

    @property
    def complete(self) -> bool:
        return self.pending == 0


class SessionStore:
    """Parsed state of every session file under ``homes``; thread-safe.

    ``cache``: None/False (default) for none, True for the user cache dir
    (``$AGENTSESSION_CACHE_DIR`` or ``~/.cache/agentsession``; the
    ``AGENTSESSION_NO_CACHE`` variable turns it off), a directory, or a
    :class:`~agent_session.cache.SummaryCache`. ``workers``: processes for a
    large initial parse (None: one per available core; 0 or 1: parse here).
    ``watch``: follow the session trees with a file watcher (``watchfiles``)
    and let ``refresh()`` look only at what it reported, as with ``changed=``.

    Two public dicts, by path, say what is *not* in :meth:`sessions` and why,
    so nothing under the homes is dropped silently: ``errors`` holds what could
    not be read (a permission, a vanished file, a folder that cannot be
    listed); ``skipped`` holds what was read, or seen, and is not a session:
    ``"empty"``, ``"no complete line yet"``, ``"no valid record"`` (binary or
    garbage: not one line decoded to a record), ``"oversized line"`` (its only
    line was longer than ``reader.MAX_LINE_BYTES``) and the symlinks discovery
    never follows (``"symlink outside the session tree"``…). A file that was a
    session keeps being one whatever it is truncated to (it is re-read, as
    any truncated file); an empty or garbage file that gets a valid line
    becomes a session on the next refresh.
    """

    def __init__(
        self,
        homes: AgentHomes | None = None,
        *,
        agents: Iterable[AgentType] | None = None,
        cache: bool | str | Path | SummaryCache | None = None,
        workers: int | None = None,
        parallel_min_bytes: int = PARALLEL_MIN_BYTES,
        watch: bool = False,
    ) -> None:
        self.homes = homes if homes is not None else AgentHomes.resolve()
        self.agents = frozenset(agents) if agents is not None else frozenset(AgentType)
        self._files: dict[str, TrackedFile] = {}
        self._detail: OrderedDict[str, TrackedFile] = OrderedDict()
        #: Store-level problems (a file that cannot be read), by path.
        self.errors: dict[str, str] = {}
        #: Files under the homes that are not sessions, by path, with the reason (see the class doc).
        self.skipped: dict[str, str] = {}
        #: Paths the last walk skipped (kept in ``skipped`` too).
        self._walk_skips: set[str] = set()
        self._sessions: list[AgentSession] | None = None
        self._index = _SessionIndex()
        #: Paths whose summary may have changed since the index last looked.
        self._stale: set[str] = set()
        self._lock = threading.RLock()
        self.workers = _available_cores() if workers is None else max(0, workers)
        self.parallel_min_bytes = parallel_min_bytes
        self._tree = _TreeState()
        self._discoveries = 0
        self._roots: tuple[str, ...] | None = None
        #: Paths the last walk could not list (kept in ``errors`` too).
        self._walk_errors: set[str] = set()
        self._last_full_stat = 0.0
        #: Files waiting for their first parse, with the stat that queued them.
        self._pending: dict[str, os.stat_result] = {}
        self._pool: cf.Executor | None = None
        #: Batches handed to workers, with the tracked files they were taken from.
        self._jobs: dict[cf.Future[list[ScanResult]], list[TrackedFile]] = {}
        #: Paths taken from the cache in the current refresh (changed, but nothing new to save).
        self._from_cache: set[str] = set()
        self.cache = _make_cache(cache, self.homes, self.agents)
        self._cache_entries: dict[str, CacheEntry] | None = None
        self._cache_dirty = False
        self._cache_attempted_at: float | None = None
        self._watcher = _Watcher(list(self._tree_roots())) if watch else None

    # ------------------------------------------------------------------ refresh
    def refresh(self, *, budget: float | None = None, changed: Iterable[str] | None = None) -> RefreshStats:
        """Discover files and bring every parser up to date.

        ``budget`` (seconds): parse new files newest first for about that long
        and leave the rest for later refreshes (worker processes carry on in
        the background meanwhile); ``stats.pending`` says how many are left.
        Without it the call returns with every file parsed.

        ``changed``: paths a file watcher reported (new, modified or deleted).
        When given, only those files are looked at, and the directories are
        checked only when a hint names something new or gone under a session
        tree; every file is still stat'ed every ``FULL_STAT_INTERVAL`` in case
        the watcher missed an event. The cost then depends on what changed, not
        on the size of the history.
        """
        started = time.perf_counter()
        stats = RefreshStats()
        with self._lock:
            self._load_cache()
            hinted = set(changed) if changed is not None else self._watcher_hints()
            due = time.monotonic() - self._last_full_stat > FULL_STAT_INTERVAL
            if (
                hinted is None
                or due
                or self._discoveries < 2
                or self._walk_errors
                or self._hints_need_walk(hinted)
            ):
                found = self._discover(stats)
                # A walk the hints asked for needs no stat of every file: new ones are
                # queued, gone ones dropped, and changed ones were hinted.
                full = hinted is None or due
            else:
                found, full = None, False
            if found is not None:
                self._apply_discovery(found, stats)
            if full:
                self._last_full_stat = time.monotonic()
                self._full_pass(stats)
            else:
                assert hinted is not None
                for key in self._expand_hints(hinted):
                    if key in self._files and key not in self._pending:
                        self._update(self._files[key], stats)
            stats.full_pass = full
            self._harvest(stats, wait=False)
            self._parse_pending(stats, started, budget)
            for key, tracked in list(self._detail.items()):
                if key in self._files and (full or key in (hinted or ())):
                    self._update(tracked, None)
            stats.files_seen = len(self._files)
            stats.pending = len(self._pending)
            if stats.changed_paths:
                for path in stats.changed_paths:
                    self._judge(path)
                self._stale.update(stats.changed_paths)
                self._sessions = None
                if any(p not in self._from_cache for p in stats.changed_paths):
                    self._cache_dirty = True
            self._from_cache.clear()
            self._maybe_save_cache()
        stats.seconds = time.perf_counter() - started
        return stats

    def _full_pass(self, stats: RefreshStats) -> None:
        """``stat`` every known file; only those whose stat moved are looked at further."""
        skip = self._pending.keys() | self._from_cache
        for key, tracked in self._files.items():
            if key in skip:
                continue
            if tracked.ready and tracked.error is None:
                try:
                    st = os.lstat(key)  # a file swapped for a symlink is re-read, and refused
                except OSError:
                    st = None
                if st is not None and tracked.cursor.same_stat(st) and S_ISREG(st.st_mode):
                    continue  # the common case, kept to one stat and four comparisons
            self._update(tracked, stats)

    def _watcher_hints(self) -> set[str] | None:
        """What the watcher saw since the last call, once it can be trusted (else None: full pass)."""
        w = self._watcher
        if w is None:
            return None
        hints = w.drain()
        if hints is None or w.ready_at is None or self._last_full_stat <= w.ready_at:
            return None  # not watching yet, or no full pass since it started: nothing to rely on
        return hints

    def _expand_hints(self, hinted: set[str]) -> set[str]:
        """Hinted paths, with a whole session tree's files for a hint naming the tree itself.

        The watcher names a tree when it had to watch it again (deleted and
        recreated, or replaced): what happened in it meanwhile was not seen.
        """
        roots = set(self._tree_roots()) & hinted
        if not roots:
            return hinted
        prefixes = tuple(r.rstrip(os.sep) + os.sep for r in roots)
        return hinted | {k for k in self._files if k.startswith(prefixes)}

    def _judge(self, path: str) -> None:
        """Keep ``skipped`` in step with what a changed file now holds (see the class doc)."""
        tracked = self._files.get(path)
        if tracked is None or not tracked.ready:
            if path not in self._walk_skips:
                self.skipped.pop(path, None)
            return
        reason = tracked.not_a_session()
        if reason is None or tracked.was_session:
            tracked.was_session = True
            self.skipped.pop(path, None)
        else:
            self.skipped[path] = reason

    def _hints_need_walk(self, hinted: set[str]) -> bool:
        """A hint about a file we do not know (or that is gone) under a session tree."""
        roots = self._tree_roots()
        for path in hinted:
            if path in self._files:
                if not os.path.exists(path):
                    return True
            elif path.startswith(roots) or os.path.basename(path) in _MAPPING_FILES:
                return True
        return False

    def _tree_roots(self) -> tuple[str, ...]:
        if self._roots is None:
            self._roots = tuple(
                os.path.join(root, sub)
                for agent in self.agents
                for root in self.homes.roots(agent)
                for sub, _depth in _SESSION_TREES.get(agent, ())
            )
        return self._roots

    def _discover(self, stats: RefreshStats) -> list[SessionFile] | None:
        """The session files, or None when no directory changed since the last walk.

        What the walk could not list (an unreadable folder hides every session
        in it) is reported in ``errors`` under the folder's path, and keeps the
        walk going every refresh until it clears: fixing a permission changes
        no mtime.
        """
        if not self._walk_errors and not self._tree.changed():
            return None
        if self._discoveries:
            # Not on the first call: a one-shot caller (the CLI) never needs the mtimes.
            self._tree.record(self.homes, self.agents)
        self._discoveries += 1
        stats.discovered = True
        walk_errors: dict[str, str] = {}
        walk_skips: dict[str, str] = {}
        found = find_session_files(self.homes, self.agents, errors=walk_errors, skipped=walk_skips)
        for path in self._walk_errors - walk_errors.keys():
            self.errors.pop(path, None)
        self.errors.update(walk_errors)
        self._walk_errors = set(walk_errors)
        for path in self._walk_skips - walk_skips.keys():
            self.skipped.pop(path, None)
        self.skipped.update(walk_skips)
        self._walk_skips = set(walk_skips)
        return found

    def _apply_discovery(self, found: list[SessionFile], stats: RefreshStats) -> None:
        seen: set[str] = set()
        for sf in found:
            key = str(sf.path)
            if key in seen:
                continue
            seen.add(key)
            tracked = self._files.get(key)
            if tracked is not None and tracked.file == sf:
                continue
            if tracked is None:
                stats.added += 1
            else:
                # Same path, new facts (e.g. a Gemini project mapping appeared): start over.
                stats.changed += 1
                if tracked.ready:
                    stats.changed_paths.append(key)
            self._detail.pop(key, None)
            tracked = self._files[key] = TrackedFile(sf)
            self._queue(tracked, stats)
        for key in [k for k in self._files if k not in seen]:
            was_ready = self._files[key].ready
            del self._files[key]
            self._pending.pop(key, None)
            self._detail.pop(key, None)
            if key not in self._walk_errors:
                self.errors.pop(key, None)
            if key not in self._walk_skips:
                self.skipped.pop(key, None)
            stats.removed += 1
            if was_ready:
                stats.changed_paths.append(key)

    def _queue(self, tracked: TrackedFile, stats: RefreshStats) -> None:
        """A new file: take it from the cache when it matches, else queue its first parse."""
        stat_ns = time.time_ns()
        try:
            st = os.lstat(tracked.path)
        except OSError as exc:
            self._fail(tracked, exc, stats)
            return
        entry = self._cache_entries.get(tracked.path) if self._cache_entries else None
        if entry is not None and entry.matches(st, file_key(tracked.file)):
            cursor = FileCursor(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, entry.offset)
            tracked.adopt(cursor, entry.session, tail_fed=entry.tail_fed, stat_ns=stat_ns)
            stats.cache_hits += 1
            stats.changed_paths.append(tracked.path)
            self._from_cache.add(tracked.path)
            return
        self._pending[tracked.path] = st

    def _update(self, tracked: TrackedFile, stats: RefreshStats | None) -> None:
        try:
            read = tracked.update()
        except (OSError, ValueError) as exc:
            if stats is not None:
                self._fail(tracked, exc, stats)
            else:
                tracked.error = f"{type(exc).__name__}: {exc}"
            return
        if stats is not None:
            if tracked.path in self.errors:
                del self.errors[tracked.path]
                stats.changed_paths.append(tracked.path)
            if read or (tracked.parser is not None and tracked.parser.dirty):
                stats.files_read += 1
                stats.bytes_read += read
                if tracked.path not in stats.changed_paths:
                    stats.changed_paths.append(tracked.path)

    def _fail(self, tracked: TrackedFile, exc: BaseException, stats: RefreshStats) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        tracked.error = msg
        if self.errors.get(tracked.path) != msg:
            stats.changed_paths.append(tracked.path)
        self.errors[tracked.path] = msg
        stats.errors += 1

    # ----------------------------------------------------------- first parses
    def _parse_pending(self, stats: RefreshStats, started: float, budget: float | None) -> None:
        in_jobs = self._in_jobs()
        queued = [p for p in self._pending if p not in in_jobs]
        if not queued:
            if budget is None:
                self._harvest(stats, wait=True)
            return
        # Newest first: the sessions a user is most likely looking at come first.
        queued.sort(key=lambda p: self._pending[p].st_mtime_ns, reverse=True)
        if budget is None:
            todo = sum(self._pending[p].st_size for p in queued)
            if self._parallel_ok(todo):
                self._submit(_by_size(queued, self._pending), BATCH_BYTES)
                self._harvest(stats, wait=True)
                self._parse_here(queued, stats)  # what a worker could not do
            else:
                self._parse_here(queued, stats)
                self._harvest(stats, wait=True)  # background work from an earlier budgeted call
            return
        deadline = started + budget
        rest = self._parse_here(queued, stats, deadline)
        if rest:
            todo = sum(self._pending[p].st_size for p in rest)
            if self.workers >= 1 and todo >= self.parallel_min_bytes:
                self._submit(rest, BACKGROUND_BATCH_BYTES)  # newest first, in the background

    def _parse_here(self, paths: list[str], stats: RefreshStats, deadline: float | None = None) -> list[str]:
        """Parse in this process until ``deadline``; returns the paths left."""
        for i, path in enumerate(paths):
            if deadline is not None and i and time.perf_counter() >= deadline:
                return paths[i:]
            if self._pending.pop(path, None) is None:
                continue
            tracked = self._files.get(path)
            if tracked is None:
                continue
            self._update(tracked, stats)
            if tracked.ready and tracked.path not in stats.changed_paths:
                stats.changed_paths.append(tracked.path)
        return []

    def _parallel_ok(self, todo_bytes: int) -> bool:
        return self.workers >= 2 and todo_bytes >= self.parallel_min_bytes

    def _in_jobs(self) -> set[str]:
        return {t.path for batch in self._jobs.values() for t in batch}

    def _submit(self, paths: list[str], batch_bytes: int) -> None:
        pool = self._ensure_pool()
        for batch in _batches(paths, self._pending, batch_bytes):
            tracked = [self._files[p] for p in batch]
            files = [t.file for t in tracked]
            if isinstance(pool, _SubprocessPool):
                fut = pool.submit(pool.scan, files)
            else:
                fut = pool.submit(scan_files, files)
            self._jobs[fut] = tracked

    def _ensure_pool(self) -> cf.Executor:
        if self._pool is None:
            n = max(1, min(self.workers, 32))
            if _can_fork():
                ctx = multiprocessing.get_context("fork")
                self._pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx)
            else:
                self._pool = _SubprocessPool(n)
        return self._pool

    def _harvest(self, stats: RefreshStats, *, wait: bool) -> None:
        """Take in what workers finished (all of it with ``wait``); shut the pool down when idle."""
        if not self._jobs:
            return
        done: Iterator[cf.Future[list[ScanResult]]]
        done = cf.as_completed(list(self._jobs)) if wait else iter([f for f in list(self._jobs) if f.done()])
        for fut in done:
            batch = self._jobs.pop(fut)
            try:
                results = fut.result()
            except Exception:
                results = []
            self._adopt_results(results, {t.path: t for t in batch}, stats)
            left = [t.path for t in batch if t.path in self._pending and self._files.get(t.path) is t]
            if left:
                self._parse_here(left, stats)
        if not self._jobs and self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _adopt_results(
        self, results: list[ScanResult], submitted: dict[str, TrackedFile], stats: RefreshStats
    ) -> None:
        ok = [r for r in results if r.snapshot is not None]
        sessions = _decode_snapshots([r.snapshot for r in ok if r.snapshot is not None])
        for r, snap in zip(ok, sessions, strict=True):
            tracked = self._files.get(r.path)
            if r.path not in self._pending or tracked is None or tracked is not submitted.get(r.path):
                continue  # vanished, replaced or already parsed meanwhile: the worker's result is moot
            if snap is None:
                continue  # left pending: parsed here by the caller
            del self._pending[r.path]
            tracked.adopt(r.cursor, snap, state=r.state, tail_fed=r.tail_fed, stat_ns=r.stat_ns)
            stats.parsed_by_workers += 1
            stats.files_read += 1
            stats.bytes_read += r.cursor.offset
            stats.changed_paths.append(r.path)

    def close(self) -> None:
        """Stop background workers and the watcher, write the cache if it is due.

        The store stays usable (without its watcher: refreshes stat every file).
        """
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        with self._lock:
            if self._pool is not None:
                for fut in self._jobs:
                    fut.cancel()
                self._jobs.clear()
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if not self._pending:
                self.save_cache()

    # --------------------------------------------------------------- the cache
    def _load_cache(self) -> None:
        if self._cache_entries is not None or self.cache is None:
            return
        self._cache_entries = self.cache.load()

    def _maybe_save_cache(self) -> None:
        """Save once the history is complete, then at most every ``CACHE_SAVE_INTERVAL`` while it changes.

        A cache that cannot be written is retried on the same schedule, not on
        every refresh.
        """
        if self.cache is None or self._pending or not self._cache_dirty:
            return
        last = self._cache_attempted_at
        if last is not None and time.monotonic() - last < CACHE_SAVE_INTERVAL:
            return
        self.save_cache()

    def save_cache(self) -> bool:
        """Write every settled summary to the persistent cache now (False: no cache, or it failed)."""
        with self._lock:
            if self.cache is None:
                return False
            old = self._cache_entries or {}
            entries: list[CacheEntry] = []
            for path, tracked in self._files.items():
                if path in self._pending or not tracked.settled():
                    continue  # never parsed, unreadable, or written too recently to trust its mtime
                c = tracked.cursor
                prev = old.get(path)
                snap = tracked.snapshot()
                raw = prev.raw if prev is not None and prev.session is snap else None
                entries.append(
                    CacheEntry(
                        path, c.dev, c.ino, c.size, c.mtime_ns, file_key(tracked.file), c.offset,
                        tracked.tail_fed, snap, raw,
                    )
                )  # fmt: skip
            self._cache_attempted_at = time.monotonic()
            ok = self.cache.save(entries)
            if ok:
                self._cache_entries = {e.path: e for e in entries}
                self._cache_dirty = False
            return ok

    @property
    def cache_diagnostic(self) -> str | None:
        """Why the persistent cache was ignored or not written (None when fine or off)."""
        return self.cache.diagnostic if self.cache is not None else None

    def progress(self) -> tuple[int, int]:
        """``(files parsed, files known)``: the history is complete when both are equal."""
        with self._lock:
            return len(self._files) - len(self._pending), len(self._files)

    # ------------------------------------------------------------------ queries
    def sessions(self) -> list[AgentSession]:
        """All sessions (summaries, no events), one per session id, subagent usage rolled up."""
        with self._lock:
            if self._sessions is None:
                self._sessions = self._build()
            return list(self._sessions)

    def _build(self) -> list[AgentSession]:
        stale, self._stale = self._stale, set()
        fresh: list[tuple[str, int, AgentSession]] = []
        for path in stale:
            tracked = self._files.get(path)
            if tracked is not None and tracked.ready and path not in self.skipped:
                fresh.append((path, tracked.file.priority, tracked.snapshot()))
            else:
                self._index.drop(path)
        self._index.put_many(fresh)
        return self._index.ordered()

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
        """The session with its events, parsed from its file (and followed incrementally).

        Only the newest events are kept (``SessionEvents.tools_dropped`` and
        friends count the rest; :meth:`detail_page` reads them). Up to
        ``DETAIL_CACHE_SIZE`` opened sessions stay parsed, but at most one
        whose file is ``HUGE_DETAIL_BYTES`` or more: its parser's indexes grow
        with the file, so opening a second huge session evicts the first, before
        the new one is read.
        """
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
            if self._detail_size(session.path) >= HUGE_DETAIL_BYTES:
                for other in [k for k in self._detail if k != session.path]:
                    if self._detail_size(other) >= HUGE_DETAIL_BYTES:
                        del self._detail[other]
            self._update(tracked, None)
            if tracked.parser is None:
                raise SessionLookupError(session.session_id, [])
            snap = tracked.snapshot()
            return snap.model_copy(
                update={"subagent_usage": session.subagent_usage, "subagent_ids": session.subagent_ids}
            )

    def _detail_size(self, path: str) -> int:
        """The file size an opened session's detail was, or is about to be, read from."""
        sizes = [t.size for t in (self._detail.get(path), self._files.get(path)) if t is not None]
        return max(sizes, default=0)

    @overload
    def detail_page(
        self, session: AgentSession | str, kind: Literal["tools"] = ..., start: int = 0, limit: int = ...
    ) -> list[ToolEvent]: ...
    @overload
    def detail_page(
        self, session: AgentSession | str, kind: Literal["prompts"], start: int = 0, limit: int = ...
    ) -> list[UserPrompt]: ...
    @overload
    def detail_page(
        self, session: AgentSession | str, kind: Literal["responses"], start: int = 0, limit: int = ...
    ) -> list[LlmResponse]: ...
    def detail_page(
        self, session: AgentSession | str, kind: EventKind = "tools", start: int = 0, limit: int = PAGE_SIZE
    ) -> list[ToolEvent] | list[UserPrompt] | list[LlmResponse]:
        """Events ``start`` to ``start + limit - 1`` of one kind, by position in the whole session.

        For the events :meth:`detail` no longer keeps (positions below
        ``SessionEvents.tools_dropped`` …). This reads the whole file again
        with a parser that keeps only the page, so memory stays bounded by
        ``limit`` but the time is that of a full parse (slower than
        :meth:`detail`, which follows the file incrementally). A page is
        shorter than ``limit`` at the end of the session. Tool calls are
        linked to their results exactly as in :meth:`detail`. The store's lock
        is not held while reading, so refreshes carry on meanwhile.
        """
        if kind not in ("tools", "prompts", "responses"):
            raise ValueError(f"unknown event kind {kind!r}")
        if start < 0 or limit < 0:
            raise ValueError("start and limit must not be negative")
        limit = min(limit, MAX_PAGE_SIZE)
        if isinstance(session, str):
            session = self.resolve(session)
        with self._lock:
            base = self._files.get(session.path)
            if base is None:
                raise SessionLookupError(session.session_id, [])
            sf = base.file
        window = (kind, start, start + limit)
        ctx = dataclasses.replace(sf.context, extra={**sf.context.extra, EVENT_WINDOW: window})
        page = TrackedFile(dataclasses.replace(sf, context=ctx), detail=True)
        page.update()
        events = page.parser.session.events if page.parser is not None else None
        if events is None:
            return []
        if kind == "tools":
            return events.tools
        if kind == "prompts":
            return events.prompts
        return events.llm_responses

    def tracked_files(self) -> list[SessionFile]:
        with self._lock:
            return [t.file for t in self._files.values()]


# ------------------------------------------------------------------ session index
_Key = tuple[AgentType, str]


class _SessionIndex:
    """One session per ``(agent, id)`` with subagent usage rolled up, updated per changed file.

    A refresh that touched one file costs the index that file, its session
    and its parent, not a pass over the whole history. Several files may hold
    one session id (a Gemini ``.jsonl`` beside its legacy ``.json``, a copy in
    an old project folder): the one with the highest discovery priority, then
    the latest activity, then the smallest path wins.
    """

    def __init__(self) -> None:
        self._candidates: dict[_Key, dict[str, tuple[tuple[int, int], AgentSession]]] = {}
        self._key_of: dict[str, _Key] = {}
        self._winner: dict[_Key, AgentSession] = {}
        self._children: dict[_Key, set[_Key]] = {}
        self._parent_of: dict[_Key, _Key] = {}
        self._final: dict[_Key, AgentSession] = {}
        #: ``(sort key, key)`` of every final session, kept sorted (most recent first).
        self._order: list[tuple[tuple[int, str, str], _Key]] = []
        self._sort_key: dict[_Key, tuple[int, str, str]] = {}
        self._ordered: list[AgentSession] | None = None
        #: Filling an empty index at once (``put_many``): the order is sorted once at the end.
        self._bulk = False

    def put(self, path: str, priority: int, snap: AgentSession) -> None:
        key = (snap.agent_type, snap.session_id)
        self.drop(path, settle=key != self._key_of.get(path))
        self._candidates.setdefault(key, {})[path] = ((priority, snap.last_activity_ms or 0), snap)
        self._key_of[path] = key
        self._settle(key)

    def put_many(self, items: list[tuple[str, int, AgentSession]]) -> None:
        """``put`` for each of ``(path, priority, snapshot)``; on an empty index, in one pass.

        A start from the cache hands over every session at once: settling each
        key once and sorting once at the end avoids inserting 50,000 times into
        a sorted list (each insert shifts half of it).
        """
        if self._key_of or len(items) < 256:
            for path, priority, snap in items:
                self.put(path, priority, snap)
            return
        for path, priority, snap in items:
            key = (snap.agent_type, snap.session_id)
            self._candidates.setdefault(key, {})[path] = ((priority, snap.last_activity_ms or 0), snap)
            self._key_of[path] = key
        self._bulk = True
        try:
            for key in list(self._candidates):
                self._settle(key)
        finally:
            self._bulk = False
        self._order = sorted((sk, key) for key, sk in self._sort_key.items())
        self._ordered = None

    def drop(self, path: str, *, settle: bool = True) -> None:
        key = self._key_of.pop(path, None)
        if key is None:
            return
        group = self._candidates.get(key)
        if group is not None:
            group.pop(path, None)
            if not group:
                del self._candidates[key]
        if settle:
            self._settle(key)

    def _settle(self, key: _Key) -> None:
        """Pick the key's winner again and redo the roll-ups it takes part in."""
        group = self._candidates.get(key)
        old_parent = self._parent_of.pop(key, None)
        if old_parent is not None:
            kids = self._children.get(old_parent)
            if kids is not None:
                kids.discard(key)
                if not kids:
                    del self._children[old_parent]
        if not group:
            self._winner.pop(key, None)
            self._set_final(key, None)
        else:
            best = min(group.items(), key=lambda kv: (-kv[1][0][0], -kv[1][0][1], kv[0]))[1][1]
            self._winner[key] = best
            if best.parent_session_id:
                parent = (best.agent_type, best.parent_session_id)
                self._parent_of[key] = parent
                self._children.setdefault(parent, set()).add(key)
            self._roll_up(key)
        for affected in {old_parent, self._parent_of.get(key)}:
            if affected is not None and affected in self._winner:
                self._roll_up(affected)
        self._ordered = None

    def _roll_up(self, key: _Key) -> None:
        s = self._winner[key]
        kids = [self._winner[k] for k in self._children.get(key, ()) if k in self._winner]
        if kids:
            rolled = TokenUsage()
            for k in kids:
                rolled.add(k.usage)
            s = s.model_copy(
                update={"subagent_usage": rolled, "subagent_ids": sorted(k.session_id for k in kids)}
            )
        self._set_final(key, s)

    def _set_final(self, key: _Key, s: AgentSession | None) -> None:
        old = self._sort_key.pop(key, None)
        if old is not None and not self._bulk:
            i = bisect.bisect_left(self._order, (old, key))
            if i < len(self._order) and self._order[i] == (old, key):
                del self._order[i]
        if s is None:
            self._final.pop(key, None)
            return
        self._final[key] = s
        # Most recently active first; ties by agent, then id, so the order never flickers.
        sk = (-(s.last_activity_ms or 0), s.agent_type.value, s.session_id)
        self._sort_key[key] = sk
        if not self._bulk:
            bisect.insort(self._order, (sk, key))

    def ordered(self) -> list[AgentSession]:
        if self._ordered is None:
            final = self._final
            self._ordered = [final[k] for _, k in self._order]
        return self._ordered


# ------------------------------------------------------------------ workers
@dataclass
class ScanResult:
    """One file parsed by a worker: its summary as IR JSON and its pickled parser."""

    path: str
    cursor: FileCursor
    tail_fed: bool
    stat_ns: int
    snapshot: bytes | None
    state: bytes | None


def scan_files(files: list[SessionFile]) -> list[ScanResult]:
    """Parse files from zero (in a worker process). Files that fail are left to the caller.

    The summary travels as JSON (validated in one pass by the store, faster
    than unpickling models); the parser travels pickled and is only unpickled
    if the file changes again.
    """
    out: list[ScanResult] = []
    for sf in files:
        tracked = TrackedFile(sf)
        try:
            tracked.update()
            snap = tracked.snapshot()
            data = snap.__pydantic_serializer__.to_json(snap, exclude_computed_fields=True)
            state = tracked.export_state()
        except Exception:
            continue
        out.append(ScanResult(tracked.path, tracked.cursor, tracked.tail_fed, tracked.stat_ns, data, state))
    return out


_SESSIONS = TypeAdapter(list[AgentSession])


def _decode_snapshots(blobs: list[bytes]) -> list[AgentSession | None]:
    if not blobs:
        return []
    try:
        return list(_SESSIONS.validate_json(b"[" + b",".join(blobs) + b"]"))
    except ValidationError:
        out: list[AgentSession | None] = []
        for b in blobs:
            try:
                out.append(AgentSession.model_validate_json(b))
            except ValidationError:
                out.append(None)
        return out


def _by_size(paths: list[str], stats: dict[str, os.stat_result]) -> list[str]:
    """Largest first, so the last batches to finish are the small ones (workers end together)."""
    return sorted(paths, key=lambda p: stats[p].st_size, reverse=True)


def _batches(paths: list[str], stats: dict[str, os.stat_result], limit: int) -> Iterator[list[str]]:
    """Batches of about ``limit`` bytes, and of at most ``BATCH_FILES`` files.

    Small files cost more per byte (a summary, a price and a pickle each), so
    a byte limit alone would leave one large batch of them for the end.
    """
    batch: list[str] = []
    size = 0
    for p in paths:
        batch.append(p)
        size += stats[p].st_size
        if size >= limit or len(batch) >= BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: How often a watcher checks that its tree is still the one it watches (and
#: whether a missing tree has appeared): watching resumes within about this long.
WATCH_CHECK_SECONDS = 0.25


class _Watcher:
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


def _can_fork() -> bool:
    """Fork workers only from a single-threaded process: instant, with every module inherited.

    Forking a process that runs other threads (a UI, a file watcher, the
    refresh thread itself) can copy a lock some thread holds into the child;
    such a process gets :class:`_SubprocessPool` workers instead.
    """
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class _SubprocessPool(cf.ThreadPoolExecutor):
    """Worker interpreters started with ``subprocess`` and fed batches over pipes.

    Safe to start from any thread (unlike ``fork``) and, unlike the
    ``spawn``/``forkserver`` start methods, it never re-imports the caller's
    main module (a UI). Each pool thread owns one child
    (``python -c "…_worker_main()"``) and hands it one batch at a time:
    length-prefixed pickles both ways. A child that dies fails its batch,
    which the store then parses itself.
    """

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="agentsession-scan")
        self._local = threading.local()
        self._children: list[subprocess.Popen[bytes]] = []
        self._children_lock = threading.Lock()

    def scan(self, files: list[SessionFile]) -> list[ScanResult]:
        child: subprocess.Popen[bytes] | None = getattr(self._local, "child", None)
        if child is None or child.poll() is not None:
            child = self._local.child = self._start_child()
        assert child.stdin is not None and child.stdout is not None
        payload = pickle.dumps(files, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.write(len(payload).to_bytes(8, "little") + payload)
        child.stdin.flush()
        head = child.stdout.read(8)
        if len(head) < 8:
            raise RuntimeError("scan worker exited")
        data = child.stdout.read(int.from_bytes(head, "little"))
        results: list[ScanResult] = pickle.loads(data)
        return results

    def _start_child(self) -> subprocess.Popen[bytes]:
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
        child = subprocess.Popen(
            [sys.executable, "-c", "from agent_session.store import _worker_main; _worker_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # never onto a UI's terminal
            env=env,
        )
        with self._children_lock:
            self._children.append(child)
        return child

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        with self._children_lock:
            children, self._children = self._children, []
        for child in children:
            with contextlib.suppress(OSError):
                if child.stdin is not None:
                    child.stdin.close()  # end of input: the child exits
            if wait:
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def _worker_main() -> None:
    """The loop of a :class:`_SubprocessPool` child: a batch of files in, their results out."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the result stream
    while True:
        head = inp.read(8)
        if len(head) < 8:
            return
        files = pickle.loads(inp.read(int.from_bytes(head, "little")))
        data = pickle.dumps(scan_files(files), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "little") + data)
        out.flush()


def _make_cache(
    cache: bool | str | Path | SummaryCache | None, homes: AgentHomes, agents: frozenset[AgentType]
) -> SummaryCache | None:
    if cache is None or cache is False:
        return None
    if isinstance(cache, SummaryCache):
        return cache
    if cache is True and cache_disabled_by_env():
        return None
    roots = [r for agent in AgentType for r in homes.roots(agent)]
    scope = [f"{a.value}={r}" for a in sorted(agents) for r in homes.roots(a)]
    return SummaryCache(None if cache is True else cache, scope=scope, forbidden=roots)


# --------------------------------------------------------------- directories
class _TreeState:
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
                for name in _MAPPING_FILES:
                    _stat_into(os.path.join(root, name), mtimes)
                for sub, depth in _SESSION_TREES.get(agent, ()):
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
            if entry.name in _MAPPING_FILES:
                out[entry.path] = entry.stat().st_mtime_ns
            elif depth > 0 and entry.is_dir():
                _walk_dirs(entry.path, depth - 1, out)
        except OSError:
            continue
