"""Token-rate sparklines: a block-character line per agent or per session, with the rate beside it.

Why block characters in text rather than Textual's ``Sparkline`` widget: the
same picture has to live inside a ``DataTable`` cell (a renderable, not a
widget), read the same under ``NO_COLOR`` (the height of a block carries
the value, colour only decorates), and shrink or vanish when space runs out
while the rate number stays. The series come from
:func:`agent_session.charts.per_minute_series`; this module only draws.

Scaling is per line: the tallest minute of *this* line is a full block, so a
quiet session still shows its shape. A minute with no tokens is always
``▁`` (a baseline), any minute with tokens at least ``▂``: a single request
in thirty idle minutes never disappears.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import App
from textual.widgets import Static

from agent_session.charts import BLOCKS, sparkline_chars

from ..formatting import fmt_tokens

__all__ = [
    "BLOCKS",
    "MIN_SPARK_WIDTH",
    "RateSparkline",
    "fmt_rate",
    "no_color",
    "rate_cell",
    "rate_line",
    "spark_style",
    "sparkline_chars",
    "sparkline_text",
]

#: Fewer cells than this tell nothing; the sparkline is dropped and the rate kept.
MIN_SPARK_WIDTH = 4


def no_color() -> bool:
    """True when the user asked for no colour (https://no-color.org: any non-empty value)."""
    return bool(os.environ.get("NO_COLOR"))


def sparkline_text(values: Sequence[int | float], width: int, *, plain: bool, style: str = "") -> Text | str:
    """:func:`sparkline_chars` as a plain ``str`` (``plain``) or a ``Text`` in ``style``."""
    chars = sparkline_chars(values, width)
    if plain:
        return chars
    return Text(chars, style=style, no_wrap=True, end="")


def fmt_rate(per_minute: float) -> str:
    """``950/min``, ``12k/min``: the token rate in the monitor's token format."""
    return f"{fmt_tokens(max(0, round(per_minute)))}/min"


def rate_line(
    values: Sequence[int | float],
    rate: float,
    width: int,
    *,
    plain: bool,
    style: str = "",
    label: str = "",
    label_style: str = "",
) -> Text | str:
    """``label ▁▂▅█ 12k/min`` in at most ``width`` cells.

    The sparkline takes what the label and the rate leave (newest minutes
    kept); under :data:`MIN_SPARK_WIDTH` cells it is dropped, never the rate.
    """
    rate_s = fmt_rate(rate)
    head = f"{label} " if label else ""
    room = width - len(head) - len(rate_s) - 1
    spark_w = min(len(values), room)
    fits = room >= MIN_SPARK_WIDTH and spark_w > 0
    if plain:
        if not fits:
            return head + rate_s
        return head + sparkline_chars(values, spark_w) + " " + rate_s
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if head:
        text.append(head, style=label_style)
    if fits:
        text.append(sparkline_chars(values, spark_w), style=style)
        text.append(" ")
    text.append(rate_s)
    return text


def rate_cell(
    values: Sequence[int | float], rate: float, width: int, *, plain: bool | None = None, style: str = ""
) -> Text | str:
    """A ``DataTable`` cell: ``▁▂▅█ 12k/min`` in ``width`` cells (``plain`` defaults to NO_COLOR)."""
    return rate_line(values, rate, width, plain=no_color() if plain is None else plain, style=style)


def spark_style(app: App[Any]) -> str:
    """The sparkline colour of the app's current theme (its accent), so a theme switch recolours it."""
    variables = app.theme_variables
    return variables.get("accent") or variables.get("primary") or ""


class RateSparkline(Static):
    """One labelled rate line (``claude ▁▂▅█ 12k/min``) for the totals bar, one per agent type.

    Feed it with :meth:`show` (a per-minute series and the current rate);
    it redraws only when those change, on resize (the sparkline shrinks to
    fit, then goes) and on a theme switch.
    """

    DEFAULT_CSS = """
    RateSparkline {
        height: 1;
        width: 1fr;
    }
    """

    def __init__(
        self, label: str = "", *, label_style: str = "", plain: bool | None = None, **kwargs: Any
    ) -> None:
        super().__init__("", **kwargs)
        self.label = label
        self.label_style = label_style
        self._plain = no_color() if plain is None else plain
        self._values: tuple[int, ...] = ()
        self._rate = 0.0
        self._drawn: tuple[object, ...] | None = None

    @property
    def values(self) -> tuple[int, ...]:
        return self._values

    @property
    def rate(self) -> float:
        return self._rate

    def on_mount(self) -> None:
        # The signal fires once the new theme's variables are in place (a watch on App.theme can run first).
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw(force=True))
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def show(self, values: Sequence[int], rate: float) -> None:
        """Set the series (oldest first) and the current tokens-per-minute rate."""
        self._values = tuple(values)
        self._rate = rate
        self._redraw()

    def _redraw(self, *, force: bool = False) -> None:
        if not self.is_mounted:
            return
        width = self.content_size.width or self.size.width
        style = "" if self._plain else spark_style(self.app)
        key = (self._values, self._rate, width, style)
        if key == self._drawn and not force:
            return
        self._drawn = key
        self.update(
            rate_line(
                self._values,
                self._rate,
                width,
                plain=self._plain,
                style=style,
                label=self.label,
                label_style="" if self._plain else self.label_style,
            )
        )
