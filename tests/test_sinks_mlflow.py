"""report_metrics=["mlflow"] against a real MLflow tracking server (started here on
127.0.0.1 with a SQLite store) and a file store, read back with MLflow's own client.

`make test` builds the server's venv (.venv-mlflow: the full `mlflow` package, which the
test venv does not hold) and passes its `mlflow` in ART_METRICS_MLFLOW_SERVER; without it
these tests fail and say so (they are never skipped).
"""

import asyncio
import math
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from art_metrics import Model
from mlflow import MlflowClient
from support.sink_runs import log_steps

ROOT = pathlib.Path(__file__).resolve().parent.parent


def mlflow_server_command() -> str:
    given = os.environ.get("ART_METRICS_MLFLOW_SERVER")
    default = ROOT / ".venv-mlflow" / "bin" / "mlflow"
    command = given or (str(default) if default.exists() else None)
    assert command, (
        "no MLflow tracking server: run `make test` (it builds .venv-mlflow) or set "
        "ART_METRICS_MLFLOW_SERVER to an `mlflow` command of the full package"
    )
    return command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A tracking server on 127.0.0.1 with a SQLite store; yields its URI."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            mlflow_server_command(),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root}/mlflow.db",
            "--default-artifact-root",
            str(root / "artifacts"),
        ],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (root / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (root / "server.log").read_text()[-3000:]
            time.sleep(0.25)
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def history(model: Model) -> list[dict]:
    import json

    with open(f"{model.run_dir}/history.jsonl") as f:
        return [json.loads(line) for line in f]


def read_run(uri: str, project: str, name: str):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(project)
    runs = client.search_runs([experiment.experiment_id])
    return client, runs


def check_metrics(client, run, rows: list[dict], left_out=()) -> None:
    """Every finite number of every row (but step, training_step and ``left_out``) is in
    the run at step training_step; NaN is kept; infinities are not sent."""
    expected: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key in ("step", "training_step", "recorded_at") or key in left_out:
                continue
            if isinstance(value, (int, float)) and not math.isinf(value):
                expected.setdefault(key, []).append((row["training_step"], float(value)))
    expected.setdefault("loss/kl", [])
    expected["loss/kl"] = [(r["training_step"], math.nan) for r in rows if "train/reward" in r]
    assert set(run.data.metrics) == set(expected)
    for key, points in expected.items():
        got = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
        got.sort(key=lambda p: p[0])
        assert len(got) == len(points), key
        for (step, value), (want_step, want) in zip(got, sorted(points, key=lambda p: p[0])):
            assert step == want_step, key
            assert value == pytest.approx(want, nan_ok=True), key


def test_rows_reach_a_tracking_server_and_a_restarted_model_resumes_the_run(
    mlflow_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    first = Model(name="m1", project="proj", base_path=str(tmp_path), report_metrics=["mlflow"])
    asyncio.run(log_steps(first, [1, 2]))
    first.close()
    (reporter,) = first.reporters
    client, runs = read_run(mlflow_server, "proj", "m1")
    assert [r.info.status for r in runs] == ["FINISHED"]
    # A restarted process (a new Model and reporter) finds the run by its tag and resumes it.
    again = Model(name="m1", project="proj", base_path=str(tmp_path), report_metrics=["mlflow"])
    asyncio.run(log_steps(again, [3]))
    assert again.flush_reporters()
    assert reporter.run_id is None and again.reporters[0].run_id is not None
    client, runs = read_run(mlflow_server, "proj", "m1")
    (run,) = runs
    assert run.info.status == "RUNNING" and run.info.run_name == "m1"
    assert run.data.tags["art_metrics.model"] == "m1"
    check_metrics(client, run, history(again))
    again.close()
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


def test_a_file_store_gets_the_row_without_keys_that_are_prefixes_of_others(tmp_path, monkeypatch):
    """MLflow's file store keeps `costs/train` as a file, so `costs/train/judge` cannot be a
    file under it: such keys are left out, with one warning naming them."""
    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    model = Model(name="m1", project="proj", base_path=str(tmp_path), report_metrics=["mlflow"])
    # Said once, by the first call in the logging thread after the reporter's thread met it.
    with pytest.warns(RuntimeWarning, match=r"path prefix of another.*'costs/cum/train/judge'"):
        asyncio.run(log_steps(model, [1]))
        model.flush_reporters()
    asyncio.run(log_steps(model, [2]))
    model.close()
    left_out = {"costs/train/judge", "costs/cum/train/judge"}
    client, (run,) = read_run(store.as_uri(), "proj", "m1")
    check_metrics(client, run, history(model), left_out=left_out)
    assert "costs/train" in run.data.metrics and "costs/cum/all" in run.data.metrics


def test_without_a_tracking_uri_the_first_log_says_how_to_set_one(tmp_path, monkeypatch):
    """MLflow's default would create mlflow.db in the working directory: refused."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    base = str(tmp_path / "runs")
    model = Model(name="m1", project="proj", base_path=base, report_metrics=["mlflow"])
    with pytest.raises(RuntimeError, match="MLFLOW_TRACKING_URI"):
        asyncio.run(model.log(None, split="train", step=1, metrics={"a": 1.0}))
    assert len(history(model)) == 1  # the row is written all the same
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    with pytest.warns(RuntimeWarning, match="did not receive 1 row"):
        model.close(timeout=0)
