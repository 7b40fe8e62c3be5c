"""`MlflowReporter`: every row's numbers as MLflow metrics, one MLflow run per model.

``Model(report_metrics=["mlflow"])`` builds it (``pip install 'art-metrics[mlflow]'``, the
``mlflow-skinny`` client). The tracking URI is MLflow's own setting, ``MLFLOW_TRACKING_URI``
or ``mlflow.set_tracking_uri(...)`` (or ``MlflowReporter(tracking_uri=...)``): a tracking
server (``http://127.0.0.1:5000``), a database or a file store of your choosing. Without
one the reporter refuses to start, rather than let MLflow create ``mlflow.db`` in the
working directory.

The run lives in the experiment named after the project and carries the tag
``art_metrics.model`` = the model's name; a restarted process finds it by that tag and
resumes it. Each row goes in one ``log_batch``: every number but ``step`` and
``training_step``, at step ``training_step``. NaN is kept (MLflow stores it); infinities are
left out (MLflow's SQL stores would save them as ±1.8e308).

MLflow's file store keeps a metric as a file at its key's path, so it cannot hold a key that
is a path prefix of another (``costs/train`` beside ``costs/train/judge``): with a file
store the key logged first wins (within a row, the shorter), and a warning names the keys
left out, once. Keys MLflow refuses as names (``reward[0]``) are left out the same way.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from typing import Any

from .reporting import metric_values, require, row_step

__all__ = ["MlflowReporter"]

# The tag that names the model a run reports (the run is found by it after a restart).
MODEL_TAG = "art_metrics.model"


def _quoted(value: str) -> str:
    """``value`` as a string literal of MLflow's search filter."""
    quote = "'" if "'" not in value else '"'
    return f"{quote}{value}{quote}"


def _is_file_store(uri: str) -> bool:
    return urllib.parse.urlparse(uri).scheme in ("", "file")


def _clashes(key: str, kept: set[str]) -> bool:
    """Whether ``key`` is a path prefix of a kept key, or has one as its prefix."""
    parts = key.split("/")
    if any("/".join(parts[:n]) in kept for n in range(1, len(parts))):
        return True
    prefix = key + "/"
    return any(k.startswith(prefix) for k in kept)


class MlflowReporter:
    """Logs each row to the MLflow run of model ``name`` in experiment ``project``.

    ``tracking_uri``: where MLflow stores it (default: MLflow's own setting,
    ``MLFLOW_TRACKING_URI``). The run is found or created by `start` (called at the first
    row) and marked finished by `finish` (``Model.close``); a later row resumes it.
    """

    def __init__(self, *, project: str, name: str, tracking_uri: str | None = None) -> None:
        require("mlflow", "mlflow", "mlflow-skinny")
        if "'" in name and '"' in name:
            raise ValueError(
                f"name {name!r}: MLflow's run search cannot match a name holding both "
                "quote characters"
            )
        self.project = project
        self.name = name
        self.tracking_uri = tracking_uri
        self._client: Any = None
        self._run_id: str | None = None
        self._file_store = False
        # Keys sent to the run (and those it already had), and keys left out.
        self._kept: set[str] = set()
        self._left_out: set[str] = set()
        self._warnings: list[str] = []

    @property
    def run_id(self) -> str | None:
        """The MLflow run's id, or None before `start`."""
        return self._run_id

    def start(self) -> None:
        """Finds the model's run in the project's experiment (or creates both) and marks it
        running."""
        if self._run_id is not None:
            return
        import mlflow
        from mlflow import MlflowClient

        untyped: Any = mlflow  # (is_tracking_uri_set has no annotations)
        if self.tracking_uri is None and not untyped.is_tracking_uri_set():
            raise RuntimeError(
                "report_metrics=['mlflow'] needs a tracking URI: set MLFLOW_TRACKING_URI (a "
                "tracking server's http://host:port, or a database or file store of your "
                "choosing) or call mlflow.set_tracking_uri(); MlflowReporter(tracking_uri=...) "
                "also takes one"
            )
        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment = client.get_experiment_by_name(self.project)
        if experiment is None:
            experiment_id = client.create_experiment(self.project)
        elif experiment.lifecycle_stage != "active":
            raise RuntimeError(
                f"the MLflow experiment {self.project!r} is deleted: restore it "
                "(`mlflow experiments restore`) or delete it for good"
            )
        else:
            experiment_id = experiment.experiment_id
        found = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{MODEL_TAG}` = {_quoted(self.name)}",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
        if found:
            run = found[0]
            if run.info.status != "RUNNING":
                client.update_run(run.info.run_id, status="RUNNING")
            self._kept = set(run.data.metrics)
        else:
            run = client.create_run(experiment_id, run_name=self.name, tags={MODEL_TAG: self.name})
            self._kept = set()
        self._file_store = _is_file_store(client.tracking_uri)
        self._client = client
        self._run_id = run.info.run_id

    def log(self, row: dict[str, float | int]) -> None:
        """One ``log_batch`` of the row's numbers at step ``training_step``."""
        self.start()
        from mlflow.entities import Metric

        step = row_step(row)
        millis = int(time.time() * 1000)
        values = {k: v for k, v in metric_values(row) if not math.isinf(v)}
        new = sorted(k for k in values if k not in self._kept and k not in self._left_out)
        if new:
            self._admit(new)
        metrics = [Metric(k, v, millis, step) for k, v in values.items() if k in self._kept]
        if metrics:
            self._client.log_batch(self._run_id, metrics=metrics)

    def take_warnings(self) -> list[str]:
        """What to warn about since the last call (keys left out); the delivery warns in the
        logging thread."""
        taken, self._warnings = self._warnings, []
        return taken

    def finish(self) -> None:
        """Marks the run finished (a later row resumes it)."""
        if self._run_id is not None:
            self._client.set_terminated(self._run_id)
            self._run_id = None

    def _admit(self, keys: list[str]) -> None:
        # Shorter keys first (sorted), so that within a row a parent wins over its children.
        refused = [k for k in keys if not _valid_name(k)]
        clashing = []
        for key in keys:
            if key in refused:
                continue
            if self._file_store and _clashes(key, self._kept):
                clashing.append(key)
            else:
                self._kept.add(key)
        self._left_out.update(refused, clashing)
        if refused:
            self._warnings.append(
                f"MLflow run of {self.name!r}: MLflow refuses these metric names, they are "
                f"not sent: {refused}"
            )
        if clashing:
            self._warnings.append(
                f"MLflow run of {self.name!r}: a file store cannot hold a key that is a path "
                f"prefix of another; not sent: {clashing} (the others are)"
            )


def _valid_name(key: str) -> bool:
    """Whether MLflow accepts ``key`` as a metric name (its own check, where it has one)."""
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.utils import validation
    except ImportError:  # moved in another MLflow version: MLflow's log_batch decides
        return True
    check: Any = getattr(validation, "_validate_metric_name", None)
    if check is None:
        return True
    try:
        check(key)
    except MlflowException:
        return False
    return True
