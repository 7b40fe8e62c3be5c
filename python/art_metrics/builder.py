"""`MetricsBuilder`: step-level metrics and costs, rolled up and totalled by the Rust core."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from ._core import BuilderCore

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
        return _active_builder.get()

    def __repr__(self) -> str:
        return f"MetricsBuilder(cost_context={self.cost_context!r}, buffer_scope={self._buffer_scope!r})"


_classes: dict[str, type[MetricsBuilder]] = {}


def builder_class(art_version: str) -> type[MetricsBuilder]:
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
