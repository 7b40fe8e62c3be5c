"""report_metrics=["otel"]: rows as gauges and a span per priced call, through the
OpenTelemetry SDK's in-memory reader and exporter, and as OTLP/HTTP to a local receiver
(started here on 127.0.0.1; it decodes what it gets with opentelemetry-proto)."""

import asyncio
import gzip
import http.server
import json
import math
import pathlib
import subprocess
import sys
import threading

import pytest
from art_metrics import Model, OtelReporter, Trajectory, TrajectoryGroup, track_api_cost
from local_http import serving
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

WORKER = pathlib.Path(__file__).parent / "otel_worker.py"


@track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
def openai_judge():
    return {
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 400},
            "completion_tokens_details": {"reasoning_tokens": 120},
        }
    }


@track_api_cost(source="grader", provider="anthropic", model_name="claude-sonnet-4-5-20250929")
def anthropic_judge():
    return {
        "usage": {
            "input_tokens": 100,
            "output_tokens": 50,
            "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 3000,
        }
    }


def in_memory():
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    return reader, MeterProvider(metric_readers=[reader]), spans, tracer_provider


def gauge_points(reader) -> dict[str, list]:
    """Per instrument name, its data points (attributes, value)."""
    out: dict[str, list] = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "art_metrics"
            for metric in scope.metrics:
                out[metric.name] = [(dict(p.attributes), p.value) for p in metric.data.data_points]
    return out


def test_rows_are_gauges_and_priced_calls_are_spans(tmp_path):
    reader, meter_provider, spans, tracer_provider = in_memory()
    reporter = OtelReporter(
        project="proj",
        name="m1",
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
    )
    model = Model(name="m1", project="proj", base_path=str(tmp_path), reporters=[reporter])
    with model.metrics_builder("train").activate_context():
        openai_judge()  # before the first row: the reporter gets the run's calls from the start
    groups = [TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.0)])]
    metrics = {"loss/kl": math.nan, "reward[0]": 2.0}
    asyncio.run(model.log(groups, split="train", step=1, metrics=metrics))
    with model.metrics_builder("eval").activate_context():
        anthropic_judge()
    asyncio.run(model.log(groups, split="val", step=1))
    assert model.flush_reporters()
    model.close()
    with open(f"{model.run_dir}/history.jsonl") as f:
        rows = [json.loads(line) for line in f]

    points = gauge_points(reader)
    attributes = {"art_metrics.project": "proj", "art_metrics.model": "m1"}
    expected = {}
    for row in rows:
        expected.update({k: v for k, v in row.items() if k not in ("step", "training_step")})
    expected.pop("recorded_at")
    expected.pop("train/reward[0]")  # not an instrument name: the shared gauge, below
    # NaN (loss/kl) is not set: the SDK ignores non-finite values.
    assert set(points) == set(expected) | {"art_metrics.metric"}
    for key, value in expected.items():
        assert points[key] == [(attributes, pytest.approx(value))], key
    assert points["art_metrics.metric"] == [
        ({**attributes, "art_metrics.key": "train/reward[0]"}, 2.0)
    ]

    first, second = spans.get_finished_spans()
    assert first.name == "gpt-4o" and second.name == "claude-sonnet-4-5-20250929"
    assert dict(first.attributes) == {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 400,
        "gen_ai.usage.reasoning.output_tokens": 120,
        "gen_ai.usage.cost.amount": pytest.approx(rows[0]["costs/train/judge"]),
        "gen_ai.usage.cost.currency": "USD",
        "art_metrics.cost_key": "costs/train/judge",
        **attributes,
    }
    assert dict(second.attributes) == {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5-20250929",
        "gen_ai.usage.input_tokens": 5100,  # input, cache writes and cache reads
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.cache_read.input_tokens": 3000,
        "gen_ai.usage.cache_creation.input_tokens": 2000,
        "gen_ai.usage.cost.amount": pytest.approx(rows[1]["costs/eval/grader"]),
        "gen_ai.usage.cost.currency": "USD",
        "art_metrics.cost_key": "costs/eval/grader",
        **attributes,
    }


def test_calls_go_to_the_reporters_of_their_own_run(tmp_path):
    """Each priced call reaches the record_call of the reporters of the run it is recorded
    in, not another model's; a run without such a reporter hands nothing to Python."""

    class Calls:
        def __init__(self):
            self.calls = []

        def log(self, row):
            pass

        def record_call(self, **call):
            self.calls.append(call)

    watched = Calls()
    a = Model(name="a", project="p", base_path=str(tmp_path), reporters=[watched])
    b = Model(name="b", project="p", base_path=str(tmp_path))
    with b.metrics_builder().activate_context():
        openai_judge()
    assert watched.calls == []
    with a.metrics_builder().activate_context():
        openai_judge()
    ((call),) = watched.calls
    assert call["key"] == "costs/train/judge" and call["provider"] == "openai"
    assert call["input_tokens"] == 1000.0 and call["cache_read_tokens"] == 400.0


class Receiver(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver: keeps the decoded requests of POST /v1/metrics and /v1/traces."""

    got: dict[str, list] = {"metrics": [], "traces": []}
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        kinds = {
            "/v1/metrics": ExportMetricsServiceRequest,
            "/v1/traces": ExportTraceServiceRequest,
        }
        kind = kinds.get(self.path)
        if kind is None:
            self.send_response(404)
            self.end_headers()
            return
        request = kind()
        request.ParseFromString(body)
        with self.lock:
            self.got[self.path.rsplit("/", 1)[1]].append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_otlp_http_export_to_a_local_receiver(tmp_path):
    Receiver.got = {"metrics": [], "traces": []}
    out = tmp_path / "out.json"
    with serving(Receiver) as endpoint:
        subprocess.run(
            [sys.executable, str(WORKER), str(tmp_path / "runs"), endpoint, str(out)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    rows = json.loads(out.read_text())["rows"]
    gauges = {}
    for request in Receiver.got["metrics"]:
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    assert metric.WhichOneof("data") == "gauge"
                    for point in metric.gauge.data_points:
                        attributes = {a.key: a.value.string_value for a in point.attributes}
                        gauges[metric.name] = (attributes, point.as_double)
    last = rows[-1]  # a gauge exports its last value
    attributes = {"art_metrics.project": "proj", "art_metrics.model": "m1"}
    for key in ("train/reward", "loss/policy", "costs/cum/all", "costs/train/judge"):
        assert gauges[key] == (attributes, pytest.approx(last[key])), key

    spans = [
        span
        for request in Receiver.got["traces"]
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert [s.name for s in spans] == ["gpt-4o", "gpt-4o"]
    for step, (span, row) in enumerate(zip(spans, rows), start=1):
        values = {a.key: a.value for a in span.attributes}
        assert values["gen_ai.provider.name"].string_value == "openai"
        assert values["gen_ai.request.model"].string_value == "gpt-4o"
        assert values["gen_ai.usage.input_tokens"].int_value == 1000 * step
        assert values["gen_ai.usage.output_tokens"].int_value == 100
        assert values["gen_ai.usage.cache_read.input_tokens"].int_value == 400
        assert values["gen_ai.usage.cost.amount"].double_value == pytest.approx(
            row["costs/train/judge"]
        )
        assert values["gen_ai.usage.cost.currency"].string_value == "USD"
