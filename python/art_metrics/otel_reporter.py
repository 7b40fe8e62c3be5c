"""`OtelReporter`: rows as OpenTelemetry gauges, and a span for each priced API call.

``Model(report_metrics=["otel"])`` builds it (``pip install 'art-metrics[otel]'``: the
OpenTelemetry API only). As OpenTelemetry asks of libraries, it uses the global providers
(or those passed to it) and leaves the SDK, exporters and their endpoints to the
application (``opentelemetry-instrument``, or ``set_meter_provider`` and
``set_tracer_provider`` in the training script). Without an SDK everything is a no-op.

- Each row: every finite number but ``step`` and ``training_step`` set on a synchronous gauge
  named as the key is written (``loss/train``), with the attributes ``art_metrics.project``
  and ``art_metrics.model`` (NaN and infinities are not set: the SDK ignores them). A key that is not a valid instrument name (``reward[0]``: names are
  ASCII letters, digits and ``_ . - /``, starting with a letter, at most 255) goes to the
  gauge ``art_metrics.metric`` with the key in the attribute ``art_metrics.key``. A gauge
  exports its last value per collection, so a metric logged several times between two
  exports shows its last value.
- Each priced API call of the run (``@track_api_cost``, ``add_response_cost``): a span named
  after the model (``gpt-4o``), recorded when the cost is, with the GenAI semantic
  conventions' ``gen_ai.provider.name``, ``gen_ai.request.model``, the token counts the
  response has (``gen_ai.usage.input_tokens`` and ``output_tokens``, with cached, cache
  writes and reasoning included; ``cache_read.input_tokens``, ``cache_creation.input_tokens``,
  ``reasoning.output_tokens`` when not zero), ``gen_ai.usage.cost.amount`` in USD with
  ``gen_ai.usage.cost.currency`` = ``"USD"``, and ``art_metrics.cost_key``
  (``costs/train/judge``). The span is a child of the span current in the calling code.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._core import __version__
from .reporting import metric_values, require

__all__ = ["OtelReporter"]

# OpenTelemetry's instrument name syntax.
_INSTRUMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_./-]{0,254}")
# The gauge of keys that are not instrument names.
OTHER_KEYS_GAUGE = "art_metrics.metric"

_TOKEN_ATTRIBUTES = {
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_creation_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
}


def _count(value: float) -> int | float:
    return int(value) if value.is_integer() else value


class OtelReporter:
    """Sets each row's numbers on gauges and records a span per priced API call.

    ``meter_provider`` / ``tracer_provider``: the providers to use instead of the global
    ones (OpenTelemetry's convention for instrumentation libraries).
    """

    def __init__(
        self,
        *,
        project: str,
        name: str,
        meter_provider: Any = None,
        tracer_provider: Any = None,
    ) -> None:
        require("opentelemetry.metrics", "otel", "opentelemetry-api")
        self.project = project
        self.name = name
        self.attributes = {"art_metrics.project": project, "art_metrics.model": name}
        self._meter_provider = meter_provider
        self._tracer_provider = tracer_provider
        self._meter: Any = None
        self._tracer: Any = None
        self._gauges: dict[str, Any] = {}

    def start(self) -> None:
        """Gets the meter and tracer (from the global providers unless given)."""
        if self._meter is None:
            from opentelemetry import metrics, trace

            self._tracer = trace.get_tracer(
                "art_metrics", __version__, tracer_provider=self._tracer_provider
            )
            self._meter = metrics.get_meter(
                "art_metrics", __version__, meter_provider=self._meter_provider
            )

    def log(self, row: dict[str, float | int]) -> None:
        """Sets each finite number of the row on its gauge."""
        self.start()
        attributes = self.attributes
        for key, value in metric_values(row):
            if not math.isfinite(value):
                continue
            if _INSTRUMENT_NAME.fullmatch(key):
                self._gauge(key).set(value, attributes)
            else:
                self._gauge(OTHER_KEYS_GAUGE).set(value, {**attributes, "art_metrics.key": key})

    def record_call(
        self, *, key: str, provider: str, model: str, cost_usd: float, **tokens: float
    ) -> None:
        """A span for one priced call (the core hands each one over while the reporter is
        started): ``key`` is where its cost was recorded, ``tokens`` its counts."""
        self.start()
        from opentelemetry.trace import SpanKind

        attributes: dict[str, Any] = {
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.usage.cost.amount": cost_usd,
            "gen_ai.usage.cost.currency": "USD",
            "art_metrics.cost_key": key,
            **self.attributes,
        }
        for name, count in tokens.items():
            attributes[_TOKEN_ATTRIBUTES[name]] = _count(count)
        self._tracer.start_span(model, kind=SpanKind.CLIENT, attributes=attributes).end()

    def _gauge(self, name: str) -> Any:
        gauge = self._gauges.get(name)
        if gauge is None:
            gauge = self._gauges[name] = self._meter.create_gauge(name)
        return gauge
