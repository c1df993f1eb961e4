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
- **Free cores.** A large initial parse is shared with worker processes
  (:mod:`agent_session.workers`) when more than one core is free (affinity
  minus load average); the caller parses the small files meanwhile. Workers
  hand back compact tuples (a summary rebuilt without re-validation) and, for
  a long-lived store only, the pickled parser of files written lately, so an
  append is still read incrementally; a one-shot command ships no parser
  state (a file that changes later is simply parsed again).
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

import concurrent.futures as cf
import dataclasses
import gc
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Literal, cast, overload

from .cache import CacheEntry, SummaryCache, cache_disabled_by_env, collector_paused, file_key, key_priority
from .discovery import AgentHomes, find_session_files
from .errors import AgentSessionError
from .index import SessionIndex
from .model import AgentSession, AgentType, LlmResponse, ToolEvent, UserPrompt
from .reader import FileCursor, TrackedFile
from .sources.base import EVENT_WINDOW, EventKind, SessionFile
from .sources.registry import MAPPING_FILES, SESSION_TREES
from .watch import TreeState, Watcher, tree_roots
from .workers import (
    ScanTuple,
    WorkerPool,
    available_cores,
    batches,
    by_size,
    cold_scan,
    decode_results,
    free_cores,
    scan_files,
)

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
#: With ``summary_scan``, a long-lived store keeps a full parser only for files written
#: this recently (seconds): a session idle for longer is history until it changes.
FOLLOW_RECENT_S = 15 * 60.0
#: With ``changed=`` hints, every known file is still stat'ed this often (a missed event).
FULL_STAT_INTERVAL = 10.0
#: ... stretched to this many times the last walk and stat pass took (a large history), at most
#: ``MAX_FULL_STAT_INTERVAL`` seconds.
FULL_STAT_COST_FACTOR = 100.0
MAX_FULL_STAT_INTERVAL = 120.0
#: A complete store saves its cache at most this often while it keeps changing.
CACHE_SAVE_INTERVAL = 60.0
#: A first walk that takes at least this many files from the cache freezes them for
#: the garbage collector (see ``_freeze_warm_start``).
FREEZE_MIN_HITS = 5_000
#: Worker failure messages kept in ``SessionStore.worker_errors``.
MAX_WORKER_ERRORS = 20

#: Kept importable for callers of the old names (``doctor``): each source's declaration
#: now lives in :mod:`agent_session.sources.registry`.
_SESSION_TREES = SESSION_TREES
_MAPPING_FILES = MAPPING_FILES
#: The old private name of :class:`~agent_session.index.SessionIndex`.
_SessionIndex = SessionIndex


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
    #: Files whose first parse was the summary scan (in this process or a worker).
    scanned: int = 0
    #: Worker batches that failed (the process died, or raised): their files were
    #: parsed in this process instead; ``SessionStore.worker_errors`` says why.
    worker_failures: int = 0
    #: True when discovery walked the homes (False: directory mtimes showed nothing new).
    discovered: bool = False
    #: True when every known file was stat'ed (False: only what a watcher or ``changed=`` named).
    full_pass: bool = False

    #: ``changed_paths`` as a set: a membership test on the list was quadratic on 50,000 new files.
    _noted: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        return self.pending == 0

    def note_changed(self, path: str) -> None:
        """Add ``path`` to ``changed_paths`` once."""
        if path not in self._noted:
            self._noted.add(path)
            self.changed_paths.append(path)


