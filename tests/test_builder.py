"""The MetricsBuilder API: every method and rule, errors, activation, threads and tasks."""

import asyncio
import contextvars
import threading

import pytest
from art_metrics import MetricsBuilder


async def test_add_cost_rolls_up_and_accumulates():
    b = MetricsBuilder("train")
    b.add_cost("train/llm_judge/correctness", 0.25)
    b.add_cost("train/llm_judge/correctness", 0.25)
    b.add_cost("gpu", 1.0)
    r = await b.flush()
    assert r["costs/train/llm_judge/correctness"] == 0.5
    assert r["costs/train/llm_judge"] == 0.5
    assert r["costs/train"] == 0.5
    assert r["costs/gpu"] == 1.0
    assert r["costs/all"] == 1.5
    assert r["costs/cum/all"] == 1.5
    assert r["costs/cum/train/llm_judge/correctness"] == 0.5
    b.add_cost("gpu", 2.0)
    r = await b.flush()
    assert r["costs/cum/all"] == 3.5
    assert r["costs/cum/gpu"] == 3.0
    assert "costs/train" not in r


async def test_empty_flush_returns_empty_dict():
    b = MetricsBuilder("train")
    b.add_user_timing(step_actor_s=1.0)
    b.add_data(step_actor_tokens=10)
    assert (await b.flush())["throughput/avg_actor_tok_per_s"] == 10.0
    assert await b.flush() == {}


async def test_add_data_and_unique_scenarios():
    b = MetricsBuilder("train")
    b.add_data(step_num_scenarios=3, step_actor_tokens=300, scenario_ids=["a", "b", 7])
    r = await b.flush()
    assert r["data/step_num_scenarios"] == 3.0
    assert r["data/cum/num_scenarios"] == 3.0
    assert r["data/cum/actor_tokens"] == 300.0
    assert r["data/cum/num_unique_scenarios"] == 3.0
    assert isinstance(r["data/cum/num_unique_scenarios"], float)
    b.add_data(scenario_ids=["a", "c"])
    assert (await b.flush())["data/cum/num_unique_scenarios"] == 4.0
    b.add_data(scenario_ids=[])
    assert await b.flush() == {}
    assert sorted(b.state_dict()["unique_scenario_ids"]) == ["7", "a", "b", "c"]


async def test_user_timing_and_idle_times():
    b = MetricsBuilder("train")
    b.add_user_timing(step_wall_s=10, step_actor_s=4, step_eval_s=2)
    b.add_idle_times(step_trainer_idle_s=1.5, step_actor_idle_s=0.5)
    r = await b.flush()
    assert r["time/cum/wall_s"] == 10.0
    assert r["time/cum/actor_s"] == 4.0
    assert r["time/cum/eval_s"] == 2.0
    assert r["throughput/step_trainer_idle_s"] == 1.5
    assert r["throughput/cum/trainer_idle_s"] == 1.5
    assert r["throughput/cum/actor_idle_s"] == 0.5
    b.add_idle_times(step_trainer_idle_s=1.0)
    r = await b.flush()
    assert r["throughput/cum/trainer_idle_s"] == 2.5
    assert "throughput/cum/actor_idle_s" not in r


async def test_trainer_throughput_from_running_totals():
    b = MetricsBuilder("train")
    b.add_metric("data/step_trainer_tokens", 1000)
    b.add_metric("time/step_trainer_s", 4)
    assert (await b.flush())["throughput/avg_trainer_tok_per_s"] == 250.0
    b.add_metric("data/step_trainer_tokens", 1000)
    r = await b.flush()
    assert r["throughput/avg_trainer_tok_per_s"] == 500.0
    b.add_metric("time/step_trainer_s", 0)
    b.add_metric("data/step_actor_tokens", 5)
    r = await b.flush()
    assert "throughput/avg_actor_tok_per_s" not in r  # no actor seconds yet


async def test_measure_adds_elapsed_time_also_on_error():
    b = MetricsBuilder("train")
    with b.measure("time/step_actor_s"):
        await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError), b.measure("time/step_eval_s"):
        raise RuntimeError("boom")
    r = await b.flush()
    assert r["time/step_actor_s"] >= 0.009
    assert r["time/step_eval_s"] >= 0.0
    assert "time/cum/eval_s" in r


