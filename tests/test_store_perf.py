"""The store's speed options give the same sessions as a plain cold parse.

Worker processes, newest-first budgets, watcher hints and directory-mtime
checks change how much is read and when, never what a session says.
No timings are asserted: what is counted is files and bytes read.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.sessions import comparable, scan_comparable, spec_for, synth

import agent_session.store as store_mod
from agent_session import AgentHomes, RefreshStats, SessionStore, find_session_files

PAST = time.time() - 3600


def by_id(store: SessionStore) -> dict[str, dict[str, Any]]:
    return {f"{s.agent_type.value}:{s.session_id}": comparable(s, with_error=True) for s in store.sessions()}


def cold_store(home: Path) -> SessionStore:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    return store


def scan_view(store: SessionStore) -> dict[str, dict[str, Any]]:
    return {s.path: scan_comparable(s) for s in store.sessions()}


def cold(home: Path) -> dict[str, dict[str, Any]]:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    return by_id(store)


def age(home: Path, when: float = PAST) -> None:
    for root, dirs, files in os.walk(home):
        for name in [*files, *dirs]:
            os.utime(os.path.join(root, name), (when, when))


def settle(store: SessionStore) -> None:
    """Two refreshes (the second records directory mtimes) and a look, as a monitor does."""
    store.refresh()
    store.refresh()
    store.sessions()


def one_more_line(agent: str) -> bytes:
    return b"".join(synth(agent).session_lines(spec_for(agent, 9, turns=1))).splitlines(keepends=True)[-1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Nine sessions, the n-th modified n minutes after the previous one (n = 8 is the newest)."""
    h = tmp_path / "home"
    n = 0
    for agent in ("claude", "codex", "gemini"):
        for _ in range(3):
            extra: dict[str, object] = {"subagents": 1} if agent == "claude" and n == 0 else {}
            path = synth(agent).write_session(h, spec_for(agent, n, extra=extra))
            os.utime(path, (PAST + 60 * n, PAST + 60 * n))
            n += 1
    return h


def newest_first(home: Path) -> list[str]:
    files = [str(f.path) for f in find_session_files(AgentHomes.resolve(home))]
    return sorted(files, key=lambda p: os.stat(p).st_mtime_ns, reverse=True)


def test_worker_processes_give_the_same_sessions(home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=2, parallel_min_bytes=0)
    stats = store.refresh()
    assert stats.parsed_by_workers == stats.files_seen == 10
    assert stats.pending == 0 and stats.complete
    assert by_id(store) == cold(home)


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_append_after_a_worker_parse_reads_only_the_new_bytes(home: Path, agent: str) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=2, parallel_min_bytes=0, follow=True)
    store.refresh()
    path = next(
        f.path
        for f in store.tracked_files()
        if f.agent_type.value == agent and "subagents" not in str(f.path)
    )
    line = one_more_line(agent)
    with open(path, "ab") as fh:
        fh.write(line)
    stats = store.refresh()
    # The worker's parser was handed back pickled: it resumes at the old end of file.
    assert (stats.files_read, stats.bytes_read) == (1, len(line))
    assert stats.changed_paths == [str(path)]
    assert by_id(store) == cold(home)


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_one_shot_worker_parse_ships_no_state_and_reparses_on_append(home: Path, agent: str) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=2, parallel_min_bytes=0, follow=False)
    stats = store.refresh()
    assert stats.parsed_by_workers == 10
    path = next(
        f.path
        for f in store.tracked_files()
        if f.agent_type.value == agent and "subagents" not in str(f.path)
    )
    size = os.path.getsize(path)
    line = one_more_line(agent)
    with open(path, "ab") as fh:
        fh.write(line)
    stats = store.refresh()
    # No parser came back from the worker: the changed file is parsed again from zero.
    assert (stats.files_read, stats.bytes_read) == (1, size + len(line))
    # Scanned or parsed in full again, every summary holds what a scan promises exactly.
    assert scan_view(store) == scan_view(cold_store(home))


