"""``agentsession report``: periods by each request's own time, blocks, projects, models, tools, output shapes.

Homes are generated: hand-written Claude transcripts where a test needs exact
request times (a session across midnight, 5-hour gaps), and the synthetic
writers (``agent_session.synthetic``) for whole-home sums checked against
their ``expected()`` usage.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers.sessions import spec_for, synth
from helpers.usage_corpus import write_home

from agent_session.cli_report import add_report_parser, fmt_cost, run_report
from agent_session.discovery import AgentHomes
from agent_session.model import AgentSession, AgentType, TokenUsage
from agent_session.pricing import price_request
from agent_session.reports import build_report, mcp_server
from agent_session.requests import RequestLog
from agent_session.store import SessionStore
from agent_session.synthetic.claude import encode_cwd

SONNET = "claude-sonnet-4-5"


# ------------------------------------------------------------------ helpers
def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t % 1000:03d}Z"


def write_claude(
    home: Path,
    sid: str,
    requests: list[tuple[str, tuple[int, int, int, int]]],
    *,
    cwd: str = "/w/proj",
    branch: str = "main",
    model: str = SONNET,
    lines: list[dict[str, Any]] | None = None,
) -> None:
    """A minimal Claude Code transcript: one assistant line per ``(UTC time, (in, out, cw, cr))``."""
    recs: list[dict[str, Any]] = []
    for i, (when, u) in enumerate(requests):
        recs.append(
            _assistant(
                sid, cwd, branch, _iso(ms(when)), f"msg_{sid}_{i}", model, u, [{"type": "text", "text": "ok"}]
            )
        )
    recs.extend(lines or [])
    path = home / ".claude" / "projects" / encode_cwd(cwd) / f"{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))


def _assistant(
    sid: str,
    cwd: str,
    branch: str,
    ts: str,
    mid: str,
    model: str,
    u: tuple[int, int, int, int],
    blocks: list[Any],
) -> dict[str, Any]:
    usage = {
        "input_tokens": u[0],
        "output_tokens": u[1],
        "cache_creation_input_tokens": u[2],
        "cache_read_input_tokens": u[3],
    }
    return {
        "type": "assistant",
        "timestamp": ts,
        "sessionId": sid,
        "cwd": cwd,
        "gitBranch": branch,
        "version": "2.1.330",
        "uuid": f"u-{mid}",
        "requestId": f"req_{mid}",
        "message": {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "usage": usage,
        },
    }


def report(home: Path, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", *argv, "--home", str(home), "--no-cache"])
    out, err = io.StringIO(), io.StringIO()
    code = run_report(args, out, err)
    return code, out.getvalue(), err.getvalue()


def report_json(home: Path, *argv: str) -> dict[str, Any]:
    code, out, err = report(home, *argv, "--json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def totals(u: dict[str, Any]) -> tuple[int, int, int, int]:
    return (u["input_tokens"], u["output_tokens"], u["cache_creation_tokens"], u["cache_read_tokens"])


def store_sessions(home: Path) -> list[Any]:
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    try:
        return store.sessions()
    finally:
        store.close()


# 23:50 and 00:10 in Tokyo (UTC+9, no DST): two days (and two ISO weeks) there, one day in UTC.
MIDNIGHT = [
    ("2026-11-01T14:50:00+00:00", (100, 20, 300, 4000)),
    ("2026-11-01T15:10:00+00:00", (7, 3, 50, 600)),
]


# ------------------------------------------------------------------ periods
def test_daily_splits_a_session_across_midnight_in_the_given_zone(home: Path) -> None:
    write_claude(home, "cross", MIDNIGHT)
    tokyo = report_json(home, "daily", "--tz", "Asia/Tokyo")
    assert [(r["period"], totals(r["usage"]), r["sessions"]) for r in tokyo["rows"]] == [
        ("2026-11-01", (100, 20, 300, 4000), 1),
        ("2026-11-02", (7, 3, 50, 600), 1),
    ]
    assert tokyo["totals"]["usage"]["total_tokens"] == 4420 + 660
    assert tokyo["totals"]["sessions"] == 1
    utc = report_json(home, "daily", "--tz", "UTC")
    assert [(r["period"], totals(r["usage"])) for r in utc["rows"]] == [("2026-11-01", (107, 23, 350, 4600))]
    weekly = report_json(home, "weekly", "--tz", "Asia/Tokyo")
    assert [(r["period"], r["usage"]["total_tokens"]) for r in weekly["rows"]] == [
        ("2026-W44", 4420),
        ("2026-W45", 660),
    ]


def test_monthly_and_weekly_labels_across_a_month_end(home: Path) -> None:
    write_claude(
        home,
        "monthend",
        [("2026-11-30T23:30:00+00:00", (1, 2, 3, 4)), ("2026-12-01T00:30:00+00:00", (10, 20, 30, 40))],
    )
    monthly = report_json(home, "monthly", "--tz", "UTC")
    assert [(r["period"], r["usage"]["total_tokens"]) for r in monthly["rows"]] == [
        ("2026-11", 10),
        ("2026-12", 100),
    ]
    weekly = report_json(home, "weekly", "--tz", "UTC")
    assert [(r["period"], r["usage"]["total_tokens"], r["sessions"]) for r in weekly["rows"]] == [
        ("2026-W49", 110, 1)
    ]


def test_since_until_select_requests_by_their_own_time_in_tz(home: Path) -> None:
    write_claude(home, "cross", MIDNIGHT)
    later = report_json(home, "daily", "--tz", "Asia/Tokyo", "--since", "2026-11-02")
    assert [(r["period"], totals(r["usage"])) for r in later["rows"]] == [("2026-11-02", (7, 3, 50, 600))]
    earlier = report_json(home, "daily", "--tz", "Asia/Tokyo", "--until", "2026-11-01")
    assert [(r["period"], totals(r["usage"])) for r in earlier["rows"]] == [
        ("2026-11-01", (100, 20, 300, 4000))
    ]
    window = report_json(
        home, "monthly", "--since", "2026-11-01T15:00:00+00:00", "--until", "2026-11-01T15:10:00Z"
    )
    assert window["rows"] == []  # until is exclusive: the 15:10 request is out
    assert report_json(home, "daily", "--since", "7d")["rows"] == []  # ages count back from the clock
    assert len(report_json(home, "daily", "--tz", "UTC", "--since", "36500d")["rows"]) == 1
    code, _, err = report(home, "daily", "--since", "2026-11-03", "--until", "2026-11-01")
    assert code == 2 and "--since is after --until" in err
    code, _, err = report(home, "daily", "--tz", "Mars/Olympus")
    assert code == 2 and "unknown time zone" in err


def test_generated_home_daily_sums_equal_every_request_once(home: Path) -> None:
    """Claude main files plus their subagent files: each request exactly once, as ``expected*`` say."""
    want = TokenUsage()
    for n in range(3):
        spec = spec_for("claude", n, extra={"subagents": 2} if n == 0 else {}, turns=3)
        synth("claude").write_session(home, spec)
        for u in synth("claude").expected(spec).values():
            want.add(u)
        for per_model in synth("claude").expected_subagents(spec).values():
            for u in per_model.values():
                want.add(u)
    for kind in ("daily", "weekly", "monthly", "blocks", "projects", "models"):
        data = report_json(home, kind, "--tz", "UTC", "--now", "2020-01-01T00:00Z")
        got = data["totals"]["usage"]
        assert got == want.model_dump(mode="json"), kind
        row_sum = [sum(r["usage"][k] for r in data["rows"]) for k in ("input_tokens", "output_tokens")]
        assert row_sum == [want.input_tokens, want.output_tokens], kind
    # 3 main sessions + 2 subagent sessions, each a session of its own.
    assert report_json(home, "daily", "--tz", "UTC")["totals"]["sessions"] == 5


def test_costs_equal_per_request_pricing_and_breakdown_adds_up(home: Path) -> None:
    write_home(home, seeds=1)
    plain = report_json(home, "daily", "--tz", "UTC")
    split = report_json(home, "daily", "--tz", "UTC", "--breakdown")
    by_day: dict[str, list[int]] = {}
    for r in split["rows"]:
        assert r["agent_type"] in ("claude", "codex", "gemini") and r["model"]
        acc = by_day.setdefault(r["period"], [0, 0, 0, 0])
        for i, v in enumerate(totals(r["usage"])):
            acc[i] += v
    assert {r["period"]: list(totals(r["usage"])) for r in plain["rows"]} == by_day
    # The reference: calc_price request by request, from the store's own records.
    want: dict[tuple[str, str, str], float] = {}
    n_req = 0
    for s in store_sessions(home):
        for rec in s.requests:
            if rec.ts_ms <= 0:
                continue
            day = datetime.fromtimestamp(rec.ts_ms / 1000, UTC).date().isoformat()
            price = price_request(rec.model, TokenUsage.from_tuple(rec.counts), s.agent_type)
            key = (day, s.agent_type.value, rec.model)
            want[key] = want.get(key, 0.0) + (price or 0.0)
            n_req += 1
    got = {(r["period"], r["agent_type"], r["model"]): r["cost_usd"] for r in split["rows"]}
    assert got.keys() == want.keys()
    for key, cost in got.items():
        assert cost == pytest.approx(want[key], abs=1e-9), key
    assert plain["totals"]["cost_usd"] == pytest.approx(sum(want.values()), abs=1e-9)
    assert plain["totals"]["requests"] == n_req


def test_agent_filter(home: Path) -> None:
    write_claude(home, "cross", MIDNIGHT)
    spec = spec_for("codex", 1)
    synth("codex").write_session(home, spec)
    want = TokenUsage()
    for u in synth("codex").expected(spec).values():
        want.add(u)
    codex = report_json(home, "models", "--agent", "codex")
    assert {r["agent_type"] for r in codex["rows"]} == {"codex"}
    assert codex["totals"]["usage"] == want.model_dump(mode="json")
    claude = report_json(home, "monthly", "--agent", "claude", "--tz", "UTC")
    assert [totals(r["usage"]) for r in claude["rows"]] == [(107, 23, 350, 4600)]


# ------------------------------------------------------------------ blocks
BLOCK_REQS = [
    ("2026-11-02T10:20:00+00:00", (100, 10, 0, 0)),  # block A starts 10:00
    ("2026-11-02T10:50:00+00:00", (200, 20, 0, 0)),
    ("2026-11-02T15:00:00+00:00", (300, 30, 0, 0)),  # = A's end, 4h10 after the last: still A
    ("2026-11-02T15:30:00+00:00", (400, 40, 0, 0)),  # later than A's end: block B at 15:00
    ("2026-11-02T21:00:00+00:00", (500, 50, 0, 0)),  # block C at 21:00
    ("2026-11-03T02:00:00+00:00", (600, 60, 0, 0)),  # = C's end, exactly 5 h after the last: still C
    ("2026-11-03T02:00:00.001+00:00", (700, 70, 0, 0)),  # 1 ms later than C's end: block D at 02:00
]


def test_blocks_start_at_hour_floor_and_split_on_end_and_gap(home: Path) -> None:
    write_claude(home, "blocks", BLOCK_REQS)
    data = report_json(home, "blocks", "--tz", "UTC", "--now", "2026-11-03T02:35:00Z")
    rows = [
        (r["start"], r["end"], r["usage"]["total_tokens"], r["requests"], r["active"]) for r in data["rows"]
    ]
    assert rows == [
        ("2026-11-02T10:00:00+00:00", "2026-11-02T15:00:00+00:00", 660, 3, False),
        ("2026-11-02T15:00:00+00:00", "2026-11-02T20:00:00+00:00", 440, 1, False),
        ("2026-11-02T21:00:00+00:00", "2026-11-03T02:00:00+00:00", 1210, 2, False),
        ("2026-11-03T02:00:00+00:00", "2026-11-03T07:00:00+00:00", 770, 1, True),
    ]
    assert data["rows"][0]["period"] == "2026-11-02T10:00+00:00"
    active = data["rows"][-1]
    # 770 tokens in the 35 minutes since the block's first request (02:00:00.001); 265 minutes left.
    minutes = (35 * 60_000 - 1) / 60_000
    assert active["burn_tokens_per_minute"] == pytest.approx(770 / minutes)
    assert active["remaining_minutes"] == pytest.approx(265.0)
    assert active["projected_total_tokens"] == round(770 + 770 / minutes * 265)
    assert active["burn_usd_per_hour"] == pytest.approx(active["cost_usd"] / minutes * 60)
    assert active["projected_cost_usd"] == pytest.approx(active["cost_usd"] * (1 + 265 / minutes))
    assert "burn_tokens_per_minute" not in data["rows"][0]
    assert data["totals"]["usage"]["total_tokens"] == 660 + 440 + 1210 + 770
    code, text, _ = report(home, "blocks", "--tz", "UTC", "--now", "2026-11-03T02:35:00Z")
    assert code == 0 and "ACTIVE 22 tok/min" in text and "projected 6,600, 265 min left" in text


def test_blocks_are_per_agent_and_nothing_is_active_after_the_end(home: Path) -> None:
    write_claude(home, "blocks", BLOCK_REQS[:1])
    spec = spec_for("codex", 0, start_ms=ms("2026-11-02T10:40:00+00:00"), extra={"resume_turn": -1})
    synth("codex").write_session(home, spec)
    data = report_json(home, "blocks", "--tz", "UTC", "--now", "2026-11-02T15:00:00Z")
    assert [(r["agent_type"], r["start"], r["active"]) for r in data["rows"]] == [
        ("claude", "2026-11-02T10:00:00+00:00", False),
        ("codex", "2026-11-02T10:00:00+00:00", False),
    ]
    split = report_json(home, "blocks", "--tz", "UTC", "--breakdown")
    assert sorted((r["agent_type"], r["model"]) for r in split["rows"]) == [
        ("claude", SONNET),
        ("codex", "gpt-5"),
        ("codex", "gpt-5-codex"),
    ]


# ------------------------------------------------------------------ projects, models
def test_projects_group_by_cwd_with_branches(home: Path) -> None:
    write_claude(home, "p1", [("2026-11-02T10:00:00+00:00", (1, 2, 3, 4))], cwd="/w/alpha", branch="main")
    write_claude(
        home, "p2", [("2026-11-02T11:00:00+00:00", (10, 20, 30, 40))], cwd="/w/alpha", branch="feat/x"
    )
    write_claude(home, "p3", [("2026-11-02T12:00:00+00:00", (5, 5, 5, 5))], cwd="/w/beta", branch="main")
    data = report_json(home, "projects")
    assert [
        (r["period"], r["usage"]["total_tokens"], r["sessions"], r["branches"]) for r in data["rows"]
    ] == [
        ("/w/alpha", 110, 2, ["feat/x", "main"]),
        ("/w/beta", 20, 1, ["main"]),
    ]
    only = report_json(home, "projects", "--project", "beta")
    assert [r["period"] for r in only["rows"]] == ["/w/beta"]
    assert (
        report_json(home, "daily", "--project", "/w/alpha/", "--tz", "UTC")["totals"]["usage"]["total_tokens"]
        == 110
    )


def test_models_rows_per_agent_and_model_sorted_by_tokens(home: Path) -> None:
    write_claude(home, "a", [("2026-11-02T10:00:00+00:00", (1, 1, 1, 1))], model="claude-opus-4-1")
    write_claude(home, "b", [("2026-11-02T10:00:00+00:00", (9, 9, 9, 9))])
    write_claude(home, "c", [("2026-11-02T10:00:00+00:00", (2, 2, 2, 2))], model="my-private-model")
    data = report_json(home, "models")
    assert [(r["period"], r["agent_type"], r["model"], r["usage"]["total_tokens"]) for r in data["rows"]] == [
        (SONNET, "claude", SONNET, 36),
        ("my-private-model", "claude", "my-private-model", 8),
        ("claude-opus-4-1", "claude", "claude-opus-4-1", 4),
    ]
    unknown = data["rows"][1]
    assert unknown["cost_usd"] is None and unknown["unpriced_models"] == ["my-private-model"]
    assert data["totals"]["unpriced_models"] == ["my-private-model"]
    code, text, _ = report(home, "models")
    assert code == 0
    line = next(ln for ln in text.splitlines() if ln.startswith("my-private-model"))
    assert line.rstrip().endswith("?         1")
    assert "no price known for: my-private-model" in text


# ------------------------------------------------------------------ tools
def test_tools_calls_errors_duration_and_output_attribution(home: Path) -> None:
    sid, cwd = "tools", "/w/proj"
    call = _assistant(
        sid,
        cwd,
        "main",
        "2026-11-02T10:00:00.000Z",
        "m1",
        SONNET,
        (10, 21, 30, 40),
        [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
            {"type": "tool_use", "id": "t2", "name": "mcp__github__create_issue", "input": {}},
        ],
    )
    result = {
        "type": "user",
        "timestamp": "2026-11-02T10:00:02.500Z",
        "sessionId": sid,
        "cwd": cwd,
        "uuid": "r1",
        "message": {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": True},
            ],
        },
    }
    call2 = _assistant(
        sid,
        cwd,
        "main",
        "2026-11-02T10:00:05.000Z",
        "m2",
        SONNET,
        (1, 8, 3, 4),
        [{"type": "tool_use", "id": "t3", "name": "mcp__github__list_prs", "input": {}}],
    )
    result2 = {**result, "timestamp": "2026-11-02T10:00:06.000Z", "uuid": "r2"}
    result2["message"] = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t3", "content": "[]"}],
    }
    write_claude(home, sid, [], lines=[call, result, call2, result2])
    data = report_json(home, "tools")
    rows = {
        r["period"]: (r["calls"], r["errors"], r["duration_ms"], r["output_tokens"]) for r in data["rows"]
    }
    # m1's 21 output tokens split over its two calls (11 + 10); m2's 8 to its one call.
    assert rows == {
        "Bash": (1, 0, 2500, 11),
        "mcp__github__create_issue": (1, 1, 2500, 10),
        "mcp__github__list_prs": (1, 0, 1000, 8),
    }
    t = data["totals"]
    assert (t["calls"], t["errors"], t["duration_ms"], t["output_tokens"]) == (3, 1, 6000, 29)
    assert [(r["mcp_server"], r["calls"], r["errors"], r["output_tokens"]) for r in data["mcp_servers"]] == [
        ("github", 2, 1, 18)
    ]
    none = report_json(home, "tools", "--since", "2026-11-02T10:00:04Z")
    assert [(r["period"], r["calls"]) for r in none["rows"]] == [("mcp__github__list_prs", 1)]
    code, text, _ = report(home, "tools")
    assert code == 0 and "MCP SERVER" in text and "github" in text


def test_tools_output_never_exceeds_the_output_total(home: Path) -> None:
    write_home(home, seeds=1)
    data = report_json(home, "tools")
    out_total = sum(s.usage.output_tokens for s in store_sessions(home))
    assert 0 < data["totals"]["output_tokens"] <= out_total
    assert data["totals"]["calls"] == sum(r["calls"] for r in data["rows"])


def test_mcp_server_names() -> None:
    assert mcp_server("mcp__github__create_issue") == "github"
    assert mcp_server("mcp__x") is None
    assert mcp_server("Bash") is None


# ------------------------------------------------------------------ shapes
def test_json_shape(home: Path) -> None:
    write_claude(home, "cross", MIDNIGHT)
    data = report_json(home, "daily", "--tz", "Asia/Tokyo")
    assert data["report"] == "daily" and data["tz"] == "Asia/Tokyo"
    row = data["rows"][0]
    assert {"period", "agent_type", "model", "usage", "cost_usd", "sessions"} <= row.keys()
    assert set(row["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
        "reasoning_tokens",
        "total_tokens",
    }
    assert row["agent_type"] is None and row["model"] is None and row["models"] == [SONNET]
    assert isinstance(row["cost_usd"], float) and row["cost_usd"] > 0
    assert data["totals"]["period"] == "total"


def test_csv_header_and_rows(home: Path) -> None:
    write_claude(home, "cross", MIDNIGHT)
    code, out, _ = report(home, "daily", "--tz", "Asia/Tokyo", "--csv", "--breakdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "period,agent_type,model,input_tokens,output_tokens,cache_creation_tokens,cache_read_tokens,"
        "reasoning_tokens,total_tokens,cost_usd,sessions,requests"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["period"], r["agent_type"], r["model"], r["total_tokens"]) for r in rows] == [
        ("2026-11-01", "claude", SONNET, "4420"),
        ("2026-11-02", "claude", SONNET, "660"),
    ]
    code, out, _ = report(home, "projects", "--csv")
    assert out.splitlines()[0].endswith(",requests,branches") and out.splitlines()[1].endswith(",main")


def test_text_table_is_aligned_with_a_totals_row(home: Path) -> None:
    write_claude(home, "cross", MIDNIGHT)
    code, out, _ = report(home, "daily", "--tz", "Asia/Tokyo")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "DAY",
        "INPUT",
        "OUTPUT",
        "CACHE",
        "W",
        "CACHE",
        "R",
        "TOTAL",
        "COST",
        "SESSIONS",
    ]
    assert lines[1].split()[:6] == ["2026-11-01", "100", "20", "300", "4,000", "4,420"]
    assert lines[-1].split()[:6] == ["TOTAL", "107", "23", "350", "4,600", "5,080"]
    assert len({len(ln) for ln in lines}) == 1  # right-aligned numbers: every line ends in the same column


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "blocks", "projects", "models", "tools"])
def test_empty_home_gives_empty_rows_and_exit_0(home: Path, kind: str) -> None:
    data = report_json(home, kind)
    assert data["rows"] == [] and data["report"] == kind
    assert data["totals"]["usage"]["total_tokens"] == 0 and data["totals"]["sessions"] == 0
    code, out, _ = report(home, kind)
    assert code == 0 and out == f"no usage to report ({kind})\n"
    code, out, _ = report(home, kind, "--csv")
    assert code == 0 and out.count("\n") == 1 and out.startswith("period,agent_type,model,")


def test_cost_formatting() -> None:
    assert [fmt_cost(c) for c in (None, 0.0, 0.004, 0.01, 1234.5)] == [
        "?",
        "$0.00",
        "<$0.01",
        "$0.01",
        "$1,234.50",
    ]


def test_library_works_on_plain_sessions() -> None:
    """``build_report`` needs only AgentSession objects (no store, no files): the TUI can use it too."""
    log = RequestLog()
    log.append(ms("2026-11-01T23:59:00+00:00"), SONNET, (1, 2, 3, 4, 1))
    log.append(ms("2026-11-02T00:01:00+00:00"), SONNET, (10, 20, 30, 40, 5))
    log.append(None, SONNET, (100, 0, 0, 0, 0))  # untimed: in no day, but in the model totals
    s = AgentSession(agent_type=AgentType.CLAUDE, session_id="x", path="/x.jsonl", requests=log)
    daily = build_report("daily", [s], tz=UTC)
    assert [(r.period, r.usage.total_tokens, r.usage.reasoning_tokens) for r in daily.rows] == [
        ("2026-11-01", 10, 1),
        ("2026-11-02", 100, 5),
    ]
    assert build_report("models", [s]).totals.usage.total_tokens == 210
    assert build_report("models", [s], since_ms=1).totals.usage.total_tokens == 110
    with pytest.raises(ValueError):
        build_report("hourly", [s])


def test_real_cli_home_matches_truth(real_home: Path, samples: Path) -> None:
    """Files the real CLIs wrote: report totals equal truth.json's usage and tool-call counts."""
    truth = json.loads((samples / "real" / "truth.json").read_text())
    daily = report_json(real_home, "daily", "--breakdown")
    for agent in ("claude", "codex", "gemini"):
        want = sum(t["usage"]["total_tokens"] for t in truth if t["agent_type"] == agent)
        got = sum(r["usage"]["total_tokens"] for r in daily["rows"] if r["agent_type"] == agent)
        assert got == want, agent
    assert daily["totals"]["sessions"] == len(truth)
    tools = report_json(real_home, "tools")
    assert tools["totals"]["calls"] == sum(t["tool_calls"] for t in truth)


def test_chart_draws_one_bar_per_day_under_the_table_and_json_is_unchanged(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    write_claude(home, "cross", MIDNIGHT)
    code, plain_out, _ = report(home, "daily", "--tz", "Asia/Tokyo")
    code_c, chart_out, _ = report(home, "daily", "--tz", "Asia/Tokyo", "--chart")
    assert code == code_c == 0
    assert chart_out.startswith(plain_out)  # the table first, unchanged
    chart = chart_out[len(plain_out) :].strip("\n").splitlines()
    days = [r["period"] for r in report_json(home, "daily", "--tz", "Asia/Tokyo")["rows"]]
    assert len(days) == 2
    # One bar line per day, labelled with it; no escape codes into a pipe; within 80 columns.
    assert [next(line for line in chart if line.startswith(d)) for d in days]
    assert "\x1b" not in chart_out and max(len(line) for line in chart) <= 80
    assert report_json(home, "daily", "--tz", "Asia/Tokyo", "--chart") == report_json(
        home, "daily", "--tz", "Asia/Tokyo"
    )
