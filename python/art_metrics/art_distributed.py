"""openpipe-art 0.5.23's distributed rollouts, recording what its local rollouts record.

ART 0.5.23 runs a distributed rollout under a fresh ``MetricsBuilder(cost_context="train")``
in the worker, takes its values out with ``drain_pending()`` and re-adds them one by one on
the driver with ``add_metric``. Next to ``LocalRolloutExecutor``, which runs the same rollout
under the driver's active builder, that loses three things:

- a failed rollout's spend: the worker drains only after the rollout returned;
- its scenario ids: ``drain_pending()`` drops them, so ``data/cum/num_unique_scenarios``
  never moves;
- its cost context: every rollout is billed as ``costs/train/...``, eval rollouts too.

The replacements here, which `install()` puts on ``art.distributed.rollout``, move each
rollout's values as one :class:`~art_metrics.PendingMetrics` instead (values, scenario ids
and cost context, with an id that makes merging it idempotent):

- ``InProcessRolloutWorker.run`` runs the rollout with
  :func:`~art_metrics.workers.collect_metrics` in the driver's active cost context and returns
  the export with the result (:class:`MeteredRolloutResult`); when the rollout raises, the
  export travels with the error as ``exc.art_metrics_pending``.
- ``DistributedRolloutExecutor.run`` merges that export into the active builder exactly once,
  a failed rollout's before its error propagates.

Limit: the cost context reaches the worker through the driver's context variables, which an
in-process worker shares (it runs in the driver's task). ART's Monarch actor
(``RolloutWorkerService.run`` in ``art.distributed.monarch_actor``) runs in another process,
where a patch made by the driver's ``install()`` does not apply, and its endpoint turns every
exception into strings (``RemoteCallError``), so a pending export could not ride on one. Its
rollouts keep 0.5.23's behaviour: the driver still re-adds their drained ``metrics``. For
Monarch actors of your own, see :mod:`art_metrics.monarch`.

The worker's values go to the buffer scope named after the cost context, as
``collect_metrics`` records them. Every builder ART makes has that scope (``model.
metrics_builder(context)``, ``activate_metrics_context``, the root and per-split builders);
a builder of your own from ``for_cost_context(context, buffer_scope=other)`` would see its
distributed rollouts' values in ``context``'s scope, not in ``other``.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from ._types import ArtVersion
from .builder import MetricsBuilder
from .workers import collect_metrics

__all__ = ["targets"]

_ROLLOUT = "art.distributed.rollout"


def targets(art_version: ArtVersion) -> list[tuple[str, str, Any]]:
    """(module name, attribute path, replacement) triples for install() to patch.

    The attribute path may be dotted ("InProcessRolloutWorker.run") to patch a class attribute.
    Empty when openpipe-art has no art.distributed (0.5.18) or it cannot be imported.
    The replacements are written against 0.5.23's ``art.distributed.rollout``, so any other
    ``art_version`` gets none.
    """
    if art_version != "0.5.23":
        return []
    try:
        importlib.import_module(_ROLLOUT)
    except ImportError:
        return []
    return [
        (_ROLLOUT, "InProcessRolloutWorker.run", _worker_run(art_version)),
        (_ROLLOUT, "DistributedRolloutExecutor.run", _executor_run),
    ]


@functools.cache
def _result_class() -> type:
    """``RolloutResult`` with a ``pending`` field: the worker's :class:`PendingMetrics`.

    Made on first use, as ``art`` is imported only where install() patches it. ``metrics``
    stays empty: the values are in ``pending``, which merges exactly once.
    """
    from art.distributed.rollout import RolloutResult

    from ._core import PendingMetrics

    # RolloutResult is Any to mypy where openpipe-art < 0.5.23 (no art.distributed) is installed.
    class MeteredRolloutResult(RolloutResult):  # type: ignore[misc, unused-ignore]
        pending: PendingMetrics | None = None

    MeteredRolloutResult.__module__ = __name__
    MeteredRolloutResult.__qualname__ = "MeteredRolloutResult"
    return MeteredRolloutResult


def __getattr__(name: str) -> Any:
    # `art_metrics.art_distributed.MeteredRolloutResult` resolves (for pickle, too) once
    # openpipe-art is importable.
    if name == "MeteredRolloutResult":
        return _result_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _active_builder() -> MetricsBuilder | None:
    try:
        return MetricsBuilder.get_active()
    except LookupError:
        return None


def _worker_run(art_version: ArtVersion) -> Any:
    """``InProcessRolloutWorker.run`` for ``art_version``'s builders."""

    async def run(self: Any, invocation: Any) -> Any:
        """Run the rollout as ART does, under a fresh builder in the driver's cost context.

        ART's worker uses ``cost_context="train"`` whatever the driver's context is. This
        worker runs in the driver's task, so the driver's active builder is visible: the
        rollout records in its cost context (``"train"``, ART's choice, when none is active).
        ``collect_metrics`` exports what the rollout recorded, or attaches it to the rollout's
        exception. A result that cannot be stored raises with the export attached too: the
        rollout's spend was real.
        """
        from art.trajectories import TrajectoryGroup

        function = invocation.callable.resolve()
        active = _active_builder()
        collected = collect_metrics(
            function,
            cost_context=active.cost_context if active is not None else "train",
            art_version=art_version,
        )
        value, pending = await collected(
            invocation.model.build(), invocation.scenario, invocation.config
        )
        if invocation.store_result and isinstance(value, TrajectoryGroup):
            try:
                value = self.store(value)
            except BaseException as exc:
                exc.art_metrics_pending = pending  # type: ignore[attr-defined]
                raise
        return _result_class()(value=value, pending=pending)

    return run


