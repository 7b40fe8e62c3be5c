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
# genai-prices' format: gpt-4o's prices today as the built-in catalog has them, a new dated
# period, and a cheaper batch variant (the priority and fast variants it does not mention stay).
GPT_4O_TODAY = {
    "input_mtok": 2.5,
    "cache_read_mtok": 1.25,
    "output_mtok": 10,
    "web_searches_kcount": 10,
}
DATED = [
    {
        "id": "openai",
        "models": [
            {
                "id": "gpt-4o",
                "prices": [
                    {"prices": GPT_4O_TODAY},
                    {
                        "constraint": {"start_date": "2099-01-01"},
                        "prices": dict(GPT_4O_TODAY, input_mtok=2, output_mtok=8),
                    },
                ],
                "price_variants": [
                    {"when": {"processing": "batch"}, "prices": {"input_mtok": 1, "output_mtok": 5}}
                ],
            }
        ],
    }
]
ROUTES = {
    "/dated.json": json.dumps(DATED).encode(),
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
    # Merged: one model more, none gone; gpt-4o's snapshots follow it (issue #22), so the
    # openai count does not change and no line says it did.
    n = counts["anthropic"]
    assert f"anthropic: {n} -> {n + 1} models (+1)" in lines
    assert not any(line.startswith("openai:") for line in lines), lines
    assert lines[3].startswith("1 model added, 1 with changed prices; ")
    assert "  + anthropic/claude-new" in lines
    # only what changed: the cached-input price the map does not give is kept
    assert "  ~ openai/gpt-4o: input_mtok $2.5 -> $5" in lines
    kept = next(line for line in lines if line.startswith("  = openai/gpt-4o: kept "))
    assert "cache_read_mtok" in kept
    assert first.stderr == ""  # not a terminal: no progress indicator

    # from the cached map to the next one
    second = refresh(f"{server}/second.json", cache=tmp_path).stdout.splitlines()
    assert "(was: cache" in second[1]
    assert second[3].startswith("1 model added, 1 with changed prices")
    assert "  + openai/gpt-newer" in second
    assert "  ~ anthropic/claude-new: output_mtok $2 -> $4" in second


def test_refresh_shows_changes_of_dated_and_tier_prices(server, tmp_path):
    """Issue #23: only today's standard prices were compared, so a new dated period or a
    changed batch or service-tier price was not shown (and the model not counted)."""
    proc = refresh(f"{server}/dated.json", cache=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[2].startswith(
        "0 models added, 0 with changed prices, 1 with changed dated, hourly or tier prices; "
    )
    assert lines[3:5] == [
        "  ~ openai/gpt-4o (from 2099-01-01): input_mtok none -> $2, cache_read_mtok none -> "
        "$1.25, output_mtok none -> $8, web_searches_kcount none -> $10",
        # the catalog's batch price applies from a date; the list's from the start
        "  ~ openai/gpt-4o (processing=batch; from 2026-10-14 -> undated): input_mtok $1.25 -> $1",
    ]
    doc = json.loads(refresh(f"{server}/dated.json", "--json", cache=tmp_path / "j").stdout)
    assert doc["changes"]["changed"] == {}
    assert doc["changes"]["changed_conditional"] == {
        "openai/gpt-4o": {
            "from 2099-01-01": {
                "input_mtok": [None, 2],
                "cache_read_mtok": [None, 1.25],
                "output_mtok": [None, 8],
                "web_searches_kcount": [None, 10],
            },
            "processing=batch; from 2026-10-14 -> undated": {"input_mtok": [1.25, 1]},
        }
    }


def test_the_cli_prints_the_counts_of_the_api_result(server, tmp_path, monkeypatch):
    """Issue #22: the counts are computed once, by the core: the CLI's lines are the API's."""
    from art_metrics import pricing

    cli = refresh(f"{server}/first.json", cache=tmp_path / "cli").stdout.splitlines()
    monkeypatch.setenv("ART_METRICS_CACHE_DIR", str(tmp_path / "api"))
    pricing.reload_catalog()
    try:
        changes = pricing.refresh_catalog(f"{server}/first.json", allow_insecure=True)["changes"]
    finally:
        monkeypatch.undo()
        pricing.reload_catalog()
    before, after = changes["models_before"], changes["models_after"]
    shown = [line for line in cli if re.match(r"\w+: \d+ -> \d+ models", line)]
    assert shown, cli
    for line in shown:
        provider, n, m = re.match(r"(\w+): (\d+) -> (\d+) models", line).groups()
        assert (before[provider], after[provider]) == (int(n), int(m))
    for provider in after:
        added = sum(e.startswith(provider + "/") for e in changes["added"])
        removed = sum(e.startswith(provider + "/") for e in changes["removed"])
        assert after[provider] - before[provider] == added - removed, provider
    total = len(changes["added"])
    assert any(line.startswith(f"{total} model added") for line in cli), cli
    assert sum(after.values()) - sum(before.values()) == total - len(changes["removed"])


def test_refresh_json_is_the_api_result(server, tmp_path, monkeypatch):
    """Issue #23: `refresh --json` prints the changes `refresh_catalog` returns, as JSON."""
    from art_metrics import pricing

    was = pricing.catalog_info()
    proc = refresh(f"{server}/first.json", "--json", cache=tmp_path / "cli")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    doc = json.loads(proc.stdout)
    monkeypatch.setenv("ART_METRICS_CACHE_DIR", str(tmp_path / "api"))
    pricing.reload_catalog()
    try:
        info = pricing.refresh_catalog(f"{server}/first.json", allow_insecure=True)
    finally:
        monkeypatch.undo()
        pricing.reload_catalog()
    assert set(doc) == {"url", "path", "previous", "models", "changes"}
    assert doc["url"] == f"{server}/first.json"
    assert doc["path"] == str(tmp_path / "cli" / "price-list.json")
    assert doc["previous"] == {k: was[k] for k in ("origin", "source", "version", "url")}
    assert doc["models"] == info["models"]
    # JSON has no tuples: each changed term is [old, new]
    assert doc["changes"] == json.loads(json.dumps(info["changes"]))
    assert doc["changes"]["changed"]["openai/gpt-4o"]["input_mtok"] == [2.5, 5.0]


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


def test_cli_errors_name_cli_flags(server, tmp_path):
    """Issue #22: the command line's errors name its flags, not the Python arguments."""
    env = dict(os.environ, ART_METRICS_CACHE_DIR=str(tmp_path))
    for args, flag in (
        ([f"{server}/first.json"], "pass --allow-insecure"),
        (["--timeout", "0", "x.json"], "--timeout must be a positive number"),
        (["--from-package", "x.json"], "--from-package reads the installed"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "art_metrics", "refresh", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, proc
        assert flag in proc.stderr and "allow_insecure=True" not in proc.stderr, proc.stderr
        assert "from_package=True" not in proc.stderr, proc.stderr
