"""Time to first screen and idle CPU of ``agentsession-top`` on a real home.

Why: the monitor's first impression is how long a user stares at an empty
table. This spawns the real program in a pseudo-terminal (160x46,
TERM=xterm-256color), reads what it paints, and times spawn -> the sessions
table showing at least ``--rows`` distinct display ids (``claude:<hex>``,
``codex:<hex>``, ``gemini:<hex>``, counted in the output with ANSI escapes
stripped). It then leaves the monitor alone for ``--idle`` seconds at the
default 1 s interval and reports the CPU time it used (process plus its
children) as a percentage of one core. The idle phase starts once the status
line has said neither "reading history" nor "listing N more sessions" for
``--settle`` seconds; before that the monitor is loading, not idle.

Cold runs use a fresh, empty ``AGENTSESSION_CACHE_DIR`` each; warm runs reuse
the cache directory of the last cold run, which was quit with ``q`` (so the
monitor had the chance to write it). The 1-minute load average is recorded at
the start and end of every run because the machine may be shared.

``--busy`` keeps one other core busy during the idle phase (a child process
spinning in a loop), for DESIGN's "idle CPU < 3 %, also with the other core
busy": a monitor that polls by the clock rather than by its own work shows
it there. The busy process's CPU is not counted (it is not the monitor's).

    python benchmarks/bench_first_screen.py --home DIR [--runs 3] [--idle 30] [--busy]
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import fcntl
import functools
import json
import os
import pty
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

__all__ = ["RunResult", "ScreenReader", "main", "run_once"]

COLS, ROWS = 160, 46
ID_RE = re.compile(r"\b(?:claude|codex|gemini):[0-9a-fA-F][0-9a-fA-F.\-]{3,}")
# CSI, OSC (BEL or ST terminated), DCS/PM/APC strings, then two-byte escapes.
# The status line: "... every 1s  ·  reading history 1,234/5,678 files  ·  slow refresh 2.1s".
STATUS_RE = re.compile(r"every [\d.]+s([^\n]*)")
HISTORY_RE = re.compile(r"reading history ([\d,]+)/([\d,]+) files")
FAILED_RE = re.compile(r"refresh failed: ([^\n]{0,200})")
SLOW_RE = re.compile(r"slow refresh ([\d.]+)s")
#: Rows still being built behind a first screen over a huge history ("listing 1,234 more sessions").
LISTING_RE = re.compile(r"listing ([\d,]+) more sessions")
ESC_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[PX^_][^\x1b]*\x1b\\"
    r"|\x1b[ -/]*[0-~]"
)


class ScreenReader:
    """Drain the pty, strip escapes and collect the display ids seen.

    Why a thread: the app must never block on a full pty buffer, and the
    timing must not depend on when the main thread happens to look.
    """

    def __init__(self, fd: int, t0: float) -> None:
        self.fd = fd
        self.t0 = t0
        self.ids: set[str] = set()
        self.bytes_read = 0
        self.first_byte_s: float | None = None
        self.first_id_s: float | None = None
        self.target_s: float | None = None
        self.target = 0
        #: Latest "reading history done/total" seen, and when; when it went away.
        self.history: tuple[int, int] | None = None
        self.history_seen_s: float | None = None
        self.history_done_s: float | None = None
        self.slow_refresh_max_s = 0.0
        #: Whether the last status line painted said the monitor is still loading (reading
        #: history or listing sessions), and since when (None: no status line seen yet).
        self.loading: bool | None = None
        self.loading_since_s = 0.0
        self.refresh_failed = False
        self.failures: list[str] = []
        self.hit = threading.Event()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._tail = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, target: int) -> None:
        self.target = target
        self._thread.start()

    def count(self) -> int:
        with self._lock:
            return len(self.ids)

    def _feed(self, text: str) -> None:
        text = self._pending + text
        self._pending = ""
        cut = text.rfind("\x1b")
        if cut >= 0:
            m = ESC_RE.match(text, cut)
            # Hold back an escape sequence that may continue in the next read.
            if m is None and len(text) - cut < 4096:
                self._pending = text[cut:]
                text = text[:cut]
        plain = ESC_RE.sub("\n", text)
        # Overlap with the previous chunk so an id split across reads counts.
        scan = self._tail + plain
        self._tail = scan[-48:]
        now = time.monotonic() - self.t0
        self._status(plain, now)
        found = ID_RE.findall(scan)
        if not found:
            return
        with self._lock:
            self.ids.update(found)
            n = len(self.ids)
        if self.first_id_s is None:
            self.first_id_s = now
        if self.target_s is None and n >= self.target:
            self.target_s = now
            self.hit.set()

    def _status(self, plain: str, now: float) -> None:
        """Follow the status line: history progress, its end, slow refreshes."""
        for m in FAILED_RE.finditer(plain):
            self.refresh_failed = True
            if len(self.failures) < 5 and m.group(1) not in self.failures:
                self.failures.append(m.group(1))
        for m in SLOW_RE.finditer(plain):
            self.slow_refresh_max_s = max(self.slow_refresh_max_s, float(m.group(1)))
        for m in STATUS_RE.finditer(plain):
            loading = bool(HISTORY_RE.search(m.group(1)) or LISTING_RE.search(m.group(1)))
            if loading != self.loading:
                self.loading = loading
                self.loading_since_s = now
            h = HISTORY_RE.search(m.group(1))
            if h is not None:
                self.history = (int(h.group(1).replace(",", "")), int(h.group(2).replace(",", "")))
                self.history_seen_s = now
                self.history_done_s = None
            elif self.history is not None and self.history_done_s is None:
                self.history_done_s = now

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            if self.first_byte_s is None:
                self.first_byte_s = time.monotonic() - self.t0
            self.bytes_read += len(data)
            self._feed(self._decoder.decode(data))


_BUSY_CODE = "while True:\n    pass\n"


@contextlib.contextmanager
def _busy_core(enabled: bool) -> Iterator[None]:
    """Spin one process for the duration (another core busy), then end it."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", _BUSY_CODE])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def _cpu_seconds(proc: psutil.Process) -> float:
    """User+system seconds of the process, its reaped children and live ones."""
    total = 0.0
    try:
        t = proc.cpu_times()
        total += t.user + t.system + t.children_user + t.children_system
        kids = proc.children(recursive=True)
    except psutil.Error:
        return total
    for kid in kids:
        try:
            k = kid.cpu_times()
            # A forkserver reaps the pool workers: count what it reaped too.
            total += k.user + k.system + k.children_user + k.children_system
        except psutil.Error:
            pass
    return total


