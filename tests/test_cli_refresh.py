"""``python -m art_metrics refresh [SOURCE]`` against a local HTTP server."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import time

import pytest
from local_http import serving

FIRST = {
    "sample_spec": {"input_cost_per_token": 0, "litellm_provider": "one of many"},
    "gpt-4o": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 5e-06,  # the built-in catalog has 2.5e-06
        "output_cost_per_token": 1e-05,
    },
    "claude-new": {
        "litellm_provider": "anthropic",
        "mode": "chat",
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 2e-06,
    },
}
SECOND = dict(
    FIRST,
    **{
        "claude-new": dict(FIRST["claude-new"], output_cost_per_token=4e-06),
        "gpt-newer": {
            "litellm_provider": "openai",
            "mode": "chat",
            "input_cost_per_token": 1e-07,
            "output_cost_per_token": 2e-07,
        },
    },
)
ROUTES = {
    "/first.json": json.dumps(FIRST).encode(),
    "/second.json": json.dumps(SECOND).encode(),
    "/not-a-map": b"[1, 2]",
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path
        # /trickle sends the body in four parts, 0.5 s apart: a terminal sees the bar move.
        trickle = path.startswith("/trickle")
        if trickle:
            path = path[len("/trickle") :]
        body = ROUTES.get(path)
        self.send_response(200 if body is not None else 500)
        body = body if body is not None else b"broken"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not trickle:
            self.wfile.write(body)
            return
        quarter = -(-len(body) // 4)
        for start in range(0, len(body), quarter):
            time.sleep(0.5)
            self.wfile.write(body[start : start + quarter])
            self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    with serving(Handler) as url:
        yield url


def refresh(*args: str, cache, stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    # The local server is plain http: allowed explicitly.
    return subprocess.run(
        [sys.executable, "-m", "art_metrics", "refresh", "--allow-insecure", *args],
        env=dict(os.environ, ART_METRICS_CACHE_DIR=str(cache)),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=120,
    )


def test_refresh_prints_what_changed(server, tmp_path):
    from art_metrics import pricing

    counts = pricing.catalog_info()["models"]
    first = refresh(f"{server}/first.json", cache=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:2] == [
        f"Refreshed the price catalog from {server}/first.json",
        f"Cached at {tmp_path / 'price-list.json'} (was: builtin genai-prices 0.2.5)",
    ]
    # Merged: one model more, none gone.
    n = counts["anthropic"]
    assert f"anthropic: {n} -> {n + 1} models (+1)" in lines
    assert f"openai: {counts['openai']} -> {counts['openai'] + 1} models (+1)" in lines
    assert "1 model added, 1 with changed prices" in lines
    assert "  + claude-new" in lines
    # only what changed (the new map has no cache prices: they are gone)
    assert (
        "  ~ gpt-4o: prompt $2.5 -> $5, cached_prompt $1.25 -> none, cache_read $1.25 -> none"
        " per million tokens"
    ) in lines
    assert first.stderr == ""  # not a terminal: no progress indicator

    # from the cached map to the next one
    second = refresh(f"{server}/second.json", cache=tmp_path).stdout.splitlines()
    assert "(was: cache" in second[1]
    assert "1 model added, 1 with changed prices" in second
    assert "  + gpt-newer" in second
    assert "  ~ claude-new: completion $2 -> $4 per million tokens" in second


def test_refresh_failure_keeps_the_catalog(server, tmp_path):
    for path, why in (("/missing", "500"), ("/not-a-map", "not a price list")):
        proc = refresh(f"{server}{path}", cache=tmp_path)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith("error: refresh failed, the previous catalog stays: ")
        assert why in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_refresh_shows_progress_on_a_terminal(server, tmp_path):
    import pty

    leader, follower = pty.openpty()
    try:
        proc = refresh(f"{server}/trickle/first.json", cache=tmp_path, stderr=follower)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    shown = b"".join(chunks).decode()
    size = len(ROUTES["/first.json"])
    assert f"downloading {server}/trickle/first.json [" in shown, shown
    # The bar moves: a part received (25%, 50% or 75% of the body), out of the whole.
    parts = re.findall(r"\] +(\d+)% ([\d.]+) kB of ([\d.]+) kB, [\d.]+ s", shown)
    assert {total for _, _, total in parts} == {f"{size / 1e3:.1f}"}, shown
    assert any(0 < int(pct) < 100 for pct, _, _ in parts), shown
    assert shown.endswith("\r\x1b[K")  # the bar clears its line
    assert "1 model added" in proc.stdout
