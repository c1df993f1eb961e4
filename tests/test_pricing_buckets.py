"""Pricing per (model, tier) bucket with cached rates equals ``calc_price`` request by request."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import genai_prices
import pytest
from helpers.usage_corpus import full_parse, sample_files, session_files, write_home

from agent_session import pricing
from agent_session.model import AgentSession, AgentType, TokenUsage
from agent_session.pricing import CostAccumulator, price_request, price_requests
from agent_session.requests import RequestLog

TIERED = [
    (AgentType.CLAUDE, "claude-sonnet-4-5"),  # long context above 200k input
    (AgentType.GEMINI, "gemini-2.5-pro"),  # above 200k input
]
FLAT = [
    (AgentType.CLAUDE, "claude-opus-4-1"),
    (AgentType.CODEX, "gpt-5"),
    (AgentType.GEMINI, "gemini-2.5-flash"),
]


@pytest.fixture
def calc_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Counts ``calc_price`` calls, from empty rate caches."""
    calls: list[str] = []
    real = genai_prices.calc_price

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(kwargs.get("model_ref")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(genai_prices, "calc_price", counting)
    pricing._resolve.cache_clear()
    pricing._rates.cache_clear()
    yield calls
    pricing._resolve.cache_clear()
    pricing._rates.cache_clear()


def boundary_requests(rng: random.Random, n: int) -> list[tuple[int, int, int, int, int]]:
    """Requests around and on the 200k tier start, split over the buckets in every way."""
    out = []
    for i in range(n):
        total_input = rng.choice([199_999, 200_000, 200_001, 200_002, 1, 2, 150_000, 450_000, 1_000_000])
        if i % 7 == 0:
            total_input = rng.randint(0, 600_000)
        cw = rng.randint(0, total_input // 3)
        cr = rng.randint(0, total_input - cw)
        out.append((total_input - cw - cr, rng.randint(0, 30_000), cw, cr, 0))
    return out


@pytest.mark.parametrize(("agent", "model"), TIERED + FLAT)
def test_bucketed_equals_per_request(agent: AgentType, model: str) -> None:
    rng = random.Random(7)
    reqs = boundary_requests(rng, 120)
    acc = CostAccumulator(agent)
    expected = 0.0
    for counts in reqs:
        acc.add(model, counts)
        p = price_request(model, TokenUsage.from_tuple(counts), agent)
        assert p is not None
        expected += p
    cost, unpriced = acc.result()
    assert unpriced == []
    assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("agent", "model"), TIERED)
def test_the_tier_is_decided_per_request_not_on_the_sum(agent: AgentType, model: str) -> None:
    # Two requests of 150k input each: neither is long-context, their sum would be.
    acc = CostAccumulator(agent)
    acc.add(model, (150_000, 0, 0, 0, 0))
    acc.add(model, (150_000, 0, 0, 0, 0))
    one = price_request(model, TokenUsage(input_tokens=150_000), agent)
    summed = price_request(model, TokenUsage(input_tokens=300_000), agent)
    assert one is not None and summed is not None
    assert acc.result()[0] == pytest.approx(2 * one, rel=1e-12)
    assert summed > 2 * one * 1.5  # the long-context rate, which must not apply here
    # Exactly at the start is still the base tier; one token above is not.
    at = price_request(model, TokenUsage(input_tokens=200_000), agent)
    above = price_request(model, TokenUsage(input_tokens=200_001), agent)
    assert at is not None and above is not None and above > at * 1.5


def test_calc_price_runs_per_model_and_tier_not_per_session(calc_calls: list[str]) -> None:
    rng = random.Random(3)
    costs = []
    for _ in range(200):  # 200 sessions, 30 requests each, both tiers
        acc = CostAccumulator(AgentType.CLAUDE)
        for counts in boundary_requests(rng, 30):
            acc.add("claude-sonnet-4-5", counts)
        costs.append(acc.result()[0])
    assert all(c is not None and c > 0 for c in costs)
    # One lookup of the model, then five probes per tier (base and long context).
    assert len(calc_calls) == 1 + 5 * 2
    assert set(calc_calls) == {"claude-sonnet-4-5"}


def test_replacing_and_removing_requests() -> None:
    acc = CostAccumulator(AgentType.GEMINI)
    acc.add("gemini-2.5-pro", (250_000, 10, 0, 0, 0))
    acc.add("gemini-2.5-pro", (250_000, 10, 0, 0, 0), -1)
    acc.add("gemini-2.5-pro", (1_000, 10, 0, 0, 0))
    expected = price_request(
        "gemini-2.5-pro", TokenUsage(input_tokens=1_000, output_tokens=10), AgentType.GEMINI
    )
    assert acc.result()[0] == pytest.approx(expected, rel=1e-12)


def test_unpriced_models_stay_unknown() -> None:
    log = RequestLog()
    log.append(1, "no-such-model-x", (10, 1, 0, 0, 0))
    assert price_requests(log, AgentType.CODEX) == (None, ["no-such-model-x"])
    log.append(2, "gpt-5", (10, 1, 0, 0, 0))
    cost, unpriced = price_requests(log, AgentType.CODEX)
    assert cost == pytest.approx(
        price_request("gpt-5", TokenUsage(input_tokens=10, output_tokens=1)), rel=1e-12
    )
    assert unpriced == ["no-such-model-x"]


def per_request_cost(s: AgentSession) -> float | None:
    total, priced = 0.0, False
    for r in s.requests:
        p = price_request(r.model, TokenUsage.from_tuple(r.counts), s.agent_type)
        if p is not None:
            total += p
            priced = True
    return total if priced else None


def check_session_cost(s: AgentSession) -> None:
    expected = per_request_cost(s)
    if expected is None:
        assert s.cost_usd is None
    else:
        assert s.cost_usd == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert price_requests(s.requests, s.agent_type)[0] == s.cost_usd
    times = sorted(r.ts_ms for r in s.requests if r.ts_ms)
    if expected is not None and times and all(r.ts_ms for r in s.requests):
        # Windows split the cost exactly: every request is in one of them.
        mid = times[len(times) // 2]
        first = price_requests(s.requests, s.agent_type, None, mid)[0] or 0.0
        rest = price_requests(s.requests, s.agent_type, mid, None)[0] or 0.0
        assert first + rest == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_session_costs_equal_per_request_pricing_on_generated_files(tmp_path: Path) -> None:
    write_home(tmp_path, seeds=2)
    files = session_files(tmp_path)
    assert len(files) == 23
    for sf in files:
        check_session_cost(full_parse(sf))


def test_session_costs_equal_per_request_pricing_on_shared_samples(samples: Path) -> None:
    for sf in sample_files(samples):
        check_session_cost(full_parse(sf))


@pytest.mark.parametrize(("agent", "model"), TIERED)
def test_windows_of_a_request_log_are_priced_per_request_tier(agent: AgentType, model: str) -> None:
    rng = random.Random(11)
    log = RequestLog()
    reqs = boundary_requests(rng, 80)
    for i, counts in enumerate(reqs):
        log.append(1_000 + i, model, counts)

    def expected(lo: int, hi: int) -> float:
        return sum(price_request(model, TokenUsage.from_tuple(c), agent) or 0.0 for c in reqs[lo:hi])

    assert price_requests(log, agent)[0] == pytest.approx(expected(0, 80), rel=1e-9)
    assert price_requests(log, agent, 1_010, 1_050)[0] == pytest.approx(expected(10, 50), rel=1e-9)
    assert price_requests(log, agent, 2_000, None) == (None, [])  # nothing in the window: nothing priced
