"""`install()` / `uninstall()`: run an installed openpipe-art on art_metrics' Rust core.

Supported: openpipe-art 0.5.18 and 0.5.23 (read from the package metadata: neither sets
``art.__version__``), each with its own rules; other versions are refused unless named
explicitly with ``install(art_version=...)``.

openpipe-art reaches its builder and decorator through module globals, so swapping those
globals is enough: ``art.Model`` then builds its metrics with our `MetricsBuilder`, and
``art.metrics.track_api_cost`` is ours. ART looks ``MetricsBuilder`` up at call time in
``art.api_costs`` and ``art.rewards.ruler`` (``from .metrics import MetricsBuilder`` inside
the function), so those follow the ``art.metrics`` patch without one of their own.

>>> import art_metrics
>>> art_metrics.install()      # doctest: +SKIP
'0.5.18'
>>> import art
>>> art.metrics.MetricsBuilder is art_metrics.MetricsBuilder   # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from typing import Any

from ._core import SUPPORTED_ART_VERSIONS
from .builder import builder_class
from .costs import track_api_cost

# (module, attribute) of every module-level alias of the builder and the decorator, the same
# in openpipe-art 0.5.18 and 0.5.23.
_TARGETS: tuple[tuple[str, str], ...] = (
    ("art.metrics", "MetricsBuilder"),
    ("art.model", "MetricsBuilder"),
    ("art.metrics", "track_api_cost"),
    ("art.api_costs", "track_api_cost"),
)

_lock = threading.Lock()
# What install() replaced, to put back; empty when not installed.
_originals: dict[tuple[str, str], Any] = {}
_installed_version: str | None = None


def _installed_art_version() -> str:
    try:
        return importlib.metadata.version("openpipe-art")
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(
            "art_metrics.install() needs openpipe-art (0.5.18 or 0.5.23)", name="art"
        ) from None


def install(*, art_version: str | None = None) -> str:
    """Make openpipe-art use art_metrics' `MetricsBuilder` and `track_api_cost`; returns the
    openpipe-art version whose rules it installed ("0.5.18" or "0.5.23").

    ``art_version=None`` reads the installed openpipe-art version from its package metadata:
    0.5.18 and 0.5.23 get their own rules, any other version is an ``ImportError`` and
    nothing is patched. ``art_version="0.5.23"`` (or "0.5.18") uses those rules whatever is
    installed, at your own risk; other values are a ``ValueError``.

    Patches ``art.metrics.MetricsBuilder``, ``art.model.MetricsBuilder``,
    ``art.metrics.track_api_cost`` and ``art.api_costs.track_api_cost``. The builder put in
    builds builders of the chosen version when ART calls it as
    ``MetricsBuilder(cost_context="train")``. Calling it again with the same version changes
    nothing; `uninstall` puts the originals back.

    ``art.Model`` objects created before ``install()`` keep the builder they were made with
    (ART creates it in the constructor), so call it before creating models. Functions
    decorated with ART's own ``track_api_cost`` before ``install()`` still record: ART's
    wrapper looks up the active builder through ``art.metrics.MetricsBuilder`` at each call.

    Raises ``ImportError`` when openpipe-art is not installed.
    """
    global _installed_version
    if art_version is None:
        found = _installed_art_version()
        if found not in SUPPORTED_ART_VERSIONS:
            raise ImportError(
                f"art_metrics.install() supports openpipe-art "
                f"{' and '.join(SUPPORTED_ART_VERSIONS)}; found {found}. To try it anyway "
                f"with one of those versions' rules: install(art_version="
                f"{SUPPORTED_ART_VERSIONS[-1]!r})",
                name="art",
            )
        art_version = found
    elif art_version not in SUPPORTED_ART_VERSIONS:
        raise ValueError(
            f"art_version must be one of {', '.join(SUPPORTED_ART_VERSIONS)}, got {art_version!r}"
        )
    with _lock:
        if _originals:
            if art_version != _installed_version:
                raise ValueError(
                    f"art_metrics is installed with openpipe-art {_installed_version}'s rules; "
                    "call uninstall() first"
                )
            return art_version
        replacements = {
            "MetricsBuilder": builder_class(art_version),
            "track_api_cost": track_api_cost,
        }
        # Every module first: a missing one is an ImportError with nothing patched.
        try:
            modules = {name: importlib.import_module(name) for name, _ in _TARGETS}
        except ModuleNotFoundError as err:
            if err.name is None or err.name.split(".")[0] != "art":
                raise
            raise ImportError(
                "install() patches openpipe-art, which is not installed: pip install openpipe-art",
                name="art",
            ) from err
        for module_name, attr in _TARGETS:
            module = modules[module_name]
            _originals[(module_name, attr)] = getattr(module, attr)
            setattr(module, attr, replacements[attr])
        _installed_version = art_version
        return art_version


def uninstall() -> None:
    """Undo `install` (a no-op when it is not installed)."""
    with _lock:
        for (module_name, attr), original in _originals.items():
            setattr(importlib.import_module(module_name), attr, original)
        _originals.clear()


def is_installed() -> bool:
    """Whether `install` is in effect."""
    return bool(_originals)
