"""`MetricsBuilder`: step-level metrics and costs, rolled up and totalled by the Rust core."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from . import budget as _budget
from ._core import BuilderCore
from ._types import ArtVersion, OnExceed

_active_builder: ContextVar[MetricsBuilder] = ContextVar("art_metrics_active_builder")


class MetricsBuilder(BuilderCore):
    """Collects one step's metrics for a cost context, and derives rollups and totals on flush.

    Every method may be called from any thread or asyncio task at any time.

    >>> builder = MetricsBuilder("train")
    >>> builder.add_cost("train/llm_judge", 0.25)
    >>> import asyncio; asyncio.run(builder.flush())["costs/all"]
    0.25
    """

    async def flush(self) -> dict[str, float]:
        """Drain this builder's buffer scope: leaves, cost rollups, cumulative totals, throughput.

        An empty flush returns ``{}``.
        """
        return self._flush()

    async def drain_pending(self) -> dict[str, float]:
        """Take this buffer scope's pending values out, as openpipe-art 0.5.23 does.

        Returns the raw leaves (no rollups, totals or throughput) and clears the scope's
        pending values and scenario ids; the ids are dropped, never counted. The run's totals
        are untouched. To move a step to another process with its scenario ids and exactly
        once, use :meth:`export_pending` and :meth:`merge_pending` instead.
        """
        return self._drain_pending()

    @contextmanager
    def measure(self, key: str) -> Iterator[None]:
        """Add the elapsed monotonic seconds of the block to ``key``, also when the block raises."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.add_metric(key, time.monotonic() - started)

    def activate(self) -> Token[MetricsBuilder]:
        """Make this builder the active one in the current context (asyncio task or thread)."""
        return _active_builder.set(self)

    @contextmanager
    def activate_context(self) -> Iterator[MetricsBuilder]:
        """Activate this builder for the duration of a ``with`` block, and yield it."""
        token = self.activate()
        try:
            yield self
        finally:
            _active_builder.reset(token)

    @staticmethod
    def get_active() -> MetricsBuilder:
        """The builder activated in the current context; ``LookupError`` when there is none."""
        try:
            return _active_builder.get()
        except LookupError:
            raise LookupError(
                "No MetricsBuilder is active in this context: wrap the calls in "
                "`with builder.activate_context():` (or use model.activate_metrics_context)"
            ) from None

    def set_budget(
        self,
        usd: float | None,
        *,
        on_exceed: OnExceed = "warn",
        warn_at: Iterable[float] | None = None,
    ) -> None:
        """Guard the spend of this builder's run (every builder of it): ``usd`` dollars,
        recorded and pending costs together. ``None`` removes the budget.

        A `BudgetWarning` is given once per ``warn_at`` fraction reached (``None``: the
        core's defaults, 50%, 80% and 100%). The call whose cost takes the spend past
        ``usd`` then warns (``on_exceed="warn"``) or raises `BudgetExceeded` (``"raise"``),
        after recording its cost; reaching 100% and passing it in one call is one message.
        """
        super().set_budget(
            usd,
            on_exceed=on_exceed,
            warn_at=None if warn_at is None else list(warn_at),
        )
        model = _budget._models.get(self._run_id())
        if model is not None:
            model._save_budget()

    def _budget_state(self) -> dict[str, Any] | None:
        """The run's budget as state.json keeps it (`budget_usd`, ...), or None."""
        text = self._budget_json()
        return None if text is None else dict(json.loads(text))

    def __repr__(self) -> str:
        return f"MetricsBuilder(cost_context={self.cost_context!r}, buffer_scope={self._buffer_scope!r})"


_classes: dict[str, type[MetricsBuilder]] = {}


def builder_class(art_version: ArtVersion) -> type[MetricsBuilder]:
    """`MetricsBuilder` whose root builders follow ``art_version`` by default.

    openpipe-art constructs its builder as ``MetricsBuilder(cost_context="train")``, so the
    class `install()` puts in place carries the installed version. For 0.5.18, the default,
    it is `MetricsBuilder` itself.
    """
    if art_version == "0.5.18":
        return MetricsBuilder
    if art_version not in _classes:

        class Versioned(MetricsBuilder):
            def __new__(cls, cost_context: str, **kwargs: Any) -> Versioned:
                kwargs.setdefault("art_version", art_version)
                return super().__new__(cls, cost_context, **kwargs)

        Versioned.__name__ = Versioned.__qualname__ = "MetricsBuilder"
        _classes[art_version] = Versioned
    return _classes[art_version]
