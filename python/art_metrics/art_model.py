"""`install()`'s takeover of openpipe-art's own ``Model``: its log step and run directory on
the Rust core, the same code as `art_metrics.Model`.

An ``art.Model`` (or ``TrainableModel``) created while installed carries an `ArtRun`: the
run directory's core (one writer, journal, atomic state.json, torn-tail recovery, fork
safety) and the rows written but not yet reported. Its ``log``, ``read_state``,
``overwrite_state`` / ``write_state``, ``merge_state`` and state loading go through it; what
ART's ``log`` does besides metrics (trajectory parquet files, W&B through the model's own
``_get_wandb_run``) is still done, by ART's own code where it has a function for it.

A model created before ``install()`` has no `ArtRun` and keeps openpipe-art's behaviour,
with one warning naming the order of calls.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ._core import RunCore
from .builder import MetricsBuilder
from .model import _close_quietly, _folder_name, _python_locks, _warn_about, fold_off_loop

__all__ = ["METHODS", "ArtRun", "close_all", "replacements"]

# The attribute an installed art.Model carries (set with object.__setattr__, as ART sets
# its own runtime state; pydantic's model_dump never sees it).
RUN_ATTR = "_art_metrics_run"
_WARNED_ATTR = "_art_metrics_warned_uninstalled"

# Every live ArtRun, so that uninstall() can fold and release their run directories before
# openpipe-art's own file code takes over again.
_live: weakref.WeakSet[ArtRun] = weakref.WeakSet()


class ArtRun:
    """The core-side state of one installed ``art.Model``."""

    def __init__(self, started_monotonic: float) -> None:
        self._started = started_monotonic
        self._core: RunCore | None = None
        self._path: str | None = None
        self._load_lock = threading.Lock()
        _python_locks.add(self)
        self.loaded = False
        # Rows written but not yet reported to W&B (a KeyboardInterrupt in between).
        self.undelivered: list[tuple[dict[str, float | int], list[str]]] = []
        # Trajectory directories known to exist: ART makes its directory at every log; a
        # stat per log takes 0.05 ms after a GC (issue #20), so a write that finds it gone
        # makes it again instead.
        self.trajectory_dirs: set[str] = set()
        _live.add(self)

    def core(self, model: Any) -> RunCore:
        """The run directory's core at the model's current output dir (ART computes the
        path at every call, so a renamed model moves on, as it does in ART)."""
        path = model._get_output_dir()
        core = self._core
        if core is not None and path == self._path:
            return core
        with self._load_lock:
            if self._core is None or path != self._path:
                if self._core is not None:
                    _close_quietly(self._core)
                self._core = RunCore(path, started_s_ago=time.monotonic() - self._started)
                weakref.finalize(self, _close_quietly, self._core)
                self._path = path
                self.loaded = False
            return self._core

    def ensure_loaded(self, model: Any) -> RunCore:
        core = self.core(model)
        if not self.loaded:
            with self._load_lock:
                if not self.loaded:
                    core.load_into(model._metrics_builder)
                    self.loaded = True
                    object.__setattr__(model, "_metrics_builder_state_loaded", True)
            _warn_about(core)
        return core

    def close(self) -> None:
        if self._core is not None:
            self._core.close()


def close_all() -> None:
    """Fold and release every installed model's run directory (uninstall())."""
    for run in list(_live):
        try:
            run.close()
        except Exception as err:  # noqa: BLE001 - uninstall() must restore ART anyway
            warnings.warn(
                f"art_metrics could not close a run directory: {err}", RuntimeWarning, stacklevel=3
            )


def _run_of(model: Any) -> ArtRun | None:
    run: ArtRun | None = model.__dict__.get(RUN_ATTR)
    if run is None and not model.__dict__.get(_WARNED_ATTR):
        object.__setattr__(model, _WARNED_ATTR, True)
        warnings.warn(
            f"{type(model).__name__}(name={model.name!r}) was created before "
            "art_metrics.install(): it keeps openpipe-art's own log and run directory. Call "
            "install() before creating models.",
            RuntimeWarning,
            stacklevel=3,
        )
    return run


