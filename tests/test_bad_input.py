"""The catalogue of bad input: one test per case, across the builder, pricing, the catalog and
saved state.

Every case starts from a builder with history (a flushed step, so totals and scenario ids
exist) and a pending step, makes one bad call, and checks three things: the exception type,
that its message names what was wrong, and that nothing changed (``state_dict()``, the
catalog, and the next flush, compared with an identical builder that never saw the call).

``bench/bad_input.py`` runs the same cases against openpipe-art 0.5.18 for the README.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import math
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import pytest

NAN, INF = float("nan"), float("inf")
# 1000 prompt + 100 completion tokens: priced by both libraries' catalogs.
GOOD_USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Any, Any], Any]  # (library namespace, prepared builder) -> the bad call
    exc: type[BaseException]
    names: str  # what the message must contain: the key, field, argument or file
    ours_only: bool = False  # an art-metrics API the reference has no equivalent of


def prepared(lib) -> Any:
    """A train builder with one flushed step and a pending one."""
    b = lib.MetricsBuilder("train")
    b.add_cost("train/judge", 1.0)
    b.add_data(step_actor_tokens=100, scenario_ids=["s1", "s2"])
    b.add_metric("time/step_actor_s", 2.0)
    asyncio.run(b.flush())
    b.add_cost("train/judge", 0.5)
    b.add_metric("time/step_wall_s", 3.0)
    b.add_metric("loss/train", 0.25)
    b.add_metric("train/big", 1e308)
    return b


def flush(b) -> dict[str, float]:
    return asyncio.run(b.flush())


def price(response, *, provider="openai", model_name="gpt-4o"):
    """A bad response priced through ``add_response_cost``."""
    return lambda lib, b: b.add_response_cost(
        "llm_judge", response, provider=provider, model_name=model_name
    )


def usage(**fields):
    return price({"usage": {**GOOD_USAGE, **fields}})


def track(**kw):
    """Applying ``track_api_cost`` with bad arguments."""
    args = {"source": "llm_judge", "provider": "openai", "model_name": "gpt-4o", **kw}
    return lambda lib, b: lib.track_api_cost(**args)(lambda: None)


def tracked_call(response):
    """A decorated judge, called in the builder's context, returning a bad response."""

    def call(lib, b):
        judge = lib.track_api_cost(source="llm_judge", provider="openai", model_name="gpt-4o")(
            lambda: response
        )
        with b.activate_context():
            judge()

    return call


def extractor_returning(value):
    def call(lib, b):
        b.register_cost_extractor("openai", lambda response: value)
        b.add_response_cost("llm_judge", {"usage": GOOD_USAGE}, provider="openai", model_name="x")

    return call


# --- the price catalog (art-metrics only: the reference prices through litellm's map) ---

