"""Differential test: random operation sequences through openpipe-art 0.5.23's MetricsBuilder
and ours in the 0.5.23 dialect.

Both must return the same flush and ``drain_pending`` results, raise the same error types
(0.5.18's keyword names are a ``TypeError`` in 0.5.23) and end with the same totals. Inputs stay
inside what both accept the same way: no NaN, no keys with empty segments, no numeric strings
(we refuse all three), and no conflicts on the keys that ``add_data``, ``add_user_timing`` and
``add_idle_times`` write (the reference applies those calls partially; we do all or nothing).

The reference's cost rollups come in string-hash order, ours sorted, so flush results are
compared as mappings; tests/differential_0523/test_model_0523.py checks row order.
"""

import asyncio
import random

import api
import pytest
from art.metrics import MetricsBuilder as RefBuilder

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
    # the trainer throughput's inputs in 0.5.23
    "time/step_backend_train_s",
    "data/step_trainable_assistant_tokens",
    # 0.5.18's trainer and actor keys: ordinary keys now
    "time/step_trainer_s",
    "data/step_trainer_tokens",
    "data/step_actor_tokens",
    "time/actor_s",
    # totals into the same key as add_user_timing(step_rollout_s=)
    "time/rollout_s",
    # the capacity ratio and its inputs
    "data/step_nominal_schedule_capacity_tokens",
    "data/step_unused_packed_capacity_tokens",
    "data/step_dummy_schedule_capacity_tokens",
    "data/step_unused_and_dummy_ratio",
    "data/unused_and_dummy_ratio",  # summed into the ratio's total key
    # throughput/step_* is no longer builder-managed: a plain key without a total
    "throughput/step_rollout_idle_s",
    "throughput/step_actor_idle_s",
    "data/custom",
    "data/custom/a",
    "loss/train",
    "train/reward",
    "time/cum/x",
    "costs/cum/all",
    "data/cum",
    "nosection",
    "costs/train/judge",
    "time/step_evalx/a",
    "data/num_unique_scenarios",
    "pipeline/x",
    "objective/score",
    "vllm/num_requests_running",
]
# Keyword calls: 0.5.23's names, and 0.5.18's (a TypeError in 0.5.23).
KEYWORD_CALLS = [
    ("add_data", "step_rollout_tokens"),
    ("add_data", "step_num_scenarios"),
    ("add_user_timing", "step_rollout_s"),
    ("add_user_timing", "step_wall_s"),
    ("add_idle_times", "step_rollout_idle_s"),
    ("add_idle_times", "step_trainer_idle_s"),
    ("add_data", "step_actor_tokens"),
    ("add_user_timing", "step_actor_s"),
    ("add_idle_times", "step_actor_idle_s"),
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
    if r < 0.26:
        return ("add_cost", rng.choice(COST_PATHS + [""]), random_value(rng))
    if r < 0.46:
        return ("add_metric", rng.choice(METRIC_KEYS), random_value(rng))
    if r < 0.52:
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
    if r < 0.57:
        return ("add_user_timing", *(rng.choice([None, random_value(rng)]) for _ in range(3)))
    if r < 0.61:
        return ("add_idle_times", *(rng.choice([None, random_value(rng)]) for _ in range(2)))
    if r < 0.65:
        method, kwarg = rng.choice(KEYWORD_CALLS)
        value = rng.randint(0, 5000) if method == "add_data" else random_value(rng)
        return ("keyword", method, kwarg, value)
    if r < 0.74:
        return ("switch", rng.choice(CONTEXTS), rng.choice(SCOPES))
    if r < 0.88:
        return ("flush",)
    if r < 0.95:
        return ("drain",)
    return ("round_trip",)


def sequence(seed):
    rng = random.Random(seed)
    return [random_op(rng) for _ in range(rng.randint(5, 60))] + [("flush",)]


def apply(builders, op):
    """Run one op against the current builder of a side; return its result."""
    current = builders["cur"]
    name, *args = op
    if name == "switch":
        ctx, scope = args
        builders["cur"] = builders["root"].for_cost_context(ctx, buffer_scope=scope)
        return None
    if name == "flush":
        return ("flush", asyncio.run(current.flush()))
    if name == "drain":
        return ("drain", asyncio.run(current.drain_pending()))
    if name == "round_trip":
        current.load_state_dict(current.state_dict())
        return None
    if name == "keyword":
        method, kwarg, value = args
        getattr(current, method)(**{kwarg: value})
        return None
    getattr(current, name)(*args)
    return None


def run_side(make_root, ops):
    root = make_root()
    builders = {"root": root, "cur": root}
    outcomes = []
    for op in ops:
        try:
            outcomes.append(("ok", apply(builders, op)))
        except Exception as e:  # noqa: BLE001 - the type is what we compare
            outcomes.append(("error", type(e).__name__))
    return outcomes, root.state_dict()


def reference_side(ops):
    return run_side(lambda: RefBuilder("train"), ops)


def assert_same(ours, ref, context):
    kind_o, val_o = ours
    kind_r, val_r = ref
    assert kind_o == kind_r, f"{context}: ours {ours!r}, reference {ref!r}"
    if kind_o == "error":
        assert val_o == val_r, context
    elif val_r is not None:
        (what_o, got), (what_r, want) = val_o, val_r
        assert what_o == what_r, context
        assert set(got) == set(want), f"{context}: keys differ: {set(got) ^ set(want)}"
        for k in want:
            assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), f"{context}: {k}"
    else:
        assert val_o is None, context


@pytest.mark.parametrize("seed", SEEDS)
def test_same_results_as_openpipe_art_0523(seed):
    ops = sequence(seed)
    ref, ref_state = reference_side(ops)
    ours, our_state = run_side(api.builder, ops)
    for i, (o, r) in enumerate(zip(ours, ref)):
        assert_same(o, r, f"seed {seed}, op {i} {ops[i]!r}")
    assert set(our_state["unique_scenario_ids"]) == set(ref_state["unique_scenario_ids"])
    assert_same(
        ("ok", ("state", our_state["cum_state"])),
        ("ok", ("state", ref_state["cum_state"])),
        f"seed {seed}: state",
    )


def test_the_sequences_exercise_every_kind_of_outcome():
    """Guard against a generator that drifted into testing nothing (reference side only)."""
    errors, flush_keys, ratios, drained = set(), set(), set(), 0
    for seed in SEEDS:
        outcomes, _ = reference_side(sequence(seed))
        for kind, val in outcomes:
            if kind == "error":
                errors.add(val)
            elif val is not None and val[0] == "flush":
                flush_keys.update(val[1])
                if "data/cum/unused_and_dummy_ratio" in val[1]:
                    ratios.add(val[1]["data/cum/unused_and_dummy_ratio"] == 0.0)
            elif val is not None and val[0] == "drain" and val[1]:
                drained += 1
    assert {"ValueError", "TypeError"} <= errors
    for key in [
        "costs/all",
        "costs/cum/all",
        "costs/train/llm_judge",
        "throughput/avg_trainer_tok_per_s",
        "throughput/avg_rollout_tok_per_s",
        "data/cum/num_unique_scenarios",
        "data/cum/rollout_tokens",
        "time/cum/rollout_s",
        "time/cum/trainer_idle_s",
        "time/cum/rollout_idle_s",
        "throughput/step_rollout_idle_s",
        "data/cum/unused_and_dummy_ratio",
    ]:
        assert key in flush_keys, key
    # No idle totals under throughput/ any more.
    assert not {k for k in flush_keys if k.startswith("throughput/cum/")}
    assert ratios == {True, False}  # both a zero and a non-zero denominator
    assert drained > 20
