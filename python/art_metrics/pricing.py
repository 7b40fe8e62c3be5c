"""The price catalog: look up model prices, see where they come from, refresh them.

The built-in catalog is generated from pydantic's genai-prices (primary) and litellm's
bundled price map (names genai-prices lacks), see ``scripts/gen_catalog.py``, and embedded in
the extension; it is parsed on first use and nothing is fetched on import.
``refresh_catalog()`` reads a newer price list (genai-prices' or litellm's format), merges it
into the built-in catalog, caches it in the user's cache directory (``$ART_METRICS_CACHE_DIR``,
else ``$XDG_CACHE_HOME/art-metrics``, else ``~/.cache/art-metrics``) and uses it from then on,
in this and later processes.

>>> from art_metrics import pricing
>>> pricing.lookup("openai", "gpt-4o").prompt_per_million
2.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import _core
from ._core import CatalogCacheWarning, CatalogRefreshWarning, DownloadProgress

__all__ = [
    "DEFAULT_CATALOG_URL",
    "CatalogCacheWarning",
    "CatalogRefreshWarning",
    "DownloadProgress",
    "ModelPrices",
    "PriceTier",
    "cache_path",
    "catalog_entries",
    "catalog_info",
    "lookup",
    "refresh_catalog",
    "reload_catalog",
]

DEFAULT_CATALOG_URL: str = _core.DEFAULT_CATALOG_URL


@dataclass(frozen=True)
class PriceTier:
    """Long-context prices, used for a whole call once its input exceeds ``above_tokens``."""

    above_tokens: int
    prompt_per_million: float | None
    completion_per_million: float | None
    cache_read_per_million: float | None
    cache_creation_per_million: float | None


@dataclass(frozen=True)
class ModelPrices:
    """A catalog model's prices today, in US dollars per million tokens.

    ``table`` says which source priced it: ``genai-prices``, ``litellm``, ``art_tinker``
    (openpipe-art's Tinker table) or a refreshed list. ``prices`` holds every billed term of
    the period in force today (``input_mtok``, ``cache_write_1h_mtok``,
    ``web_searches_kcount``..., a number or ``{"base", "tiers"}``); ``periods`` the dated
    price periods, ``variants`` the service-tier and batch prices.
    """

    key: str
    table: str
    provider: str
    names: tuple[str, ...]
    prompt_per_million: float
    completion_per_million: float
    cached_prompt_per_million: float | None
    cache_creation_per_million: float | None
    cache_read_per_million: float | None
    cache_creation_1h_per_million: float | None
    tiers: tuple[PriceTier, ...]
    prices: dict[str, Any] = field(default_factory=dict, compare=False)
    periods: tuple[dict[str, Any], ...] = ()
    variants: tuple[dict[str, Any], ...] = ()


def _model_prices(raw: dict[str, Any]) -> ModelPrices:
    # Every figure is the core's (its headline prices and tiers); this only names them.
    return ModelPrices(
        key=raw["key"],
        table=raw["table"],
        provider=raw["provider"],
        names=tuple(raw["names"]),
        prompt_per_million=raw["prompt_per_million"],
        completion_per_million=raw["completion_per_million"],
        cached_prompt_per_million=raw["cache_read_per_million"],
        cache_creation_per_million=raw["cache_creation_per_million"],
        cache_read_per_million=raw["cache_read_per_million"],
        cache_creation_1h_per_million=raw["cache_creation_1h_per_million"],
        tiers=tuple(PriceTier(**tier) for tier in raw["tiers"]),
        prices=raw["prices"],
        periods=tuple(raw["periods"]),
        variants=tuple(raw["variants"]),
    )


def lookup(provider: str, model_name: str) -> ModelPrices:
    """The catalog's prices of ``model_name`` as priced for ``provider``.

    One model, one price: ``gpt-4.1``, ``openai/gpt-4.1``, ``GPT-4.1`` and the dated snapshot
    ``gpt-4.1-2025-04-14`` are the same entry; provider names are case-insensitive and
    ``gemini``/``google_genai`` mean ``google``. Prices registered on a builder are not
    consulted. Raises ``ValueError`` naming up to three nearest names for an unknown model.
    """
    return _model_prices(_core._lookup(provider, model_name))


def catalog_entries() -> list[ModelPrices]:
    """Every model of the active catalog, with the names that resolve to it."""
    return [_model_prices(raw) for raw in _core._catalog_entries()]


def catalog_info() -> dict[str, Any]:
    """Where the active catalog comes from.

    Keys: ``source`` and ``version`` (the primary source), ``sources`` (each with name,
    version and url), ``sha256``, ``origin`` (``"builtin"`` or ``"cache"``), ``path``,
    ``url``, ``format`` and ``fetched_at`` (for a refreshed list), ``models`` (count per
    provider) and ``names`` (resolvable model names).
    """
    return _core._catalog_info()


def refresh_catalog(
    source: str = DEFAULT_CATALOG_URL,
    *,
    timeout: float = 30.0,
    allow_insecure: bool = False,
    progress: DownloadProgress | None = None,
    from_package: bool = False,
) -> dict[str, Any]:
    """Read a price list, merge it into the built-in catalog, cache it and use it from now on.

    ``source`` is an https URL (default: genai-prices' data file at a pinned release), a
    local path or a ``file://`` URL; the list may be genai-prices' data or a litellm price
    map (detected). ``from_package=True`` reads the data of the installed ``genai-prices``
    package instead (offline: ``pip install -U genai-prices`` brings newer prices; it is not
    a dependency of art-metrics, and its absence is a ``ModuleNotFoundError`` saying so).

    The merge never makes prices worse: a refreshed model replaces the catalog's model term
    by term, keeping the terms the list does not price (a cached-input or audio price...),
    and the replaced model's other names (dated snapshots) follow it; nothing built in
    disappears. Entries with a bad value are skipped, reported in one
    :class:`CatalogRefreshWarning` (their count and the first ones). Plain ``http://`` is
    refused unless ``allow_insecure=True``; the body is capped at 64 MiB and the whole read
    at ``timeout`` seconds.

    On any failure the previous catalog stays active and the cache file is untouched:
    ``ConnectionError`` (network error or HTTP error status), ``TimeoutError``,
    ``ValueError`` (a refused source, not JSON, or not a price list) or ``OSError``. A
    ``timeout`` that is not a positive number of seconds, at most a day, is a ``ValueError``
    (``TypeError`` for a non-number).

    Returns :func:`catalog_info` of the new catalog plus ``changes``, what changed against
    the catalog it replaced: ``models_before`` and ``models_after`` (per provider),
    ``added`` and ``removed`` (``provider/id``), ``changed`` (``provider/id`` -> term ->
    ``(old, new)``: the standard prices in force now), ``changed_conditional``
    (``provider/id`` -> condition -> term -> ``(old, new)``: the other periods, by date or
    UTC hours, and the service-tier, batch and speed variants, e.g. ``"from 2027-01-01"``,
    ``"processing=batch"``), ``kept`` (``provider/id`` -> terms kept from the model it
    replaced), ``skipped`` and ``skipped_summary``.

    ``progress``: a :class:`DownloadProgress` that counts the bytes read as they arrive
    (``received``, and ``total`` once the length is announced); read it from another thread
    to show a progress bar, as ``python -m art_metrics refresh`` does on a terminal.
    """
    return _refresh(source, timeout, allow_insecure, progress, from_package, cli=False)


def _refresh(
    source: str | None,
    timeout: float,
    allow_insecure: bool,
    progress: DownloadProgress | None,
    from_package: bool,
    *,
    cli: bool,
) -> dict[str, Any]:
    """``refresh_catalog``, its errors naming the options as the CLI spells them with ``cli``."""
    if not from_package:
        return _core._refresh_catalog(
            source or DEFAULT_CATALOG_URL, timeout, allow_insecure, progress, cli=cli
        )
    if source not in (None, DEFAULT_CATALOG_URL):
        flag = "--from-package" if cli else "from_package=True"
        raise ValueError(f"{flag} reads the installed genai-prices package: give no source")
    data, label = _genai_prices_package_data(cli)
    return _core._refresh_catalog(label, timeout, allow_insecure, progress, data, cli=cli)


def _genai_prices_package_data(cli: bool) -> tuple[bytes, str]:
    """The installed genai-prices package's price data, in its published JSON form (the
    package holds it as Python objects, ``genai_prices.data.providers``), and a label."""
    import json

    try:
        import genai_prices
        from genai_prices.data import providers
    except ImportError as err:
        flag = "--from-package" if cli else "refresh_catalog(from_package=True)"
        raise ModuleNotFoundError(
            f"{flag} reads the installed genai-prices package, which is not installed: "
            "pip install -U genai-prices",
            name="genai_prices",
        ) from err
    data = [
        {
            "id": p.id,
            "models": [
                {k: _plain(getattr(m, k)) for k in _MODEL_FIELDS if getattr(m, k, None) is not None}
                for m in p.models
            ],
        }
        for p in providers
    ]
    version = getattr(genai_prices, "__version__", "?")
    label = f"genai-prices {version} (installed package {genai_prices.__path__[0]})"
    return json.dumps(data).encode(), label


_MODEL_FIELDS = ("id", "match", "prices", "price_variants")


def _plain(value: Any) -> Any:
    """A genai-prices object as the JSON its ``data.json`` holds: dataclasses (and its
    ``ModelPrice``) as objects with their set fields (``or_`` as ``or``), decimals as
    numbers, dates as ISO dates and times as UTC ``HH:MM``."""
    import dataclasses
    import datetime as dt
    import decimal

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif type(value).__module__.startswith("genai_prices") and hasattr(value, "__dict__"):
        items = vars(value)
    elif isinstance(value, (list, tuple)):
        return [_plain(x) for x in value]
    elif isinstance(value, dict):
        return {str(k): _plain(x) for k, x in value.items()}
    elif isinstance(value, decimal.Decimal):
        return float(value)
    elif isinstance(value, dt.datetime):
        return value.isoformat()
    elif isinstance(value, dt.time):
        if value.tzinfo is not None:
            moment = dt.datetime.combine(dt.date(1970, 1, 1), value)
            value = moment.astimezone(dt.timezone.utc).time()
        return value.strftime("%H:%M")
    elif isinstance(value, dt.date):
        return value.isoformat()
    else:
        return value
    return {
        k.rstrip("_"): _plain(x)
        for k, x in items.items()
        if x is not None and not k.startswith("_")
    }


def reload_catalog() -> dict[str, Any]:
    """Read the catalog again from the cache directory (the built-in one if none).

    A cached file that cannot be used is ignored with a :class:`CatalogCacheWarning`.
    """
    return _core._reload_catalog()


def cache_path() -> str | None:
    """The file ``refresh_catalog`` writes (from the current environment)."""
    return _core._catalog_cache_path()
