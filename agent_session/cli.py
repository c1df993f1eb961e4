"""``agentsession``: list, show, match and watch agent sessions from the shell.

Global options (``--home``, ``--no-cache``, ``--json``) are accepted before or
after the subcommand. Session ids are matched as
:func:`agent_session.events.session_matches` reads them (a prefix of the full
id, or either part of the display id).

Exit codes: 0 success (an empty list included: no agent installed is not an
error), 1 nothing found where something was asked for (``match --pid``), a
session whose file cannot be read (``show``), or output that could not be
written (a full disk, a closed stdout), 2 usage errors (a bad argument) and
unknown or ambiguous ids, 141 when the reader of a pipe went away (``| head``),
as a native tool killed by SIGPIPE would report, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, Union, cast

from . import __version__
from .errors import AgentSessionError, InvalidArgument, SessionUnreadable
from .formatting import fmt_age, fmt_cost, fmt_count, fmt_duration_ms, fmt_time, fmt_tokens, plural
from .schema_names import SCHEMA_NAMES
from .text import (
    MAX_INTERVAL,
    MIN_INTERVAL,
    argument_type,
    display_width,
    dump_json,
    inert_json,
    one_line,
    pad,
    parse_interval,
    parse_time_bound,
)

if TYPE_CHECKING:
    from .cache import CacheEntry
    from .discovery import AgentHomes
    from .model import AgentSession
    from .process import ProcessSnapshot, SessionProcessMatches
    from .store import SessionLookupError, SessionStore

# The models, the store and the event stream (pydantic with them) are imported by
# the commands that use them: ``agentsession --help`` (and a typo's usage error)
# imports neither pydantic nor genai-prices nor textual (``tests/test_lazy_imports.py``).

#: What ``list`` handles: a summary, or a cache entry standing in for one (``SessionStore.listing``).
Listed = Union["AgentSession", "CacheEntry"]
_L = TypeVar("_L", "AgentSession", "Listed")
#: ``AgentType`` values and ``events.EVENT_NAMES``, for the parser without importing the
#: models (a test checks they agree).
AGENT_NAMES: tuple[str, ...] = ("claude", "codex", "gemini")
_EVENT_NAMES_SHOWN: tuple[str, ...] = (
    "session_started",
    "prompt",
    "request",
    "tool_started",
    "tool_finished",
    "session_updated",
    "process_started",
    "process_ended",
)
#: ``report``'s help line, so the top-level help lists it without importing the report
#: module (and the store, pydantic…) unless the command is ``report`` (a test checks it).
_REPORT_HELP = "token and cost totals per day, week, month, 5-hour block, project, model or tool"

__all__ = [
    "build_parser",
    "interval_arg",
    "main",
    "match_command",
    "run_guarded",
    "session_json",
    "session_line",
    "since_arg",
    "until_arg",
]

#: Exit status when the reader of our stdout went away: 128 + SIGPIPE, what a
#: shell reports for ``yes | head -1``'s ``yes``. ``set -o pipefail`` scripts see
#: the same as with any native tool; nothing is printed.
EXIT_BROKEN_PIPE = 141
#: Unreadable files named one by one in the text ``list`` (the rest are counted).
MAX_NAMED_PROBLEMS = 20
#: Ids an ambiguity error names before it says "… and N more".
MAX_NAMED_CANDIDATES = 3
#: ``list --json`` writes its array in pieces of about this many characters.
_WRITE_BLOCK = 1 << 20
#: ``list --sort`` keys.
SORT_KEYS = ("active", "tokens", "cost")


# ------------------------------------------------------------------ argument types
since_arg = argument_type(parse_time_bound, "since")
until_arg = argument_type(lambda v: parse_time_bound(v, end=True), "until")
interval_arg = argument_type(parse_interval, "interval")


def _parse_limit(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise InvalidArgument(f"not a whole number: {value!r}") from None
    if n < 1:
        raise InvalidArgument(f"must be at least 1, not {value!r}")
    return n


def _parse_events(value: str) -> frozenset[str]:
    from .events import EVENT_NAMES

    names = frozenset(v.strip() for v in value.split(",") if v.strip())
    unknown = sorted(names - set(EVENT_NAMES))
    if not names or unknown:
        raise InvalidArgument(
            f"unknown event name(s): {', '.join(unknown) or repr(value)} (known: {', '.join(EVENT_NAMES)})"
        )
    return names


limit_arg = argument_type(_parse_limit, "limit")
events_arg = argument_type(_parse_events, "events")


# ------------------------------------------------------------------ output
def session_json(session: AgentSession, *, events: bool = False) -> dict[str, Any]:
    """An AgentSession as JSON-ready data with the IR field names."""
    return session.model_dump(mode="json", exclude=None if events else {"events"})


def session_line(session: AgentSession) -> str:
    """One session as compact JSON without events: what ``list --json`` writes per element.

    Serialized by the model's own serializer, one session at a time, so 50,000
    sessions never become one giant list of dicts in memory.
    """
    try:
        data = session.__pydantic_serializer__.to_json(session, exclude={"events"})
    except ValueError:  # lone surrogates in a path: dump_json writes them as "?"
        return dump_json(session_json(session), compact=True).decode().rstrip("\n")
    return inert_json(data).decode()


def _table(rows: Sequence[Sequence[str]], out: TextIO, *, right: Collection[int] = ()) -> None:
    """Columns aligned by terminal cells, not characters: CJK and emoji take two cells each.

    Columns in ``right`` (numbers) are right-aligned, headers included. The
    last column is left ragged (a path or a prompt), so a long one does not
    widen every line.
    """
    n = len(rows[0]) - 1
    widths = [max(display_width(r[i]) for r in rows) for i in range(n)]
    for r in rows:
        cells = [
            " " * (w - display_width(c)) + c if i in right else pad(c, w)
            for i, (c, w) in enumerate(zip(r, widths, strict=False))
        ]
        out.write("  ".join([*cells, *r[n:]]).rstrip() + "\n")


def _open_store(args: argparse.Namespace) -> SessionStore:
    from .discovery import AgentHomes
    from .model import AgentType
    from .store import SessionStore

    agents = [AgentType(args.agent)] if getattr(args, "agent", None) else None
    # One-shot: keep summaries only, no per-file parser state (a third of the memory at 50k sessions).
    store = SessionStore(AgentHomes.resolve(args.home), agents=agents, cache=not args.no_cache, follow=False)
    store.refresh()
    return store


def _problems(store: SessionStore) -> list[tuple[str, str, str]]:
    """``(kind, path, reason)`` for every file the store could not read or chose to skip."""
    skipped: dict[str, str] = getattr(store, "skipped", {})  # added to the store separately
    return [("unreadable", p, r) for p, r in sorted(store.errors.items())] + [
        ("skipped", p, r) for p, r in sorted(skipped.items())
    ]


# ------------------------------------------------------------------ list
def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The sessions as a table, or a JSON array on stdout with one JSON warning per problem on stderr.

    stdout stays exactly the array a script parses; files the store could not
    read (or skipped) are named on stderr, one ``{"warning": kind, "path": …,
    "reason": …}`` line each, so "fewer sessions than expected" always has
    a visible cause.
    """
    if args.since is not None and args.until is not None and args.since > args.until:
        err.write("agentsession: --since is after --until: no session can match\n")
        return 2
    store = _open_store(args)
    if args.json:
        # Summaries taken from the cache stay cache entries, printed as they were stored.
        listed = _selected(store.listing(), args)
        _write_json_array(listed, out)
        for kind, path, reason in _problems(store):
            err.write(dump_json({"warning": kind, "path": path, "reason": reason}, compact=True).decode())
        return 0
    sessions = _selected(store.sessions(), args)
    problems = _problems(store)
    if not sessions:
        out.write("no sessions found\n")
    else:
        _write_list_table(sessions, out)
    unreadable = [(p, r) for kind, p, r in problems if kind == "unreadable"]
    for path, reason in unreadable[:MAX_NAMED_PROBLEMS]:
        err.write(f"agentsession: unreadable: {one_line(path, 4096)}: {one_line(reason, 300)}\n")
    with_skips = sum(1 for s in sessions if s.diagnostics.lines_skipped)
    n_skipped = len(problems) - len(unreadable)
    if with_skips or problems:
        out.write(
            f"\n{plural(with_skips, 'session')} with skipped lines, "
            f"{plural(len(unreadable), 'unreadable file')}, {plural(n_skipped, 'skipped file')}; "
            "see `agentsession show ID` and `agentsession doctor`\n"
        )
    return 0


