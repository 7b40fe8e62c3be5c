"""`Model`: one training run's metrics rows (history.jsonl), running totals and GPU cost.

The rules (averages, routing, prefixes, cumulative totals, row format, crash-safe files)
live in the Rust core; this module orchestrates a log call and holds per-process state:
the clock, the backend, the reporters.

>>> import asyncio, tempfile
>>> from art_metrics import Model, Trajectory, TrajectoryGroup
>>> model = Model(name="run1", project="demo", base_path=tempfile.mkdtemp())
>>> group = TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.0)])
>>> asyncio.run(model.log([group], split="train", step=1))
>>> model.read_state()["_metrics_builder_state"]["cum_state"]["data/cum/num_trajectories"]
2.0
"""

from __future__ import annotations

import asyncio
import functools
import json
import operator
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from contextvars import Token
from datetime import datetime
from typing import Any

from . import budget as _budget
from ._core import (
    PreparedLog,
    RunCore,
    _after_fork_in_child,
    _check_path_component,
    _split_notice,
)
from ._types import ArtVersion, OnExceed, ReportMetric
from .builder import MetricsBuilder
from .delivery import Delivery, Reporter
from .reporting import reporters_for
from .trajectories import normalize_groups


def _close_quietly(run: RunCore, delivery: Delivery | None = None) -> None:
    # At exit or when the Model is collected: deliver what the reporters can take in a few
    # seconds and keep the rest for the next process, fold the journal so state.json is
    # complete, and release the run directory's writer lock.
    steps: list[Callable[[], object]] = [run.close]
    if delivery is not None:
        reporters = [lane.reporter for lane in delivery.lanes]
        steps.insert(0, functools.partial(delivery.shutdown, None, reporters))
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - nothing useful can be done at interpreter exit
            pass


def _warn_about(run: RunCore) -> None:
    for message in run.take_warnings():
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _folder_name(value: Any, what: str) -> str:
    """``name``/``project``: a str naming one folder (the core's rule), else TypeError or
    ValueError naming ``what``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a non-empty str, got {type(value).__name__}")
    _check_path_component(value, what)
    return value


def _step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError(f"step must be an int, got bool {step!r}")
    try:
        index = operator.index(step)  # int, numpy integers
    except TypeError:
        raise TypeError(f"step must be an int, got {type(step).__name__} {step!r}") from None
    if not -(2**63) <= index < 2**63:
        raise ValueError(f"step is too large: it must fit in 64 bits, got {index}")
    return index


async def fold_off_loop(run: RunCore) -> None:
    """Folds the run's journal into state.json when it has outgrown it, on the event loop's
    default executor: the fold rewrites state.json (a temporary file, fsync, rename), which
    can take long on a big run or a shared disk, and the loop runs other tasks meanwhile. A
    log's own writes, a journal line and a row appended to the page cache, stay inline (a
    thread hop costs more than they do). Callers ask ``run.fold_due()`` first, so that a log
    with nothing to fold makes no coroutine; ``fold_if_due`` checks again on the executor."""
    await asyncio.get_running_loop().run_in_executor(None, run.fold_if_due)


async def sample_gpus_off_loop(prepared: PreparedLog) -> None:
    """Samples the visible GPUs for a log's efficiency figures (opt-in; train logs of a
    backend with automatic train-step metrics) on the event loop's default executor:
    nvidia-smi can take a second, and the loop runs other tasks meanwhile."""
    if prepared.gpu_sample_due():
        await asyncio.get_running_loop().run_in_executor(None, prepared.sample_gpus)


def _torch_max_memory_allocated() -> int | None:
    """The most bytes torch's allocator has held on any of this process's CUDA devices, when
    torch is already imported and CUDA initialised here (importing torch would take
    seconds, and initialising CUDA would claim a GPU); else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        cuda = torch.cuda
        if not cuda.is_initialized():
            return None
        peaks = [cuda.max_memory_allocated(d) for d in range(cuda.device_count())]
    except (AttributeError, RuntimeError):  # a torch without CUDA support, or a failing driver
        return None
    return max(peaks, default=None)


# Objects with a Python lock of their own (the first load's): a child forked while another
# thread held one gets a new lock, as the core's locks are repaired.
_python_locks: weakref.WeakSet[Any] = weakref.WeakSet()


def _new_python_locks_in_child() -> None:
    for owner in list(_python_locks):
        owner._load_lock = threading.Lock()


# A child forked while other threads were inside the core repairs the locks they held
# (the core's `fork` module says how); nothing is held across the fork, so the parent
# cannot deadlock either.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
    os.register_at_fork(after_in_child=_new_python_locks_in_child)


