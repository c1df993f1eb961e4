"""Persistent summary cache: only ever a shortcut, never a different answer."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers.sessions import comparable, spec_for, synth

from agent_session import AgentHomes, SessionStore
from agent_session.cache import (
    CACHE_DIR_ENV,
    FORMAT,
    NO_CACHE_ENV,
    SummaryCache,
    code_fingerprint,
    default_cache_dir,
)

PAST = time.time() - 3600  # files older than the racy-mtime margin, as a real history is


def age(home: Path, when: float = PAST) -> None:
    """Backdate every file and folder, like a history written long ago."""
    for root, dirs, files in os.walk(home):
        for name in [*files, *dirs]:
            os.utime(os.path.join(root, name), (when, when))


def by_id(store: SessionStore) -> dict[str, dict[str, Any]]:
    return {f"{s.agent_type.value}:{s.session_id}": comparable(s, with_error=True) for s in store.sessions()}


def cold(home: Path) -> dict[str, dict[str, Any]]:
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    return by_id(store)


def warm_store(home: Path, cache_dir: Path) -> SessionStore:
    return SessionStore(AgentHomes.resolve(home), cache=cache_dir, workers=0)


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """A home with two sessions of each agent (a Claude one with subagents), backdated."""
    home = tmp_path / "home"
    paths: dict[str, Path] = {}
    for agent in ("claude", "codex", "gemini"):
        for n in range(2):
            extra: dict[str, object] = {"subagents": 2} if agent == "claude" and n == 0 else {}
            paths[f"{agent}{n}"] = synth(agent).write_session(home, spec_for(agent, n, extra=extra))
    age(home)
    return home, paths


def build_cache(home: Path, cache_dir: Path) -> SessionStore:
    store = warm_store(home, cache_dir)
    stats = store.refresh()
    assert stats.cache_hits == 0
    assert store.cache is not None and store.cache.path.is_file()
    return store


def test_warm_start_reads_nothing_and_equals_a_cold_parse(
    history: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    home, _ = history
    cache_dir = tmp_path / "cache"
    first = build_cache(home, cache_dir)
    n_files = len(first.tracked_files())
    assert n_files == 8  # 6 sessions + 2 Claude subagent files
    store = warm_store(home, cache_dir)
    stats = store.refresh()
    assert (stats.cache_hits, stats.files_read, stats.bytes_read) == (n_files, 0, 0)
    assert store.cache_diagnostic is None
    assert by_id(store) == cold(home)
    # Subagent usage is rolled up from cached children exactly as from parsed ones.
    parent = next(s for s in store.sessions() if s.subagent_ids)
    assert len(parent.subagent_ids) == 2


def test_appended_truncated_deleted_and_replaced_files_are_parsed_again(
    history: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    home, paths = history
    cache_dir = tmp_path / "cache"
    build_cache(home, cache_dir)
    # Appended: one more line from another session of the same agent.
    extra = b"".join(synth("codex").session_lines(spec_for("codex", 5, turns=1))).splitlines(keepends=True)
    with open(paths["codex0"], "ab") as fh:
        fh.write(extra[-1])
    # Truncated to a prefix of its lines.
    lines = paths["claude1"].read_bytes().splitlines(keepends=True)
    paths["claude1"].write_bytes(b"".join(lines[: len(lines) // 2]))
    # Deleted.
    paths["gemini1"].unlink()
    # Replaced by another file of the same size and mtime: only the inode tells.
    original = paths["codex1"].read_bytes()
    other = bytearray(original)
    other[other.index(b'"cwd":"') + 7] ^= 0x01  # same length, different content
    tmp = paths["codex1"].with_suffix(".new")
    tmp.write_bytes(bytes(other))
    os.utime(tmp, ns=(os.stat(paths["codex1"]).st_atime_ns, os.stat(paths["codex1"]).st_mtime_ns))
    os.replace(tmp, paths["codex1"])
    store = warm_store(home, cache_dir)
    stats = store.refresh()
    # claude0 + its 2 subagents and gemini0 are unchanged.
    assert stats.cache_hits == 4
    assert stats.files_read == 3
    assert by_id(store) == cold(home)
    assert len(store.sessions()) == 5 + 2  # gemini1 gone; subagents are sessions of their own


def test_cache_written_again_only_with_settled_files(tmp_path: Path) -> None:
    """A file written a moment ago could change again within its mtime tick: it is not cached."""
    home = tmp_path / "home"
    old = synth("claude").write_session(home, spec_for("claude", 0))
    age(home)
    fresh = synth("claude").write_session(home, spec_for("claude", 1))
    cache_dir = tmp_path / "cache"
    build_cache(home, cache_dir)
    store = warm_store(home, cache_dir)
    stats = store.refresh()
    assert stats.cache_hits == 1 and stats.files_read == 1
    assert store.cache is not None
    cached = store.cache.load()
    assert str(old) in cached and str(fresh) not in cached
    assert by_id(store) == cold(home)


def test_resumed_growth_after_warm_start_equals_cold(
    history: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    """A file taken from the cache has no parser: its first change re-parses it from zero."""
    home, paths = history
    cache_dir = tmp_path / "cache"
    build_cache(home, cache_dir)
    store = warm_store(home, cache_dir)
    store.refresh()
    more = b"".join(synth("gemini").session_lines(spec_for("gemini", 0, turns=5)))
    paths["gemini0"].write_bytes(more)
    stats = store.refresh()
    assert stats.files_read == 1 and stats.bytes_read == len(more)
    assert by_id(store) == cold(home)
    assert store.detail(store.sessions()[0]).events is not None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("garbage", "corrupt header"),
        ("foreign", "not an agentsession cache"),
        ("empty", "no header"),
        ("truncated", "truncated"),
        ("flipped", "checksum"),
        ("format", f"this version reads format {FORMAT}"),
        ("fingerprint", "another version of the parsers"),
        ("entries", "corrupt entries"),
    ],
)
def test_corrupt_or_foreign_cache_is_ignored_with_a_diagnostic(
    history: tuple[Path, dict[str, Path]], tmp_path: Path, damage: str, reason: str
) -> None:
    home, _ = history
    cache_dir = tmp_path / "cache"
    first = build_cache(home, cache_dir)
    assert first.cache is not None
    path = first.cache.path
    data = path.read_bytes()
    nl = data.index(b"\n")
    header, body = orjson.loads(data[:nl]), data[nl + 1 :]
    if damage == "garbage":
        data = b"\x00\xffnot json at all\n" + body
    elif damage == "foreign":
        data = b'{"some": "other tool"}\n' + body
    elif damage == "empty":
        data = b""
    elif damage == "truncated":
        data = data[: nl + 1 + len(body) // 2]
    elif damage == "flipped":
        i = body.index(b'"input_tokens":') + 15
        data = data[: nl + 1] + body[:i] + (b"7" if body[i : i + 1] != b"7" else b"8") + body[i + 1 :]
    elif damage in ("format", "fingerprint"):
        header[damage] = 999 if damage == "format" else "0" * 24
        data = orjson.dumps(header) + b"\n" + body
    else:  # well-formed JSON lines of the wrong shape, with a matching checksum
        import hashlib

        body = b'{"k":["x"],"s":{}}\n'
        header.update(length=len(body), digest=hashlib.blake2b(body, digest_size=16).hexdigest())
        data = orjson.dumps(header) + b"\n" + body
    path.write_bytes(data)
    store = warm_store(home, cache_dir)
    stats = store.refresh()
    assert stats.cache_hits == 0
    assert store.cache_diagnostic is not None and reason in store.cache_diagnostic
    assert by_id(store) == cold(home)
    # The bad file was replaced by a good one.
    again = warm_store(home, cache_dir)
    assert again.refresh().cache_hits == 8
    assert again.cache_diagnostic is None


def test_deleting_the_cache_is_safe(history: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    home, _ = history
    cache_dir = tmp_path / "cache"
    first = build_cache(home, cache_dir)
    assert first.cache is not None
    first.cache.path.unlink()
    store = warm_store(home, cache_dir)
    stats = store.refresh()
    assert stats.cache_hits == 0 and stats.files_read == 8
    assert store.cache_diagnostic is None
    assert by_id(store) == cold(home)


def test_changed_discovery_facts_miss_the_cache(tmp_path: Path) -> None:
    """A Gemini project mapping that appears changes the parse context: that file is parsed again."""
    home = tmp_path / "home"
    spec = spec_for("gemini", 0, extra={"sha_folder": True})
    synth("gemini").write_session(home, spec)
    age(home)
    cache_dir = tmp_path / "cache"
    build_cache(home, cache_dir)
    (home / ".gemini" / "projects.json").write_text('{"projects": {"/elsewhere/proj": "other"}}')
    store = warm_store(home, cache_dir)
    stats = store.refresh()
    assert stats.cache_hits == 0 and stats.files_read == 1
    assert by_id(store) == cold(home)


def test_cache_files_are_private(history: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    home, _ = history
    cache_dir = tmp_path / "deep" / "cache"
    old = os.umask(0o022)
    try:
        store = build_cache(home, cache_dir)
    finally:
        os.umask(old)
    assert store.cache is not None
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache_dir / "summaries").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.cache.path).st_mode) == 0o600
    assert [p.name for p in cache_dir.iterdir()] == ["summaries"]
    assert [p.name for p in store.cache.folder.iterdir()] == [store.cache.path.name]  # no temp files left


def test_cache_inside_an_agent_home_is_refused(history: tuple[Path, dict[str, Path]]) -> None:
    home, _ = history
    inside = home / ".claude" / "cache"
    store = SessionStore(AgentHomes.resolve(home), cache=inside)
    store.refresh()
    assert store.cache_diagnostic is not None and "inside an agent home" in store.cache_diagnostic
    assert not inside.exists()
    assert not store.save_cache()


def test_environment_points_the_cache_elsewhere_or_turns_it_off(
    history: tuple[Path, dict[str, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _ = history
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    store = SessionStore(AgentHomes.resolve(home), cache=True)
    store.refresh()
    assert store.cache is not None and store.cache.path.parent == tmp_path / "envcache" / "summaries"
    assert store.cache.path.is_file()
    monkeypatch.setenv(NO_CACHE_ENV, "1")
    assert SessionStore(AgentHomes.resolve(home), cache=True).cache is None
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "agentsession"


def test_one_cache_file_per_set_of_homes(history: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    home, _ = history
    other = tmp_path / "other"
    synth("codex").write_session(other, spec_for("codex", 3))
    age(other)
    cache_dir = tmp_path / "cache"
    a = build_cache(home, cache_dir)
    b = build_cache(other, cache_dir)
    assert a.cache is not None and b.cache is not None and a.cache.path != b.cache.path
    assert warm_store(home, cache_dir).refresh().cache_hits == 8
    assert warm_store(other, cache_dir).refresh().cache_hits == 1


def test_summary_cache_round_trip_keeps_every_field(
    history: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    home, _ = history
    store = build_cache(home, tmp_path / "cache")
    entries = SummaryCache(tmp_path / "cache", scope=_scope(home)).load()
    assert len(entries) == 8
    for sf in store.tracked_files():
        entry = entries[str(sf.path)]
        st = os.stat(sf.path)
        assert (entry.size, entry.mtime_ns, entry.ino, entry.offset) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ino,
            st.st_size,
        )
        assert entry.file_key.startswith(sf.agent_type.value + "|")
    for s in store.sessions():
        if not s.subagent_ids:  # the store rolls subagents up after the cache
            assert entries[s.path].session == s
    assert len(code_fingerprint()) == 24


def _scope(home: Path) -> list[str]:
    homes = AgentHomes.resolve(home)
    from agent_session.model import AgentType

    return [f"{a.value}={r}" for a in sorted(AgentType) for r in homes.roots(a)]


def test_an_unwritable_cache_is_reported_and_not_retried_every_refresh(
    history: tuple[Path, dict[str, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, paths = history
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    store = warm_store(home, blocker / "cache")
    attempts: list[int] = []
    real_save = SummaryCache.save

    def counting_save(self: SummaryCache, entries: Any) -> bool:
        attempts.append(1)
        return real_save(self, entries)

    monkeypatch.setattr(SummaryCache, "save", counting_save)
    store.refresh()
    assert store.cache_diagnostic is not None and store.cache_diagnostic.startswith("cache not written")
    with open(paths["codex0"], "ab") as fh:
        fh.write(paths["codex0"].read_bytes().splitlines(keepends=True)[-1])
    assert store.refresh().files_read == 1
    assert len(attempts) == 1  # the next try waits for the save interval
    assert by_id(store) == cold(home)


def test_closing_with_history_still_pending_keeps_what_was_read(
    history: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    """The monitor quit before its history was read: the files it did read are cached for next time."""
    home, _ = history
    cache_dir = tmp_path / "cache"
    first = warm_store(home, cache_dir)
    first.refresh(budget=0.0)  # the newest file only, the rest left pending
    read = {k for k in by_id(first)}
    assert 0 < len(read) < len(cold(home))
    first.close()
    second = warm_store(home, cache_dir)
    stats = second.refresh()
    assert stats.cache_hits >= 1  # taken from the cache, not read again
    assert by_id(second) == cold(home)
    second.close()
