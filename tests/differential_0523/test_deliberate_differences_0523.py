"""Where art_metrics in the 0.5.23 dialect deliberately differs from openpipe-art 0.5.23.

Pricing is the same code in openpipe-art 0.5.18 and 0.5.23 (``api_costs.py`` and ``costs.py``
are byte-identical), so these are the same differences as with 0.5.18 (README, "Differences
from openpipe-art (pricing)"); each case shows the reference's error and our price, directly
and through ``track_api_cost``. A difference not listed here is a bug in one of the dialects.
"""

import asyncio

import api
import art_metrics
import pytest
from art.metrics import MetricsBuilder as RefBuilder
from art.metrics import track_api_cost as ref_track_api_cost

# name -> (why we differ, response, pricing arguments, what we charge)
DELIBERATE = {
    "anthropic-shaped usage under provider openai": (
        "input_tokens/output_tokens under provider='openai' is OpenAI Responses API usage; "
        "the reference only reads Chat Completions usage and raises 'usage does not match'",
        {"usage": {"input_tokens": 1000, "output_tokens": 100}},
        {"provider": "openai", "model_name": "openai/gpt-4.1"},
        1000 * 2.0 / 1e6 + 100 * 8.0 / 1e6,  # gpt-4.1: $2 / $8 per million
    ),
    "explicit prices for an unknown model": (
        "both per-call prices given: the caller said what the call costs, so a model missing "
        "from the catalog is no reason to fail; the reference raises 'No pricing configured'",
        {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}},
        {
            "provider": "openai",
            "model_name": "no-such-model",
            "prompt_price_per_million": 1.0,
            "completion_price_per_million": 2.0,
        },
        1000 * 1.0 / 1e6 + 100 * 2.0 / 1e6,
    ),
}
REFERENCE_ERRORS = {
    "anthropic-shaped usage under provider openai": "does not match provider",
    "explicit prices for an unknown model": "No pricing configured",
}


@pytest.mark.parametrize("name", list(DELIBERATE))
def test_the_reference_raises(name):
    _, response, pricing, _ = DELIBERATE[name]
    with pytest.raises(ValueError, match=REFERENCE_ERRORS[name]):
        RefBuilder("train").add_response_cost("judge", response, **pricing)
    builder = RefBuilder("train")
    priced = ref_track_api_cost(source="judge", **pricing)(lambda: response)
    with builder.activate_context(), pytest.raises(ValueError, match=REFERENCE_ERRORS[name]):
        priced()


@pytest.mark.parametrize("name", list(DELIBERATE))
def test_we_price_it(name):
    reason, response, pricing, usd = DELIBERATE[name]
    assert reason
    builder = api.builder("train")
    assert builder.add_response_cost("judge", response, **pricing) == pytest.approx(usd)
    priced = art_metrics.track_api_cost(source="judge", **pricing)(lambda: response)
    with builder.activate_context():
        assert priced() is response
    flushed = asyncio.run(builder.flush())
    assert flushed["costs/train/judge"] == pytest.approx(2 * usd)