class Model:
    """A run whose metrics go to ``{base_path}/{project}/models/{name}``.

    ``art_version`` ("0.5.18", the default, or "0.5.23") picks the openpipe-art version whose
    vocabulary, rows and W&B calls the run follows; every builder of the run has it.

    Cumulative totals and unique scenarios resume from the run directory on the first
    ``metrics_builder``, ``activate_metrics_context`` or ``log`` call.

    ``efficiency_metrics=True`` adds the ``efficiency/`` keys to train rows (spend per
    trajectory, tokens per second per GPU, MFU, GPU memory); ``n_params``, the model's
    parameter count (a positive int), is what the MFU needs, unless the backend's
    ``n_params(model)`` gives it.
    """

    # When the state journal is folded into state.json (None: the core's default, 1 MiB).
    _compact_min_bytes: int | None = None

    def __init__(
        self,
        *,
        name: str,
        project: str,
        entity: str | None = None,
        id: str | None = None,
        config: Any = None,
        inference_api_key: str | None = None,
        inference_base_url: str | None = None,
        inference_model_name: str | None = None,
        base_path: str = ".art",
        report_metrics: list[ReportMetric] | None = None,
        reporters: Iterable[Reporter] = (),
        art_version: ArtVersion = "0.5.18",
        efficiency_metrics: bool = False,
        n_params: int | None = None,
    ) -> None:
        # First: bad names and an unsupported version are refused before anything else.
        self.name = _folder_name(name, "name")
        self.project = _folder_name(project, "project")
        self._builder = MetricsBuilder("train", art_version=art_version)
        self.entity = entity
        self.id = id
        self.config = config
        self.inference_api_key = inference_api_key
        self.inference_base_url = inference_base_url
        self.inference_model_name = inference_model_name
        self.base_path = base_path
        self.report_metrics = report_metrics
        self.trainable = False
        # Opt-in `efficiency/` keys on train rows (README: "Spend guard and efficiency").
        self.efficiency_metrics = efficiency_metrics
        # Before any reporter starts: a bad n_params (the MFU's parameter count) is refused.
        self._run = RunCore(
            self.run_dir, compact_min_bytes=self._compact_min_bytes, n_params=n_params
        )
        # report_metrics=None means W&B when WANDB_API_KEY is set, as in openpipe-art.
        self.reporters: list[Reporter] = list(reporters) + list(
            reporters_for(
                report_metrics,
                project=project,
                name=name,
                run_dir=self.run_dir,
                entity=entity,
                art_version=self._builder.art_version,
            )
        )
        self._backend: Any = None
        self._run_start_time = time.time()
        self._loaded = False
        self._load_lock = threading.Lock()
        _python_locks.add(self)
        # Rows written to history.jsonl that some reporter has not received yet, delivered
        # by a thread per reporter (README: "Where your runs go", delivery).
        self._delivery = Delivery(self._run, self.run_dir, self.reporters)
        # Whether the core hands this run's priced calls to reporters (`record_call`).
        self._calls_on = False
        self._sync_call_switch()
        self._finalizer = weakref.finalize(self, _close_quietly, self._run, self._delivery)
        _budget._register(self._builder, self)

    @property
    def art_version(self) -> ArtVersion:
        """The openpipe-art version whose rules the run follows."""
        return self._builder.art_version

    @property
    def run_dir(self) -> str:
        return f"{self.base_path}/{self.project}/models/{self.name}"

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, project={self.project!r}, base_path={self.base_path!r})"

    # -- builders and state -------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                self._run.load_into(self._builder)
                self._restore_budget()
                self._delivery.restore(self.reporters)
                self._loaded = True
        _warn_about(self._run)

    def metrics_builder(self, cost_context: str | None = None) -> MetricsBuilder:
        """The run's builder (cost context "train"), or the one for ``cost_context``."""
        self._ensure_loaded()
        if cost_context is None:
            return self._builder
        return self._builder.for_cost_context(cost_context)

    def activate_metrics_context(self, cost_context: str) -> Token[MetricsBuilder]:
        """Activate the builder for ``cost_context``; undo with ``token.var.reset(token)``."""
        return self.metrics_builder(cost_context).activate()

    # -- spend guard -----------------------------------------------------------------

    def set_budget(
        self,
        usd: float | None,
        *,
        on_exceed: OnExceed = "warn",
        warn_at: Iterable[float] | None = None,
    ) -> None:
        """Guard the run's spend (see `MetricsBuilder.set_budget`); saved in state.json, so
        a restarted run keeps it. ``None`` removes it."""
        self._ensure_loaded()
        self._builder.set_budget(usd, on_exceed=on_exceed, warn_at=warn_at)

    def _save_budget(self) -> None:
        self._run.save_budget(self._builder, self._loaded)

    def _restore_budget(self) -> None:
        self._run.restore_budget(self._builder)

    def read_state(self) -> dict[str, Any] | None:
        """state.json with the journal folded in, or None when there is none.

        Reading changes no file: a monitoring script can call it while another process logs.
        """
        text = self._run.read_state()
        _warn_about(self._run)
        return None if text is None else json.loads(text)

    def overwrite_state(self, state: Mapping[str, Any]) -> None:
        """Replace state.json with ``state``."""
        self._run.overwrite_state(json.dumps(state, allow_nan=False), self._loaded)

    def merge_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Deep-merge ``state`` into state.json and return the result."""
        merged: dict[str, Any] = json.loads(
            self._run.merge_state(json.dumps(state, allow_nan=False), self._loaded)
        )
        return merged

    def close(self, timeout: float | None = 30.0) -> None:
        """Fold the journal into state.json now (also done at exit), release the run
        directory's writer lock, deliver the rows the reporters have not received yet
        (waiting up to ``timeout`` seconds; ``None``: no limit) and finish the reporters.

        Reporters with a ``finish()`` method (W&B, MLflow, ...) are finished; a later log
        resumes their run (and takes the lock again). Rows a reporter did not receive in
        time are kept in the run directory for the next start (a ``RuntimeWarning`` names
        the reporter and the count).
        """
        self._run.close()
        delivery = self._delivery
        try:
            left = delivery.drain(timeout, self.reporters)
        finally:
            # Rows a reporter still has not received go to the next process.
            delivery.save()
        delivery.finish()
        self._sync_call_switch()
        for name, count in left.items():
            warnings.warn(
                f"{self.run_dir}: {name} did not receive {count} row(s) within {timeout} s of "
                "close(); they are kept in the run directory for the next start",
                RuntimeWarning,
                stacklevel=2,
            )
        delivery.raise_new_error()

    def flush_reporters(self, timeout: float | None = 30.0) -> bool:
        """Wait until every reporter has received every row logged so far (each failing
        reporter given its row once more), or ``timeout`` seconds (``None``: no limit).

        Returns whether they all have. Raises a reporter's failure as ``log`` does (once per
        cause). ``log`` itself never waits for the reporters: their threads deliver.
        """
        self._ensure_loaded()
        delivery = self._delivery
        left = delivery.drain(timeout, self.reporters)
        self._sync_call_switch()
        delivery.raise_new_error()
        return not left

    def _sync_call_switch(self) -> None:
        # The core reports each priced call of the run only while a reporter wants them.
        on = bool(self._delivery.call_reporters)
        if on is not self._calls_on:
            self._calls_on = on
            self._builder._report_calls(on)

    # -- backend ---------------------------------------------------------------------

    async def register(self, backend: Any) -> None:
        """Use ``backend``; a `LocalBackend` adds `time/step_wall_s` and `costs/gpu`."""
        self._backend = backend
        await backend.register(self)

    async def get_step(self) -> int:
        return 0

    # -- logging ---------------------------------------------------------------------

    async def log(
        self,
        trajectories: Iterable[Any] | None = None,
        split: str = "val",
        *,
        metrics: Mapping[str, float] | None = None,
        step: int | None = None,
    ) -> None:
        """Write one metrics row for a batch of trajectory groups and/or ``metrics``.

        ``trajectories``: TrajectoryGroups, or Trajectories and exceptions forming one group
        (ours or openpipe-art's). Without trajectories, ``metrics`` and the split's pending
        builder values are logged; with neither, nothing happens.
        """
        if step is None:
            step = await self.get_step()
        step = _step(step)
        self._ensure_loaded()
        if trajectories is None and metrics is None:
            # Rows left undelivered (a failing reporter, an earlier process) are tried now.
            self._delivery.kick(self.reporters, retry=True)
            self._sync_call_switch()
            self._delivery.raise_new_error()
            return
        notice = _split_notice(split)
        if notice is not None:
            warnings.warn(notice, UserWarning, stacklevel=2)
        groups = None if trajectories is None else normalize_groups(trajectories)
        if metrics is not None and not isinstance(metrics, dict):
            metrics = dict(metrics)
        # The backend's automatic train-step metrics are decided by the core (train split,
        # once per step, an explicit value wins), which calls the backend for its GPU rate.
        prepared = self._run.prepare_log(
            self._builder,
            groups,
            split,
            step,
            metrics,
            time.time() - self._run_start_time,
            datetime.now().isoformat(),
            self._backend,
            self,
            efficiency=self.efficiency_metrics,
            torch_max_memory_bytes=(
                _torch_max_memory_allocated() if self.efficiency_metrics else None
            ),
        )
        if self.efficiency_metrics:
            await sample_gpus_off_loop(prepared)
        delivery = self._delivery
        queued = delivery.queued()
        try:
            # The row joins the queue in the C call that writes it (deque.extend over map):
            # no bytecode runs in between, so a KeyboardInterrupt (handled between bytecodes)
            # cannot leave a written row out of the queue.
            commit = functools.partial(self._run.commit_log, defer_fold=True)
            delivery.rows.extend(filter(None, map(commit, (prepared,))))
            if self._run.fold_due():
                await fold_off_loop(self._run)
        finally:
            try:
                if delivery.queued() > queued:
                    # The row's costs (GPU time, `metrics=` costs) count against the budget,
                    # whether or not the reporters took it.
                    self._builder._check_budget()
            finally:
                # Last, so that the reporters' threads, once woken, do not take the GIL from
                # the rest of this log (a thread that waits for it gets it whenever this one
                # releases it, e.g. for file I/O, and keeps it up to 5 ms).
                delivery.kick(self.reporters)
        _warn_about(self._run)
        self._sync_call_switch()
        delivery.raise_new_error()
