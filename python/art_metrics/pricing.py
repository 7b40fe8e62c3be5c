"""The price catalog: look up model prices, see where they come from, refresh them.

The built-in catalog is generated from litellm's bundled price map (see
``scripts/gen_catalog.py``) and embedded in the extension; nothing is fetched on import.
``refresh_catalog()`` downloads a newer litellm-format map, caches it in the user's cache
directory (``$ART_METRICS_CACHE_DIR``, else ``$XDG_CACHE_HOME/art-metrics``, else
``~/.cache/art-metrics``) and uses it from then on, in this and later processes.

>>> from art_metrics import pricing
>>> pricing.lookup("openai", "gpt-4o").prompt_per_million
2.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _core
from ._core import CatalogCacheWarning

__all__ = [
    "DEFAULT_CATALOG_URL",
    "CatalogCacheWarning",
    "ModelPrices",
    "PriceTier",
    "cache_path",
    "catalog_info",
    "lookup",
    "refresh_catalog",
    "reload_catalog",
]

DEFAULT_CATALOG_URL: str = _core.DEFAULT_CATALOG_URL


@dataclass(frozen=True)
class PriceTier:
    """Long-context prices, used once a call's input exceeds ``above_tokens``."""

    above_tokens: int
    prompt_per_million: float | None
    completion_per_million: float | None
    cache_read_per_million: float | None
    cache_creation_per_million: float | None


@dataclass(frozen=True)
class ModelPrices:
    """A catalog model's prices in US dollars per million tokens.

    ``table`` says which table priced it: ``litellm``, ``art_builtin`` (ART's own two
    entries) or ``art_tinker`` (ART's Tinker table).
    """

    key: str
    table: str
    prompt_per_million: float
    completion_per_million: float
    cached_prompt_per_million: float | None
    cache_creation_per_million: float | None
    cache_read_per_million: float | None
    cache_creation_1h_per_million: float | None
    tiers: tuple[PriceTier, ...]


def lookup(provider: str, model_name: str) -> ModelPrices:
    """The catalog's prices of ``model_name`` as priced for ``provider``.

    Names resolve as in openpipe-art: ``gpt-4o`` and ``openai/gpt-4o`` both work. Under
    ``google``/``gemini`` a bare name also tries ``gemini/<name>``. Prices registered on
    a builder are not consulted. Raises ``ValueError`` for an unknown model.
    """
    raw: dict[str, Any] = _core._lookup(provider, model_name)
    tiers = tuple(PriceTier(**t) for t in raw.pop("tiers"))
    return ModelPrices(tiers=tiers, **raw)


def catalog_info() -> dict[str, Any]:
    """Where the active catalog comes from.

    Keys: ``source``, ``version``, ``generated_at``, ``sha256``, ``origin`` (``"builtin"``
    or ``"cache"``), ``path`` and ``url`` (for a cached map), ``models`` (count per
    provider) and ``names`` (resolvable model names).
    """
    return _core._catalog_info()


def refresh_catalog(url: str = DEFAULT_CATALOG_URL, *, timeout: float = 30.0) -> dict[str, Any]:
    """Download a litellm-format price map, validate it, cache it and use it from now on.

    On any failure the previous catalog stays active and the cache file is untouched:
    ``ConnectionError`` (network error or HTTP error status), ``TimeoutError``,
    ``ValueError`` (not JSON, or not a valid price map) or ``OSError`` (cache not
    writable). A ``timeout`` that is not a positive number of seconds, at most a day, is a
    ``ValueError`` (``TypeError`` for a non-number). Returns :func:`catalog_info` of the
    new catalog.
    """
    return _core._refresh_catalog(url, timeout)


def reload_catalog() -> dict[str, Any]:
    """Read the catalog again from the cache directory (the built-in one if none).

    A cached file that cannot be used is ignored with a :class:`CatalogCacheWarning`.
    """
    return _core._reload_catalog()


def cache_path() -> str | None:
    """The file ``refresh_catalog`` writes (from the current environment)."""
    return _core._catalog_cache_path()