def _selected(sessions: list[_L], args: argparse.Namespace) -> list[_L]:
    """``--since``, ``--until``, ``--sort`` and ``--limit`` applied, in that order."""
    if args.since is not None:
        sessions = [s for s in sessions if (s.last_activity_ms or 0) >= args.since]
    if args.until is not None:
        sessions = [s for s in sessions if _started_ms(s) < args.until]
    sessions = _sorted(sessions, args.sort)
    if args.limit is not None:
        sessions = sessions[: args.limit]
    return sessions


def _write_json_array(sessions: Sequence[Listed], out: TextIO) -> None:
    """A JSON array, one session per line, written as it is serialized (nothing big is built).

    A summary still in its cache entry is printed as the cache holds it: the
    very bytes :func:`session_line` gives for its model (the cache stores that
    form), escaped for a terminal the same way.
    """
    from .model import AgentSession

    if not sessions:
        out.write("[]\n")
        return
    # Written in blocks of about a megabyte: two writes per session were a tenth of a warm listing.
    block: list[str] = []
    size = 0
    sep = "[\n"
    for s in sessions:
        line = session_line(s) if isinstance(s, AgentSession) else inert_json(s.summary_json()).decode()
        block.append(sep)
        block.append(line)
        size += len(line)
        sep = ",\n"
        if size >= _WRITE_BLOCK:
            out.write("".join(block))
            block, size = [], 0
    block.append("\n]\n")
    out.write("".join(block))


