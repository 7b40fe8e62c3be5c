"""The pricing bindings' PyO3 contract: cycles are collected, no argument reaches a panic,
the catalog cache is read without holding the GIL."""

import gc
import math
import os
import subprocess
import sys
import weakref

import pytest
from art_metrics import MetricsBuilder, pricing, track_api_cost
from pricing_helpers import openai_usage


def test_a_tracked_function_in_a_cycle_is_collected():
    def judge():
        return openai_usage()

    tracked = track_api_cost(source="judge", provider="openai", model_name="gpt-4o")(judge)
    judge.wrapper = tracked  # judge -> tracked -> judge (its Rust field)
    dead = weakref.ref(tracked)
    del judge, tracked
    gc.collect()
    assert dead() is None


def test_a_response_getter_in_a_cycle_through_its_tracker_is_collected():
    holder = []

    def getter(result, holder=holder):
        return result

    tracked = track_api_cost(
        source="judge", provider="openai", model_name="gpt-4o", response_getter=getter
    )(lambda: openai_usage())
    holder.append(tracked)  # getter -> holder -> tracked -> tracker -> getter
    with MetricsBuilder("train").activate_context():
        tracked()
    dead = weakref.ref(getter)
    del getter, tracked, holder
    gc.collect()
    assert dead() is None


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ART_METRICS_CACHE_DIR", str(tmp_path))
    yield tmp_path


@pytest.mark.parametrize(
    "timeout",
    [0, -1, -0.0, 1e20, 86_400.5, 10**400, sys.float_info.max, math.inf, -math.inf, math.nan],
)
def test_a_timeout_out_of_range_is_a_value_error_naming_it(cache_dir, timeout):
    with pytest.raises(ValueError, match="^timeout must be a positive number of seconds"):
        pricing.refresh_catalog("http://127.0.0.1:1/x", timeout=timeout)
    assert list(cache_dir.iterdir()) == []


@pytest.mark.parametrize("timeout", ["5", b"5", None, [1], object()])
def test_a_timeout_that_is_not_a_number_is_a_type_error_naming_it(cache_dir, timeout):
    with pytest.raises(TypeError, match="^timeout must be a number of seconds"):
        pricing.refresh_catalog("http://127.0.0.1:1/x", timeout=timeout)


ODD = [None, "", "\x00", "not a url", 5, -1, 10**400, 1e308, math.nan, b"x", [], object()]


def test_no_argument_reaches_a_panic(cache_dir):
    calls = [lambda u=u, t=t: pricing.refresh_catalog(u, timeout=t) for u in ODD for t in ODD]
    calls += [lambda u=u: pricing.refresh_catalog(u, timeout=0.5) for u in ODD]
    calls += [lambda p=p, m=m: pricing.lookup(p, m) for p in ODD for m in ODD]
    for call in calls:
        try:
            call()
        except Exception:
            pass  # a PanicException derives from BaseException only: it would escape
    assert pricing.catalog_info()["origin"] == "builtin"


# The cache file is a FIFO fed by a Python thread: while the extension waits for it, that
# thread can only run if the GIL is released (else the process hangs and the bound fails it).
FIFO_SCRIPT = """
import os, sys, threading, warnings
from art_metrics import pricing
path = pricing.cache_path()
os.makedirs(os.path.dirname(path), exist_ok=True)
os.mkfifo(path)
def feed():
    with open(path, "wb") as f:
        f.write(b"garbage")
threading.Thread(target=feed).start()
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    info = getattr(pricing, sys.argv[1])()
print(info["origin"], [x.category.__name__ for x in w])
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
@pytest.mark.parametrize("function", ["catalog_info", "reload_catalog"])
def test_the_catalog_cache_is_read_with_the_gil_released(tmp_path, function):
    env = dict(os.environ, ART_METRICS_CACHE_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", FIFO_SCRIPT, function],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "builtin ['CatalogCacheWarning']"
