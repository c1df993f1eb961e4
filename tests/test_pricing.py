"""Cost: per-tier bucketing must equal pricing every request on its own."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers.sessions import spec_for, synth

from agent_session import AgentHomes, SessionStore
from agent_session.model import AgentType, TokenUsage
from agent_session.pricing import CostAccumulator, price_request


def usage(rng: random.Random, big: bool) -> TokenUsage:
    scale = 400_000 if big else 20_000
    return TokenUsage(
        input_tokens=rng.randint(0, scale),
        output_tokens=rng.randint(0, 5_000),
        cache_creation_tokens=rng.randint(0, scale // 4),
        cache_read_tokens=rng.randint(0, scale),
    )


@pytest.mark.parametrize(
    ("agent", "model"),
    [
        (AgentType.CLAUDE, "claude-sonnet-4-5"),  # long-context tier above 200k input
        (AgentType.CLAUDE, "claude-opus-4-1"),
        (AgentType.CODEX, "gpt-5"),
        (AgentType.GEMINI, "gemini-2.5-pro"),  # tiered above 200k
    ],
)
def test_bucketed_cost_equals_per_request_cost(agent: AgentType, model: str) -> None:
    rng = random.Random(42)
    requests = [usage(rng, big=i % 3 == 0) for i in range(60)]
    acc = CostAccumulator(agent)
    for u in requests:
        acc.add(model, u)
    expected = 0.0
    for u in requests:
        price = price_request(model, u, agent)
        assert price is not None
        expected += price
    cost, unpriced = acc.result()
    assert unpriced == []
    assert cost == pytest.approx(expected, rel=1e-9)


def test_tiers_change_the_price_of_large_requests() -> None:
    small = TokenUsage(input_tokens=100_000)
    large = TokenUsage(input_tokens=300_000)
    p_small = price_request("gemini-2.5-pro", small, AgentType.GEMINI)
    p_large = price_request("gemini-2.5-pro", large, AgentType.GEMINI)
    assert p_small is not None and p_large is not None
    assert p_large > 3 * p_small  # the long-context rate is higher per token


def test_replacing_a_request_takes_its_cost_back() -> None:
    acc = CostAccumulator(AgentType.CLAUDE)
    u1 = TokenUsage(input_tokens=1000, output_tokens=10)
    u2 = TokenUsage(input_tokens=1000, output_tokens=500)
    acc.add("claude-opus-4-1", u1)
    acc.add("claude-opus-4-1", u1, -1)
    acc.add("claude-opus-4-1", u2)
    assert acc.result()[0] == pytest.approx(price_request("claude-opus-4-1", u2, AgentType.CLAUDE))


def test_unknown_model_is_unknown_not_zero() -> None:
    acc = CostAccumulator(AgentType.CODEX)
    acc.add("synthetic-model-9000", TokenUsage(input_tokens=10, output_tokens=5))
    assert acc.result() == (None, ["synthetic-model-9000"])
    acc.add("gpt-5", TokenUsage(input_tokens=10, output_tokens=5))
    cost, unpriced = acc.result()
    assert cost is not None and cost > 0 and unpriced == ["synthetic-model-9000"]


# -- absolute figures, independent of the project's pricing code ------------------------------
#
# Published list prices in dollars per million tokens, as genai-prices 0.2.3 carries them
# (checked 2026-12-02 against its data and the vendors' pricing pages), for requests below
# the 200k-token long-context tiers, which every generated request here is:
#   claude-sonnet-4-5 (Anthropic): input 3, output 15, cache write (5 min) 3.75, cache read 0.30
#   gpt-5 (OpenAI):                input 1.25, output 10, cached input 0.125, no cache writes
#   gemini-2.5-pro (Google):       input 1.25, output 10 (thinking included), cached input 0.125
# Written out by hand so that a wrong mapping of our token buckets to genai-prices' fields (cache
# reads billed as input, reasoning counted twice, Gemini's cached part charged at the full rate…)
# makes these tests fail, which comparing two paths through the same code could not.
PUBLISHED_PER_MTOK = {
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0, "cache_write": 3.75, "cache_read": 0.30},
    "gpt-5": {"input": 1.25, "output": 10.0, "cache_write": 0.0, "cache_read": 0.125},
    "gemini-2.5-pro": {"input": 1.25, "output": 10.0, "cache_write": 0.0, "cache_read": 0.125},
}


def _by_hand(model: str, u: TokenUsage) -> float:
    rate = PUBLISHED_PER_MTOK[model]
    return (
        u.input_tokens * rate["input"]
        + u.output_tokens * rate["output"]
        + u.cache_creation_tokens * rate["cache_write"]
        + u.cache_read_tokens * rate["cache_read"]
    ) / 1_000_000


@pytest.mark.parametrize(
    ("agent", "model", "dollars"),
    [
        # One request: 1,000 fresh input, 2,000 output, 10,000 cache write, 100,000 cache read.
        # 1000*3 + 2000*15 + 10000*3.75 + 100000*0.30 = 100,500 $/MTok-tokens -> $0.1005
        (AgentType.CLAUDE, "claude-sonnet-4-5", 0.1005),
        # 1000*1.25 + 2000*10 + 100000*0.125 = 33,750 -> $0.03375 (no cache writes in the sample)
        (AgentType.CODEX, "gpt-5", 0.03375),
        (AgentType.GEMINI, "gemini-2.5-pro", 0.03375),
    ],
)
def test_one_request_costs_the_published_price(agent: AgentType, model: str, dollars: float) -> None:
    cache_write = 10_000 if agent is AgentType.CLAUDE else 0
    u = TokenUsage(
        input_tokens=1_000, output_tokens=2_000, cache_creation_tokens=cache_write, cache_read_tokens=100_000
    )
    assert _by_hand(model, u) == pytest.approx(dollars, abs=1e-12)
    assert price_request(model, u, agent) == pytest.approx(dollars, rel=1e-9)


@pytest.mark.parametrize(
    ("agent", "model"),
    [("claude", "claude-sonnet-4-5"), ("codex", "gpt-5"), ("gemini", "gemini-2.5-pro")],
)
def test_generated_session_cost_equals_published_rates(agent: str, model: str, home: Path) -> None:
    """A whole session parsed from a generated file: ``cost_usd`` equals its usage at list prices."""
    spec = spec_for(agent, 0, models=(model,), turns=4)
    synth(agent).write_session(home, spec)
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    (session,) = store.sessions()
    expected = synth(agent).expected(spec)
    assert list(expected) == [model] and session.usage == expected[model]
    dollars = _by_hand(model, expected[model])
    assert dollars > 0.01  # large enough that a wrong rate on any bucket shows
    assert session.cost_usd == pytest.approx(dollars, rel=1e-9)
    assert session.unpriced_models == []
