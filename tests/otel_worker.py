"""A short run with ``report_metrics=["otel"]`` in its own process, the application's way:
global OpenTelemetry providers exporting OTLP/HTTP to ENDPOINT (see test_sinks_otel.py).

Usage: python tests/otel_worker.py BASE_PATH ENDPOINT OUT_JSON
"""

import asyncio
import json
import sys

import art_metrics
from art_metrics import Model, Trajectory, TrajectoryGroup
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


@art_metrics.track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
def judge(step: int) -> dict:
    return {
        "usage": {
            "prompt_tokens": 1000 * step,
            "completion_tokens": 100,
            "prompt_tokens_details": {"cached_tokens": 400},
        }
    }


async def main(base_path: str, endpoint: str, out_path: str) -> None:
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    )
    metrics.set_meter_provider(meter_provider)
    trace.set_tracer_provider(tracer_provider)

    model = Model(name="m1", project="proj", base_path=base_path, report_metrics=["otel"])
    for step in (1, 2):
        with model.metrics_builder("train").activate_context():
            judge(step)
        groups = [TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.5 * step)])]
        await model.log(groups, split="train", step=step, metrics={"loss/policy": 0.1 * step})
    model.close()
    meter_provider.shutdown()  # exports what is left
    tracer_provider.shutdown()
    with open(f"{model.run_dir}/history.jsonl") as f:
        rows = [json.loads(line) for line in f]
    with open(out_path, "w") as f:
        json.dump({"rows": rows}, f)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
