"""RSS stays flat over a long run of tracked calls (bench/leak.py runs 1,000,000)."""

import importlib.util
import pathlib

from art_metrics import MetricsBuilder, track_api_cost

_PATH = pathlib.Path(__file__).resolve().parent.parent / "bench" / "leak.py"
_spec = importlib.util.spec_from_file_location("bench_leak", _PATH)
leak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(leak)


def test_tracked_calls_keep_rss_flat_after_warm_up():
    warm, end, errors = leak.run(MetricsBuilder, track_api_cost, calls=200_000, warmup=20_000)
    assert errors == 2_000  # every 100th call takes the error path
    assert end - warm <= 4.0, f"RSS grew from {warm:.1f} to {end:.1f} MiB"
