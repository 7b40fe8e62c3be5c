"""What a price catalog refresh changed, as lines: ``python -m art_metrics refresh`` prints them.

The core computes the changes once (``refresh_catalog(...)["changes"]``, against the catalog
the refresh replaced); this module only formats them, so the counts printed are the API's.
"""

from __future__ import annotations

from typing import Any

__all__ = ["change_lines"]


def _money(price: Any) -> str:
    if price is None:
        return "none"
    if isinstance(price, dict):
        tiers = ", ".join(f"${p:g} above {int(s):,}" for s, p in price["tiers"])
        return f"${price['base']:g} ({tiers})"
    return f"${price:g}"


def _terms(terms: dict[str, Any]) -> str:
    return ", ".join(f"{k} {_money(old)} -> {_money(new)}" for k, (old, new) in terms.items())


def change_lines(changes: dict[str, Any], limit: int = 20) -> list[str]:
    """The lines for ``changes``: model counts per provider that changed, the totals, the
    models added and removed, each model whose prices today changed (term by term), then
    its prices under a condition (a dated or hours period, a service-tier or batch variant),
    the terms kept from the entries the list replaced, and the one line for skipped
    entries."""
    before, after = changes["models_before"], changes["models_after"]
    per_provider: dict[str, list[int]] = {}
    for entry, sign in [(e, 1) for e in changes["added"]] + [(e, -1) for e in changes["removed"]]:
        counts = per_provider.setdefault(entry.split("/", 1)[0], [0, 0])
        counts[sign < 0] += 1
    out = []
    for provider, (added, removed) in sorted(per_provider.items()):
        n, m = before.get(provider, 0), after.get(provider, 0)
        parts = [f"{n} -> {m} models ({m - n:+d}"]
        if removed:
            parts.append(f": {added} added, {removed} now under another entry")
        out.append(f"{provider}: {''.join(parts)})")
    added, removed, changed = changes["added"], changes["removed"], changes["changed"]
    conditional, kept = changes["changed_conditional"], changes["kept"]
    total = f"{len(added)} model{'' if len(added) == 1 else 's'} added"
    if removed:
        total += f", {len(removed)} removed"
    total += f", {len(changed)} with changed prices"
    if conditional:
        total += f", {len(conditional)} with changed dated, hourly or tier prices"
    if kept:
        kept_terms = sum(len(k) for k in kept.values())
        total += (
            f"; {kept_terms} term{'' if kept_terms == 1 else 's'} of {len(kept)} refreshed "
            f"model{'' if len(kept) == 1 else 's'} kept from the entries they replaced"
        )
    out.append(total)
    for mark, names in (("+", added), ("-", removed)):
        out += [f"  {mark} {name}" for name in names[:limit]]
        if len(names) > limit:
            out.append(f"  ... and {len(names) - limit} more")
    for name, terms in list(changed.items())[:limit]:
        out.append(f"  ~ {name}: {_terms(terms)}")
    if len(changed) > limit:
        out.append(f"  ... and {len(changed) - limit} more changed")
    for name, by_condition in list(conditional.items())[:limit]:
        out += [f"  ~ {name} ({when}): {_terms(terms)}" for when, terms in by_condition.items()]
    if len(conditional) > limit:
        out.append(
            f"  ... and {len(conditional) - limit} more with changed dated, hourly or tier prices"
        )
    for name, terms in list(kept.items())[:limit]:
        out.append(f"  = {name}: kept {', '.join(terms)} (the list does not price them)")
    if len(kept) > limit:
        out.append(f"  ... and {len(kept) - limit} more with kept terms")
    if changes["skipped_summary"]:
        out.append(changes["skipped_summary"])
    return out
