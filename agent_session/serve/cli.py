"""``agentsession serve``: the argument parser and the command body.

Kept free of OpenTelemetry imports on purpose: ``agentsession`` builds its
parser (this module's :func:`add_serve_parser`) on every run, and only
``serve`` itself may pay for the SDK. :func:`run_serve` imports the daemon
and the exporter when it is called.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import InvalidArgument
from ..text import argument_type, one_line, parse_interval

if TYPE_CHECKING:
    from ..process import ProcessSnapshot
    from .exporter import Pipeline

__all__ = ["DEFAULT_LISTEN", "add_serve_parser", "parse_listen", "run_serve"]

DEFAULT_LISTEN = "127.0.0.1:9464"
DEFAULT_INTERVAL = 5.0


def parse_listen(value: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) → ``(host, port)``; ``off`` → None (no scrape endpoint).

    The host must be an IP address: a name could resolve to an address that
    opens the endpoint wider than the user meant.
    """
    text = value.strip()
    if text.lower() in ("off", "none"):
        return None
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise InvalidArgument(f"--listen wants HOST:PORT (e.g. {DEFAULT_LISTEN}), not {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InvalidArgument(
            f"--listen host must be an IP address (127.0.0.1, ::1, 0.0.0.0), not {host!r}"
        ) from None
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidArgument(f"--listen port must be 0-65535, not {port_text!r}")
    return host, int(port_text)


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``agentsession`` subcommands (``subparsers``: ``add_subparsers()``'s result)."""
    p = subparsers.add_parser(
        "serve",
        help="export token, cost and session metrics (Prometheus endpoint, OTLP/HTTP push)",
        description=(
            "Headless daemon: follows the session files and live agent processes and exports "
            "OpenTelemetry metrics on a Prometheus scrape endpoint and, when an endpoint is given, "
            "by OTLP/HTTP push. Counters are exact and never go down."
        ),
    )
    p.add_argument(
        "--home",
        metavar="DIR",
        help="read DIR/.claude, DIR/.codex, DIR/.gemini instead of yours (default: your home)",
    )
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=argument_type(parse_listen, "listen"),
        default=parse_listen(DEFAULT_LISTEN),
        help=f"Prometheus scrape endpoint, 'off' for none (default: {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="push OTLP/HTTP metrics to URL (base URL, /v1/metrics is added; "
        "default: $OTEL_EXPORTER_OTLP_ENDPOINT, else no push)",
    )
    p.add_argument(
        "--interval",
        metavar="S",
        type=argument_type(parse_interval, "interval"),
        default=DEFAULT_INTERVAL,
        help=f"seconds between refreshes and OTLP pushes (default: {DEFAULT_INTERVAL:g})",
    )
    p.add_argument(
        "--per-session",
        action="store_true",
        help="add a session_id label and a context-fill gauge; one series per session: high cardinality "
        "(default: no per-session series)",
    )
    p.add_argument(
        "--state",
        metavar="FILE",
        help="where the counters' high-water marks are kept across restarts "
        "(default: a file under ~/.cache/agentsession/serve; 'off' to keep none)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="ignore the summary cache in ~/.cache/agentsession; only a speed-up, never trusted for data (default: use it)",
    )
    return p


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (main thread only: elsewhere the caller owns ``stop``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_serve(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[Pipeline], None] | None = None,
    snapshot: Callable[[], ProcessSnapshot] | None = None,
) -> int:
    """Body of ``agentsession serve``; returns the exit status (0 on SIGTERM/SIGINT or ``stop``).

    ``stop``, ``on_ready`` (called once the endpoint is up, with the
    pipeline) and ``snapshot`` (the process table to match) let tests run
    the daemon in a thread on their own processes.
    """
    from pathlib import Path

    from ..discovery import AgentHomes
    from .daemon import MarksFile, ServeDaemon, default_state_path
    from .exporter import build_pipeline, env_otlp_endpoint
    from .metrics import CounterModel

    stop = stop if stop is not None else threading.Event()
    listen: tuple[str, int] | None = args.listen
    endpoint: str | None = args.otlp_endpoint or env_otlp_endpoint()
    if listen is None and not endpoint:
        err.write("agentsession serve: nothing to export to: --listen off and no --otlp-endpoint\n")
        return 2
    homes = AgentHomes.resolve(args.home)
    state_arg: str | None = args.state
    state = None
    if state_arg is None or state_arg.lower() != "off":
        state = MarksFile(Path(state_arg).expanduser() if state_arg else default_state_path(homes))
    model = CounterModel(per_session=args.per_session)
    daemon = ServeDaemon(homes, model, cache=not args.no_cache, snapshot=snapshot, log=err, state=state)
    pipeline: Pipeline | None = None
    with _stop_on_signals(stop):
        try:
            if not daemon.first_parse(stop):
                return 0
            try:
                pipeline = build_pipeline(
                    model, listen=listen, otlp_endpoint=endpoint, export_interval_s=args.interval
                )
            except OSError as exc:
                where = f"{listen[0]}:{listen[1]}" if listen else "?"
                err.write(f"agentsession serve: cannot listen on {where}: {one_line(str(exc))}\n")
                return 1
            if pipeline.port is not None and listen is not None:
                host = f"[{listen[0]}]" if ":" in listen[0] else listen[0]
                out.write(f"agentsession serve: metrics on http://{host}:{pipeline.port}/metrics\n")
                if not ipaddress.ip_address(listen[0]).is_loopback:
                    err.write(
                        f"agentsession serve: warning: {listen[0]} is not a loopback address; the endpoint "
                        "has no authentication: firewall it to your Prometheus\n"
                    )
            if pipeline.otlp_url:
                out.write(f"agentsession serve: pushing OTLP/HTTP to {pipeline.otlp_url}\n")
            out.flush()
            if on_ready is not None:
                on_ready(pipeline)
            daemon.run(stop, args.interval)
            return 0
        finally:
            if pipeline is not None:
                pipeline.shutdown()
            daemon.close()
