"""First parses of session files: the cold summary scan, and a stdlib worker pool for it.

Why this module: a cold start reads every file of the history once, and
that is nearly all of a cold ``list``'s time. Two things keep it cheap:

- **The summary scan** (:func:`cold_scan`). A plain ``.jsonl`` file is read
  by the store's own incremental reader (torn last line held back, oversized
  lines skipped, bounded memory), but fed to the agent's *summary scanner*
  (``sources/*_scan.py``), which equals the full parse field for field except
  ``files``. The scanner is then dropped and only the summary kept, as for a
  file taken from the persistent cache: the first change to the file re-parses
  it from zero with the full parser, which then follows it incrementally. So
  a one-shot command never builds, keeps or ships full parser state, and a
  watched file is exact (``files`` included) from its first append on. What
  a scanned summary lacks, ``files``, is filled by the full parse ``show`` and
  the monitor's detail run anyway. Compressed and rewritten-whole files (few,
  small) get the full parse.
- **Worker processes** (:class:`WorkerPool`), only when more than one core is
  actually free: the process's CPU affinity minus the one-minute load average
  (:func:`free_cores`). On a busy machine a second process only adds its
  start-up and the results' transfer to the bill. Workers come from a
  ``forkserver`` (safe from a threaded caller such as the monitor: nothing is
  forked from it) via :class:`concurrent.futures.ProcessPoolExecutor`. Each
  file comes back as one compact tuple (:data:`ScanTuple`): cursor numbers and
  the summary's JSON, rebuilt in the caller without re-validation (the
  persistent cache's trusted builder). A store that lives on (the monitor)
  may ask for the parser state too (``keep_state``), so an append to a file a
  worker parsed is still read incrementally. A batch that fails is reported
  (``RefreshStats.worker_failures``, ``SessionStore.worker_errors``) and
  parsed in the caller.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import math
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from stat import S_ISREG
from typing import Any

import orjson

from .model import AgentSession
from .reader import FileCursor, TrackedFile
from .sources.base import SessionFile

__all__ = [
    "ScanTuple",
    "WorkerPool",
    "available_cores",
    "cold_scan",
    "decode_results",
    "free_cores",
    "scan_files",
]

#: One file parsed by a worker: ``(path, dev, ino, size, mtime_ns, offset,
#: tail_fed, stat_ns, summary JSON, pickled parser state or None)``.
ScanTuple = tuple[str, int, int, int, int, int, bool, int, bytes, bytes | None]


def cold_scan(tracked: TrackedFile) -> int:
    """First parse of ``tracked`` with the summary scanner; returns the bytes read.

    Afterwards ``tracked`` holds the summary only (no parser): its next change
    re-parses the file from zero with the full parser. Files that are not
    plain append-only lines (compressed, rewritten whole) get the full parse
    and keep their parser. Raises what :meth:`TrackedFile.update` raises.
    """
    sf = tracked.file
    if not sf.append_only:
        return tracked.update()
    from .sources.scan import scanner_for

    st = os.lstat(sf.path)
    if not S_ISREG(st.st_mode):
        return tracked.update()  # refuses it, with the reader's own error
    # A parser at offset 0 of this very inode: the reader then "appends" the whole
    # file to the scanner (a replaced file still restarts with the full parser).
    tracked.parser = scanner_for(sf)
    tracked.cursor = FileCursor(st.st_dev, st.st_ino, -1, -1, 0)
    tracked.edge = b""
    try:
        read = tracked.update()
    except BaseException:
        _forget_scan(tracked)
        raise
    if not getattr(tracked.parser, "visited", True):
        # No line the scanner looks at: whether the file is a session at all (empty,
        # binary, only garbage, only records it skips) is the full parse's call.
        _forget_scan(tracked)
        return tracked.update()
    snap = tracked.snapshot()
    tracked.adopt(
        dataclasses.replace(tracked.cursor), snap, tail_fed=tracked.tail_fed, stat_ns=tracked.stat_ns
    )
    return read


def _forget_scan(tracked: TrackedFile) -> None:
    """Back to "never read": half a scan (or one that found nothing) is no state to keep."""
    tracked.parser = None
    tracked.cursor = FileCursor()
    tracked._clear_tail()


def scan_files(
    files: list[SessionFile], keep_state: Sequence[bool] | bool = False, summary_scan: bool = False
) -> list[ScanTuple]:
    """Parse files from zero (in a worker process); files that fail are left to the caller.

    ``keep_state`` (one flag, or one per file): ship the pickled parser too,
    so the caller can follow appends incrementally (a long-lived store, a
    file written lately); otherwise ship only the summary. ``summary_scan``:
    a file without ``keep_state`` gets the summary scan (:func:`cold_scan`)
    instead of the full parse.
    """
    keep = [keep_state] * len(files) if isinstance(keep_state, bool) else list(keep_state)
    out: list[ScanTuple] = []
    for sf, keep_one in zip(files, keep, strict=True):
        tracked = TrackedFile(sf)
        try:
            if keep_one or not summary_scan:
                tracked.update()
            else:
                cold_scan(tracked)
            snap = tracked.snapshot()
            data = snap.__pydantic_serializer__.to_json(snap, exclude_computed_fields=True)
            state = tracked.export_state() if keep_one else None
        except Exception:
            continue
        c = tracked.cursor
        out.append(
            (
                tracked.path,
                c.dev,
                c.ino,
                c.size,
                c.mtime_ns,
                c.offset,
                tracked.tail_fed,
                tracked.stat_ns,
                data,
                state,
            )
        )
    return out


def decode_results(blobs: list[bytes]) -> list[AgentSession | None]:
    """Summaries a worker wrote as JSON, rebuilt without re-validation where the shape is as expected.

    The data comes from this very code in a child process, so the cache's
    trusted builder applies; an entry it does not expect is validated instead,
    and one that fails validation is None (the caller parses that file itself).
    """
    from pydantic import ValidationError

    from .cache import _session_builder

    build = _session_builder()
    out: list[AgentSession | None] = []
    for blob in blobs:
        session: Any = None
        if build is not None:
            try:
                session = build(orjson.loads(blob))
            except Exception:
                session = None
        if session is None:
            try:
                session = AgentSession.model_validate_json(blob)
            except ValidationError:
                session = None
        out.append(session)
    return out


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def free_cores() -> float:
    """Cores not busy right now: the affinity minus the one-minute load average (never below 0)."""
    cores = available_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return float(cores)
    if not math.isfinite(load):
        return float(cores)
    return max(0.0, cores - load)


class WorkerPool:
    """A ``forkserver`` :class:`~concurrent.futures.ProcessPoolExecutor` running :func:`scan_files`.

    The fork server is a fresh single-threaded interpreter that has imported
    this module once; workers are forked from it, so they start in
    milliseconds with the parsers loaded, and nothing is ever forked from the
    caller (which may run threads: a UI, a watcher). Falls back to the
    ``spawn`` method where ``forkserver`` does not exist.
    """

    def __init__(self, workers: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["agent_session.workers"])
        self.workers = max(1, workers)
        with _usable_stderr():  # its queues' semaphores start the resource tracker
            self._executor = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)

    def submit(
        self, files: list[SessionFile], keep_state: Sequence[bool] | bool, summary_scan: bool
    ) -> cf.Future[list[ScanTuple]]:
        # The fork server and resource tracker start on the first submit.
        with _usable_stderr():
            return self._executor.submit(scan_files, files, keep_state, summary_scan)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)


@contextlib.contextmanager
def _usable_stderr() -> Iterator[None]:
    """A ``sys.stderr`` with a real descriptor while multiprocessing starts its helpers.

    multiprocessing hands ``sys.stderr.fileno()`` to the resource tracker it
    spawns; under Textual that is the app's print capture, whose fileno is
    -1, and the spawn fails with "bad value(s) in fds_to_keep". The real
    stderr (or /dev/null) stands in for the moment of the start.
    """
    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable:
        yield
        return
    saved = sys.stderr
    stand_in = sys.__stderr__
    devnull = None
    try:
        if stand_in is None or stand_in.fileno() < 0:
            raise OSError
    except (AttributeError, OSError, ValueError):
        devnull = stand_in = open(os.devnull, "w")  # noqa: SIM115 - closed below
    sys.stderr = stand_in
    try:
        yield
    finally:
        sys.stderr = saved
        if devnull is not None:
            devnull.close()


def by_size(paths: list[str], stats: dict[str, os.stat_result]) -> list[str]:
    """Largest first, so the last batches to finish are the small ones (workers end together)."""
    return sorted(paths, key=lambda p: stats[p].st_size, reverse=True)


def batches(
    paths: list[str], stats: dict[str, os.stat_result], limit: int, max_files: int
) -> Iterator[list[str]]:
    """Batches of about ``limit`` bytes, and of at most ``max_files`` files.

    Small files cost more per byte (a summary and its transfer each), so a
    byte limit alone would leave one large batch of them for the end.
    """
    batch: list[str] = []
    size = 0
    for p in paths:
        batch.append(p)
        size += stats[p].st_size
        if size >= limit or len(batch) >= max_files:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
