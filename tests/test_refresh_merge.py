"""Issue #22 part 3: a refresh from genai-prices' data never makes prices worse.

The data is the installed genai-prices package's (a test dependency, pinned), read by
``refresh_catalog(from_package=True)`` as ``art-metrics refresh --from-package`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
from art_metrics import MetricsBuilder, pricing

genai_prices = pytest.importorskip("genai_prices")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ART_METRICS_CACHE_DIR", str(tmp_path))
    pricing.reload_catalog()
    yield tmp_path
    monkeypatch.undo()
    pricing.reload_catalog()
    assert pricing.catalog_info()["origin"] == "builtin"


def billed_terms() -> dict[str, int]:
    """Per name (``provider/name``): the terms priced today plus those of its variants."""
    out = {}
    for model in pricing.catalog_entries():
        n = len(model.prices) + sum(len(v) - 1 for v in model.variants)  # less "when"
        for name in model.names:
            out[f"{model.provider}/{name}"] = n
    return out


def refresh_from_package() -> dict:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        info = pricing.refresh_catalog(from_package=True)
    refresh_warnings = [w for w in warned if issubclass(w.category, pricing.CatalogRefreshWarning)]
    assert len(refresh_warnings) <= 1, [str(w.message) for w in refresh_warnings]
    return info


def cost(model: str, usage: dict) -> float:
    return MetricsBuilder("t").add_response_cost(
        "j", {"usage": usage}, provider="openai", model_name=model
    )


AUDIO = {
    "prompt_tokens": 100_000,
    "completion_tokens": 10_000,
    "prompt_tokens_details": {"audio_tokens": 100_000},
    "completion_tokens_details": {"audio_tokens": 10_000},
}
CACHED = {
    "prompt_tokens": 1000,
    "completion_tokens": 0,
    "prompt_tokens_details": {"cached_tokens": 1000},
}


def test_no_model_loses_a_billed_term(cache_dir):
    before = billed_terms()
    info = refresh_from_package()
    after = billed_terms()
    assert info["format"] == "genai-prices"
    assert info["url"].startswith(f"genai-prices {genai_prices.__version__} (installed package")
    fewer = {name: (n, after.get(name)) for name, n in before.items() if after.get(name, 0) < n}
    assert fewer == {}
    # The merge says what it kept: terms the list does not price.
    assert info["changes"]["kept"], info["changes"]


def test_audio_and_cached_input_prices_survive(cache_dir):
    audio, cached = cost("gpt-4o-audio-preview", AUDIO), cost("gpt-4o", CACHED)
    assert audio == pytest.approx(100_000 * 40 / 1e6 + 10_000 * 80 / 1e6)  # $4.80
    assert cached == pytest.approx(1000 * 1.25 / 1e6)
    info = refresh_from_package()
    assert cost("gpt-4o-audio-preview", AUDIO) == pytest.approx(audio)  # not $0.35
    assert cost("gpt-4o", CACHED) == pytest.approx(cached)
    kept = info["changes"]["kept"]["openai/gpt-4o-audio-preview"]
    assert {"input_audio_mtok", "output_audio_mtok"} <= set(kept)


def test_aliases_follow_their_model(cache_dir, tmp_path):
    """Refreshing gpt-4o re-prices its dated snapshot too: one model, one price."""
    import json

    snapshot = pricing.lookup("openai", "gpt-4o-2024-08-06")
    assert snapshot.key == pricing.lookup("openai", "gpt-4o").key
    path = tmp_path / "gpt-4o.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "openai",
                    "models": [{"id": "gpt-4o", "prices": {"input_mtok": 2, "output_mtok": 8}}],
                }
            ]
        )
    )
    before = pricing.catalog_info()["models"]
    info = pricing.refresh_catalog(str(path))
    for name in ("gpt-4o", "gpt-4o-2024-08-06", "openai/gpt-4o-2024-08-06"):
        prices = pricing.lookup("openai", name)
        assert (prices.prompt_per_million, prices.completion_per_million) == (2.0, 8.0), name
        assert prices.cached_prompt_per_million == snapshot.cached_prompt_per_million, name
    assert info["models"] == before  # no model split off its snapshots
    assert info["changes"]["added"] == [] and info["changes"]["removed"] == []
    assert info["changes"]["changed"]["openai/gpt-4o"]["input_mtok"] == (2.5, 2.0)


def test_the_cli_reads_the_installed_package_with_one_line_for_skipped_entries(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "art_metrics", "refresh", "--from-package"],
        env=dict(os.environ, ART_METRICS_CACHE_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no raw warnings
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(
        f"Refreshed the price catalog from genai-prices {genai_prices.__version__}"
    )
    skipped = [line for line in lines if "price list entr" in line]
    assert len(skipped) == 1 and " skipped " in skipped[0], lines
    assert (tmp_path / "price-list.json").exists()


def test_from_package_takes_no_source_and_names_a_missing_package(cache_dir, monkeypatch):
    with pytest.raises(ValueError, match="from_package=True reads the installed"):
        pricing.refresh_catalog("https://example.org/p.json", from_package=True)
    monkeypatch.setitem(sys.modules, "genai_prices", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match="pip install -U genai-prices"):
        pricing.refresh_catalog(from_package=True)
    assert pricing.catalog_info()["origin"] == "builtin"
