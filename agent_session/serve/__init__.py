"""``agentsession serve``: OpenTelemetry metrics of agent sessions (Prometheus scrape, OTLP/HTTP push).

Modules: :mod:`.metrics` (the counting model: exact, monotonic, no
OpenTelemetry), :mod:`.exporter` (the SDK pipeline), :mod:`.daemon` (the
loop), :mod:`.cli` (parser and command body). Nothing is imported here, so
building the CLI parser never loads the OpenTelemetry SDK.
"""

from __future__ import annotations

__all__: list[str] = []
