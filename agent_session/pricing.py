"""Offline cost estimates from genai-prices, priced per request but computed per bucket.

Long-context tiers apply per request (a request whose total input crosses a
tier start pays the tier rate on all its tokens), so summing usage first and
pricing the sum would be wrong. Calling ``calc_price`` for every request is
right but costs ~70 µs of Decimal arithmetic each: per usage entry it was 2.8 s
of a 6.4 s cold scan. Inside one tier the price is linear in the token counts,
so:

* requests are bucketed by ``(model, tier index)`` as they arrive (the tier
  decided by each request's own total input, never by an aggregate);
* each ``(model, tier)`` gets its per-token rates and per-request fee *once
  per process* (:func:`_rates`, five ``calc_price`` probes inside the tier,
  exact ``Decimal`` arithmetic), cached;
* a bucket's price is then ``Σ rate × tokens + n × fee``: no ``calc_price``
  call per session, let alone per request.

Tests check the result against ``calc_price`` request by request (to 1e-9),
on tiered models, and around the tier boundaries.

A model genai-prices does not know yields ``None`` and is listed as unpriced:
an unknown price is never reported as $0.
"""

from __future__ import annotations

import warnings
from bisect import bisect_left
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .model import AgentType, TokenUsage

if TYPE_CHECKING:
    from .requests import RequestLog

__all__ = ["CostAccumulator", "context_window", "price_request", "price_requests", "request_cost"]

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


def _genai_usage(u: TokenUsage | tuple[int, int, int, int, int]) -> Any:
    from genai_prices import Usage

    c = u.as_tuple() if isinstance(u, TokenUsage) else u
    # genai-prices counts cache reads and writes as parts of input_tokens.
    return Usage(
        input_tokens=c[0] + c[2] + c[3],
        cache_read_tokens=c[3],
        cache_write_tokens=c[2],
        output_tokens=c[1],
    )


def _calc_decimal(pricing: _ModelPricing, counts: tuple[int, int, int, int, int]) -> Decimal:
    """``calc_price`` of one request: the reference every fast path is checked against."""
    from genai_prices import calc_price

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = calc_price(
            _genai_usage(counts), model_ref=pricing.model_ref, provider_id=pricing.provider_id
        )
    return Decimal(result.total_price)