def _total_tokens(s: Listed) -> int:
    from .model import AgentSession

    if isinstance(s, AgentSession):
        return s.usage.total_tokens + s.subagent_usage.total_tokens
    return s.total_tokens  # a cache entry has no subagents rolled into it


def _sorted(sessions: list[_L], key: str) -> list[_L]:
    """Largest or most recent first; a session without the value (no time, no price) last."""
    if key == "tokens":
        return sorted(sessions, key=lambda s: -_total_tokens(s))
    if key == "cost":
        return sorted(sessions, key=lambda s: (s.cost_usd is None, -(s.cost_usd or 0.0)))
    return sorted(sessions, key=lambda s: (s.last_activity_ms is None, -(s.last_activity_ms or 0)))


def _started_ms(s: Listed) -> int:
    if s.start_timestamp_ms is not None:
        return s.start_timestamp_ms
    return s.last_activity_ms or 0


def _write_list_table(sessions: Sequence[AgentSession], out: TextIO) -> None:
    rows = [["ID", "AGENT", "MODEL", "TOKENS", "COST", "ACTIVE", "CWD", "PROMPT"]]
    now = time.time()
    for s in sessions:
        rows.append(
            [
                s.display_id,
                s.agent_type.value + ("/sub" if s.parent_session_id else ""),
                one_line(s.model, 40) or "-",
                fmt_tokens(_total_tokens(s)),
                fmt_cost(s.cost_usd),
                fmt_age(s.last_activity_ms, now),
                one_line(s.cwd, 40) or "-",
                one_line(s.prompt_preview, 50) or "",
            ]
        )
    _table(rows, out, right=(3, 4))