async def _executor_run(
    self: Any,
    worker_id: int,
    rollout_fn: Any,
    model: Any,
    scenario: Any,
    config: Any,
) -> Any:
    """``DistributedRolloutExecutor.run``, merging each rollout's export exactly once.

    ART's ``run`` reads only ``result.metrics`` and ``result.value`` from the worker's result
    and nothing from a worker's exception, so it cannot be called around: this is its body
    with the merges added. Its checks stay (the callable must be the executor's, the worker
    must have an endpoint, a trajectory owner keeps its endpoint) and it returns the same
    value. A plain ``RolloutResult`` (a worker this module did not patch, such as a Monarch
    actor) has its ``metrics`` re-added as ART does.

    A failed rollout's export is merged before its exception propagates. An export this run
    merged before (the same result delivered again) adds nothing.
    """
    from art.distributed.rollout import (
        InstalledAsyncCallable,
        RolloutInvocation,
        RolloutModelSpec,
    )
    from art.distributed.trajectory_store import TrajectoryGroupRef

    if InstalledAsyncCallable.from_callable(rollout_fn) != self.callable:
        raise ValueError("PipelineTrainer rollout_fn differs from distributed callable")
    try:
        endpoint = self._endpoint_by_worker[worker_id]
    except KeyError:
        raise RuntimeError(f"rollout worker {worker_id} has no host assignment") from None
    invocation = RolloutInvocation(
        callable=self.callable,
        model=RolloutModelSpec.from_model(model),
        scenario=scenario,
        config=config,
        store_result=self._result_queue is not None,
    )
    try:
        result = await endpoint.run(invocation)
    except BaseException as exc:
        pending = getattr(exc, "art_metrics_pending", None)
        builder = _active_builder()
        if pending is not None and builder is not None:
            builder.merge_pending(pending)
        raise
    pending = getattr(result, "pending", None)
    if result.metrics or (pending is not None and (pending.values or pending.scenario_ids)):
        builder = _active_builder()
        if builder is None:
            raise RuntimeError(
                "distributed rollout produced metrics without an active ART metrics context"
            )
        if pending is not None:
            builder.merge_pending(pending)  # False: delivered before, nothing added
        for key, value in result.metrics.items():
            builder.add_metric(key, value)
    if isinstance(result.value, TrajectoryGroupRef):
        existing = self._endpoint_by_owner.setdefault(result.value.owner_actor_id, endpoint)
        if existing is not endpoint:
            raise RuntimeError(f"trajectory owner {result.value.owner_actor_id!r} changed endpoint")
    return result.value