def test_cost_context_attribute_and_constructor_errors():
    assert MetricsBuilder("train").cost_context == "train"
    with pytest.raises(ValueError, match="cost_context must be non-empty"):
        MetricsBuilder("")
    with pytest.raises(TypeError, match="cost_context must be a str"):
        MetricsBuilder(3)


@pytest.mark.parametrize(
    "key, exc, fragment",
    [
        ("nosection", ValueError, "'nosection' must include a section"),
        ("costs/cum/all", ValueError, "reserved cumulative"),
        ("time/cum", ValueError, "reserved cumulative"),
        ("a//b", ValueError, "empty or blank segment"),
        ("/b", ValueError, "empty or blank segment"),
        (5, TypeError, "Metric key must be a str"),
        (None, TypeError, "Metric key must be a str"),
    ],
)
def test_bad_keys(key, exc, fragment):
    b = MetricsBuilder("train")
    with pytest.raises(exc, match=fragment):
        b.add_metric(key, 1.0)
    assert b._pending_len() == 0


@pytest.mark.parametrize(
    "value, exc",
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (float("-inf"), ValueError),
        ("1.5", TypeError),
        (None, TypeError),
        ([1], TypeError),
        (10**400, ValueError),
    ],
)
def test_bad_values_name_the_key(value, exc):
    b = MetricsBuilder("train")
    with pytest.raises(exc, match="time/step_x"):
        b.add_metric("time/step_x", value)
    with pytest.raises(exc, match="costs/train/judge"):
        b.add_cost("train/judge", value)
    assert b._pending_len() == 0


async def test_bools_and_ints_count_as_numbers():
    b = MetricsBuilder("train")
    b.add_metric("train/flag", True)
    b.add_metric("train/flag", 2)
    assert (await b.flush())["train/flag"] == 3.0


async def test_leaf_and_ancestor_conflicts_in_either_order():
    b = MetricsBuilder("train")
    b.add_cost("train", 1.0)
    with pytest.raises(ValueError, match="'costs/train' is already a leaf ancestor"):
        b.add_cost("train/judge", 1.0)
    c = MetricsBuilder("train")
    c.add_cost("train/judge", 1.0)
    with pytest.raises(ValueError, match="ancestor of 'costs/train/judge'"):
        c.add_cost("train", 1.0)
    # After a flush the buffer is empty, so the other shape is allowed again.
    await c.flush()
    c.add_cost("train", 1.0)
    assert (await c.flush())["costs/train"] == 1.0


def test_empty_cost_path():
    with pytest.raises(ValueError, match="Cost path must be non-empty"):
        MetricsBuilder("train").add_cost("", 1.0)


async def test_rejected_calls_leave_the_builder_unchanged():
    b = MetricsBuilder("train")
    b.add_metric("data/step_actor_tokens/x", 1.0)
    with pytest.raises(ValueError):
        b.add_data(step_num_scenarios=2, step_actor_tokens=5, scenario_ids=["s"])
    with pytest.raises(ValueError):
        b.add_user_timing(step_wall_s=1.0, step_actor_s=float("nan"))
    with pytest.raises(TypeError):
        b.add_data(scenario_ids="abc")
    with pytest.raises(TypeError):
        b.add_data(scenario_ids=5)
    assert await b.flush() == {"data/step_actor_tokens/x": 1.0, "data/cum/actor_tokens/x": 1.0}


async def test_for_cost_context_shares_totals_with_separate_buffers():
    train = MetricsBuilder("train")
    assert train.for_cost_context("train") is train
    assert train.for_cost_context(" train ") is train
    evaluator = train.for_cost_context(" eval ")
    assert isinstance(evaluator, MetricsBuilder)
    assert evaluator.cost_context == "eval"
    assert evaluator._buffer_scope == "eval"
    train.add_cost("train/judge", 1.0)
    evaluator.add_cost("eval/judge", 2.0)
    r = await evaluator.flush()
    assert "costs/train/judge" not in r and r["costs/cum/all"] == 2.0
    r = await train.flush()
    assert r["costs/cum/all"] == 3.0
    shared_scope = train.for_cost_context("eval", buffer_scope="train")
    assert shared_scope is not evaluator
    shared_scope.add_cost("eval/x", 1.0)
    assert (await train.flush())["costs/eval/x"] == 1.0
    with pytest.raises(ValueError, match="cost_context must be non-empty"):
        train.for_cost_context("  ")
    with pytest.raises(ValueError, match="buffer_scope must be non-empty"):
        train.for_cost_context("x", buffer_scope=" ")