# ------------------------------------------------------------------ show
def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .store import SessionLookupError

    store = _open_store(args)
    try:
        session = _find_detail(store, args.id)
    except SessionUnreadable as exc:
        err.write(f"agentsession: {one_line(str(exc), 4096)}\n")
        return 1
    except SessionLookupError as exc:
        hint = ""
        if store.errors and not exc.candidates:
            n = len(store.errors)
            what = "unreadable file or folder" if n == 1 else "unreadable files or folders"
            hint = f" ({n:,} {what} may hide it: `agentsession doctor`)"
        err.write(f"agentsession: {one_line(_lookup_message(exc), 4096)}{hint}\n")
        return 2
    if args.json:
        out.write(dump_json(session_json(session, events=True)).decode())
        return 0
    _write_detail(session, out)
    return 0


def _find_detail(store: SessionStore, query: str) -> AgentSession:
    """The session with events; :class:`SessionUnreadable` when its file is the reason it cannot be shown.

    A file that cannot be read yields no session at all, so a plain lookup
    would answer "no session matches": when the id names exactly one unreadable
    file (session ids are part of every agent's file names), say that instead.
    """
    from .events import find_sessions
    from .store import SessionLookupError

    # Cache entries answer what the lookup reads (ids, display ids, agent): no model is
    # built for 50,000 sessions to find one; ``detail`` parses the one found.
    found = cast("list[AgentSession]", find_sessions(cast("list[AgentSession]", store.listing()), query))
    if len(found) > 1:
        raise SessionLookupError(query, found)
    if not found:
        hits = _unreadable_named(store.errors, query)
        if len(hits) == 1:
            raise SessionUnreadable(*hits[0])
        raise SessionLookupError(query, [])
    session = found[0]
    try:
        return store.detail(session)
    except SessionLookupError:
        # Listed a moment ago, unreadable now (permissions changed, file replaced by a folder…).
        raise SessionUnreadable(
            session.path, store.errors.get(session.path) or _why_unreadable(session.path)
        ) from None


def _lookup_message(exc: SessionLookupError) -> str:
    """``no session matches 'x'``, or the ambiguity with a few ids and how many more matched.

    Display ids can collide (Codex ids share their leading time), so the
    candidates are named by full id when their display ids do not tell them apart.
    """
    found = exc.candidates
    if not found:
        return f"no session matches {exc.query!r}"
    shown = found[:MAX_NAMED_CANDIDATES]
    short = [s.display_id for s in shown]
    if len(set(short)) < len(short):
        short = [f"{s.agent_type.value}:{s.session_id}" for s in shown]
    more = f" … and {len(found) - len(shown)} more" if len(found) > len(shown) else ""
    return (
        f"{exc.query!r} is ambiguous: it matches {len(found)} sessions: {', '.join(short)}{more}; "
        "give more of the id"
    )


def _unreadable_named(errors: dict[str, str], query: str) -> list[tuple[str, str]]:
    agent, sep, bare = query.partition(":")
    if not sep or agent not in AGENT_NAMES:
        bare = query
    parts = [p for p in bare.split(".") if p]  # a display id is "first6.last5"
    if not parts or sum(len(p) for p in parts) < 4:
        return []  # too short to name a file
    return [
        (path, reason)
        for path, reason in sorted(errors.items())
        if all(p in os.path.basename(path) for p in parts)
    ]