def _disk_read_mb(proc: psutil.Process) -> float | None:
    """Bytes the process tree actually read from storage (not page cache)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
        return round(sum(p.io_counters().read_bytes for p in procs) / 2**20, 1)
    except (psutil.Error, AttributeError):
        return None


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


@dataclass
class RunResult:
    """One spawn of the monitor; times in seconds since spawn."""

    kind: str
    load_start: float
    load_end: float = 0.0
    first_byte_s: float | None = None
    first_id_s: float | None = None
    first_screen_s: float | None = None
    first_screen_cpu_s: float | None = None
    first_screen_disk_mb: float | None = None
    ids_at_screen: int = 0
    #: "reading history done/total" on the first screen, and the last one seen.
    history_at_screen: str | None = None
    history_last: str | None = None
    history_last_seen_s: float | None = None
    #: When the status line first dropped "reading history" (history fully read).
    history_done_s: float | None = None
    slow_refresh_max_s: float = 0.0
    #: Priming run only: when the cache directory first held data.
    cache_written_s: float | None = None
    #: When the idle phase began (after the history was read and ``--settle`` seconds more).
    idle_start_s: float | None = None
    idle_wall_s: float = 0.0
    idle_cpu_s: float = 0.0
    idle_cpu_pct: float | None = None
    idle_max_1s_pct: float = 0.0
    #: 1-minute load average at the end of the idle phase (with ``--busy``: one core spinning).
    idle_load: float | None = None
    busy: bool = False
    rss_mb: float = 0.0
    quit_s: float | None = None
    exit_code: int | None = None
    total_wall_s: float = 0.0
    total_cpu_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def _command(home: Path, interval: float) -> list[str]:
    exe = Path(sys.executable).with_name("agentsession-top")
    head = [str(exe)] if exe.exists() else [sys.executable, "-m", "tui_app"]
    return [*head, "--home", str(home), "--interval", str(interval)]


def run_once(
    kind: str,
    home: Path,
    cache_dir: Path,
    *,
    rows: int,
    idle: float,
    timeout: float,
    interval: float,
    wait_cache: float = 0.0,
    busy: bool = False,
    settle: float = 2.0,
    settle_timeout: float = 300.0,
) -> RunResult:
    """Spawn, wait for ``rows`` ids, idle ``idle`` s, quit with ``q``.

    With ``wait_cache`` > 0 (the warm runs' priming run), keep the monitor
    running up to that many seconds until it has written its cache: the
    monitor saves only once the whole history is read, never on quit, so a
    run quit earlier leaves the cache directory empty.
    """
    res = RunResult(kind=kind, load_start=_load1(), busy=busy)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": str(COLS),
        "LINES": str(ROWS),
        "AGENTSESSION_CACHE_DIR": str(cache_dir),
    }
    t0 = time.monotonic()
    proc = subprocess.Popen(
        _command(home, interval),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    reader = ScreenReader(master, t0)
    reader.start(rows)
    ps = psutil.Process(proc.pid)
    cpu_last = 0.0
    try:
        deadline = t0 + timeout
        while not reader.hit.is_set() and time.monotonic() < deadline:
            if proc.poll() is not None:
                res.notes.append(f"exited early rc={proc.returncode}")
                break
            cpu_last = _cpu_seconds(ps) or cpu_last
            reader.hit.wait(0.05)
        res.first_byte_s = reader.first_byte_s
        res.first_id_s = reader.first_id_s
        res.first_screen_s = reader.target_s
        res.ids_at_screen = reader.count()
        if reader.history is not None:
            res.history_at_screen = f"{reader.history[0]}/{reader.history[1]}"
        if proc.poll() is None:
            res.first_screen_cpu_s = round(_cpu_seconds(ps), 3)
            res.first_screen_disk_mb = _disk_read_mb(ps)
        if reader.target_s is None:
            res.notes.append(f"no {rows} ids within {timeout:.0f}s (saw {reader.count()})")
        elif idle > 0 and proc.poll() is None:
            # Idle means nothing left to do: wait until the status line has said neither
            # "reading history" nor "listing … more sessions" for ``settle`` seconds.
            settle_end = time.monotonic() + settle_timeout
            while proc.poll() is None and time.monotonic() < settle_end:
                quiet_for = time.monotonic() - t0 - reader.loading_since_s
                if reader.loading is False and quiet_for >= settle:
                    break
                time.sleep(0.1)
            else:
                res.notes.append(f"still loading after {settle_timeout:.0f}s; idle measured anyway")
            res.idle_start_s = round(time.monotonic() - t0, 2)
            with _busy_core(busy):
                c0 = _cpu_seconds(ps)
                w0 = time.monotonic()
                prev_c, prev_w = c0, w0
                while time.monotonic() - w0 < idle and proc.poll() is None:
                    time.sleep(min(1.0, idle - (time.monotonic() - w0)) if idle > 0 else 0)
                    c, w = _cpu_seconds(ps), time.monotonic()
                    if w > prev_w:
                        res.idle_max_1s_pct = max(res.idle_max_1s_pct, (c - prev_c) / (w - prev_w) * 100)
                    prev_c, prev_w = c, w
                res.idle_load = _load1()
            res.idle_wall_s = round(prev_w - w0, 2)
            res.idle_cpu_s = round(prev_c - c0, 3)
            if res.idle_wall_s > 0:
                res.idle_cpu_pct = round(res.idle_cpu_s / res.idle_wall_s * 100, 2)
            res.idle_max_1s_pct = round(res.idle_max_1s_pct, 1)
            with contextlib.suppress(psutil.Error):
                res.rss_mb = round(ps.memory_info().rss / 2**20, 1)
        if wait_cache > 0 and proc.poll() is None:
            end = time.monotonic() + wait_cache
            while time.monotonic() < end and proc.poll() is None:
                if _dir_mb(cache_dir) > 0:
                    time.sleep(3.0)  # let the writer finish (it replaces files atomically)
                    res.cache_written_s = round(time.monotonic() - t0 - 3.0, 2)
                    break
                time.sleep(0.5)
            else:
                res.notes.append(f"cache still empty after {wait_cache:.0f}s")
    finally:
        if proc.poll() is None:
            cpu_last = _cpu_seconds(ps) or cpu_last
            q0 = time.monotonic()
            try:
                os.write(master, b"q")
                proc.wait(30)
                res.quit_s = round(time.monotonic() - q0, 2)
            except (OSError, subprocess.TimeoutExpired):
                res.notes.append("did not quit on 'q' within 30s; terminated")
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        res.exit_code = proc.returncode
        if reader.history is not None:
            res.history_last = f"{reader.history[0]}/{reader.history[1]}"
        res.history_last_seen_s = reader.history_seen_s
        res.history_done_s = reader.history_done_s
        res.slow_refresh_max_s = reader.slow_refresh_max_s
        if reader.refresh_failed:
            res.notes.append(f"status showed 'refresh failed': {reader.failures}")
        res.total_wall_s = round(time.monotonic() - t0, 2)
        res.total_cpu_s = round(cpu_last, 3)
        os.close(master)
    res.load_end = _load1()
    return res


def _prime_cli(home: Path) -> list[str]:
    exe = Path(sys.executable).with_name("agentsession")
    head = [str(exe)] if exe.exists() else [sys.executable, "-m", "agent_session"]
    return [*head, "list", "--json", "--home", str(home)]


def _run_prime_cli(home: Path, cache_dir: Path) -> dict[str, object]:
    """Write the cache with the one-shot CLI (same store, same cache file): much faster than the monitor."""
    env = {**os.environ, "AGENTSESSION_CACHE_DIR": str(cache_dir)}
    load0 = _load1()
    t0 = time.monotonic()
    ru0 = os.times()
    proc = subprocess.run(
        _prime_cli(home), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    ru1 = os.times()
    cpu = (ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system)
    return {
        "rc": proc.returncode,
        "wall_s": round(time.monotonic() - t0, 2),
        "cpu_s": round(cpu, 2),
        "load_start": load0,
        "load_end": _load1(),
        "stderr": proc.stderr.decode(errors="replace")[-300:],
    }


def _median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(statistics.median(got), 3) if got else None


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def _table(results: list[RunResult]) -> str:
    cols = [
        ("kind", "kind"),
        ("load0", "load_start"),
        ("byte1", "first_byte_s"),
        ("id1", "first_id_s"),
        ("screen", "first_screen_s"),
        ("cpu@scr", "first_screen_cpu_s"),
        ("diskMB", "first_screen_disk_mb"),
        ("hist@scr", "history_at_screen"),
        ("histdone", "history_done_s"),
        ("slowref", "slow_refresh_max_s"),
        ("idle@", "idle_start_s"),
        ("idle_w", "idle_wall_s"),
        ("idle_cpu", "idle_cpu_s"),
        ("idle%", "idle_cpu_pct"),
        ("max1s%", "idle_max_1s_pct"),
        ("idleLd", "idle_load"),
        ("rssMB", "rss_mb"),
        ("quit", "quit_s"),
        ("wall", "total_wall_s"),
        ("cpu", "total_cpu_s"),
        ("load1", "load_end"),
    ]
    lines = ["  ".join(f"{h:>8}" for h, _ in cols)]
    for r in results:
        d = asdict(r)
        lines.append("  ".join(f"{_fmt(d[k]):>8}" for _, k in cols))
        for note in r.notes:
            lines.append(f"{'':>8}  note: {note}")
    for kind in ("cold", "warm"):
        sel = [r for r in results if r.kind == kind]
        if not sel:
            continue
        med = {
            k: _median([v if isinstance(v := getattr(r, k), float) else None for r in sel])
            for _, k in cols[1:]
        }
        lines.append("  ".join([f"{'med-' + kind:>8}", *(f"{_fmt(med[k]):>8}" for _, k in cols[1:])]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--home", type=Path, required=True, help="home with .claude/.codex/.gemini")
    ap.add_argument("--runs", type=int, default=3, help="runs per kind (cold, warm)")
    ap.add_argument("--idle", type=float, default=30.0, help="idle seconds measured after the first screen")
    ap.add_argument("--rows", type=int, default=10, help="distinct display ids that count as a first screen")
    ap.add_argument("--timeout", type=float, default=300.0, help="give up on a first screen after this")
    ap.add_argument("--interval", type=float, default=1.0, help="monitor refresh interval")
    ap.add_argument(
        "--prime-timeout",
        type=float,
        default=900.0,
        help="wait this long for the priming run to write its cache",
    )
    ap.add_argument(
        "--prime-cli",
        action="store_true",
        help="write the warm cache with `agentsession list --json` instead of a monitor run left until it saves",
    )
    ap.add_argument("--kinds", default="cold,warm", help="comma list of cold,warm")
    ap.add_argument("--busy", action="store_true", help="keep one other core busy during the idle phase")
    ap.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds to wait after the history is read before the idle phase",
    )
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    args = ap.parse_args(argv)

    home = args.home.resolve()
    cmd = _command(home, args.interval)
    print("command:", " ".join(cmd), flush=True)
    print(f"cpus={os.cpu_count()} load(1,5,15)={os.getloadavg()}", flush=True)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    results: list[RunResult] = []
    root = Path(tempfile.mkdtemp(prefix="agentsession-first-screen-"))
    try:
        last_cache: Path | None = None
        # A cold or warm run, measured with the options given (the prime run differs: no idle phase).
        measured = functools.partial(
            run_once,
            rows=args.rows,
            idle=args.idle,
            timeout=args.timeout,
            interval=args.interval,
            busy=args.busy,
            settle=args.settle,
        )
        if "cold" in kinds:
            for i in range(args.runs):
                cache = root / f"cold{i}"
                cache.mkdir()
                r = measured("cold", home, cache)
                print(f"cold {i + 1}: {json.dumps(asdict(r))}", flush=True)
                results.append(r)
                last_cache = cache
        if "warm" in kinds:
            if last_cache is not None:
                print(
                    f"cache left by the last cold run (quit with q): {_dir_mb(last_cache):.1f} MB", flush=True
                )
            last_cache = root / "prime"
            last_cache.mkdir()
            if args.prime_cli:
                print("prime:", " ".join(_prime_cli(home)), flush=True)
                print(f"prime: {json.dumps(_run_prime_cli(home, last_cache))}", flush=True)
            else:
                r = run_once(
                    "prime",
                    home,
                    last_cache,
                    rows=args.rows,
                    idle=0,
                    timeout=args.timeout,
                    interval=args.interval,
                    wait_cache=args.prime_timeout,
                )
                print(f"prime: {json.dumps(asdict(r))}", flush=True)
            print(f"warm cache: {last_cache} {_dir_mb(last_cache):.1f} MB", flush=True)
            for i in range(args.runs):
                r = measured("warm", home, last_cache)
                print(f"warm {i + 1}: {json.dumps(asdict(r))}", flush=True)
                results.append(r)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(
        f"home={home} rows>={args.rows} idle={args.idle}s interval={args.interval}s busy={args.busy}"
        "  (seconds; idle% = % of one core)"
    )
    print(_table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
