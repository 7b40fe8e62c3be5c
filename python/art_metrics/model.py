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
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from contextvars import Token
from datetime import datetime
from typing import Any, Protocol

from . import budget as _budget
from ._core import (
    RunCore,
    _after_fork_in_child,
    _check_path_component,
    _split_notice,
)
from ._types import ArtVersion, OnExceed, ReportMetric
from .builder import MetricsBuilder
from .reporting import WandbReporter, reporters_for
from .trajectories import normalize_groups


class Reporter(Protocol):
    """Anything that wants every logged row (W&B, Trackio, a console printer, ...).

    ``row`` has the prefixed keys, ``training_step`` (and in 0.5.18's dialect
    ``time/wall_clock_sec``), and keeps NaN values (history.jsonl leaves them out).
    """

    def log(self, row: dict[str, float | int]) -> None: ...


def _close_quietly(run: RunCore, mail: _Mail | None = None) -> None:
    # At exit or when the Model is collected: keep the rows some reporter has not received
    # for the next process, fold the journal so state.json is complete, and release the run
    # directory's writer lock.
    steps: list[Callable[[], None]] = (
        [run.close] if mail is None else [functools.partial(mail.save, run), run.close]
    )
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - nothing useful can be done at interpreter exit
            pass


def _reporter_key(reporter: object) -> str:
    """What identifies a reporter across processes (with its index): its class."""
    cls = type(reporter)
    return f"{cls.__module__}.{cls.__qualname__}"


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
    thread hop costs more than they do)."""
    if run.fold_due():
        await asyncio.get_running_loop().run_in_executor(None, run.fold_if_due)


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
        # report_metrics=None means W&B when WANDB_API_KEY is set, as in openpipe-art.
        self.reporters: list[Reporter] = list(reporters) + list(
            reporters_for(
                report_metrics,
                project=project,
                name=name,
                entity=entity,
                art_version=self._builder.art_version,
            )
        )
        self._backend: Any = None
        self._run_start_time = time.time()
        self._run = RunCore(self.run_dir, compact_min_bytes=self._compact_min_bytes)
        self._loaded = False
        self._load_lock = threading.Lock()
        _python_locks.add(self)
        # Rows written to history.jsonl that some reporter has not received yet (README: "W&B
        # and Trackio", delivery): given on the next log or on close.
        self._mail = _Mail(_Outbox([], [[] for _ in self.reporters]))
        self._mail.keys = [_reporter_key(r) for r in self.reporters]
        # Per reporter (by index) that is failing: the cause (type, message) last raised.
        self._reporter_errors: dict[int, tuple[type, str]] = {}
        self._finalizer = weakref.finalize(self, _close_quietly, self._run, self._mail)
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
                self._mail.restore(self._run, self.run_dir)
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

    def close(self) -> None:
        """Fold the journal into state.json now (also done at exit), release the run
        directory's writer lock, and finish reporters.

        Reporters with a ``finish()`` method (W&B, Trackio) are finished; a later log
        resumes their run (and takes the lock again).
        """
        self._run.close()
        try:
            self._deliver()
        finally:
            # Rows a reporter still has not received go to the next process.
            self._mail.save(self._run)
        for reporter in self.reporters:
            finish = getattr(reporter, "finish", None)
            if callable(finish):
                finish()

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
            self._deliver()  # rows left undelivered (an interrupt, a failing reporter)
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
        )
        outbox = self._mail.outbox
        written = len(outbox.rows)
        try:
            # The row joins the queue in the C call that writes it (list.extend over map):
            # no bytecode runs in between, so a KeyboardInterrupt (handled between bytecodes)
            # cannot leave a written row out of the queue.
            commit = functools.partial(self._run.commit_log, defer_fold=True)
            outbox.rows.extend(filter(None, map(commit, (prepared,))))
            await fold_off_loop(self._run)
            self._deliver()
        finally:
            if len(outbox.rows) > written:
                # The row's costs (GPU time, `metrics=` costs) count against the budget,
                # whether or not the reporters took it.
                self._builder._check_budget()
        _warn_about(self._run)

    def _deliver(self) -> None:
        """Give each reporter the written rows it has not received, oldest first.

        Each reporter has its own position in the queue: one that raises keeps its row (and
        later ones) and gets them again on the next log or close, the others are not sent
        them again. A reporter's exception is raised here once per cause (type and message),
        after every reporter was tried; the same failure again is not raised again until
        the reporter has succeeded once. A BaseException (KeyboardInterrupt) is raised at
        once; the row is then not received by that reporter.
        """
        mail = self._mail
        outbox = mail.outbox
        rows = outbox.rows
        received = outbox.received
        while len(received) < len(self.reporters):
            # A reporter appended to `reporters` later gets the rows written after this.
            received.append([None] * len(rows))
            mail.keys.append(_reporter_key(self.reporters[len(mail.keys)]))
        raised: BaseException | None = None
        for index, reporter in enumerate(self.reporters):
            got = received[index]
            while len(got) < len(rows):
                row, caller_keys = rows[len(got)]
                log: Callable[[dict[str, float | int]], None] = reporter.log
                if isinstance(reporter, WandbReporter):
                    # 0.5.23 sends W&B the canonical keys and the caller's own.
                    log = functools.partial(reporter.log, caller_keys=caller_keys)
                try:
                    # Recorded in the C call that returns from `log` (as in `log` above).
                    got.extend(map(log, (row,)))
                except Exception as exc:  # noqa: BLE001 - raised below, once per cause
                    cause = (type(exc), str(exc))
                    if raised is None and self._reporter_errors.get(index) != cause:
                        self._reporter_errors[index] = cause
                        raised = exc
                    break
                self._reporter_errors.pop(index, None)
        done = min(map(len, received), default=len(rows))
        if done:
            # One assignment: an interrupt leaves the old queue or the new one, both right.
            mail.outbox = outbox.without_first(done)
            if mail.on_disk:
                # Rows kept by an earlier process were delivered: the file follows.
                mail.save(self._run)
        if raised is not None:
            raise raised


class _Mail:
    """A Model's `_Outbox` and what identifies its reporters, kept apart from the Model so
    that its finalizer can save the rows left undelivered at exit (README: "W&B and
    Trackio", delivery). The file is the core's (`RunCore.save_undelivered`)."""

    __slots__ = ("keys", "on_disk", "outbox")

    def __init__(self, outbox: _Outbox) -> None:
        self.outbox = outbox
        self.keys: list[str] = []
        # Whether the run directory holds rows kept by this or an earlier process.
        self.on_disk = False

    def save(self, run: RunCore) -> None:
        """Keeps the undelivered rows (each reporter's position among them) for the next
        process, or removes the kept ones when every reporter has received everything."""
        outbox = self.outbox
        if not outbox.rows:
            if self.on_disk:
                run.save_undelivered(None)
                self.on_disk = False
            return
        kept = {
            "rows": [[row, None if keys is None else list(keys)] for row, keys in outbox.rows],
            "reporters": [
                {"key": key, "received": len(got)} for key, got in zip(self.keys, outbox.received)
            ],
        }
        run.save_undelivered(json.dumps(kept).encode())
        self.on_disk = True

    def restore(self, run: RunCore, run_dir: str) -> None:
        """Queues the rows an earlier process kept, for the reporters it had at the same
        places (same class); other reporters are not sent them. Called before any log."""
        data = run.read_undelivered()
        if data is None:
            return
        self.on_disk = True
        try:
            kept = json.loads(data)
            rows = [(dict(row), keys) for row, keys in kept["rows"]]
            before = [(r["key"], int(r["received"])) for r in kept["reporters"]]
        except (ValueError, TypeError, KeyError) as err:
            warnings.warn(
                f"{run_dir}: the rows kept for reporters could not be read ({err}); they "
                "are not delivered",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        received = []
        for index, key in enumerate(self.keys):
            match = index < len(before) and before[index][0] == key
            received.append([None] * (min(before[index][1], len(rows)) if match else len(rows)))
        self.outbox = _Outbox(rows, received)


class _Outbox:
    """Rows written to history.jsonl and not yet received by every reporter: ``rows`` (the
    row and the caller's keys), and per reporter a list as long as the number of ``rows`` it
    has received (lengths change in one C call, see `Model._deliver`)."""

    __slots__ = ("received", "rows")

    def __init__(
        self, rows: list[tuple[dict[str, float | int], Any]], received: list[list[Any]]
    ) -> None:
        self.rows = rows
        self.received = received

    def without_first(self, count: int) -> _Outbox:
        return _Outbox(self.rows[count:], [got[count:] for got in self.received])
