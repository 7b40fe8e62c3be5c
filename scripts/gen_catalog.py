#!/usr/bin/env python3
"""Generate src/pricing/catalog.json, the built-in offline price catalog.

The catalog holds litellm's price-map entries **verbatim** (those of the providers the core
prices), with their provenance, ART's own price tables, and the names litellm resolves
beyond the core's naming rules. It applies no pricing rule itself: the core's one litellm
parser (``src/pricing/litellm.rs``) reads these entries, exactly as it reads a map that
``refresh_catalog()`` downloads.

Every name the parser gives is checked against ``litellm.get_model_info`` (run through
``cargo run --example litellm_names``); the generator stops if litellm prices one
differently. Each name's other form (``gemini/x`` for ``x`` and back) that the parser does
not give but litellm resolves to the same prices is recorded under ``aliases``.

Usage (with litellm installed, e.g. the dev venv; cargo on PATH):

    LITELLM_LOCAL_MODEL_COST_MAP=True python scripts/gen_catalog.py \
        [--source PATH_TO_JSON --source-version VERSION] [--out src/pricing/catalog.json]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "pricing" / "catalog.json"
SOURCE_FILE_NAME = "model_prices_and_context_window_backup.json"

# The litellm providers whose entries are copied: the ones src/pricing/litellm.rs prices
# (a size filter only; the parser applies its own rules to what is copied).
LITELLM_PROVIDERS = ("openai", "anthropic", "gemini")

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
        import importlib.metadata as md

        from art.costs import MODEL_PRICING  # type: ignore[import-not-found]

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


def _select(source: dict[str, Any]) -> dict[str, Any]:
    """litellm's entries of the providers the core prices, verbatim (the parser picks)."""
    return {
        key: info
        for key, info in sorted(source.items())
        if isinstance(info, dict) and info.get("litellm_provider") in LITELLM_PROVIDERS
    }


def _parser_names(entries: dict[str, Any]) -> dict[str, Any]:
    """The names the core's parser gives `entries`, with the prices each resolves to."""
    out = subprocess.run(
        ["cargo", "run", "-q", "--example", "litellm_names"],
        cwd=REPO_ROOT,
        input=json.dumps(entries),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"the core's parser refused the entries: {out.stderr.strip()}")
    return json.loads(out.stdout)


def _litellm_prices(name: str) -> dict[str, Any] | None:
    """What litellm.get_model_info prices `name` at, per million tokens (None: unknown)."""
    from litellm import get_model_info

    try:
        info = get_model_info(name)
    except Exception:
        return None

    def per_million(field: str) -> float | None:
        value = info.get(field)
        return None if value is None else value * 1e6

    return {
        "prompt": per_million("input_cost_per_token"),
        "completion": per_million("output_cost_per_token"),
        "cache_read": per_million("cache_read_input_token_cost"),
        "cache_creation": per_million("cache_creation_input_token_cost"),
    }


def _same_prices(litellm_prices: dict[str, Any] | None, ours: dict[str, Any]) -> bool:
    return litellm_prices is not None and all(ours[k] == v for k, v in litellm_prices.items())


def _aliases(entries: dict[str, Any], names: dict[str, Any]) -> dict[str, str]:
    """Checks every parser name against litellm; returns the other forms litellm resolves."""
    import logging

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    logging.disable(logging.CRITICAL)
    litellm.suppress_debug_info = True
    wrong = [n for n, ours in names.items() if not _same_prices(_litellm_prices(n), ours)]
    if wrong:
        sys.exit(f"litellm does not price these names as the core's parser does: {wrong}")
    aliases: dict[str, str] = {}
    for name, ours in names.items():
        prefix = entries[ours["key"]]["litellm_provider"] + "/"
        other = name.removeprefix(prefix) if name.startswith(prefix) else prefix + name
        if other not in names and _same_prices(_litellm_prices(other), ours):
            aliases[other] = ours["key"]
    return dict(sorted(aliases.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=None)
    ap.add_argument("--source-version", default=None)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()

    if args.source is None:
        source_path, version = _locate_source()
    else:
        source_path, version = args.source, args.source_version or "unknown"
    raw = source_path.read_bytes()
    source = json.loads(raw)

    entries = _select(source)
    names = _parser_names(entries)
    aliases = _aliases(entries, names)

    catalog = {
        "schema_version": 2,
        "source": f"litellm {SOURCE_FILE_NAME}",
        "source_version": version,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "generated_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "generator": "scripts/gen_catalog.py",
        "notes": (
            "'litellm' holds litellm's entries verbatim (USD per token); the core's parser "
            "(src/pricing/litellm.rs) decides which are priced and under which names. "
            "'aliases' maps further names litellm.get_model_info resolves to the same prices "
            "to the litellm key they price as. 'art_builtin' (ART's "
            "art.api_costs.MODEL_TOKEN_PRICING, matched first) and 'art_tinker' "
            "(art.costs.MODEL_PRICING, matched last) are USD per million tokens."
        ),
        "art_builtin": ART_BUILTIN_PER_MILLION,
        "art_tinker": _art_tinker_table(),
        "aliases": aliases,
        "litellm": entries,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(catalog, indent=1, sort_keys=False) + "\n")
    print(
        f"wrote {args.out} ({len(entries)} litellm entries, {len(names)} names, "
        f"{len(aliases)} aliases)"
    )


if __name__ == "__main__":
    main()
