"""Differential test: random operation sequences through openpipe-art 0.5.18's MetricsBuilder and ours.

Both must return the same flush results and raise the same error types. Inputs stay inside
what both accept the same way: no NaN (we refuse it), no keys with empty segments (we refuse
them), no numeric strings (we refuse them), and no conflicts on the keys that `add_data`,
`add_user_timing` and `add_idle_times` write (the reference applies those calls partially).
"""

import asyncio
import random

import pytest
from art.metrics import MetricsBuilder as RefBuilder
from art_metrics import MetricsBuilder

SEEDS = range(300)

COST_PATHS = [
    "gpu",
    "all",
    "train",
    "train/llm_judge",
    "train/llm_judge/correctness",
    "train/llm_judge/style",
    "eval",
    "eval/judge",
    "eval/judge/a/b",
    "train/tool",
    "x",
    "x/y",
    "step_x",
    "train_x/y",
]
METRIC_KEYS = [
    "time/step_trainer_s",
    "data/step_trainer_tokens",
    "time/step_actor_s",
    "time/actor_s",
    "data/step_actor_tokens",
    "data/custom",
    "data/custom/a",
    "loss/train",
    "train/reward",
    "time/cum/x",
    "costs/cum/all",
    "data/cum",
    "nosection",
    "throughput/step_actor_idle_s",
    "costs/train/judge",
    "time/step_evalx/a",
    "data/num_unique_scenarios",
    "pipeline/x",
]
CONTEXTS = ["train", "eval", " eval ", "custom", "train"]
SCOPES = [None, None, "train", "eval", "other", " "]


def random_value(rng):
    kind = rng.random()
    if kind < 0.5:
        return round(rng.uniform(0, 5), rng.choice([0, 2, 6]))
    if kind < 0.7:
        return rng.randint(0, 1000)
    if kind < 0.8:
        return rng.choice([True, False])
    if kind < 0.9:
        return rng.uniform(-1, 0)
    return 0.0


def random_op(rng):
    r = rng.random()
    if r < 0.3:
        return ("add_cost", rng.choice(COST_PATHS + [""]), random_value(rng))
    if r < 0.5:
        return ("add_metric", rng.choice(METRIC_KEYS), random_value(rng))
    if r < 0.58:
        ids = (
            [f"s{rng.randint(0, 30)}" for _ in range(rng.randint(0, 4))]
            if rng.random() < 0.8
            else None
        )
        return (
            "add_data",
            rng.choice([None, rng.randint(0, 9)]),
            rng.choice([None, rng.randint(0, 5000)]),
            ids,
        )
    if r < 0.64:
        return ("add_user_timing", *(rng.choice([None, random_value(rng)]) for _ in range(3)))
    if r < 0.68:
        return ("add_idle_times", *(rng.choice([None, random_value(rng)]) for _ in range(2)))
    if r < 0.78:
        return ("switch", rng.choice(CONTEXTS), rng.choice(SCOPES))
    if r < 0.95:
        return ("flush",)
    return ("round_trip",)


def apply(builders, root_name, op):
    """Run one op against the current builder of a side; return (outcome, error type)."""
    current = builders[root_name]
    name, *args = op
    if name == "switch":
        ctx, scope = args
        builders[root_name] = builders["root"].for_cost_context(ctx, buffer_scope=scope)
        return None
    if name == "flush":
        return asyncio.run(current.flush())
    if name == "round_trip":
        state = current.state_dict()
        current.load_state_dict(state)
        return None
    getattr(current, name)(*args)
    return None


def run_side(builder_cls, ops):
    root = builder_cls("train")
    builders = {"root": root, "cur": root}
    outcomes = []
    for op in ops:
        try:
            outcomes.append(("ok", apply(builders, "cur", op)))
        except Exception as e:  # noqa: BLE001 - the type is what we compare
            outcomes.append(("error", type(e).__name__))
    state = root.state_dict()
    return outcomes, state


def assert_same(ours, ref, context):
    kind_o, val_o = ours
    kind_r, val_r = ref
    assert kind_o == kind_r, f"{context}: ours {ours!r}, reference {ref!r}"
    if kind_o == "error":
        assert val_o == val_r, context
    elif isinstance(val_o, dict):
        assert set(val_o) == set(val_r), f"{context}: keys differ: {set(val_o) ^ set(val_r)}"
        for k in val_o:
            assert val_o[k] == pytest.approx(val_r[k], rel=1e-9, abs=1e-12), f"{context}: {k}"


@pytest.mark.parametrize("seed", SEEDS)
def test_same_results_as_openpipe_art(seed):
    rng = random.Random(seed)
    ops = [random_op(rng) for _ in range(rng.randint(5, 60))] + [("flush",)]
    ours, our_state = run_side(MetricsBuilder, ops)
    ref, ref_state = run_side(RefBuilder, ops)
    for i, (o, r) in enumerate(zip(ours, ref)):
        assert_same(o, r, f"seed {seed}, op {i} {ops[i]!r}")
    assert set(our_state["unique_scenario_ids"]) == set(ref_state["unique_scenario_ids"])
    assert_same(
        ("ok", our_state["cum_state"]), ("ok", ref_state["cum_state"]), f"seed {seed}: state"
    )


def test_the_sequences_exercise_every_kind_of_outcome():
    """Guard against a generator that drifted into testing nothing."""
    errors, flush_keys = set(), set()
    for seed in SEEDS:
        rng = random.Random(seed)
        ops = [random_op(rng) for _ in range(rng.randint(5, 60))] + [("flush",)]
        outcomes, _ = run_side(MetricsBuilder, ops)
        for kind, val in outcomes:
            if kind == "error":
                errors.add(val)
            elif isinstance(val, dict):
                flush_keys.update(val)
    assert {"ValueError"} <= errors
    for key in [
        "costs/all",
        "costs/cum/all",
        "throughput/avg_trainer_tok_per_s",
        "throughput/avg_actor_tok_per_s",
        "data/cum/num_unique_scenarios",
        "throughput/cum/actor_idle_s",
        "costs/train/llm_judge",
    ]:
        assert key in flush_keys, key
