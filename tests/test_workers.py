"""The worker pool and the cold summary scan as the store uses them.

Workers only when cores are free, failures reported (never swallowed), the
summary scan equal to the full parse on what ``scan.py`` promises, and a scanned file's
first append giving the full parse.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.sessions import comparable, scan_comparable, spec_for, synth

import agent_session.workers as workers_mod
from agent_session import AgentHomes, SessionStore
from agent_session.reader import TrackedFile
from agent_session.sources.base import SessionFile

PAST = time.time() - 7200


def by_id(store: SessionStore, *, files: bool = True) -> dict[str, dict[str, Any]]:
    """Sessions by display key; ``files=False``: only what a summary scan reproduces exactly."""
    return {
        f"{s.agent_type.value}:{s.session_id}": comparable(s, with_error=True)
        if files
        else scan_comparable(s)
        for s in store.sessions()
    }


def cold(home: Path, *, files: bool = True) -> dict[str, dict[str, Any]]:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    return by_id(store, files=files)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Six sessions with tool calls (so ``files`` is not empty), written two hours ago."""
    h = tmp_path / "home"
    n = 0
    for agent in ("claude", "codex", "gemini"):
        for _ in range(2):
            path = synth(agent).write_session(h, spec_for(agent, n, tools_per_turn=2))
            os.utime(path, (PAST + n, PAST + n))
            n += 1
    return h


def test_free_cores_is_affinity_minus_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert workers_mod.available_cores() == 4
    assert workers_mod.free_cores() == 2.5
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert workers_mod.free_cores() == 0.0
    monkeypatch.setattr(os, "getloadavg", lambda: (float("nan"), 0.0, 0.0))
    assert workers_mod.free_cores() == 4.0


