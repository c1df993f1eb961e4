"""What makes a large warm start cheap must not change a single value.

Cached summaries are rebuilt without pydantic validation (a plan from the
model's annotations), and a start from the cache fills the session index in
one pass: both are checked here against the slow, obvious way.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import orjson
import pytest
from helpers.sessions import spec_for, synth
from pydantic import BaseModel, field_validator

from agent_session import AgentHomes, SessionStore
from agent_session.cache import _LINES, _model_builder, _session_builder, _Unplannable
from agent_session.model import AgentSession, AgentType, TokenUsage
from agent_session.store import _SessionIndex


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for agent in ("claude", "codex", "gemini"):
        for n in range(3):
            extra: dict[str, object] = {"subagents": 2} if agent == "claude" and n == 0 else {}
            synth(agent).write_session(home, spec_for(agent, n, extra=extra))
    when = time.time() - 3600
    for root, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            os.utime(os.path.join(root, name), (when, when))
    return home


def _saved(tmp_path: Path) -> tuple[Path, SessionStore]:
    home = _home(tmp_path)
    store = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    store.refresh()
    assert store.cache is not None and store.cache.path.is_file()
    return home, store


def _body(path: Path) -> tuple[dict[str, object], list[bytes]]:
    header, body = path.read_bytes().split(b"\n", 1)
    return orjson.loads(header), body.splitlines()


def _rewrite(path: Path, header: dict[str, object], lines: list[bytes]) -> None:
    body = b"".join(line + b"\n" for line in lines)
    header = {**header, "length": len(body), "digest": hashlib.blake2b(body, digest_size=16).hexdigest()}
    path.write_bytes(orjson.dumps(header) + b"\n" + body)


def test_trusted_rebuild_equals_validation_field_for_field(tmp_path: Path) -> None:
    _, store = _saved(tmp_path)
    assert store.cache is not None
    _, lines = _body(store.cache.path)
    assert len(lines) == 11  # 9 sessions + 2 Claude subagent files
    entries = store.cache.load()
    validated = {line.k[0]: line.s for line in _LINES.validate_json(b"[" + b",".join(lines) + b"]")}
    assert entries.keys() == validated.keys()
    for path, entry in entries.items():
        fast, slow = entry.session, validated[path]
        assert type(fast) is AgentSession
        assert fast == slow
        assert fast.model_dump(mode="json") == slow.model_dump(mode="json")
        assert fast.model_fields_set == slow.model_fields_set
        assert type(fast.usage) is TokenUsage and type(fast.agent_type) is AgentType
        # A rebuilt summary behaves like a parsed one: it copies and re-serializes the same.
        assert fast.model_copy(update={"cwd": "/x"}).cwd == "/x"
        assert entry.raw is not None
        # The cache holds the summary as ``list --json`` prints it, and prints it from there.
        listed = fast.__pydantic_serializer__.to_json(fast, exclude={"events"})
        assert entry.summary_json() == listed and entry.raw.endswith(b',"s":' + listed + b"}")
        assert b'"display_id":' in listed and b'"events"' not in listed


def test_an_entry_of_an_unexpected_shape_goes_through_validation(tmp_path: Path) -> None:
    """A missing key gets its default as validation would give it; a wrong type fails that entry."""
    home, store = _saved(tmp_path)
    assert store.cache is not None
    path = store.cache.path
    header, lines = _body(path)
    entry = orjson.loads(lines[0])
    del entry["s"]["files"]
    _rewrite(path, header, [orjson.dumps(entry), *lines[1:]])
    again = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    assert again.refresh().cache_hits == 11
    assert again.cache_diagnostic is None
    assert again.cache is not None
    entries = again.cache.load()
    assert entries[entry["k"][0]].session.files == {}
    entry["s"]["prompt_count"] = "3"  # validation would coerce this in lax mode: the plan must not accept it
    entry["s"]["usage"]["input_tokens"] = "many"
    _rewrite(path, header, [orjson.dumps(entry), *lines[1:]])
    third = SessionStore(AgentHomes.resolve(home), cache=tmp_path / "cache", workers=0)
    stats = third.refresh()
    # Summaries are built when used: the bad one is dropped then and its file parsed.
    assert (stats.cache_hits, stats.files_read) == (10, 1)
    assert third.cache_diagnostic == f"cache entry ignored ({entry['k'][0]}): not a valid summary"
    parsed = next(s for s in third.sessions() if s.path == entry["k"][0])
    assert type(parsed.usage.input_tokens) is int and type(parsed.prompt_count) is int


def test_models_with_validators_are_never_rebuilt_without_them() -> None:
    class Checked(BaseModel):
        n: int

        @field_validator("n")
        @classmethod
        def positive(cls, v: int) -> int:
            return abs(v)

    class Plain(BaseModel):
        n: int
        names: list[str] = []

    with pytest.raises(_Unplannable):
        _model_builder(Checked, {})
    build = _model_builder(Plain, {})
    assert build({"n": 3, "names": ["a"]}) == Plain(n=3, names=["a"])
    assert _session_builder() is not None  # AgentSession itself is plannable


def _session(i: int, rng: random.Random) -> tuple[str, int, AgentSession]:
    agent = rng.choice(list(AgentType))
    sid = f"s{rng.randrange(400):03d}"  # collisions: several files per session id
    parent = f"s{rng.randrange(400):03d}" if rng.random() < 0.2 else None
    usage = TokenUsage(input_tokens=rng.randrange(1000), output_tokens=rng.randrange(1000))
    s = AgentSession(
        agent_type=agent,
        session_id=sid,
        parent_session_id=parent if parent != sid else None,
        path=f"/h/{i}.jsonl",
        last_activity_ms=rng.choice([None, rng.randrange(50) * 1000]),  # ties in the order
        usage=usage,
    )
    return s.path, rng.randrange(2), s


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_filling_the_index_at_once_equals_one_put_at_a_time(seed: int) -> None:
    rng = random.Random(seed)
    items = [_session(i, rng) for i in range(1500)]
    one_by_one = _SessionIndex()
    for path, priority, snap in items:
        one_by_one.put(path, priority, snap)
    at_once = _SessionIndex()
    at_once.put_many(items)
    expect = one_by_one.ordered()
    got = at_once.ordered()
    assert len(got) == len(expect) > 500
    assert [s.model_dump() for s in got] == [s.model_dump() for s in expect]
    assert sum(1 for s in got if s.subagent_ids) > 50  # roll-ups were exercised
    # Later changes are incremental on both and stay equal.
    for path, priority, snap in items[:40]:
        changed = snap.model_copy(update={"last_activity_ms": 99_000_000})
        one_by_one.put(path, priority, changed)
        at_once.put(path, priority, changed)
    for path, _, _ in items[40:80]:
        one_by_one.drop(path)
        at_once.drop(path)
    assert [s.model_dump() for s in at_once.ordered()] == [s.model_dump() for s in one_by_one.ordered()]
