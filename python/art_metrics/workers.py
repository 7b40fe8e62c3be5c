"""Rollouts in other processes, metrics in one run: the engine-neutral primitives.

A worker runs each call under a fresh :class:`MetricsBuilder` and sends back its result with
the call's :class:`PendingMetrics`; the driver merges them into its own run, exactly once.
They work with any transport that pickles: Ray (see :mod:`art_metrics.ray`),
``concurrent.futures.ProcessPoolExecutor``, a queue.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Iterator
from typing import Any, Callable, TypeVar

from ._core import PendingMetrics
from ._types import ArtVersion
from .builder import MetricsBuilder

__all__ = ["collect_metrics", "merge_result", "run_with_metrics"]

R = TypeVar("R")


def collect_metrics(
    fn: Callable[..., Any] | None = None,
    *,
    cost_context: str = "train",
    art_version: ArtVersion | None = None,
) -> Any:
    """Make ``fn`` return ``(result, PendingMetrics)``: what it recorded, ready to merge.

    Each call runs ``fn`` with a fresh ``MetricsBuilder(cost_context)`` activated, so
    ``track_api_cost`` judges and ``MetricsBuilder.get_active()`` record into it, then exports
    the builder's pending step. Works on sync and async functions, as ``@collect_metrics`` or
    ``@collect_metrics(cost_context="eval")``. When ``fn`` raises, the exception carries what it
    recorded as ``exc.art_metrics_pending`` (merge it if failed rollouts' spend counts).
    ``art_version`` is the driver run's (``"0.5.23"`` for 0.5.23's keyword names in the
    worker, e.g. ``add_user_timing(step_rollout_s=...)``); the default is 0.5.18's.

    >>> @collect_metrics
    ... def rollout(x):
    ...     MetricsBuilder.get_active().add_cost("train/judge", 0.5)
    ...     return x * 2
    >>> result, pending = rollout(21)
    >>> result, pending.values
    (42, {'costs/train/judge': 0.5})
    """
    if fn is None:
        return functools.partial(
            collect_metrics, cost_context=cost_context, art_version=art_version
        )
    # A bad name or version fails here, not in every worker call.
    MetricsBuilder(cost_context, art_version=art_version)

    @contextlib.contextmanager
    def collecting() -> Iterator[MetricsBuilder]:
        # A fresh builder, active for the call; a failing call's values go with its error.
        builder = MetricsBuilder(cost_context, art_version=art_version)
        with builder.activate_context():
            try:
                yield builder
            except BaseException as exc:
                exc.art_metrics_pending = builder.export_pending()  # type: ignore[attr-defined]
                raise

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> tuple[Any, PendingMetrics]:
            with collecting() as builder:
                result = await fn(*args, **kwargs)
            return result, builder.export_pending()

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[Any, PendingMetrics]:
        with collecting() as builder:
            result = fn(*args, **kwargs)
        return result, builder.export_pending()

    return wrapper


def run_with_metrics(
    cost_context: str,
    fn: Callable[..., Any],
    /,
    *args: Any,
    art_version: ArtVersion | None = None,
    **kwargs: Any,
) -> Any:
    """Call ``fn(*args, **kwargs)`` as :func:`collect_metrics` would, in ``cost_context``.

    For a worker that picks the context per call (an actor serving train and eval rollouts).
    Returns ``(result, PendingMetrics)``, or a coroutine of it for an async ``fn``.
    """
    return collect_metrics(fn, cost_context=cost_context, art_version=art_version)(*args, **kwargs)


def merge_result(builder: MetricsBuilder, delivered: tuple[R, PendingMetrics]) -> tuple[R, bool]:
    """Merge a delivered ``(result, PendingMetrics)`` into ``builder``'s run.

    Returns ``(result, accepted)``: ``accepted`` is False when this run merged that
    ``PendingMetrics`` before (a redelivery; nothing is added, and the result should be
    dropped too). The metrics go to the cost context and buffer scope they were recorded in.
    """
    try:
        result, pending = delivered
    except (TypeError, ValueError):
        raise TypeError(
            f"merge_result expects (result, PendingMetrics) as a collect_metrics call returns, "
            f"got {type(delivered).__name__}"
        ) from None
    return result, builder.merge_pending(pending)
