"""A warm start that builds no model it does not need, and a first screen before the walk.

``list --json`` prints cached summaries as the cache holds them (no model,
no serialization), the cache file is read in pieces and its lines read again
when asked, and a monitor's first budgeted refresh shows the newest cached
sessions before walking the homes. Each shortcut is checked here against
the eager path (no cache) or against what it stands in for.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from helpers.sessions import scan_comparable, spec_for, synth

import agent_session.cache as cache_mod
from agent_session import AgentHomes, SessionStore
from agent_session.cache import CacheEntry, SummaryCache
from agent_session.cli import main
from agent_session.discovery import find_session_files
from agent_session.model import AgentSession

HOUR = 3600.0


@pytest.fixture(autouse=True)
def unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()


def _home(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Three sessions per agent (two Claude ones with two subagents each) and one empty file.

    Every file gets its own mtime, an hour old and a minute apart, in the
    order returned (the first is the newest): 9 sessions + 4 subagent files + 1 empty.
    """
    home = tmp_path / "home"
    for agent in ("claude", "codex", "gemini"):
        for n in range(3):
            extra: dict[str, object] = {"subagents": 2} if agent == "claude" and n < 2 else {}
            synth(agent).write_session(home, spec_for(agent, n, extra=extra))
    empty = next(home.glob(".claude/projects/*")) / "00000000-0000-4000-8000-000000000000.jsonl"
    empty.write_bytes(b"")
    files = sorted(Path(str(sf.path)) for sf in find_session_files(AgentHomes.resolve(home)))
    now = time.time()
    for root, dirs, names in os.walk(home):
        for name in [*dirs, *names]:  # folders and files beside the sessions: older than any
            os.utime(os.path.join(root, name), (now - 2 * HOUR, now - 2 * HOUR))
    for i, path in enumerate(files):
        when = now - HOUR - 60 * i
        os.utime(path, (when, when))
    return home, files


def _list(capsys: pytest.CaptureFixture[str], home: Path, *extra: str) -> tuple[str, str]:
    assert main(["list", "--json", "--home", str(home), *extra]) == 0
    got = capsys.readouterr()
    return got.out, got.err


@pytest.fixture
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTSESSION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AGENTSESSION_NO_CACHE", raising=False)
    return tmp_path / "cache"


@pytest.mark.parametrize(
    "options",
    [(), ("--sort", "tokens"), ("--sort", "cost"), ("--limit", "4"), ("--agent", "claude")],
)
def test_warm_list_json_prints_cached_summaries_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cache_env: Path, options: tuple[str, ...]
) -> None:
    home, _ = _home(tmp_path)
    eager, eager_err = _list(capsys, home, "--no-cache", *options)
    _list(capsys, home, *options)  # cold: writes the cache
    warm, warm_err = _list(capsys, home, *options)
    assert warm == eager
    assert warm_err == eager_err
    if not options:
        assert eager.count('\n{"agent_type":') == 13
        assert eager_err.count('"warning":"skipped"') == 1  # the empty file, from the cache too
    if options == ("--limit", "4"):
        assert eager.count('\n{"agent_type":') == 4


def test_since_and_until_filter_cached_summaries_as_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cache_env: Path
) -> None:
    home, _ = _home(tmp_path)
    # Synthetic sessions start at START_MS + n minutes: a bound between sessions 0 and 1.
    from helpers.sessions import START_MS

    bound = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime((START_MS + 30_000) / 1000))
    for options in (("--since", bound), ("--until", bound)):
        eager, _ = _list(capsys, home, "--no-cache", *options)
        _list(capsys, home, *options)
        warm, _ = _list(capsys, home, *options)
        assert warm == eager
        assert 0 < eager.count('\n{"agent_type":') < 13


def test_listing_keeps_cached_summaries_as_entries_and_equals_sessions(tmp_path: Path) -> None:
    home, _files = _home(tmp_path)
    homes = AgentHomes.resolve(home)
    SessionStore(homes, cache=tmp_path / "cache", workers=0, follow=False).refresh()
    warm = SessionStore(homes, cache=tmp_path / "cache", workers=0, follow=False)
    stats = warm.refresh()
    assert (stats.cache_hits, stats.files_read, stats.pending) == (14, 0, 0)
    listed = warm.listing()
    entries = [s for s in listed if isinstance(s, CacheEntry)]
    models = [s for s in listed if isinstance(s, AgentSession)]
    # The two parents are models (subagents rolled up into a copy); the rest stayed entries.
    assert (len(entries), len(models)) == (11, 2)
    assert all(m.subagent_ids for m in models)
    assert all(e.built is None for e in entries)  # no model was built for them
    cold = SessionStore(homes, workers=0, follow=False)  # cold, as `list` reads
    cold.refresh()
    expect = [s.model_dump(mode="json", exclude={"events"}) for s in cold.sessions()]
    assert [orjson.loads(e.summary_json()) if isinstance(e, CacheEntry) else None for e in listed] == [
        None if isinstance(s, AgentSession) else expect[i] for i, s in enumerate(listed)
    ]
    # The same store still answers with models, in the same order, equal to a cold parse.
    got = warm.sessions()
    assert [s.model_dump(mode="json", exclude={"events"}) for s in got] == expect
    assert [s.path for s in got] == [s.path for s in listed]
    assert warm.skipped == cold.skipped and len(warm.skipped) == 1


