"""The shortcuts of a large warm start must not change one byte of ``list --json``.

A warm start rebuilds summaries from the cache with a type-checking plan
(leaf types checked in one pass, empty containers skipped), walks the homes
building paths from their parent folder, fills the index in one pass and
freezes what it built for the garbage collector. Each is checked here
against the eager path: the same command without a cache, which parses
every file.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.sessions import spec_for, synth

import agent_session.store as store_mod
from agent_session import AgentHomes, SessionStore
from agent_session.cache import _Mismatch, _model_builder, _session_builder
from agent_session.cli import main
from agent_session.discovery import find_session_files
from agent_session.model import TokenUsage


def _home(tmp_path: Path) -> tuple[Path, int]:
    """Three sessions per agent, two Claude sessions with two subagents each; mtimes an hour old.

    Returns the home and its number of session files (9 sessions + 4 subagent files).
    """
    home = tmp_path / "home"
    for agent in ("claude", "codex", "gemini"):
        for n in range(3):
            extra: dict[str, object] = {"subagents": 2} if agent == "claude" and n < 2 else {}
            synth(agent).write_session(home, spec_for(agent, n, extra=extra))
    when = time.time() - 3600
    for root, dirs, names in os.walk(home):
        for name in [*dirs, *names]:
            os.utime(os.path.join(root, name), (when, when))
    return home, 13


def _list_json(capsys: pytest.CaptureFixture[str], home: Path, *extra: str) -> str:
    assert main(["list", "--json", "--home", str(home), *extra]) == 0
    return capsys.readouterr().out


@pytest.fixture
def unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_warm_list_json_is_byte_identical_to_the_eager_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, unfreeze: None
) -> None:
    home, _ = _home(tmp_path)
    monkeypatch.setenv("AGENTSESSION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AGENTSESSION_NO_CACHE", raising=False)
    monkeypatch.setattr(store_mod, "FREEZE_MIN_HITS", 1)  # take the freezing path too
    eager = _list_json(capsys, home, "--no-cache")
    assert not (tmp_path / "cache").exists()
    cold = _list_json(capsys, home)  # parses, writes the cache
    warm = _list_json(capsys, home)  # every summary from the cache
    assert eager.count('\n{"agent_type":') == 13  # subagents are listed too
    assert eager.count('"subagent_ids":["') == 2  # and rolled up into their two parents
    assert cold == eager
    assert warm == eager


def test_a_warm_store_takes_every_file_from_the_cache(tmp_path: Path, unfreeze: None) -> None:
    home, files = _home(tmp_path)
    cold = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0, follow=False)
    assert cold.refresh().cache_hits == 0
    warm = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0, follow=False)
    stats = warm.refresh()
    assert (stats.cache_hits, stats.files_read) == (files, 0) == (13, 0)
    assert [s.model_dump() for s in warm.sessions()] == [s.model_dump() for s in cold.sessions()]


def test_a_large_warm_start_freezes_what_it_built_and_a_cold_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfreeze: None
) -> None:
    home, _ = _home(tmp_path)
    monkeypatch.setattr(store_mod, "FREEZE_MIN_HITS", 13)
    gc.unfreeze()
    SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0).refresh()
    assert gc.get_freeze_count() == 0  # nothing from the cache: parsers are not frozen
    assert gc.isenabled()
    warm = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    warm.refresh()
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()  # the pause around the load and the walk is over
    gc.unfreeze()
    warm.refresh()  # a second walk freezes nothing more
    assert gc.get_freeze_count() == 0


def test_below_the_threshold_nothing_is_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, _ = _home(tmp_path)
    monkeypatch.setattr(store_mod, "FREEZE_MIN_HITS", 14)
    gc.unfreeze()
    for _ in range(2):
        SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0).refresh()
    assert gc.get_freeze_count() == 0


def test_walked_paths_equal_paths_parsed_from_their_strings(tmp_path: Path) -> None:
    home, files = _home(tmp_path)
    found = find_session_files(AgentHomes.resolve(home))
    assert len(found) == files
    for sf in found:
        again = Path(str(sf.path))
        assert sf.path == again and sf.path.parts == again.parts and hash(sf.path) == hash(again)
        assert str(sf.path) == os.path.join(str(sf.path.parent), sf.path.name)
        assert sf.path.is_file()


def test_the_leaf_check_rejects_a_wrong_type_and_accepts_none_where_optional() -> None:
    build = _model_builder(TokenUsage, {})
    good = {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_creation_tokens": 3,
        "cache_read_tokens": 4,
        "reasoning_tokens": 5,
    }
    assert build(dict(good)) == TokenUsage(**good)
    for name in good:
        for wrong in (True, 1.0, "1", None):
            with pytest.raises(_Mismatch):
                build({**good, name: wrong})  # bool is not int here, nor a float
            backwards = dict(reversed({**good, name: wrong}.items()))  # not the order the cache writes
            with pytest.raises(_Mismatch):
                build(backwards)
    assert build(dict(reversed(good.items()))) == TokenUsage(**good)  # checked field by field
    with pytest.raises(_Mismatch):
        build({**good, "extra": 1})
    with pytest.raises(_Mismatch):
        build({k: v for k, v in good.items() if k != "reasoning_tokens"})
    session = _session_builder()
    assert session is not None
    base = {
        "agent_type": "claude",
        "session_id": "s",
        "path": "/p",
    }
    from agent_session.model import AgentSession

    full = AgentSession(**base).model_dump(mode="json", exclude_computed_fields=True)  # type: ignore[arg-type]
    assert session(dict(full)) == AgentSession(**base)  # type: ignore[arg-type]
    assert full["cwd"] is None  # an optional str left None passes
    with pytest.raises(_Mismatch):
        session({**full, "cwd": 5})
    with pytest.raises(_Mismatch):
        session({**full, "prompt_count": False})
