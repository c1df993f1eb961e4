"""``agentsession serve`` scraped: its own endpoint, then a real Prometheus server.

The real-server test starts the Debian ``prometheus`` binary itself on a free
loopback port (1 s scrape interval, its own config and storage in a temp
dir) against a ``serve`` running in a thread on generated homes, and checks
PromQL answers against the generators' truth exactly, before and after
requests are appended. It skips only where no ``prometheus`` binary exists.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_session.process import ProcessSnapshot
from agent_session.serve.cli import add_serve_parser, run_serve
from agent_session.serve.exporter import Pipeline
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

T0 = 1_767_000_000_000
CLAUDE = SynthSpec(
    session_id="5f0c0d1e-0000-4000-8000-00000000c1a0",
    cwd="/work/alpha",
    start_ms=T0,
    models=("claude-sonnet-4-5", "claude-opus-4-1"),
    turns=4,
    extra={"subagents": 1},
)
CODEX = SynthSpec(
    session_id="019a0000-0000-7000-8000-00000000c0de",
    cwd="/work/beta",
    start_ms=T0,
    models=("gpt-5-codex",),
    turns=4,
)
GEMINI = SynthSpec(
    session_id="6e000000-0000-4000-8000-0000000000e1",
    cwd="/work/gamma",
    start_ms=T0,
    models=("gemini-2.5-pro",),
    turns=3,
)


def _total(usage: dict[str, Any]) -> int:
    return sum(u.total_tokens for u in usage.values())


def truth_by_agent(gemini_turns: int = GEMINI.turns, extra_codex: SynthSpec | None = None) -> dict[str, int]:
    import dataclasses

    claude = _total(synth_claude.expected(CLAUDE)) + sum(
        _total(per) for per in synth_claude.expected_subagents(CLAUDE).values()
    )
    codex = _total(synth_codex.expected(CODEX))
    if extra_codex is not None:
        codex += _total(synth_codex.expected(extra_codex))
    gemini = _total(synth_gemini.expected(dataclasses.replace(GEMINI, turns=gemini_turns)))
    return {"claude": claude, "codex": codex, "gemini": gemini}


def write_home(home: Path) -> None:
    synth_claude.write_session(home, CLAUDE)
    synth_codex.write_session(home, CODEX)
    synth_gemini.write_session(home, GEMINI)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``serve`` running in a thread: its port, its output, and a stop that is timed."""

    def __init__(self, argv: list[str]) -> None:
        parser = argparse.ArgumentParser()
        add_serve_parser(parser.add_subparsers(dest="command"))
        self.args = parser.parse_args(["serve", *argv])
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.out, self.err = io.StringIO(), io.StringIO()
        self.pipeline: Pipeline | None = None
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        def on_ready(p: Pipeline) -> None:
            self.pipeline = p
            self.ready.set()

        self.code = run_serve(
            self.args,
            self.out,
            self.err,
            stop=self.stop,
            on_ready=on_ready,
            snapshot=lambda: ProcessSnapshot((), int(time.time() * 1000)),
        )
        self.ready.set()

    def start(self) -> Served:
        self.thread.start()
        assert self.ready.wait(60), "serve did not come up"
        assert self.pipeline is not None, self.err.getvalue()
        return self

    @property
    def port(self) -> int:
        assert self.pipeline is not None and self.pipeline.port is not None
        return self.pipeline.port

    def close(self) -> float:
        started = time.monotonic()
        self.stop.set()
        self.thread.join(10)
        return time.monotonic() - started