def test_no_workers_when_no_core_is_free(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agent_session.store as store_mod

    monkeypatch.setattr(store_mod, "free_cores", lambda: 0.9)
    store = SessionStore(AgentHomes.resolve(home), parallel_min_bytes=0)  # workers decided per parse
    store.workers = 2
    assert store._worker_count(10**9, beside_caller=True) == 0
    stats = store.refresh()
    assert (stats.parsed_by_workers, stats.files_seen) == (0, 6)
    monkeypatch.setattr(store_mod, "free_cores", lambda: 1.6)
    # Two free cores: one worker beside the caller, or two in the background.
    assert store._worker_count(10**9, beside_caller=True) == 1
    assert store._worker_count(10**9, beside_caller=False) == 2
    store.parallel_min_bytes = 100
    assert store._worker_count(99, beside_caller=False) == 0  # too little to be worth a process


def test_a_dead_worker_is_reported_and_its_files_parsed_here(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(self: workers_mod.WorkerPool, files: list[SessionFile], keep: Any, scan: bool) -> Any:
        return self._executor.submit(os._exit, 3)  # the worker process exits mid-batch

    monkeypatch.setattr(workers_mod.WorkerPool, "submit", die)
    store = SessionStore(AgentHomes.resolve(home), workers=3, parallel_min_bytes=0)
    stats = store.refresh()
    assert stats.worker_failures >= 1
    assert stats.parsed_by_workers == 0
    assert any("BrokenProcessPool" in e for e in store.worker_errors)
    assert by_id(store) == cold(home)


def test_workers_give_the_cold_sessions_without_state_for_a_one_shot_store(home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=2, parallel_min_bytes=0, follow=False)
    stats = store.refresh()
    assert stats.files_read == 6
    assert stats.parsed_by_workers >= 1 and stats.worker_failures == 0
    assert all(t._state is None for t in store._files.values() if t.parser is None)
    assert by_id(store, files=False) == cold(home, files=False)


@pytest.mark.parametrize("in_workers", [False, True])
def test_summary_scan_equals_the_full_parse_but_files(home: Path, in_workers: bool) -> None:
    store = SessionStore(
        AgentHomes.resolve(home),
        workers=2 if in_workers else 0,
        parallel_min_bytes=0,
        summary_scan=True,
        follow=False,
    )
    stats = store.refresh()
    # Gemini's legacy .json and compressed files get the full parse; every plain .jsonl is scanned.
    jsonl = sum(1 for f in store.tracked_files() if f.append_only)
    assert stats.scanned == jsonl == 6
    assert by_id(store, files=False) == cold(home, files=False)
    scanned = {s.session_id: s.files for s in store.sessions()}
    agent_of = {s.session_id: s.agent_type.value for s in store.sessions()}
    plain = SessionStore(AgentHomes.resolve(home), workers=0)
    plain.refresh()
    full = {s.session_id: s.files for s in plain.sessions()}
    assert any(full.values())  # the fixture's calls touch files
    # Claude and Codex scanners leave files to the full parse; Gemini files get the parser itself.
    assert {k: v for k, v in scanned.items() if agent_of[k] != "gemini"} == {
        k: {} for k in scanned if agent_of[k] != "gemini"
    }
    assert {k: v for k, v in scanned.items() if agent_of[k] == "gemini"} == {
        k: v for k, v in full.items() if agent_of[k] == "gemini"
    }
    # The detail of a scanned session is the full parse, files included.
    some = next(s for s in store.sessions() if full[s.session_id])
    assert store.detail(some).files == full[some.session_id]


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_first_append_to_a_scanned_file_is_the_full_parse(home: Path, agent: str) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=0, summary_scan=True, follow=False)
    store.refresh()
    path = next(f.path for f in store.tracked_files() if f.agent_type.value == agent)
    size = path.stat().st_size
    extra = b"".join(synth(agent).session_lines(spec_for(agent, 9, turns=1))).splitlines(keepends=True)[-1]
    with open(path, "ab") as fh:
        fh.write(extra)
    stats = store.refresh()
    assert (stats.files_read, stats.bytes_read, stats.scanned) == (1, size + len(extra), 0)
    tracked = store._files[str(path)]
    assert tracked.parser is not None  # the full parser now follows the file
    mine = {k: v for k, v in by_id(store).items() if v["path"] == str(path)}
    assert mine == {k: v for k, v in cold(home).items() if v["path"] == str(path)}


def test_cold_scan_holds_back_a_torn_last_line_like_the_reader(home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    sf = next(f for f in store.tracked_files() if f.agent_type.value == "claude")
    with open(sf.path, "ab") as fh:
        fh.write(b'{"type":"user","timest')  # a line still being written
    full = TrackedFile(sf)
    full.update()
    scanned = TrackedFile(sf)
    read = workers_mod.cold_scan(scanned)
    assert read == sf.path.stat().st_size
    assert scanned.parser is None and scanned.cursor.offset == full.cursor.offset
    assert scan_comparable(scanned.snapshot()) == scan_comparable(full.snapshot())
    assert "incomplete last line (22 bytes)" in (scanned.snapshot().diagnostics.last_error or "")


_NO_FD_STDERR = """
import io, sys
from pathlib import Path
from agent_session import AgentHomes, SessionStore

class Capture(io.StringIO):  # what Textual puts in sys.stderr while an app runs
    def fileno(self) -> int:
        return -1

sys.stderr = Capture()
store = SessionStore(AgentHomes.resolve(Path(sys.argv[1])), workers=2, cache=False)
store.parallel_min_bytes = 0
stats = store.refresh()
store.close()
print(len(store.sessions()), stats.parsed_by_workers, store.worker_errors, sorted(store.errors))
"""


@pytest.mark.slow
def test_workers_start_while_stderr_has_no_descriptor(home: Path) -> None:
    """Under the monitor sys.stderr is Textual's capture (fileno -1): the pool must still start.

    Run in a fresh interpreter, where multiprocessing's helpers are not running yet.
    """
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _NO_FD_STDERR, str(home)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    n, by_workers, worker_errors, errors = done.stdout.strip().split(" ", 3)
    assert (int(n), worker_errors, errors) == (6, "[]", "[]")
    assert int(by_workers) > 0


def test_a_pool_that_cannot_start_turns_workers_off_and_parses_here(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: workers_mod.WorkerPool, workers: int) -> None:
        raise ValueError("bad value(s) in fds_to_keep")

    monkeypatch.setattr(workers_mod.WorkerPool, "__init__", refuse)
    store = SessionStore(AgentHomes.resolve(home), workers=2, cache=False)
    store.parallel_min_bytes = 0
    stats = store.refresh()
    assert stats.parsed_by_workers == 0 and store.errors == {}
    assert by_id(store) == cold(home)  # every session, parsed in this process
    assert store.worker_errors == ["workers turned off: ValueError: bad value(s) in fds_to_keep"]
    assert store.workers == 0
    store.close()
