"""The ``serve`` loop: keep the store and the process matcher current, feed the counting model.

Why a loop of its own (and not the monitor's worker): the daemon has no UI,
runs for weeks, and must stop within a second on SIGTERM, so every wait is
an ``Event.wait`` and the first parse of a large history runs in short
budgeted slices that check for a stop in between.

The history is parsed completely *before* the scrape endpoint opens: a
scrape that saw half the history and then the rest would look like a burst
of usage to ``rate()``. After that, each pass observes only the sessions
whose snapshot object changed (the store hands out a new object when a
file changes), so an idle history costs nothing per pass.

Nothing here writes into an agent home: the store only reads, and the
summary cache (when on) lives in the user cache dir.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson

from ..cache import default_cache_dir
from ..discovery import AgentHomes
from ..model import AgentSession
from ..process import ProcessSnapshot, ProcessSnapshotter, SessionProcessMatcher, match_live
from ..store import SessionStore
from .metrics import CounterModel, SessionKey, SessionObservation, observe_session

__all__ = ["MarksFile", "PassStats", "ServeDaemon", "default_state_path"]

#: Budget of one slice of the first parse: the longest a stop request waits then.
FIRST_PARSE_SLICE_S = 0.3
#: Marks are saved at most this often while they keep rising (and always on a clean stop).
STATE_SAVE_INTERVAL_S = 30.0
#: A state file larger than this is not read (a normal one is ~100 bytes per session and model).
MAX_STATE_BYTES = 256 * 1024 * 1024
_STATE_VERSION = 1


def default_state_path(homes: AgentHomes) -> Path:
    """Where the marks of ``serve`` for these homes are kept: the user cache dir, never an agent home.

    One file per set of homes (``--home`` elsewhere gets its own), named by a
    digest so no path shows in the name.
    """
    digest = hashlib.sha256(repr(homes).encode()).hexdigest()[:16]
    return default_cache_dir() / "serve" / f"marks-{digest}.json"


class MarksFile:
    """The high-water marks on disk, so a restart keeps the totals of deleted sessions too.

    Without it, a restart after old sessions were deleted would lower the
    totals, and Prometheus would read the drop as a counter reset and count
    the whole remaining history again in ``increase()``. The file is ours
    (mode 0600 in a 0700 folder, written whole and renamed into place); what
    is read back is checked row by row, and a file that is not a regular file
    owned by this user is ignored.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, model: CounterModel) -> tuple[int, str | None]:
        """Raise ``model``'s marks from the file: (rows used, why nothing was read or None)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return 0, None
        except OSError as exc:
            return 0, f"cannot open {self.path}: {exc.strerror or exc}"
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                return 0, f"{self.path} is not a regular file of this user: ignored"
            if st.st_size > MAX_STATE_BYTES:
                return 0, f"{self.path} is larger than {MAX_STATE_BYTES} bytes: ignored"
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(MAX_STATE_BYTES + 1)
        finally:
            os.close(fd)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return 0, f"{self.path} is not JSON: ignored"
        if (
            not isinstance(obj, dict)
            or obj.get("version") != _STATE_VERSION
            or not isinstance(obj.get("marks"), list)
        ):
            return 0, f"{self.path} is not a marks file of this version: ignored"
        return model.load_marks(obj["marks"]), None

    def save(self, model: CounterModel) -> None:
        """Write every mark (atomically: a crash leaves the old file or the new one)."""
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = orjson.dumps({"version": _STATE_VERSION, "marks": model.dump_marks()})
        tmp = folder / f".{self.path.name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fh.write(body)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


@dataclass
class PassStats:
    """What one pass did (logged at debug level by the CLI, asserted by tests)."""

    sessions: int = 0
    changed: int = 0
    marks_raised: int = 0
    live: int = 0
    seconds: float = 0.0


class ServeDaemon:
    """Store + matcher + counting model, advanced by :meth:`step`; run by :meth:`run`.

    ``snapshot``: returns the process snapshot to match against (default: a
    :class:`ProcessSnapshotter` of the whole machine); tests pass one scoped
    to their own processes, or one returning an empty snapshot.
    """

    def __init__(
        self,
        homes: AgentHomes,
        model: CounterModel,
        *,
        cache: bool = True,
        watch: bool = True,
        snapshot: Callable[[], ProcessSnapshot] | None = None,
        log: TextIO | None = None,
        state: MarksFile | None = None,
    ) -> None:
        self.homes = homes
        self.model = model
        self.store = SessionStore(homes, cache=cache, watch=watch)
        self._snapshot = snapshot if snapshot is not None else ProcessSnapshotter().snapshot
        self._matcher = SessionProcessMatcher()
        self._seen: dict[SessionKey, AgentSession] = {}
        self._obs: dict[SessionKey, SessionObservation] = {}
        self._log = log
        self.passes = 0
        self.state = state
        self._saved_updates = 0
        self._saved_at = time.monotonic()
        if state is not None:
            used, problem = state.load(model)
            self._saved_updates = model.updates
            if problem:
                self._say(f"state not restored: {problem}")
            elif used:
                self._say(f"restored {used} high-water marks from {state.path}")

    def _say(self, text: str) -> None:
        if self._log is not None:
            self._log.write(f"agentsession serve: {text}\n")
            self._log.flush()

    def save_state(self, *, force: bool = False) -> None:
        """Save the marks when they rose (at most every ``STATE_SAVE_INTERVAL_S`` unless ``force``)."""
        if self.state is None or self.model.updates == self._saved_updates:
            return
        if not force and time.monotonic() - self._saved_at < STATE_SAVE_INTERVAL_S:
            return
        try:
            self.state.save(self.model)
        except OSError as exc:
            self._say(f"cannot save state to {self.state.path}: {exc.strerror or exc}")
            return
        self._saved_updates = self.model.updates
        self._saved_at = time.monotonic()

    def first_parse(self, stop: threading.Event) -> bool:
        """Parse the whole history (in slices; False when ``stop`` was set first), then count it."""
        while not stop.is_set():
            stats = self.store.refresh(budget=FIRST_PARSE_SLICE_S)
            if stats.pending == 0:
                self.step(refresh=False)
                return True
        return False

    def step(self, *, refresh: bool = True) -> PassStats:
        """One pass: refresh, match live processes, fold the changed sessions into the model."""
        started = time.perf_counter()
        if refresh:
            self.store.refresh()
        sessions = self.store.sessions()
        changed: list[SessionObservation] = []
        seen: dict[SessionKey, AgentSession] = {}
        obs: dict[SessionKey, SessionObservation] = {}
        for s in sessions:
            key = (s.agent_type.value, s.session_id)
            seen[key] = s
            old = self._obs.get(key)
            if old is not None and self._seen.get(key) is s:
                obs[key] = old
                continue
            o = observe_session(s, with_context=self.model.per_session)
            obs[key] = o
            changed.append(o)
        # Sessions gone from disk drop out of the gauges; their marks stay in the model.
        self._seen, self._obs = seen, obs
        live = self._live_keys(sessions)
        raised = self.model.observe(changed)
        self.model.set_state(obs.values(), live)
        self.passes += 1
        stats = PassStats(len(sessions), len(changed), raised, len(live), time.perf_counter() - started)
        if raised:
            self._say(
                f"{stats.changed} sessions changed, {raised} counters rose "
                f"({stats.sessions} sessions, {stats.live} live, {stats.seconds * 1000:.0f} ms)"
            )
        self.save_state()
        return stats

    def _live_keys(self, sessions: list[AgentSession]) -> set[SessionKey]:
        try:
            matches = match_live(self._matcher, sessions, self.homes, self._snapshot())
        except Exception as exc:  # a process table that cannot be read leaves every session idle
            self._say(f"process match failed: {exc}")
            return set()
        return {(m.agent_type.value, m.session_id) for m in matches}

    def run(self, stop: threading.Event, interval: float) -> None:
        """Pass every ``interval`` seconds until ``stop`` is set (returns within one pass of it)."""
        while not stop.wait(interval):
            self.step()

    def close(self) -> None:
        """Save the marks (whatever their age) and release the store."""
        try:
            self.save_state(force=True)
        finally:
            self.store.close()