def _json(state: Mapping[str, Any]) -> str:
    return json.dumps(state, allow_nan=False)


def _write_parquet(run: ArtRun, model: Any, groups: list[Any], split: str, step: int) -> None:
    """The trajectory parquet file ART writes for a logged batch, through ART's own writer
    (looked up at call time in ``art.model``)."""
    import art.model

    directory = f"{model._get_output_dir()}/trajectories/{split}"
    if directory not in run.trajectory_dirs:
        if not os.path.isdir(directory):  # (makedirs raises and catches when it exists: slower)
            os.makedirs(directory, exist_ok=True)
        run.trajectory_dirs.add(directory)
    path = f"{directory}/{step:04d}.parquet"
    # 0.5.23's groups may come with their parquet already written by a rollout worker; 0.5.18's
    # group class declares no such private attribute (asking each group would raise and catch
    # an AttributeError per group in pydantic's __getattr__: 0.5 ms a batch).
    declares = {
        cls: "_prepared_log_path" in getattr(cls, "__private_attributes__", ())
        for cls in set(map(type, groups))
    }
    if any(declares.values()):
        paths = [g._prepared_log_path if declares[type(g)] else None for g in groups]
        prepared = {p for p in paths if p is not None}
        if prepared:
            if len(prepared) != 1 or None in paths:
                raise RuntimeError("trajectory batch has inconsistent prepared logs")
            _in_directory(directory, functools.partial(os.replace, prepared.pop(), path))
            for group in groups:
                group._prepared_log_path = None
            return
    write = art.model.write_trajectory_groups_parquet
    _in_directory(directory, functools.partial(write, groups, path))


def _in_directory(directory: str, write: Callable[[], object]) -> None:
    """``write()``, again after making ``directory`` if it was removed since it was made."""
    try:
        write()
    except FileNotFoundError:
        if os.path.isdir(directory):
            raise
        os.makedirs(directory, exist_ok=True)
        write()


def _normalize_groups(model: Any, trajectories: Any) -> list[Any]:
    """ART's ``_normalize_trajectory_groups(trajectories)``. A list of exactly ART's
    ``TrajectoryGroup`` is what it returns unchanged, decided here without its isinstance
    per group (pydantic's metaclass runs Python code for each: 0.07 ms a batch of 256, issue
    #20); anything else, or a model class that overrides the method, goes to the method."""
    import art.model

    method = type(model)._normalize_trajectory_groups
    if method is art.model.Model._normalize_trajectory_groups:
        items = list(trajectories)
        if items and set(map(type, items)) == {art.model.TrajectoryGroup}:
            return items
        trajectories = items
    groups: list[Any] = method(model, trajectories)
    return groups


def _report(model: Any, row: dict[str, float | int], caller_keys: list[str]) -> None:
    """W&B as openpipe-art reports a row, through the model's own W&B run and methods."""
    wanted = model.report_metrics
    if not (
        (wanted is None and "WANDB_API_KEY" in os.environ)
        or (wanted is not None and "wandb" in wanted)
    ):
        return
    run = model._get_wandb_run()
    if not run:
        return
    # The installed openpipe-art's own methods decide, not the rules' version: 0.5.23 filters
    # the row to its canonical and the caller's keys; 0.5.18 has no filter and logs it all.
    filtered = getattr(model, "_wandb_metrics_payload", None)
    if filtered is None:
        model._define_wandb_step_metrics(row.keys())
        run.log(row)
    else:
        custom = set(caller_keys)
        payload = filtered(row, custom)
        model._define_wandb_step_metrics(payload.keys(), custom)
        run.log(payload)


def _deliver(model: Any, run: ArtRun) -> None:
    while run.undelivered:
        row, caller_keys = run.undelivered[0]
        _report(model, row, caller_keys)
        run.undelivered.pop(0)


