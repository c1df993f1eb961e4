"""Cost: per-tier bucketing must equal pricing every request on its own."""

from __future__ import annotations

import random

import pytest

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
