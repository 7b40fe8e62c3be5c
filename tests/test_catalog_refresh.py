"""refresh_catalog against a local HTTP server; the cache file across processes."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import warnings

import pytest
from art_metrics import MetricsBuilder, pricing
from pricing_helpers import openai_usage

PRICE_MAP = {
    "sample_spec": {
        "input_cost_per_token": 0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "mode": "one of: chat, embedding",
    },
    "gpt-4o": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 5e-06,
        "output_cost_per_token": 2e-05,
        "cache_read_input_token_cost": 2.5e-06,
    },
    "claude-new": {
        "litellm_provider": "anthropic",
        "mode": "chat",
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 2e-06,
    },
}
ROUTES = {
    "/prices.json": (200, json.dumps(PRICE_MAP).encode()),
    "/error": (500, b"internal error"),
    "/bad-json": (200, b"{not json"),
    "/not-a-map": (200, json.dumps({"a": 1}).encode()),
}


# /slow answers only once the test module is done: a client timeout always fires first,
# however slow the machine.
SLOW_RELEASE = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            SLOW_RELEASE.wait()
        status, body = ROUTES.get(self.path, (404, b"missing"))
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out (test_timeout)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    SLOW_RELEASE.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh cache directory; the session's (empty) one and the built-in catalog after."""
    previous = os.environ["ART_METRICS_CACHE_DIR"]
    monkeypatch.setenv("ART_METRICS_CACHE_DIR", str(tmp_path))
    pricing.reload_catalog()
    yield tmp_path
    os.environ["ART_METRICS_CACHE_DIR"] = previous
    pricing.reload_catalog()
    assert pricing.catalog_info()["origin"] == "builtin"


def gpt4o_cost():
    return MetricsBuilder("t").add_response_cost(
        "j", openai_usage(), provider="openai", model_name="gpt-4o"
    )


def test_refresh_replaces_the_catalog_and_caches_it(server, cache_dir):
    builtin_cost = gpt4o_cost()
    info = pricing.refresh_catalog(f"{server}/prices.json", timeout=5)
    assert info["origin"] == "cache"
    assert info["url"] == f"{server}/prices.json"
    assert info["path"] == str(cache_dir / "litellm-prices.json") == pricing.cache_path()
    assert info["models"] == {"anthropic": 1, "openai": 1}
    assert pricing.catalog_info() == info
    assert pricing.lookup("openai", "openai/gpt-4o").prompt_per_million == 5.0
    assert gpt4o_cost() == 800 * 5.0 / 1e6 + 200 * 2.5 / 1e6 + 100 * 20.0 / 1e6 != builtin_cost
    # ART's own tables survive a refresh.
    assert pricing.lookup("openai", "openai/gpt-4.1").table == "art_builtin"
    cached = json.loads((cache_dir / "litellm-prices.json").read_text())
    assert cached["prices"] == PRICE_MAP and cached["url"].endswith("/prices.json")


def test_decorated_functions_see_a_refreshed_catalog(server, cache_dir):
    from art_metrics import track_api_cost

    @track_api_cost(source="j", provider="openai", model_name="gpt-4o")
    def judge():
        return openai_usage()

    b = MetricsBuilder("train")
    with b.activate_context():
        judge()
        pricing.refresh_catalog(f"{server}/prices.json")
        judge()
    assert b._flush()["costs/train/j"] == pytest.approx(0.00325 + 0.0065)


def test_a_later_process_uses_the_cached_catalog(server, cache_dir):
    pricing.refresh_catalog(f"{server}/prices.json")
    code = (
        "from art_metrics import pricing; i = pricing.catalog_info(); "
        "print(i['origin'], pricing.lookup('openai', 'gpt-4o').prompt_per_million)"
    )
    env = dict(os.environ, ART_METRICS_CACHE_DIR=str(cache_dir))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["cache", "5.0"]


@pytest.mark.parametrize(
    "path, error, message",
    [
        ("/error", ConnectionError, "HTTP 500"),
        ("/missing", ConnectionError, "HTTP 404"),
        ("/bad-json", ValueError, "not valid JSON"),
        ("/not-a-map", ValueError, "no openai chat model"),
    ],
)
def test_failures_keep_the_previous_catalog(server, cache_dir, path, error, message):
    pricing.refresh_catalog(f"{server}/prices.json")
    before = pricing.catalog_info()
    cache_before = (cache_dir / "litellm-prices.json").read_bytes()
    with pytest.raises(error, match=message):
        pricing.refresh_catalog(f"{server}{path}", timeout=5)
    assert pricing.catalog_info() == before
    assert (cache_dir / "litellm-prices.json").read_bytes() == cache_before


def test_timeout(server, cache_dir):
    with pytest.raises(TimeoutError, match="timed out"):
        pricing.refresh_catalog(f"{server}/slow", timeout=0.3)
    assert pricing.catalog_info()["origin"] == "builtin"
    assert not (cache_dir / "litellm-prices.json").exists()


def test_connection_refused(cache_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        pricing.refresh_catalog(f"http://127.0.0.1:{port}/prices.json", timeout=5)
    assert pricing.catalog_info()["origin"] == "builtin"


def test_bad_timeout_values(cache_dir):
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            pricing.refresh_catalog("http://127.0.0.1:1/x", timeout=bad)


@pytest.mark.parametrize(
    "content",
    [
        b"garbage",
        b'{"format": "other"}',
        b'{"format": "art-metrics-price-cache/1", "prices": {"a": 1}}',
    ],
)
def test_corrupted_cache_is_ignored_with_a_warning(cache_dir, content):
    (cache_dir / "litellm-prices.json").write_bytes(content)
    with pytest.warns(pricing.CatalogCacheWarning, match="litellm-prices.json"):
        info = pricing.reload_catalog()
    assert info["origin"] == "builtin"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gpt4o_cost() == 0.0032500000000000003


def test_corrupted_cache_never_breaks_import(cache_dir):
    (cache_dir / "litellm-prices.json").write_bytes(b"garbage")
    code = (
        "import warnings, art_metrics\n"
        "from art_metrics import pricing\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    print(pricing.catalog_info()['origin'], [x.category.__name__ for x in w])\n"
    )
    env = dict(os.environ, ART_METRICS_CACHE_DIR=str(cache_dir))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "builtin ['CatalogCacheWarning']"
