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

import json
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Mapping
from contextvars import Token
from datetime import datetime
from typing import Any, Protocol

from . import budget as _budget
from ._core import BuilderCore, RunCore, _split_notice
from .builder import MetricsBuilder
from .reporting import WandbReporter, reporters_for
from .trajectories import normalize_groups

METRICS_BUILDER_STATE_KEY = "_metrics_builder_state"


class Reporter(Protocol):
    """Anything that wants every logged row (W&B, Trackio, a console printer, ...).

    ``row`` has the prefixed keys, ``training_step`` (and in 0.5.18's dialect
    ``time/wall_clock_sec``), and keeps NaN values (history.jsonl leaves them out).
    """

    def log(self, row: dict[str, float | int]) -> None: ...


def _compact_quietly(run: RunCore) -> None:
    # At exit or when the Model is collected: fold the journal so state.json is complete.
    try:
        run.compact()
    except Exception:  # noqa: BLE001 - nothing useful can be done at interpreter exit
        pass


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
        report_metrics: list[str] | None = None,
        reporters: Iterable[Reporter] = (),
        art_version: str = "0.5.18",
        efficiency_metrics: bool = False,
    ) -> None:
        # First: an unsupported version is refused before anything else is set up.
        self._builder = MetricsBuilder("train", art_version=art_version)
        self.name = name
        self.project = project
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
        self._finalizer = weakref.finalize(self, _compact_quietly, self._run)
        _budget._register(self._builder, self)

    @property
    def art_version(self) -> str:
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
                self._loaded = True

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
        on_exceed: str = "warn",
        warn_at: Iterable[float] = (0.5, 0.8, 1.0),
    ) -> None:
        """Guard the run's spend (see `MetricsBuilder.set_budget`); saved in state.json, so
        a restarted run keeps it. ``None`` removes it."""
        self._ensure_loaded()
        self._builder.set_budget(usd, on_exceed=on_exceed, warn_at=warn_at)

    def _save_budget(self) -> None:
        state = self._builder._budget_state() or {"budget_usd": None}
        self.merge_state({_budget.STATE_KEY: state})

    def _restore_budget(self) -> None:
        saved = (self.read_state() or {}).get(_budget.STATE_KEY) or {}
        if isinstance(saved, dict) and saved.get("budget_usd") is not None:
            BuilderCore.set_budget(
                self._builder,
                saved["budget_usd"],
                on_exceed=saved.get("budget_on_exceed", "warn"),
                warn_at=saved.get("budget_warn_at", [0.5, 0.8, 1.0]),
                _warned_at=saved.get("budget_warned_at", []),
                _exceeded=bool(saved.get("budget_exceeded", False)),
            )

    def read_state(self) -> dict[str, Any] | None:
        """state.json (the journal folded in first), or None when there is none."""
        text = self._run.read_state()
        return None if text is None else json.loads(text)

    def overwrite_state(self, state: Mapping[str, Any]) -> None:
        """Replace state.json with ``state``."""
        self._run.overwrite_state(json.dumps(state, allow_nan=False), self._loaded)

    def merge_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Deep-merge ``state`` into state.json and return the result."""
        merged = self._run.merge_state(json.dumps(state, allow_nan=False), self._loaded)
        return json.loads(merged)

    def close(self) -> None:
        """Fold the journal into state.json now (also done at exit) and finish reporters.

        Reporters with a ``finish()`` method (W&B, Trackio) are finished; a later log
        resumes their run.
        """
        self._run.compact()
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
        self._ensure_loaded()
        if trajectories is None and metrics is None:
            return
        notice = _split_notice(split)
        if notice is not None:
            warnings.warn(notice, UserWarning, stacklevel=2)
        groups = None if trajectories is None else normalize_groups(trajectories)
        if metrics is not None and not isinstance(metrics, dict):
            metrics = dict(metrics)
        # The backend's automatic train-step metrics are decided by the core (train split,
        # once per step, an explicit value wins), which calls the backend for its GPU rate.
        logged = self._run.log(
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
        if logged is not None:
            row, caller_keys = logged
            for reporter in self.reporters:
                if isinstance(reporter, WandbReporter):
                    # 0.5.23 sends W&B the canonical keys and the caller's own.
                    reporter.log(row, caller_keys=caller_keys)
                else:
                    reporter.log(row)
            # The row's costs (GPU time, `metrics=` costs) count against the budget.
            self._builder._check_budget()
