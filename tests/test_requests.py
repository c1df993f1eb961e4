"""Per-request records: the log type itself, and that every parser's records sum to its usage."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers.usage_corpus import full_parse, sample_files, session_files, write_home

from agent_session import AgentSession
from agent_session.model import TokenUsage
from agent_session.requests import BYTES_PER_REQUEST, RequestLog, RequestRecord, block_starts
from agent_session.sources.claude import ClaudeParser
from agent_session.sources.codex import CodexParser
from agent_session.sources.gemini import GeminiParser

T0 = 1_795_000_000_000
MIN = 60_000


def small_log() -> RequestLog:
    log = RequestLog()
    log.append(T0, "a", (10, 1, 0, 100, 0))
    log.append(T0 + 2 * MIN, "b", (20, 2, 5, 200, 1))
    log.append(None, "a", (7, 7, 7, 7, 3))  # a line without a time
    log.append(T0 + 10 * MIN, "a", (30, 3, 0, 300, 0))
    return log


# ---------------------------------------------------------------- the log type
def test_compact_size() -> None:
    assert BYTES_PER_REQUEST == 52
    log = small_log()
    assert log.nbytes == 4 * 52


def test_records_read_back() -> None:
    log = small_log()
    assert len(log) == 4
    assert log[1] == RequestRecord(T0 + 2 * MIN, "b", 20, 2, 5, 200, 1)
    assert log[2].ts_ms == 0  # no time is stored as 0
    assert log[1].tier_input_tokens == 225
    assert log[1].total_tokens == 227
    assert [r.model for r in log] == ["a", "b", "a", "a"]
    assert log.models == ["a", "b"]


def test_sums_per_bucket_and_model() -> None:
    log = small_log()
    assert log.totals() == (67, 13, 12, 607, 4)
    assert log.by_model() == {"a": (47, 11, 7, 407, 3), "b": (20, 2, 5, 200, 1)}


def test_windows_are_half_open_and_skip_untimed_records() -> None:
    log = small_log()
    assert log.totals(T0, T0 + 2 * MIN) == (10, 1, 0, 100, 0)
    assert log.totals(T0, T0 + 2 * MIN + 1) == (30, 3, 5, 300, 1)
    # Unbounded on both sides through usage_between still leaves the untimed record out.
    assert log.usage_between(None, None) == TokenUsage.from_tuple((60, 6, 5, 600, 1))
    assert log.usage_between(T0 + MIN, None) == TokenUsage.from_tuple((50, 5, 5, 500, 1))
    assert log.count_between(None, T0 + 3 * MIN) == 2
    assert log.by_model(T0 + MIN, T0 + 11 * MIN) == {"b": (20, 2, 5, 200, 1), "a": (30, 3, 0, 300, 0)}


def test_rate_over_the_last_minutes() -> None:
    log = small_log()
    # The last 5 minutes before T0+10min hold only the last request: 333 tokens.
    assert log.tokens_per_minute(T0 + 10 * MIN, 5) == pytest.approx(333 / 5)
    # 10 minutes back: (T0, T0+10min] leaves out the request at exactly T0.
    assert log.tokens_per_minute(T0 + 10 * MIN, 10) == pytest.approx((227 + 333) / 10)
    assert log.tokens_per_minute(T0 + 30 * MIN, 5) == 0.0
    with pytest.raises(ValueError):
        log.tokens_per_minute(T0, 0)


def test_totals_by_period() -> None:
    log = RequestLog()
    day = 86_400_000
    d0 = T0 // day * day
    log.append(d0 + 1, "m", (1, 0, 0, 0, 0))
    log.append(d0 + day - 1, "m", (2, 0, 0, 0, 0))
    log.append(d0 + day, "m", (4, 0, 0, 0, 0))
    log.append(0, "m", (8, 0, 0, 0, 0))
    assert log.totals_by_period(day) == {d0: (3, 0, 0, 0, 0), d0 + day: (4, 0, 0, 0, 0)}
    # Days starting two hours later (a UTC-2 zone's midnight is 02:00 UTC).
    shifted = log.totals_by_period(day, offset_ms=-2 * 3_600_000)
    assert shifted == {d0 - day + 2 * 3_600_000: (1, 0, 0, 0, 0), d0 + 2 * 3_600_000: (6, 0, 0, 0, 0)}


def test_totals_by_any_key() -> None:
    log = small_log()
    by_10min = log.totals_by(lambda t: (t - T0) // (10 * MIN))
    assert by_10min == {0: (30, 3, 5, 300, 1), 1: (30, 3, 0, 300, 0)}
    assert log.timestamps() == [T0, T0 + 2 * MIN, T0 + 10 * MIN]


def test_five_hour_blocks() -> None:
    hour = 3_600_000
    h0 = T0 // hour * hour
    times = [
        h0 + 30 * MIN,  # opens a block at h0 (floored to the hour)
        h0 + 4 * hour + 59 * MIN,  # still in it
        h0 + 5 * hour,  # at its end: opens the next, at h0+5h
        0,  # unknown time: ignored
        h0 + 13 * hour + 5 * MIN,  # after a gap: a block at h0+13h
        h0 + 2 * hour,  # order does not matter
    ]
    assert block_starts(times) == [h0, h0 + 5 * hour, h0 + 13 * hour]
    assert block_starts(times, hours=1) == [h0, h0 + 2 * hour, h0 + 4 * hour, h0 + 5 * hour, h0 + 13 * hour]
    assert block_starts([]) == []


def test_replace_in_place() -> None:
    log = small_log()
    log.replace(1, T0 + 3 * MIN, "c", (1, 1, 1, 1, 0))
    assert len(log) == 4
    assert log[1] == RequestRecord(T0 + 3 * MIN, "c", 1, 1, 1, 1, 0)
    assert log.by_model() == {"a": (47, 11, 7, 407, 3), "c": (1, 1, 1, 1, 0)}


def test_json_pickle_and_copies_round_trip() -> None:
    log = small_log()
    obj = log.to_json_obj()
    assert obj["t"] == [T0, 2 * MIN, -(T0 + 2 * MIN), T0 + 10 * MIN]  # deltas
    assert RequestLog.from_json_obj(orjson.loads(orjson.dumps(obj))) == log
    assert pickle.loads(pickle.dumps(log)) == log
    clone = copy.deepcopy(log)
    assert clone == log
    clone.append(T0, "a", (1, 0, 0, 0, 0))
    assert len(log) == 4  # the copy does not share columns


def test_equality_ignores_model_numbering() -> None:
    a, b = RequestLog(), RequestLog()
    a.append(1, "x", (1, 0, 0, 0, 0))
    a.append(2, "y", (1, 0, 0, 0, 0))
    a.replace(0, 1, "y", (1, 0, 0, 0, 0))
    b.append(1, "y", (1, 0, 0, 0, 0))
    b.append(2, "y", (1, 0, 0, 0, 0))
    assert a == b
    b.replace(1, 3, "y", (1, 0, 0, 0, 0))
    assert a != b


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2], "JSON object"),
        ({"m": ["a"], "mi": [0, 0], "t": [1]}, "different lengths"),
        ({"m": ["a"], "mi": [1], "t": [1], "in": [1], "out": [1], "cw": [1], "cr": [1], "rs": [1]}, "index"),
        (
            {"m": ["a"], "mi": [0], "t": [1], "in": [-1], "out": [1], "cw": [1], "cr": [1], "rs": [1]},
            "negative",
        ),
        ({"m": ["a"], "mi": [0], "t": [1], "in": ["1"], "out": [1], "cw": [1], "cr": [1], "rs": [1]}, "'in'"),
        ({"m": ["a", "a"]}, "duplicate"),
        (
            {"m": ["a"], "mi": [0], "t": [1 << 70], "in": [1], "out": [1], "cw": [1], "cr": [1], "rs": [1]},
            "range",
        ),
    ],
)
def test_bad_json_is_a_clear_error(obj: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RequestLog.from_json_obj(obj)


def test_session_json_round_trip_keeps_the_log() -> None:
    s = AgentSession(agent_type="claude", session_id="x", path="/x")
    s.requests.append(T0, "claude-sonnet-4-5", (1, 2, 3, 4, 0))
    data = s.__pydantic_serializer__.to_json(s, exclude_computed_fields=True)
    back = AgentSession.model_validate_json(data)
    assert back.requests == s.requests
    assert back == s
    assert orjson.loads(data)["requests"]["in"] == [1]
    bad = orjson.loads(data)
    bad["requests"]["mi"] = [3]
    with pytest.raises(ValueError, match="model index"):
        AgentSession.model_validate(bad)


# ------------------------------------------------------ parsers fill the log
def check_invariant(s: AgentSession) -> None:
    log = s.requests
    assert log.totals() == s.usage.as_tuple()
    assert log.by_model() == {m: u.as_tuple() for m, u in s.model_usage.items()}
    assert len(log) == s.request_count
    # The summary cache stores the IR's JSON: the log must survive it.
    data = s.__pydantic_serializer__.to_json(s, exclude_computed_fields=True)
    assert AgentSession.model_validate_json(data).requests == log


def test_records_sum_to_usage_on_generated_files(tmp_path: Path) -> None:
    write_home(tmp_path, seeds=4)
    files = session_files(tmp_path)
    assert len(files) == 29
    n_records = 0
    for sf in files:
        for detail in (False, True):
            s = full_parse(sf, detail=detail)
            check_invariant(s)
            n_records += len(s.requests)
        if detail and s.events is not None:
            # Detail mode's responses are the same requests, in the same order.
            assert [r.counts for r in s.requests] == [e.usage.as_tuple() for e in s.events.llm_responses]
    assert n_records > 300


def test_records_sum_to_usage_on_shared_samples(samples: Path) -> None:
    files = sample_files(samples)
    assert len(files) == 12
    for sf in files:
        check_invariant(full_parse(sf))


def test_split_feeds_give_the_same_records(tmp_path: Path) -> None:
    write_home(tmp_path, seeds=1)
    for sf in session_files(tmp_path):
        if not sf.append_only:
            continue
        data = sf.path.read_bytes()
        parser = sf.new_parser()
        cut = data.rfind(b"\n", 0, len(data) // 2) + 1
        parser.feed(data[:cut])
        parser.snapshot()
        parser = pickle.loads(pickle.dumps(parser))  # the store ships parser state to workers
        parser.feed(data[cut:])
        assert parser.snapshot().requests == full_parse(sf).requests


def claude_line(msg_id: str, ts: str, usage: dict[str, int], block: str = "text") -> bytes:
    return orjson.dumps(
        {
            "type": "assistant",
            "timestamp": ts,
            "requestId": "req_" + msg_id,
            "message": {
                "id": msg_id,
                "model": "claude-sonnet-4-5",
                "role": "assistant",
                "content": [{"type": block, "text": "x"}],
                "usage": usage,
            },
        }
    )


def test_claude_record_keeps_the_largest_usage_of_a_message(tmp_path: Path) -> None:
    parser = ClaudeParser(tmp_path / "s.jsonl")
    partial = {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": 100}
    final = {"input_tokens": 5, "output_tokens": 40, "cache_read_input_tokens": 100}
    parser.feed(
        b"\n".join(
            [
                claude_line("msg_1", "2026-11-24T09:00:00.000Z", partial, "thinking"),
                claude_line("msg_1", "2026-11-24T09:00:01.000Z", final),
                claude_line("msg_1", "2026-11-24T09:00:02.000Z", partial, "tool_use"),
                claude_line("msg_2", "2026-11-24T09:00:05.000Z", partial),
            ]
        )
    )
    s = parser.snapshot()
    assert [r.counts for r in s.requests] == [(5, 40, 0, 100, 0), (5, 1, 0, 100, 0)]
    # The record's time is the time of the line whose usage won.
    assert s.requests[0].ts_ms == 1_795_510_801_000
    assert s.requests[1].ts_ms == 1_795_510_805_000


def test_codex_records_follow_the_running_total_and_the_model_in_force(tmp_path: Path) -> None:
    def tc(ts: str, total: tuple[int, int, int]) -> dict[str, Any]:
        usage = {"input_tokens": total[0], "cached_input_tokens": total[1], "output_tokens": total[2]}
        return {
            "timestamp": ts,
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": usage, "last_token_usage": usage},
            },
        }

    def ctx(ts: str, model: str) -> dict[str, Any]:
        return {"timestamp": ts, "type": "turn_context", "payload": {"model": model, "cwd": "/w"}}

    lines = [
        ctx("2026-11-24T09:00:00.000Z", "gpt-5"),
        tc("2026-11-24T09:00:01.000Z", (1000, 200, 100)),
        tc("2026-11-24T09:00:02.000Z", (1000, 200, 100)),  # re-emitted: no record
        ctx("2026-11-24T09:00:03.000Z", "gpt-5-codex"),
        tc("2026-11-24T09:00:04.000Z", (3000, 700, 300)),
    ]
    parser = CodexParser(tmp_path / "rollout-x.jsonl")
    parser.feed(b"\n".join(orjson.dumps(r) for r in lines))
    s = parser.snapshot()
    assert list(s.requests) == [
        RequestRecord(1_795_510_801_000, "gpt-5", 800, 100, 0, 200, 0),
        RequestRecord(1_795_510_804_000, "gpt-5-codex", 1500, 200, 0, 500, 0),
    ]


def test_gemini_rewritten_message_keeps_one_record(tmp_path: Path) -> None:
    def msg(tokens: dict[str, int], ts: str) -> dict[str, Any]:
        return {
            "id": "m1",
            "type": "gemini",
            "timestamp": ts,
            "model": "gemini-2.5-pro",
            "content": "x",
            "tokens": tokens,
        }

    header = {"sessionId": "g1", "projectHash": "h", "startTime": "2026-11-24T09:00:00.000Z", "kind": "main"}
    first = msg(
        {"input": 100, "output": 10, "cached": 40, "thoughts": 0, "tool": 0, "total": 110},
        "2026-11-24T09:00:01.000Z",
    )
    second = msg(
        {"input": 100, "output": 30, "cached": 40, "thoughts": 5, "tool": 2, "total": 137},
        "2026-11-24T09:00:02.000Z",
    )
    parser = GeminiParser(tmp_path / "session-2026-11-24T09-00-g1.jsonl")
    parser.feed(b"\n".join(orjson.dumps(r) for r in (header, first, second)))
    s = parser.snapshot()
    assert list(s.requests) == [RequestRecord(1_795_510_802_000, "gemini-2.5-pro", 62, 35, 0, 40, 5)]
    check_invariant(s)
