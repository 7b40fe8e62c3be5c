"""What a price catalog refresh changed: ``python -m art_metrics refresh`` prints it.

The catalog only answers lookups, so the change is found by looking up every model of the
downloaded price map twice: in this process after the refresh, and in a child process that
sees the catalog as it was before (the built-in one, or a copy of the previous cache file).
Both sides resolve names exactly as cost tracking does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import pricing

__all__ = ["CatalogChanges", "PreviousCatalog", "catalog_changes", "prices_of"]

_PRICE_FIELDS = (
    "prompt_per_million",
    "completion_per_million",
    "cached_prompt_per_million",
    "cache_creation_per_million",
    "cache_read_per_million",
    "cache_creation_1h_per_million",
)


def _provider(litellm_provider: object) -> str | None:
    if not isinstance(litellm_provider, str):
        return None
    if litellm_provider == "gemini" or litellm_provider.startswith("vertex_ai"):
        return "google"
    return litellm_provider


def _models(price_map: Mapping[str, object]) -> list[tuple[str, str]]:
    """``(provider, name)`` of every entry of a litellm price map."""
    models = []
    for name, entry in price_map.items():
        provider = _provider(entry.get("litellm_provider")) if isinstance(entry, dict) else None
        if provider is not None:
            models.append((provider, name))
    return models


def prices_of(models: Iterable[tuple[str, str]]) -> dict[str, dict[str, float | None]]:
    """The active catalog's prices of each resolvable ``(provider, name)``, by name."""
    prices = {}
    for provider, name in models:
        try:
            found = pricing.lookup(provider, name)
        except ValueError:
            continue
        prices[name] = {f: getattr(found, f) for f in _PRICE_FIELDS}
    return prices


class PreviousCatalog:
    """The catalog as it is now, kept for a later comparison: a copy of the cache file (none
    when the built-in catalog is active), looked up from a child process."""

    def __init__(self) -> None:
        self.info = pricing.catalog_info()
        self._dir = tempfile.mkdtemp(prefix="art-metrics-catalog-")
        path = self.info.get("path")
        if self.info.get("origin") == "cache" and path:
            shutil.copy(path, Path(self._dir) / Path(path).name)

    def prices_of(self, models: list[tuple[str, str]]) -> dict[str, dict[str, float | None]]:
        code = (
            "import json, sys\n"
            "from art_metrics.catalog_changes import prices_of\n"
            "print(json.dumps(prices_of(json.load(sys.stdin))))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(models),
            capture_output=True,
            text=True,
            env=dict(os.environ, ART_METRICS_CACHE_DIR=self._dir),
            check=True,
        )
        return json.loads(proc.stdout)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


@dataclass
class CatalogChanges:
    """Models priced now and not before, models whose prices changed (field: old, new),
    and the per-provider model counts before and after."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, dict[str, tuple[float | None, float | None]]] = field(default_factory=dict)
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)

    def lines(self, limit: int = 20) -> list[str]:
        out = []
        for provider in sorted(set(self.counts_before) | set(self.counts_after)):
            before = self.counts_before.get(provider, 0)
            after = self.counts_after.get(provider, 0)
            out.append(f"{provider}: {before} -> {after} models ({after - before:+d})")
        added, changed = len(self.added), len(self.changed)
        out.append(f"{added} model{'' if added == 1 else 's'} added, {changed} with changed prices")
        out += [f"  + {name}" for name in self.added[:limit]]
        if len(self.added) > limit:
            out.append(f"  ... and {len(self.added) - limit} more added")
        for name in list(self.changed)[:limit]:
            parts = ", ".join(
                f"{f.replace('_per_million', '')} {_money(old)} -> {_money(new)}"
                for f, (old, new) in self.changed[name].items()
            )
            out.append(f"  ~ {name}: {parts} per million tokens")
        if len(self.changed) > limit:
            out.append(f"  ... and {len(self.changed) - limit} more changed")
        return out


def _money(value: float | None) -> str:
    return "none" if value is None else f"${value:g}"


def catalog_changes(previous: PreviousCatalog, price_map: Mapping[str, object]) -> CatalogChanges:
    """Compare ``previous`` with the active catalog on every model of ``price_map``."""
    models = _models(price_map)
    before, after = previous.prices_of(models), prices_of(models)
    changes = CatalogChanges(
        counts_before=dict(previous.info.get("models", {})),
        counts_after=dict(pricing.catalog_info().get("models", {})),
    )
    for name, new in after.items():
        old = before.get(name)
        if old is None:
            changes.added.append(name)
            continue
        diff = {f: (old[f], new[f]) for f in _PRICE_FIELDS if old[f] != new[f]}
        if diff:
            changes.changed[name] = diff
    changes.added.sort()
    return changes
