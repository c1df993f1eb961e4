"""``agentsession report daily|weekly|monthly|blocks|projects|models|tools``: argparse wiring and output.

The numbers come from :mod:`agent_session.reports` (pure computation); this
module turns the command line into its inputs (time bounds read in the
report's ``--tz``, the agent and project filters) and renders the result as an
aligned table with a totals row, as JSON (``{"report", "rows", "totals"}``)
or as CSV (one header line, one line per row, no totals line so a
spreadsheet's own sums stay right).

The lead wires it into :mod:`agent_session.cli` with
``add_report_parser(sub)`` and ``run_report(args, out, err)``. Exit codes
follow the other commands: 0 (an empty home included), 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .discovery import AgentHomes
from .errors import InvalidArgument
from .formatting import fmt_cost, fmt_count
from .model import AgentSession, AgentType, ToolEvent
from .reports import (
    REPORT_KINDS,
    Report,
    ReportRow,
    ToolEvents,
    build_report,
    project_of,
    tool_report,
)
from .store import MAX_PAGE_SIZE, SessionStore
from .text import display_width, dump_json, one_line, pad, parse_time_bound

__all__ = ["add_report_parser", "fmt_cost", "fmt_int", "render_table", "run_report"]

_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "total_tokens",
)


# ------------------------------------------------------------------ parser
def add_report_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``report`` to ``agentsession``'s subcommands."""
    p = subparsers.add_parser(
        "report",
        help="token and cost totals per day, week, month, 5-hour block, project, model or tool",
        description="Usage reports. Requests are placed by their own time, in --tz.",
    )
    p.add_argument(
        "kind",
        choices=REPORT_KINDS,
        help="what the rows are: one per day, ISO week, month, 5-hour block, project, model or tool",
    )
    p.add_argument(
        "--home",
        metavar="DIR",
        help="read DIR/.claude, DIR/.codex, DIR/.gemini instead of yours (default: your home)",
    )
    p.add_argument(
        "--since",
        metavar="WHEN",
        help="only requests at or after WHEN: a date, a time or an age (7d) (default: no limit)",
    )
    p.add_argument(
        "--until",
        metavar="WHEN",
        help="only requests before WHEN; a bare date includes that whole day (default: no limit)",
    )
    p.add_argument(
        "--agent",
        choices=[a.value for a in AgentType],
        help="only this agent's sessions (default: all agents)",
    )
    p.add_argument(
        "--project",
        metavar="DIR",
        help="only sessions of this project, by its path or its name (default: all projects)",
    )
    p.add_argument(
        "--tz", metavar="ZONE", help="IANA time zone for days, weeks, months and times (default: local)"
    )
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="one row per agent and model in each period (default: one row per period)",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", action="store_true", help="machine-readable JSON output (default: a text table)"
    )
    fmt.add_argument(
        "--csv", action="store_true", help="comma-separated rows with a header line (default: a text table)"
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="ignore the summary cache in ~/.cache/agentsession; only a speed-up, never trusted for data (default: use it)",
    )
    p.add_argument(
        "--chart",
        action="store_true",
        help="daily, weekly, monthly: stacked bars of tokens per period by agent under the table, "
        "left out when the terminal is too small (default: no chart)",
    )
    # Tests (and reproducible output) pin the clock that decides the active block.
    p.add_argument("--now", metavar="WHEN", help=argparse.SUPPRESS)
    return p


# ------------------------------------------------------------------ arguments
def _zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"unknown time zone {name!r} (an IANA name like Europe/Paris)") from None


def _bound(value: str | None, tz: tzinfo | None, *, end: bool = False) -> int | None:
    """``--since``/``--until`` in epoch ms; dates and times without a zone are read in ``--tz``."""
    if value is None:
        return None
    text = value.strip()
    if tz is not None:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = None
        if dt is not None and dt.tzinfo is None:
            if end and _BARE_DATE.fullmatch(text):
                dt += timedelta(days=1)
            return int(dt.replace(tzinfo=tz).timestamp() * 1000)
    return parse_time_bound(text, end=end)


def _project_matches(session: AgentSession, wanted: str) -> bool:
    project = project_of(session)
    want = wanted.rstrip("/") or "/"
    return project.rstrip("/") == want or os.path.basename(project.rstrip("/")) == want


# ------------------------------------------------------------------ formatting
# The CLI and the monitor share one formatting module, so costs read the same everywhere.
fmt_int = fmt_count


