"""``agentsession serve`` pushing OTLP/HTTP to a loopback receiver written here.

The receiver decodes each POST with the protobuf classes of
``opentelemetry-proto`` (``ExportMetricsServiceRequest``), so the test sees
exactly what a collector would: metric names, cumulative monotonic sums,
start times, resource and the GenAI attribute names.
"""

from __future__ import annotations

import argparse
import gzip
import io
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_session.process import ProcessSnapshot
from agent_session.serve.cli import add_serve_parser, run_serve
from agent_session.serve.exporter import Pipeline, otlp_metrics_url
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

pb2 = pytest.importorskip("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2")

T0 = 1_767_000_000_000
CODEX = SynthSpec(
    session_id="019a0000-0000-7000-8000-0000000070a1",
    cwd="/work/one",
    start_ms=T0,
    models=("gpt-5", "o3"),
    turns=4,
)
GEMINI = SynthSpec(
    session_id="6e000000-0000-4000-8000-0000000070b2",
    cwd="/work/two",
    start_ms=T0,
    models=("gemini-2.5-pro",),
    turns=3,
)


class Receiver:
    """A minimal OTLP/HTTP metrics endpoint on 127.0.0.1 that keeps every decoded request."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.paths: list[str] = []
        self.got = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                msg = pb2.ExportMetricsServiceRequest()
                msg.ParseFromString(body)
                reply = pb2.ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                with receiver.got:
                    receiver.paths.append(self.path)
                    receiver.requests.append(msg)
                    receiver.got.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20) -> list[Any]:
        with self.got:
            assert self.got.wait_for(lambda: len(self.requests) >= count, timeout), "no OTLP export arrived"
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def serve(argv: list[str]) -> tuple[threading.Event, threading.Thread, dict[str, Any]]:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", *argv])
    stop, ready = threading.Event(), threading.Event()
    state: dict[str, Any] = {"err": io.StringIO(), "out": io.StringIO()}

    def on_ready(p: Pipeline) -> None:
        state["pipeline"] = p
        ready.set()

    def body() -> None:
        state["code"] = run_serve(
            args,
            state["out"],
            state["err"],
            stop=stop,
            on_ready=on_ready,
            snapshot=lambda: ProcessSnapshot((), int(time.time() * 1000)),
        )
        ready.set()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    assert ready.wait(60) and "pipeline" in state, state["err"].getvalue()
    return stop, thread, state


def attrs(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out


def metrics_of(msg: Any) -> dict[str, Any]:
    return {m.name: m for rm in msg.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def tokens_truth() -> dict[tuple[str, str, str], int]:
    want: dict[tuple[str, str, str], int] = {}
    for agent, mod, spec in (("openai", synth_codex, CODEX), ("gcp.gemini", synth_gemini, GEMINI)):
        for model, u in mod.expected(spec).items():
            for ttype, n in (
                ("input", u.input_tokens),
                ("output", u.output_tokens),
                ("cache_creation", u.cache_creation_tokens),
                ("cache_read", u.cache_read_tokens),
            ):
                want[(agent, model, ttype)] = n  # zero buckets too: every series of a model starts together
    return want


def test_otlp_push_exact_values_and_genai_attributes(home: Path, receiver: Receiver) -> None:
    synth_codex.write_session(home, CODEX)
    synth_gemini.write_session(home, GEMINI)
    endpoint = f"http://127.0.0.1:{receiver.port}"
    stop, thread, state = serve(
        [
            "--home",
            str(home),
            "--listen",
            "off",
            "--otlp-endpoint",
            endpoint,
            "--interval",
            "0.2",
            "--no-cache",
        ]
    )
    try:
        msgs = receiver.wait_for(2)
    finally:
        started = time.monotonic()
        stop.set()
        thread.join(10)
        stopped_in = time.monotonic() - started
    assert state["code"] == 0 and stopped_in < 1.0
    assert set(receiver.paths) == {"/v1/metrics"}
    first, second = msgs[0], msgs[1]

    resource = attrs(first.resource_metrics[0].resource.attributes)
    assert resource["service.name"] == "agentsession"
    assert resource["host.name"] == socket.gethostname()
    assert resource["service.version"]

    m = metrics_of(first)
    assert {
        "agentsession.tokens",
        "agentsession.requests",
        "agentsession.cost_usd",
        "agentsession.sessions",
    } <= set(m)
    assert "agentsession.context_fill_ratio" not in m  # only with --per-session
    tokens = m["agentsession.tokens"]
    assert tokens.sum.is_monotonic
    assert tokens.sum.aggregation_temporality == 2  # AGGREGATION_TEMPORALITY_CUMULATIVE
    got: dict[tuple[str, str, str], int] = {}
    for p in tokens.sum.data_points:
        a = attrs(p.attributes)
        assert set(a) == {
            "gen_ai.provider.name",
            "agentsession.agent.type",
            "gen_ai.request.model",
            "gen_ai.token.type",
        }
        got[(a["gen_ai.provider.name"], a["gen_ai.request.model"], a["gen_ai.token.type"])] = int(
            p.as_int or p.as_double
        )
        assert 0 < p.start_time_unix_nano <= p.time_unix_nano
    assert got == tokens_truth()

    requests = {
        attrs(p.attributes)["gen_ai.request.model"]: int(p.as_int or p.as_double)
        for p in m["agentsession.requests"].sum.data_points
    }
    # Codex: the models alternate by turn, two responses per tool-using turn.
    assert (requests["gpt-5"], requests["o3"]) == (4, 4)
    assert set(requests) == {"gpt-5", "o3", "gemini-2.5-pro"}
    sessions = {
        (
            attrs(p.attributes)["agentsession.agent.type"],
            attrs(p.attributes)["agentsession.session.state"],
        ): p.as_int or p.as_double
        for p in m["agentsession.sessions"].gauge.data_points
    }
    assert sessions == {
        ("codex", "live"): 0,
        ("codex", "idle"): 1,
        ("gemini", "live"): 0,
        ("gemini", "idle"): 1,
    }

    # A later export: same cumulative values, same start time (so rate() across exports is right).
    starts1 = {p.start_time_unix_nano for p in tokens.sum.data_points}
    later = metrics_of(second)["agentsession.tokens"]
    assert {p.start_time_unix_nano for p in later.sum.data_points} == starts1
    assert sum(int(p.as_int or p.as_double) for p in later.sum.data_points) == sum(tokens_truth().values())


def test_otlp_per_session_uses_conversation_id_and_env_endpoint(
    home: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    synth_codex.write_session(home, CODEX)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.port}/")
    stop, thread, _state = serve(
        ["--home", str(home), "--listen", "off", "--per-session", "--interval", "0.2", "--no-cache"]
    )
    try:
        (msg,) = receiver.wait_for(1)[:1]
    finally:
        stop.set()
        thread.join(10)
    ids = {
        attrs(p.attributes)["gen_ai.conversation.id"]
        for p in metrics_of(msg)["agentsession.tokens"].sum.data_points
    }
    assert ids == {CODEX.session_id}


def test_otlp_url_rule() -> None:
    assert otlp_metrics_url("http://c:4318") == "http://c:4318/v1/metrics"
    assert otlp_metrics_url("http://c:4318/") == "http://c:4318/v1/metrics"
    assert otlp_metrics_url("http://c:4318/v1/metrics") == "http://c:4318/v1/metrics"