async def test_subclass_is_preserved_by_for_cost_context():
    class Mine(MetricsBuilder):
        pass

    assert type(Mine("train").for_cost_context("eval")) is Mine


async def test_state_round_trip_drops_pending():
    b = MetricsBuilder("train")
    b.add_cost("train/judge", 1.25)
    b.add_data(scenario_ids=["a", "b"])
    await b.flush()
    state = b.state_dict()
    assert state == {
        "cum_state": {
            "costs/cum/all": 1.25,
            "costs/cum/train": 1.25,
            "costs/cum/train/judge": 1.25,
        },
        "unique_scenario_ids": ["a", "b"],
    }
    b.add_cost("train/judge", 5.0)
    fresh = MetricsBuilder("train")
    fresh.add_cost("train/other", 1.0)
    fresh.load_state_dict(state)
    assert await fresh.flush() == {}
    fresh.add_cost("train/judge", 1.0)
    fresh.add_data(scenario_ids=["b", "c"])
    r = await fresh.flush()
    assert r["costs/cum/all"] == 2.25
    assert r["data/cum/num_unique_scenarios"] == 3.0


@pytest.mark.parametrize(
    "state, exc, fragment",
    [
        ([1, 2], TypeError, "state must be a dict"),
        ({"cum_state": [1]}, TypeError, "cum_state"),
        ({"cum_state": {"costs/cum/all": "x"}}, TypeError, "costs/cum/all"),
        ({"cum_state": {"costs/cum/all": 10**400}}, ValueError, "costs/cum/all"),
        ({"unique_scenario_ids": ["ok", "\udc80"]}, ValueError, r"scenario id '\\udc80'"),
        ({"cum_state": {1: 2.0}}, TypeError, "key must be a str"),
        ({"unique_scenario_ids": 5}, TypeError, "unique_scenario_ids"),
    ],
)
async def test_load_state_dict_wrong_shapes(state, exc, fragment):
    b = MetricsBuilder("train")
    b.add_cost("x", 1.0)
    await b.flush()
    before = b.state_dict()
    b.add_cost("x", 2.0)
    with pytest.raises(exc, match=fragment):
        b.load_state_dict(state)
    assert b.state_dict() == before
    assert (await b.flush())["costs/x"] == 2.0


def test_register_model_pricing_and_extractor_validation():
    b = MetricsBuilder("train")
    b.register_model_pricing(
        "anthropic/my-judge", prompt_per_million=1.2, completion_per_million=4.8
    )
    with pytest.raises(ValueError, match="model_name must be non-empty"):
        b.register_model_pricing("  ", prompt_per_million=1, completion_per_million=1)
    with pytest.raises(ValueError, match="prompt_per_million"):
        b.register_model_pricing("m", prompt_per_million=-1, completion_per_million=1)
    with pytest.raises(TypeError):
        b.register_model_pricing("m", prompt_per_million=1)  # completion is required
    b.register_cost_extractor(" MyProvider ", lambda r: 1.0)
    assert b.for_cost_context("eval")._cost_extractor("myprovider")(None) == 1.0
    with pytest.raises(ValueError, match="provider must be non-empty"):
        b.register_cost_extractor(" ", lambda r: 1.0)
    with pytest.raises(TypeError, match="callable"):
        b.register_cost_extractor("p", 5)


def test_get_active_and_activation():
    with pytest.raises(LookupError):
        MetricsBuilder.get_active()
    b = MetricsBuilder("train")
    with b.activate_context() as active:
        assert active is b
        assert MetricsBuilder.get_active() is b
        e = b.for_cost_context("eval")
        with e.activate_context():
            assert MetricsBuilder.get_active() is e
        assert MetricsBuilder.get_active() is b
    with pytest.raises(LookupError):
        MetricsBuilder.get_active()
    token = b.activate()
    assert MetricsBuilder.get_active() is b
    token.var.reset(token)


async def test_activation_is_per_task():
    b = MetricsBuilder("train")
    seen = {}

    async def worker(name, builder):
        with builder.activate_context():
            await asyncio.sleep(0.01)
            seen[name] = MetricsBuilder.get_active()

    e = b.for_cost_context("eval")
    await asyncio.gather(worker("t", b), worker("e", e))
    assert seen == {"t": b, "e": e}
    with pytest.raises(LookupError):
        MetricsBuilder.get_active()