@pytest.fixture
def serve_factory() -> Iterator[Callable[[list[str]], Served]]:
    running: list[Served] = []

    def make(argv: list[str]) -> Served:
        s = Served(argv).start()
        running.append(s)
        return s

    yield make
    for s in running:
        s.close()


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The endpoint's samples by (name, labels), parsed with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def test_scrape_endpoint_is_exact_and_safe(home: Path, serve_factory: Callable[[list[str]], Served]) -> None:
    write_home(home)
    served = serve_factory(
        ["--home", str(home), "--listen", "127.0.0.1:0", "--interval", "0.2", "--no-cache"]
    )
    samples = scrape(served.port)
    truth = truth_by_agent()
    by_agent: dict[str, float] = {}
    for (name, labels), value in samples.items():
        if name == "agentsession_tokens_total":
            agent = dict(labels)["agent_type"]
            by_agent[agent] = by_agent.get(agent, 0) + value
    assert by_agent == truth
    # The Codex generator answers each tool-using turn with two responses.
    codex_requests = frozenset({("agent_type", "codex"), ("model", "gpt-5-codex")})
    assert samples[("agentsession_requests_total", codex_requests)] == 2 * CODEX.turns
    assert samples[("agentsession_sessions", frozenset({("agent_type", "gemini"), ("state", "idle")}))] == 1
    assert samples[("agentsession_sessions", frozenset({("agent_type", "gemini"), ("state", "live")}))] == 0
    # No paths, cwd or prompt text in any label.
    for _name, labels in samples:
        for key, value in labels:
            assert "/work/" not in value and str(home) not in value, (key, value)
    info = next(dict(labels) for name, labels in samples if name == "target_info")
    assert info["service_name"] == "agentsession"
    assert info["host_name"] == socket.gethostname()
    assert served.close() < 1.0
    assert served.code == 0


def test_per_session_adds_session_label(home: Path, serve_factory: Callable[[list[str]], Served]) -> None:
    synth_codex.write_session(home, CODEX)
    served = serve_factory(
        ["--home", str(home), "--listen", "127.0.0.1:0", "--per-session", "--interval", "0.2", "--no-cache"]
    )
    samples = scrape(served.port)
    tokens = {dict(labels)["session_id"] for name, labels in samples if name == "agentsession_tokens_total"}
    assert tokens == {CODEX.session_id}