def _why_unreadable(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return "the file could not be parsed"


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
    line("models", ", ".join(one_line(m, 200) or "?" for m in s.models) or None)
    line("started", fmt_time(s.start_timestamp_ms))
    line("last active", fmt_time(s.last_activity_ms))
    if s.duration_ms is not None:
        line("duration", fmt_duration_ms(s.duration_ms))
    u = s.usage
    line(
        "tokens",
        f"{fmt_count(u.total_tokens)} (input {fmt_count(u.input_tokens)}, output {fmt_count(u.output_tokens)} "
        f"incl. reasoning {fmt_count(u.reasoning_tokens)}, cache write {fmt_count(u.cache_creation_tokens)}, "
        f"cache read {fmt_count(u.cache_read_tokens)})",
    )
    if s.model_usage:
        # Full model names: cut ones ("claude-sonn…") would make two models look like one.
        names = {model: one_line(model, 200) or "?" for model in s.model_usage}
        counts = {model: fmt_count(mu.total_tokens) for model, mu in s.model_usage.items()}
        wn = max(display_width(n) for n in names.values())
        wc = max(len(c) for c in counts.values())
        for model in s.model_usage:
            out.write(f"  {pad(names[model], wn)}  {counts[model]:>{wc}}\n")
    if s.subagent_ids:
        line(
            "subagents",
            f"{plural(len(s.subagent_ids), 'subagent')} using {fmt_count(s.subagent_usage.total_tokens)} tokens",
        )
    line(
        "cost",
        fmt_cost(s.cost_usd)
        + (f" (no price for {', '.join(s.unpriced_models)})" if s.unpriced_models else ""),
    )
    d = s.diagnostics
    reasons = ", ".join(f"{k} {v:,}" for k, v in d.skipped_by_reason.items())
    line(
        "lines",
        f"{fmt_count(d.lines_read)} read, {fmt_count(d.lines_skipped)} skipped"
        + (f" ({reasons})" if reasons else ""),
    )
    if d.unknown_types:
        line("unknown types", ", ".join(f"{k}×{v}" for k, v in d.unknown_types.items()))
    if d.unknown_fields:
        fields = (
            f"{kind}.{name}×{n}" for kind, names in d.unknown_fields.items() for name, n in names.items()
        )
        line("unknown fields", ", ".join(fields))
    if d.last_error:
        line("last error", d.last_error)
    if s.events is None:
        return
    ev = s.events
    out.write(f"\n{plural(ev.prompts_total, 'prompt')}\n")
    if ev.prompts_dropped:
        out.write(
            f"  … {plural(ev.prompts_dropped, 'earlier prompt')} not shown (the newest {len(ev.prompts):,} are)\n"
        )
    for p in ev.prompts:
        out.write(f"  {fmt_time(p.ts_ms)}  {one_line(p.text, 200)}\n")
    out.write(f"\n{plural(ev.tools_total, 'tool call')}\n")
    if ev.tools_dropped:
        out.write(
            f"  … {plural(ev.tools_dropped, 'earlier call')} not shown (the newest {len(ev.tools):,} are)\n"
        )
    for t in ev.tools:
        out.write(
            f"  {fmt_time(t.ts_ms)}  {t.status.value:<8} {fmt_duration_ms(t.duration_ms):>8}  "
            f"{one_line(t.tool_name, 30)}: {one_line(t.command, 120) or ''}\n"
        )
    if s.files:
        out.write(f"\n{plural(len(s.files), 'file')}\n")
        for path, n in sorted(s.files.items(), key=lambda kv: -kv[1]):
            out.write(f"  {n:>4}  {one_line(path, 200)}\n")


# ------------------------------------------------------------------ match
def _store_sessions(homes: AgentHomes, cache: bool = True) -> list[AgentSession]:
    from .store import SessionStore

    store = SessionStore(homes, cache=cache, follow=False)
    store.refresh()
    return list(store.sessions())


def _match_table(result: SessionProcessMatches, pid: int | None, out: TextIO) -> None:
    rows = [["ROOT", "AGENT", "SESSION", "EVIDENCE", "CONF", "PIDS", "PATH"]]
    shown = [result.match_for_pid(pid)] if pid is not None else list(result.matches)
    for m in shown:
        if m is None:
            continue
        rows.append(
            [
                str(m.root_pid),
                m.agent_type.value,
                m.display_id,
                m.evidence.value,
                f"{m.confidence:.2f}",
                " ".join(str(p) for p in m.matched_pids),
                one_line(m.path, 4096) or "-",
            ]
        )
    if pid is None:
        for tree in result.unmatched:
            pids = " ".join(str(p) for p in tree.pids)
            rows.append([str(tree.root_pid), tree.agent_type.value, "-", "-", "-", pids, "-"])
    _table(rows, out)


def match_command(
    home: str | None,
    pid: int | None,
    as_json: bool,
    out: TextIO,
    *,
    sessions: Callable[[AgentHomes], Sequence[AgentSession]] | None = None,
    snapshot: Callable[[], ProcessSnapshot] | None = None,
    cache: bool = True,
) -> int:
    """Body of ``agentsession match [--home DIR] [--pid PID] [--json]``; returns the exit code.

    With ``--pid`` only the match that pid belongs to is shown (any process of
    the tree, tool children included), and the exit code is 1 when there is none.
    ``--json`` prints an array of matches either way. ``sessions`` and
    ``snapshot`` replace the store and the process table (tests).
    """
    from .discovery import AgentHomes
    from .process import SessionProcessMatcher, match_live

    homes = AgentHomes.resolve(home)
    found = sessions(homes) if sessions is not None else _store_sessions(homes, cache)
    snap = snapshot() if snapshot is not None else None
    result = match_live(SessionProcessMatcher(), list(found), homes, snap)
    selected = list(result.matches)
    if pid is not None:
        m = result.match_for_pid(pid)
        selected = [m] if m is not None else []
    if as_json:
        out.write(dump_json([m.to_dict() for m in selected]).decode())
    elif pid is not None and not selected:
        out.write(f"no agent session matched for pid {pid}\n")
    else:
        _match_table(result, pid, out)
    return 1 if pid is not None and not selected else 0


def cmd_match(args: argparse.Namespace, out: TextIO) -> int:
    return match_command(args.home, args.pid, args.json, out, cache=not args.no_cache)


# ------------------------------------------------------------------ watch
def cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    """One JSON line per event until interrupted (see :mod:`agent_session.events`)."""
    from .discovery import AgentHomes
    from .events import EVENT_NAMES, EventStream, event_json
    from .model import AgentType
    from .store import SessionStore

    agents = [AgentType(args.agent)] if args.agent else None
    store = SessionStore(
        AgentHomes.resolve(args.home), agents=agents, cache=not args.no_cache, watch=not args.once
    )
    events = args.events if args.events is not None else frozenset(EVENT_NAMES)
    snapshot = None
    if events & {"process_started", "process_ended"}:
        from .process import ProcessSnapshotter

        snapshot = ProcessSnapshotter().snapshot
    stream = EventStream(
        store,
        agents=agents,
        session=args.session,
        events=events,
        from_start=args.from_start,
        snapshot=snapshot,
    )
    try:
        for batch in stream.follow(args.interval, once=args.once):
            for event in batch:
                out.write(event_json(event).decode())
            if batch:
                out.flush()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()


# ------------------------------------------------------------------ schema
def cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    """The JSON Schema of one command's output, or of all of them keyed by command."""
    from .schemas import schema_for

    if args.name is not None:
        out.write(dump_json(schema_for(args.name)).decode())
    else:
        out.write(dump_json({name: schema_for(name) for name in SCHEMA_NAMES}).decode())
    return 0


# ------------------------------------------------------------------ doctor
def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    from .doctor import diagnose

    report = diagnose(args.home, cache=not args.no_cache)
    if args.json:
        out.write(dump_json(report.to_json()).decode())
    else:
        out.write(report.to_text())
    return 0


# ------------------------------------------------------------------ parser
_DESCRIPTION = (
    "List, show, match and watch the sessions of local coding agents (Claude Code, Codex, Gemini CLI)."
)
_EPILOG = """\
global options (--home, --no-cache, --json) go before or after the command.
session ids: the full id, any unique prefix of it, or either part of the
display id (01a20c.4cb6b, 01a20c or 4cb6b), optionally as agent:ID.

exit status: 0 success (an empty list too), 1 nothing found where something
was asked for (match --pid), an unreadable session file (show) or output that
could not be written, 2 bad arguments and unknown or ambiguous ids, 130 on
Ctrl-C, 141 when the reader of a pipe went away.
"""


def _global_options(p: argparse.ArgumentParser, *, here: bool) -> None:
    """``--home``, ``--no-cache``, ``--json``: on the top parser (``here``) and on every command.

    On the commands their default is SUPPRESS, so a value given before the
    command is not reset by the command's parser.
    """
    kw: dict[str, Any] = {} if here else {"default": argparse.SUPPRESS}
    p.add_argument(
        "--home",
        metavar="DIR",
        help="read DIR/.claude, DIR/.codex and DIR/.gemini instead of the agent homes of the current "
        "user (default: your home and the CLAUDE_CONFIG_DIR, CODEX_HOME and GEMINI_HOME variables)",
        **kw,
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="ignore the summary cache in ~/.cache/agentsession; it is only a speed-up and never "
        "trusted for data (default: use it)",
        **kw,
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="machine-readable JSON output; watch and schema always print JSON (default: a text table)",
        **kw,
    )


def _defer_to_global_options(p: argparse.ArgumentParser) -> None:
    """A command module's own ``--home``/``--no-cache``/``--json`` must not reset one given before it.

    ``report`` and ``serve`` define them so their parsers work on their own;
    here their defaults become SUPPRESS, as :func:`_global_options` does.
    """
    for action in p._actions:
        if action.dest in ("home", "no_cache", "json"):
            action.default = argparse.SUPPRESS


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help that keeps the epilog's line breaks and gives options room."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The ``agentsession`` parser. ``lazy``: ``report`` is a placeholder that takes no arguments.

    :func:`main` parses with the lazy parser first (``parse_known_args``) and
    again with the whole one when the command is ``report`` or arguments were
    left over: the report module imports the store and the models, which a
    ``--help`` or another command need not load.
    """
    parser = argparse.ArgumentParser(
        prog="agentsession", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"agentsession {__version__}")
    _global_options(parser, here=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            formatter_class=_Formatter,
        )
        _global_options(p, here=False)
        return p

    agent_help = "only sessions of this agent (default: all agents)"
    agents = list(AGENT_NAMES)

    p = command("list", "list sessions, most recently active first")
    p.add_argument("--agent", choices=agents, help=agent_help)
    p.add_argument(
        "--since",
        type=since_arg,
        metavar="WHEN",
        help="only sessions active since WHEN: a date, a time or an age like 7d (default: no limit)",
    )
    p.add_argument(
        "--until",
        type=until_arg,
        metavar="WHEN",
        help="only sessions started before WHEN; a bare date includes that whole day (default: no limit)",
    )
    p.add_argument(
        "--sort",
        choices=SORT_KEYS,
        default="active",
        help="order: active (most recent activity first), tokens or cost (largest first) (default: active)",
    )
    p.add_argument(
        "--limit", type=limit_arg, metavar="N", help="show only the first N sessions (default: all)"
    )

    p = command("show", "one session with its prompts and tool calls")
    p.add_argument("id", help="session id, any unique prefix of it, or either part of the display id")

    p = command("match", "live agent processes and the sessions they write")
    p.add_argument(
        "--pid",
        type=int,
        help="only the match this process belongs to, exit status 1 if none (default: every match)",
    )

    p = command("watch", "print one JSON line per event: prompts, requests, tool calls, processes")
    p.add_argument("--agent", choices=agents, help=agent_help)
    p.add_argument(
        "--session", metavar="ID", help="only events of the sessions ID names (default: every session)"
    )
    p.add_argument(
        "--events",
        type=events_arg,
        metavar="NAMES",
        help=f"comma-separated event names to print, from: {', '.join(_EVENT_NAMES_SHOWN)} (default: all)",
    )
    p.add_argument(
        "--from-start",
        action="store_true",
        help="first replay the history of every session, then follow (default: only new events)",
    )
    p.add_argument(
        "--interval",
        type=interval_arg,
        default=1.0,
        metavar="SECONDS",
        help=f"seconds between checks when no file change wakes the watch, {MIN_INTERVAL:g} to "
        f"{MAX_INTERVAL:g} (default: 1)",
    )
    p.add_argument("--once", action="store_true", help=argparse.SUPPRESS)

    p = command("doctor", "why sessions or processes are missing: homes, files, cache")

    from .serve.cli import add_serve_parser

    if lazy:
        # Its arguments are left for the whole parser (``parse_known_args``).
        report = sub.add_parser("report", help=_REPORT_HELP, add_help=False)
    else:
        from .cli_report import add_report_parser

        report = add_report_parser(sub)
    for p in (report, add_serve_parser(sub)):
        _defer_to_global_options(p)

    p = command("schema", "print the JSON Schema of a command's JSON output")
    p.add_argument(
        "name",
        nargs="?",
        choices=SCHEMA_NAMES,
        help="the command whose output to describe; watch describes one line (default: all, by command)",
    )
    return parser


def _check_home(home: str | None) -> str | None:
    """Why ``--home`` cannot be used (None: it can). A typo must not look like "no sessions"."""
    if home is None:
        return None
    path = Path(home).expanduser()
    if not path.exists():
        return f"--home {home}: no such directory"
    if not path.is_dir():
        return f"--home {home}: not a directory"
    return None


# ------------------------------------------------------------------ entry
class _OutputError(Exception):
    """Writing our own output failed (a full disk, an I/O error): not a problem in the data."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))


class _Guarded:
    """stdout with write failures told apart from every other ``OSError`` the command may meet."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _prepare_streams() -> None:
    """Make output safe before anything is written.

    A descriptor 0-2 the caller closed is reopened on /dev/null, so no file we
    open later lands on it (and no worker process writes into a session or the
    cache by accident). Text that the locale cannot encode (``PYTHONIOENCODING
    =ascii``, a C locale) is written with ``?`` instead of raising.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="replace")


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null, so the interpreter's final flush cannot fail (or print) again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def run_guarded(prog: str, body: Callable[[TextIO, TextIO], int]) -> int:
    """Run a command's ``body(out, err)`` with the output failures every CLI meets handled once.

    - The reader went away (``| head``, ``| true``): nothing more is written,
      no traceback, exit 141 (:data:`EXIT_BROKEN_PIPE`).
    - stdout closed (``>&-``), on a full disk (``> /dev/full``) or failing
      otherwise: one line on stderr, exit 1.
    - Ctrl-C: exit 130, no traceback.
    """
    _prepare_streams()
    err: TextIO = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # noqa: SIM115
    if sys.stdout is None:  # the interpreter found fd 1 closed at start
        _say(err, f"{prog}: cannot write output: standard output is closed\n")
        return 1
    out = cast(TextIO, _Guarded(sys.stdout))
    try:
        code = body(out, err)
        out.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except _OutputError as exc:
        _silence_stdout()
        _say(err, f"{prog}: cannot write output: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


def _say(err: TextIO, text: str) -> None:
    try:
        err.write(text)
        err.flush()
    except (OSError, ValueError):
        pass  # stderr is gone too: the exit status is all that is left


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``agentsession``; returns the exit status (see the module docstring)."""
    _prepare_streams()
    args, rest = build_parser(lazy=True).parse_known_args(argv)
    if args.command == "report" or rest:
        args = build_parser().parse_args(argv)  # the report's own arguments, or the usual usage error
    problem = _check_home(args.home)
    if problem is not None:
        _say(sys.stderr, f"agentsession: {one_line(problem, 4096)}\n")
        return 2

    def body(out: TextIO, err: TextIO) -> int:
        try:
            if args.command == "list":
                return cmd_list(args, out, err)
            if args.command == "show":
                return cmd_show(args, out, err)
            if args.command == "match":
                return cmd_match(args, out)
            if args.command == "watch":
                return cmd_watch(args, out)
            if args.command == "doctor":
                return cmd_doctor(args, out)
            if args.command == "schema":
                return cmd_schema(args, out)
            if args.command == "report":
                from .cli_report import run_report

                return run_report(args, out, err)
            if args.command == "serve":
                from .serve.cli import run_serve

                return run_serve(args, out, err)
        except AgentSessionError as exc:
            err.write(f"agentsession: {one_line(str(exc), 4096)}\n")
            return 2
        return 2

    return run_guarded("agentsession", body)


if __name__ == "__main__":
    sys.exit(main())
