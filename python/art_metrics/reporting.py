"""Reporters that send every `Model.log` row to W&B or Trackio, and `reporters_for`, which
builds the reporters ``Model(report_metrics=[...])`` names (MLflow, TensorBoard and
OpenTelemetry live in their own modules).

``Model(report_metrics=["wandb"])`` and ``Model(report_metrics=["trackio"])`` build these;
they can also be passed directly with ``Model(reporters=[...])``. Both packages are
optional extras (``pip install 'art-metrics[wandb]'``, ``'art-metrics[trackio]'``) and are
imported at the first logged row, so a Model costs nothing until then. The rows reach them
from a thread of their own (`art_metrics.delivery`); ``start()`` opens the run in the
logging thread at the first row.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, get_args

from ._core import _wandb_row_keys, _wandb_setup
from ._types import AlertLevel, ArtVersion, ReportMetric

__all__ = ["TrackioReporter", "WandbReporter", "reporters_for"]

# The names report_metrics knows, in the order their reporters are made.
KNOWN: tuple[ReportMetric, ...] = get_args(ReportMetric)

# The reference's x-axis setup: every group of metrics is plotted against training_step,
# so validation logged late for an earlier step lands at that step. The axes, the globs and
# which keys are sent are openpipe-art version's rules, in the core.
_STEP_METRIC = "training_step"


# Keys of a row that are axes, not metrics: the step every sink plots against, and the
# step `log` was given (openpipe-art's history column).
AXES = ("step", _STEP_METRIC)


def metric_values(row: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    """A row's metrics as floats, for the sinks with a numeric axis (MLflow, TensorBoard,
    OpenTelemetry): every int and float value (NaN and infinities included) but the axes."""
    for key, value in row.items():
        if key in AXES or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        yield key, float(value)


def row_step(row: Mapping[str, Any]) -> int:
    """The step a row is plotted at: its ``training_step`` (0 when it has none)."""
    step = row.get(_STEP_METRIC)
    return step if isinstance(step, int) and not isinstance(step, bool) else 0


def require(module: str, extra: str, package: str | None = None) -> None:
    """ImportError naming the extra to install when ``module`` cannot be imported."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"report_metrics=[{extra!r}] needs the {package or module} package: "
            f"pip install 'art-metrics[{extra}]'",
            name=module,
        )


class WandbReporter:
    """Logs each row to the W&B run ``id=name`` of ``project`` (resumed when it exists).

    Defines ``training_step`` as the step metric for ``train/*``, ``val/*``, ``test/*``,
    ``costs/*`` and the other metric sections, as openpipe-art does, and lets W&B keep its
    own monotonic step. The run is created at the first row (``start``), and again after
    `finish`.

    ``art_version="0.5.23"`` follows that version: ``sft/*`` is plotted against
    ``sft/gradient_step``; ``run.log`` gets only the canonical keys, ``costs/cum/*``,
    ``sft/*`` and the caller's own keys (``caller_keys`` of `log`); and without the wandb
    package rows are skipped silently (tried again at the next row) instead of refused.
    """

    # The delivery passes `log` the caller's own keys of each row.
    takes_caller_keys = True

    def __init__(
        self,
        *,
        project: str,
        name: str,
        entity: str | None = None,
        art_version: ArtVersion = "0.5.18",
        **init_kwargs: Any,
    ) -> None:
        self._axes, self._globs, required = _wandb_setup(art_version)
        self.art_version = art_version
        if required:
            require("wandb", "wandb")
        self.project = project
        self.name = name
        self.entity = entity
        self._init_kwargs = init_kwargs
        self._run: Any = None
        self._defined: set[str] = set()

    @property
    def run(self) -> Any:
        """The current ``wandb.Run``, or None before the first row."""
        return self._run

    def _current_run(self) -> Any:
        run = self._run
        if run is None or getattr(run, "_is_finished", getattr(run, "_finished", False)):
            try:
                import wandb
            except ModuleNotFoundError as e:
                # 0.5.23 skips W&B when the package is missing (0.5.18 refused at Model()).
                if e.name == "wandb" or (e.name or "").startswith("wandb."):
                    return None
                raise
            run = wandb.init(
                project=self.project,
                entity=self.entity,
                name=self.name,
                id=self.name,
                resume="allow",
                reinit="create_new",
                **self._init_kwargs,
            )
            for axis in self._axes:
                run.define_metric(axis)
            for pattern, step_metric in self._globs:
                run.define_metric(pattern, step_metric=step_metric)
            self._defined = set(self._axes)
            self._run = run
        return run

    def start(self) -> None:
        """Open (or resume) the W&B run now; `log` does it otherwise."""
        self._current_run()

    def log(self, row: dict[str, float | int], *, caller_keys: Iterable[str] = ()) -> None:
        """Send ``row``; ``caller_keys``: its keys that are the caller's own metrics."""
        run = self._current_run()
        if run is None:
            return
        sent, to_define = _wandb_row_keys(self.art_version, list(row), list(caller_keys))
        # "costs/*" does not reach nested keys (costs/train/judge) in every W&B version;
        # the reference defines each cost key (0.5.23: and each caller key) once as well.
        for key in to_define:
            if key not in self._defined:
                run.define_metric(key, step_metric=_STEP_METRIC)
                self._defined.add(key)
        run.log({key: row[key] for key in sent})

    def alert(self, *, title: str, text: str, level: AlertLevel = "WARN") -> None:
        """A W&B alert on the run (``level``: "INFO", "WARN" or "ERROR"); the spend guard
        sends one per threshold crossed."""
        run = self._current_run()
        if run is not None:  # 0.5.23's rules without wandb installed: nothing to alert
            run.alert(title=title, text=text, level=level)

    def finish(self) -> None:
        """Finish the W&B run (its files are complete after this)."""
        if self._run is not None:
            self._run.finish()
            self._run = None