def test_port_in_use_is_one_line_error(home: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        served = Served(["--home", str(home), "--listen", f"127.0.0.1:{port}", "--no-cache"])
        served.thread.start()
        served.thread.join(30)
    assert served.code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in served.err.getvalue()


_SIGNAL_CHILD = """
import argparse, os, sys
from agent_session.process import ProcessSnapshotter
from agent_session.serve.cli import add_serve_parser, run_serve
parser = argparse.ArgumentParser()
add_serve_parser(parser.add_subparsers(dest="command"))
args = parser.parse_args(["serve", *sys.argv[1:]])
# Only this process's own tree is matched: a test never looks at the machine's agents.
snap = ProcessSnapshotter(only_trees_of=[os.getpid()]).snapshot
sys.exit(run_serve(args, sys.stdout, sys.stderr, snapshot=snap))
"""


@pytest.mark.slow  # a fresh interpreter importing the SDK: ~2 s on a busy machine
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_within_a_second(home: Path, sig: signal.Signals) -> None:
    synth_codex.write_session(home, CODEX)
    argv = [
        "--home",
        str(home),
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "60",
        "--no-cache",
        "--state",
        "off",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SIGNAL_CHILD, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "metrics on http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else ""
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        assert scrape(port)  # serving
        started = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(10)
        assert time.monotonic() - started < 1.0
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------ real Prometheus
def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip("no prometheus binary (Debian: apt-get install prometheus; .ci/prometheus.sh)")
    return found


class Prometheus:
    def __init__(self, binary: str, target_port: int, tmp: Path) -> None:
        self.port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: agentsession\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        )
        self.log = (tmp / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1).read()
                return
            except OSError:
                assert self.proc.poll() is None, (tmp / "prometheus.log").read_text()
                time.sleep(0.2)
        raise AssertionError("prometheus did not become ready")

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        body = json.loads(urllib.request.urlopen(url, timeout=5).read())
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def scalar_by(self, promql: str, label: str | None = None) -> dict[str, float]:
        return {
            (r["metric"].get(label, "") if label else ""): float(r["value"][1]) for r in self.query(promql)
        }

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def check_dashboard_queries(prom: Prometheus) -> None:
    """Every PromQL of the example Grafana dashboard runs on real data (Grafana variables filled in)."""
    dashboard = json.loads((EXAMPLES / "grafana-dashboard.json").read_text())
    fill = {"$__rate_interval": "5s", "$__range": "5m", "$agent": ".*"}
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 5
    for expr in exprs:
        for var, value in fill.items():
            expr = expr.replace(var, value)
        result = prom.query(expr)
        assert result, expr
        if "host_name" in expr:
            assert {r["metric"]["host_name"] for r in result} == {socket.gethostname()}, expr


def test_example_prometheus_config_is_valid() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("no promtool (Debian package prometheus)")
    done = subprocess.run(
        [promtool, "check", "config", str(EXAMPLES / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _wait_for(
    read: Callable[[], dict[str, float]], want: dict[str, float], timeout: float
) -> list[dict[str, float]]:
    """Poll until ``read()`` equals ``want``; returns every answer seen (to check none overshot)."""
    seen: list[dict[str, float]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = read()
        seen.append(got)
        if got == want:
            return seen
        time.sleep(0.25)
    raise AssertionError(f"PromQL never gave {want}; last answers {seen[-3:]}")


@pytest.mark.slow
def test_real_prometheus_scrapes_exact_totals(
    home: Path, tmp_path: Path, serve_factory: Callable[[list[str]], Served]
) -> None:
    import dataclasses

    binary = _prometheus_binary()
    write_home(home)
    served = serve_factory(
        ["--home", str(home), "--listen", "127.0.0.1:0", "--interval", "0.3", "--no-cache"]
    )
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    prom = Prometheus(binary, served.port, prom_dir)
    try:
        truth = truth_by_agent()
        _wait_for(lambda: prom.scalar_by("sum(agentsession_tokens_total)"), {"": sum(truth.values())}, 30)
        assert prom.scalar_by("sum by (agent_type) (agentsession_tokens_total)", "agent_type") == truth

        # Requests appended meanwhile: the Gemini transcript grows (a true append), a new Codex session starts.
        gemini_path = synth_gemini.session_path(home, GEMINI)
        longer = dataclasses.replace(GEMINI, turns=5)
        old, new = b"".join(synth_gemini.session_lines(GEMINI)), b"".join(synth_gemini.session_lines(longer))
        assert new.startswith(old) and gemini_path.read_bytes() == old
        with gemini_path.open("ab") as fh:
            fh.write(new[len(old) :])
        extra = SynthSpec(
            session_id="019a0000-0000-7000-8000-00000000beef",
            cwd="/work/delta",
            start_ms=T0 + 60_000,
            models=("gpt-5",),
        )
        synth_codex.write_session(home, extra)
        after = truth_by_agent(gemini_turns=5, extra_codex=extra)
        seen = _wait_for(
            lambda: prom.scalar_by("sum by (agent_type) (agentsession_tokens_total)", "agent_type"), after, 20
        )
        # Never above the truth on the way (nothing counted twice).
        for answer in seen:
            for agent, value in answer.items():
                assert value <= after[agent]
        assert prom.scalar_by("sum(agentsession_tokens_total)") == {"": sum(after.values())}
        # The history is not a burst: the very first scrape of the Gemini series held the whole
        # history, and the series then only rose, to the truth after the append.
        by_time: dict[float, float] = {}
        for series in prom.query('agentsession_tokens_total{agent_type="gemini"}[5m]'):
            for ts, value in series["values"]:
                by_time[float(ts)] = by_time.get(float(ts), 0.0) + float(value)
        path = [by_time[t] for t in sorted(by_time)]
        assert path[0] == truth["gemini"] and path[-1] == after["gemini"]
        assert path == sorted(path)
        assert prom.scalar_by('agentsession_sessions{state="idle",agent_type="codex"}') == {"": 2.0}
        check_dashboard_queries(prom)
    finally:
        prom.close()
    assert served.close() < 1.0
