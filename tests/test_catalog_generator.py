"""The embedded catalog is reproducible: scripts/gen_catalog.py, run with the pinned sources
(genai-prices 0.2.5, litellm 1.110.2), writes crates/art-metrics-core/src/pricing/catalog.json byte for byte.

`make test` builds the sources' venv (.venv-prices) and passes its interpreter in
ART_METRICS_PRICES_PYTHON; without it this test fails and says so (it is never skipped).
"""

import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def prices_python() -> str:
    given = os.environ.get("ART_METRICS_PRICES_PYTHON")
    default = ROOT / ".venv-prices" / "bin" / "python"
    python = given or (str(default) if default.exists() else None)
    assert python, (
        "no interpreter with genai-prices==0.2.3 and litellm==1.110.2: run `make test` "
        "(it builds .venv-prices) or set ART_METRICS_PRICES_PYTHON"
    )
    return python


def test_the_catalog_regenerates_byte_for_byte():
    proc = subprocess.run(
        [prices_python(), "scripts/gen_catalog.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "is up to date" in proc.stdout
    # The generator reports how it decided: disagreements between the sources, fixes.
    assert "disagree " in proc.stdout and "fix google/gemini-1.5-flash-8b" in proc.stdout


# Every OpenAI, Anthropic and Gemini text model either source prices: ids of genai-prices'
# token-priced models, and litellm's chat/responses/completion entries with a token price.
LIST_SOURCE_NAMES = r"""
import json, importlib.util, pathlib
from genai_prices.data import providers
names = []
for p in providers:
    if p.id not in ("openai", "anthropic", "google"):
        continue
    for m in p.models:
        prices = m.prices if isinstance(m.prices, list) else [m.prices]
        prices = [getattr(c, "prices", c) for c in prices]
        if any(getattr(x, "input_mtok", None) is not None and getattr(x, "output_mtok", None)
               is not None for x in prices) and not (p.id == "google" and m.id.startswith("claude")):
            names.append(["genai-prices", p.id, m.id])
spec = importlib.util.find_spec("litellm")
path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model_prices_and_context_window_backup.json"
for key, e in json.loads(path.read_text()).items():
    if not isinstance(e, dict) or e.get("mode") not in ("chat", "responses", "completion"):
        continue
    provider = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}.get(e.get("litellm_provider"))
    if provider and e.get("input_cost_per_token") is not None and e.get("output_cost_per_token") is not None:
        names.append(["litellm", provider, key])
print(json.dumps(names))
"""


def test_every_first_party_text_model_of_both_sources_resolves():
    import json

    from art_metrics import pricing

    proc = subprocess.run(
        [prices_python(), "-c", LIST_SOURCE_NAMES], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = json.loads(proc.stdout)
    assert len(names) > 300
    missing = []
    for source, provider, name in names:
        try:
            pricing.lookup(provider, name)
        except ValueError:
            missing.append((source, provider, name))
    assert missing == []
