"""Idle CPU of ``agentsession-top`` at a 1 s interval with 200 sessions.

Generates 200 sessions (all three agents) in a temp home, starts the real
monitor in a pseudo-terminal (``agentsession-top --home TMP``, 160x48), lets
it settle, then measures the process's CPU time over a window with psutil:
CPU % of one core = (user + system seconds used) / wall seconds x 100.

    python benchmarks/bench_monitor_idle.py [--sessions 200] [--seconds 20] [--interval 1]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psutil

from tui_app.demo import write_corpus


def _drain(fd: int, stop: threading.Event) -> None:
    # Keep reading the terminal so the app never blocks on a full pty buffer.
    while not stop.is_set():
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def _command(home: Path, interval: float) -> list[str]:
    exe = Path(sys.executable).with_name("agentsession-top")
    head = [str(exe)] if exe.exists() else [sys.executable, "-m", "tui_app"]
    return [*head, "--home", str(home), "--interval", str(interval)]


def measure(sessions: int, seconds: float, interval: float, warmup: float) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="agentsession-idle-"))
    try:
        home = root / "home"
        write_corpus(home, sessions, int(time.time() * 1000))
        cmd = _command(home, interval)
        print("command:", " ".join(cmd), flush=True)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "48"}
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        stop = threading.Event()
        reader = threading.Thread(target=_drain, args=(master, stop), daemon=True)
        reader.start()
        try:
            p = psutil.Process(proc.pid)
            time.sleep(warmup)
            if proc.poll() is not None:
                raise RuntimeError(f"monitor exited early with code {proc.returncode}")
            t0 = p.cpu_times()
            w0 = time.monotonic()
            time.sleep(seconds)
            t1 = p.cpu_times()
            wall = time.monotonic() - w0
            rss = p.memory_info().rss
            used = (t1.user - t0.user) + (t1.system - t0.system)
            return {
                "sessions": sessions,
                "interval_s": interval,
                "window_s": round(wall, 2),
                "cpu_seconds": round(used, 3),
                "cpu_percent": round(used / wall * 100, 2),
                "rss_mb": round(rss / 2**20, 1),
            }
        finally:
            os.write(master, b"q")
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            stop.set()
            os.close(master)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    args = ap.parse_args()
    result = measure(args.sessions, args.seconds, args.interval, args.warmup)
    for key, value in result.items():
        print(f"{key:>12}: {value}")
    print(
        f"idle CPU: {result['cpu_percent']}% of one core over {result['window_s']} s "
        f"({result['sessions']} sessions, {result['interval_s']} s interval), RSS {result['rss_mb']} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