class SessionStore:
    """Parsed state of every session file under ``homes``; thread-safe.

    ``cache``: None/False (default) for none, True for the user cache dir
    (``$AGENTSESSION_CACHE_DIR`` or ``~/.cache/agentsession``; the
    ``AGENTSESSION_NO_CACHE`` variable turns it off), a directory, or a
    :class:`~agent_session.cache.SummaryCache`. ``workers``: processes for a
    large initial parse (None: decided per parse, only as many as cores are
    free, see :func:`~agent_session.workers.free_cores`; 0 or 1: parse here;
    2 or more: that many, whatever the load).
    ``watch``: follow the session trees with a file watcher (``watchfiles``)
    and let ``refresh()`` look only at what it reported, as with ``changed=``.
    ``summary_scan``: first parses of files that are not being written use
    the summary scanners (:func:`~agent_session.workers.cold_scan`, contract
    in :mod:`agent_session.sources.scan`): exact usage, requests, cost,
    tools and outcomes, but no ``files`` (which :meth:`detail` fills) and
    times from the lines it visits; a scanned file's first change re-parses
    it fully. None (the default) turns it on for one-shot stores
    (``follow=False``: ``list``, ``report``, ``show``'s lookup) and off for
    long-lived ones, whose consumers may want every event of a file
    (``watch``, ``serve``); the monitor turns it on: there only files
    written in the last :data:`FOLLOW_RECENT_S` seconds keep a full parser.
    ``follow``: whether first parses keep their parser so a later append is
    read incrementally (None, the default, and True: yes). ``False`` is for
    one-shot commands (``list``, ``show``): only summaries are kept (50,000
    parsers were most of a cold ``list``'s memory), workers ship no parser
    state, and a file that changes later is parsed again from zero.

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
        summary_scan: bool | None = None,
        follow: bool | None = None,
    ) -> None:
        self.homes = homes if homes is not None else AgentHomes.resolve()
        self.agents = frozenset(agents) if agents is not None else frozenset(AgentType)
        self._files: dict[str, TrackedFile] = {}
        self._detail: OrderedDict[str, TrackedFile] = OrderedDict()
        #: One lock per opened session: its parser is fed by one caller at a time.
        self._detail_locks: dict[str, threading.Lock] = {}
        #: Store-level problems (a file that cannot be read), by path.
        self.errors: dict[str, str] = {}
        #: Files under the homes that are not sessions, by path, with the reason (see the class doc).
        self.skipped: dict[str, str] = {}
        #: Paths the last walk skipped (kept in ``skipped`` too).
        self._walk_skips: set[str] = set()
        self._sessions: list[AgentSession] | None = None
        self._index = SessionIndex()
        #: Paths whose summary may have changed since the index last looked.
        self._stale: set[str] = set()
        self._lock = threading.RLock()
        #: None: decided per parse from the free cores; else a fixed number of processes.
        self._workers_fixed = workers is not None
        self.workers = available_cores() if workers is None else max(0, workers)
        self.parallel_min_bytes = parallel_min_bytes
        self._tree = TreeState()
        self._discoveries = 0
        self._roots: tuple[str, ...] | None = None
        #: Paths the last walk could not list (kept in ``errors`` too).
        self._walk_errors: set[str] = set()
        self._last_full_stat = 0.0
        #: Seconds between full passes while the watcher's hints are trusted (see ``refresh``).
        self._full_interval = FULL_STAT_INTERVAL
        #: Files waiting for their first parse, with the stat that queued them.
        self._pending: dict[str, os.stat_result] = {}
        self._pool: WorkerPool | None = None
        #: Batches handed to workers, with the tracked files they were taken from.
        self._jobs: dict[cf.Future[list[ScanTuple]], list[TrackedFile]] = {}
        #: Why worker batches failed (most recent last, at most ``MAX_WORKER_ERRORS``).
        self.worker_errors: list[str] = []
        self.summary_scan = follow is False if summary_scan is None else summary_scan
        self._follow = follow
        #: Paths taken from the cache in the current refresh (changed, but nothing new to save).
        self._from_cache: set[str] = set()
        self.cache = _make_cache(cache, self.homes, self.agents)
        self._cache_entries: dict[str, CacheEntry] | None = None
        #: Files whose cache entry matched and whose summary model is not built yet, with
        #: the wall time of the stat that matched. Pending ones are taken newest first like
        #: first parses (``refresh(budget=…)``); the rest were deferred by a one-shot
        #: refresh (``_deferred``) until :meth:`sessions` or :meth:`listing` asks.
        self._lazy: dict[str, tuple[CacheEntry, int]] = {}
        self._deferred: set[str] = set()
        #: The index holds cache entries in place of models (built by :meth:`listing`).
        self._listed = False
        #: The newest cached sessions shown by a first budgeted refresh before any walk
        #: (``_first_screen``), and how many sessions the whole cache holds.
        self._provisional: dict[str, CacheEntry] = {}
        self._cache_total = 0
        self._first_screen_tried = False
        self._cache_dirty = False
        self._cache_attempted_at: float | None = None
        self._watcher = Watcher(list(self._tree_roots())) if watch else None
        self._no_watcher = threading.Event()  # never set: wait_for_change's sleep without a watcher

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
        tree; every file is still stat'ed every ``FULL_STAT_INTERVAL`` (longer for a
        history whose pass is slow, see ``FULL_STAT_COST_FACTOR``) in case
        the watcher missed an event. The cost then depends on what changed, not
        on the size of the history.
        """
        started = time.perf_counter()
        stats = RefreshStats()
        with self._lock:
            if budget is not None and not self._first_screen_tried:
                self._first_screen_tried = True
                if self._first_screen(stats):
                    stats.seconds = time.perf_counter() - started
                    return stats
            # Loading the cache, walking and matching 50,000 files allocate objects by
            # the hundred thousand (none cyclic): collections would rescan them all.
            with collector_paused():
                self._load_cache()
                if self._deferred:
                    self._take_deferred()  # their files are looked at again below, as any other
                hinted = set(changed) if changed is not None else self._watcher_hints()
                due = time.monotonic() - self._last_full_stat > self._full_interval
                pass_started = time.perf_counter()
                walk = bool(
                    hinted is None
                    or due
                    or self._discoveries < 2
                    or self._walk_errors
                    or self._hints_need_walk(hinted)
                )
                if walk:
                    found = self._discover(stats)
                    if found is not None:
                        self._apply_discovery(found, stats)
                        if self._discoveries == 1 and stats.cache_hits >= FREEZE_MIN_HITS:
                            _freeze_warm_start()
            # A walk the hints asked for needs no stat of every file: new ones are
            # queued, gone ones dropped, and changed ones were hinted.
            full = walk and (hinted is None or due)
            if full:
                self._last_full_stat = time.monotonic()
                self._full_pass(stats)
                if hinted is not None:
                    # The safety net may cost at most about 1 % of a core: at 50,000 files a
                    # walk and stat pass takes ~0.5 s, so it runs every ~50 s, not every 10 s.
                    spent = time.perf_counter() - pass_started
                    self._full_interval = min(
                        MAX_FULL_STAT_INTERVAL, max(FULL_STAT_INTERVAL, FULL_STAT_COST_FACTOR * spent)
                    )
            else:
                assert hinted is not None
                for key in self._expand_hints(hinted):
                    if key in self._files and key not in self._pending and key not in self._deferred:
                        self._update(self._files[key], stats)
            stats.full_pass = full
            self._harvest(stats, wait=False)
            self._parse_pending(stats, started, budget)
            for key, tracked in list(self._detail.items()):
                if key in self._files and (full or key in (hinted or ())):
                    self._follow_detail(key, tracked)
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

    def _first_screen(self, stats: RefreshStats) -> bool:
        """Show the newest cached sessions at once, before the homes are walked (True: done so).

        Why: a warm start over 50,000 sessions spends seconds loading the
        whole cache, walking the homes and matching every file before any
        session can be shown. The cache keeps its newest entries first with a
        digest of their own (:meth:`~agent_session.cache.SummaryCache.load_head`):
        those whose file still has the cached stat are shown now, and
        ``pending`` counts the rest of the cache. The next refresh walks as
        usual and takes over the same summary objects; a file that is gone, or
        whose discovery facts changed, leaves the list then (and is parsed, if
        it is still a session file).
        """
        if self.cache is None or self._discoveries or self._cache_entries is not None:
            return False
        entries, total = self.cache.load_head()
        if not entries:
            return False
        fresh: list[tuple[str, int, AgentSession | CacheEntry]] = []
        with collector_paused():
            for path, entry in entries.items():
                if not entry.is_session:
                    continue
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not (S_ISREG(st.st_mode) and entry.matches(st, entry.file_key)):
                    continue
                session = entry.model()
                if session is None:
                    continue
                self._provisional[path] = entry
                fresh.append((path, key_priority(entry.file_key), session))
                stats.note_changed(path)
            self._index.put_many(fresh)
        self._sessions = None
        self._cache_total = max(total, len(fresh))
        stats.cache_hits = len(fresh)
        stats.files_seen = self._cache_total
        stats.pending = self._cache_total - len(fresh)
        return True

    def _full_pass(self, stats: RefreshStats) -> None:
        """``stat`` every known file; only those whose stat moved are looked at further."""
        skip = self._pending.keys() | self._from_cache | self._deferred
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

    def wait_for_change(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for the file watcher to see a change under a session tree.

        True when it did: a caller (the monitor, ``agentsession watch``) then
        refreshes early instead of running a watcher of its own. Without a
        watcher (``watch=False``) this just waits and returns False.
        """
        w = self._watcher
        if w is None:
            self._no_watcher.wait(timeout)
            return False
        return w.wait_for_change(timeout)

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
            elif path.startswith(roots) or os.path.basename(path) in MAPPING_FILES:
                return True
        return False

    def _tree_roots(self) -> tuple[str, ...]:
        if self._roots is None:
            self._roots = tree_roots(self.homes, self.agents)
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
                    stats.note_changed(key)
            self._evict_detail(key)
            if tracked is not None:
                self._forget_lazy(key)  # a new path cannot have a cache entry waiting yet
            tracked = self._files[key] = TrackedFile(sf)
            self._queue(tracked, stats, key)
        if self._provisional:
            # The first screen's sessions: the walk's own now (taken over in ``_queue``,
            # else dropped by the index until their file is parsed).
            self._stale.update(self._provisional)
            self._provisional.clear()
            self._sessions = None
        for key in [k for k in self._files if k not in seen]:
            was_ready = self._files[key].ready
            del self._files[key]
            self._pending.pop(key, None)
            self._forget_lazy(key)
            self._evict_detail(key)
            if key not in self._walk_errors:
                self.errors.pop(key, None)
            if key not in self._walk_skips:
                self.skipped.pop(key, None)
            stats.removed += 1
            if was_ready:
                stats.note_changed(key)

    def _queue(self, tracked: TrackedFile, stats: RefreshStats, path: str | None = None) -> None:
        """A new file: take it from the cache when it matches, else queue its first parse.

        ``path``: ``tracked.path`` when the caller has it already (the property
        builds a new string each call, 50,000 times per warm start).
        """
        if path is None:
            path = tracked.path
        stat_ns = time.time_ns()
        try:
            st = os.lstat(path)
        except OSError as exc:
            self._fail(tracked, exc, stats)
            return
        entry = self._cache_entries.get(path) if self._cache_entries else None
        if entry is not None and entry.matches(st, file_key(tracked.file)):
            stats.cache_hits += 1
            shown = self._provisional.get(path)
            if shown is not None and shown.built is not None and shown.matches(st, entry.file_key):
                entry = shown  # on the first screen: the same summary object, now the walk's
            elif entry.is_session:
                # Its model is built when it is first needed (newest first with a budget).
                self._lazy[path] = (entry, stat_ns)
                if self._follow is False:
                    # One-shot: a listing prints it as cached; :meth:`sessions` builds it.
                    self._deferred.add(path)
                    self._stale.add(path)
                    self._sessions = None
                else:
                    self._pending[path] = st
                return
            # Empty, torn or garbage: judged now, as a parsed file is (``skipped`` names it).
            if self._adopt_cached(tracked, entry, stat_ns, stats):
                return
        self._pending[path] = st

    def _adopt_cached(
        self, tracked: TrackedFile, entry: CacheEntry, stat_ns: int, stats: RefreshStats | None
    ) -> bool:
        """Give ``tracked`` its cached summary (False: the entry holds no valid one, parse the file).

        With ``stats`` (inside a refresh) the file counts as changed; without
        (a model asked for between refreshes) the index is told directly.
        """
        session = entry.model()
        path = entry.path
        if session is None:
            if stats is not None:
                stats.cache_hits -= 1
            if self.cache is not None:
                self.cache.diagnostic = f"cache entry ignored ({path}): not a valid summary"
            return False
        cursor = FileCursor(entry.dev, entry.ino, entry.size, entry.mtime_ns, entry.offset)
        tracked.adopt(cursor, session, tail_fed=entry.tail_fed, stat_ns=stat_ns)
        if stats is not None:
            stats.note_changed(path)
            self._from_cache.add(path)
        else:
            self._changed_between_refreshes(path)
        return True

    def _changed_between_refreshes(self, path: str) -> None:
        """A summary that changed outside a refresh: judge it and let the index look at it again."""
        self._judge(path)
        self._stale.add(path)
        self._sessions = None

    def _forget_lazy(self, path: str) -> None:
        self._lazy.pop(path, None)
        self._deferred.discard(path)

    def _take_deferred(self) -> None:
        """Build the model of every summary a one-shot refresh left in the cache entry."""
        for path in list(self._deferred):
            self._deferred.discard(path)
            lazy = self._lazy.pop(path, None)
            tracked = self._files.get(path)
            if lazy is None or tracked is None:
                continue
            if not self._adopt_cached(tracked, lazy[0], lazy[1], None):
                self._update(tracked, None)  # not a valid summary after all: parse the file
                self._changed_between_refreshes(path)

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
                stats.note_changed(tracked.path)
            if read or (tracked.parser is not None and tracked.parser.dirty):
                stats.files_read += 1
                stats.bytes_read += read
                stats.note_changed(tracked.path)

    def _fail(self, tracked: TrackedFile, exc: BaseException, stats: RefreshStats) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        tracked.error = msg
        if self.errors.get(tracked.path) != msg:
            stats.note_changed(tracked.path)
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
        if budget is None and self._lazy:
            # Cached summaries waiting for their model (a one-shot store defers them
            # in ``_queue`` instead): built here; a failed one is parsed below.
            self._parse_here([p for p in queued if p in self._lazy], stats)
            queued = [p for p in queued if p in self._pending]
            if not queued:
                self._harvest(stats, wait=True)
                return
        # Newest first: the sessions a user is most likely looking at come first.
        queued.sort(key=lambda p: self._pending[p].st_mtime_ns, reverse=True)
        if budget is None:
            todo = sum(self._pending[p].st_size for p in queued)
            n = self._worker_count(todo, beside_caller=True)
            if n:
                self._parse_beside_workers(by_size(queued, self._pending), n, stats)
            else:
                self._parse_here(queued, stats)
            self._harvest(stats, wait=True)  # also background work from an earlier budgeted call
            self._parse_here(queued, stats)  # what a worker could not do
            return
        if self._lazy:
            # Cached summaries first (newest first), with a budget of their own: a model
            # each (a tenth of a millisecond) where a parse takes milliseconds, so a warm
            # history fills in within a few refreshes, however long their walks take.
            lazy = [p for p in queued if p in self._lazy]
            self._parse_here(lazy, stats, time.perf_counter() + budget)
            queued = [p for p in queued if p in self._pending and p not in self._lazy]
        # However long the walk took, a quarter of the budget goes to first parses, so a
        # slow walk never leaves a first screen empty.
        deadline = max(started + budget, time.perf_counter() + budget / 4)
        rest = self._parse_here(queued, stats, deadline) if queued else []
        if rest:
            todo = sum(self._pending[p].st_size for p in rest)
            n = self._worker_count(todo, beside_caller=False)
            if n:
                self._submit(rest, BACKGROUND_BATCH_BYTES, n)  # newest first, in the background

    def _parse_beside_workers(self, paths: list[str], n: int, stats: RefreshStats) -> None:
        """Hand ``paths`` (largest first) to ``n`` workers and parse from the other end here.

        The caller is not idle while the pool works: it takes the batches at
        the end of the queue (the small files) for itself, each one a worker
        has not started yet (a cancelled future), until the two meet.
        """
        futures = self._submit(paths, BATCH_BYTES, n)
        for fut in reversed(futures):
            if not fut.cancel():
                continue  # running or done: the worker's
            batch = self._jobs.pop(fut, [])
            self._parse_here([t.path for t in batch if self._files.get(t.path) is t], stats)
        # What no worker took (the pool could not start): parse it here.
        taken = self._in_jobs()
        self._parse_here([p for p in paths if p in self._pending and p not in taken], stats)

    def _parse_here(self, paths: list[str], stats: RefreshStats, deadline: float | None = None) -> list[str]:
        """Parse in this process until ``deadline``; returns the paths left."""
        now = time.time()
        for i, path in enumerate(paths):
            if deadline is not None and i and time.perf_counter() >= deadline:
                return paths[i:]
            st = self._pending.pop(path, None)
            if st is None:
                continue
            tracked = self._files.get(path)
            if tracked is None:
                continue
            lazy = self._lazy.pop(path, None)
            if lazy is not None and self._adopt_cached(tracked, lazy[0], lazy[1], stats):
                continue
            keep = self._wants_state(st, now)
            if self.summary_scan and not keep:
                self._scan(tracked, stats)
            else:
                self._update(tracked, stats)
                if not keep:
                    _drop_parser(tracked)
            if tracked.ready:
                stats.note_changed(tracked.path)
        return []

    def _wants_state(self, st: os.stat_result, now: float) -> bool:
        """Keep a full parser for this file (so its appends are read incrementally).

        Not for a one-shot store (``follow=False``): its files get the
        summary only; should one change after all, it is parsed again from
        zero. A long-lived store with ``summary_scan`` keeps parsers only for
        files written in the last :data:`FOLLOW_RECENT_S` seconds: the rest
        is history, scanned, and parsed in full on its first change.
        """
        if self._follow is False:
            return False
        return not self.summary_scan or now - st.st_mtime < FOLLOW_RECENT_S

    def _scan(self, tracked: TrackedFile, stats: RefreshStats) -> None:
        try:
            read = cold_scan(tracked)
        except (OSError, ValueError) as exc:
            self._fail(tracked, exc, stats)
            return
        if tracked.path in self.errors:
            del self.errors[tracked.path]
        stats.files_read += 1
        stats.bytes_read += read
        if tracked.file.append_only:
            stats.scanned += 1
        stats.note_changed(tracked.path)

    def _worker_count(self, todo_bytes: int, *, beside_caller: bool) -> int:
        """Worker processes for ``todo_bytes`` of first parses (0: parse here).

        A fixed ``workers=`` is taken as given (2 or more). Otherwise workers
        are used only when more than one core is free (affinity minus load),
        one per further free core when the caller parses too.
        """
        if todo_bytes < self.parallel_min_bytes or self.workers < (2 if beside_caller else 1):
            return 0
        if self._workers_fixed:
            return min(self.workers, 32) - (1 if beside_caller else 0)
        free = free_cores()
        if free <= 1.0:
            return 0
        n = min(self.workers, max(2, round(free)), 32)
        return n - 1 if beside_caller else n

    def _in_jobs(self) -> set[str]:
        return {t.path for batch in self._jobs.values() for t in batch}

    def _submit(self, paths: list[str], batch_bytes: int, n: int) -> list[cf.Future[list[ScanTuple]]]:
        """Hand ``paths`` to the pool; files it could not take stay pending and are parsed here.

        A pool that cannot start (no fork server, a broken pool) turns the
        workers off for this store, with the reason in ``worker_errors``: a
        refresh never fails because a helper process could not be had.
        """
        now = time.time()
        out: list[cf.Future[list[ScanTuple]]] = []
        try:
            pool = self._ensure_pool(n)
            for batch in batches(paths, self._pending, batch_bytes, BATCH_FILES):
                tracked = [self._files[p] for p in batch]
                keep = [self._wants_state(self._pending[p], now) for p in batch]
                fut = pool.submit([t.file for t in tracked], keep, self.summary_scan)
                self._jobs[fut] = tracked
                out.append(fut)
        except (OSError, ValueError, RuntimeError, cf.BrokenExecutor) as exc:
            self.worker_errors.append(f"workers turned off: {type(exc).__name__}: {exc}"[:500])
            del self.worker_errors[:-MAX_WORKER_ERRORS]
            self.workers = 0
            self._workers_fixed = False
        return out

    def _ensure_pool(self, n: int) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(max(1, n))
        return self._pool

    def _harvest(self, stats: RefreshStats, *, wait: bool) -> None:
        """Take in what workers finished (all of it with ``wait``); shut the pool down when idle.

        A batch that failed (a worker died or raised) is counted in
        ``stats.worker_failures``, its reason kept in ``worker_errors``, and
        its files are parsed here.
        """
        if not self._jobs:
            return
        done: Iterable[cf.Future[list[ScanTuple]]]
        done = cf.as_completed(list(self._jobs)) if wait else [f for f in list(self._jobs) if f.done()]
        for fut in done:
            batch = self._jobs.pop(fut)
            results: list[ScanTuple] = []
            if not fut.cancelled():
                try:
                    results = fut.result()
                except Exception as exc:
                    stats.worker_failures += 1
                    self.worker_errors.append(f"{type(exc).__name__}: {exc}"[:500])
                    del self.worker_errors[:-MAX_WORKER_ERRORS]
            self._adopt_results(results, {t.path: t for t in batch}, stats)
            left = [t.path for t in batch if t.path in self._pending and self._files.get(t.path) is t]
            if left:
                self._parse_here(left, stats)
        if not self._jobs and self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _adopt_results(
        self, results: list[ScanTuple], submitted: dict[str, TrackedFile], stats: RefreshStats
    ) -> None:
        sessions = decode_results([r[8] for r in results])
        for r, snap in zip(results, sessions, strict=True):
            path, dev, ino, size, mtime_ns, offset, tail_fed, stat_ns, _data, state = r
            tracked = self._files.get(path)
            if path not in self._pending or tracked is None or tracked is not submitted.get(path):
                continue  # vanished, replaced or already parsed meanwhile: the worker's result is moot
            if snap is None:
                continue  # left pending: parsed here by the caller
            del self._pending[path]
            cursor = FileCursor(dev, ino, size, mtime_ns, offset)
            tracked.adopt(cursor, snap, state=state, tail_fed=tail_fed, stat_ns=stat_ns)
            stats.parsed_by_workers += 1
            if state is None and tracked.file.append_only:
                stats.scanned += 1
            stats.files_read += 1
            stats.bytes_read += offset
            stats.note_changed(path)

    def close(self) -> None:
        """Stop background workers and the watcher, and write the cache with what was read.

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
            # What was read so far, even with history still pending (the monitor
            # quit early): the next start takes those files from the cache.
            if self._cache_dirty or not self._pending:
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
            if self.cache is None or not self._discoveries:
                return False  # nothing walked yet: an empty cache would replace a good one
            old = self._cache_entries or {}
            entries: list[CacheEntry] = []
            for path, tracked in self._files.items():
                lazy = self._lazy.get(path)
                if lazy is not None:
                    entries.append(lazy[0])  # matched the file, model never built: its line as it was
                    continue
                if path in self._pending or not tracked.settled():
                    continue  # never parsed, unreadable, or written too recently to trust its mtime
                c = tracked.cursor
                prev = old.get(path)
                snap = tracked.snapshot()
                raw = prev.raw if prev is not None and prev.built is snap else None
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
        """``(files parsed, files known)``: the history is complete when both are equal.

        Before the first walk, after a first screen from the cache: the
        sessions shown of those the cache holds.
        """
        with self._lock:
            if not self._discoveries and self._provisional:
                return len(self._provisional), self._cache_total
            return len(self._files) - len(self._pending), len(self._files)

    # ------------------------------------------------------------------ queries
    def sessions(self) -> list[AgentSession]:
        """All sessions (summaries, no events), one per session id, subagent usage rolled up."""
        with self._lock:
            if self._sessions is None:
                with collector_paused():  # a model copy per parent, index tuples: no cycles
                    if self._deferred:
                        self._take_deferred()
                    if self._listed:
                        # The index holds cache entries: fill a new one in one pass.
                        self._index = SessionIndex()
                        self._stale = set(self._files)
                        self._listed = False
                    self._sessions = cast("list[AgentSession]", self._build())
            return list(self._sessions)

    def listing(self) -> list[AgentSession | CacheEntry]:
        """:meth:`sessions` for a one-shot listing: what it returns, without building every model.

        After a refresh of a one-shot store (``follow=False``) summaries taken
        from the cache stay :class:`~agent_session.cache.CacheEntry` objects:
        they answer ``agent_type``, ``session_id``, ``last_activity_ms``,
        ``start_timestamp_ms``, ``usage``, ``cost_usd``… and
        :meth:`~agent_session.cache.CacheEntry.summary_json` is the session as
        ``list --json`` prints it. Building 50,000 models (and serializing them
        again) was most of a warm ``list``. Sessions with subagents rolled up
        into them, and every file parsed, are models. Same order and content as
        :meth:`sessions`.
        """
        with self._lock:
            if not self._deferred:
                return list(self.sessions())
            try:
                with collector_paused():
                    self._listed = True
                    self._sessions = None
                    return self._build()
            except ValueError:
                # A parent's cached summary is not valid after all: the slow way parses it.
                return list(self.sessions())

    def _build(self) -> list[AgentSession | CacheEntry]:
        stale, self._stale = self._stale, set()
        fresh: list[tuple[str, int, AgentSession | CacheEntry]] = []
        for path in stale:
            tracked = self._files.get(path)
            if tracked is None or path in self.skipped:
                self._index.drop(path)
            elif path in self._deferred:
                fresh.append((path, tracked.file.priority, self._lazy[path][0]))
            elif tracked.ready:
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
            if base is None and not self._discoveries:
                self.refresh(budget=0.0)  # a session of the first screen: walk to know its file
                base = self._files.get(session.path)
            if base is None:
                raise SessionLookupError(session.session_id, [])
            tracked = self._detail.get(session.path)
            if tracked is None:
                tracked = TrackedFile(base.file, detail=True)
                self._detail[session.path] = tracked
                while len(self._detail) > DETAIL_CACHE_SIZE:
                    self._evict_detail(next(iter(self._detail)))
            else:
                self._detail.move_to_end(session.path)
            if self._detail_size(session.path) >= HUGE_DETAIL_BYTES:
                for other in [k for k in self._detail if k != session.path]:
                    if self._detail_size(other) >= HUGE_DETAIL_BYTES:
                        self._evict_detail(other)
            reading = self._detail_locks.setdefault(session.path, threading.Lock())
        # Read outside the store's lock: a huge session's first parse takes minutes, and
        # refreshes (the monitor's list, other callers) must go on meanwhile. The detail's
        # own lock keeps two readers of the same file from feeding one parser at once.
        with reading:
            self._update(tracked, None)
            if tracked.parser is None:
                raise SessionLookupError(session.session_id, [])
            snap = tracked.snapshot()
        return snap.model_copy(
            update={"subagent_usage": session.subagent_usage, "subagent_ids": session.subagent_ids}
        )

    def _follow_detail(self, path: str, tracked: TrackedFile) -> None:
        """Read what was appended to an opened session, unless ``detail()`` is reading it right now.

        That reader reads to the end of the file anyway; waiting for it here
        would hold the store's lock for as long as its parse takes.
        """
        lock = self._detail_locks.setdefault(path, threading.Lock())
        if lock.acquire(blocking=False):
            try:
                self._update(tracked, None)
            finally:
                lock.release()

    def _evict_detail(self, path: str) -> None:
        """Drop an opened session's parser (a reader still holding it finishes with its own copy)."""
        self._detail.pop(path, None)
        self._detail_locks.pop(path, None)

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


def _freeze_warm_start() -> None:
    """Move what a large warm start built out of the cyclic collector's sight (``gc.freeze``).

    Why: the summaries loaded from the cache and the files tracked for them
    are millions of container objects that live as long as the store, with
    no reference cycles among them (a replaced summary is freed by its
    reference count all the same). Left to the collector, they were scanned
    again by each promotion and full collection after the load: 2.5 s of a
    13 s warm ``list`` at 50,000 sessions. Frozen objects are never collected
    as cycles; the warm start creates no cyclic garbage worth keeping track of.
    """
    gc.freeze()


def _drop_parser(tracked: TrackedFile) -> None:
    """Keep only the summary of a parsed file, as if it came from the cache.

    A one-shot command never reads the file again, and 50,000 live parsers
    were most of its memory; should the file change after all (a store that
    turns out to live on), it is parsed again from zero.
    """
    if tracked.parser is None or tracked.error is not None or tracked.tail_len:
        return  # nothing to drop, or a torn line the next refresh must finish from the parser
    snap = tracked.snapshot()
    c = tracked.cursor
    tracked.adopt(
        FileCursor(c.dev, c.ino, c.size, c.mtime_ns, c.offset),
        snap,
        tail_fed=tracked.tail_fed,
        stat_ns=tracked.stat_ns,
    )


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
