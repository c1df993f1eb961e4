"""Per-request usage records, kept compactly in every session summary.

Why: the monitor's first question is "who burns tokens *now*", and reports
want daily, weekly, monthly and 5-hour-block totals. A summary that only
holds sums cannot answer either without re-reading the history; a list of
pydantic objects per request would cost hundreds of bytes each. So a
:class:`RequestLog` keeps one *record* per request in parallel ``array('q')``
columns (time, the four buckets, reasoning) plus an ``array('I')`` of model
indexes into a small list of names: 6 × 8 + 4 = **52 bytes per request** in
memory, whatever the model name or the counts.

One record per request, as the parsers count it:

* Claude: one per ``(message.id, requestId)`` holding the message's final
  usage; a later, larger block line *replaces* the record in place.
* Codex: one per positive increase of the running total, charged to the
  model in force.
* Gemini: one per message id; a re-written message replaces its record.

So the sum of the records is, per bucket and per model, exactly the
session's ``usage`` and ``model_usage``.

``ts_ms`` is the request's own time (the time of the line that carried the
usage that won). A line without a usable time stores ``0``: such records
count in totals but in no time window (:meth:`RequestLog.usage_between`),
since placing them anywhere would be a guess.

Buckets are ``(input, output, cache_creation, cache_read, reasoning)`` in the
IR's meaning (``TokenUsage``); the long-context pricing tier is decided by
``input + cache_creation + cache_read`` of each record, so no tier column is
stored (:func:`agent_session.pricing.price_requests` buckets records by tier).

The JSON form (what the summary cache stores) is columns of ints, times
delta-encoded: ``{"m": [names], "mi": [...], "t": [...], "in": [...],
"out": [...], "cw": [...], "cr": [...], "rs": [...]}``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

if TYPE_CHECKING:
    from .model import TokenUsage

__all__ = ["BYTES_PER_REQUEST", "RequestLog", "RequestRecord", "UsageTuple", "block_starts"]

#: (input, output, cache_creation, cache_read, reasoning), as ``TokenUsage.as_tuple()``.
UsageTuple = tuple[int, int, int, int, int]

#: Memory per request in a :class:`RequestLog` (array item sizes, not counting growth slack).
BYTES_PER_REQUEST = 6 * array("q").itemsize + array("I").itemsize

_BUCKET_KEYS = ("in", "out", "cw", "cr", "rs")
_MAX_INT = (1 << 63) - 1
_MINUTE_MS = 60_000


def block_starts(timestamps: Iterable[int], hours: int = 5) -> list[int]:
    """Starts of usage blocks over request times (all sessions of a user, any order).

    The rule of the plan limits users watch (and of ccusage's ``blocks``): a
    block starts at the first request's time floored to the hour and lasts
    ``hours``; the first request at or after its end starts the next block.
    Gaps simply leave no block. Times of 0 (unknown) are ignored.
    """
    span = hours * 3_600_000
    starts: list[int] = []
    end = -1
    for t in sorted(t for t in timestamps if t > 0):
        if t >= end:
            start = t // 3_600_000 * 3_600_000
            starts.append(start)
            end = start + span
    return starts


class RequestRecord(NamedTuple):
    """One request, as read back from a :class:`RequestLog`."""

    ts_ms: int
    model: str
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int

    @property
    def counts(self) -> UsageTuple:
        return (
            self.input_tokens,
            self.output_tokens,
            self.cache_creation_tokens,
            self.cache_read_tokens,
            self.reasoning_tokens,
        )

    @property
    def tier_input_tokens(self) -> int:
        """Total input of the request, which decides its long-context price tier."""
        return self.input_tokens + self.cache_creation_tokens + self.cache_read_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens


class RequestLog:
    """Columnar, append-mostly log of a session's requests (see the module docstring)."""

    __slots__ = ("_cols", "_index", "_mi", "_models", "_ts")

    def __init__(self) -> None:
        self._ts = array("q")
        self._cols = tuple(array("q") for _ in range(5))
        self._mi = array("I")
        self._models: list[str] = []
        self._index: dict[str, int] = {}

    # ------------------------------------------------------------------ writing
    def _model_index(self, model: str) -> int:
        i = self._index.get(model)
        if i is None:
            i = self._index[model] = len(self._models)
            self._models.append(model)
        return i

    def append(self, ts_ms: int | None, model: str, counts: UsageTuple) -> int:
        """Add one request; returns its index (for :meth:`replace`). ``None`` time is stored as 0."""
        self._ts.append(ts_ms or 0)
        for col, n in zip(self._cols, counts, strict=True):
            col.append(n)
        self._mi.append(self._model_index(model))
        return len(self._ts) - 1

    def replace(self, index: int, ts_ms: int | None, model: str, counts: UsageTuple) -> None:
        """Overwrite request ``index`` in place (a re-sent or re-written request)."""
        self._ts[index] = ts_ms or 0
        for col, n in zip(self._cols, counts, strict=True):
            col[index] = n
        self._mi[index] = self._model_index(model)

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._ts)

    def __bool__(self) -> bool:
        return len(self._ts) > 0

    @property
    def models(self) -> list[str]:
        """Model names in first-seen order (a replaced record's old model may stay listed)."""
        return list(self._models)

    def __getitem__(self, index: int) -> RequestRecord:
        c = self._cols
        return RequestRecord(
            self._ts[index],
            self._models[self._mi[index]],
            c[0][index],
            c[1][index],
            c[2][index],
            c[3][index],
            c[4][index],
        )

    def __iter__(self) -> Iterator[RequestRecord]:
        models = self._models
        c = self._cols
        for ts, mi, a, b, cw, cr, rs in zip(self._ts, self._mi, c[0], c[1], c[2], c[3], c[4], strict=True):
            yield RequestRecord(ts, models[mi], a, b, cw, cr, rs)

    def counts_at(self, index: int) -> UsageTuple:
        c = self._cols
        return (c[0][index], c[1][index], c[2][index], c[3][index], c[4][index])

    def model_at(self, index: int) -> str:
        return self._models[self._mi[index]]

    def ts_at(self, index: int) -> int:
        return self._ts[index]

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns (item sizes × records; arrays over-allocate a little more)."""
        return len(self._ts) * BYTES_PER_REQUEST

    # ----------------------------------------------------------------- summing
    def _select(self, start_ms: int | None, end_ms: int | None) -> list[int] | None:
        """Indexes in ``[start_ms, end_ms)``; None means "all records" (no window)."""
        if start_ms is None and end_ms is None:
            return None
        lo = 1 if start_ms is None else max(start_ms, 1)  # time 0 = unknown: in no window
        hi = _MAX_INT if end_ms is None else end_ms
        return [i for i, t in enumerate(self._ts) if lo <= t < hi]

    def totals(self, start_ms: int | None = None, end_ms: int | None = None) -> UsageTuple:
        """Sum per bucket, of all records or of those with ``start_ms <= ts_ms < end_ms``."""
        sel = self._select(start_ms, end_ms)
        c = self._cols
        if sel is None:
            return (sum(c[0]), sum(c[1]), sum(c[2]), sum(c[3]), sum(c[4]))
        return (
            sum(c[0][i] for i in sel),
            sum(c[1][i] for i in sel),
            sum(c[2][i] for i in sel),
            sum(c[3][i] for i in sel),
            sum(c[4][i] for i in sel),
        )

    def by_model(self, start_ms: int | None = None, end_ms: int | None = None) -> dict[str, UsageTuple]:
        """Sum per model and bucket (models in first-seen order; models with no record left out)."""
        sel = self._select(start_ms, end_ms)
        acc: dict[int, list[int]] = {}
        c = self._cols
        for i in range(len(self._ts)) if sel is None else sel:
            row = acc.get(self._mi[i])
            if row is None:
                row = acc[self._mi[i]] = [0, 0, 0, 0, 0]
            row[0] += c[0][i]
            row[1] += c[1][i]
            row[2] += c[2][i]
            row[3] += c[3][i]
            row[4] += c[4][i]
        return {
            self._models[mi]: (r[0], r[1], r[2], r[3], r[4])
            for mi, r in sorted(acc.items(), key=lambda kv: kv[0])
        }

    def usage_between(self, start_ms: int | None, end_ms: int | None) -> TokenUsage:
        """Usage of the requests with ``start_ms <= ts_ms < end_ms`` (None: unbounded on that side).

        Records without a time (``ts_ms == 0``) are in no window, even an unbounded one.
        """
        from .model import TokenUsage

        return TokenUsage.from_tuple(self.totals(start_ms if start_ms is not None else 1, end_ms))

    def count_between(self, start_ms: int | None, end_ms: int | None) -> int:
        """How many requests fall in ``[start_ms, end_ms)``."""
        sel = self._select(start_ms if start_ms is not None else 1, end_ms)
        return len(self._ts) if sel is None else len(sel)

    def tokens_per_minute(self, now_ms: int, minutes: float = 5.0) -> float:
        """Total tokens per minute over the ``minutes`` before ``now_ms`` (``now_ms`` included)."""
        if minutes <= 0:
            raise ValueError("minutes must be positive")
        start = now_ms - int(minutes * _MINUTE_MS)
        t = self.totals(start + 1, now_ms + 1)
        return (t[0] + t[1] + t[2] + t[3]) / minutes

    def totals_by_period(self, period_ms: int, offset_ms: int = 0) -> dict[int, UsageTuple]:
        """Sums per period of ``period_ms`` (days: 86_400_000), keyed by the period's start.

        ``offset_ms`` shifts period boundaries (e.g. a time zone's UTC offset, so
        days start at local midnight). Records without a time are left out.
        """
        if period_ms <= 0:
            raise ValueError("period_ms must be positive")
        acc: dict[int, list[int]] = {}
        c = self._cols
        for i, t in enumerate(self._ts):
            if t <= 0:
                continue
            key = (t + offset_ms) // period_ms * period_ms - offset_ms
            row = acc.get(key)
            if row is None:
                row = acc[key] = [0, 0, 0, 0, 0]
            for b in range(5):
                row[b] += c[b][i]
        return {k: (r[0], r[1], r[2], r[3], r[4]) for k, r in sorted(acc.items())}

    def totals_by(self, key: Callable[[int], Hashable]) -> dict[Hashable, UsageTuple]:
        """Sums per ``key(ts_ms)`` (e.g. a calendar month in a time zone); untimed records left out."""
        acc: dict[Hashable, list[int]] = {}
        c = self._cols
        for i, t in enumerate(self._ts):
            if t <= 0:
                continue
            k = key(t)
            row = acc.get(k)
            if row is None:
                row = acc[k] = [0, 0, 0, 0, 0]
            for b in range(5):
                row[b] += c[b][i]
        return {k: (r[0], r[1], r[2], r[3], r[4]) for k, r in acc.items()}

    def timestamps(self) -> list[int]:
        """Times of the records that have one, sorted (input for :func:`block_starts`)."""
        return sorted(t for t in self._ts if t > 0)

    def last_ts_ms(self) -> int | None:
        """Latest request time, or None when no record has a time."""
        latest = max(self._ts, default=0)
        return latest or None

    # ------------------------------------------------------------ copies, JSON
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RequestLog):
            return NotImplemented
        if self._ts != other._ts or self._cols != other._cols:
            return False
        if self._models == other._models:
            return self._mi == other._mi
        return [self._models[i] for i in self._mi] == [other._models[i] for i in other._mi]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RequestLog({len(self)} requests, models={self._models!r})"

    def copy(self) -> RequestLog:
        out = RequestLog.__new__(RequestLog)
        out._ts = self._ts[:]
        out._cols = tuple(c[:] for c in self._cols)
        out._mi = self._mi[:]
        out._models = list(self._models)
        out._index = dict(self._index)
        return out

    def __copy__(self) -> RequestLog:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> RequestLog:
        return self.copy()

    def __getstate__(self) -> tuple[Any, ...]:
        # The arrays themselves: they pickle as raw bytes (the store ships parser state to workers).
        return (self._ts, self._cols, self._mi, self._models)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self._ts, self._cols, self._mi, self._models = state
        self._index = {m: i for i, m in enumerate(self._models)}

    def to_json_obj(self) -> dict[str, Any]:
        """The compact JSON form: columns of ints, times as deltas from the previous one."""
        ts = self._ts
        deltas = [ts[0], *(ts[i] - ts[i - 1] for i in range(1, len(ts)))] if ts else []
        out: dict[str, Any] = {"m": list(self._models), "mi": self._mi.tolist(), "t": deltas}
        for key, col in zip(_BUCKET_KEYS, self._cols, strict=True):
            out[key] = col.tolist()
        return out

    @classmethod
    def from_json_obj(cls, obj: Mapping[str, Any]) -> RequestLog:
        """Rebuild a log from :meth:`to_json_obj`; anything inconsistent raises ``ValueError``."""
        if not isinstance(obj, Mapping):
            raise ValueError(f"a request log is a JSON object, not {type(obj).__name__}")
        models = obj.get("m", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ValueError("request log: 'm' must be a list of model names")
        if len(set(models)) != len(models):
            raise ValueError("request log: duplicate model names in 'm'")
        columns: dict[str, list[int]] = {}
        for key in ("mi", "t", *_BUCKET_KEYS):
            col = obj.get(key, [])
            if not isinstance(col, list) or not all(type(v) is int for v in col):
                raise ValueError(f"request log: {key!r} must be a list of integers")
            columns[key] = col
        n = len(columns["t"])
        if any(len(col) != n for col in columns.values()):
            raise ValueError("request log: columns of different lengths")
        if any(not 0 <= i < len(models) for i in columns["mi"]):
            raise ValueError("request log: model index out of range")
        out = cls()
        out._models = list(models)
        out._index = {m: i for i, m in enumerate(models)}
        try:
            out._mi = array("I", columns["mi"])
            running = 0
            ts = out._ts
            for d in columns["t"]:
                running += d
                ts.append(running)
            out._cols = tuple(array("q", columns[k]) for k in _BUCKET_KEYS)
        except OverflowError as exc:
            raise ValueError(f"request log: value out of range ({exc})") from None
        if any(v < 0 for col in out._cols for v in col) or any(t < 0 for t in out._ts):
            raise ValueError("request log: negative count or time")
        return out

    @classmethod
    def from_trusted_json_obj(cls, obj: Mapping[str, Any]) -> RequestLog:
        """:meth:`from_json_obj` for data this very code wrote (the summary cache, a worker's result).

        Why: checking value by value in Python cost over a second for 50,000
        logs on a warm start. Here every check runs in C: the arrays'
        constructors reject what is not an integer in range, ``min``/``max``
        catch a negative count or time and a model index out of range. A
        missing key or wrong shape raises too (``KeyError``, ``TypeError``,
        ``ValueError``, ``OverflowError``): the caller then falls back to
        :meth:`from_json_obj`, whose error says what is wrong. Unlike it,
        every key must be present (this code always writes them all).
        """
        from itertools import accumulate

        models = obj["m"]
        if type(models) is not list:
            raise TypeError("request log: 'm' must be a list")
        out = cls.__new__(cls)
        out._mi = array("I", obj["mi"])
        out._ts = array("q", accumulate(obj["t"]))
        out._cols = tuple(array("q", obj[k]) for k in _BUCKET_KEYS)
        n = len(out._ts)
        if len(out._mi) != n or any(len(c) != n for c in out._cols) or len(obj) != 2 + len(out._cols) + 1:
            raise ValueError("request log: columns of different lengths, or unknown keys")
        if n and (max(out._mi) >= len(models) or min(out._ts) < 0 or min(min(c) for c in out._cols) < 0):
            raise ValueError("request log: model index out of range, or a negative count or time")
        out._models = models
        out._index = {m: i for i, m in enumerate(models)}
        if len(out._index) != len(models) or not all(type(m) is str for m in models):
            raise ValueError("request log: model names must be distinct strings")
        return out

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Lets ``AgentSession`` hold a log as a field and round-trip it through JSON."""

        def validate(value: Any) -> RequestLog:
            return value if isinstance(value, RequestLog) else cls.from_json_obj(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.to_json_obj(), when_used="always"
            ),
        )
