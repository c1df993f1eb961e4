"""The summary cache touches only what it made: the cache directory may be on a shared ``/tmp``.

With ``XDG_CACHE_HOME`` on a shared ``/tmp``, another user can plant
``agentsession`` (or our ``summaries`` folder) as a symbolic link to one of
the victim's directories. The cache must then be refused with a diagnostic
(the command still works, without it), and nothing behind the link deleted
or changed. In a directory that is ours, only files named exactly like ours
are ever deleted, and a temporary file only once no live writer can own it.
"""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import orjson
import pytest
from robustkit import write_bystanders

from agent_session import AgentHomes, SessionStore, cli
from agent_session.cache import STALE_SECONDS, TEMP_STALE_SECONDS, SummaryCache

DAY = 86_400


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A home of four sessions, settled, and ``XDG_CACHE_HOME`` in a "shared" directory."""
    home = tmp_path / "home"
    home.mkdir()
    write_bystanders(home)
    backdate(home, 3_600)
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    monkeypatch.delenv("AGENTSESSION_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    yield {"home": home, "shared": shared, "cache_dir": shared / "agentsession"}


def backdate(root: Path, seconds: float) -> None:
    when = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (when, when), follow_symlinks=False)


def aged(path: Path, seconds: float, data: bytes = b"x") -> Path:
    path.write_bytes(data)
    when = time.time() - seconds
    os.utime(path, (when, when))
    return path


def sessions_of(store: SessionStore) -> dict[str, Any]:
    return {s.path: s.model_dump(mode="json", exclude={"diagnostics"}) for s in store.sessions()}


def cold(home: Path) -> dict[str, Any]:
    s = SessionStore(AgentHomes.resolve(home), workers=0)
    s.refresh()
    return sessions_of(s)


def cached_store(home: Path) -> SessionStore:
    s = SessionStore(AgentHomes.resolve(home), cache=True, workers=0)
    s.refresh()
    return s


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry with its mode, mtime and content: what must not change."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        data = p.read_bytes() if stat.S_ISREG(st.st_mode) else b""
        out[str(p.relative_to(folder))] = (st.st_mode, st.st_mtime_ns, data)
    st = os.stat(folder)
    out["."] = (st.st_mode, st.st_mtime_ns, b"")
    return out


def victim_dir(root: Path) -> Path:
    """Someone's folder holding old files named like ours, and a ``summaries`` folder of their own."""
    victim = root / "victim-docs"
    (victim / "summaries").mkdir(parents=True)
    aged(victim / "summaries-2025.txt", 90 * DAY, b"the victim's notes")
    aged(victim / "summaries-0123456789abcdef.cache", 90 * DAY, b"not ours either")
    aged(victim / "summaries" / "summaries-0123456789abcdef.cache", 90 * DAY, b"theirs")
    aged(victim / "summaries" / ".summaries-0123456789abcdef-0123456789abcdef.tmp", 90 * DAY, b"theirs")
    os.chmod(victim / "summaries", 0o755)
    os.chmod(victim, 0o750)
    backdate(victim, 90 * DAY)
    return victim


def test_a_planted_link_to_a_victim_dir_is_refused_and_nothing_behind_it_changes(
    env: dict[str, Path], tmp_path: Path
) -> None:
    victim = victim_dir(tmp_path)
    before = snapshot(victim)
    env["cache_dir"].symlink_to(victim, target_is_directory=True)
    store = cached_store(env["home"])
    assert store.cache_diagnostic is not None
    assert "symbolic link" in store.cache_diagnostic and str(env["cache_dir"]) in store.cache_diagnostic
    assert store.save_cache() is False
    assert store.cache_diagnostic.startswith("cache not written")
    assert snapshot(victim) == before
    # The command works as without a cache.
    assert sessions_of(store) == cold(env["home"])
    assert len(sessions_of(store)) == 4
    listed = run_cli(["list", "--json", "--home", str(env["home"])])
    assert sorted(s["path"] for s in listed) == sorted(cold(env["home"]))
    assert snapshot(victim) == before


def test_a_planted_link_in_place_of_our_folder_is_refused(env: dict[str, Path], tmp_path: Path) -> None:
    victim = victim_dir(tmp_path)
    before = snapshot(victim)
    env["cache_dir"].mkdir(mode=0o700)
    (env["cache_dir"] / "summaries").symlink_to(victim / "summaries", target_is_directory=True)
    store = cached_store(env["home"])
    assert store.cache_diagnostic is not None and "symbolic link" in store.cache_diagnostic
    assert store.save_cache() is False
    assert snapshot(victim) == before
    assert sessions_of(store) == cold(env["home"])


def test_a_cache_file_that_is_a_link_is_not_read(env: dict[str, Path], tmp_path: Path) -> None:
    store = cached_store(env["home"])
    assert store.cache is not None and store.cache.path.is_file()
    real = tmp_path / "elsewhere.cache"
    store.cache.path.rename(real)
    store.cache.path.symlink_to(real)
    again = cached_store(env["home"])
    assert again.cache_diagnostic is not None and "cannot read" in again.cache_diagnostic
    assert sessions_of(again) == cold(env["home"])


