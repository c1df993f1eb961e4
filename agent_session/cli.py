"""``agentsession``: list, show, match and watch agent sessions from the shell.

Exit codes: 0 success (an empty list included: no agent installed is not an
error), 1 nothing found where something was asked for (``match --pid``),
2 usage errors and unknown or ambiguous ids.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import humanize

from . import __version__
from .discovery import AgentHomes
from .model import AgentSession, AgentType
from .store import SessionLookupError, SessionStore
from .text import dump_json, one_line

__all__ = ["main"]


def _since(value: str) -> int:
    """``2026-11-01``, an ISO time, or a relative age like ``90m``, ``12h``, ``7d`` -> epoch ms."""
    m = re.fullmatch(r"(\d+)\s*([smhdw])", value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        seconds = n * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
        return int((datetime.now(UTC) - timedelta(seconds=seconds)).timestamp() * 1000)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date, time or age (like 7d): {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.astimezone()  # a bare date means local midnight
    return int(dt.timestamp() * 1000)


def session_json(session: AgentSession, *, events: bool = False) -> dict[str, Any]:
    """An AgentSession as JSON-ready data with the IR field names."""
    return session.model_dump(mode="json", exclude=None if events else {"events"})


def _fmt_tokens(n: int) -> str:
    return humanize.intword(n, "%.1f") if n >= 1_000_000 else humanize.intcomma(n)


def _fmt_cost(cost: float | None) -> str:
    return "?" if cost is None else f"${cost:,.2f}"


def _fmt_age(ms: int | None) -> str:
    if ms is None:
        return "-"
    return humanize.naturaltime(datetime.now(UTC) - datetime.fromtimestamp(ms / 1000, UTC))


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _open_store(args: argparse.Namespace) -> SessionStore:
    agents = [AgentType(args.agent)] if getattr(args, "agent", None) else None
    store = SessionStore(AgentHomes.resolve(args.home), agents=agents, cache=not args.no_cache)
    store.refresh()
    return store


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    store = _open_store(args)
    sessions = store.sessions()
    if args.since is not None:
        sessions = [s for s in sessions if (s.last_activity_ms or 0) >= args.since]
    if args.json:
        out.write(dump_json([session_json(s) for s in sessions]).decode())
        return 0
    if not sessions:
        out.write("no sessions found\n")
        return 0
    rows = [["ID", "AGENT", "MODEL", "TOKENS", "COST", "ACTIVE", "CWD", "PROMPT"]]
    for s in sessions:
        total = s.usage.total_tokens + s.subagent_usage.total_tokens
        rows.append(
            [
                s.display_id,
                s.agent_type.value + ("/sub" if s.parent_session_id else ""),
                one_line(s.model, 28) or "-",
                _fmt_tokens(total),
                _fmt_cost(s.cost_usd),
                _fmt_age(s.last_activity_ms),
                one_line(s.cwd, 40) or "-",
                one_line(s.prompt_preview, 50) or "",
            ]
        )
    _table(rows, out)
    problems = sum(1 for s in sessions if s.diagnostics.lines_skipped)
    if problems or store.errors:
        out.write(
            f"\n{problems} session(s) with skipped lines, {len(store.errors)} unreadable file(s); "
            "see `agentsession show ID` for details\n"
        )
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = _open_store(args)
    try:
        session = store.detail(args.id)
    except SessionLookupError as exc:
        err.write(f"agentsession: {exc}\n")
        return 2
    if args.json:
        out.write(dump_json(session_json(session, events=True)).decode())
        return 0
    _write_detail(session, out)
    return 0


def _write_detail(s: AgentSession, out: TextIO) -> None:
    def line(label: str, value: object) -> None:
        out.write(f"{label:<14}{one_line(str(value), 300) if value is not None else '-'}\n")

    line("session", s.session_id)
    line("display id", s.display_id)
    line("agent", s.agent_type.value)
    if s.parent_session_id:
        line("parent", s.parent_session_id)
    line("path", s.path)
    line("cwd", s.cwd)
    line("branch", s.git_branch)
    line("version", s.version)
    line("models", ", ".join(s.models) or None)
    line("started", _fmt_ts(s.start_timestamp_ms))
    line("last active", _fmt_ts(s.last_activity_ms))
    if s.duration_ms is not None:
        line("duration", humanize.precisedelta(timedelta(milliseconds=s.duration_ms), minimum_unit="seconds"))
    u = s.usage
    line(
        "tokens",
        f"{u.total_tokens:,} (input {u.input_tokens:,}, output {u.output_tokens:,} incl. reasoning "
        f"{u.reasoning_tokens:,}, cache write {u.cache_creation_tokens:,}, cache read {u.cache_read_tokens:,})",
    )
    for model, mu in s.model_usage.items():
        line(f"  {one_line(model, 11)}", f"{mu.total_tokens:,}")
    if s.subagent_ids:
        line("subagents", f"{len(s.subagent_ids)} using {s.subagent_usage.total_tokens:,} tokens")
    line(
        "cost",
        _fmt_cost(s.cost_usd)
        + (f" (no price for {', '.join(s.unpriced_models)})" if s.unpriced_models else ""),
    )
    d = s.diagnostics
    line("lines", f"{d.lines_read:,} read, {d.lines_skipped:,} skipped {d.skipped_by_reason or ''}")
    if d.unknown_types:
        line("unknown types", ", ".join(f"{k}×{v}" for k, v in d.unknown_types.items()))
    if d.last_error:
        line("last error", d.last_error)
    if s.events is None:
        return
    out.write(f"\nprompts ({len(s.events.prompts)})\n")
    for p in s.events.prompts:
        out.write(f"  {_fmt_ts(p.ts_ms)}  {one_line(p.text, 200)}\n")
    out.write(f"\ntool calls ({len(s.events.tools)})\n")
    for t in s.events.tools:
        dur = f"{t.duration_ms}ms" if t.duration_ms is not None else "-"
        out.write(
            f"  {_fmt_ts(t.ts_ms)}  {t.status.value:<8} {dur:>8}  {one_line(t.tool_name, 30)}: "
            f"{one_line(t.command, 120) or ''}\n"
        )
    if s.files:
        out.write(f"\nfiles ({len(s.files)})\n")
        for path, n in sorted(s.files.items(), key=lambda kv: -kv[1]):
            out.write(f"  {n:>4}  {one_line(path, 200)}\n")


def _fmt_ts(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def cmd_match(args: argparse.Namespace, out: TextIO) -> int:
    from .process.commands import match_command

    return match_command(args.home, args.pid, args.json, out, cache=not args.no_cache)


def cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    """Print one JSON line per session change until interrupted (for scripts and logs)."""
    store = SessionStore(AgentHomes.resolve(args.home), cache=not args.no_cache)
    known: dict[tuple[str, str], int] = {}
    try:
        while True:
            store.refresh()
            for s in store.sessions():
                key = (s.agent_type.value, s.session_id)
                total = s.usage.total_tokens
                if known.get(key) != total or key not in known:
                    known[key] = total
                    out.write(dump_json(session_json(s), compact=True).decode())
            out.flush()
            if args.once:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentsession", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"agentsession {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--home", metavar="DIR", help="read DIR/.claude, DIR/.codex, DIR/.gemini instead of yours"
        )
        p.add_argument("--json", action="store_true", help="machine-readable output")
        no_cache(p)

    def no_cache(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--no-cache",
            action="store_true",
            help="ignore the summary cache in ~/.cache/agentsession (only a speed-up; never trusted for data)",
        )

    p = sub.add_parser("list", help="list sessions, most recent first")
    common(p)
    p.add_argument("--agent", choices=[a.value for a in AgentType])
    p.add_argument("--since", type=_since, metavar="DATE", help="only sessions active since DATE or age (7d)")
    p = sub.add_parser("show", help="one session with its prompts and tool calls")
    common(p)
    p.add_argument("id", help="session id, display id, or a unique prefix")
    p = sub.add_parser("match", help="live agent processes and the sessions they write")
    common(p)
    p.add_argument("--pid", type=int, help="only the match this process belongs to (exit 1 if none)")
    p = sub.add_parser("watch", help="print a JSON line whenever a session changes")
    p.add_argument("--home", metavar="DIR")
    no_cache(p)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "list":
            return cmd_list(args, out)
        if args.command == "show":
            return cmd_show(args, out, err)
        if args.command == "match":
            return cmd_match(args, out)
        if args.command == "watch":
            return cmd_watch(args, out)
    except BrokenPipeError:
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
