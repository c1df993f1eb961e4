"""The bad-input corpus: every way a session file can be broken, for every format.

Each case writes a generated session, breaks it in one way, and checks four
things: nothing raises; every session of the home is still there (the four
bystanders, exactly); every valid line of the broken file still counts (its
usage equals the synthetic writer's ``expected()``, plus exactly what extra
valid lines add); and a diagnostic on the session (or on the store) names the
problem.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from formats import Target
from robustkit import (
    Bystanders,
    Denier,
    cold,
    diag_text,
    make_store,
    plus,
    root_only_skip,
    session_by_path,
    usage_of,
)

from agent_session import AgentHomes, AgentSession, SessionStore, TokenUsage, find_session_files
from agent_session.cli import main as cli_main
from agent_session.text import parse_ts_ms

LINE_FORMATS = ("claude", "codex", "gemini")
ALL_FORMATS = ("claude", "codex", "gemini", "legacy")


def the_session(store: SessionStore, t: Target) -> AgentSession:
    s = session_by_path(store, t.path)
    assert s is not None, f"{t.fmt} session at {t.path} lost; errors: {store.errors}"
    return s


def check_case(
    store: SessionStore,
    bystanders: Bystanders,
    t: Target,
    *,
    usage: dict[str, tuple[int, ...]] | None = None,
    names: tuple[str, ...] = (),
) -> AgentSession:
    """The shared verdict: bystanders intact, the session kept with exact usage, the problem named."""
    bystanders.check(store)
    s = the_session(store, t)
    assert s.session_id == t.session_id
    assert usage_of(s) == (t.expected() if usage is None else usage)
    text = diag_text(s)
    for name in names:
        assert name in text, f"diagnostic should name {name!r}, says: {text!r}"
    return s


def with_note(line: bytes, note: bytes) -> bytes:
    """``line`` with one more top-level string field holding the raw bytes ``note``."""
    assert line.endswith(b"}\n")
    return line[:-2] + b',"note":"' + note + b'"}\n'


def middle(lines: list[bytes], *extra: bytes) -> list[bytes]:
    """``lines`` with ``extra`` inserted after the first third (between complete lines)."""
    at = max(1, len(lines) // 3)
    return [*lines[:at], *extra, *lines[at:]]


# ------------------------------------------------------------------ torn lines
@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_torn_last_line_is_held_back_and_named(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    extra, _ = t.plain_usage("torn", (100, 20, 0, 0))
    t.write([*t.lines, extra[: len(extra) // 2]])
    store = cold(home)
    check_case(store, bystanders, t, names=("incomplete last line",))


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_torn_last_line_counts_once_completed(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    extra, add = t.plain_usage("later", (100, 20, 0, 0))
    path = t.write([*t.lines, extra[:17]])
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    with open(path, "ab") as fh:
        fh.write(extra[17:])
    store.refresh()
    s = check_case(store, bystanders, t, usage=plus(t.expected(), t.model, add))
    assert s.diagnostics.last_error is None


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_line_cut_inside_a_utf8_character(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    extra, _ = t.plain_usage("cut", (7, 7, 0, 0))
    # A prompt-like line with a multi-byte character, cut between its bytes, then the file goes on.
    line = with_note(extra, "caf\u00e9 \u4e2d\u6587 \U0001f600".encode())
    cut = line.index("\U0001f600".encode()) + 2
    t.write(middle(t.lines, line[:cut] + b"\n"))
    store = cold(home)
    check_case(store, bystanders, t, names=("malformed_json",))


def test_torn_tail_ending_mid_character_is_completed_later(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    extra, add = t.plain_usage("mb", (5, 6, 0, 0))
    line = with_note(extra, "\u00e9\u00e9\u00e9".encode())
    cut = line.index("\u00e9".encode()) + 1
    path = t.write([*t.lines, line[:cut]])
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t, names=("incomplete last line",))
    with open(path, "ab") as fh:
        fh.write(line[cut:])
    store.refresh()
    check_case(store, bystanders, t, usage=plus(t.expected(), t.model, add))


# ----------------------------------------------------------- invalid bytes
@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_invalid_utf8_inside_a_valid_line_keeps_the_line(
    home: Path, bystanders: Bystanders, fmt: str
) -> None:
    t = Target.make(fmt, home)
    extra, add = t.plain_usage("utf8", (40, 4, 0, 0))
    t.write([*t.lines, with_note(extra, b"bad \xff\xfe\xc3 bytes")])
    store = cold(home)
    check_case(store, bystanders, t, usage=plus(t.expected(), t.model, add), names=("invalid_utf8",))


def test_lone_surrogates_never_reach_json_or_the_terminal(
    home: Path, bystanders: Bystanders, capsys: pytest.CaptureFixture[str]
) -> None:
    t = Target.make("claude", home)
    prompt = (
        b'{"type":"user","message":{"role":"user","content":"half an emoji \\ud83d here"},'
        b'"cwd":"/home/dev/\\udc80x","timestamp":"2026-11-18T12:06:41.000Z","uuid":"u-sur"}\n'
    )
    t.write([*t.lines, prompt])
    store = cold(home)
    s = check_case(store, bystanders, t, names=("lone_surrogate",))
    assert s.cwd == "/home/dev/\ufffdx"
    detail = store.detail(s)
    assert detail.events is not None and detail.events.prompts[-1].text == "half an emoji \ufffd here"
    orjson.dumps(detail.model_dump(mode="json"))  # raises on a lone surrogate
    for argv in (["list", "--json"], ["list"], ["show", t.session_id], ["show", "--json", t.session_id]):
        assert cli_main([*argv, "--home", str(home)]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")  # strict: a lone surrogate would raise here


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_nul_block_left_by_a_crash(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    t.write(middle(t.lines, b"\x00" * 4096 + b"\n"))
    store = cold(home)
    check_case(store, bystanders, t, names=("nul_bytes",))


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_nul_padding_glued_to_the_next_line_keeps_that_line(
    home: Path, bystanders: Bystanders, fmt: str
) -> None:
    """After a crash the CLI appends behind the NUL block: the first new line is whole."""
    t = Target.make(fmt, home)
    extra, add = t.plain_usage("nul", (30, 3, 0, 0))
    t.write([*t.lines, b"\x00" * 1000 + extra])
    store = cold(home)
    check_case(store, bystanders, t, usage=plus(t.expected(), t.model, add), names=("nul_bytes",))


def test_byte_order_mark_on_the_first_line(home: Path, bystanders: Bystanders) -> None:
    """An editor saved the rollout: the BOM must not cost the session its meta line (id, cwd)."""
    t = Target.make("codex", home)
    t.write([b"\xef\xbb\xbf" + t.lines[0], *t.lines[1:]])
    store = cold(home)
    s = check_case(store, bystanders, t, names=("byte_order_mark",))
    assert s.cwd == t.spec.cwd


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_json_nested_deeper_than_the_stack(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    t.write(middle(t.lines, b"[" * 200_000 + b"\n", b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"\n"))
    store = cold(home)
    s = check_case(store, bystanders, t, names=("malformed_json",))
    assert s.diagnostics.skipped_by_reason["malformed_json"] == 2


# -------------------------------------------------------------- huge lines
def test_50_mb_line_of_junk(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    junk = b'{"type":"assistant","message":{"content":"' + b"x" * (50 * 1024 * 1024) + b"\n"
    t.write(middle(t.lines, junk))
    store = cold(home)
    check_case(store, bystanders, t, names=("malformed_json",))


def test_50_mb_prompt_and_tool_output_are_capped(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    big = "word " * (10 * 1024 * 1024)
    prompt = orjson.dumps(
        {
            "type": "user",
            "message": {"role": "user", "content": "BIG " + big},
            "timestamp": "2026-11-18T23:00:00.000Z",
            "uuid": "u-big",
        }
    )
    t.write([*t.lines, prompt + b"\n"])
    store = cold(home)
    s = check_case(store, bystanders, t)
    assert s.prompt_count == 4  # three typed prompts + the /compact command, then the big one
    detail = store.detail(s)
    assert detail.events is not None
    text = detail.events.prompts[-1].text
    assert text.startswith("BIG word") and len(text) < 70 * 1024 and text.endswith("more chars]")


# ------------------------------------------------------------------ empty
@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_empty_file_is_not_a_session_until_it_holds_a_record(
    home: Path, bystanders: Bystanders, fmt: str
) -> None:
    t = Target.make(fmt, home)
    if fmt == "legacy":
        t.write_document(b"")
    else:
        t.write([])
    store = make_store(home)
    store.refresh()
    bystanders.check(store)
    assert session_by_path(store, t.path) is None
    assert store.skipped == {str(t.path): "empty"}
    assert len(store.sessions()) == 4
    # The agent writes its first lines: now it is a session, with exactly its numbers.
    if fmt == "legacy":
        t.write_document(t.document())
    else:
        t.write()
    store.refresh()
    check_case(store, bystanders, t)
    assert store.skipped == {}


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 64,
        b"\x00" * 4096 + b"\n",
        b"not json at all\n{{{\n[1,2]\n",
        b"\x89PNG\r\n\x1a\n" + bytes(500),
    ],
    ids=["binary", "nul", "garbage", "png"],
)
def test_file_without_a_valid_record_is_not_a_session(
    home: Path, bystanders: Bystanders, fmt: str, data: bytes
) -> None:
    t = Target.make(fmt, home)
    t.path.parent.mkdir(parents=True, exist_ok=True)
    t.path.write_bytes(data)
    store = cold(home)
    bystanders.check(store)
    assert session_by_path(store, t.path) is None
    assert store.skipped == {str(t.path): "no valid record"}
    assert str(t.path) not in store.errors and len(store.sessions()) == 4


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_a_session_truncated_to_garbage_stays_a_session(home: Path, bystanders: Bystanders, fmt: str) -> None:
    """Truncation follows the truncate rules (re-read from zero), whatever is left."""
    t = Target.make(fmt, home)
    path = t.write()
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    path.write_bytes(b"\x00\x01garbage\n")
    store.refresh()
    bystanders.check(store)
    s = session_by_path(store, path)
    assert s is not None and s.usage.is_zero() and s.diagnostics.reparses == 1
    assert s.diagnostics.lines_read == 1 and s.diagnostics.lines_skipped == 1
    assert store.skipped == {}


def test_file_of_blank_lines(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    t.write([b"\n", b"   \n", b"\t\r\n", *t.lines, b"\n\n"])
    store = cold(home)
    s = check_case(store, bystanders, t)
    assert not s.diagnostics.has_problems


# ------------------------------------------------------------- wrong types
@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_top_level_values_that_are_not_objects(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    t.write(middle(t.lines, b"[1,2]\n", b'"a string"\n', b"42\n", b"null\n", b"true\n"))
    store = cold(home)
    s = check_case(store, bystanders, t, names=("not_an_object",))
    assert s.diagnostics.skipped_by_reason["not_an_object"] == 5


def test_claude_wrong_types_at_every_level(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    base = orjson.loads(t.plain_usage("x", (1, 1, 0, 0))[0])
    bad: list[dict[str, Any]] = [
        {**base, "type": 5},
        {**base, "type": ["assistant"]},
        {**base, "message": "a string"},
        {**base, "message": ["a", "list"]},
        {**base, "message": {**base["message"], "id": "m-u1", "usage": "lots"}},
        {**base, "message": {**base["message"], "id": "m-u2", "usage": [1, 2, 3]}},
        {**base, "message": {**base["message"], "id": "m-m", "model": 7, "usage": {"output_tokens": 9}}},
        {**base, "message": {**base["message"], "id": "m-c", "content": 12, "usage": {"output_tokens": 8}}},
        {
            **base,
            "message": {
                **base["message"],
                "id": "m-blk",
                "content": [5, "x", {"type": "tool_use", "input": 3}],
            },
        },
        {**base, "timestamp": {"when": "now"}},
    ]
    t.write(middle(t.lines, *(orjson.dumps(b) + b"\n" for b in bad)))
    store = cold(home)
    # Valid parts still count: m-m's 9 output tokens (charged to "unknown": no model),
    # m-c's 8, m-blk's (1, 1) and the base message's (1, 1) (only its time is junk).
    expected = plus(t.expected(), "unknown", TokenUsage(output_tokens=9))
    expected = plus(expected, t.model, TokenUsage(output_tokens=8))
    expected = plus(expected, t.model, TokenUsage(input_tokens=2, output_tokens=2))
    s = check_case(
        store,
        bystanders,
        t,
        usage=expected,
        names=("(no type)", "message", "message.usage", "message.model", "timestamp"),
    )
    assert s.diagnostics.unknown_types["(no type)"] == 2
    assert s.diagnostics.bad_values["message.usage"] == 2


def test_codex_wrong_types_at_every_level(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("codex", home)
    ts = "2026-11-18T12:06:50.000Z"
    bad = [
        {"timestamp": ts, "type": "event_msg", "payload": "a string"},
        {"timestamp": ts, "type": "event_msg", "payload": ["a", "list"]},
        {"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": "weird"}},
        {
            "timestamp": ts,
            "type": "event_msg",
            "payload": {"type": "token_count", "info": {"total_token_usage": 5}},
        },
        {"timestamp": ts, "type": "turn_context", "payload": {"model": 5, "cwd": ["x"]}},
        {
            "timestamp": ts,
            "type": "response_item",
            "payload": {"type": "function_call", "name": 5, "arguments": 3},
        },
        {"timestamp": 17, "type": "session_meta", "payload": {"id": 5}},
    ]
    t.write(middle(t.lines, *(orjson.dumps(b) + b"\n" for b in bad)))
    store = cold(home)
    s = check_case(store, bystanders, t, names=("payload", "info", "total_token_usage", "timestamp"))
    assert s.cwd == t.spec.cwd and s.session_id == t.session_id


def test_gemini_wrong_types_at_every_level(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("gemini", home)
    bad: list[Any] = [
        {"id": 5, "type": "gemini", "tokens": {"input": 100}},
        {"id": "w1", "type": "gemini", "tokens": "many", "model": "gemini-2.5-pro"},
        {"id": "w2", "type": "gemini", "tokens": [1, 2], "toolCalls": "none"},
        {"id": "w3", "type": 7, "timestamp": 12345},
        {"$set": {"messages": "not a list"}},
        {"$set": {"messages": [5, "x", None]}},
        {"sessionId": 5, "projectHash": ["x"]},
    ]
    t.write(middle(t.lines, *(orjson.dumps(b) + b"\n" for b in bad)))
    store = cold(home)
    s = check_case(store, bystanders, t, names=("tokens", "messages", "timestamp"))
    assert s.session_id == t.session_id


def _numbers(t: Target, kind: str) -> tuple[bytes, TokenUsage, str]:
    """An extra usage line whose counts are ``kind`` (strings / negative / huge), and what it must add."""
    big = 1 << 60
    if t.fmt == "claude":
        if kind == "strings":
            raw: dict[str, Any] = {
                "input_tokens": "11",
                "output_tokens": "22",
                "cache_creation_input_tokens": "3",
                "cache_read_input_tokens": " 4 ",
            }
            return (
                t.usage_line(kind, raw),
                TokenUsage(input_tokens=11, output_tokens=22, cache_creation_tokens=3, cache_read_tokens=4),
                "usage.input_tokens",
            )
        bad = -5 if kind == "negative" else big
        raw = {"input_tokens": bad, "output_tokens": 7, "cache_read_input_tokens": bad}
        return t.usage_line(kind, raw), TokenUsage(output_tokens=7), "usage.input_tokens"
    if t.fmt == "codex":
        total: dict[str, Any] = dict(t.last_codex_total())
        if kind == "strings":
            raw = {k: str(v + (10 if k in ("input_tokens", "total_tokens") else 0)) for k, v in total.items()}
            return t.usage_line(kind, raw), TokenUsage(input_tokens=10), "total_token_usage.input_tokens"
        # A bad field keeps its previous running value: only the good fields' increase counts.
        raw = dict(total)
        raw["output_tokens"] = -5 if kind == "negative" else big
        raw["input_tokens"] = total["input_tokens"] + 12
        raw["total_tokens"] = total["total_tokens"] + 12
        return t.usage_line(kind, raw), TokenUsage(input_tokens=12), "total_token_usage.output_tokens"
    if kind == "strings":
        raw = {"input": "30", "output": "5", "cached": "10", "thoughts": "2", "tool": "1", "total": "38"}
        return (
            t.usage_line(kind, raw),
            TokenUsage(input_tokens=21, output_tokens=7, cache_read_tokens=10, reasoning_tokens=2),
            "tokens.input",
        )
    bad = -5 if kind == "negative" else big
    raw = {"input": 40, "output": bad, "cached": 0, "thoughts": 3, "tool": 0, "total": 43}
    return (
        t.usage_line(kind, raw),
        TokenUsage(input_tokens=40, output_tokens=3, reasoning_tokens=3),
        "tokens.output",
    )


@pytest.mark.parametrize("kind", ["strings", "negative", "huge"])
@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_token_counts_as_strings_negative_or_huge(
    home: Path, bystanders: Bystanders, fmt: str, kind: str
) -> None:
    t = Target.make(fmt, home)
    line, add, field = _numbers(t, kind)
    t.write([*t.lines, line])
    store = cold(home)
    check_case(store, bystanders, t, usage=plus(t.expected(), t.model, add), names=(field,))


def test_codex_bad_total_in_the_middle_does_not_recount_history(home: Path, bystanders: Bystanders) -> None:
    """A zeroed field would look like a reset, and the next good total would charge its whole history."""
    t = Target.make("codex", home, turns=3)
    idx = next(i for i, ln in enumerate(t.lines) if b'"total_token_usage"' in ln and b'"info":null' not in ln)
    rec = orjson.loads(t.lines[idx])
    rec["payload"]["info"]["total_token_usage"]["output_tokens"] = -1
    rec["payload"]["info"]["total_token_usage"]["cached_input_tokens"] = "lots"
    lines = list(t.lines)
    lines.insert(idx + 1, orjson.dumps(rec) + b"\n")
    t.write(lines)
    store = cold(home)
    check_case(store, bystanders, t, names=("total_token_usage.output_tokens", "cached_input_tokens"))


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_null_everywhere(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    if fmt == "claude":
        bad: list[Any] = [
            {"type": None},
            {"type": "assistant", "message": None, "timestamp": None},
            {"type": "assistant", "message": {"id": None, "model": None, "usage": None, "content": None}},
            {"type": "user", "message": {"role": "user", "content": None}, "cwd": None},
        ]
        names: tuple[str, ...] = ("(no type)", "message")
    elif fmt == "codex":
        bad = [
            {"timestamp": None, "type": None, "payload": None},
            {"timestamp": None, "type": "event_msg", "payload": {"type": None}},
            {"timestamp": None, "type": "turn_context", "payload": {"model": None, "cwd": None}},
            {"timestamp": None, "type": "event_msg", "payload": {"type": "token_count", "info": None}},
            {"type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": None}}},
            {"type": None, "payload": {"type": None}},
        ]
        names = ("None",)
    else:
        bad = [
            {"id": None},
            {"$set": None},
            {"id": "n1", "type": None, "tokens": None, "timestamp": None},
            {"sessionId": None, "projectHash": None},
        ]
        names = ("record", "message")
    t.write(middle(t.lines, *(orjson.dumps(b) + b"\n" for b in bad)))
    store = cold(home)
    s = check_case(store, bystanders, t, names=names)
    assert s.session_id == t.session_id
    assert s.diagnostics.lines_read == len(t.lines) + len(bad)


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_unknown_record_types_are_counted_by_name(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    if fmt == "claude":
        bad = [b'{"type":"hologram","timestamp":"2026-11-18T12:06:41.000Z","data":{"x":1}}\n']
    elif fmt == "codex":
        bad = [b'{"timestamp":"2026-11-18T12:06:41.000Z","type":"hologram","payload":{"x":1}}\n']
    else:
        bad = [b'{"$hologram":{"x":1}}\n']
    t.write(middle(t.lines, *bad, *bad))
    store = cold(home)
    s = check_case(store, bystanders, t, names=("hologram",))
    assert sum(v for k, v in s.diagnostics.unknown_types.items() if "hologram" in k) == 2


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_every_line_written_twice_counts_once(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    doubled = [ln for line in t.lines for ln in (line, line)]
    t.write(doubled)
    store = cold(home)
    s = check_case(store, bystanders, t)
    assert s.diagnostics.lines_read == 2 * len(t.lines)
    assert sum(s.tools.values()) == sum(synth_tools(t).values())


def synth_tools(t: Target) -> dict[str, int]:
    clean = Target.make(t.fmt, t.home / "clean", n=1)
    clean.write()
    store = cold(t.home / "clean")
    s = session_by_path(store, clean.path)
    assert s is not None
    return s.tools


#: A decoded (usage-bearing) line of each format, whose time can be moved.
_DECODED = {"claude": b'"type":"assistant"', "codex": b'"total_token_usage"', "gemini": b'"type":"gemini"'}


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_out_of_order_timestamps(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    lines = list(t.lines)
    idx = next(i for i in range(len(lines) // 2, len(lines)) if _DECODED[fmt] in lines[i])
    stamp = lines[idx].index(b'"timestamp":"') + len(b'"timestamp":"')
    lines[idx] = lines[idx][:stamp] + b"2026-11-18T01:00:00.000Z" + lines[idx][stamp + 24 :]
    t.write(lines)
    store = cold(home)
    s = check_case(store, bystanders, t)
    assert s.start_timestamp_ms == parse_ts_ms("2026-11-18T01:00:00.000Z")  # earlier than the first line
    assert s.end_timestamp_ms is not None and s.end_timestamp_ms > (s.start_timestamp_ms or 0)


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_absurd_timestamps_are_ignored_and_named(
    home: Path, bystanders: Bystanders, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    t = Target.make(fmt, home)
    ref = Target.make(fmt, home / "ref")
    ref.write()
    want = session_by_path(cold(home / "ref"), ref.path)
    assert want is not None
    extra = []
    # Lines that add nothing but carry junk times (at the end: a Codex total is a running total).
    for i, value in enumerate(
        (
            b'"9999-99-99T99:99:99.999Z"',
            b'"9999-12-31T23:59:59.000Z"',
            b'"1969-01-01T00:00:00Z"',
            b"1e20",
            b"-5",
        )
    ):
        line, _ = t.plain_usage(f"ts{i}", (0, 0, 0, 0))
        extra.append(line.replace(b'"2026-11-18T23:00:00.000Z"', value))
    t.write([*t.lines, *extra])
    store = cold(home)
    s = check_case(store, bystanders, t, names=("timestamp",))
    assert (s.start_timestamp_ms, s.end_timestamp_ms) == (want.start_timestamp_ms, want.end_timestamp_ms)
    # Every command prints such a session (a year-9999 time once crashed them all).
    for argv in (["list"], ["list", "--json"], ["show", t.session_id], ["watch", "--once"]):
        assert cli_main([*argv, "--home", str(home)]) == 0
    capsys.readouterr()


def test_codex_junk_time_never_freezes_the_end_time(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("codex", home)
    junk = b'{"timestamp":"9999-99-99T99:99:99.999Z","type":"event_msg","payload":{"type":"agent_message"}}\n'
    ref = Target.make("codex", home / "ref")
    ref.write()
    want = session_by_path(cold(home / "ref"), ref.path)
    assert want is not None
    t.write([t.lines[0], junk, *t.lines[1:]])
    store = cold(home)
    s = check_case(store, bystanders, t)
    assert s.end_timestamp_ms == want.end_timestamp_ms


# ------------------------------------------------- files changing under us
@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_truncated_and_rewritten_shorter_while_followed(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home, turns=3)
    path = t.write()
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    short = Target.make(fmt, home, turns=1)
    with open(path, "r+b") as fh:  # same inode, shorter content
        fh.truncate(0)
        fh.write(b"".join(short.lines))
    store.refresh()
    s = check_case(store, bystanders, short)
    assert s.diagnostics.reparses == 1


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_truncated_and_rewritten_longer_while_followed(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home, turns=2)
    path = t.write()
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    other = Target.make(fmt, home, turns=5, seed=77)
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(b"".join(other.lines))
    store.refresh()
    check_case(store, bystanders, other)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_replaced_by_rename(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home, turns=2)
    path = t.write_document(t.document()) if fmt == "legacy" else t.write()
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    newer = Target.make(fmt, home, turns=3)
    tmp = path.with_name(".tmp-" + path.name + ".part")
    tmp.write_bytes(newer.document() if fmt == "legacy" else b"".join(newer.lines))
    os.replace(tmp, path)
    store.refresh()
    check_case(store, bystanders, newer)


# ------------------------------------------------------ the file system
def _walk_errors(home: Path) -> dict[str, str]:
    errors: dict[str, str] = {}
    find_session_files(AgentHomes.resolve(home), errors=errors)
    return errors


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_directory_where_a_session_file_is_expected(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    t.write()
    odd = t.path.with_name(t.path.name.replace(t.session_id[:8], "0dd0dd00"))
    odd.mkdir()
    (odd / "inner.jsonl").write_bytes(t.lines[0])
    store = cold(home)
    check_case(store, bystanders, t)
    assert all(s.path != str(odd) for s in store.sessions())
    assert "a directory, not a session file" in _walk_errors(home)[str(odd)]


def test_directory_replaces_a_file_between_listing_and_reading(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    path = t.write()
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    path.unlink()
    path.mkdir()
    with open(path.parent / "keep.txt", "w") as fh:  # the folder changed: discovery walks again
        fh.write("x")
    store.refresh()
    bystanders.check(store)
    assert session_by_path(store, path) is None
    assert str(path) in _walk_errors(home)


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_symlink_loop_named_like_a_session(home: Path, bystanders: Bystanders, fmt: str) -> None:
    t = Target.make(fmt, home)
    t.write()
    loop = t.path.with_name(t.path.name.replace(t.session_id[:8], "100b100b"))
    os.symlink(loop.name, loop)  # points at itself
    store = cold(home)
    check_case(store, bystanders, t)
    assert "Too many levels of symbolic links" in _walk_errors(home)[str(loop)]


def test_symlinked_folders_that_loop(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    t.write()
    projects = home / ".claude" / "projects"
    os.symlink("loop-b", projects / "loop-a")
    os.symlink("loop-a", projects / "loop-b")
    os.symlink("..", t.path.parent / "up")  # a folder that contains itself
    codex_day = bystanders.paths["codex"].parent
    os.symlink(str(home / ".codex"), codex_day / "back-to-root")
    store = cold(home)
    check_case(store, bystanders, t)
    assert len(store.sessions()) == 5
    errors = _walk_errors(home)
    assert str(projects / "loop-a") in errors and str(projects / "loop-b") in errors


def test_fifo_named_like_a_session_is_never_opened(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("claude", home)
    t.write()
    fifo = t.path.with_name("f1f0f1f0-1111-4222-8333-444455556666.jsonl")
    os.mkfifo(fifo)
    store = cold(home)  # opening it would block forever
    check_case(store, bystanders, t)
    assert "a FIFO, not a session file" in _walk_errors(home)[str(fifo)]


def test_fifo_swapped_in_after_listing_is_refused_not_waited_on(
    home: Path, bystanders: Bystanders, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = Target.make("claude", home)
    path = t.write()
    swap_after_listing(monkeypatch, path, lambda: os.mkfifo(path))
    done = threading.Event()

    def unblock() -> None:
        # Only a safety net against hanging the suite: should the store wait in open(),
        # a writer appearing lets it through (it then reads an empty file, which fails below).
        while not done.is_set():
            with contextlib.suppress(OSError):
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            time.sleep(0.005)

    helper = threading.Thread(target=unblock, daemon=True)
    helper.start()
    try:
        store = cold(home)
    finally:
        done.set()
        helper.join()
    bystanders.check(store)
    assert session_by_path(store, path) is None
    assert "not a regular file" in store.errors.get(str(path), "")


def swap_after_listing(monkeypatch: pytest.MonkeyPatch, path: Path, swap: Any) -> None:
    """Run ``swap()`` right after discovery listed ``path`` (a file changing between listing and reading)."""
    import agent_session.discovery as discovery
    import agent_session.store as store_module

    real = discovery.find_session_files

    def list_then_swap(*a: Any, **k: Any) -> Any:
        found = real(*a, **k)
        if path.exists() and path.is_file():
            path.unlink()
            swap()
        return found

    monkeypatch.setattr(discovery, "find_session_files", list_then_swap)
    monkeypatch.setattr(store_module, "find_session_files", list_then_swap)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_unreadable_file_is_a_store_error(
    home: Path, bystanders: Bystanders, denier: Denier, fmt: str
) -> None:
    t = Target.make(fmt, home)
    path = t.write_document(t.document()) if fmt == "legacy" else t.write()
    denier.deny(path)
    store = cold(home)
    bystanders.check(store)
    assert "PermissionError" in store.errors[str(path)]


def test_unreadable_file_after_a_good_read_keeps_the_session(
    home: Path, bystanders: Bystanders, denier: Denier
) -> None:
    t = Target.make("claude", home)
    path = t.write()
    store = make_store(home)
    store.refresh()
    with open(path, "ab") as fh:
        fh.write(t.plain_usage("late", (1, 1, 0, 0))[0])
    denier.deny(path)
    store.refresh()
    check_case(store, bystanders, t)  # the last good state, exact
    assert "PermissionError" in store.errors[str(path)]


def test_unreadable_file_real_permissions(home: Path, bystanders: Bystanders) -> None:
    root_only_skip()
    t = Target.make("claude", home)
    path = t.write()
    path.chmod(0)
    try:
        store = cold(home)
        bystanders.check(store)
        assert "PermissionError" in store.errors[str(path)]
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_unreadable_folder_is_reported_by_discovery(
    home: Path, bystanders: Bystanders, denier: Denier, fmt: str
) -> None:
    t = Target.make(fmt, home)
    t.write()
    folder = t.path.parent
    denier.deny(folder)
    store = cold(home)
    bystanders.check(store)
    assert session_by_path(store, t.path) is None
    assert "PermissionError" in _walk_errors(home)[str(folder)]


def test_unreadable_folder_is_a_store_error(home: Path, bystanders: Bystanders, denier: Denier) -> None:
    t = Target.make("claude", home)
    t.write()
    denier.deny(t.path.parent)
    store = cold(home)
    bystanders.check(store)
    assert "PermissionError" in store.errors.get(str(t.path.parent), "")


def test_unreadable_folder_real_permissions(home: Path, bystanders: Bystanders) -> None:
    root_only_skip()
    t = Target.make("codex", home)
    t.write()
    t.path.parent.chmod(0)
    try:
        store = cold(home)
        bystanders.check(store)
        assert "PermissionError" in _walk_errors(home)[str(t.path.parent)]
    finally:
        t.path.parent.chmod(0o700)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_file_vanishes_between_listing_and_reading(
    home: Path, bystanders: Bystanders, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    t = Target.make(fmt, home)
    path = t.write_document(t.document()) if fmt == "legacy" else t.write()
    swap_after_listing(monkeypatch, path, lambda: None)
    store = cold(home)
    bystanders.check(store)
    assert session_by_path(store, path) is None
    assert "FileNotFoundError" in store.errors[str(path)]
    monkeypatch.undo()
    store.refresh()  # the next walk no longer lists it: the error goes with it
    bystanders.check(store)
    assert str(path) not in store.errors


def test_file_deleted_after_parsing_drops_only_its_session(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("codex", home)
    path = t.write()
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    path.unlink()
    store.refresh()
    bystanders.check(store)
    assert session_by_path(store, path) is None and len(store.sessions()) == 4


def test_file_name_that_is_not_utf8(
    home: Path, bystanders: Bystanders, capsys: pytest.CaptureFixture[str]
) -> None:
    t = Target.make("claude", home)
    t.write()
    odd = os.fsencode(t.path.parent) + b"/caf\xe9-\x1b[2J.jsonl"
    with open(odd, "wb") as fh:
        fh.write(b"".join(t.lines))
    store = cold(home)
    bystanders.check(store)
    assert len(store.sessions()) == 6
    for argv in (["list"], ["list", "--json"], ["watch", "--once"]):
        assert cli_main([*argv, "--home", str(home)]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")
    assert "\x1b" not in out


# -------------------------------------------------------- Gemini legacy JSON
def test_gemini_legacy_caught_half_written(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("legacy", home)
    doc = t.document()
    path = t.write_document(doc[: len(doc) // 2])
    store = make_store(home)
    store.refresh()
    bystanders.check(store)
    assert session_by_path(store, path) is None  # nothing valid in it yet
    assert store.skipped == {str(path): "no valid record"}
    path.write_bytes(doc)  # the CLI finishes its write
    store.refresh()
    s = check_case(store, bystanders, t)
    assert not s.diagnostics.has_problems


def test_gemini_legacy_half_written_keeps_the_last_good_version(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("legacy", home)
    doc = t.document()
    path = t.write_document(doc)
    store = make_store(home)
    store.refresh()
    check_case(store, bystanders, t)
    path.write_bytes(doc[: len(doc) // 2])
    store.refresh()
    s = check_case(store, bystanders, t)
    assert "truncated_json" in diag_text(s)


def test_gemini_legacy_wrong_types(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("legacy", home)
    doc = orjson.loads(t.document())
    messages = doc["messages"]
    doc["messages"] = [*messages, 5, "x", {"id": 9}, {"id": "bad", "type": "gemini", "tokens": "lots"}]
    doc["startTime"] = 12
    t.write_document(orjson.dumps(doc))
    store = cold(home)
    check_case(store, bystanders, t, names=("messages[]", "tokens"))


@pytest.mark.parametrize("data", [b"[1,2,3]", b"\xff\xfe{", b"{" * 100_000, b"\x00" * 8192])
def test_gemini_legacy_not_a_document(home: Path, bystanders: Bystanders, data: bytes) -> None:
    t = Target.make("legacy", home)
    path = t.write_document(data)
    store = cold(home)
    bystanders.check(store)
    assert session_by_path(store, path) is None
    assert store.skipped == {str(path): "no valid record"}


def test_gemini_legacy_with_invalid_utf8_keeps_its_usage(home: Path, bystanders: Bystanders) -> None:
    t = Target.make("legacy", home)
    doc = t.document().replace(b"Step 1", b"St\xffp 1", 1)
    assert b"\xff" in doc
    t.write_document(doc)
    store = cold(home)
    check_case(store, bystanders, t, names=("lenient_decode",))


def test_monitor_once_json_with_a_file_name_that_is_not_utf8(
    home: Path, bystanders: Bystanders, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui_app.app import main as top_main

    t = Target.make("claude", home)
    t.write()
    with open(os.fsencode(t.path.parent) + b"/caf\xe9.jsonl", "wb") as fh:
        fh.write(b"".join(t.lines))
    assert top_main(["--once", "--json", "--home", str(home)]) == 0
    assert len(orjson.loads(capsys.readouterr().out)["sessions"]) == 6