# One price map per route of the local server below, each wrong in one way.
OPENAI_ENTRY = {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6}
ANTHROPIC_ENTRY = {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 1e-6}
DOWNLOADS = {
    "/not-json": b"<html>rate limited</html>",
    "/a-list": b"[1, 2, 3]",
    "/no-anthropic": json.dumps({"gpt-x": OPENAI_ENTRY}).encode(),
    "/overflowing-price": json.dumps(
        {"gpt-x": {**OPENAI_ENTRY, "input_cost_per_token": 1e305}, "claude-x": ANTHROPIC_ENTRY}
    ).encode(),
    "/negative-price": json.dumps(
        {"gpt-x": {**OPENAI_ENTRY, "output_cost_per_token": -1e-6}, "claude-x": ANTHROPIC_ENTRY}
    ).encode(),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = DOWNLOADS.get(self.path, b"missing")
        self.send_response(200 if self.path in DOWNLOADS else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


SERVER = SimpleNamespace(url=None)


def refresh_from(route):
    def call(lib, b):
        lib.pricing.refresh_catalog(SERVER.url + route, timeout=5.0, allow_insecure=True)

    return call


def cached_file(content: bytes):
    """A cache directory whose price map file holds ``content``, then a reload."""

    def call(lib, b):
        directory = tempfile.mkdtemp(prefix="art-metrics-bad-cache-")
        with open(os.path.join(directory, "price-list.json"), "wb") as f:
            f.write(content)
        previous = os.environ["ART_METRICS_CACHE_DIR"]
        os.environ["ART_METRICS_CACHE_DIR"] = directory
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", lib.pricing.CatalogCacheWarning)
                lib.pricing.reload_catalog()
        finally:
            os.environ["ART_METRICS_CACHE_DIR"] = previous

    return call


def our_cache(prices) -> bytes:
    return json.dumps(
        {"format": "art-metrics-price-cache/1", "url": "x", "fetched_at": "x", "prices": prices}
    ).encode()


def load(state):
    return lambda lib, b: b.load_state_dict(state)


# One case a line, as a table: easier to scan than formatter-wrapped calls.
# fmt: off
CASES = [
    # Values: NaN, infinities, strings, None, huge numbers.
    Case("add_metric-nan", lambda lib, b: b.add_metric("time/step_x", NAN), ValueError, "time/step_x"),
    Case("add_metric-inf", lambda lib, b: b.add_metric("time/step_x", INF), ValueError, "time/step_x"),
    Case("add_metric-minus-inf", lambda lib, b: b.add_metric("time/step_x", -INF), ValueError, "time/step_x"),
    Case("add_metric-str", lambda lib, b: b.add_metric("time/step_x", "1.5"), TypeError, "time/step_x"),
    Case("add_metric-none", lambda lib, b: b.add_metric("time/step_x", None), TypeError, "time/step_x"),
    Case("add_metric-list", lambda lib, b: b.add_metric("time/step_x", [1]), TypeError, "time/step_x"),
    Case("add_metric-int-too-large-for-float", lambda lib, b: b.add_metric("time/step_x", 10**400), ValueError, "time/step_x"),
    Case("add_metric-sum-overflows", lambda lib, b: b.add_metric("train/big", 1e308), ValueError, "train/big"),
    Case("add_cost-nan", lambda lib, b: b.add_cost("train/judge", NAN), ValueError, "costs/train/judge"),
    Case("add_cost-inf", lambda lib, b: b.add_cost("train/judge", INF), ValueError, "costs/train/judge"),
    Case("add_cost-str", lambda lib, b: b.add_cost("train/judge", "0.1"), TypeError, "costs/train/judge"),
    Case("add_cost-none", lambda lib, b: b.add_cost("train/judge", None), TypeError, "costs/train/judge"),
    # Keys: no section, empty or blank segments, not a str.
    Case("key-without-section", lambda lib, b: b.add_metric("reward", 1.0), ValueError, "'reward'"),
    Case("key-empty", lambda lib, b: b.add_metric("", 1.0), ValueError, "Metric key ''"),
    Case("key-blank", lambda lib, b: b.add_metric("   ", 1.0), ValueError, "'   '"),
    Case("key-empty-segment", lambda lib, b: b.add_metric("loss//x", 1.0), ValueError, "'loss//x'"),
    Case("key-trailing-slash", lambda lib, b: b.add_metric("loss/", 1.0), ValueError, "'loss/'"),
    Case("key-blank-segment", lambda lib, b: b.add_cost("train/  /judge", 1.0), ValueError, "'costs/train/  /judge'"),
    Case("key-int", lambda lib, b: b.add_metric(5, 1.0), TypeError, "Metric key must be a str"),
    Case("key-none", lambda lib, b: b.add_metric(None, 1.0), TypeError, "Metric key must be a str"),
    # The reserved cumulative namespace.
    Case("reserved-costs-cum", lambda lib, b: b.add_metric("costs/cum/all", 1.0), ValueError, "'costs/cum/all'"),
    Case("reserved-time-cum", lambda lib, b: b.add_metric("time/cum/actor_s", 1.0), ValueError, "'time/cum/actor_s'"),
    Case("reserved-cum-through-add_cost", lambda lib, b: b.add_cost("cum/x", 1.0), ValueError, "'costs/cum/x'"),
    # A key cannot be a leaf and an ancestor of another leaf in one step.
    Case("conflict-leaf-below-a-leaf", lambda lib, b: b.add_cost("train/judge/x", 1.0), ValueError, "'costs/train/judge'"),
    Case("conflict-ancestor-of-a-leaf", lambda lib, b: b.add_cost("train", 1.0), ValueError, "'costs/train/judge'"),
    Case("conflict-outside-costs", lambda lib, b: b.add_metric("loss/train/x", 1.0), ValueError, "'loss/train'"),
    # The convenience recorders: all or nothing.
    Case("add_user_timing-nan-after-a-good-field", lambda lib, b: b.add_user_timing(step_eval_s=1.0, step_actor_s=NAN), ValueError, "time/step_actor_s"),
    Case("add_user_timing-str", lambda lib, b: b.add_user_timing(step_wall_s="1"), TypeError, "time/step_wall_s"),
    Case("add_data-nan", lambda lib, b: b.add_data(step_num_scenarios=NAN), ValueError, "data/step_num_scenarios"),
    Case("add_data-ids-a-str", lambda lib, b: b.add_data(scenario_ids="abc"), TypeError, "scenario_ids"),
    Case("add_data-ids-an-int", lambda lib, b: b.add_data(step_actor_tokens=5, scenario_ids=5), TypeError, "scenario_ids"),
    Case("add_idle_times-inf", lambda lib, b: b.add_idle_times(step_trainer_idle_s=INF), ValueError, "throughput/step_trainer_idle_s"),
    # Text that is not valid Unicode (a lone surrogate): named, not a bare UnicodeEncodeError.
    Case("add_metric-surrogate-key", lambda lib, b: b.add_metric("time/\ud800", 1.0), ValueError, "time/\\ud800"),
    Case("add_cost-surrogate-path", lambda lib, b: b.add_cost("train/\udfff", 1.0), ValueError, "train/\\udfff"),
    Case("add_data-surrogate-scenario-id", lambda lib, b: b.add_data(step_num_scenarios=1, scenario_ids=["ok", "s\udc80"]), ValueError, "scenario id 's\\udc80'"),
    # Empty or blank names: cost context, cost path, source, provider, model.
    Case("cost_context-empty", lambda lib, b: lib.MetricsBuilder(""), ValueError, "cost_context"),
    Case("cost_context-blank", lambda lib, b: lib.MetricsBuilder("  "), ValueError, "cost_context"),
    Case("cost_context-not-a-str", lambda lib, b: lib.MetricsBuilder(3), TypeError, "cost_context"),
    Case("for_cost_context-blank", lambda lib, b: b.for_cost_context("  "), ValueError, "cost_context"),
    Case("for_cost_context-blank-buffer-scope", lambda lib, b: b.for_cost_context("eval", buffer_scope=" "), ValueError, "buffer_scope"),
    Case("add_cost-empty-path", lambda lib, b: b.add_cost("", 1.0), ValueError, "Cost path"),
    Case("track_api_cost-source-only-slashes", track(source="//"), ValueError, "source"),
    Case("track_api_cost-blank-provider", track(provider="  "), ValueError, "provider"),
    # Issue #22: a misspelled provider is refused where it is given, naming the nearest.
    Case("track_api_cost-misspelled-provider", track(provider="opnai"), ValueError, "Unknown provider 'opnai'. Nearest provider names: 'openai'", ours_only=True),
    Case("track_api_cost-empty-model", track(model_name=""), ValueError, "model_name"),
    Case("track_api_cost-price-a-str", track(prompt_price_per_million="2.5"), ValueError, "prompt_price_per_million"),
    Case("track_api_cost-price-nan", track(completion_price_per_million=NAN), ValueError, "completion_price_per_million"),
    Case("track_api_cost-getter-not-callable", track(response_getter="usage"), TypeError, "response_getter"),
    Case("add_response_cost-empty-source", lambda lib, b: b.add_response_cost("", {"usage": GOOD_USAGE}, provider="openai", model_name="gpt-4o"), ValueError, "source"),
    Case("add_response_cost-blank-model", price({"usage": GOOD_USAGE}, model_name="   "), ValueError, "model_name"),
    Case("add_response_cost-negative-price", lambda lib, b: b.add_response_cost("j", {"usage": GOOD_USAGE}, provider="openai", model_name="gpt-4o", cache_read_price_per_million=-1.0), ValueError, "cache_read_price_per_million"),
    Case("register_model_pricing-blank-name", lambda lib, b: b.register_model_pricing("  ", prompt_per_million=1.0, completion_per_million=1.0), ValueError, "model_name"),
    Case("register_model_pricing-negative", lambda lib, b: b.register_model_pricing("m", prompt_per_million=-1.0, completion_per_million=1.0), ValueError, "prompt_per_million"),
    Case("register_cost_extractor-blank-provider", lambda lib, b: b.register_cost_extractor(" ", lambda r: 0.0), ValueError, "provider"),
    Case("register_cost_extractor-not-callable", lambda lib, b: b.register_cost_extractor("openai", 0.1), TypeError, "callable"),
    # Malformed responses.
    Case("response-without-usage", price({"id": "x"}), ValueError, "does not match provider 'openai'"),
    Case("response-usage-none", price({"usage": None}), ValueError, "does not match provider 'openai'"),
    Case("response-a-str", price("an error page"), ValueError, "not an API response (got str)"),
    Case("response-usage-a-list", price({"usage": [1000, 100]}), ValueError, "does not match provider 'openai'"),
    Case("response-negative-tokens", usage(prompt_tokens=-5), ValueError, "usage.prompt_tokens"),
    Case("response-tokens-a-str", usage(completion_tokens="100"), ValueError, "usage.completion_tokens"),
    Case("response-tokens-a-bool", usage(prompt_tokens=True), ValueError, "usage.prompt_tokens"),
    Case("response-tokens-nan", usage(prompt_tokens=NAN), ValueError, "usage.prompt_tokens"),
    Case("response-tokens-a-list", usage(prompt_tokens_details={"cached_tokens": [1]}), ValueError, "usage.prompt_tokens_details.cached_tokens"),
    Case("response-tokens-too-many-to-price", usage(prompt_tokens=1e308, completion_tokens=1e308), ValueError, "'gpt-4o'"),
    Case("response-openai-usage-as-anthropic", price({"usage": GOOD_USAGE}, provider="anthropic", model_name="claude-sonnet-4-5-20250929"), ValueError, "does not match provider 'anthropic'"),
    Case("response-gemini-usage-as-openai", price({"usage_metadata": {"prompt_token_count": 10, "candidates_token_count": 5}}), ValueError, "does not match provider 'openai'"),
    Case("response-negative-reported-cost", usage(cost=-0.5), ValueError, "usage.cost"),
    Case("response-infinite-reported-cost", usage(cost="inf"), ValueError, "usage.cost"),
    Case("response-through-track_api_cost", tracked_call({"usage": {**GOOD_USAGE, "prompt_tokens": -1}}), ValueError, "usage.prompt_tokens"),
    # Issue #22: a judge that returns no response is told so, and where to pick one out.
    Case("judge-returns-none", tracked_call(None), ValueError, "The judge returned no API response (got NoneType): ", ours_only=True),
    Case("judge-returns-a-str", tracked_call("yes"), ValueError, "returned no API response (got str)", ours_only=True),
    Case("extractor-returns-a-str", extractor_returning("0.1"), ValueError, "cost extractor for provider 'openai'"),
    Case("extractor-returns-nan", extractor_returning(NAN), ValueError, "cost extractor for provider 'openai'"),
    # Unknown provider or model.
    Case("unknown-model", price({"usage": GOOD_USAGE}, model_name="no-such-model"), ValueError, "'no-such-model'"),
    Case("unknown-provider", price({"usage": GOOD_USAGE}, provider="acme"), ValueError, "'acme'"),
    Case("misspelled-provider", price({"usage": GOOD_USAGE}, provider="opnai"), ValueError, "Nearest provider names: 'openai'", ours_only=True),
    Case("lookup-unknown-model", lambda lib, b: lib.pricing.lookup("openai", "no-such-model"), ValueError, "'no-such-model'", ours_only=True),
    # A corrupted cached price catalog: ignored with a warning naming the file (an error here,
    # under warnings-as-errors); the catalog in use does not change.
    Case("cached-catalog-not-json", cached_file(b'{"format": "art-metr'), Warning, "price-list.json", ours_only=True),
    Case("cached-catalog-not-ours", cached_file(b'{"gpt-4o": {}}'), Warning, "price-list.json", ours_only=True),
    Case("cached-catalog-negative-price", cached_file(our_cache({"gpt-x": {**OPENAI_ENTRY, "input_cost_per_token": -1}, "claude-x": ANTHROPIC_ENTRY})), Warning, "gpt-x: input_cost_per_token", ours_only=True),
    # A corrupted download: refused, the previous catalog kept.
    Case("refresh-not-json", refresh_from("/not-json"), ValueError, "JSON", ours_only=True),
    Case("refresh-not-a-map", refresh_from("/a-list"), ValueError, "not a price list", ours_only=True),
    Case("refresh-no-priced-model", refresh_from("/no-anthropic"), ValueError, "prices no model", ours_only=True),
    Case("refresh-price-overflows", refresh_from("/overflowing-price"), ValueError, "gpt-x: input_cost_per_token", ours_only=True),
    Case("refresh-negative-price", refresh_from("/negative-price"), ValueError, "gpt-x: output_cost_per_token", ours_only=True),
    # load_state_dict with wrong shapes.
    Case("state-a-list", load([1, 2]), TypeError, "state must be a dict"),
    Case("state-cum_state-a-list", load({"cum_state": [1]}), TypeError, "cum_state"),
    Case("state-value-a-str", load({"cum_state": {"costs/cum/all": "1.0"}}), TypeError, "costs/cum/all"),
    Case("state-value-too-large", load({"cum_state": {"costs/cum/all": 10**400}}), ValueError, "costs/cum/all"),
    Case("state-key-an-int", load({"cum_state": {1: 2.0}}), TypeError, "key must be a str"),
    Case("state-key-not-cumulative", load({"cum_state": {"costs/all": 2.0}}), ValueError, "'costs/all'"),
    Case("state-ids-an-int", load({"unique_scenario_ids": 5}), TypeError, "unique_scenario_ids"),
]
# fmt: on


def ours() -> SimpleNamespace:
    import art_metrics

    return SimpleNamespace(
        MetricsBuilder=art_metrics.MetricsBuilder,
        track_api_cost=art_metrics.track_api_cost,
        pricing=art_metrics.pricing,
    )


def catalog_snapshot(lib) -> dict[str, Any]:
    info = lib.pricing.catalog_info()
    return {k: info[k] for k in ("origin", "sha256", "models")} | {
        "gpt-4o": lib.pricing.lookup("openai", "gpt-4o")
    }


def start_price_server() -> Callable[[], None]:
    """Serves DOWNLOADS on 127.0.0.1 (URL in SERVER.url); returns the function that stops it."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    SERVER.url = f"http://127.0.0.1:{httpd.server_address[1]}"

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()

    return stop


@pytest.fixture(scope="module", autouse=True)
def price_server():
    stop = start_price_server()
    yield
    stop()


def test_the_catalogue_has_at_least_forty_cases_with_unique_ids():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_naming_it_and_changes_nothing(case):
    lib = ours()
    b, control = prepared(lib), prepared(lib)
    state, catalog = b.state_dict(), catalog_snapshot(lib)
    with pytest.raises(case.exc) as info:
        case.call(lib, b)
    assert case.names in str(info.value), str(info.value)
    assert b.state_dict() == state
    assert catalog_snapshot(lib) == catalog
    assert flush(b) == flush(control)


@pytest.mark.parametrize("value", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
def test_load_state_dict_keeps_a_non_finite_total_with_one_warning_naming_it(value):
    """Not bad input: openpipe-art saves ``Infinity``/``NaN`` totals in state.json and resumes
    them as they are; ``load_state_dict`` does too (issue #10, case 5), with one warning."""
    b = prepared(ours())
    with pytest.warns(RuntimeWarning) as caught:
        b.load_state_dict({"cum_state": {"costs/cum/all": value, "data/cum/x": 1.0}})
    assert len(caught) == 1 and "costs/cum/all" in str(caught[0].message)
    assert "data/cum/x" not in str(caught[0].message)
    kept = b.state_dict()["cum_state"]["costs/cum/all"]
    assert kept == value or (math.isnan(kept) and math.isnan(value))
    b.add_cost("train/judge", 1.0)
    assert repr(flush(b)["costs/cum/all"]) == repr(value)  # later adds leave it as it is
