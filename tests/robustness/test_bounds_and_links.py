"""Huge lines, symlinks and times in the future: bounded, never followed, never "most recent".

Each case keeps the four bystander sessions beside the file it breaks and
checks them too: one hostile file never costs another session anything.
"""

from __future__ import annotations

import errno
import os
import tracemalloc
from pathlib import Path

import orjson
import pytest
from formats import Target
from robustkit import Bystanders, cold, diag_text, make_store, plus, session_by_path, usage_of

from agent_session import AgentHomes, AgentSession, SessionStore, find_session_files
from agent_session import reader as reader_mod
from agent_session.reader import TrackedFile
from agent_session.sources.base import FUTURE_SLACK_MS, future_limit_ms
from agent_session.sources.walk import SKIP_SYMLINK_INSIDE, SKIP_SYMLINK_OUTSIDE
from agent_session.text import parse_ts_ms

LINE_FORMATS = ("claude", "codex", "gemini")


def check_case(
    store: SessionStore,
    bystanders: Bystanders,
    t: Target,
    *,
    usage: dict[str, tuple[int, ...]] | None = None,
    names: tuple[str, ...] = (),
) -> AgentSession:
    """Bystanders intact, the session kept with exact usage, the problem named."""
    bystanders.check(store)
    s = session_by_path(store, t.path)
    assert s is not None, (
        f"{t.fmt} session at {t.path} lost; errors: {store.errors}, skipped: {store.skipped}"
    )
    assert s.session_id == t.session_id
    assert usage_of(s) == (t.expected() if usage is None else usage)
    text = diag_text(s)
    for name in names:
        assert name in text, f"diagnostic should name {name!r}, says: {text!r}"
    return s


def _tracked(path: Path, home: Path) -> TrackedFile:
    files = {str(f.path): f for f in find_session_files(AgentHomes.resolve(home))}
    return TrackedFile(files[str(path)])