def test_a_deferred_summary_that_changed_is_parsed_again(tmp_path: Path) -> None:
    """A one-shot store refreshed again looks at its deferred files like at any other."""
    home, files = _home(tmp_path)
    homes = AgentHomes.resolve(home)
    SessionStore(homes, cache=tmp_path / "cache", workers=0, follow=False).refresh()
    warm = SessionStore(homes, cache=tmp_path / "cache", workers=0, follow=False)
    warm.refresh()
    codex = next(p for p in files if "/.codex/" in str(p))
    lines = codex.read_bytes().splitlines(keepends=True)
    codex.write_bytes(b"".join(lines[: len(lines) // 2]))
    stats = warm.refresh()
    assert stats.files_read == 1 and stats.changed_paths == [str(codex)]
    cold = SessionStore(homes, workers=0, follow=False)  # cold, as `list` reads
    cold.refresh()
    # The changed file is parsed in full, the rest was scanned: compare what a scan holds exactly.
    assert [scan_comparable(s) for s in warm.sessions()] == [scan_comparable(s) for s in cold.sessions()]


def test_cache_is_written_newest_first_with_a_head_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "HEAD_ENTRIES", 3)
    home, files = _home(tmp_path)
    store = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    store.refresh()
    assert store.cache is not None
    header_line, body = store.cache.path.read_bytes().split(b"\n", 1)
    header = orjson.loads(header_line)
    lines = body.splitlines()
    assert header["entries"] == len(lines) == 14
    assert [orjson.loads(line)["k"][0] for line in lines] == [str(p) for p in files]  # newest first
    assert header["head_length"] == sum(len(line) + 1 for line in lines[:3])
    head, total = store.cache.load_head()
    assert list(head) == [str(p) for p in files[:3]] and total == 14
    everything = store.cache.load()
    assert list(everything) == [str(p) for p in files]
    for path, entry in everything.items():
        line = next(x for x in lines if orjson.loads(x)["k"][0] == path)
        assert entry.raw == line  # read again from the open file, byte for byte
        assert entry.built is None


def test_entries_read_the_file_they_were_loaded_from_after_it_is_replaced(tmp_path: Path) -> None:
    home, _ = _home(tmp_path)
    store = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    store.refresh()
    assert store.cache is not None
    loaded = store.cache.load()
    before = {p: e.raw for p, e in loaded.items()}
    store.cache.save([])  # a new (empty) file renamed over the one the entries came from
    assert SummaryCache(tmp_path / "cache", scope=()).load() == {}
    assert {p: e.raw for p, e in loaded.items()} == before
    assert all(e.model() is not None for e in loaded.values())


def test_a_line_without_facts_makes_the_whole_cache_ignored(tmp_path: Path) -> None:
    import hashlib

    home, _ = _home(tmp_path)
    store = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    store.refresh()
    assert store.cache is not None
    header_line, body = store.cache.path.read_bytes().split(b"\n", 1)
    lines = body.splitlines()
    entry = orjson.loads(lines[5])
    del entry["f"]
    new_body = b"".join(x + b"\n" for x in [*lines[:5], orjson.dumps(entry), *lines[6:]])
    header = orjson.loads(header_line)
    header.update(length=len(new_body), digest=hashlib.blake2b(new_body, digest_size=16).hexdigest())
    store.cache.path.write_bytes(orjson.dumps(header) + b"\n" + new_body)
    again = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    assert again.refresh().cache_hits == 0
    assert again.cache_diagnostic is not None and "corrupt entries" in again.cache_diagnostic


def test_first_screen_shows_the_newest_cached_sessions_before_walking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "HEAD_ENTRIES", 4)
    home, files = _home(tmp_path)
    homes = AgentHomes.resolve(home)
    SessionStore(homes, cache=tmp_path / "cache", workers=0).refresh()
    gone = files[1]
    gone.unlink()  # one of the four newest files disappears before the next start
    store = SessionStore(homes, cache=tmp_path / "cache", workers=0)
    first = store.refresh(budget=0.25)
    assert not first.discovered and store.tracked_files() == []  # nothing walked
    shown = store.sessions()
    newest = [str(p) for p in files[:4] if p != gone and p.stat().st_size]
    # The newest file is the empty one (not a session), the second is gone: two are left.
    assert sorted(s.path for s in shown) == sorted(newest) and len(shown) == 2
    assert (first.cache_hits, first.files_seen, first.pending) == (2, 14, 12)
    assert store.progress() == (2, 14)
    assert not store.save_cache()  # nothing walked yet: the cache is not replaced by a partial one
    by_path = {s.path: s for s in shown}
    second = store.refresh(budget=10.0)
    assert second.discovered and second.pending == 0
    after = store.sessions()
    assert store.progress() == (13, 13)
    assert str(gone) not in {s.path for s in after}
    # The first screen's summaries are the walk's own now: the very same objects.
    for s in after:
        if s.path in by_path and not s.subagent_ids:
            assert s is by_path[s.path]
    cold = SessionStore(homes, workers=0)  # the same kind of store, cold
    cold.refresh()
    assert [s.model_dump(mode="json") for s in after] == [s.model_dump(mode="json") for s in cold.sessions()]


def test_first_screen_session_can_be_opened_before_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "HEAD_ENTRIES", 3)
    home, _files = _home(tmp_path)
    homes = AgentHomes.resolve(home)
    SessionStore(homes, cache=tmp_path / "cache", workers=0).refresh()
    store = SessionStore(homes, cache=tmp_path / "cache", workers=0)
    store.refresh(budget=0.25)
    shown = store.sessions()
    assert len(shown) == 2
    detail = store.detail(shown[0])  # walks first: the file must be known to be read
    assert detail.events is not None and detail.path == shown[0].path
    assert len(store.tracked_files()) == 14


