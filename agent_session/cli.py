"""``agentsession``: list, show, match and watch agent sessions from the shell.

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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO, cast

import humanize

from . import __version__
from .discovery import AgentHomes
from .errors import AgentSessionError, InvalidArgument, SessionUnreadable
from .model import AgentSession, AgentType
from .store import SessionLookupError, SessionStore
from .text import (
    MAX_INTERVAL,
    MIN_INTERVAL,
    display_width,
    dump_json,
    one_line,
    pad,
    parse_interval,
    parse_time_bound,
)

if TYPE_CHECKING:
    from .process import ProcessSnapshot, SessionProcessMatches

__all__ = ["interval_arg", "main", "match_command", "run_guarded", "session_json", "since_arg", "until_arg"]

#: Exit status when the reader of our stdout went away: 128 + SIGPIPE, what a
#: shell reports for ``yes | head -1``'s ``yes``. ``set -o pipefail`` scripts see
#: the same as with any native tool; nothing is printed.
EXIT_BROKEN_PIPE = 141
#: Unreadable files named one by one in the text ``list`` (the rest are counted).
MAX_NAMED_PROBLEMS = 20


# ------------------------------------------------------------------ argument types
def _argtype(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that turns :class:`InvalidArgument` into a one-line usage error (exit 2)."""

    def convert(value: str) -> Any:
        try:
            return parse(value)
        except InvalidArgument as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in its fallback message
    return convert


since_arg = _argtype(parse_time_bound, "since")
until_arg = _argtype(lambda v: parse_time_bound(v, end=True), "until")
interval_arg = _argtype(parse_interval, "interval")


# ------------------------------------------------------------------ output
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


def _table(rows: Sequence[Sequence[str]], out: TextIO, *, pad_last: bool = False) -> None:
    """Columns aligned by terminal cells, not characters: CJK and emoji take two cells each.

    The last column is left ragged (a path or a prompt), so a long one does not
    widen every line.
    """
    n = len(rows[0]) if pad_last else len(rows[0]) - 1
    widths = [max(display_width(r[i]) for r in rows) for i in range(n)]
    for r in rows:
        cells = [pad(c, w) for c, w in zip(r, widths, strict=False)] + list(r[n:])
        out.write("  ".join(cells).rstrip() + "\n")


def _open_store(args: argparse.Namespace) -> SessionStore:
    agents = [AgentType(args.agent)] if getattr(args, "agent", None) else None
    store = SessionStore(AgentHomes.resolve(args.home), agents=agents, cache=not args.no_cache)
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
    sessions = store.sessions()
    if args.since is not None:
        sessions = [s for s in sessions if (s.last_activity_ms or 0) >= args.since]
    if args.until is not None:
        sessions = [s for s in sessions if _started_ms(s) < args.until]
    problems = _problems(store)
    if args.json:
        out.write(dump_json([session_json(s) for s in sessions]).decode())
        for kind, path, reason in problems:
            err.write(dump_json({"warning": kind, "path": path, "reason": reason}, compact=True).decode())
        return 0
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
            f"\n{with_skips} session(s) with skipped lines, {len(unreadable)} unreadable file(s), "
            f"{n_skipped} skipped file(s); see `agentsession show ID` and `agentsession doctor`\n"
        )
    return 0


def _started_ms(s: AgentSession) -> int:
    if s.start_timestamp_ms is not None:
        return s.start_timestamp_ms
    return s.last_activity_ms or 0


def _write_list_table(sessions: Sequence[AgentSession], out: TextIO) -> None:
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


# ------------------------------------------------------------------ show
def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = _open_store(args)
    try:
        session = _find_detail(store, args.id)
    except SessionUnreadable as exc:
        err.write(f"agentsession: {one_line(str(exc), 4096)}\n")
        return 1
    except SessionLookupError as exc:
        hint = ""
        if store.errors:
            hint = (
                f" ({len(store.errors)} unreadable file(s) or folder(s) may hide it: `agentsession doctor`)"
            )
        err.write(f"agentsession: {one_line(str(exc), 4096)}{hint}\n")
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
    try:
        session = store.resolve(query)
    except SessionLookupError as exc:
        if exc.candidates:
            raise
        hits = _unreadable_named(store.errors, query)
        if len(hits) == 1:
            raise SessionUnreadable(*hits[0]) from None
        raise
    try:
        return store.detail(session)
    except SessionLookupError:
        # Listed a moment ago, unreadable now (permissions changed, file replaced by a folder…).
        raise SessionUnreadable(
            session.path, store.errors.get(session.path) or _why_unreadable(session.path)
        ) from None


def _unreadable_named(errors: dict[str, str], query: str) -> list[tuple[str, str]]:
    agent, sep, bare = query.partition(":")
    if not sep or agent not in {a.value for a in AgentType}:
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
    out.write(f"\nprompts ({ev.prompts_total:,})\n")
    if ev.prompts_dropped:
        out.write(f"  … {ev.prompts_dropped:,} earlier prompts not shown (newest {len(ev.prompts):,} are)\n")
    for p in ev.prompts:
        out.write(f"  {_fmt_ts(p.ts_ms)}  {one_line(p.text, 200)}\n")
    out.write(f"\ntool calls ({ev.tools_total:,})\n")
    if ev.tools_dropped:
        out.write(f"  … {ev.tools_dropped:,} earlier calls not shown (newest {len(ev.tools):,} are)\n")
    for t in ev.tools:
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


# ------------------------------------------------------------------ match
def _store_sessions(homes: AgentHomes, cache: bool = True) -> list[AgentSession]:
    store = SessionStore(homes, cache=cache)
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
    finally:
        store.close()


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
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentsession", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--version", action="version", version=f"agentsession {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def home(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--home", metavar="DIR", help="read DIR/.claude, DIR/.codex, DIR/.gemini instead of yours"
        )

    def common(p: argparse.ArgumentParser) -> None:
        home(p)
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
    p.add_argument(
        "--since",
        type=since_arg,
        metavar="WHEN",
        help="only sessions active since WHEN: a date, a time or an age (7d)",
    )
    p.add_argument(
        "--until",
        type=until_arg,
        metavar="WHEN",
        help="only sessions started before WHEN (a bare date includes that whole day)",
    )
    p = sub.add_parser("show", help="one session with its prompts and tool calls")
    common(p)
    p.add_argument("id", help="session id, display id, or a unique prefix")
    p = sub.add_parser("match", help="live agent processes and the sessions they write")
    common(p)
    p.add_argument("--pid", type=int, help="only the match this process belongs to (exit 1 if none)")
    p = sub.add_parser("watch", help="print a JSON line whenever a session changes")
    home(p)
    no_cache(p)
    p.add_argument(
        "--interval",
        type=interval_arg,
        default=1.0,
        metavar="SECONDS",
        help=f"seconds between checks, {MIN_INTERVAL:g} to {MAX_INTERVAL:g} (default 1)",
    )
    p.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    p = sub.add_parser("doctor", help="why sessions or processes are missing: homes, files, cache")
    common(p)
    return parser


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
    args = build_parser().parse_args(argv)

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
        except AgentSessionError as exc:
            err.write(f"agentsession: {one_line(str(exc), 4096)}\n")
            return 2
        return 2

    return run_guarded("agentsession", body)


if __name__ == "__main__":
    sys.exit(main())
