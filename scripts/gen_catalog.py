#!/usr/bin/env python3
"""Generate src/pricing/catalog.json, the built-in offline price catalog.

Source data: litellm's bundled price map
(``litellm/model_prices_and_context_window_backup.json``).  Only the price map
is read; model-name resolution rules are derived from it (see the metadata
written into the catalog) and, when litellm is importable, every lookup name is
cross-checked against ``litellm.get_model_info`` so that the catalog resolves a
name to exactly the prices litellm would return.

Usage (any Python >= 3.9 with litellm installed, e.g. the reference venv):

    LITELLM_LOCAL_MODEL_COST_MAP=True python scripts/gen_catalog.py \
        [--source PATH_TO_JSON] [--out src/pricing/catalog.json] [--no-verify]

Prices are stored in USD **per token**, exactly the float litellm's JSON holds
(no rescaling, hence no float noise is introduced here).  Consumers that work in
USD per million tokens must compute ``per_token * 1e6`` in IEEE-754 double
precision, which is bit-for-bit what the reference does before it evaluates
``tokens * per_million / 1e6``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "pricing" / "catalog.json"
SOURCE_FILE_NAME = "model_prices_and_context_window_backup.json"

# Catalog provider -> (litellm_provider values to take, lookup prefix).
PROVIDERS: dict[str, tuple[tuple[str, ...], str]] = {
    "openai": (("openai",), "openai"),
    "anthropic": (("anthropic",), "anthropic"),
    "google": (("gemini",), "gemini"),
}

# Price fields (catalog key -> litellm field).
BASE_FIELDS = {
    "prompt": "input_cost_per_token",
    "completion": "output_cost_per_token",
    # The reference uses cache_read_input_token_cost for *both* the OpenAI
    # cached-prompt price and the Anthropic cache-read price.
    "cached_prompt": "cache_read_input_token_cost",
    "cache_creation": "cache_creation_input_token_cost",
    "cache_read": "cache_read_input_token_cost",
    "cache_creation_1h": "cache_creation_input_token_cost_above_1hr",
}
TIER_FIELDS = {
    "prompt": "input_cost_per_token_above_{k}k_tokens",
    "completion": "output_cost_per_token_above_{k}k_tokens",
    "cache_read": "cache_read_input_token_cost_above_{k}k_tokens",
    "cache_creation": "cache_creation_input_token_cost_above_{k}k_tokens",
}
TIER_RE = re.compile(
    r"^(?:input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|"
    r"cache_creation_input_token_cost)_above_(\d+)k_tokens$"
)

# ART's own built-in table (art.api_costs.MODEL_TOKEN_PRICING), checked before
# litellm with an exact, case-sensitive key match.  Values are USD per MILLION
# tokens, exactly as ART declares them.  These are facts about ART's behaviour
# (two literal price entries), restated here, not code.
ART_BUILTIN_PER_MILLION = {
    "openai/gpt-4.1": {
        "provider": "openai",
        "prompt": 2.0,
        "completion": 8.0,
        "cached_prompt": 0.5,
        "cache_creation": None,
        "cache_read": None,
    },
    "anthropic/claude-sonnet-4-6": {
        "provider": "anthropic",
        "prompt": 3.0,
        "completion": 15.0,
        "cached_prompt": None,
        "cache_creation": 3.75,
        "cache_read": 0.3,
    },
}


def _art_tinker_table() -> dict[str, Any]:
    """ART's Tinker price table (art.costs.MODEL_PRICING), the reference's last fallback.

    Read from the installed openpipe-art, per MILLION tokens; empty when art is not importable.
    """
    try:
        from art.costs import MODEL_PRICING  # type: ignore[import-not-found]
        import importlib.metadata as md

        version = md.version("openpipe-art")
    except Exception:
        return {"source": None, "models": {}}
    return {
        "source": f"openpipe-art {version} art.costs.MODEL_PRICING",
        "models": {
            name: {"prompt": p.prefill, "completion": p.sample}
            for name, p in sorted(MODEL_PRICING.items())
        },
    }


def _locate_source() -> tuple[Path, str]:
    import importlib.metadata as md
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("litellm is not installed; pass --source")
    path = Path(list(spec.submodule_search_locations)[0]) / SOURCE_FILE_NAME
    return path, f"litellm {md.version('litellm')}"


def _num(value: Any) -> float | None:
    """Mirror of how a litellm value becomes a price: None/bool -> absent."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _entry(provider: str, key: str, info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "provider": provider,
        "litellm_key": key,
        "litellm_provider": info.get("litellm_provider"),
    }
    missing = []
    for name, field in BASE_FIELDS.items():
        value = _num(info.get(field))
        if value is None and name in ("prompt", "completion"):
            # litellm.get_model_info() defaults a missing input/output cost to 0.
            missing.append(field)
            value = 0.0
        out[name] = value
    if missing:
        out["costs_defaulted_to_zero"] = missing
    thresholds = sorted(
        {int(mt.group(1)) for f in info if (mt := TIER_RE.match(f)) is not None}
    )
    tiers = []
    for k in thresholds:
        tier: dict[str, Any] = {"above_tokens": k * 1000}
        for name, pattern in TIER_FIELDS.items():
            tier[name] = _num(info.get(pattern.format(k=k)))
        tiers.append(tier)
    if tiers:
        out["tiers"] = tiers
    if info.get("max_input_tokens") is not None:
        out["max_input_tokens"] = info.get("max_input_tokens")
    return out