def test_without_a_head_the_first_refresh_walks_as_before(tmp_path: Path) -> None:
    home, _ = _home(tmp_path)
    homes = AgentHomes.resolve(home)
    store = SessionStore(homes, cache=tmp_path / "cache", workers=0)
    stats = store.refresh(budget=0.25)  # no cache yet
    assert stats.discovered and len(store.tracked_files()) == 14


@pytest.mark.parametrize("query", ["5e550000", "a3b6d6", "codex:0199", "nothing-like-it", "01990001"])
def test_warm_show_finds_sessions_among_cache_entries_like_the_eager_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cache_env: Path, query: str
) -> None:
    home, _ = _home(tmp_path)

    def show(*extra: str) -> tuple[int, str, str]:
        code = main(["show", query, "--home", str(home), *extra])
        got = capsys.readouterr()
        return code, got.out, got.err

    eager = show("--no-cache")
    eager_json = show("--no-cache", "--json")
    _list(capsys, home)  # writes the cache
    assert show() == eager
    assert show("--json") == eager_json
    expect = {"5e550000": 0, "a3b6d6": 0, "codex:0199": 2, "nothing-like-it": 2, "01990001": 0}[query]
    assert eager[0] == expect
    if query == "codex:0199":
        assert "is ambiguous: it matches 3 sessions" in eager[2]
    if query == "5e550000":
        assert "2 subagents using" in eager[1]  # the parent, with its subagents rolled up


def test_the_walk_returns_paths_in_order_without_sorting_them(tmp_path: Path) -> None:
    """Folders listed in name order and entered where their name falls give path order."""
    from agent_session.sources.walk import TreeRules, walk_tree

    tree = tmp_path / "tree"
    names = ["a", "a-b", "a.b", "a0", "B", "b", "é", "z"]
    for top in names:
        for sub in names:
            (tree / top).mkdir(parents=True, exist_ok=True)
            (tree / top / f"{sub}.jsonl").write_bytes(b"{}\n")
        (tree / f"{top}.jsonl").write_bytes(b"{}\n")  # files beside folders of the same stem
    rules = TreeRules(take=lambda name, rel: name.endswith(".jsonl"), enter=lambda name, rel: True, depth=1)
    found = walk_tree(tree, rules)
    paths = [p for p, _ in found]
    assert len(paths) == len(names) * (len(names) + 1) == 72
    assert paths == sorted(paths)
    assert all(str(p) == os.path.join(str(p.parent), p.name) and Path(str(p)) == p for p in paths)
    # A tree named with a doubled separator walks to the same strings.
    again = [p for p, _ in walk_tree(Path(str(tree) + "//"), rules)]
    assert [str(p) for p in again] == [str(p) for p in paths]
