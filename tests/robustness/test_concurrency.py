"""Files written while we read them: whatever the interleaving, the end state equals a cold parse.

Writers split lines anywhere (inside a JSON string, inside a UTF-8 character,
right before the newline), the store refreshes between or during their writes,
and once the writers are done one more refresh must give exactly what a fresh
store parsing the final files gives: same sessions, same numbers, same
diagnostics.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from formats import Target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robustkit import FORMATS, make_store, write_bystanders

from agent_session import AgentSession, SessionStore

#: Bad lines mixed into the stream: each must be handled the same, incrementally or cold.
NOISE = (
    b"\x00" * 64 + b"\n",
    b'{"type":"assistant","message":"not an object"}\n',
    b'{"truncated":\n',
    '{"note":"caf\u00e9 \U0001f600"}\n'.encode(),
    b'{"note":"\xff\xfe"}\n',
    b"[1,2]\n",
)


def comparable(s: AgentSession) -> dict[str, Any]:
    """Everything but what depends on when we looked (activity from mtime, re-parse count)."""
    data = s.model_dump(mode="json", exclude={"last_activity_ms"})
    data["diagnostics"].pop("reparses")
    return data


def snapshot(store: SessionStore) -> dict[str, dict[str, Any]]:
    return {s.path: comparable(s) for s in store.sessions()}


def cold_snapshot(home: Path) -> dict[str, dict[str, Any]]:
    store = make_store(home)
    store.refresh()
    assert not store.errors
    return snapshot(store)


def stream(fmt: str, home: Path, seed: int, turns: int = 3, output_bytes: int = 120) -> tuple[Target, bytes]:
    """A session's final bytes, with noise lines mixed in at seeded places."""
    t = Target.make(fmt, home, n=seed % 7, turns=turns, output_bytes=output_bytes)
    rng = random.Random(seed)
    lines = list(t.lines)
    for bad in rng.sample(NOISE, 3):
        lines.insert(rng.randint(1, len(lines)), bad)
    return t, b"".join(lines)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fmt=st.sampled_from(["claude", "codex", "gemini"]),
    seed=st.integers(0, 1000),
    cuts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=25),
)
def test_any_split_with_a_refresh_between_writes_equals_a_cold_parse(
    tmp_path_factory: Any, fmt: str, seed: int, cuts: list[float]
) -> None:
    home = tmp_path_factory.mktemp("home")
    t, data = stream(fmt, home, seed)
    t.write([])
    store = make_store(home)
    store.refresh()
    opened = False
    points = sorted({int(c * len(data)) for c in cuts} | {len(data)})
    prev = 0
    with open(t.path, "ab") as fh:
        for p in points:
            fh.write(data[prev:p])
            fh.flush()
            prev = p
            store.refresh()
            if not opened and p > len(data) // 2:
                store.detail(store.sessions()[0])  # a detail parser follows from here on
                opened = True
    store.refresh()
    assert snapshot(store) == cold_snapshot(home)
    detail = store.detail(store.sessions()[0])
    fresh = make_store(home)
    fresh.refresh()
    assert comparable(detail) == comparable(fresh.detail(fresh.sessions()[0]))


def _writer(path: Path, data: bytes, seed: int, done: threading.Event) -> None:
    rng = random.Random(seed)
    pos = 0
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        while pos < len(data):
            n = rng.choice((1, 2, 3, 7, 50, 333, 1500, 4096, 20_000))
            os.write(fd, data[pos : pos + n])
            pos += n
            if rng.random() < 0.3:
                done.wait(0.001)
    finally:
        os.close(fd)


def _rewriter(path: Path, docs: list[bytes], seed: int) -> None:
    """Gemini's legacy CLI: every save truncates the file and writes it anew, in pieces."""
    rng = random.Random(seed)
    for doc in docs:
        with open(path, "r+b") as fh:
            fh.truncate(0)
            cut = rng.randint(0, len(doc))
            fh.write(doc[:cut])
            fh.flush()
            time.sleep(0.005)
            fh.write(doc[cut:])
        time.sleep(0.01)


def test_writer_threads_append_while_the_store_refreshes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_bystanders(home)
    streams = [stream(fmt, home, 31 + i, 12, 4000) for i, fmt in enumerate(("claude", "codex", "gemini"))]
    for t, _ in streams:
        t.write([])
    legacy = [Target.make("legacy", home, n=5, turns=k) for k in (1, 2, 3, 4)]
    legacy_path = legacy[0].write_document(b"")
    done = threading.Event()
    threads = [
        threading.Thread(target=_writer, args=(t.path, data, 7 + i, done))
        for i, (t, data) in enumerate(streams)
    ]
    threads.append(threading.Thread(target=_rewriter, args=(legacy_path, [x.document() for x in legacy], 3)))
    store = make_store(home)
    for th in threads:
        th.start()
    refreshes = during = 0
    while any(th.is_alive() for th in threads) or refreshes < 3:
        during += any(th.is_alive() for th in threads)
        store.refresh()
        store.sessions()
        refreshes += 1
        if refreshes % 4 == 0:
            store.detail(store.sessions()[0])
    for th in threads:
        th.join()
    print(f"{refreshes} refreshes, {during} while writing")
    done.set()
    store.refresh()
    assert not store.errors
    assert len(store.sessions()) == len(FORMATS) + 4
    assert snapshot(store) == cold_snapshot(home)


_WRITER_SCRIPT = r"""
import os, random, sys, time
path, src, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
rng = random.Random(seed)
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
pos = 0
while pos < len(data):
    n = rng.randint(1, 3000)
    os.write(fd, data[pos:pos + n])
    pos += n
    if rng.random() < 0.3:
        time.sleep(0.001)
os.close(fd)
"""


def test_writer_processes_append_while_the_store_refreshes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_bystanders(home)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, fmt in enumerate(("claude", "codex", "gemini", "claude")):
            t, data = stream(fmt, home, 101 + i, 12, 4000)
            t.write([])
            src = tmp_path / f"src-{i}"
            src.write_bytes(data)
            procs.append(
                subprocess.Popen([sys.executable, "-c", _WRITER_SCRIPT, str(t.path), str(src), str(i)])
            )
        store = make_store(home)
        refreshes = during = 0
        while any(p.poll() is None for p in procs) or refreshes < 3:
            during += any(p.poll() is None for p in procs)
            store.refresh()
            refreshes += 1
        print(f"{refreshes} refreshes, {during} while writing")
    finally:
        for p in procs:
            p.wait(timeout=30)
    assert all(p.returncode == 0 for p in procs)
    store.refresh()
    assert snapshot(store) == cold_snapshot(home)
