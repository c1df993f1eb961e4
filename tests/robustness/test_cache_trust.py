"""The persistent summary cache: private, in the user's cache dir, and only ever trusted for speed.

A store started from the cache must show exactly what a cold parse shows,
whatever happened to the cache (corrupt, truncated, stale, foreign, planted by
someone else) or to the files since it was written.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from formats import Target
from robustkit import write_bystanders

from agent_session import AgentHomes, AgentSession

cache_mod = pytest.importorskip("agent_session.cache", reason="no persistent cache in this version")

from agent_session.store import SessionStore  # noqa: E402


def comparable(sessions: list[AgentSession]) -> dict[str, Any]:
    out = {}
    for s in sessions:
        data = s.model_dump(mode="json", exclude={"last_activity_ms"})
        data["diagnostics"].pop("reparses")
        out[s.path] = data
    return out


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    home = tmp_path / "home"
    home.mkdir()
    write_bystanders(home)
    age(home)
    monkeypatch.delenv("AGENTSESSION_CACHE_DIR", raising=False)
    monkeypatch.delenv("AGENTSESSION_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    old = os.umask(0)  # the modes must not depend on the user's umask
    try:
        yield {"home": home, "cache_dir": tmp_path / "xdg" / "agentsession"}
    finally:
        os.umask(old)


def age(home: Path) -> None:
    """Files last written an hour ago: only settled files go into a cache."""
    for path in home.rglob("*"):
        if path.is_file():
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 3_600 * 10**9))


def store_for(home: Path, cache: Any = True) -> SessionStore:
    return SessionStore(AgentHomes.resolve(home), cache=cache, workers=0)


def cold(home: Path) -> dict[str, Any]:
    s = SessionStore(AgentHomes.resolve(home), workers=0)
    s.refresh()
    return comparable(s.sessions())


def warm(home: Path, cache: Any = True) -> tuple[SessionStore, dict[str, Any]]:
    s = store_for(home, cache)
    s.refresh()
    return s, comparable(s.sessions())


def saved_cache(env: dict[str, Path]) -> Path:
    s = store_for(env["home"])
    s.refresh()
    assert s.save_cache()
    files = [p for p in (env["cache_dir"] / "summaries").iterdir() if p.is_file()]
    assert len(files) == 1
    header = orjson.loads(files[0].read_bytes().split(b"\n", 1)[0])
    assert header["entries"] == 4, "the cache holds every session (else these tests prove nothing)"
    return files[0]


def test_cache_is_private_and_in_the_user_cache_dir(env: dict[str, Path]) -> None:
    path = saved_cache(env)
    assert stat.S_IMODE(os.stat(env["cache_dir"]).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.parent == env["cache_dir"] / "summaries"
    # Nothing else was created next to it, and nothing under the home.
    assert [p.name for p in env["cache_dir"].iterdir()] == ["summaries"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_cache_dir_we_did_not_create_keeps_its_mode(env: dict[str, Path]) -> None:
    """Only the folder we create is made private; the user's own directory is left as it is."""
    env["cache_dir"].mkdir(parents=True)
    os.chmod(env["cache_dir"], 0o755)
    path = saved_cache(env)
    assert stat.S_IMODE(os.stat(env["cache_dir"]).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_cache_dir_inside_an_agent_home_is_refused(
    env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = env["home"] / ".claude" / "cache"
    monkeypatch.setenv("AGENTSESSION_CACHE_DIR", str(inside))
    s = store_for(env["home"])
    s.refresh()
    assert not s.save_cache()
    assert not inside.exists()


def test_warm_start_equals_a_cold_parse(env: dict[str, Path]) -> None:
    saved_cache(env)
    s = store_for(env["home"])
    stats = s.refresh()
    assert stats.cache_hits == 4 and stats.bytes_read == 0  # every summary came from the cache
    assert comparable(s.sessions()) == cold(env["home"])


@pytest.mark.parametrize(
    "damage",
    ["garbage", "empty", "truncated", "flipped byte", "header only", "another format", "nul block"],
)
def test_a_damaged_cache_is_ignored(env: dict[str, Path], damage: str) -> None:
    path = saved_cache(env)
    data = path.read_bytes()
    broken = {
        "garbage": os.urandom(4096),
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "flipped byte": data[:-100] + bytes([data[-100] ^ 0x55]) + data[-99:],
        "header only": data.split(b"\n", 1)[0] + b"\n",
        "another format": data.replace(b'"format":', b'"format":9', 1),
        "nul block": b"\x00" * len(data),
    }[damage]
    path.write_bytes(broken)
    _, got = warm(env["home"])
    assert got == cold(env["home"])


def test_a_stale_cache_never_hides_what_was_appended(env: dict[str, Path]) -> None:
    saved_cache(env)
    t = Target.make("claude", env["home"], n=900)
    line, _ = t.plain_usage("after-cache", (1000, 100, 0, 0))
    path = next(env["home"].glob(".claude/projects/*/*.jsonl"))
    with open(path, "ab") as fh:
        fh.write(line)
    _, got = warm(env["home"])
    assert got == cold(env["home"])
    assert got[str(path)]["usage"]["input_tokens"] >= 1000


def test_a_cache_of_a_file_replaced_in_place_is_not_used(env: dict[str, Path]) -> None:
    saved_cache(env)
    path = next(env["home"].glob(".codex/sessions/*/*/*/*.jsonl"))
    st = path.stat()
    data = path.read_bytes()
    mutated = data.replace(b'"input_tokens":', b'"input_tokens":1', 1)
    assert len(mutated) != len(data)
    path.write_bytes(mutated)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same (old) mtime, different size
    _, got = warm(env["home"])
    assert got == cold(env["home"])


def _forge(path: Path) -> None:
    """Rewrite a cache with every input count raised by a million, checksum and all."""
    header, body = path.read_bytes().split(b"\n", 1)
    lines = []
    for raw in body.splitlines():
        entry = orjson.loads(raw)
        entry["s"]["usage"]["input_tokens"] += 1_000_000
        lines.append(orjson.dumps(entry))
    new_body = b"".join(line + b"\n" for line in lines)
    head = orjson.loads(header)
    head["digest"] = hashlib.blake2b(new_body, digest_size=16).hexdigest()
    head["length"] = len(new_body)
    path.write_bytes(orjson.dumps(head) + b"\n" + new_body)


def test_a_forged_cache_of_our_own_is_read(env: dict[str, Path]) -> None:
    """Control for the next test: the forgery is well-formed, so the cache's own checks pass it."""
    path = saved_cache(env)
    _forge(path)
    _, got = warm(env["home"])
    assert got != cold(env["home"])


def test_a_cache_planted_by_another_user_is_not_trusted(env: dict[str, Path]) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the cache directory to another user")
    path = saved_cache(env)
    _forge(path)
    os.chmod(env["cache_dir"], 0o777)
    os.chown(env["cache_dir"], 4242, 4242)
    os.chown(path, 4242, 4242)
    os.chmod(path, 0o666)
    _, got = warm(env["home"])
    assert got == cold(env["home"])


def test_the_cache_is_only_used_for_files_it_describes(env: dict[str, Path]) -> None:
    """An entry for a path that is gone, or for a home not asked for, never makes up a session."""
    path = saved_cache(env)
    victim = next(env["home"].glob(".gemini/tmp/*/chats/*.jsonl"))
    victim.unlink()
    _, got = warm(env["home"])
    assert str(victim) not in got
    assert got == cold(env["home"])
    assert path.exists()