def _fmt_duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(ms // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def render_table(rows: Sequence[Sequence[str]], right: Sequence[bool], out: TextIO) -> None:
    """Columns aligned by terminal cells; ``right[i]`` right-aligns column i (numbers)."""
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = []
        for cell, w, is_right in zip(r, widths, right, strict=True):
            cells.append(" " * (w - display_width(cell)) + cell if is_right else pad(cell, w))
        out.write("  ".join(cells).rstrip() + "\n")


def _label(text: str | None) -> str:
    return one_line(text, 120) or "-"


def _usage_cells(row: ReportRow) -> list[str]:
    u = row.usage
    return [
        fmt_int(u.input_tokens),
        fmt_int(u.output_tokens),
        fmt_int(u.cache_creation_tokens),
        fmt_int(u.cache_read_tokens),
        fmt_int(u.total_tokens),
        fmt_cost(row.cost_usd),
    ]


_USAGE_HEAD = ["INPUT", "OUTPUT", "CACHE W", "CACHE R", "TOTAL", "COST"]
_FIRST_HEAD = {
    "daily": "DAY",
    "weekly": "WEEK",
    "monthly": "MONTH",
    "blocks": "BLOCK START",
    "projects": "PROJECT",
    "models": "MODEL",
    "tools": "TOOL",
}


def _text(report: Report, breakdown: bool, out: TextIO) -> None:
    if not report.rows:
        out.write(f"no usage to report ({report.kind})\n")
        return
    if report.kind == "tools":
        _tools_text(report, out)
        return
    head = [_FIRST_HEAD[report.kind]]
    if report.kind == "models" or breakdown:
        head += ["AGENT", "MODEL"] if report.kind != "models" else ["AGENT"]
    elif report.kind == "blocks":
        head += ["AGENT"]
    head += [*_USAGE_HEAD, "SESSIONS"]
    extra_head: list[str] = []
    if report.kind == "projects":
        extra_head = ["BRANCHES"]
    elif report.kind == "blocks":
        extra_head = ["STATUS"]
    rows: list[list[str]] = [head + extra_head]
    for r in report.rows:
        cells = [_label(r.period)]
        if report.kind == "models":
            cells.append(r.agent_type.value if r.agent_type else "-")
        elif breakdown:
            cells += [r.agent_type.value if r.agent_type else "-", _label(r.model)]
        elif report.kind == "blocks":
            cells.append(r.agent_type.value if r.agent_type else "-")
        cells += [*_usage_cells(r), fmt_int(r.sessions)]
        if report.kind == "projects":
            cells.append(_label(", ".join(r.extra.get("branches", []))))
        elif report.kind == "blocks":
            cells.append(_block_status(r))
        rows.append(cells)
    t = report.totals
    total = (
        ["TOTAL"] + [""] * (len(head) - 1 - len(_USAGE_HEAD) - 1) + [*_usage_cells(t), fmt_int(t.sessions)]
    )
    rows.append(total + [""] * len(extra_head))
    n_label = len(head) - len(_USAGE_HEAD) - 1
    right = [False] * n_label + [True] * (len(_USAGE_HEAD) + 1) + [False] * len(extra_head)
    render_table(rows, right, out)
    unpriced = t.unpriced_models
    if unpriced:
        out.write(f"no price known for: {_label(', '.join(unpriced))} (not in COST)\n")


def _block_status(r: ReportRow) -> str:
    if not r.extra.get("active"):
        return ""
    rate = r.extra["burn_tokens_per_minute"]
    usd_h = r.extra.get("burn_usd_per_hour")
    cost = f", {fmt_cost(usd_h)}/h" if usd_h is not None else ""
    projected = fmt_int(r.extra["projected_total_tokens"])
    left = int(r.extra["remaining_minutes"])
    return f"ACTIVE {fmt_int(round(rate))} tok/min{cost}, projected {projected}, {left} min left"


def _tools_text(report: Report, out: TextIO) -> None:
    head = ["TOOL", "CALLS", "ERRORS", "DURATION", "OUTPUT TOK", "SESSIONS"]
    right = [False, True, True, True, True, True]

    def cells(r: ReportRow) -> list[str]:
        e = r.extra
        return [
            _label(r.period),
            fmt_int(e["calls"]),
            fmt_int(e["errors"]),
            _fmt_duration(e["duration_ms"]),
            fmt_int(e["output_tokens"]),
            fmt_int(r.sessions),
        ]

    rows = [head] + [cells(r) for r in report.rows]
    rows.append(["TOTAL", *cells(report.totals)[1:]])
    render_table(rows, right, out)
    if report.mcp_servers:
        out.write("\n")
        mcp = [["MCP SERVER", *head[1:]]] + [
            [_label(r.extra["mcp_server"]), *cells(r)[1:]] for r in report.mcp_servers
        ]
        render_table(mcp, right, out)


def _csv(report: Report, out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    extra_keys: list[str] = []
    for r in report.rows:
        for k in r.extra:
            if k not in extra_keys:
                extra_keys.append(k)
    w.writerow(
        ["period", "agent_type", "model", *_USAGE_FIELDS, "cost_usd", "sessions", "requests", *extra_keys]
    )
    for r in report.rows:
        u = r.usage.model_dump(mode="json")
        extras = [r.extra.get(k) for k in extra_keys]
        w.writerow(
            [
                _csv_text(r.period),
                r.agent_type.value if r.agent_type else "",
                _csv_text(r.model or ""),
                *(u[f] for f in _USAGE_FIELDS),
                "" if r.cost_usd is None else repr(r.cost_usd),
                r.sessions,
                r.requests,
                *(_csv_value(v) for v in extras),
            ]
        )


def _csv_value(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return _csv_text(";".join(str(x) for x in v))
    return _csv_text(str(v))


def _csv_text(text: str) -> str:
    """Plain one-line text; a leading ``= + - @`` is quoted so a spreadsheet does not run it."""
    text = one_line(text, 4096) or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------ tools data
def _tool_events(store: SessionStore, session: AgentSession) -> ToolEvents:
    """Every tool call and response of a session: the detail, plus older pages it no longer keeps."""
    detail = store.detail(session)
    ev = detail.events
    if ev is None:
        return [], []
    tools: list[ToolEvent] = []
    for start in range(0, ev.tools_dropped, MAX_PAGE_SIZE):
        tools.extend(store.detail_page(session, "tools", start, min(MAX_PAGE_SIZE, ev.tools_dropped - start)))
    tools.extend(ev.tools)
    responses: list[tuple[int | None, int]] = []
    for start in range(0, ev.responses_dropped, MAX_PAGE_SIZE):
        page = store.detail_page(
            session, "responses", start, min(MAX_PAGE_SIZE, ev.responses_dropped - start)
        )
        responses.extend((r.ts_ms, r.usage.output_tokens) for r in page)
    responses.extend((r.ts_ms, r.usage.output_tokens) for r in ev.llm_responses)
    return tools, responses


# ------------------------------------------------------------------ chart
def _chart(report: Report, out: TextIO) -> str:
    """The ``--chart`` bars for ``out``: sized to the terminal, plain unless a colour terminal."""
    from .charts import bar_chart, chart_rows

    cols, lines = shutil.get_terminal_size((80, 24))
    plain = bool(os.environ.get("NO_COLOR")) or not (hasattr(out, "isatty") and out.isatty())
    return bar_chart(chart_rows(report.rows), cols, max(2, min(lines - 4, 40)), plain=plain)


# ------------------------------------------------------------------ command
def _open_store(args: argparse.Namespace) -> SessionStore:
    """The store as ``cli._open_store`` opens it (not imported: cli.py imports this module)."""
    agents = [AgentType(args.agent)] if args.agent else None
    store = SessionStore(AgentHomes.resolve(args.home), agents=agents, cache=not args.no_cache, follow=False)
    store.refresh()
    return store


def run_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Body of ``agentsession report``; returns the exit code (0, or 2 for a bad argument)."""
    try:
        tz = _zone(args.tz)
        since = _bound(args.since, tz)
        until = _bound(args.until, tz, end=True)
        now = _bound(args.now, tz) if getattr(args, "now", None) else None
    except InvalidArgument as exc:
        err.write(f"agentsession: {one_line(str(exc), 4096)}\n")
        return 2
    if since is not None and until is not None and since > until:
        err.write("agentsession: --since is after --until: no request can match\n")
        return 2
    store = _open_store(args)
    try:
        sessions = store.sessions()
        if args.agent:
            sessions = [s for s in sessions if s.agent_type.value == args.agent]
        if args.project:
            sessions = [s for s in sessions if _project_matches(s, args.project)]
        if args.kind == "tools":
            report = tool_report(
                ((s, _tool_events(store, s)) for s in sessions), since_ms=since, until_ms=until
            )
        else:
            report = build_report(
                args.kind,
                sessions,
                tz=tz,
                since_ms=since,
                until_ms=until,
                breakdown=args.breakdown,
                now_ms=now,
            )
        chart = None
        if (
            getattr(args, "chart", False)
            and args.kind in ("daily", "weekly", "monthly")
            and not (args.json or args.csv)
        ):
            by_agent = build_report(
                args.kind, sessions, tz=tz, since_ms=since, until_ms=until, breakdown=True, now_ms=now
            )
            chart = _chart(by_agent, out)
        problems = len(store.errors)
    finally:
        store.close()
    report.meta = {"tz": args.tz or "local", "since_ms": since, "until_ms": until}
    if args.json:
        out.write(dump_json(report.to_json()).decode())
    elif args.csv:
        _csv(report, out)
    else:
        _text(report, args.breakdown, out)
        if chart:
            out.write(f"\n{chart}\n")
    if problems:
        err.write(f"agentsession: {problems} session file(s) could not be read (see `agentsession doctor`)\n")
    return 0