# ------------------------------------------------------------- huge lines
@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_sparse_hole_without_newline_is_skipped_in_bounded_memory(
    home: Path, bystanders: Bystanders, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 300 MB hole of NULs (a sparse file, made instantly) between valid lines.

    The hole is one "line" far over the cap: it is counted as ``oversized``,
    never held in memory (peak far below the hole's size, which the old
    reader copied over and over), and the valid lines after it count exactly.
    """
    monkeypatch.setattr(reader_mod, "MAX_LINE_BYTES", 1 << 20)
    store = make_store(home)
    store.refresh()  # the bystanders: every lazy import done before memory is traced
    t = Target.make(fmt, home)
    at = len(t.lines) // 2
    path = t.write(t.lines[:at])
    hole = 300 * 1024 * 1024
    os.truncate(path, path.stat().st_size + hole)
    with open(path, "ab") as fh:
        fh.write(b"\n" + b"".join(t.lines[at:]))
    tracemalloc.start()
    try:
        store.refresh()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    s = check_case(store, bystanders, t, names=("oversized",))
    assert s.diagnostics.skipped_by_reason == {"oversized": 1}
    assert s.diagnostics.bytes_consumed == path.stat().st_size
    assert peak < 3 * reader_mod.READ_CHUNK + (8 << 20), f"peak {peak} bytes for a {hole}-byte line"


def test_a_file_that_is_one_oversized_line_is_not_a_session(
    home: Path, bystanders: Bystanders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_mod, "MAX_LINE_BYTES", 100_000)  # above every bystander line
    t = Target.make("claude", home)
    path = t.write([b'{"type":"user","message":"' + b"x" * 300_000 + b'"}\n'])
    store = cold(home)
    bystanders.check(store)
    assert session_by_path(store, path) is None
    assert store.skipped == {str(path): "oversized line"}


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@pytest.mark.parametrize(("piece", "chunk"), [(4093, 150_000), (65521, 150_000), (1 << 20, 1 << 22)])
def test_oversized_lines_count_the_same_in_any_split(
    home: Path, bystanders: Bystanders, fmt: str, piece: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two junk lines over a small cap, appended in pieces: held across reads, or (one read of
    the whole file) found inside one chunk."""
    monkeypatch.setattr(reader_mod, "MAX_LINE_BYTES", 100_000)  # above every real line here
    monkeypatch.setattr(reader_mod, "READ_CHUNK", chunk)
    t = Target.make(fmt, home)
    junk = [b"[" + b"1," * 75_000 + b"1]\n", b"z" * 100_001 + b"\n"]
    short = b"y" * 100_000 + b"\n"  # exactly at the cap: read (and skipped as malformed), not oversized
    lines = [*t.lines[:3], junk[0], *t.lines[3:5], short, junk[1], *t.lines[5:]]
    data = b"".join(lines)
    path = t.write([])
    store = make_store(home)
    store.refresh()
    for i in range(0, len(data), piece):
        with open(path, "ab") as fh:
            fh.write(data[i : i + piece])
        store.refresh()
    s = check_case(store, bystanders, t, names=("oversized",))
    assert s.diagnostics.skipped_by_reason == {"oversized": 2, "malformed_json": 1}
    assert s.diagnostics.lines_read == sum(1 for line in lines if line.strip())
    assert s.diagnostics.bytes_consumed == len(data)


def test_a_long_line_is_collected_chunk_by_chunk(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 12 MiB prompt written in 192 appends of 64 KiB: each byte read once, held once, joined once."""
    monkeypatch.setattr(reader_mod, "READ_CHUNK", 64 * 1024)
    t = Target.make("claude", home)
    path = t.write()
    prompt = orjson.dumps(
        {
            "type": "user",
            "message": {"role": "user", "content": "LONG " + "w" * (12 << 20)},
            "timestamp": "2026-11-18T23:00:00.000Z",
            "uuid": "u-long",
        }
    )
    tracked = _tracked(path, home)
    tracked.update()
    before = tracked.snapshot().prompt_count
    piece = 64 * 1024
    body, last = prompt[: len(prompt) - 10], prompt[len(prompt) - 10 :]
    reads = []
    for i in range(0, len(body), piece):
        with open(path, "ab") as fh:
            fh.write(body[i : i + piece])
        reads.append(tracked.update())
    # Each byte read once; held as the chunks read (no copy per read).
    assert reads == [len(body[i : i + piece]) for i in range(0, len(body), piece)]
    assert [len(p) for p in tracked.tail_parts] == reads and tracked.tail_len == len(body)
    with open(path, "ab") as fh:
        fh.write(last + b"\n")
    assert tracked.update() == len(last) + 1
    s = tracked.snapshot()
    assert s.prompt_count == before + 1 and s.diagnostics.lines_skipped == 0
    assert tracked.tail_parts == [] and tracked.tail_len == 0


# ------------------------------------------------------------------ symlinks
def _secret(tmp: Path, t: Target) -> Path:
    """A 0600 file outside the home holding a session with a prompt nobody may see."""
    secret = tmp / "elsewhere" / ("secret" + t.path.name[-6:])
    secret.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join(t.lines) if t.lines else t.document()
    secret.write_bytes(body.replace(b"Step 1", b"TOPSECRET"))
    secret.chmod(0o600)
    return secret


@pytest.mark.parametrize("fmt", ("claude", "codex", "gemini", "legacy"))
def test_session_named_symlink_out_of_the_tree_is_never_read(
    home: Path, tmp_path: Path, bystanders: Bystanders, fmt: str
) -> None:
    t = Target.make(fmt, home)
    if fmt == "legacy":
        t.write_document(t.document())
    else:
        t.write()
    secret = _secret(tmp_path, t)
    t.path.unlink()
    os.symlink(secret, t.path)
    store = cold(home)
    bystanders.check(store)
    assert session_by_path(store, t.path) is None
    assert store.skipped == {str(t.path): SKIP_SYMLINK_OUTSIDE}
    assert len(store.sessions()) == 4
    assert all("TOPSECRET" not in (s.prompt_preview or "") for s in store.sessions())


def test_symlinked_project_folder_out_of_the_tree_is_never_entered(
    home: Path, tmp_path: Path, bystanders: Bystanders
) -> None:
    t = Target.make("claude", home)
    t.write()
    outside = tmp_path / "outside-project"
    outside.mkdir()
    (outside / "abc.jsonl").write_bytes(b"".join(t.lines))
    link = home / ".claude" / "projects" / "-linked"
    os.symlink(outside, link)
    store = cold(home)
    check_case(store, bystanders, t)
    assert store.skipped == {str(link): SKIP_SYMLINK_OUTSIDE}
    assert len(store.sessions()) == 5


def test_symlink_inside_the_tree_is_skipped_and_its_target_read_once(
    home: Path, bystanders: Bystanders
) -> None:
    t = Target.make("claude", home)
    path = t.write()
    twin = path.with_name("c1a0ffff-1111-4222-8333-444455556666.jsonl")
    os.symlink(path.name, twin)  # relative: resolves to the real file beside it
    store = cold(home)
    check_case(store, bystanders, t)
    assert store.skipped == {str(twin): SKIP_SYMLINK_INSIDE}
    assert len(store.sessions()) == 5


def test_folder_link_to_the_agent_home_never_makes_history_a_session(
    home: Path, bystanders: Bystanders
) -> None:
    """``projects/up -> ..`` would make ``~/.claude/history.jsonl`` look like a project's session."""
    t = Target.make("claude", home)
    t.write()
    (home / ".claude" / "history.jsonl").write_bytes(t.lines[0])
    up = home / ".claude" / "projects" / "up"
    os.symlink("..", up)
    store = cold(home)
    check_case(store, bystanders, t)
    assert len(store.sessions()) == 5
    assert store.skipped == {str(up): SKIP_SYMLINK_OUTSIDE}
    assert all(not s.path.endswith("history.jsonl") for s in store.sessions())


def test_file_swapped_for_a_symlink_after_listing_is_refused(home: Path, tmp_path: Path) -> None:
    """Between discovery and the read: ``lstat`` says "not a regular file", ``O_NOFOLLOW`` refuses."""
    t = Target.make("codex", home)
    path = t.write()
    tracked = _tracked(path, home)
    secret = _secret(tmp_path, t)
    path.unlink()
    os.symlink(secret, path)
    with pytest.raises(OSError, match="not a regular file"):
        tracked.update()
    with pytest.raises(OSError) as info:
        reader_mod._open_regular(path)
    assert info.value.errno == errno.ELOOP


def test_gemini_project_root_symlink_is_not_read(home: Path, tmp_path: Path, bystanders: Bystanders) -> None:
    t = Target.make("gemini", home)
    path = t.write()
    secret = tmp_path / "shadow"
    secret.write_text("/root/TOPSECRET\n")
    folder = path.parent.parent
    (home / ".gemini" / "projects.json").unlink()  # so .project_root would be read
    (folder / ".project_root").unlink(missing_ok=True)
    os.symlink(secret, folder / ".project_root")
    store = cold(home)
    bystanders.check(store)
    s = session_by_path(store, path)
    assert s is not None and "TOPSECRET" not in (s.cwd or "")
    assert store.errors[str(folder / ".project_root")] == "a symlink, not followed"


# ------------------------------------------------------------ future times
@pytest.mark.parametrize("fmt", LINE_FORMATS)
@pytest.mark.parametrize("year", ["2099", "2999"])
def test_times_beyond_tomorrow_are_counted_and_never_used(
    home: Path, bystanders: Bystanders, fmt: str, year: str
) -> None:
    t = Target.make(fmt, home)
    ref = Target.make(fmt, home / "ref")
    ref.write()
    want = session_by_path(cold(home / "ref"), ref.path)
    assert want is not None
    extra = []
    for i, stamp in enumerate((f"{year}-01-01T00:00:00.000Z", f"{year}-12-31T23:59:59.000Z")):
        line, _ = t.plain_usage(f"future{i}", (0, 0, 0, 0))
        assert b'"2026-11-18T23:00:00.000Z"' in line
        extra.append(line.replace(b"2026-11-18T23:00:00.000Z", stamp.encode()))
    t.write([*t.lines, *extra])
    store = cold(home)
    s = check_case(store, bystanders, t, names=("future_timestamp",))
    assert s.diagnostics.bad_values["future_timestamp"] == 2
    assert (s.start_timestamp_ms, s.end_timestamp_ms) == (want.start_timestamp_ms, want.end_timestamp_ms)
    assert s.last_activity_ms == want.last_activity_ms  # the sort key: it sorts where it did before


def test_claude_skipped_line_with_a_future_time_counts_once(home: Path, bystanders: Bystanders) -> None:
    """A line never decoded (``summary``) still has its prefix time checked."""
    t = Target.make("claude", home)
    ref = Target.make("claude", home / "ref")
    ref.write()
    want = session_by_path(cold(home / "ref"), ref.path)
    junk = b'{"type":"summary","timestamp":"2999-01-01T00:00:00.000Z","summary":"x","leafUuid":"u"}\n'
    t.write([*t.lines, junk])
    store = cold(home)
    s = check_case(store, bystanders, t, names=("future_timestamp",))
    assert s.diagnostics.bad_values == {"future_timestamp": 1}
    assert want is not None and s.end_timestamp_ms == want.end_timestamp_ms


def test_a_time_within_the_slack_is_kept(home: Path, bystanders: Bystanders) -> None:
    """Clocks drift: a time an hour ahead is a time, and it is the end time."""
    t = Target.make("gemini", home)
    ahead = future_limit_ms() - FUTURE_SLACK_MS + 3_600_000
    stamp = _iso(ahead)
    line, add = t.plain_usage("soon", (10, 5, 0, 0))
    t.write([*t.lines, line.replace(b"2026-11-18T23:00:00.000Z", stamp.encode())])
    store = cold(home)
    s = check_case(store, bystanders, t, usage=plus(t.expected(), t.model, add))
    assert s.end_timestamp_ms == parse_ts_ms(stamp)
    assert "future_timestamp" not in s.diagnostics.bad_values


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_file_touched_into_the_future_does_not_sort_first(home: Path, bystanders: Bystanders) -> None:
    """A session whose lines carry no time falls back to the file's mtime, unless that is junk too."""
    t = Target.make("claude", home)
    path = t.write([b'{"type":"user","message":{"role":"user","content":"no time here"},"uuid":"u1"}\n'])
    os.utime(path, (4_102_444_800, 4_102_444_800))  # 2100-01-01
    store = cold(home)
    bystanders.check(store)
    s = session_by_path(store, path)
    assert s is not None and s.last_activity_ms is None
    assert store.sessions()[-1].path == str(path)
