"""The differential fuzzer of ``MetricsBuilder``: random operation sequences through
openpipe-art's ``MetricsBuilder`` (the installed version) and ours in that version's dialect.

Both must return the same flush (and, where the reference has it, ``drain_pending``) results,
raise the same error types (a keyword name of the other version is a ``TypeError``) and end
with the same totals. Inputs stay inside what both accept the same way: no NaN, no keys with
empty segments, no numeric strings (we refuse all three), and no conflicts on the keys that
``add_data``, ``add_user_timing`` and ``add_idle_times`` write (the reference applies those
calls partially; we do all or nothing).

Every operation runs on both versions, with the keys and keyword names of both: what one
version manages (0.5.18's actor keys, 0.5.23's trainer-throughput inputs and capacity ratio)
is an ordinary key in the other. ``drain_pending`` runs where the reference has it (0.5.23).
The reference's cost rollups come in string-hash order (0.5.23), ours sorted, so flush results
are compared as mappings; the row tests check order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    # 0.5.18's trainer and actor keys (builder-managed there, ordinary keys in 0.5.23)
    "time/step_trainer_s",
    "data/step_trainer_tokens",
    "time/step_actor_s",
    "data/step_actor_tokens",
    "time/actor_s",
    "throughput/step_actor_idle_s",
    "throughput/step_rollout_idle_s",
    # 0.5.23's trainer throughput inputs
    "time/step_backend_train_s",
    "data/step_trainable_assistant_tokens",
    # totals into the same key as add_user_timing(step_rollout_s=)
    "time/rollout_s",
    # 0.5.23's capacity ratio and its inputs
    "data/step_nominal_schedule_capacity_tokens",
    "data/step_unused_packed_capacity_tokens",
    "data/step_dummy_schedule_capacity_tokens",
    "data/step_unused_and_dummy_ratio",
    "data/unused_and_dummy_ratio",  # summed into the ratio's total key
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
# Keyword calls with both versions' names: each version refuses the other's (TypeError).
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

# The reference has drain_pending (0.5.23; ours has it in both dialects).
CAN_DRAIN = hasattr(RefBuilder, "drain_pending")


def random_value(rng: random.Random) -> float | int | bool:
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


def random_op(rng: random.Random) -> tuple[Any, ...]:
    r = rng.random()
    if r < 0.26:
        return ("add_cost", rng.choice([*COST_PATHS, ""]), random_value(rng))
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
        return ("drain",) if CAN_DRAIN else ("flush",)
    return ("round_trip",)


def sequence(seed: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    return [random_op(rng) for _ in range(rng.randint(5, 60))] + [("flush",)]


def apply(builders: dict[str, Any], op: tuple[Any, ...]) -> tuple[str, dict] | None:
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


Outcome = tuple[str, Any]


def run_side(make_root: Callable[[], Any], ops: Sequence[tuple[Any, ...]]) -> tuple[list, dict]:
    """Each op's outcome (``("ok", result)`` or ``("error", type name)``) and the final state."""
    root = make_root()
    builders = {"root": root, "cur": root}
    outcomes: list[Outcome] = []
    for op in ops:
        try:
            outcomes.append(("ok", apply(builders, op)))
        except Exception as e:  # noqa: BLE001 - the type is what we compare
            outcomes.append(("error", type(e).__name__))
    return outcomes, root.state_dict()


def reference_side(ops: Sequence[tuple[Any, ...]]) -> tuple[list, dict]:
    return run_side(lambda: RefBuilder("train"), ops)


def our_side(ops: Sequence[tuple[Any, ...]], art_version: str) -> tuple[list, dict]:
    return run_side(lambda: MetricsBuilder("train", art_version=art_version), ops)


def assert_same(ours: Outcome, ref: Outcome, context: str) -> None:
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


def check_seed(seed: int, art_version: str) -> None:
    """The sequence of ``seed`` gives the same outcomes and totals on both sides."""
    ops = sequence(seed)
    ref, ref_state = reference_side(ops)
    ours, our_state = our_side(ops, art_version)
    for i, (o, r) in enumerate(zip(ours, ref)):
        assert_same(o, r, f"seed {seed}, op {i} {ops[i]!r}")
    assert set(our_state["unique_scenario_ids"]) == set(ref_state["unique_scenario_ids"])
    assert_same(
        ("ok", ("state", our_state["cum_state"])),
        ("ok", ("state", ref_state["cum_state"])),
        f"seed {seed}: state",
    )


@dataclass
class Coverage:
    """What the sequences reached on the reference side, to guard against a generator that
    drifted into testing nothing."""

    errors: set[str] = field(default_factory=set)
    flush_keys: set[str] = field(default_factory=set)
    # For each flush with the capacity ratio's total: whether it was 0.0 (a zero denominator).
    ratio_zero: set[bool] = field(default_factory=set)
    non_empty_drains: int = 0


def coverage() -> Coverage:
    seen = Coverage()
    for seed in SEEDS:
        outcomes, _ = reference_side(sequence(seed))
        for kind, val in outcomes:
            if kind == "error":
                seen.errors.add(val)
            elif val is not None and val[0] == "flush":
                seen.flush_keys.update(val[1])
                if "data/cum/unused_and_dummy_ratio" in val[1]:
                    seen.ratio_zero.add(val[1]["data/cum/unused_and_dummy_ratio"] == 0.0)
            elif val is not None and val[0] == "drain" and val[1]:
                seen.non_empty_drains += 1
    return seen