def _build(
    source: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    models: dict[str, Any] = {}
    lookup: dict[str, str] = {}
    skipped: list[str] = []
    for provider, (litellm_providers, prefix) in PROVIDERS.items():
        # Prefixed keys first so that 'gemini/X' owns the bare name X.
        ordered = sorted(source.items(), key=lambda kv: not kv[0].startswith(prefix + "/"))
        for key, info in ordered:
            if not isinstance(info, dict):
                continue
            if info.get("litellm_provider") not in litellm_providers:
                continue
            if info.get("mode") != "chat":
                continue
            if key.startswith(prefix + "/"):
                bare = key.split("/", 1)[1]
                names = [key]  # bare name alone is NOT resolvable via this key
            else:
                bare = key
                names = [key, f"{prefix}/{key}"]
            if bare in models:
                # Only happens for Gemini: litellm has both 'gemini/X' and 'X'
                # (litellm_provider 'gemini').  The prefixed key owns the entry;
                # the bare key is an alias if its prices are identical, else it
                # is skipped (bare 'X' then stays unresolved in this catalog).
                if _entry(provider, key, info) | {"litellm_key": None} == models[
                    bare
                ] | {"litellm_key": None}:
                    lookup[key] = "?" + bare
                else:
                    skipped.append(key)
                continue
            models[bare] = _entry(provider, key, info)
            for name in names:
                # For Google, only the litellm key itself must resolve; other
                # aliases are kept only if verification confirms them.
                strict = provider != "google" or name == key
                lookup.setdefault(name, bare if strict else "?" + bare)
            if key.startswith(prefix + "/"):
                # Candidate bare alias; kept only if verification proves litellm
                # resolves it to this same entry (it usually resolves to another
                # provider's entry, e.g. vertex_ai for Gemini).
                lookup.setdefault(bare, "?" + bare)
    return models, lookup, skipped


def _verify(models: dict[str, Any], lookup: dict[str, str]) -> dict[str, Any]:
    """Cross-check every lookup name against litellm.get_model_info."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import logging

    logging.disable(logging.CRITICAL)
    import litellm  # noqa: F401
    from litellm import get_model_info

    litellm.suppress_debug_info = True

    def same(name: str, entry: dict[str, Any]) -> bool:
        try:
            info = get_model_info(name)
        except Exception:
            return False
        for cat, field in (
            ("prompt", "input_cost_per_token"),
            ("completion", "output_cost_per_token"),
            ("cache_read", "cache_read_input_token_cost"),
            ("cache_creation", "cache_creation_input_token_cost"),
        ):
            if _num(info.get(field)) != entry[cat]:
                return False
        return True

    dropped: list[str] = []
    for name, target in list(lookup.items()):
        tentative = target.startswith("?")
        bare = target.lstrip("?")
        if same(name, models[bare]):
            lookup[name] = bare
        else:
            del lookup[name]
            if not tentative:
                dropped.append(name)
    if dropped:
        raise SystemExit(f"litellm does not resolve these names as expected: {dropped}")
    return {"verified_with": "litellm.get_model_info", "names_checked": len(lookup)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=None)
    ap.add_argument("--source-version", default=None)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()

    if args.source is None:
        source_path, version = _locate_source()
    else:
        source_path, version = args.source, args.source_version or "unknown"
    raw = source_path.read_bytes()
    source = json.loads(raw)

    models, lookup, skipped = _build(source)
    if args.no_verify:
        lookup = {n: t for n, t in lookup.items() if not t.startswith("?")}
        verification: dict[str, Any] = {"verified_with": None}
    else:
        verification = _verify(models, lookup)

    counts: dict[str, int] = {}
    for entry in models.values():
        counts[entry["provider"]] = counts.get(entry["provider"], 0) + 1

    catalog = {
        "schema_version": 1,
        "source": f"litellm {SOURCE_FILE_NAME}",
        "source_version": version,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "generated_at": _dt.datetime.now(_dt.timezone.utc)
        .replace(microsecond=0)
        .isoformat(),
        "generator": "scripts/gen_catalog.py",
        "price_unit": "usd_per_token",
        "price_unit_notes": (
            "All prices under 'models' are USD per token, copied verbatim from "
            "litellm (no rescaling). To reproduce openpipe-art 0.5.18 exactly, "
            "compute per_million = per_token * 1e6 (IEEE-754 f64) and then "
            "cost = tokens * per_million / 1e6, evaluated left to right. Storing "
            "pre-multiplied per-million values would either carry float noise "
            "(e.g. 0.39999999999999997) or, if rounded, differ from the "
            "reference in the last ulp. 'art_builtin' prices are USD per MILLION "
            "tokens (ART's literal values; use as-is). JSON numbers here have at "
            "most ~17 significant digits; parse them with a correctly-rounding "
            "parser (serde_json: enable the 'float_roundtrip' feature to be safe)."
        ),
        "fields": {
            "prompt": "input_cost_per_token (0.0 if litellm lacks it)",
            "completion": "output_cost_per_token (0.0 if litellm lacks it)",
            "cached_prompt": "cache_read_input_token_cost (OpenAI cached prompt; null -> reference falls back to prompt)",
            "cache_creation": "cache_creation_input_token_cost (null -> reference falls back to prompt)",
            "cache_read": "cache_read_input_token_cost (null -> reference falls back to prompt)",
            "cache_creation_1h": "cache_creation_input_token_cost_above_1hr (NOT used by the reference)",
            "tiers": "[{above_tokens, prompt, completion, cache_read, cache_creation}] from *_above_<N>k_tokens fields (NOT used by the reference; *_priority/_flex variants omitted)",
        },
        "resolution": [
            "1. strip surrounding whitespace from the model name (reference: normalize_model_name)",
            "2. exact, case-sensitive match in art_builtin (per-million prices)",
            "3. lookup[name] (exact). The reference (via litellm) also matches the part after a "
            "recognised provider prefix case-insensitively: 'GPT-4o' and 'openai/GPT-4o' resolve, "
            "'OPENAI/gpt-4o' does not (prefix is case-sensitive). Cross-provider prefixes "
            "('anthropic/gpt-4o') do not resolve.",
            "4. art_tinker (art.costs.MODEL_PRICING) exact match: prompt=prefill, completion=sample, no cache prices (per million)",
        ],
        "prefix_strip": (
            "OpenAI and Anthropic entries are keyed by their bare litellm key and resolve both as "
            "'<bare>' and '<openai|anthropic>/<bare>'. Google entries are keyed by the name after "
            "'gemini/'; litellm stores most of them as 'gemini/<bare>' and their bare name usually "
            "resolves (in the reference) to vertex_ai prices instead, so a bare Gemini name appears "
            "in 'lookup' only where litellm resolves it to the same prices. 'openai/container' "
            "resolves only with its prefix."
        ),
        "provider_aliases": {"gemini": "google"},
        "art_builtin": ART_BUILTIN_PER_MILLION,
        "art_tinker": _art_tinker_table(),
        "counts": dict(sorted(counts.items())),
        "skipped_litellm_keys": skipped,
        "verification": verification,
        "models": dict(sorted(models.items())),
        "lookup": dict(sorted(lookup.items())),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(catalog, indent=1, sort_keys=False) + "\n")
    print(
        f"wrote {args.out} ({', '.join(f'{k}={v}' for k, v in sorted(counts.items()))}; "
        f"{len(lookup)} lookup names)"
    )


if __name__ == "__main__":
    main()