@dataclass(frozen=True)
class _Rates:
    """Price of one request inside one tier: per-token rates per bucket plus a fixed fee."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal
    per_request: Decimal

    def price(self, counts: tuple[int, int, int, int, int] | list[int], n: int) -> Decimal:
        """Price of ``n`` requests of one tier whose buckets sum to ``counts``."""
        return (
            self.input * counts[0]
            + self.output * counts[1]
            + self.cache_write * counts[2]
            + self.cache_read * counts[3]
            + self.per_request * n
        )


def _tier_of(pricing: _ModelPricing, counts: tuple[int, int, int, int, int] | list[int]) -> int:
    """Tier index of one request: a tier applies when total input is strictly above its start."""
    if not pricing.tier_starts:
        return 0
    return bisect_left(pricing.tier_starts, counts[0] + counts[2] + counts[3])


@lru_cache(maxsize=1024)
def _rates(pricing: _ModelPricing, tier: int) -> _Rates | None:
    """Rates of a (model, tier), from ``calc_price`` probes inside the tier (exact Decimals).

    Two requests of total input ``lo+1`` and ``lo+2`` (both in the tier) give the
    input rate and the fixed fee; one more probe per bucket gives its rate. None
    when the tier is too narrow to probe (never seen in genai-prices' data): the
    caller then prices those requests one by one.
    """
    starts = pricing.tier_starts
    lo = 0 if tier == 0 else starts[tier - 1]
    hi = starts[tier] if tier < len(starts) else None
    t1, t2 = lo + 1, lo + 2
    if hi is not None and t2 > hi:
        return None
    p1 = _calc_decimal(pricing, (t1, 0, 0, 0, 0))
    r_in = _calc_decimal(pricing, (t2, 0, 0, 0, 0)) - p1
    fee = p1 - r_in * t1
    r_out = _calc_decimal(pricing, (t1, 1, 0, 0, 0)) - p1
    r_cw = (_calc_decimal(pricing, (0, 0, t1, 0, 0)) - fee) / t1
    r_cr = (_calc_decimal(pricing, (0, 0, 0, t1, 0)) - fee) / t1
    return _Rates(r_in, r_out, r_cw, r_cr, fee)


def request_cost(
    model: str, counts: tuple[int, int, int, int, int], agent: AgentType | None = None
) -> Decimal | None:
    """One request's exact price from the cached (model, tier) rates a session's cost uses.

    For callers pricing many single requests (a timeline's running cost): a
    one-request :class:`CostAccumulator` each costs far more bookkeeping than
    the rates themselves. None when the model has no known price.
    """
    pricing = _resolve(model, agent)
    if pricing is None:
        return None
    rates = _rates(pricing, _tier_of(pricing, counts))
    return rates.price(counts, 1) if rates is not None else _calc_decimal(pricing, counts)


def price_request(model: str, usage: TokenUsage, agent: AgentType | None = None) -> float | None:
    """Price one request with ``calc_price`` directly (the slow, obviously-right path the fast one is tested against)."""
    pricing = _resolve(model, agent)
    return None if pricing is None else float(_calc_decimal(pricing, usage.as_tuple()))


@dataclass
class CostAccumulator:
    """Per-session cost state: usage summed per (model, tier) bucket, each bucket priced once."""

    agent: AgentType | None = None
    _buckets: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    _cached: tuple[float | None, tuple[str, ...]] | None = None
    #: Requests of tiers too narrow to probe, priced one by one (empty in practice).
    _odd: dict[tuple[str, tuple[int, int, int, int, int]], int] = field(default_factory=dict)
    #: Per model seen: its pricing (None: unknown) and tier starts.
    _models: dict[str, tuple[_ModelPricing | None, tuple[int, ...]]] = field(default_factory=dict)
    #: (model, tier) buckets whose rates could not be probed (their requests go to ``_odd``).
    _unprobed: set[tuple[str, int]] = field(default_factory=set)

    def add(self, model: str, usage: TokenUsage | tuple[int, int, int, int, int], sign: int = 1) -> None:
        """Add one request (``sign=-1`` takes it back out); usage as TokenUsage or its ``as_tuple()``."""
        counts = usage.as_tuple() if isinstance(usage, TokenUsage) else usage
        # Per model: its pricing and tier starts, looked up once (this runs once per request).
        known = self._models.get(model)
        if known is None:
            pricing = _resolve(model, self.agent)
            known = self._models[model] = (pricing, pricing.tier_starts if pricing is not None else ())
        pricing, starts = known
        tier = bisect_left(starts, counts[0] + counts[2] + counts[3]) if starts else 0
        key = (model, tier)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [0, 0, 0, 0, 0, 0]
            if pricing is not None and _rates(pricing, tier) is None:
                self._unprobed.add(key)
        bucket[0] += sign * counts[0]
        bucket[1] += sign * counts[1]
        bucket[2] += sign * counts[2]
        bucket[3] += sign * counts[3]
        bucket[4] += sign * counts[4]
        bucket[5] += sign  # requests in the bucket (the per-request fee)
        if key in self._unprobed:
            okey = (model, counts)
            self._odd[okey] = self._odd.get(okey, 0) + sign
        self._cached = None

    def result(self) -> tuple[float | None, list[str]]:
        """(cost in USD or None when no model is priced, models with unknown prices)."""
        if self._cached is None:
            self._cached = _price_buckets(self._buckets, self._odd, self.agent)
        cost, unpriced_t = self._cached
        return cost, list(unpriced_t)


def _price_buckets(
    buckets: dict[tuple[str, int], list[int]],
    odd: dict[tuple[str, tuple[int, int, int, int, int]], int],
    agent: AgentType | None,
) -> tuple[float | None, tuple[str, ...]]:
    total = Decimal(0)
    priced = False
    unpriced: list[str] = []
    for (model, tier), b in buckets.items():
        pricing = _resolve(model, agent)
        if pricing is None:
            if any(b[:5]) and model not in unpriced:
                unpriced.append(model)
            continue
        priced = True
        rates = _rates(pricing, tier)
        if rates is not None and b[5] > 0:
            total += rates.price(b, b[5])
    for (model, counts), n in odd.items():
        pricing = _resolve(model, agent)
        if pricing is not None and n > 0:
            total += _calc_decimal(pricing, counts) * n
    return (float(total) if priced else None, tuple(unpriced))


def price_requests(
    log: RequestLog, agent: AgentType | None, start_ms: int | None = None, end_ms: int | None = None
) -> tuple[float | None, list[str]]:
    """Cost of a session's requests, all or those in ``[start_ms, end_ms)`` (records without a
    time are in no window), bucketed by (model, tier) and priced per bucket.

    Same result shape as ``CostAccumulator.result``: the cost is None when no
    request of a known model is in the window (an empty window included).
    """
    acc = CostAccumulator(agent)
    windowed = start_ms is not None or end_ms is not None
    lo = max(start_ms or 1, 1)
    hi = end_ms if end_ms is not None else 1 << 63
    for r in log:
        if windowed and not lo <= r.ts_ms < hi:
            continue
        acc.add(r.model, r.counts)
    return acc.result()


@lru_cache(maxsize=512)
def context_window(model: str, agent: AgentType | None = None) -> int | None:
    """The model's context window in tokens from genai-prices, None when it is not known.

    The monitor shows how full a session's context is (last prompt size
    against this); an unknown window must read as unknown, never as a guess.
    """
    pricing = _resolve(model, agent)
    if pricing is None:
        return None
    from genai_prices import Usage, calc_price

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calc = calc_price(
                Usage(input_tokens=1, output_tokens=1),
                model_ref=pricing.model_ref,
                provider_id=pricing.provider_id,
            )
    except (LookupError, ValueError):
        return None
    window = getattr(calc.model, "context_window", None)
    return window if isinstance(window, int) and window > 0 else None
