"""The OpenTelemetry pipeline of ``agentsession serve``: one MeterProvider, two readers.

Why the SDK and not a hand-written ``/metrics`` page: one set of
instruments feeds both a Prometheus scrape endpoint and an OTLP/HTTP push,
with the names, units, start times and resource each side expects.

Every instrument is *observable*: its callback reads the totals of the
:class:`~agent_session.serve.metrics.CounterModel` at collection time, so a
scrape or an export always sees the model's current high-water totals and
nothing is added twice whatever the two readers' schedules are.

Attribute names: the SDK side (and so Prometheus) uses the plain labels
``agent_type``, ``model``, ``token_type``, ``tool``, ``status`` (a tool
call's outcome), ``state``, ``session_id``. The OTLP side renames them to the OpenTelemetry GenAI
semantic conventions where one fits (:data:`OTLP_ATTRIBUTES`), so a
collector sees ``gen_ai.request.model`` and friends.

OpenTelemetry is imported only here, and this module only when ``serve``
runs: ``agentsession --help`` and the rest of the CLI never load it.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import __version__
from .metrics import CounterModel

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricsData
    from prometheus_client import CollectorRegistry

__all__ = [
    "INSTRUMENTS",
    "OTLP_ATTRIBUTES",
    "PROVIDER_NAMES",
    "Pipeline",
    "build_pipeline",
    "env_otlp_endpoint",
    "otlp_metrics_url",
]

#: OTel instrument name -> (model counter/gauge name, unit, description, kind).
#: Prometheus names: dots become ``_``, counters get ``_total``, ``{...}`` units add no suffix.
INSTRUMENTS: dict[str, tuple[str, str, str, str]] = {
    "agentsession.tokens": (
        "tokens",
        "{token}",
        "Tokens used by agent sessions, by bucket; the four token types sum to total tokens",
        "counter",
    ),
    "agentsession.reasoning_tokens": (
        "reasoning_tokens",
        "{token}",
        "Reasoning tokens (already part of output tokens, shown apart)",
        "counter",
    ),
    "agentsession.cost_usd": (
        "cost_usd",
        "{USD}",
        "Estimated cost in US dollars (genai-prices; unpriced models add nothing)",
        "counter",
    ),
    "agentsession.requests": ("requests", "{request}", "Model requests made by agent sessions", "counter"),
    "agentsession.tool_calls": (
        "tool_calls",
        "{call}",
        "Finished tool calls made by agent sessions, by outcome (ok, fail, observed)",
        "counter",
    ),
    "agentsession.sessions": (
        "sessions",
        "{session}",
        "Sessions on disk: live (matched to a running agent process) or idle",
        "gauge",
    ),
    "agentsession.context_fill_ratio": (
        "context_fill_ratio",
        "1",
        "Input of the latest request over the model's context window (live sessions, --per-session)",
        "gauge",
    ),
}

#: SDK/Prometheus attribute -> OTLP attribute (GenAI semantic conventions where one fits).
OTLP_ATTRIBUTES: dict[str, str] = {
    "agent_type": "agentsession.agent.type",
    "model": "gen_ai.request.model",
    "token_type": "gen_ai.token.type",
    "tool": "gen_ai.tool.name",
    #: No GenAI convention names a tool call's outcome: ours, namespaced.
    "status": "agentsession.tool.status",
    "session_id": "gen_ai.conversation.id",
    "state": "agentsession.session.state",
}
#: ``gen_ai.provider.name`` added on OTLP for each agent type (the conventions' well-known values).
PROVIDER_NAMES: dict[str, str] = {"claude": "anthropic", "codex": "openai", "gemini": "gcp.gemini"}


def otlp_metrics_url(endpoint: str) -> str:
    """The metrics URL for an OTLP/HTTP endpoint given as a base (``http://host:4318``).

    The same rule as ``OTEL_EXPORTER_OTLP_ENDPOINT``: ``/v1/metrics`` is
    appended, unless the URL already ends with it.
    """
    url = endpoint.rstrip("/")
    return url if url.endswith("/v1/metrics") else url + "/v1/metrics"


def _rename(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        out[OTLP_ATTRIBUTES.get(key, key)] = value
        if key == "agent_type" and value in PROVIDER_NAMES:
            out["gen_ai.provider.name"] = PROVIDER_NAMES[value]
    return out


def _genai_metrics_data(data: MetricsData) -> MetricsData:
    """A copy of ``data`` with the OTLP attribute names (the SDK's values are frozen dataclasses)."""
    resource_metrics = []
    for rm in data.resource_metrics:
        scopes = []
        for sm in rm.scope_metrics:
            metrics = []
            for m in sm.metrics:
                points = [
                    dataclasses.replace(p, attributes=_rename(p.attributes or {})) for p in m.data.data_points
                ]
                points_of: Any = m.data  # Sum or Gauge here; the union's replace() does not type-check
                metrics.append(
                    dataclasses.replace(m, data=dataclasses.replace(points_of, data_points=points))
                )
            scopes.append(dataclasses.replace(sm, metrics=metrics))
        resource_metrics.append(dataclasses.replace(rm, scope_metrics=scopes))
    return dataclasses.replace(data, resource_metrics=resource_metrics)


def _genai_exporter(inner: MetricExporter) -> MetricExporter:
    """Wrap an exporter so what it sends carries the GenAI attribute names."""
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    class GenAiAttributes(MetricExporter):
        def __init__(self) -> None:
            super().__init__(
                preferred_temporality=inner._preferred_temporality,
                preferred_aggregation=inner._preferred_aggregation,
            )

        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            return inner.export(_genai_metrics_data(metrics_data), timeout_millis=timeout_millis, **kwargs)

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return inner.force_flush(timeout_millis=timeout_millis)

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    return GenAiAttributes()


@dataclasses.dataclass
class Pipeline:
    """What ``build_pipeline`` started: stop it with :meth:`shutdown` (within about a second)."""

    provider: MeterProvider
    registry: CollectorRegistry
    #: The Prometheus HTTP server (None without ``listen``) and the port it got (0 asked: a free one).
    server: Any = None
    port: int | None = None
    otlp_url: str | None = None

    def shutdown(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        # The last OTLP export is bounded: a collector that hangs must not hold up SIGTERM.
        self.provider.shutdown(timeout_millis=800)


def _resource(host_name: str | None) -> Any:
    from opentelemetry.sdk.resources import Resource

    return Resource.create(
        {
            "service.name": "agentsession",
            "service.version": __version__,
            "host.name": host_name or socket.gethostname(),
        }
    )


def build_pipeline(
    model: CounterModel,
    *,
    listen: tuple[str, int] | None,
    otlp_endpoint: str | None = None,
    export_interval_s: float = 15.0,
    host_name: str | None = None,
    otlp_exporter: MetricExporter | None = None,
) -> Pipeline:
    """Instruments over ``model``, a Prometheus endpoint on ``listen``, OTLP push to ``otlp_endpoint``.

    ``listen``: ``(addr, port)`` for the scrape endpoint (port 0: a free
    one, see ``Pipeline.port``); None for none. ``otlp_exporter`` replaces
    the OTLP/HTTP exporter (tests); it gets the GenAI attribute names too.
    """
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    readers: list[MetricReader] = []
    if listen is not None:
        readers.append(PrometheusMetricReader(scope_info_enabled=False, registry=registry))
    url: str | None = None
    exporter = otlp_exporter
    if exporter is None and otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        url = otlp_metrics_url(otlp_endpoint)
        exporter = OTLPMetricExporter(endpoint=url, timeout=5)
    if exporter is not None:
        readers.append(
            PeriodicExportingMetricReader(
                _genai_exporter(exporter),
                export_interval_millis=max(100.0, export_interval_s * 1000),
                export_timeout_millis=5_000,
            )
        )
    provider = MeterProvider(metric_readers=readers, resource=_resource(host_name))
    _register_instruments(provider, model)
    pipeline = Pipeline(provider=provider, registry=registry, otlp_url=url)
    if listen is not None:
        addr, port = listen
        try:
            server, _thread = start_http_server(port, addr=addr, registry=registry)
        except BaseException:
            provider.shutdown(timeout_millis=500)
            raise
        pipeline.server = server
        pipeline.port = int(server.server_address[1])
    return pipeline


def _register_instruments(provider: MeterProvider, model: CounterModel) -> None:
    meter = provider.get_meter("agentsession", __version__)
    for name, (key, unit, description, kind) in INSTRUMENTS.items():
        if key == "context_fill_ratio" and not model.per_session:
            continue
        callback = _callback(model, key)
        if kind == "counter":
            meter.create_observable_counter(name, callbacks=[callback], unit=unit, description=description)
        else:
            meter.create_observable_gauge(name, callbacks=[callback], unit=unit, description=description)


def _callback(model: CounterModel, key: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    from opentelemetry.metrics import Observation

    names = model.label_names(key)

    def read() -> Mapping[tuple[str, ...], float]:
        if key == "sessions":
            return model.sessions_gauge()
        if key == "context_fill_ratio":
            return model.context_fill()
        return model.counters(key)

    def callback(options: CallbackOptions) -> Sequence[Observation]:
        return [Observation(value, dict(zip(names, labels, strict=True))) for labels, value in read().items()]

    return callback


def env_otlp_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` (a base URL, as ``--otlp-endpoint``), or None."""
    env = os.environ if env is None else env
    return env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
