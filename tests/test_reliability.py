"""Concurrency cases of bench/reliability.py, asserted: art-metrics loses nothing and raises
nothing. The bench script runs the same functions against openpipe-art 0.5.18 for the README.
"""

import importlib.util
import pathlib
import sys

from art_metrics import MetricsBuilder, track_api_cost

_PATH = pathlib.Path(__file__).resolve().parent.parent / "bench" / "reliability.py"
_spec = importlib.util.spec_from_file_location("bench_reliability", _PATH)
reliability = importlib.util.module_from_spec(_spec)
sys.modules["bench_reliability"] = reliability  # dataclasses resolve annotations through it
_spec.loader.exec_module(reliability)


def test_threads_record_while_another_flushes():
    outcome = reliability.threads_case(MetricsBuilder, track_api_cost, n_threads=8, per_thread=2000)
    assert outcome.errors == []
    assert outcome.exact(), (outcome.expected, outcome.recorded)
    assert outcome.lost_fraction() < 1e-12  # the flushes are summed in plain floats here


def test_thousand_asyncio_tasks_judging_in_two_contexts():
    outcome = reliability.asyncio_case(MetricsBuilder, track_api_cost, n_tasks=1000)
    assert outcome.errors == []
    assert outcome.exact(), (outcome.expected, outcome.recorded)
    assert outcome.lost_fraction() < 1e-12  # the flushes are summed in plain floats here
