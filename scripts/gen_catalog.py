#!/usr/bin/env python3
"""Generate crates/art-metrics-core/src/pricing/catalog.json, the embedded price catalog.

Its format (2) is what the core's parser reads: `PriceCatalog::from_format2` in
crates/art-metrics-core/src/pricing/catalog.rs and the price types in prices.rs.

Sources, both MIT-licensed and read from pinned installed packages:

* primary: pydantic's genai-prices (``genai_prices.data.providers``): dated prices, long-context
  tiers, service-tier and batch variants, DeepSeek's time-of-day prices;
* secondary: litellm's bundled ``model_prices_and_context_window_backup.json``, for model names the
  primary source does not price.

Every name either source knows for a covered provider is resolved with genai-prices' own matcher;
a name it resolves becomes an alias of that genai-prices model, a name it does not resolve is taken
from litellm. Each price differing by more than 0.5% between the sources is printed with the
decision taken. Known data errors are fixed in ``ALIAS_FIXES`` and printed too.

Same inputs, same bytes: no timestamps, sorted keys and names, decimal strings copied from the
sources (litellm's per-token floats are converted exactly through ``Decimal(repr(x)) * 10**6``).

Usage (a Python >= 3.11 venv outside the repo, e.g. /work/scratch/prices-venv):

    pip install genai-prices==0.2.5 litellm==1.110.2
    python scripts/gen_catalog.py [--out PATH] [--check]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata as md
import importlib.util
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "crates" / "art-metrics-core" / "src" / "pricing" / "catalog.json"
GENAI_PRICES_VERSION = "0.2.5"
LITELLM_VERSION = "1.110.2"
# Prices are compared between the sources as of this date (a constant keeps the output stable).
COMPARE_AS_OF = dt.date(2026, 11, 28)
TOLERANCE = Decimal("0.005")

# Catalog provider -> (genai-prices provider id, litellm_provider values, name aliases, usage
# shape). The usage shape picks the core's formula (crates/art-metrics-core/src/pricing/catalog.rs ProviderInfo::formula):
# openai (OpenAI chat / Responses usage), anthropic, gemini (and Claude on Vertex AI), bedrock
# (Converse, or an InvokeModel body), perplexity. Every other genai-prices provider with per-token
# prices is added under its own id with the `openai` shape (OpenAI-compatible APIs):
# ``other_providers``.
PROVIDERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {
    "openai": ("openai", ("openai", "text-completion-openai"), ("openai",), "openai"),
    "anthropic": ("anthropic", ("anthropic",), ("anthropic",), "anthropic"),
    "google": (
        "google",
        ("gemini",),
        (
            "google",
            "gemini",
            "google_genai",
            "google-genai",
            "google-gla",
            "google-vertex",
            "google_vertex",
            "vertex",
            "vertex_ai",
            "vertex-ai",
            "vertex_ai_beta",
        ),
        "gemini",
    ),
    "aws": (
        "aws",
        ("bedrock", "bedrock_converse"),
        ("aws", "aws-bedrock", "aws_bedrock", "amazon-bedrock", "bedrock", "bedrock_converse"),
        "bedrock",
    ),
    "azure": ("azure", (), ("azure", "azure_openai", "azure-openai", "azure_ai", "azure-ai"), "openai"),
    "mistral": ("mistral", ("mistral", "codestral"), ("mistral", "mistralai"), "openai"),
    "deepseek": ("deepseek", ("deepseek",), ("deepseek",), "openai"),
    "xai": ("x-ai", ("xai",), ("xai", "x-ai", "grok"), "openai"),
    "groq": ("groq", ("groq",), ("groq",), "openai"),
    "together": ("together", ("together_ai",), ("together", "together_ai", "togetherai"), "openai"),
    "fireworks": (
        "fireworks",
        ("fireworks_ai",),
        ("fireworks", "fireworks_ai", "fireworks-ai"),
        "openai",
    ),
    "openrouter": ("openrouter", ("openrouter",), ("openrouter",), "openai"),
    "cerebras": ("cerebras", ("cerebras",), ("cerebras",), "openai"),
    "perplexity": ("perplexity", ("perplexity",), ("perplexity",), "perplexity"),
    "moonshot": ("moonshotai", ("moonshot",), ("moonshot", "moonshotai"), "openai"),
}
# Names litellm and ART users write for the other genai-prices providers.
OTHER_ALIASES: dict[str, tuple[str, ...]] = {
    "github-copilot": ("github_copilot", "copilot"),
    "meta": ("meta_llama", "meta-llama"),
    "zai": ("z-ai", "z_ai"),
    "zhipuai": ("zhipu",),
    "huggingface_together": ("huggingface-together",),
}
LITELLM_MODES = ("chat", "responses", "completion")
# genai-prices price keys kept (USD per million tokens, or per 1,000 for *_kcount).
PRICE_KEYS = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "cache_write_12h_mtok",
    "input_audio_mtok",
    "cache_audio_read_mtok",
    "output_audio_mtok",
    "input_image_mtok",
    "cache_image_read_mtok",
    "output_image_mtok",
    "input_video_mtok",
    "output_video_mtok",
    "output_reasoning_mtok",
    "output_citation_mtok",
    "input_tool_mtok",
    "web_searches_kcount",
    "requests_kcount",
)
# litellm per-token field -> catalog key (prices are multiplied by 1e6).
LITELLM_FIELDS = {
    "input_cost_per_token": "input_mtok",
    "output_cost_per_token": "output_mtok",
    "cache_read_input_token_cost": "cache_read_mtok",
    "cache_creation_input_token_cost": "cache_write_mtok",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h_mtok",
    "cache_creation_input_token_cost_above_12hr": "cache_write_12h_mtok",
    "input_cost_per_audio_token": "input_audio_mtok",
    "cache_read_input_audio_token_cost": "cache_audio_read_mtok",
    "output_cost_per_audio_token": "output_audio_mtok",
    "input_cost_per_image_token": "input_image_mtok",
    "cache_read_input_image_token_cost": "cache_image_read_mtok",
    "output_cost_per_image_token": "output_image_mtok",
    "input_cost_per_video_token": "input_video_mtok",
    "output_cost_per_reasoning_token": "output_reasoning_mtok",
}
LITELLM_VARIANTS = {
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
    "batches": {"processing": "batch"},
}
# Request context keys a caller can know (response service tier, batch=True, Anthropic speed).
VARIANT_KEYS = ("service_tier", "processing", "speed")
DATED_SUFFIX = re.compile(r"(?:-\d{8}|-\d{4}-\d{2}-\d{2}|@\d{8})$")

# openpipe-art 0.5.18's Tinker table (art.costs.MODEL_PRICING: prefill, sample USD per million
# tokens), the reference's last fallback for any provider; restated here as data so that names
# ART prices keep a price. Provider "tinker" in the catalog.
ART_TINKER_VERSION = "openpipe-art 0.5.18"
ART_TINKER = {
    'Qwen/Qwen3-235B-A22B-Instruct-2507': (0.68, 1.7),
    'Qwen/Qwen3-30B-A3B': (0.12, 0.3),
    'Qwen/Qwen3-30B-A3B-Base': (0.12, 0.3),
    'Qwen/Qwen3-30B-A3B-Instruct-2507': (0.12, 0.3),
    'Qwen/Qwen3-32B': (0.49, 1.47),
    'Qwen/Qwen3-4B-Instruct-2507': (0.07, 0.22),
    'Qwen/Qwen3-8B': (0.13, 0.4),
    'Qwen/Qwen3-8B-Base': (0.13, 0.4),
    'Qwen/Qwen3-VL-235B-A22B-Instruct': (1.02, 2.56),
    'Qwen/Qwen3-VL-30B-A3B-Instruct': (0.18, 0.44),
    'Qwen/Qwen3.5-27B': (1.24, 3.73),
    'Qwen/Qwen3.5-35B-A3B': (0.36, 0.89),
    'Qwen/Qwen3.5-397B-A17B': (2.0, 5.0),
    'Qwen/Qwen3.5-397B-A17B:peft:262144': (4.0, 10.0),
    'Qwen/Qwen3.5-4B': (0.22, 0.67),
    'Qwen/Qwen3.6-27B': (1.24, 3.73),
    'Qwen/Qwen3.6-35B-A3B': (0.36, 0.89),
    'deepseek-ai/DeepSeek-V3.1': (1.13, 2.81),
    'deepseek-ai/DeepSeek-V3.1-Base': (1.13, 2.81),
    'meta-llama/Llama-3.1-70B': (1.05, 3.16),
    'meta-llama/Llama-3.1-8B': (0.13, 0.4),
    'meta-llama/Llama-3.1-8B-Instruct': (0.13, 0.4),
    'meta-llama/Llama-3.2-1B': (0.03, 0.09),
    'meta-llama/Llama-3.2-3B': (0.06, 0.18),
    'meta-llama/Llama-3.3-70B-Instruct': (1.05, 3.16),
    'moonshotai/Kimi-K2-Thinking': (0.98, 2.44),
    'moonshotai/Kimi-K2.5': (1.47, 3.66),
    'moonshotai/Kimi-K2.5:peft:131072': (5.15, 12.81),
    'moonshotai/Kimi-K2.6': (1.47, 3.66),
    'moonshotai/Kimi-K2.6:peft:131072': (5.15, 12.81),
    'nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16': (0.13, 0.33),
    'nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16': (0.38, 0.96),
    'nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16:peft:262144': (0.76, 1.92),
    'openai/gpt-oss-120b': (0.18, 0.44),
    'openai/gpt-oss-120b:peft:131072': (0.63, 1.54),
    'openai/gpt-oss-20b': (0.12, 0.3),
}

# Data errors fixed here (catalog provider, name prefix) -> genai-prices model id, with the reason.
ALIAS_FIXES: dict[tuple[str, str], tuple[str, str]] = {
    ("google", "gemini-1.5-flash-8b"): (
        "gemini-flash-1.5-8b",
        "genai-prices' 'contains gemini-1.5-flash' clause catches Flash-8B at Flash's $0.075/$0.30;"
        " litellm 1.82.0 had $0; Google's published Flash-8B price is $0.0375/$0.15 (<=128k)",
    ),
}

# Names the previous embedded catalog (litellm 1.82.0) resolved, kept resolvable when a current
# source still prices them under that name (resolved like any other candidate name; the
# previous catalog's own prices are not used).
LEGACY_NAMES: dict[str, tuple[str, ...]] = {
    "anthropic": (
        "claude-3-5-haiku-20241022",
        "claude-3-5-haiku-latest",
        "claude-3-5-sonnet-20240620",
        "claude-3-5-sonnet-20241022",
        "claude-3-5-sonnet-latest",
        "claude-3-7-sonnet-20250219",
        "claude-3-7-sonnet-latest",
        "claude-3-haiku-20240307",
        "claude-3-opus-20240229",
        "claude-3-opus-latest",
        "claude-4-opus-20250514",
        "claude-4-sonnet-20250514",
        "claude-haiku-4-5",
        "claude-haiku-4-5-20251001",
        "claude-opus-4-1",
        "claude-opus-4-1-20250805",
        "claude-opus-4-20250514",
        "claude-opus-4-5",
        "claude-opus-4-5-20251101",
        "claude-opus-4-6",
        "claude-opus-4-6-20260205",
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-6",
    ),
    "google": (
        "gemini-1.5-flash",
        "gemini-1.5-flash-001",
        "gemini-1.5-flash-002",
        "gemini-1.5-flash-8b",
        "gemini-1.5-flash-8b-exp-0827",
        "gemini-1.5-flash-8b-exp-0924",
        "gemini-1.5-flash-exp-0827",
        "gemini-1.5-flash-latest",
        "gemini-1.5-pro",
        "gemini-1.5-pro-001",
        "gemini-1.5-pro-002",
        "gemini-1.5-pro-exp-0801",
        "gemini-1.5-pro-exp-0827",
        "gemini-1.5-pro-latest",
        "gemini-2.0-flash",
        "gemini-2.0-flash-001",
        "gemini-2.0-flash-exp",
        "gemini-2.0-flash-lite",
        "gemini-2.0-flash-lite-001",
        "gemini-2.0-flash-lite-preview-02-05",
        "gemini-2.0-flash-live-001",
        "gemini-2.0-flash-preview-image-generation",
        "gemini-2.0-flash-thinking-exp",
        "gemini-2.0-flash-thinking-exp-01-21",
        "gemini-2.0-pro-exp-02-05",
        "gemini-2.5-computer-use-preview-10-2025",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.5-flash-lite-preview-06-17",
        "gemini-2.5-flash-lite-preview-09-2025",
        "gemini-2.5-flash-native-audio-latest",
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "gemini-2.5-flash-native-audio-preview-12-2025",
        "gemini-2.5-flash-preview-04-17",
        "gemini-2.5-flash-preview-05-20",
        "gemini-2.5-flash-preview-09-2025",
        "gemini-2.5-pro",
        "gemini-2.5-pro-exp-03-25",
        "gemini-2.5-pro-preview-03-25",
        "gemini-2.5-pro-preview-05-06",
        "gemini-2.5-pro-preview-06-05",
        "gemini-2.5-pro-preview-tts",
        "gemini-3-flash-preview",
        "gemini-3-pro-preview",
        "gemini-3.1-pro-preview",
        "gemini-3.1-pro-preview-customtools",
        "gemini-exp-1114",
        "gemini-exp-1206",
        "gemini-flash-latest",
        "gemini-flash-lite-latest",
        "gemini-gemma-2-27b-it",
        "gemini-gemma-2-9b-it",
        "gemini-live-2.5-flash-preview-native-audio-09-2025",
        "gemini-pro",
        "gemini-pro-latest",
        "gemini-pro-vision",
        "gemini-robotics-er-1.5-preview",
        "gemma-3-27b-it",
        "learnlm-1.5-pro-experimental",
    ),
    "openai": (
        "chatgpt-4o-latest",
        "ft:gpt-3.5-turbo",
        "ft:gpt-3.5-turbo-0125",
        "ft:gpt-3.5-turbo-0613",
        "ft:gpt-3.5-turbo-1106",
        "ft:gpt-4-0613",
        "ft:gpt-4.1-2025-04-14",
        "ft:gpt-4.1-mini-2025-04-14",
        "ft:gpt-4.1-nano-2025-04-14",
        "ft:gpt-4o-2024-08-06",
        "ft:gpt-4o-2024-11-20",
        "ft:gpt-4o-mini-2024-07-18",
        "ft:o4-mini-2025-04-16",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "gpt-3.5-turbo-0301",
        "gpt-3.5-turbo-0613",
        "gpt-3.5-turbo-1106",
        "gpt-3.5-turbo-16k",
        "gpt-3.5-turbo-16k-0613",
        "gpt-4",
        "gpt-4-0125-preview",
        "gpt-4-0314",
        "gpt-4-0613",
        "gpt-4-1106-preview",
        "gpt-4-1106-vision-preview",
        "gpt-4-32k",
        "gpt-4-32k-0314",
        "gpt-4-32k-0613",
        "gpt-4-turbo",
        "gpt-4-turbo-2024-04-09",
        "gpt-4-turbo-preview",
        "gpt-4-vision-preview",
        "gpt-4.1",
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4.5-preview",
        "gpt-4.5-preview-2025-02-27",
        "gpt-4o",
        "gpt-4o-2024-05-13",
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-11-20",
        "gpt-4o-audio-preview",
        "gpt-4o-audio-preview-2024-10-01",
        "gpt-4o-audio-preview-2024-12-17",
        "gpt-4o-audio-preview-2025-06-03",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini-audio-preview",
        "gpt-4o-mini-audio-preview-2024-12-17",
        "gpt-4o-mini-realtime-preview",
        "gpt-4o-mini-realtime-preview-2024-12-17",
        "gpt-4o-mini-search-preview",
        "gpt-4o-mini-search-preview-2025-03-11",
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview-2024-10-01",
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4o-realtime-preview-2025-06-03",
        "gpt-4o-search-preview",
        "gpt-4o-search-preview-2025-03-11",
        "gpt-5",
        "gpt-5-2025-08-07",
        "gpt-5-chat",
        "gpt-5-chat-latest",
        "gpt-5-mini",
        "gpt-5-mini-2025-08-07",
        "gpt-5-nano",
        "gpt-5-nano-2025-08-07",
        "gpt-5-search-api",
        "gpt-5-search-api-2025-10-14",
        "gpt-5.1",
        "gpt-5.1-2025-11-13",
        "gpt-5.1-chat-latest",
        "gpt-5.2",
        "gpt-5.2-2025-12-11",
        "gpt-5.2-chat-latest",
        "gpt-audio",
        "gpt-audio-1.5",
        "gpt-audio-2025-08-28",
        "gpt-audio-mini",
        "gpt-audio-mini-2025-10-06",
        "gpt-audio-mini-2025-12-15",
        "gpt-realtime",
        "gpt-realtime-1.5",
        "gpt-realtime-2025-08-28",
        "gpt-realtime-mini",
        "gpt-realtime-mini-2025-10-06",
        "gpt-realtime-mini-2025-12-15",
        "o1",
        "o1-2024-12-17",
        "o1-mini",
        "o1-mini-2024-09-12",
        "o1-preview",
        "o1-preview-2024-09-12",
        "o3",
        "o3-2025-04-16",
        "o3-mini",
        "o3-mini-2025-01-31",
        "o4-mini",
        "o4-mini-2025-04-16",
    ),
}


def _fail(msg: str) -> None:
    sys.exit(f"gen_catalog: {msg}")


def _dec_str(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return s


def _num(d: Decimal) -> Any:
    """A JSON number token for a Decimal, written exactly (json.dumps would go through float)."""
    return _RawNumber(_dec_str(d))


class _RawNumber(str):
    pass


def _price_json(value: Any) -> Any:
    from genai_prices.types import TieredPrices

    if isinstance(value, TieredPrices):
        return {
            "base": _num(value.base),
            "tiers": [[t.start, _num(t.price)] for t in sorted(value.tiers, key=lambda t: t.start)],
        }
    return _num(value)


def _model_price_json(mp: Any, dropped: set[str]) -> dict[str, Any]:
    out = {}
    for key, value in mp.__dict__.items():
        if value is None or key.startswith("_"):
            continue
        if key in PRICE_KEYS:
            out[key] = _price_json(value)
        else:
            dropped.add(key)
    return {k: out[k] for k in PRICE_KEYS if k in out}


def _constraint_json(c: Any) -> dict[str, Any]:
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    if c is None:
        return {}
    if isinstance(c, StartDateConstraint):
        return {"from": c.start_date.isoformat()}
    if isinstance(c, TimeOfDateConstraint):

        def utc(t: dt.time) -> str:
            if t.tzinfo is not None:
                t = dt.datetime.combine(dt.date(1970, 1, 1), t).astimezone(dt.timezone.utc).time()
            return t.strftime("%H:%M")

        return {"utc": [utc(c.start_time), utc(c.end_time)]}
    _fail(f"unknown constraint {c!r}")
    raise AssertionError


def _genai_model_json(m: Any, dropped: set[str]) -> dict[str, Any]:
    from genai_prices.types import ModelPrice

    periods = []
    conditional = [m.prices] if isinstance(m.prices, ModelPrice) else list(m.prices)
    for c in conditional:
        if isinstance(c, ModelPrice):
            periods.append(_model_price_json(c, dropped))
        else:
            periods.append(
                {**_constraint_json(c.constraint), **_model_price_json(c.prices, dropped)}
            )
    variants = []
    for v in m.price_variants or ():
        if not set(v.when) <= set(VARIANT_KEYS):
            dropped.add("variant " + ",".join(f"{k}={x}" for k, x in sorted(v.when.items())))
            continue
        prices = _model_price_json(v.prices, dropped)
        if not prices:
            continue
        variants.append(
            {"when": dict(sorted(v.when.items())), **_constraint_json(v.constraint), **prices}
        )
    out: dict[str, Any] = {"prices": periods}
    if variants:
        out["variants"] = variants
    return out


def _token_priced(entry: dict[str, Any], free_ok: bool = False) -> bool:
    """Priced per input and output token, or (`free_ok`: genai-prices' empty price) free."""
    free = free_ok and "variants" not in entry and all(not _keys(p) for p in entry["prices"])
    return free or any("input_mtok" in p and "output_mtok" in p for p in entry["prices"])


def _keys(period: dict[str, Any]) -> list[str]:
    return [k for k in period if k in PRICE_KEYS]


def _per_million(x: Any) -> Decimal | None:
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    if x < 0 or x != x or x in (float("inf"),):
        return None
    return Decimal(repr(float(x))) * 1_000_000


def _litellm_entry(info: dict[str, Any]) -> dict[str, Any]:
    def prices_for(suffix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, key in LITELLM_FIELDS.items():
            base = _per_million(info.get(field + suffix))
            tiers = []
            for f, v in info.items():
                mt = re.fullmatch(re.escape(field) + r"_above_(\d+)k_tokens" + re.escape(suffix), f)
                if mt and (p := _per_million(v)) is not None:
                    tiers.append([int(mt.group(1)) * 1000, p])
            if base is None:
                continue
            if tiers:
                out[key] = {
                    "base": _num(base),
                    "tiers": [[s, _num(p)] for s, p in sorted(tiers)],
                }
            else:
                out[key] = _num(base)
        if not suffix:
            sc = info.get("search_context_cost_per_query")
            if isinstance(sc, dict) and (p := _per_million(sc.get("search_context_size_medium"))):
                out["web_searches_kcount"] = _num(p / 1000)
        return {k: out[k] for k in PRICE_KEYS if k in out}

    entry: dict[str, Any] = {"prices": [prices_for("")]}
    variants = []
    for suffix, when in LITELLM_VARIANTS.items():
        p = prices_for("_" + suffix)
        if p:
            variants.append({"when": when, **p})
    if variants:
        entry["variants"] = variants
    return entry


def _installed(dist: str, pinned: str, allow_other: bool) -> str:
    try:
        version = md.version(dist)
    except md.PackageNotFoundError:
        _fail(f"{dist}=={pinned} is not installed (pip install {dist}=={pinned})")
    if version != pinned and not allow_other:
        _fail(f"{dist} {version} is installed; the catalog is pinned to {pinned}")
    return version


def _litellm_json() -> tuple[dict[str, Any], str]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        _fail("litellm is not installed")
    path = (
        Path(list(spec.submodule_search_locations)[0])
        / "model_prices_and_context_window_backup.json"
    )
    raw = path.read_bytes()
    return json.loads(raw), hashlib.sha256(raw).hexdigest()


def _strip_prefix(key: str, litellm_provider: str) -> str:
    for prefix in (litellm_provider + "/", "gemini/", "openai/", "anthropic/"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _clause_literals(clause: Any) -> list[str]:
    """Candidate names from a match clause (each is resolved with genai-prices' own matcher)."""
    from genai_prices.types import (
        ClauseAnd,
        ClauseContains,
        ClauseEndsWith,
        ClauseEquals,
        ClauseOr,
        ClauseStartsWith,
    )

    if isinstance(clause, ClauseOr):
        return [x for c in clause.or_ for x in _clause_literals(c)]
    if isinstance(clause, ClauseAnd):
        return [x for c in clause.and_ for x in _clause_literals(c)]
    if isinstance(clause, (ClauseEquals,)):
        return [clause.equals.lower()]
    if isinstance(clause, ClauseStartsWith):
        return [clause.starts_with.lower().rstrip("-@:.")]
    if isinstance(clause, ClauseContains):
        return [clause.contains.lower().rstrip("-@:.")]
    if isinstance(clause, ClauseEndsWith):
        return [clause.ends_with.lower().lstrip("-@:./")]
    return []


def _current(entry: dict[str, Any]) -> dict[str, Any]:
    """The standard prices as of COMPARE_AS_OF (time-of-day entries ignored)."""
    chosen = entry["prices"][0]
    for period in reversed(entry["prices"]):
        if "utc" in period:
            continue
        if "from" not in period or dt.date.fromisoformat(period["from"]) <= COMPARE_AS_OF:
            chosen = period
            break
    return chosen


def _base(v: Any) -> Decimal:
    return Decimal(v["base"] if isinstance(v, dict) else v)


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for key in (
        "input_mtok",
        "output_mtok",
        "cache_read_mtok",
        "cache_write_mtok",
        "cache_write_1h_mtok",
    ):
        if key not in a or key not in b:
            continue
        x, y = _base(a[key]), _base(b[key])
        if x == y:
            continue
        if max(x, y) == 0 or abs(x - y) / max(x, y) > TOLERANCE:
            out.append(f"{key} {_dec_str(x)} vs {_dec_str(y)}")
        tx = isinstance(a[key], dict)
        ty = isinstance(b[key], dict)
        if tx != ty and key == "input_mtok":
            out.append(f"{key} tiered: {tx} vs {ty}")
    return out


# Keys genai-prices 0.2.5 never prices for some models though the provider bills them.
FILL_KEYS = (
    "cache_read_mtok",
    "cache_write_12h_mtok",
    "input_audio_mtok",
    "cache_audio_read_mtok",
    "output_audio_mtok",
    "input_image_mtok",
    "output_image_mtok",
)


def _fill_modalities(
    cat: str,
    mid: str,
    entry: dict[str, Any],
    names: set[str],
    litellm_names: dict[str, dict[str, Any]],
    log: list[str],
) -> None:
    """Modality and 12h cache-write prices genai-prices lacks, from litellm's entry for the model.

    Without them audio or image tokens would be priced as text (gpt-4o-audio-preview: $2.50
    instead of $40 per million audio input tokens) and OpenAI 12-hour cache writes as 30-minute
    ones.
    """
    keys = [mid.lower()] + sorted(names)
    info = next((litellm_names[k] for k in keys if k in litellm_names), None)
    if info is None:
        return
    lp = _current(_litellm_entry(info))
    if _differences(_current(entry), lp):
        return  # text prices disagree: not the same price list, take nothing from it
    missing = [k for k in FILL_KEYS if k in lp and all(k not in p for p in entry["prices"])]
    if not missing:
        return
    for period in entry["prices"]:
        period.update({k: lp[k] for k in missing})
        ordered = {k: period[k] for k in ("from", "utc") if k in period}
        ordered.update({k: period[k] for k in PRICE_KEYS if k in period})
        period.clear()
        period.update(ordered)
    got = ", ".join(f"{k} {lp[k]}" for k in missing)
    log.append(f"fill {cat}/{mid}: genai-prices lacks {got}; taken from litellm")


def other_providers(genai_providers: Any) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    """Every genai-prices provider not in PROVIDERS, under its own id, OpenAI-shaped."""
    known = {gid for gid, *_ in PROVIDERS.values()}
    out = {}
    for p in genai_providers:
        if p.id in known:
            continue
        aliases = {p.id, p.id.replace("-", "_"), p.id.replace("_", "-")}
        out[p.id] = (p.id, (), tuple(sorted(aliases | set(OTHER_ALIASES.get(p.id, ())))), "openai")
    return out


def build(allow_other_versions: bool = False) -> tuple[dict[str, Any], list[str]]:
    genai_version = _installed("genai-prices", GENAI_PRICES_VERSION, allow_other_versions)
    litellm_version = _installed("litellm", LITELLM_VERSION, allow_other_versions)
    from genai_prices.data import providers as genai_providers

    litellm, litellm_sha = _litellm_json()
    log: list[str] = []
    by_id = {p.id: p for p in genai_providers}
    dropped: set[str] = set()
    catalog_providers: dict[str, Any] = {}
    models_out: dict[str, list[dict[str, Any]]] = {}
    for cat, (gid, lprovs, aliases, usage) in {
        **PROVIDERS,
        **other_providers(genai_providers),
    }.items():
        gp = by_id[gid]
        genai_models: dict[str, dict[str, Any]] = {}
        for m in gp.models:
            entry = _genai_model_json(m, dropped)
            if _token_priced(entry, free_ok=True):
                genai_models[m.id] = entry
        names: dict[str, set[str]] = {mid: set() for mid in genai_models}
        litellm_names: dict[str, dict[str, Any]] = {}
        for key, info in litellm.items():
            if not isinstance(info, dict) or info.get("litellm_provider") not in lprovs:
                continue
            if info.get("mode") not in LITELLM_MODES:
                continue
            name = _strip_prefix(key, info["litellm_provider"]).lower()
            if "/" in name and cat not in ("openrouter", "fireworks", "together"):
                continue
            # litellm keeps a prefixed and a bare key for some models: the prefixed one wins.
            if name in litellm_names and not key.startswith(info["litellm_provider"] + "/"):
                continue
            litellm_names[name] = info
        candidates = set(litellm_names)
        for m in gp.models:
            if m.id in genai_models:
                candidates.add(m.id.lower())
                candidates.update(_clause_literals(m.match))
        candidates.update(pre for p, pre in ALIAS_FIXES if p == cat)
        candidates.update(LEGACY_NAMES.get(cat, ()))
        ids_lower = {mid.lower(): mid for mid in genai_models}
        litellm_only: dict[str, dict[str, Any]] = {}
        for name in sorted(candidates):
            if not name:
                continue
            fixed = next(
                (v for (p, pre), v in ALIAS_FIXES.items() if p == cat and name.startswith(pre)),
                None,
            )
            if fixed is not None:
                target: str | None = fixed[0]
                log.append(f"fix {cat}/{name} -> {target}: {fixed[1]}")
            elif name in ids_lower:
                target = ids_lower[name]  # a model's own id names it, whatever its clauses say
            else:
                m = gp.find_model(name)
                target = m.id if m is not None and m.id in genai_models else None
            if target is not None:
                names[target].add(name)
                if name in litellm_names:
                    diff = _differences(
                        _current(genai_models[target]),
                        _current(_litellm_entry(litellm_names[name])),
                    )
                    if diff:
                        log.append(
                            f"disagree {cat}/{name} (genai-prices {target} vs litellm): "
                            + "; ".join(diff)
                            + " -> kept genai-prices (primary)"
                        )
            elif name in litellm_names:
                entry = _litellm_entry(litellm_names[name])
                if _token_priced(entry):
                    litellm_only[name] = entry
                else:
                    log.append(f"skip {cat}/{name}: litellm has no input and output token price")
            elif name in LEGACY_NAMES.get(cat, ()):
                log.append(
                    f"drop {cat}/{name}: in the previous catalog, priced by no current source"
                )
        for mid, entry in genai_models.items():
            _fill_modalities(cat, mid, entry, names[mid], litellm_names, log)
        out = []
        for mid, entry in genai_models.items():
            alias = sorted(n for n in names[mid] if n != mid.lower())
            out.append(
                {"id": mid, **({"names": alias} if alias else {}), "src": "genai-prices", **entry}
            )
        for name, entry in litellm_only.items():
            out.append({"id": name, "src": "litellm", **entry})
        out.sort(key=lambda e: e["id"])
        if not out:
            log.append(f"skip provider {cat}: no per-token prices (embeddings, per-hour...)")
            continue
        models_out[cat] = out
        catalog_providers[cat] = {
            "aliases": sorted(set(aliases) | {cat}),
            "pricing_urls": list(gp.pricing_urls or []),
            "litellm": sorted(lprovs),
            "usage": usage,
        }
        log.append(
            f"provider {cat}: {len(out)} models "
            f"({len(genai_models)} genai-prices, {len(litellm_only)} litellm-only)"
        )
    for d in sorted(dropped):
        log.append(f"not carried (no usage field maps to it): {d}")
    catalog_providers["tinker"] = {
        "aliases": ["tinker"],
        "pricing_urls": ["https://thinkingmachines.ai/tinker/"],
        "litellm": [],
        "usage": "openai",
    }
    models_out["tinker"] = [
        {
            "id": name,
            "src": "art_tinker",
            "prices": [{"input_mtok": _num(Decimal(repr(p))), "output_mtok": _num(Decimal(repr(c)))}],
        }
        for name, (p, c) in sorted(ART_TINKER.items())
    ]
    log.append(f"provider tinker: {len(ART_TINKER)} models ({ART_TINKER_VERSION} art.costs.MODEL_PRICING)")
    catalog = {
        "format": 2,
        "units": "USD per million tokens (*_mtok); USD per 1,000 (*_kcount)",
        "sources": {
            "genai-prices": {
                "version": genai_version,
                "license": "MIT",
                "url": "https://github.com/pydantic/genai-prices",
                "data": "genai_prices/data.py (PyPI wheel)",
            },
            "litellm": {
                "version": litellm_version,
                "license": "MIT",
                "url": "https://github.com/BerriAI/litellm",
                "data": "litellm/model_prices_and_context_window_backup.json",
                "sha256": litellm_sha,
            },
            "art_tinker": {
                "version": ART_TINKER_VERSION,
                "license": "Apache-2.0",
                "url": "https://github.com/OpenPipe/ART",
                "data": "art/costs.py MODEL_PRICING (restated in scripts/gen_catalog.py)",
            },
        },
        "generator": "scripts/gen_catalog.py",
        "providers": dict(sorted(catalog_providers.items())),
        "models": dict(sorted(models_out.items())),
    }
    return catalog, log


def dumps(catalog: dict[str, Any]) -> str:
    """Deterministic JSON: one model per line, decimals written exactly."""

    def enc(v: Any) -> str:
        if isinstance(v, _RawNumber):
            return str(v)
        if isinstance(v, dict):
            return "{" + ",".join(json.dumps(k) + ":" + enc(x) for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    lines = ["{"]
    top = [k for k in catalog if k != "models"]
    for k in top:
        lines.append(f" {json.dumps(k)}:{enc(catalog[k])},")
    lines.append(' "models":{')
    provs = list(catalog["models"].items())
    for i, (prov, models) in enumerate(provs):
        lines.append(f"  {json.dumps(prov)}:[")
        for j, m in enumerate(models):
            lines.append("   " + enc(m) + ("," if j < len(models) - 1 else ""))
        lines.append("  ]" + ("," if i < len(provs) - 1 else ""))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing")
    ap.add_argument("--allow-other-versions", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    catalog, log = build(args.allow_other_versions)
    text = dumps(catalog)
    json.loads(text)  # the writer's output must parse
    if not args.quiet:
        print("\n".join(log))
    if args.check:
        if not args.out.exists() or args.out.read_text() != text:
            _fail(f"{args.out} differs from a fresh generation")
        print(f"{args.out} is up to date")
        return
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text.encode())} bytes)")


if __name__ == "__main__":
    main()