class TrackioReporter:
    """Logs each row to the Trackio run ``name`` of ``project``, at step ``training_step``.

    Trackio stores locally (``$TRACKIO_DIR``, default ``~/.cache/huggingface/trackio``)
    unless told otherwise; ``init_kwargs`` go to ``trackio.init`` (``space_id=...``,
    ``auto_log_cpu=False``, ...). Trackio keeps one current run per process, so two models
    reporting to Trackio in one process finish each other's runs.
    """

    def __init__(self, *, project: str, name: str, **init_kwargs: Any) -> None:
        require("trackio", "trackio")
        self.project = project
        self.name = name
        self._init_kwargs = init_kwargs
        self._run: Any = None

    @property
    def run(self) -> Any:
        """The current ``trackio.Run``, or None before the first row."""
        return self._run

    def _current_run(self) -> Any:
        if self._run is None:
            import trackio

            self._run = trackio.init(
                project=self.project, name=self.name, resume="allow", **self._init_kwargs
            )
        return self._run

    def start(self) -> None:
        """Open (or resume) the Trackio run now; `log` does it otherwise."""
        self._current_run()

    def log(self, row: dict[str, float | int]) -> None:
        step = row.get(_STEP_METRIC)
        self._current_run().log(dict(row), step=step if isinstance(step, int) else None)

    def alert(self, *, title: str, text: str, level: AlertLevel = "WARN") -> None:
        """A Trackio alert (``trackio.alert``, in Trackio versions that have it) for the
        spend guard; ``level``: "INFO", "WARN" or "ERROR"."""
        import trackio

        # Looked up, not imported: Trackio versions without alerts exist.
        trackio_alert = getattr(trackio, "alert", None)
        if not callable(trackio_alert):
            return
        run = self._current_run()
        levels = getattr(trackio, "AlertLevel", None)
        value = levels(level.lower()) if levels is not None else level.lower()
        # The run's own method: trackio.alert() finds the run through a context variable,
        # which another thread or task may not have.
        run_alert = getattr(run, "alert", None)
        if callable(run_alert):
            run_alert(title=title, text=text, level=value)
        else:
            trackio_alert(title=title, text=text, level=value)

    def finish(self) -> None:
        """Finish the Trackio run (its rows are written to the local database after this)."""
        if self._run is not None:
            self._run.finish()
            self._run = None


def reporters_for(
    report_metrics: Iterable[ReportMetric] | None,
    *,
    project: str,
    name: str,
    run_dir: str,
    entity: str | None = None,
    art_version: ArtVersion = "0.5.18",
) -> list[Any]:
    """The reporters ``Model(report_metrics=...)`` asks for.

    ``None`` means W&B when ``WANDB_API_KEY`` is set (as openpipe-art); otherwise each
    entry of `KNOWN` adds its reporter (TensorBoard's event files go to
    ``{run_dir}/tensorboard``). Other names are a ValueError naming them.
    """
    if report_metrics is None:
        wanted = ["wandb"] if "WANDB_API_KEY" in os.environ else []
    elif isinstance(report_metrics, str):
        raise TypeError(
            f"report_metrics must be a list of names, not the string {report_metrics!r}"
        )
    else:
        wanted = list(report_metrics)
    unknown = [entry for entry in wanted if entry not in KNOWN]
    if unknown:
        raise ValueError(f"report_metrics: unknown {unknown!r}; known: {list(KNOWN)!r}")
    reporters: list[Any] = []
    if "wandb" in wanted:
        reporters.append(
            WandbReporter(project=project, name=name, entity=entity, art_version=art_version)
        )
    if "trackio" in wanted:
        reporters.append(TrackioReporter(project=project, name=name))
    if "mlflow" in wanted:
        from .mlflow_reporter import MlflowReporter

        reporters.append(MlflowReporter(project=project, name=name))
    if "tensorboard" in wanted:
        from .tensorboard_reporter import TensorBoardReporter

        reporters.append(TensorBoardReporter(log_dir=os.path.join(run_dir, "tensorboard")))
    if "otel" in wanted:
        from .otel_reporter import OtelReporter

        reporters.append(OtelReporter(project=project, name=name))
    return reporters
