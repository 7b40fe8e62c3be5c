"""`install()` / `uninstall()`: run an installed openpipe-art on art_metrics' Rust core.

Supported: openpipe-art 0.5.18 and 0.5.23 (read from the package metadata: neither sets
``art.__version__``), each with its own rules; other versions are refused unless named
explicitly with ``install(art_version=...)``.

What is patched, and put back by `uninstall`:

* the module globals through which openpipe-art reaches its builder and decorator, so
  ``art.Model`` builds its metrics with our `MetricsBuilder` and ``art.metrics.track_api_cost``
  is ours (ART looks ``MetricsBuilder`` up at call time in ``art.api_costs`` and
  ``art.rewards.ruler``, so those follow the ``art.metrics`` patch);
* ``art.Model``'s log step and state methods (`art_metrics.art_model`): models created
  after install() log and keep their run directory through the core;
* on 0.5.23, the distributed rollout path (`art_metrics.art_distributed`).

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

from . import art_distributed, art_model
from ._core import SUPPORTED_ART_VERSIONS
from ._types import ArtVersion
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
# What install() replaced, to put back; empty when not installed. Keyed by (module, dotted
# attribute path); a class attribute the class did not define itself is _INHERITED.
_originals: dict[tuple[str, str], Any] = {}
_installed_version: ArtVersion | None = None
_INHERITED = object()


def _owner(module: Any, path: str) -> tuple[Any, str]:
    """The object holding ``path``'s last part (``"Model.log"``: the class ``Model``)."""
    *parents, attr = path.split(".")
    owner = module
    for name in parents:
        owner = getattr(owner, name)
    return owner, attr


def _own_value(owner: Any, attr: str) -> Any:
    # A class's own attribute (not one inherited, not bound): what setattr will replace.
    if isinstance(owner, type):
        return owner.__dict__.get(attr, _INHERITED)
    return getattr(owner, attr)


def _patches(art_version: ArtVersion, modules: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(module, attribute path, replacement) for everything install() patches."""
    replacements = {
        "MetricsBuilder": builder_class(art_version),
        "track_api_cost": track_api_cost,
    }
    patches = [(name, attr, replacements[attr]) for name, attr in _TARGETS]
    model_class = modules["art.model"].Model
    originals = {name: getattr(model_class, name) for name in art_model.METHODS}
    for name, replacement in art_model.replacements(originals).items():
        patches.append(("art.model", f"Model.{name}", replacement))
    patches.extend(art_distributed.targets(art_version))
    return patches


def _installed_art_version() -> str:
    try:
        return importlib.metadata.version("openpipe-art")
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(
            "art_metrics.install() needs openpipe-art (0.5.18 or 0.5.23)", name="art"
        ) from None


def install(*, art_version: ArtVersion | None = None) -> ArtVersion:
    """Make openpipe-art use art_metrics' `MetricsBuilder` and `track_api_cost`; returns the
    openpipe-art version whose rules it installed ("0.5.18" or "0.5.23").

    ``art_version=None`` reads the installed openpipe-art version from its package metadata:
    0.5.18 and 0.5.23 get their own rules, any other version is an ``ImportError`` and
    nothing is patched. ``art_version="0.5.23"`` (or "0.5.18") uses those rules whatever is
    installed, at your own risk; other values are a ``ValueError``.

    Patches ``art.metrics.MetricsBuilder``, ``art.model.MetricsBuilder``,
    ``art.metrics.track_api_cost`` and ``art.api_costs.track_api_cost``. The builder put in
    builds builders of the chosen version when ART calls it as
    ``MetricsBuilder(cost_context="train")``. ``art.Model``'s ``log``, ``read_state``,
    ``overwrite_state`` (and so ``write_state``), ``merge_state`` and state loading run on
    the core's log step and run directory (`art_metrics.art_model`); on 0.5.23 the
    distributed rollout path keeps failed rollouts' spend, scenario ids and cost contexts.
    Calling it again with the same version changes nothing; `uninstall` puts the originals
    back.

    ``art.Model`` objects created before ``install()`` keep the builder they were made with
    and openpipe-art's own log and files (ART creates the builder in the constructor; such a
    model warns once when it is used while installed), so call it before creating models. Functions
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
        patches = _patches(art_version, modules)
        for module_name, path, replacement in patches:
            module = modules.get(module_name) or importlib.import_module(module_name)
            owner, attr = _owner(module, path)
            _originals[(module_name, path)] = _own_value(owner, attr)
            setattr(owner, attr, replacement)
        _installed_version = art_version
        return art_version


def uninstall() -> None:
    """Undo `install` (a no-op when it is not installed).

    Models created while installed first fold their journal into state.json and release
    their run directory, so that openpipe-art's own code continues from complete totals.
    """
    with _lock:
        if _originals:
            art_model.close_all()
        for (module_name, path), original in reversed(_originals.items()):
            owner, attr = _owner(importlib.import_module(module_name), path)
            if original is _INHERITED:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
        _originals.clear()


def is_installed() -> bool:
    """Whether `install` is in effect."""
    return bool(_originals)