@pytest.mark.parametrize("mode", [0o755, 0o777, 0o711])
def test_a_cache_dir_that_existed_keeps_its_mode_and_its_files(env: dict[str, Path], mode: int) -> None:
    cache_dir = env["cache_dir"]
    cache_dir.mkdir()
    os.chmod(cache_dir, mode)
    aged(cache_dir / "summaries-0123456789abcdef.cache", 90 * DAY)  # e.g. an older layout's file
    aged(cache_dir / "notes.txt", 90 * DAY)
    store = cached_store(env["home"])
    assert store.cache is not None and store.cache_diagnostic is None
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == mode
    assert sorted(p.name for p in cache_dir.iterdir()) == [
        "notes.txt",
        "summaries",
        "summaries-0123456789abcdef.cache",
    ]
    assert stat.S_IMODE(os.stat(store.cache.folder).st_mode) == 0o700
    warm = cached_store(env["home"])
    assert warm.refresh().cache_hits == 0  # nothing changed since
    assert sessions_of(warm) == cold(env["home"])


def test_a_cache_dir_we_create_is_private_whatever_the_umask(env: dict[str, Path]) -> None:
    old = os.umask(0o277)  # would leave the owner unable to write
    try:
        store = cached_store(env["home"])
    finally:
        os.umask(old)
    assert store.cache is not None and store.cache_diagnostic is None
    assert stat.S_IMODE(os.stat(env["cache_dir"]).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.cache.folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.cache.path).st_mode) == 0o600


def test_our_folder_opened_to_others_is_not_trusted_nor_changed(env: dict[str, Path]) -> None:
    store = cached_store(env["home"])
    assert store.cache is not None
    os.chmod(store.cache.folder, 0o777)
    again = cached_store(env["home"])
    assert again.cache_diagnostic is not None and "open to other users" in again.cache_diagnostic
    assert again.refresh().cache_hits == 0
    assert sessions_of(again) == cold(env["home"])
    assert stat.S_IMODE(os.stat(store.cache.folder).st_mode) == 0o777


def test_only_our_stale_files_are_pruned(env: dict[str, Path], tmp_path: Path) -> None:
    """Dead writers' temp files and month-old caches go; a live writer's temp and anything foreign stay."""
    first = cached_store(env["home"])
    assert first.cache is not None
    folder = first.cache.folder
    target = aged(tmp_path / "target.cache", 90 * DAY, b"a file a link points at")
    stale_tmp = aged(folder / ".summaries-0123456789abcdef-fedcba9876543210.tmp", TEMP_STALE_SECONDS + 600)
    live_tmp = aged(folder / ".summaries-0123456789abcdef-0000000000000001.tmp", 60)
    stale_cache = aged(folder / "summaries-00000000000000aa.cache", STALE_SECONDS + DAY)
    recent_cache = aged(folder / "summaries-00000000000000bb.cache", STALE_SECONDS - DAY)
    foreign = [
        aged(folder / name, 90 * DAY)
        for name in (
            "summaries-notes.txt",
            "summaries-00000000000000cc.cache.bak",
            "summaries-00000000000000DD.cache",
            ".summaries-abc123.tmp",
            ".summaries-0123456789abcdef-0123456789abcdef.tmp.keep",
            "xsummaries-00000000000000ee.cache",
        )
    ]
    link = folder / "summaries-00000000000000ff.cache"
    link.symlink_to(target)
    os.utime(link, (time.time() - 90 * DAY,) * 2, follow_symlinks=False)
    sub = folder / "summaries-0000000000000011.cache"
    sub.mkdir()
    os.utime(sub, (time.time() - 90 * DAY,) * 2)
    store = SessionStore(AgentHomes.resolve(env["home"]), cache=True, workers=0)
    store.refresh()
    assert store.save_cache()
    assert not stale_tmp.exists() and not stale_cache.exists()
    assert live_tmp.exists() and recent_cache.exists()
    assert all(p.exists() for p in foreign)
    assert link.is_symlink() and target.read_bytes() == b"a file a link points at"
    assert sub.is_dir()


def test_a_killed_writer_leaves_nothing_that_is_read(env: dict[str, Path]) -> None:
    """A half-written temp file (the writer was killed) is neither read nor kept for ever."""
    first = cached_store(env["home"])
    assert first.cache is not None
    good = first.cache.path.read_bytes()
    half = aged(
        first.cache.folder / ".summaries-0123456789abcdef-00000000000000aa.tmp", 2 * TEMP_STALE_SECONDS
    )
    half.write_bytes(good[: len(good) // 2])
    os.utime(half, (time.time() - 2 * TEMP_STALE_SECONDS,) * 2)
    again = cached_store(env["home"])
    assert again.refresh().cache_hits == 0 and again.cache_diagnostic is None
    assert sessions_of(again) == cold(env["home"])
    assert again.save_cache()
    assert not half.exists()
    assert sorted(p.name for p in first.cache.folder.iterdir()) == [first.cache.path.name]


def run_cli(argv: list[str]) -> Any:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(argv) == 0
    return orjson.loads(out.getvalue())


def test_a_home_path_that_is_not_utf8_works_with_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = os.fsencode(tmp_path) + b"/home-\xff\xfe"
    os.mkdir(raw)
    home = Path(os.fsdecode(raw))
    write_bystanders(home)
    backdate(home, 3_600)
    cache_dir = tmp_path / "cache-\udcff"  # the cache directory itself not UTF-8 either
    monkeypatch.setenv("AGENTSESSION_CACHE_DIR", str(cache_dir))
    first = run_cli(["list", "--json", "--home", str(home)])
    assert len(first) == 4
    # JSON output is UTF-8: the undecodable bytes of the path show as "?".
    assert all("/home-??/" in s["path"] for s in first)
    second = run_cli(["list", "--json", "--home", str(home)])
    assert second == first
    cache = SummaryCache(cache_dir, scope=["claude=" + str(home)])
    assert cache.path.parent == cache_dir / "summaries"
    written = list((cache_dir / "summaries").iterdir())
    assert len(written) == 1 and written[0].name.startswith("summaries-")
