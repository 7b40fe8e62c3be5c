"""Ray rollout workers whose costs and metrics land in the driver's run (``pip install
art-metrics[ray]``).

Decorate the rollout with :func:`collect_metrics` under ``@ray.remote`` (or call
:func:`run_with_metrics` in an actor method); on the driver, :func:`get` resolves the
references and merges each call's metrics into the driver's run, exactly once. Only the
driver logs and reports (W&B, Trackio); workers never open the run.

``import art_metrics`` does not import Ray; this module does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    import ray
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("art_metrics.ray needs Ray: pip install 'art-metrics[ray]'") from exc

from .builder import MetricsBuilder
from .workers import collect_metrics, merge_result, run_with_metrics

__all__ = ["collect_metrics", "get", "merge_result", "run_with_metrics"]


def get(builder: MetricsBuilder, refs: Any | Sequence[Any], *, timeout: float | None = None) -> Any:
    """``ray.get(refs)``, merging each result's metrics into ``builder``'s run.

    ``refs``: one ``ObjectRef`` of a :func:`collect_metrics` call, or a list of them. Returns
    ``(result, accepted)`` for one reference, a list of them for a list; ``accepted`` is False
    for a result whose metrics this run already merged (a redelivery: drop it). When any
    reference fails, ``ray.get`` raises before anything is merged.
    """
    if isinstance(refs, ray.ObjectRef):
        return merge_result(builder, ray.get(refs, timeout=timeout))
    return [merge_result(builder, delivered) for delivered in ray.get(list(refs), timeout=timeout)]
