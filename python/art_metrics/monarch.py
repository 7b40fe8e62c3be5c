"""Monarch actors whose rollouts' costs and metrics land in the driver's run (``pip install
'art-metrics[monarch]'``).

In an actor endpoint, run the rollout with :func:`run_with_metrics` (or decorate it with
:func:`collect_metrics`) and return what it returns, ``(result, PendingMetrics)``. On the
driver, :func:`get` (or ``await`` :func:`get_async`) resolves the endpoints' futures and merges
each call's metrics into the driver's run, exactly once. Only the driver logs and reports.

A failed call's spend counts too: ``collect_metrics`` attaches what the call recorded to its
exception as ``art_metrics_pending``; Monarch pickles the exception raised in the endpoint
whole (attributes included) into the :class:`monarch.actor.ActorError` the driver sees, as its
``exception``, and :func:`get` merges it from there.

Example (a local mesh of 2 processes; see docs/pages/workers.md for a whole run)::

    class Rollouts(Actor):
        @endpoint
        def rollout(self, split: str, scenario_id: str):
            context = "train" if split == "train" else "eval"
            return run_with_metrics(context, play, scenario_id)  # (result, PendingMetrics)

    actors = this_host().spawn_procs(per_host={"procs": 2}).spawn("rollouts", Rollouts)
    futures = [actors.slice(procs=i % 2).rollout.call_one("train", f"q{i}") for i in range(8)]
    for result, accepted in get(model.metrics_builder(), futures, return_exceptions=True):
        ...  # a failure's place holds (ActorError, accepted): its spend is merged already

``import art_metrics`` does not import Monarch; this module does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from monarch.actor import ActorError, Future, ValueMesh
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "art_metrics.monarch needs Monarch: pip install 'art-metrics[monarch]'"
    ) from exc

from ._core import PendingMetrics
from .builder import MetricsBuilder
from .workers import collect_metrics, merge_result, run_with_metrics

__all__ = [
    "collect_metrics",
    "get",
    "get_async",
    "merge_failure",
    "merge_result",
    "run_with_metrics",
]


def merge_failure(builder: MetricsBuilder, exc: BaseException) -> bool:
    """Merge what a failed :func:`collect_metrics` call recorded before it raised.

    ``exc``: the exception as the driver caught it. The ``art_metrics_pending`` it carries is
    looked for on ``exc``, on the remote exception an ``ActorError`` wraps (``exc.exception``,
    nested ones too) and along ``__cause__`` / ``__context__``. Returns True when it was merged
    now; False when there is none (the actor died, the endpoint did not collect) or this run
    merged it before (the same failure delivered again).

    >>> @collect_metrics
    ... def rollout():
    ...     MetricsBuilder.get_active().add_cost("train/judge", 0.5)
    ...     raise ValueError("the environment broke")
    >>> try:
    ...     rollout()
    ... except ValueError as exc:
    ...     failure = ActorError(exc)  # as the driver sees it, unpickled from the actor
    >>> builder = MetricsBuilder("train")
    >>> merge_failure(builder, failure), merge_failure(builder, failure)
    (True, False)
    >>> builder.export_pending().values
    {'costs/train/judge': 0.5}
    """
    stack: list[Any] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        pending = getattr(current, "art_metrics_pending", None)
        if isinstance(pending, PendingMetrics):
            return builder.merge_pending(pending)
        inner = current.exception if isinstance(current, ActorError) else None
        stack += [current.__context__, current.__cause__, inner]
    return False


def _merge_outcomes(
    builder: MetricsBuilder, outcomes: list[tuple[Any, Exception | None]], return_exceptions: bool
) -> list[Any]:
    # Failed calls first: their spend happened and there is no result to drop.
    failed = {id(exc): merge_failure(builder, exc) for _, exc in outcomes if exc is not None}
    if failed and not return_exceptions:
        raise next(exc for _, exc in outcomes if exc is not None)
    merged: list[Any] = []
    for value, exc in outcomes:
        if exc is not None:
            merged.append((exc, failed[id(exc)]))
        elif isinstance(value, ValueMesh):  # an endpoint's call(): one value per actor
            merged.append([merge_result(builder, v) for v in value.values()])
        else:
            merged.append(merge_result(builder, value))
    return merged


def get(
    builder: MetricsBuilder,
    futures: Any | Sequence[Any],
    *,
    timeout: float | None = None,
    return_exceptions: bool = False,
) -> Any:
    """Resolve Monarch endpoint futures, merging each call's metrics into ``builder``'s run.

    ``futures``: one ``Future`` of an endpoint that returns a :func:`collect_metrics` call's
    ``(result, PendingMetrics)`` (``call_one``, ``choose``), or a list of them; a value already
    resolved (that pair, or a ``ValueMesh`` of them) is merged as it is. Returns
    ``(result, accepted)`` for one, a list of them for a list; a ``ValueMesh`` (from
    ``call()``) gives a list, in rank order. ``accepted`` is False for a result whose metrics
    this run already merged (a redelivery: drop it). When one actor of a ``call()`` fails,
    Monarch fails the whole call and the other actors' results (and spend) never arrive: where
    calls can fail, use ``call_one`` per actor or ``list(endpoint.stream(...))``.

    Every future is resolved first. The failed calls' spend is merged (:func:`merge_failure`);
    then, by default, the first failure is raised and the successful calls are left unmerged
    (call ``get`` on the same futures again with ``return_exceptions=True`` to take them: the
    failures are not counted twice). With ``return_exceptions=True`` a failure's place holds
    ``(exception, accepted)``, ``accepted`` saying whether its spend was merged now. From
    async code use :func:`get_async` (``Future.get`` blocks the event loop). A future that
    times out (``TimeoutError``) is a failure with nothing to merge; it keeps running and can
    be passed to ``get`` again.
    """
    single = not isinstance(futures, (list, tuple)) or _is_pair(futures)
    outcomes: list[tuple[Any, Exception | None]] = []
    for future in [futures] if single else futures:
        try:
            value = future.get(timeout=timeout) if isinstance(future, Future) else future
            outcomes.append((value, None))
        except Exception as exc:
            outcomes.append((None, exc))
    merged = _merge_outcomes(builder, outcomes, return_exceptions)
    return merged[0] if single else merged


async def get_async(
    builder: MetricsBuilder, futures: Any | Sequence[Any], *, return_exceptions: bool = False
) -> Any:
    """:func:`get` for async code: ``await`` each future, then merge as :func:`get` does.

    For a deadline, wrap it in ``asyncio.wait_for``: nothing is merged until every future
    has resolved.
    """
    single = not isinstance(futures, (list, tuple)) or _is_pair(futures)
    outcomes: list[tuple[Any, Exception | None]] = []
    for future in [futures] if single else futures:
        try:
            outcomes.append(((await future) if isinstance(future, Future) else future, None))
        except Exception as exc:
            outcomes.append((None, exc))
    merged = _merge_outcomes(builder, outcomes, return_exceptions)
    return merged[0] if single else merged


def _is_pair(value: Any) -> bool:
    # A resolved (result, PendingMetrics), as opposed to a list of futures.
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], PendingMetrics)
