"""W&B and Trackio reporting: real packages, offline, in their own processes; and the W&B
calls compared with openpipe-art's through a fake ``wandb`` module."""

import asyncio
import json
import math
import os
import pathlib
import struct
import subprocess
import sys
import types

import art
import pytest
from art_metrics import Model, TrackioReporter, WandbReporter
from art_metrics.mlflow_reporter import MlflowReporter
from art_metrics.otel_reporter import OtelReporter
from art_metrics.tensorboard_reporter import TensorBoardReporter

WORKER = pathlib.Path(__file__).parent / "reporting_worker.py"
STEP_GLOBS = [
    "reward/*",
    "loss/*",
    "throughput/*",
    "costs/*",
    "time/*",
    "data/*",
    "train/*",
    "val/*",
    "test/*",
    "discarded/*",
]


def run_worker(backend: str, tmp_path: pathlib.Path, **env: str) -> dict:
    out = tmp_path / "out.json"
    subprocess.run(
        [sys.executable, str(WORKER), backend, str(tmp_path / "runs"), str(out)],
        env=dict(os.environ, **env),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return json.loads(out.read_text())


def reported(row: dict) -> dict:
    """What a reporter gets for a history.jsonl row, minus the NaN values it also gets."""
    return {k: v for k, v in row.items() if k not in ("step", "recorded_at")}


def without_nan(row: dict) -> dict:
    return {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}


def wandb_records(path: pathlib.Path):
    """The protobuf records of an offline ``run-<id>.wandb`` file.

    wandb 0.31 has no Python reader any more; the file is a LevelDB log (32 KiB blocks,
    7-byte record headers: crc32, length, type) after a 7-byte ``:W&B`` header.
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, chunks = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the block's tail is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:
            break
        chunks += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            chunks = b""
            yield record


def test_wandb_offline_logs_every_row_and_resumes_the_run_by_id(tmp_path):
    out = run_worker(
        "wandb", tmp_path, WANDB_MODE="offline", WANDB_DIR=str(tmp_path / "wb"), WANDB_SILENT="true"
    )
    rows = out["rows"]
    assert len(rows) == 4  # train 1, val 1 (first Model), train 2, val 2 (the resumed one)
    # One W&B directory per Model (see reporting_worker.py): offline run directories are
    # named by the second, so two runs started within one second would share one.
    runs = []
    for model_dir in ("model-1", "model-2"):
        found = list((tmp_path / "wb" / model_dir / "wandb").glob("offline-run-*-m1/run-m1.wandb"))
        assert len(found) == 1, f"{model_dir}: each Model's first row opens the run with id=name"
        runs += found
    for run_file, history_rows in zip(runs, (rows[:2], rows[2:])):
        records = list(wandb_records(run_file))
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        assert (run.run_id, run.display_name, run.project, run.resume) == ("m1", "m1", "proj", True)

        metrics = [r.metric for r in records if r.WhichOneof("record_type") == "metric"]
        defined = {m.name or m.glob_name: m.step_metric for m in metrics}
        assert defined["training_step"] == "" and defined["time/wall_clock_sec"] == ""
        for pattern in STEP_GLOBS + ["costs/train/judge", "costs/eval/judge", "costs/cum/all"]:
            assert defined[pattern] == "training_step", pattern

        logged = []
        for r in records:
            if r.WhichOneof("record_type") == "history":
                items = {
                    i.key or "/".join(i.nested_key): json.loads(i.value_json)
                    for i in r.history.item
                }
                logged.append({k: v for k, v in items.items() if not k.startswith("_")})
        assert [without_nan(row) for row in logged] == [reported(row) for row in history_rows]
        assert math.isnan(logged[0]["loss/policy"])  # NaN reaches W&B; history.jsonl leaves it out


def test_a_script_without_close_gets_every_row_to_wandb(tmp_path):
    """Issue #24: rows still queued for W&B's thread when the script ends are delivered at
    exit, before W&B finishes its run."""
    out = run_worker(
        "wandb-no-close",
        tmp_path,
        WANDB_MODE="offline",
        WANDB_DIR=str(tmp_path / "wb"),
        WANDB_SILENT="true",
    )
    (run_file,) = (tmp_path / "wb" / "model-1" / "wandb").glob("offline-run-*-m1/run-m1.wandb")
    records = list(wandb_records(run_file))
    logged = [r for r in records if r.WhichOneof("record_type") == "history"]
    assert len(logged) == len(out["rows"]) == 4


def test_trackio_logs_every_row_at_its_training_step_and_resumes(tmp_path):
    out = run_worker("trackio", tmp_path, TRACKIO_DIR=str(tmp_path / "trackio"))
    assert (tmp_path / "trackio" / "proj.db").exists()
    assert out["runs"] == ["m1"]  # the second Model resumed the run
    logs = out["logs"]
    assert (
        [log["step"] for log in logs]
        == [row["training_step"] for row in out["rows"]]
        == [1, 1, 2, 2]
    )
    for log, row in zip(logs, out["rows"]):
        got = {k: v for k, v in log.items() if k not in ("step", "timestamp")}
        assert without_nan(got) == reported(row)


# -- choosing reporters ----------------------------------------------------------------


def test_report_metrics_none_means_wandb_only_with_an_api_key(tmp_path, monkeypatch):
    assert Model(name="m", project="p", base_path=str(tmp_path)).reporters == []
    monkeypatch.setenv("WANDB_API_KEY", "x")
    (reporter,) = Model(name="m", project="p", base_path=str(tmp_path)).reporters
    assert isinstance(reporter, WandbReporter) and reporter.run is None  # created at the first row
    assert Model(name="m", project="p", base_path=str(tmp_path), report_metrics=[]).reporters == []


def test_report_metrics_names(tmp_path):
    model = Model(
        name="m", project="p", base_path=str(tmp_path), report_metrics=["trackio", "wandb"]
    )
    assert [type(r) for r in model.reporters] == [WandbReporter, TrackioReporter]
    every = ["otel", "tensorboard", "mlflow", "trackio", "wandb"]
    model = Model(name="m", project="p", base_path=str(tmp_path), report_metrics=every)
    assert [type(r) for r in model.reporters] == [
        WandbReporter,
        TrackioReporter,
        MlflowReporter,
        TensorBoardReporter,
        OtelReporter,
    ]
    assert model.reporters[3].log_dir == f"{model.run_dir}/tensorboard"
    with pytest.raises(ValueError, match="'swanlab'"):
        Model(name="m", project="p", base_path=str(tmp_path), report_metrics=["mlflow", "swanlab"])
    with pytest.raises(TypeError, match="list of names"):
        Model(name="m", project="p", base_path=str(tmp_path), report_metrics="wandb")


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("wandb", "wandb"),
        ("trackio", "trackio"),
        ("mlflow", "mlflow"),
        ("tensorboard", "tensorboardX"),
        ("otel", "opentelemetry.metrics"),
    ],
)
def test_a_missing_package_names_the_extra(tmp_path, monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"pip install 'art-metrics\[{name}\]'"):
        Model(name="m", project="p", base_path=str(tmp_path), report_metrics=[name])


# -- the same W&B calls as openpipe-art ------------------------------------------------


class FakeRun:
    def __init__(self, calls: list, init_kwargs: dict) -> None:
        self.calls = calls
        self._is_finished = False
        self.config = types.SimpleNamespace(update=lambda *a, **k: None)
        calls.append(("init", {k: init_kwargs[k] for k in ("project", "name", "id", "resume")}))

    def define_metric(self, name, step_metric=None):
        self.calls.append(("define_metric", name, step_metric))

    def log(self, row):
        self.calls.append(("log", {k: v for k, v in row.items() if k != "time/wall_clock_sec"}))

    def finish(self):
        self._is_finished = True


@pytest.fixture
def fake_wandb(monkeypatch):
    calls: list = []
    module = types.ModuleType("wandb")
    module.__spec__ = types.SimpleNamespace(name="wandb")
    module.init = lambda **kwargs: FakeRun(calls, kwargs)
    module.Settings = lambda **kwargs: kwargs
    monkeypatch.setitem(sys.modules, "wandb", module)
    monkeypatch.setenv("WANDB_API_KEY", "x")  # the reference reports only with a key
    return calls


async def log_script(lib, base_path: str) -> None:
    model = lib.Model(name="m1", project="proj", base_path=base_path, report_metrics=["wandb"])
    groups = [lib.TrajectoryGroup([lib.Trajectory(reward=1.0), lib.Trajectory(reward=0.0)])]
    model.metrics_builder("train").add_cost("train/judge", 0.5)
    await model.log(groups, split="train", step=1, metrics={"loss/kl": float("nan")})
    model.metrics_builder("eval").add_cost("eval/judge", 0.25)
    await model.log(groups, split="val", step=1)
    model.metrics_builder("holdout").add_cost("holdout/judge", 0.25)
    await model.log(groups, split="holdout", step=2)
    # Ours delivers from a thread per reporter: wait for it (openpipe-art logs inline).
    flush = getattr(model, "flush_reporters", None)
    if flush is not None:
        flush()


def test_wandb_calls_match_openpipe_art(fake_wandb, tmp_path):
    asyncio.run(log_script(art, str(tmp_path / "ref")))
    reference = list(fake_wandb)
    fake_wandb.clear()
    import art_metrics

    asyncio.run(log_script(art_metrics, str(tmp_path / "ours")))
    assert len(fake_wandb) == len(reference) > 20

    def same(ours, ref):  # NaN != NaN
        return json.dumps(ours, sort_keys=True) == json.dumps(ref, sort_keys=True)

    for i, (ours, ref) in enumerate(zip(fake_wandb, reference)):
        assert same(ours, ref), f"call {i}: {ours} != {ref}"


def test_an_installed_art_model_makes_the_same_wandb_calls(fake_wandb, tmp_path):
    """Under install(), art.Model's log runs on the core and reports through ART's own W&B
    run and methods: the same calls as plain openpipe-art."""
    asyncio.run(log_script(art, str(tmp_path / "ref")))
    reference = list(fake_wandb)
    fake_wandb.clear()
    import art_metrics

    art_metrics.install()
    try:
        asyncio.run(log_script(art, str(tmp_path / "ours")))
    finally:
        art_metrics.uninstall()
    assert len(fake_wandb) == len(reference) > 20
    for i, (ours, ref) in enumerate(zip(fake_wandb, reference)):
        assert json.dumps(ours, sort_keys=True) == json.dumps(ref, sort_keys=True), f"call {i}"
    # The rows went through the core's run directory (its journal bookkeeping).
    state = json.loads((tmp_path / "ours/proj/models/m1/state.json").read_text())
    assert "_art_metrics" in state


def test_an_installed_model_reports_through_the_installed_arts_own_wandb_methods(
    fake_wandb, tmp_path
):
    """``install(art_version="0.5.23")`` on 0.5.18: rows follow 0.5.23's rules, W&B follows
    the installed ART's methods (0.5.18 has no key filter; asking it for one raised)."""
    import art_metrics

    art_metrics.install(art_version="0.5.23")
    try:
        asyncio.run(log_script(art, str(tmp_path)))
    finally:
        art_metrics.uninstall()
    logged = [c[1] for c in fake_wandb if c[0] == "log"]
    history = (tmp_path / "proj/models/m1/history.jsonl").read_text().splitlines()
    assert len(logged) == len(history) == 3
    assert "train/reward" in logged[0]  # 0.5.23's key, sent whole by 0.5.18's reporting
