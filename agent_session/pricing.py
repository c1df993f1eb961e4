"""Offline cost estimates from genai-prices, priced per request but computed per tier.

Long-context tiers apply per request (a request whose total input crosses a
tier start pays the tier rate on all its tokens), so summing usage first and
pricing the sum would be wrong. Calling ``calc_price`` for every request is
right but costs ~70 µs of Decimal arithmetic each, too slow for a cold scan of
a large history. Inside one tier the price is linear in the token counts, so
we bucket requests by ``(model, tier index)`` as they arrive and price each
bucket once, when a cost is asked for, as ``n × price(mean request)``: the
mean of requests that all sit in one tier sits in that tier too, so the tier
genai-prices picks for it is the right one (pricing the *sum* would cross
into the long-context tier). A test checks the result against ``calc_price``
request by request.

A model genai-prices does not know yields ``None`` and is listed as unpriced:
an unknown price is never reported as $0.
"""

from __future__ import annotations

import warnings
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .model import AgentType, TokenUsage

__all__ = ["CostAccumulator", "price_request"]

_PROVIDER = {AgentType.CLAUDE: "anthropic", AgentType.CODEX: "openai", AgentType.GEMINI: "google"}


@dataclass(frozen=True)
class _ModelPricing:
    model_ref: str
    provider_id: str | None
    #: Sorted tier starts over all tiered prices of the model (input-token thresholds).
    tier_starts: tuple[int, ...]


@lru_cache(maxsize=512)
def _resolve(model: str, agent: AgentType | None) -> _ModelPricing | None:
    from genai_prices import Usage, calc_price
    from genai_prices.types import TieredPrices

    provider = _PROVIDER.get(agent) if agent is not None else None
    for pid in (provider, None) if provider else (None,):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                calc = calc_price(Usage(input_tokens=1, output_tokens=1), model_ref=model, provider_id=pid)
        except (LookupError, ValueError):
            continue
        starts: set[int] = set()
        for value in vars(calc.model_price).values():
            if isinstance(value, TieredPrices):
                starts.update(t.start for t in value.tiers)
        return _ModelPricing(model, pid, tuple(sorted(starts)))
    return None


def _genai_usage(u: TokenUsage, n: int = 1) -> Any:
    from genai_prices import Usage

    # genai-prices counts cache reads and writes as parts of input_tokens.
    return Usage(
        input_tokens=(u.input_tokens + u.cache_creation_tokens + u.cache_read_tokens) / n,
        cache_read_tokens=u.cache_read_tokens / n,
        cache_write_tokens=u.cache_creation_tokens / n,
        output_tokens=u.output_tokens / n,
    )


def _calc(pricing: _ModelPricing, usage: TokenUsage, n: int = 1) -> float:
    """Price of ``n`` requests summing to ``usage``, all in one tier."""
    from genai_prices import calc_price

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = calc_price(
            _genai_usage(usage, n), model_ref=pricing.model_ref, provider_id=pricing.provider_id
        )
    return float(result.total_price) * n


def price_request(model: str, usage: TokenUsage, agent: AgentType | None = None) -> float | None:
    """Price one request directly (the slow, obviously-right path; used to check the fast one)."""
    pricing = _resolve(model, agent)
    return None if pricing is None else _calc(pricing, usage)


@dataclass
class CostAccumulator:
    """Per-session cost state: usage summed per (model, tier) bucket."""

    agent: AgentType | None = None
    _buckets: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    _counts: dict[tuple[str, int], int] = field(default_factory=dict)
    _cached: tuple[float | None, tuple[str, ...]] | None = None

    def add(self, model: str, usage: TokenUsage | tuple[int, int, int, int, int], sign: int = 1) -> None:
        """Add one request (``sign=-1`` takes it back out); usage as TokenUsage or its ``as_tuple()``."""
        counts = usage.as_tuple() if isinstance(usage, TokenUsage) else usage
        total_input = counts[0] + counts[2] + counts[3]
        pricing = _resolve(model, self.agent)
        tier = 0
        if pricing is not None and pricing.tier_starts:
            # A tier applies when total input is strictly above its start.
            tier = bisect_left(pricing.tier_starts, total_input)
        key = (model, tier)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [0, 0, 0, 0, 0]
        for i in range(5):
            bucket[i] += sign * counts[i]
        self._counts[key] = self._counts.get(key, 0) + sign
        self._cached = None

    def result(self) -> tuple[float | None, list[str]]:
        """(cost in USD or None when no model is priced, models with unknown prices)."""
        if self._cached is None:
            total = 0.0
            priced = False
            unpriced: list[str] = []
            for key, counts in self._buckets.items():
                model, n = key[0], self._counts.get(key, 0)
                usage = TokenUsage.from_tuple((counts[0], counts[1], counts[2], counts[3], counts[4]))
                pricing = _resolve(model, self.agent)
                if pricing is None:
                    if not usage.is_zero() and model not in unpriced:
                        unpriced.append(model)
                    continue
                priced = True
                if n > 0 and not usage.is_zero():
                    total += _calc(pricing, usage, n)
            self._cached = (total if priced else None, tuple(unpriced))
        cost, unpriced_t = self._cached
        return cost, list(unpriced_t)