def test_budget_parses_newest_first_and_finishes_later(home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    stats = store.refresh(budget=0)
    order = newest_first(home)
    # A zero budget still parses one file, the most recently modified one.
    assert (stats.files_seen, stats.pending) == (10, 9)
    assert store.progress() == (1, 10)
    assert [s.path for s in store.sessions()] == order[:1]
    stats = store.refresh(budget=0)
    assert stats.pending == 8 and {s.path for s in store.sessions()} == set(order[:2])
    stats = store.refresh()
    assert stats.pending == 0 and store.progress() == (10, 10)
    assert by_id(store) == cold(home)


def test_budget_hands_the_rest_to_background_workers(home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=1, parallel_min_bytes=0)
    first = store.refresh(budget=0)
    assert first.pending == 9
    final = store.refresh()  # no budget: waits for the workers
    assert final.pending == 0 and final.parsed_by_workers == 9
    assert by_id(store) == cold(home)
    store.close()


def test_a_file_changed_while_queued_is_read_to_its_new_end(home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh(budget=0)
    queued = newest_first(home)[-1]
    agent = "claude" if "/.claude/" in queued else "codex" if "/.codex/" in queued else "gemini"
    with open(queued, "ab") as fh:
        fh.write(one_more_line(agent))
    store.refresh()
    assert by_id(store) == cold(home)


def test_unchanged_directories_are_not_walked_again(home: Path) -> None:
    age(home)
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    assert store.refresh().discovered
    assert store.refresh().discovered  # the second refresh records the directory mtimes
    store.sessions()
    quiet = store.refresh()
    assert not quiet.discovered and (quiet.files_read, quiet.changed_paths) == (0, [])
    # A new session file changes its folder's mtime: discovery runs and finds it.
    new = synth("codex").write_session(home, spec_for("codex", 20))
    stats = store.refresh()
    assert stats.discovered and stats.added == 1 and stats.files_read == 1
    age(home)
    store.refresh()  # records the (now settled) folders again
    assert not store.refresh().discovered
    new.unlink()
    stats = store.refresh()
    assert stats.discovered and stats.removed == 1
    assert by_id(store) == cold(home)


def test_new_subagent_folder_is_found(home: Path) -> None:
    """``subagents/`` appearing in a session folder that held only tool results is still seen."""
    spec = spec_for("claude", 1)
    (synth("claude").session_path(home, spec).with_suffix("") / "tool-results").mkdir(parents=True)
    age(home)
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    settle(store)
    assert not store.refresh().discovered
    child = synth("claude").subagent_path(home, spec, "feedbeef00112233")
    child.parent.mkdir(parents=True)
    child.write_bytes(one_more_line("claude"))
    stats = store.refresh()
    assert stats.discovered and stats.added == 1
    assert by_id(store) == cold(home)


def test_gemini_mapping_change_triggers_discovery(tmp_path: Path) -> None:
    h = tmp_path / "home"
    synth("gemini").write_session(h, spec_for("gemini", 0, extra={"sha_folder": True}))
    age(h)
    store = SessionStore(AgentHomes.resolve(h), workers=0)
    store.refresh()
    store.refresh()
    assert not store.refresh().discovered
    mapping = h / ".gemini" / "projects.json"
    mapping.write_text('{"projects": {"/elsewhere": "x"}}')
    os.utime(mapping, (PAST + 5, PAST + 5))
    assert store.refresh().discovered


def test_watcher_hints_limit_the_refresh_to_the_named_files(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "FULL_STAT_INTERVAL", 3600.0)
    age(home)
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    settle(store)
    a, b = (str(f.path) for f in store.tracked_files()[:2])
    agents = {p: "claude" if "/.claude/" in p else "codex" if "/.codex/" in p else "gemini" for p in (a, b)}
    line_a, line_b = one_more_line(agents[a]), one_more_line(agents[b])
    with open(a, "ab") as fh:
        fh.write(line_a)
    with open(b, "ab") as fh:
        fh.write(line_b)
    stats = store.refresh(changed=[a, "/not/a/session.jsonl"])
    assert not stats.discovered
    assert (stats.files_read, stats.bytes_read, stats.changed_paths) == (1, len(line_a), [a])
    store.sessions()
    stats = store.refresh()  # no hints: every file is stat'ed
    assert (stats.files_read, stats.bytes_read, stats.changed_paths) == (1, len(line_b), [b])
    assert by_id(store) == cold(home)


def test_hints_fall_back_to_a_full_pass_when_due(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "FULL_STAT_INTERVAL", 0.0)
    age(home)
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    settle(store)
    path = str(store.tracked_files()[0].path)
    agent = "claude" if "/.claude/" in path else "codex" if "/.codex/" in path else "gemini"
    with open(path, "ab") as fh:
        fh.write(one_more_line(agent))
    stats = store.refresh(changed=[])  # the watcher missed it; the periodic full pass does not
    assert stats.files_read == 1


def test_close_is_safe_and_the_store_stays_usable(home: Path, tmp_path: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=1, parallel_min_bytes=0, cache=tmp_path / "c")
    store.refresh(budget=0)
    store.close()  # cancels background work; nothing half-adopted
    stats = store.refresh()
    assert stats.pending == 0
    assert by_id(store) == cold(home)


def test_workers_from_a_threaded_process_come_from_a_fork_server(home: Path) -> None:
    """A monitor refreshes on a worker thread: forking it could copy a held lock, so no worker is forked from it."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        store = SessionStore(AgentHomes.resolve(home), workers=2, parallel_min_bytes=0)
        first = store.refresh(budget=0)  # background work, from this (threaded) process
        assert store._pool is not None
        assert store._pool._executor._mp_context.get_start_method() == "forkserver"
        stats = store.refresh()
        assert first.pending == 9 and stats.pending == 0
        assert stats.parsed_by_workers == 9 and stats.worker_failures == 0
        assert by_id(store) == cold(home)
        store.close()
    finally:
        stop.set()
        other.join()


def test_hints_about_new_or_deleted_files_walk_the_directories(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "FULL_STAT_INTERVAL", 3600.0)
    age(home)
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    settle(store)
    # A file outside the session trees (Claude's prompt history) is not a reason to walk.
    history = home / ".claude" / "history.jsonl"
    history.write_text("{}\n")
    assert not store.refresh(changed=[str(history)]).discovered
    new = synth("gemini").write_session(home, spec_for("gemini", 30))
    stats = store.refresh(changed=[str(new)])
    assert stats.discovered and stats.added == 1
    new.unlink()
    stats = store.refresh(changed=[str(new)])
    assert stats.discovered and stats.removed == 1 and stats.errors == 0
    assert by_id(store) == cold(home)


def test_session_order_is_kept_as_files_change(home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    oldest = newest_first(home)[-1]
    agent = "claude" if "/.claude/" in oldest else "codex" if "/.codex/" in oldest else "gemini"
    with open(oldest, "ab") as fh:
        fh.write(one_more_line(agent))
    os.utime(oldest, (PAST + 3600, PAST + 3600))
    store.refresh()
    got = [(s.agent_type.value, s.session_id) for s in store.sessions()]
    fresh = SessionStore(AgentHomes.resolve(home), workers=0)
    fresh.refresh()
    assert got == [(s.agent_type.value, s.session_id) for s in fresh.sessions()]
    acts = [s.last_activity_ms or 0 for s in store.sessions()]
    assert acts == sorted(acts, reverse=True)


# ------------------------------------------------------------ reader safety
def test_a_file_rewritten_longer_in_place_is_not_taken_for_an_append(home: Path) -> None:
    """Same inode, bigger size: only the bytes before the old offset tell a rewrite from an append."""
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    path = synth("codex").session_path(home, spec_for("codex", 3))
    other = b"".join(synth("codex").session_lines(spec_for("codex", 3, turns=6, seed=77)))
    assert len(other) > path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(other)
    stats = store.refresh()
    assert stats.bytes_read == len(other)
    assert by_id(store) == cold(home)
    sid = spec_for("codex", 3).session_id
    assert next(s for s in store.sessions() if s.session_id == sid).diagnostics.reparses == 1


def test_a_fifo_swapped_in_after_listing_is_an_error_not_a_hang(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = synth("claude").session_path(home, spec_for("claude", 1))
    real = store_mod.find_session_files

    def list_then_swap(*a: Any, **k: Any) -> Any:
        found = real(*a, **k)
        if path.is_file():
            path.unlink()
            os.mkfifo(path)
        return found

    monkeypatch.setattr(store_mod, "find_session_files", list_then_swap)
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    done = threading.Event()

    def run() -> None:
        store.refresh()
        done.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)  # a hang guard, not a timing: an open() of the FIFO would wait for a writer
    assert done.is_set()
    assert "not a regular file" in store.errors[str(path)]
    assert len(store.sessions()) == 9


def test_a_watching_store_reads_what_changed_without_stating_everything(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "FULL_STAT_INTERVAL", 3600.0)
    age(home)
    store = SessionStore(AgentHomes.resolve(home), workers=0, watch=True)
    try:
        settle(store)

        def until(check: Any) -> RefreshStats:
            for _ in range(400):  # a hang guard (20 s), not a timing
                stats = store.refresh()
                store.sessions()
                if check(stats):
                    return stats
                if store._watcher is not None and store._watcher.error:
                    pytest.skip(f"no file watcher here: {store._watcher.error}")
                time.sleep(0.05)
            raise AssertionError("the watcher never reported")

        # Until the watches are in place (and a full pass followed), every refresh stats everything.
        until(lambda s: not s.full_pass)
        path = str(store.tracked_files()[3].path)
        agent = "claude" if "/.claude/" in path else "codex" if "/.codex/" in path else "gemini"
        line = one_more_line(agent)
        with open(path, "ab") as fh:
            fh.write(line)
        stats = until(lambda s: s.files_read > 0)
        assert not stats.full_pass
        assert (stats.files_read, stats.bytes_read, stats.changed_paths) == (1, len(line), [path])
        new = synth("codex").write_session(home, spec_for("codex", 40))
        stats = until(lambda s: s.added > 0)
        assert stats.discovered and str(new) in stats.changed_paths
        assert by_id(store) == cold(home)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("factor", "interval"), [(0.0, store_mod.FULL_STAT_INTERVAL), (1e9, store_mod.MAX_FULL_STAT_INTERVAL)]
)
def test_the_stat_pass_safety_net_is_spaced_by_its_cost(
    home: Path, monkeypatch: pytest.MonkeyPatch, factor: float, interval: float
) -> None:
    """With hints, the full pass runs every FULL_STAT_INTERVAL, or longer when it is costly (50,000 files)."""
    monkeypatch.setattr(store_mod, "FULL_STAT_COST_FACTOR", factor)
    clock = [1000.0]
    monkeypatch.setattr(store_mod.time, "monotonic", lambda: clock[0])
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    assert store.refresh(changed=[]).full_pass  # the first pass: nothing to rely on yet
    assert store._full_interval == interval
    store.refresh(changed=[])  # the second walk (hints are trusted from then on)
    clock[0] += store_mod.FULL_STAT_INTERVAL + 1
    assert store.refresh(changed=[]).full_pass is (interval == store_mod.FULL_STAT_INTERVAL)
    clock[0] += store_mod.MAX_FULL_STAT_INTERVAL
    assert store.refresh(changed=[]).full_pass
