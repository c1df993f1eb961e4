"""The selected session's detail, rendered as one plain-text ``rich.Text``.

Every value from a session file goes through ``clean_text`` and is appended as
plain text (``Text.append`` never parses markup), so ``[bold]``, ``[link=…]``
or escape sequences in a prompt are shown literally or stripped, never run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import humanize
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from agent_session import AgentSession, TokenUsage
from agent_session.text import clean_text, one_line

from ..formatting import fmt_age, fmt_clock, fmt_cost, fmt_time, fmt_tokens, shorten_path
from ..monitor import CONTEXT_WARN_PCT, DetailView, MatchView, SessionRow
from ..rates import fmt_cost_rate, fmt_ctx, fmt_rate
from .style import agent_style

__all__ = ["DetailPane", "context_bar", "render_detail"]

_LABEL = "bold"
_DIM = "dim"
_BAR = 24
_MAX_FILES = 15
_MAX_PROMPTS = 8


class _Doc:
    """A tiny writer over ``Text`` that only ever appends plain strings."""

    def __init__(self) -> None:
        self.text = Text(no_wrap=False, end="")

    def add(self, value: str, style: str = "") -> _Doc:
        self.text.append(clean_text(value), style=style or None)
        return self

    def field(self, label: str, value: str | None, style: str = "") -> None:
        self.add(f"{label:<11}", _LABEL).add(value if value else "-", style).add("\n")

    def heading(self, title: str) -> None:
        self.add("\n").add(title, "bold underline").add("\n")


def _usage_line(doc: _Doc, u: TokenUsage) -> None:
    doc.add(f"  input {u.input_tokens:,}  ·  output {u.output_tokens:,}")
    if u.reasoning_tokens:
        doc.add(f" (reasoning {u.reasoning_tokens:,})", _DIM)
    doc.add(f"\n  cache write {u.cache_creation_tokens:,}  ·  cache read {u.cache_read_tokens:,}\n")


def render_detail(
    view: DetailView | None,
    now: float,
    *,
    home: str | None = None,
    match: MatchView | None = None,
    total_cost: float | None = None,
    row: SessionRow | None = None,
    rate_window: str = "",
) -> Text:
    doc = _Doc()
    if view is None:
        doc.add("Select a session to see its detail.", _DIM)
        return doc.text
    s = view.session
    if s is None:
        doc.add(f"{view.key}\n", "bold").add(view.error or "loading…", _DIM)
        return doc.text
    _header(doc, s, now, home, match)
    if row is not None:
        _now(doc, row, rate_window)
    _tokens(doc, s, total_cost)
    _tools(doc, s)
    _files(doc, s, home)
    _prompts(doc, s)
    _diagnostics(doc, s)
    return doc.text


def _header(doc: _Doc, s: AgentSession, now: float, home: str | None, match: MatchView | None) -> None:
    doc.add(s.display_id, f"bold {agent_style(s.agent_type.value)}")
    if match is not None:
        conf = f" {match.confidence:.2f}" if match.confidence is not None else ""
        doc.add(f"  ● live, pid {match.root_pid} [{match.evidence or '?'}{conf}]", "bold green")
    doc.add("\n")
    doc.field("session", s.session_id)
    if s.conversation_id and s.conversation_id != s.session_id:
        doc.field("thread", s.conversation_id)
    if s.parent_session_id:
        doc.field("parent", s.parent_session_id)
    doc.field("agent", s.agent_type.value + (f" {s.version}" if s.version else ""))
    doc.field("cwd", shorten_path(s.cwd, home) if s.cwd else None)
    if s.git_branch:
        doc.field("branch", s.git_branch)
    doc.field("file", shorten_path(s.path, home))
    doc.field("model", s.model)
    if len(s.models) > 1:
        doc.field("models", ", ".join(s.models))
    doc.field("started", f"{fmt_time(s.start_timestamp_ms)}  ({fmt_age(s.start_timestamp_ms, now)})")
    doc.field("last", f"{fmt_time(s.last_activity_ms)}  ({fmt_age(s.last_activity_ms, now)})")
    if s.duration_ms is not None:
        doc.field(
            "duration",
            str(
                humanize.precisedelta(
                    timedelta(milliseconds=s.duration_ms), minimum_unit="seconds", format="%0.0f"
                )
            ),
        )


def context_bar(pct: float | None, width: int = _BAR) -> tuple[str, str]:
    """``████░░░░`` for a fill in percent (capped at full) and its style; unknown → empty."""
    if pct is None:
        return ("", "")
    filled = min(width, max(0, round(width * pct / 100)))
    style = "bold red" if pct >= CONTEXT_WARN_PCT else "green"
    return ("█" * filled + "░" * (width - filled), style)


def _now(doc: _Doc, row: SessionRow, rate_window: str) -> None:
    """Burn rate and context fill: what the session costs right now and how close it is to full."""
    doc.heading("Now" + (f" ({rate_window})" if rate_window else ""))
    doc.add(f"  rate {fmt_rate(row.rate_tpm)}", "bold" if row.recent else _DIM)
    doc.add(f"   {fmt_cost_rate(row.rate_usd_h if row.recent else None)}\n", "bold" if row.recent else _DIM)
    if not row.ctx_tokens:
        doc.add("  context -\n", _DIM)
        return
    limit = f"{row.ctx_limit:,}" if row.ctx_limit else "?"
    bar, style = context_bar(row.ctx_pct)
    doc.add("  context ")
    if bar:
        doc.add(bar, style).add(" ")
    doc.add(fmt_ctx(row.ctx_pct), style or _DIM).add(f"  {row.ctx_tokens:,} / {limit} tokens\n", _DIM)


def _tokens(doc: _Doc, s: AgentSession, total_cost: float | None) -> None:
    u = s.usage
    doc.heading("Tokens")
    total = u.total_tokens + s.subagent_usage.total_tokens
    doc.add(f"  total {fmt_tokens(total)}", "bold").add(f"  ({total:,})")
    cost = total_cost if total_cost is not None else s.cost_usd
    doc.add(f"   cost {fmt_cost(cost)}", "bold")
    if s.unpriced_models:
        doc.add(f"  (no price for {', '.join(s.unpriced_models)})", _DIM)
    doc.add(f"   {s.request_count} requests\n")
    _usage_line(doc, u)
    if s.subagent_ids:
        own_cost = f" ({fmt_cost(s.cost_usd)})" if s.cost_usd is not None else ""
        doc.add(
            f"  own {fmt_tokens(u.total_tokens)}{own_cost} + {len(s.subagent_ids)} subagent(s) "
            f"{fmt_tokens(s.subagent_usage.total_tokens)}\n",
            _DIM,
        )
    if s.model_usage:
        width = min(32, max(len(m) for m in s.model_usage))
        for model, mu in sorted(s.model_usage.items(), key=lambda kv: -kv[1].total_tokens):
            name = one_line(model, width) or "?"
            doc.add(f"  {name:<{width}}  {fmt_tokens(mu.total_tokens):>6}")
            buckets = (
                f"\n    in {fmt_tokens(mu.input_tokens)} · out {fmt_tokens(mu.output_tokens)}"
                f" · cache write {fmt_tokens(mu.cache_creation_tokens)} · read {fmt_tokens(mu.cache_read_tokens)}\n"
            )
            doc.add(buckets, _DIM)


def _tools(doc: _Doc, s: AgentSession) -> None:
    n = sum(s.tools.values())
    doc.heading(f"Tools ({n} calls)")
    if not s.tools:
        doc.add("  none\n", _DIM)
        return
    top = max(s.tools.values())
    width = min(24, max(len(t) for t in s.tools))
    for tool, count in sorted(s.tools.items(), key=lambda kv: (-kv[1], kv[0])):
        bar = "█" * max(1, round(_BAR * count / top))
        doc.add(f"  {one_line(tool, width) or '?':<{width}} ").add(bar, "cyan").add(f" {count}\n")


def _files(doc: _Doc, s: AgentSession, home: str | None) -> None:
    doc.heading(f"Files ({len(s.files)})")
    if not s.files:
        doc.add("  none\n", _DIM)
        return
    items = sorted(s.files.items(), key=lambda kv: (-kv[1], kv[0]))
    for path, count in items[:_MAX_FILES]:
        doc.add(f"  {count:>3}  {one_line(shorten_path(path, home), 200)}\n")
    if len(items) > _MAX_FILES:
        doc.add(f"  … {len(items) - _MAX_FILES} more\n", _DIM)


def _prompts(doc: _Doc, s: AgentSession) -> None:
    prompts: list[Any] = list(s.events.prompts) if s.events is not None else []
    doc.heading(f"Prompts ({len(prompts) if prompts else s.prompt_count})")
    if not prompts:
        doc.add(f"  {one_line(s.prompt_preview, 300) or 'none'}\n", "" if s.prompt_preview else _DIM)
        return
    for p in prompts[:_MAX_PROMPTS]:
        doc.add(f"  {fmt_clock(p.ts_ms)}  ", _DIM).add(f"{one_line(p.command or p.text, 300)}\n")
    if len(prompts) > _MAX_PROMPTS:
        doc.add(f"  … {len(prompts) - _MAX_PROMPTS} more\n", _DIM)


def _diagnostics(doc: _Doc, s: AgentSession) -> None:
    d = s.diagnostics
    doc.add("\n")
    line = f"{d.lines_read:,} lines read, {d.lines_skipped:,} skipped"
    if d.unknown_types:
        line += f", {sum(d.unknown_types.values())} of unknown types"
    doc.add(line + "\n", "yellow" if d.has_problems else _DIM)
    if d.last_error:
        doc.add(f"last error: {one_line(d.last_error, 200)}\n", "yellow")


class DetailPane(VerticalScroll):
    """Scrollable detail; repainted only when the detail's fingerprint changes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fingerprint: tuple[Any, ...] | None = ("none",)

    def compose(self) -> ComposeResult:
        yield Static(Text("Waiting for the first refresh…", style=_DIM), id="detail-body")

    def show(
        self,
        view: DetailView | None,
        now: float,
        *,
        home: str | None,
        match: MatchView | None,
        total_cost: float | None = None,
        row: SessionRow | None = None,
        rate_window: str = "",
    ) -> bool:
        fp = (view.fingerprint if view is not None else None, match, total_cost, row, rate_window)
        if fp == self._fingerprint:
            return False
        self._fingerprint = fp
        text = render_detail(
            view, now, home=home, match=match, total_cost=total_cost, row=row, rate_window=rate_window
        )
        self.query_one("#detail-body", Static).update(text)
        return True
