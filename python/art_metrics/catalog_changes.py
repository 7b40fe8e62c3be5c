"""What a price catalog refresh changed: ``python -m art_metrics refresh`` prints it.

The core lists every model of the active catalog with the names that resolve to it
(:func:`art_metrics.pricing.catalog_entries`), so the change is the difference between that
listing in this process after the refresh and in a child process that sees the catalog as it
was before (the built-in one, or a copy of the previous cache file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import pricing

__all__ = ["CatalogChanges", "PreviousCatalog", "catalog_changes", "prices_by_name"]

_PRICE_FIELDS = (
    "prompt_per_million",
    "completion_per_million",
    "cached_prompt_per_million",
    "cache_creation_per_million",
    "cache_read_per_million",
    "cache_creation_1h_per_million",
)


def prices_by_name() -> dict[str, dict[str, float | None]]:
    """Today's prices of every name of the active catalog, keyed ``provider/name``."""
    prices = {}
    for model in pricing.catalog_entries():
        fields = {f: getattr(model, f) for f in _PRICE_FIELDS}
        for name in model.names:
            prices[f"{model.provider}/{name}"] = fields
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

    def prices_by_name(self) -> dict[str, dict[str, float | None]]:
        code = (
            "import json\n"
            "from art_metrics.catalog_changes import prices_by_name\n"
            "print(json.dumps(prices_by_name()))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
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
    """Names priced now and not before, names whose prices changed (field: old, new),
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


def catalog_changes(previous: PreviousCatalog) -> CatalogChanges:
    """Compare ``previous`` with the active catalog, name by name (shown without provider)."""
    before, after = previous.prices_by_name(), prices_by_name()
    changes = CatalogChanges(
        counts_before=dict(previous.info.get("models", {})),
        counts_after=dict(pricing.catalog_info().get("models", {})),
    )
    for key, new in sorted(after.items()):
        name = key.split("/", 1)[1]
        old = before.get(key)
        if old is None:
            changes.added.append(name)
            continue
        diff = {f: (old[f], new[f]) for f in _PRICE_FIELDS if old[f] != new[f]}
        if diff:
            changes.changed[name] = diff
    changes.added.sort()
    return changes