def test_activation_is_per_thread():
    b = MetricsBuilder("train")
    seen = []

    def other():
        try:
            MetricsBuilder.get_active()
            seen.append("found")
        except LookupError:
            seen.append("none")

    with b.activate_context():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        # A thread started with a copy of this context sees the builder.
        ctx = contextvars.copy_context()
        t = threading.Thread(
            target=lambda: ctx.run(lambda: seen.append(MetricsBuilder.get_active() is b))
        )
        t.start()
        t.join()
    assert seen == ["none", True]


async def test_threads_and_tasks_record_at_once_without_loss():
    root = MetricsBuilder("train")
    contexts = [root, root.for_cost_context("eval")]
    flushed = {"train": 0.0, "eval": 0.0}
    stop = threading.Event()

    def record(i):
        b = contexts[i % 2]
        for _ in range(2000):
            b.add_cost(f"{b.cost_context}/judge{i}", 0.001)

    def flusher():
        while not stop.is_set():
            for b in contexts:
                flushed[b.cost_context] += b._flush().get("costs/all", 0.0)

    async def task(i):
        b = contexts[i % 2]
        with b.activate_context():
            for _ in range(50):
                MetricsBuilder.get_active().add_cost(f"{b.cost_context}/task", 0.01)
                await asyncio.sleep(0)

    f = threading.Thread(target=flusher)
    f.start()
    threads = [threading.Thread(target=record, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    await asyncio.gather(*(task(i) for i in range(100)))
    for t in threads:
        t.join()
    stop.set()
    f.join()
    for b in contexts:
        flushed[b.cost_context] += (await b.flush()).get("costs/all", 0.0)
    expected_each = 4 * 2000 * 0.001 + 50 * 50 * 0.01
    assert flushed["train"] == pytest.approx(expected_each, rel=1e-12)
    assert flushed["eval"] == pytest.approx(expected_each, rel=1e-12)
    assert root.state_dict()["cum_state"]["costs/cum/all"] == pytest.approx(
        2 * expected_each, rel=1e-12
    )


async def test_compensated_sums_do_not_drift():
    b = MetricsBuilder("train")
    for _ in range(1_000_000):
        b.add_cost("x", 0.001)
    r = await b.flush()
    assert abs(r["costs/x"] - 1000.0) / 1000.0 < 1e-12


def test_art_version_belongs_to_the_run():
    """The default stays 0.5.18; a root builder names the version, its run's builders share it."""
    from art_metrics import SUPPORTED_ART_VERSIONS

    assert SUPPORTED_ART_VERSIONS == ("0.5.18", "0.5.23")
    assert MetricsBuilder("train").art_version == "0.5.18"
    root = MetricsBuilder("train", art_version="0.5.23")
    assert root.for_cost_context("eval", buffer_scope="x").art_version == "0.5.23"
    with pytest.raises(ValueError, match=r"0\.5\.18, 0\.5\.23.*'0\.5\.2'"):
        MetricsBuilder("train", art_version="0.5.2")
    with pytest.raises(ValueError, match="differs from the run"):
        MetricsBuilder("eval", art_version="0.5.18", _share_with=root)


def test_helper_arguments_bind_like_python_parameters():
    """The version's names, positional slots, and Python's own TypeErrors for the rest."""
    b = MetricsBuilder("train", art_version="0.5.23")
    b.add_data(2, step_rollout_tokens=10, scenario_ids=["a"])
    with pytest.raises(
        TypeError, match=r"add_data\(\) got multiple values for argument 'step_num_scenarios'"
    ):
        b.add_data(1, step_num_scenarios=1)
    with pytest.raises(TypeError, match=r"takes from 1 to 3 positional arguments but 4 were given"):
        b.add_idle_times(1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'step_actor_idle_s'"):
        b.add_idle_times(step_actor_idle_s=1.0)
    with pytest.raises(TypeError, match="data/step_rollout_tokens"):
        b.add_data(step_rollout_tokens="10")
    row = asyncio.run(b.flush())
    assert row["data/cum/rollout_tokens"] == 10.0 and row["data/cum/num_unique_scenarios"] == 1.0
