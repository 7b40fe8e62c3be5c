"""The bindings' contract with Python: garbage collection through the cost extractors, no
lock held while Python code runs or Python objects drop, and the one coercion policy of
Python values (src/convert.rs)."""

import asyncio
import decimal
import gc
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest
from art_metrics import LocalBackend, MetricsBuilder, Model
from art_metrics._core import backend_gpu_cost_per_hour, gpu_cost_usd

GOOD_USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}


class Extractor:
    """A cost extractor that holds on to builders, as a closure over them would."""

    def __init__(self, *builders):
        self.builders = builders

    def __call__(self, response):
        return 0.0


def run_python(code: str) -> str:
    """Runs `code` in a fresh interpreter: a deadlock there fails the test by timeout
    instead of hanging the test run."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# -- garbage collection ---------------------------------------------------------------


def test_a_builder_extractor_cycle_is_collected():
    builder = MetricsBuilder("train")
    # The extractor closes over its builder: builder -> registry -> extractor -> builder.
    builder.register_cost_extractor("openai", Extractor(builder))
    dead = weakref.ref(builder)
    del builder
    gc.collect()
    assert dead() is None


def test_a_cycle_through_a_builder_of_another_cost_context_is_collected():
    root = MetricsBuilder("train")
    evals = root.for_cost_context("eval")
    evals.register_cost_extractor("openai", Extractor(root, evals))
    dead = [weakref.ref(root), weakref.ref(evals)]
    del root, evals
    gc.collect()
    assert [d() for d in dead] == [None, None]


def test_a_live_builder_keeps_its_extractors_through_collections():
    builder = MetricsBuilder("train")
    builder.register_cost_extractor("openai", lambda response: 0.25)
    child = builder.for_cost_context("eval")
    del builder
    gc.collect()
    cost = child.add_response_cost(
        "judge", {"usage": GOOD_USAGE}, provider="openai", model_name="gpt-4o"
    )
    assert cost == 0.25


# -- no lock held while Python code runs or Python objects drop -------------------------


def test_a_replaced_extractor_is_dropped_after_the_lock_is_released():
    # The first extractor's __del__ registers again: dropped under the registry's lock, it
    # would wait for that lock forever.
    out = run_python(
        """
        from art_metrics import MetricsBuilder

        builder = MetricsBuilder("train")

        class Extractor:
            def __call__(self, response):
                return 0.0

            def __del__(self):
                builder.register_cost_extractor("other", lambda response: 1.0)

        builder.register_cost_extractor("openai", Extractor())
        builder.register_cost_extractor("openai", lambda response: 2.0)
        print(builder._cost_extractor("other")(None), builder._cost_extractor("openai")(None))
        """
    )
    assert out == "1.0 2.0"


def test_an_extractor_runs_with_no_lock_held():
    out = run_python(
        """
        from art_metrics import MetricsBuilder

        builder = MetricsBuilder("train")

        def extractor(response):
            # Registering (taking the registry's lock) from inside an extractor.
            builder.register_cost_extractor("anthropic", lambda r: 0.0)
            return 0.5

        builder.register_cost_extractor("openai", extractor)
        usage = {"prompt_tokens": 1000, "completion_tokens": 100}
        cost = builder.add_response_cost(
            "judge", {"usage": usage}, provider="openai", model_name="gpt-4o"
        )
        print(cost, builder._cost_extractor("anthropic") is not None)
        """
    )
    assert out == "0.5 True"


def test_a_registry_cleared_by_the_collector_drops_extractors_after_its_lock():
    # Clearing a garbage registry drops its extractors; one whose __del__ registers on a
    # live builder of another run must not deadlock.
    out = run_python(
        """
        import gc
        from art_metrics import MetricsBuilder

        survivor = MetricsBuilder("train")

        class Extractor:
            def __init__(self, builder):
                self.builder = builder

            def __call__(self, response):
                return 0.0

            def __del__(self):
                survivor.register_cost_extractor("openai", lambda r: 3.0)

        doomed = MetricsBuilder("train")
        doomed.register_cost_extractor("openai", Extractor(doomed))
        del doomed
        gc.collect()
        print(survivor._cost_extractor("openai")(None))
        """
    )
    assert out == "3.0"


# -- the coercion policy ----------------------------------------------------------------


def test_a_metric_value_may_be_a_bool_or_any_float_like_number():
    b = MetricsBuilder("train")
    b.add_metric("loss/correct", True)
    b.add_metric("loss/correct", False)
    b.add_metric("loss/np", np.float32(0.5))
    b.add_metric("loss/dec", decimal.Decimal("0.25"))
    out = b._flush()
    assert out["loss/correct"] == 1.0
    assert out["loss/np"] == 0.5 and out["loss/dec"] == 0.25


@pytest.mark.parametrize("bad", ["1.5", b"1.5", None, [1.0]])
def test_a_metric_value_of_another_type_is_a_type_error_naming_the_key(bad):
    with pytest.raises(TypeError, match="'loss/x' must be a number"):
        MetricsBuilder("train").add_metric("loss/x", bad)


@pytest.mark.parametrize("bad", [True, "2.5", b"2.5", None, [1.0]])
def test_a_price_is_a_number_and_never_a_bool(bad):
    b = MetricsBuilder("train")
    # The same rule for registered prices and per-call overrides.
    with pytest.raises(ValueError, match="prompt_per_million must be a number"):
        b.register_model_pricing("m", prompt_per_million=bad, completion_per_million=1.0)
    if bad is None:  # "not given", for an optional price
        return
    with pytest.raises(ValueError, match="cache_read_per_million must be a number"):
        b.register_model_pricing(
            "m", prompt_per_million=1.0, completion_per_million=1.0, cache_read_per_million=bad
        )
    with pytest.raises(ValueError, match="prompt_price_per_million must be a number"):
        b.add_response_cost(
            "judge",
            {"usage": GOOD_USAGE},
            provider="openai",
            model_name="gpt-4o",
            prompt_price_per_million=bad,
        )


def test_a_price_may_be_any_float_like_number_and_too_large_is_named():
    b = MetricsBuilder("train")
    b.register_model_pricing(
        "m", prompt_per_million=decimal.Decimal("1.5"), completion_per_million=np.float64(2)
    )
    cost = b.add_response_cost("judge", {"usage": GOOD_USAGE}, provider="openai", model_name="m")
    assert cost == 1000 * 1.5 / 1e6 + 100 * 2.0 / 1e6
    with pytest.raises(ValueError, match="prompt_per_million is too large"):
        b.register_model_pricing("m", prompt_per_million=10**400, completion_per_million=1.0)


@pytest.mark.parametrize("bad", [True, 1.0, "1"])
def test_a_step_is_an_int(tmp_path, bad):
    model = Model(name="m", project="p", base_path=str(tmp_path))
    with pytest.raises(TypeError, match="step must be an int"):
        asyncio.run(model.log(None, split="train", step=bad, metrics={"loss/x": 1.0}))


def test_a_step_may_be_a_numpy_int_and_too_large_is_named(tmp_path):
    model = Model(name="m", project="p", base_path=str(tmp_path))
    asyncio.run(model.log(None, split="train", step=np.int64(3), metrics={"loss/x": 1.0}))
    with open(f"{model.run_dir}/history.jsonl") as f:
        assert '"step": 3,' in f.read()
    with pytest.raises(ValueError, match="step is too large"):
        asyncio.run(model.log(None, split="train", step=2**70, metrics={"loss/x": 1.0}))


# -- GPU prices -------------------------------------------------------------------------


def test_the_gpu_cost_formula():
    assert gpu_cost_usd(3600.0, 6.0) == 6.0
    assert gpu_cost_usd(90.0, 3.0) == 90.0 * 3.0 / 3600.0


def test_a_backend_rate_detects_only_what_is_not_given():
    calls = []

    def detect():
        calls.append(1)
        return (["NVIDIA H200"] * 2, [3.0, 3.0])

    assert backend_gpu_cost_per_hour(2.0, 4, detect) == 8.0 and calls == []
    assert backend_gpu_cost_per_hour(None, None, detect) == 6.0 and len(calls) == 1
    assert backend_gpu_cost_per_hour(1.5, None, detect) == 3.0
    assert backend_gpu_cost_per_hour(None, 0, detect) is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"gpu_cost_per_hour_usd": "2.5", "gpu_count": 1}, "gpu_cost_per_hour_usd"),
        ({"gpu_cost_per_hour_usd": True, "gpu_count": 1}, "gpu_cost_per_hour_usd"),
        ({"gpu_cost_per_hour_usd": 2.5, "gpu_count": -1}, "gpu_count"),
        ({"gpu_cost_per_hour_usd": 2.5, "gpu_count": 1.0}, "gpu_count"),
    ],
)
def test_bad_backend_settings_are_named(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        LocalBackend(**kwargs).automatic_gpu_cost_per_hour_usd()


class Backend:
    """A backend with automatic train-step metrics whose GPU rate is `rate`; it records
    the models it is asked for a rate for."""

    def __init__(self, rate):
        self.rate = rate
        self.asked = []

    async def register(self, model):
        pass

    def supports_automatic_train_step_metrics(self):
        return True

    def automatic_gpu_cost_per_hour_usd(self, model):
        self.asked.append(model)
        return self.rate


def test_a_backend_rate_that_is_not_a_number_is_refused_by_name(tmp_path):
    model = Model(name="m", project="p", base_path=str(tmp_path))
    asyncio.run(model.register(Backend("3.0")))
    with pytest.raises(ValueError, match="automatic_gpu_cost_per_hour_usd"):
        asyncio.run(model.log(None, split="train", step=1, metrics={"loss/x": 1.0}))


def test_a_backend_rate_getter_gets_the_model(tmp_path):
    backend = Backend(None)
    model = Model(name="m", project="p", base_path=str(tmp_path))
    asyncio.run(model.register(backend))
    asyncio.run(model.log(None, split="train", step=1, metrics={"loss/x": 1.0}))
    # Not asked again when the caller gives costs/gpu itself.
    asyncio.run(model.log(None, split="train", step=2, metrics={"costs/gpu": 1.0}))
    assert backend.asked == [model]
