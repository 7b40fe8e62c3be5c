"""refresh_catalog against a local HTTP server and local files; the cache across processes."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest
from art_metrics import MetricsBuilder, pricing, track_api_cost
from local_http import serving
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
# genai-prices' data format: a list of providers with their models.
GENAI_DATA = [
    {
        "id": "openai",
        "models": [
            {
                "id": "gpt-4o",
                "match": {"starts_with": "gpt-4o"},
                "prices": {"input_mtok": 5, "cache_read_mtok": 2.5, "output_mtok": 20},
            },
            {"id": "gpt-bad", "prices": {"input_mtok": True, "output_mtok": 1}},
            {"id": "gpt-null", "prices": {"input_mtok": None, "output_mtok": 1}},
        ],
    },
    {"id": "aws", "models": [{"id": "x", "prices": {"input_mtok": 1}}]},
]
BAD_ENTRIES = {
    **PRICE_MAP,
    "gpt-list": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": [1],
        "output_cost_per_token": 1e-6,
    },
    "gpt-negative": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": -1e-6,
        "output_cost_per_token": 1e-6,
    },
    # $1e306 per million: above the sane bound (issue #21 case 4).
    "gpt-huge": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 1e300,
        "output_cost_per_token": 1e-6,
    },
}
# A list that prices gpt-4o itself absurdly: before, it was accepted and every later
# gpt-4o call failed with "token counts are too large to price".
ABSURD_GPT4O = {
    "gpt-4o": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 1e300,
        "output_cost_per_token": 1e-5,
    },
    "claude-new": PRICE_MAP["claude-new"],
}
ROUTES = {
    "/prices.json": (200, json.dumps(PRICE_MAP).encode()),
    "/genai.json": (200, json.dumps(GENAI_DATA).encode()),
    "/bad-entries.json": (200, json.dumps(BAD_ENTRIES).encode()),
    "/absurd.json": (200, json.dumps(ABSURD_GPT4O).encode()),
    "/error": (500, b"internal error"),
    "/bad-json": (200, b"{not json"),
    "/not-a-map": (200, json.dumps({"a": 1}).encode()),
}
HUGE = 65 * 2**20 + 1  # announced past the 64 MiB cap


# /slow answers only once the test module is done: a client timeout always fires first,
# however slow the machine.
SLOW_RELEASE = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            SLOW_RELEASE.wait()
        if self.path == "/drip":
            # One byte at a time, each well within a read timeout, the whole far past it
            # (bounded: 40 bytes, 0.1 s apart), then the end of a valid price list.
            body = json.dumps(PRICE_MAP).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(40 + len(body)))
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(HUGE))
            self.end_headers()
            try:
                self.wfile.write(b" " * 2**20)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
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
    with serving(Handler) as url:
        yield url
        SLOW_RELEASE.set()


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


CACHE = "price-list.json"


def refresh(url, **kw):
    return pricing.refresh_catalog(url, allow_insecure=True, **kw)


def test_refresh_merges_into_the_catalog_and_caches_it(server, cache_dir):
    builtin = pricing.catalog_info()
    builtin_cost = gpt4o_cost()
    gpt41 = pricing.lookup("openai", "gpt-4.1")
    info = refresh(f"{server}/prices.json", timeout=5)
    assert (info["origin"], info["format"]) == ("cache", "litellm")
    assert info["url"] == f"{server}/prices.json"
    assert info["path"] == str(cache_dir / CACHE) == pricing.cache_path()
    changes = info.pop("changes")
    assert pricing.catalog_info() == info
    assert changes["added"] == ["anthropic/claude-new"] and changes["removed"] == []
    assert changes["changed"]["openai/gpt-4o"]["input_mtok"] == (2.5, 5.0)
    assert pricing.lookup("openai", "openai/gpt-4o").prompt_per_million == 5.0
    assert gpt4o_cost() == 800 * 5.0 / 1e6 + 200 * 2.5 / 1e6 + 100 * 20.0 / 1e6 != builtin_cost
    # Merged: a new model is added, nothing built in disappears.
    assert pricing.lookup("anthropic", "claude-new").table == "litellm"
    assert pricing.lookup("openai", "gpt-4.1") == gpt41
    assert info["models"]["anthropic"] == builtin["models"]["anthropic"] + 1
    assert info["names"] > builtin["names"]
    cached = json.loads((cache_dir / CACHE).read_text())
    assert cached["prices"] == PRICE_MAP and cached["url"].endswith("/prices.json")


def test_genai_prices_format_and_bad_entries_skipped_in_one_warning(server, cache_dir):
    with pytest.warns(pricing.CatalogRefreshWarning) as warned:
        info = refresh(f"{server}/genai.json")
    assert info["format"] == "genai-prices"
    # Issue #22: one summary line per refresh (the count and the first entries), not one
    # warning each; every entry is in the result.
    assert len(warned) == 1
    summary = str(warned[0].message)
    assert summary == info["changes"]["skipped_summary"]
    assert summary.startswith("2 price list entries skipped")
    assert "openai/gpt-bad" in summary and "openai/gpt-null" in summary
    assert [e.split(":")[0] for e in info["changes"]["skipped"]] == [
        "openai/gpt-bad",
        "openai/gpt-null",
    ]
    assert pricing.lookup("openai", "gpt-4o").prompt_per_million == 5.0
    with pytest.raises(ValueError, match="gpt-bad"):
        pricing.lookup("openai", "gpt-bad")
    with pytest.warns(pricing.CatalogRefreshWarning) as warned:
        info = refresh(f"{server}/bad-entries.json")
    assert len(warned) == 1 and str(warned[0].message).startswith("3 price list entries")
    assert sorted(e.split(": ")[0] for e in info["changes"]["skipped"]) == [
        "gpt-huge",
        "gpt-list",
        "gpt-negative",
    ]


def test_prices_above_the_sane_bound_are_skipped(server, cache_dir):
    builtin_cost = gpt4o_cost()
    with pytest.warns(pricing.CatalogRefreshWarning, match="gpt-4o.*above the highest price"):
        refresh(f"{server}/absurd.json")
    assert gpt4o_cost() == builtin_cost


def test_local_paths_and_file_urls(cache_dir, tmp_path):
    path = tmp_path / "litellm.json"
    path.write_text(json.dumps(PRICE_MAP))
    for source in (str(path), path.as_uri()):
        info = pricing.refresh_catalog(source)
        assert info["url"] == source
        assert pricing.lookup("openai", "gpt-4o").prompt_per_million == 5.0
    with pytest.raises(OSError, match="missing.json"):
        pricing.refresh_catalog(str(tmp_path / "missing.json"))


def test_plain_http_is_refused_unless_allowed(server, cache_dir):
    with pytest.raises(ValueError, match="allow_insecure"):
        pricing.refresh_catalog(f"{server}/prices.json")
    assert pricing.catalog_info()["origin"] == "builtin"
    assert pricing.DEFAULT_CATALOG_URL.startswith("https://")
    assert "/refs/tags/v0.2.5/" in pricing.DEFAULT_CATALOG_URL


def test_bodies_past_64_mib_are_refused(server, cache_dir):
    with pytest.raises(ValueError, match="64 MiB"):
        refresh(f"{server}/huge", timeout=5)
    assert pricing.catalog_info()["origin"] == "builtin"


def test_decorated_functions_see_a_refreshed_catalog(server, cache_dir):
    @track_api_cost(source="j", provider="openai", model_name="gpt-4o")
    def judge():
        return openai_usage()

    b = MetricsBuilder("train")
    with b.activate_context():
        judge()
        refresh(f"{server}/prices.json")
        judge()
    assert b._flush()["costs/train/j"] == pytest.approx(0.00325 + 0.0065)


def test_decorated_functions_see_every_refresh(cache_dir, tmp_path):
    # A tracker reads the first catalog's model without a lock, and a later catalog's behind
    # one (issue #20): each refresh, not only the first, changes what the next call costs.
    @track_api_cost(source="j", provider="openai", model_name="gpt-4o")
    def judge():
        return openai_usage()

    tracked, resolved = [], []
    for input_cost in (None, 5e-06, 7e-06, 3e-06):
        if input_cost is not None:
            path = tmp_path / f"prices-{input_cost}.json"
            gpt4o = PRICE_MAP["gpt-4o"] | {"input_cost_per_token": input_cost}
            path.write_text(json.dumps(PRICE_MAP | {"gpt-4o": gpt4o}))
            pricing.refresh_catalog(str(path))
        b = MetricsBuilder("train")
        with b.activate_context():
            judge()
        tracked.append(b._flush()["costs/train/j"])
        resolved.append(gpt4o_cost())
    assert tracked == pytest.approx(resolved)
    assert len(set(tracked)) == 4


def test_a_later_process_uses_the_cached_catalog(server, cache_dir):
    refresh(f"{server}/prices.json")
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
        ("/not-a-map", ValueError, "not a price list"),
    ],
)
def test_failures_keep_the_previous_catalog(server, cache_dir, path, error, message):
    refresh(f"{server}/prices.json")
    before = pricing.catalog_info()
    cache_before = (cache_dir / CACHE).read_bytes()
    with pytest.raises(error, match=message):
        refresh(f"{server}{path}", timeout=5)
    assert pricing.catalog_info() == before
    assert (cache_dir / CACHE).read_bytes() == cache_before


def test_timeout(server, cache_dir):
    with pytest.raises(TimeoutError, match="timed out"):
        refresh(f"{server}/slow", timeout=0.3)
    assert pricing.catalog_info()["origin"] == "builtin"
    assert not (cache_dir / CACHE).exists()


def test_the_timeout_bounds_the_whole_download(server, cache_dir):
    """Issue #21 case 4: a server dripping a byte every 0.1 s never times a read out; the
    timeout (1 s) ends the download itself, where the whole body used to be read (4 s here,
    forever from an endless drip) before the elapsed time was checked."""
    with pytest.raises(TimeoutError, match=r"^Downloading the price catalog from .* timed out"):
        refresh(f"{server}/drip", timeout=1)
    assert pricing.catalog_info()["origin"] == "builtin"
    assert not (cache_dir / CACHE).exists()


def test_connection_refused(cache_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        refresh(f"http://127.0.0.1:{port}/prices.json", timeout=5)
    assert pricing.catalog_info()["origin"] == "builtin"


def test_bad_timeout_values(cache_dir):
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            refresh("http://127.0.0.1:1/x", timeout=bad)


@pytest.mark.parametrize(
    "content",
    [
        b"garbage",
        b'{"format": "other"}',
        b'{"format": "art-metrics-price-cache/1", "prices": {"a": 1}}',
    ],
)
def test_corrupted_cache_is_ignored_with_a_warning(cache_dir, content):
    (cache_dir / CACHE).write_bytes(content)
    with pytest.warns(pricing.CatalogCacheWarning, match=CACHE):
        info = pricing.reload_catalog()
    assert info["origin"] == "builtin"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gpt4o_cost() == 800 * 2.5 / 1e6 + 200 * 1.25 / 1e6 + 100 * 10.0 / 1e6


def test_corrupted_cache_never_breaks_import(cache_dir):
    (cache_dir / CACHE).write_bytes(b"garbage")
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


def test_progress_counts_the_bytes_read_against_the_announced_length(server, cache_dir, tmp_path):
    """``progress=`` (what the CLI's bar reads): bytes received and the Content-Length, or a
    file's size; None while nothing is announced."""
    progress = pricing.DownloadProgress()
    assert (progress.received, progress.total) == (0, None)
    refresh(f"{server}/prices.json", progress=progress)
    size = len(ROUTES["/prices.json"][1])
    assert (progress.received, progress.total) == (size, size)
    assert repr(progress) == f"DownloadProgress({size} of {size} bytes)"

    path = tmp_path / "genai.json"
    path.write_bytes(ROUTES["/genai.json"][1])
    with pytest.warns(pricing.CatalogRefreshWarning):
        pricing.refresh_catalog(str(path), progress=progress)
    assert progress.received == progress.total == path.stat().st_size

    with pytest.raises(TypeError, match="progress must be a DownloadProgress"):
        pricing.refresh_catalog(str(path), progress=lambda received, total: None)
