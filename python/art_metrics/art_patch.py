"""`install()` / `uninstall()`: run an installed openpipe-art on art_metrics' Rust core.

openpipe-art reaches its builder and decorator through module globals, so swapping those
globals is enough: ``art.Model`` then builds its metrics with our `MetricsBuilder`, and
``art.metrics.track_api_cost`` is ours. ART looks ``MetricsBuilder`` up at call time in
``art.api_costs`` and ``art.rewards.ruler`` (``from .metrics import MetricsBuilder`` inside
the function), so those follow the ``art.metrics`` patch without one of their own.

>>> import art_metrics
>>> art_metrics.install()      # doctest: +SKIP
>>> import art
>>> art.metrics.MetricsBuilder is art_metrics.MetricsBuilder   # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from .builder import MetricsBuilder
from .costs import track_api_cost

# (module, attribute) -> our replacement. Every module-level alias in openpipe-art 0.5.18.
_TARGETS: tuple[tuple[str, str, Any], ...] = (
    ("art.metrics", "MetricsBuilder", MetricsBuilder),
    ("art.model", "MetricsBuilder", MetricsBuilder),
    ("art.metrics", "track_api_cost", track_api_cost),
    ("art.api_costs", "track_api_cost", track_api_cost),
)

_lock = threading.Lock()
# What install() replaced, to put back; empty when not installed.
_originals: dict[tuple[str, str], Any] = {}


def install() -> None:
    """Make openpipe-art use art_metrics' `MetricsBuilder` and `track_api_cost`.

    Patches ``art.metrics.MetricsBuilder``, ``art.model.MetricsBuilder``,
    ``art.metrics.track_api_cost`` and ``art.api_costs.track_api_cost``. Calling it again
    changes nothing; `uninstall` puts the originals back.

    ``art.Model`` objects created before ``install()`` keep the builder they were made with
    (ART creates it in the constructor), so call it before creating models. Functions
    decorated with ART's own ``track_api_cost`` before ``install()`` still record: ART's
    wrapper looks up the active builder through ``art.metrics.MetricsBuilder`` at each call.

    Raises ``ImportError`` when openpipe-art is not installed.
    """
    with _lock:
        if _originals:
            return
        try:
            modules = {name: importlib.import_module(name) for name, _, _ in _TARGETS}
        except ModuleNotFoundError as err:
            if err.name is None or err.name.split(".")[0] != "art":
                raise
            raise ImportError(
                "install() patches openpipe-art, which is not installed: pip install openpipe-art",
                name="art",
            ) from err
        for module_name, attr, replacement in _TARGETS:
            module = modules[module_name]
            _originals[(module_name, attr)] = getattr(module, attr)
            setattr(module, attr, replacement)


def uninstall() -> None:
    """Undo `install` (a no-op when it is not installed)."""
    with _lock:
        for (module_name, attr), original in _originals.items():
            setattr(importlib.import_module(module_name), attr, original)
        _originals.clear()


def is_installed() -> bool:
    """Whether `install` is in effect."""
    return bool(_originals)
