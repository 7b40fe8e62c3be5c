"""How the tests choose openpipe-art 0.5.23's dialect, in one place.

docs/pages/art-script.md ("openpipe-art 0.5.18 or 0.5.23") describes the API: the dialect is
a property of the *run*, chosen where a run starts: ``Model(..., art_version=...)`` and the root
``MetricsBuilder(cost_context, *, art_version=...)``; builders made with ``for_cost_context``
share the run and so its dialect. ``install()`` picks it from the installed openpipe-art. The
default stays "0.5.18".
"""

from __future__ import annotations

from typing import Any

import art_metrics

ART_VERSION = "0.5.23"


def builder(cost_context: str = "train", **kwargs: Any) -> art_metrics.MetricsBuilder:
    """A root builder of a new run in 0.5.23's dialect."""
    return art_metrics.MetricsBuilder(cost_context, art_version=ART_VERSION, **kwargs)


def model(**kwargs: Any) -> art_metrics.Model:
    """An ``art_metrics.Model`` in 0.5.23's dialect."""
    return art_metrics.Model(art_version=ART_VERSION, **kwargs)