def replacements(originals: Mapping[str, Callable[..., Any]]) -> dict[str, Any]:
    """The methods install() puts on ``art.model.Model``, by name; ``originals`` are
    openpipe-art's, used for models created before install()."""

    def _init_runtime_state(self: Any) -> None:
        originals["_init_runtime_state"](self)
        if isinstance(self._metrics_builder, MetricsBuilder):
            # The folders of the run directory: one each, or nothing is created (0.5.23's
            # TrainableModel stores under `run_name`; its `name` is only a serving alias).
            _folder_name(self.project, "project")
            if "run_name" in type(self).model_fields:
                _folder_name(self.run_name, "run_name")
            else:
                _folder_name(self.name, "name")
            started = getattr(self, "_run_start_monotonic", time.monotonic())
            object.__setattr__(self, RUN_ATTR, ArtRun(started))

    def _load_metrics_builder_state(self: Any) -> None:
        run = _run_of(self)
        if run is None:
            originals["_load_metrics_builder_state"](self)
            return
        run.ensure_loaded(self)

    def read_state(self: Any) -> Any:
        run = _run_of(self)
        if run is None:
            return originals["read_state"](self)
        core = run.core(self)
        text = core.read_state()
        _warn_about(core)
        return None if text is None else json.loads(text)

    def overwrite_state(self: Any, state: Any) -> None:
        run = _run_of(self)
        if run is None:
            originals["overwrite_state"](self, state)
            return
        run.core(self).overwrite_state(_json(state), run.loaded)

    def merge_state(self: Any, state: dict[str, Any]) -> Any:
        run = _run_of(self)
        if run is None:
            return originals["merge_state"](self, state)
        return json.loads(run.core(self).merge_state(_json(state), run.loaded))

    async def log(
        self: Any,
        trajectories: Any = None,
        split: str = "val",
        *,
        metrics: dict[str, float] | None = None,
        step: int | None = None,
    ) -> None:
        run = _run_of(self)
        if run is None:
            await originals["log"](self, trajectories, split, metrics=metrics, step=step)
            return
        if step is None:
            step = await self.get_step() if self.trainable else 0
        core = run.ensure_loaded(self)
        if trajectories is None and metrics is None:
            _deliver(self, run)  # rows left unreported (an interrupt, a failing W&B log)
            return
        groups = None
        if trajectories is not None:
            groups = _normalize_groups(self, trajectories)
            _write_parquet(run, self, groups, split, step)
        if metrics is not None and not isinstance(metrics, dict):
            metrics = dict(metrics)
        prepared = core.prepare_log(
            self._metrics_builder,
            groups,
            split,
            step,
            metrics,
            time.time() - self._run_start_time,
            datetime.now().isoformat(),
            self._backend,
            self,
        )
        try:
            # The row joins the queue in the C call that writes it (list.extend over map), so
            # a KeyboardInterrupt cannot leave a written row unqueued (as in Model.log).
            commit = functools.partial(core.commit_log, defer_fold=True)
            run.undelivered.extend(filter(None, map(commit, (prepared,))))
            if core.fold_due():
                await fold_off_loop(core)
            _deliver(self, run)
        finally:
            # The row's costs count against the budget whether or not W&B took it (checking
            # again without a new row changes nothing).
            self._metrics_builder._check_budget()
        _warn_about(core)

    log.__doc__ = originals["log"].__doc__
    return {
        "_init_runtime_state": _init_runtime_state,
        "_load_metrics_builder_state": _load_metrics_builder_state,
        "read_state": read_state,
        "overwrite_state": overwrite_state,
        "merge_state": merge_state,
        "log": log,
    }


# The methods of art.model.Model that replacements() replaces (write_state calls
# overwrite_state; _persist_metrics_builder_state calls merge_state).
METHODS = (
    "_init_runtime_state",
    "_load_metrics_builder_state",
    "read_state",
    "overwrite_state",
    "merge_state",
    "log",
)
