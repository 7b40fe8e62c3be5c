"""A scripted run through ``Model.log``, usable with openpipe-art 0.5.18 or art_metrics.

Costs come from ``costs/...`` trajectory and group metrics and from judge calls, recorded
either with ``builder.add_cost`` (``judges="add_cost"``) or through each library's
``track_api_cost`` with an OpenAI-shaped response, in the train, eval and holdout contexts
(``judges="track_api_cost"``).

Manual use:  METRICS_IMPL=art|art_metrics [JUDGES=track_api_cost] python tests/scripted_run.py BASE_PATH
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
from typing import Any


def judge_cost(prompt_tokens: int, completion_tokens: int) -> float:
    """What the judge would cost at $1.5 / $6 per million tokens."""
    return prompt_tokens * 1.5 / 1e6 + completion_tokens * 6.0 / 1e6


def judge_response(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def judge_recorder(model_lib: Any, judges: str):
    """A function ``judge(builder, prompt_tokens, completion_tokens)`` recording one call."""
    if judges == "add_cost":

        def judge(builder, p, c):
            builder.add_cost(f"{builder.cost_context}/judge", judge_cost(p, c))

        return judge
    track = getattr(model_lib, "track_api_cost", None)
    if track is None:  # the reference exports it from art.metrics only
        track = importlib.import_module(model_lib.__name__ + ".metrics").track_api_cost
    priced = track(
        source="judge",
        provider="openai",
        model_name="openai/gpt-4.1",
        prompt_price_per_million=1.5,
        completion_price_per_million=6.0,
    )(judge_response)

    def judge(builder, p, c):
        with builder.activate_context():
            priced(p, c)

    return judge


def make_groups(lib: Any, step: int, ctx: str, *, with_exception: bool = True) -> list:
    msgs = [
        {"role": "user", "content": f"question {step}"},
        {"role": "assistant", "content": "answer"},
    ]
    T, G = lib.Trajectory, lib.TrajectoryGroup
    g1 = G(
        [
            T(
                messages_and_choices=msgs,
                reward=1.0,
                metrics={
                    "correct": True,
                    "num_turns": 2,
                    "latency_s": 0.5,
                    f"costs/{ctx}/rollout": 0.001,
                    "time/step_tool_s": 0.25,
                },
                metadata={"scenario_id": f"s{step}-a"},
            ),
            T(
                messages_and_choices=msgs,
                reward=0.0,
                metrics={"correct": False, "num_turns": 3},
                metadata={"scenario_id": f"s{step}-a"},
            ),
        ]
        + ([RuntimeError("rollout failed")] if with_exception else []),
        metadata={"scenario_id": f"s{step}-a"},
        metrics={"difficulty": 0.25 * step, "solved": True, f"costs/{ctx}/group": 0.002},
    )
    g2 = G(
        [
            T(messages_and_choices=msgs, reward=0.5, metrics={"correct": True}),
            T(messages_and_choices=msgs, reward=0.5, metrics={"correct": True}),
            T(
                messages_and_choices=msgs,
                reward=0.5,
                metrics={"correct": False},
                metadata={"scenario_id": step * 7},
            ),
        ],
        metrics={"difficulty": 1.0},
    )
    return [g1, g2]


async def scripted_run(
    model_lib: Any, traj_lib: Any, base_path: str, judges: str = "add_cost"
) -> dict:
    """Runs the script; returns the history rows and the final state."""
    judge = judge_recorder(model_lib, judges)
    name, project = "m1", "proj"
    run_dir = f"{base_path}/{project}/models/{name}"
    model = model_lib.Model(name=name, project=project, base_path=base_path)

    for step in (1, 2, 3):
        train = model.metrics_builder("train")
        judge(train, 1000, 200)
        judge(train, 2000, 100 * step)
        train.add_user_timing(step_wall_s=10.0 * step, step_actor_s=4.0)
        with train.measure("time/step_reward_s"):
            time.sleep(0.001)
        train.add_data(step_actor_tokens=1000 * step, scenario_ids=[f"s{step}-a", "extra"])
        train.add_idle_times(step_trainer_idle_s=1.0, step_actor_idle_s=0.5 * step)
        await model.log(
            make_groups(traj_lib, step, "train", with_exception=(step != 2)),
            split="train",
            step=step,
            metrics={"loss/policy": 0.1 * step, "costs/train/extra": 0.01, "entropy": 1.5},
        )
        judge(model.metrics_builder("eval"), 500, 50)
        await model.log(make_groups(traj_lib, step, "eval"), split="val", step=step)

    # test shares the eval buffer and cost context with val
    judge(model.metrics_builder("eval"), 100, 10)
    await model.log(make_groups(traj_lib, 9, "eval"), split="test", step=3)

    # a custom split has its own context and buffer, and every key is prefixed
    judge(model.metrics_builder("holdout"), 100, 100)
    await model.log(make_groups(traj_lib, 7, "holdout"), split="holdout", step=3)

    # bare trajectories and exceptions form one group
    T = traj_lib.Trajectory
    await model.log([T(reward=0.2), T(reward=0.4), ValueError("boom")], split="val", step=3)

    # metrics only, with NaN (left out of history.jsonl)
    await model.log(
        None,
        split="train",
        step=3,
        metrics={
            "loss/kl": float("nan"),
            "custom_metric": 1.5,
            "time/step_trainer_s": 2.0,
            "data/step_trainer_tokens": 500,
        },
    )
    # an empty batch
    await model.log([], split="val", step=3)

    # a fresh Model on the same directory resumes the totals
    resumed = model_lib.Model(name=name, project=project, base_path=base_path)
    judge(resumed.metrics_builder("train"), 1000, 1000)
    resumed.metrics_builder("train").add_data(scenario_ids=["s1-a", "brand-new"])
    await resumed.log(make_groups(traj_lib, 4, "train"), split="train", step=4)

    with open(f"{run_dir}/history.jsonl") as f:
        rows = [json.loads(line) for line in f]
    return {"rows": rows, "state": resumed.read_state()}


def main() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    lib = importlib.import_module(os.environ.get("METRICS_IMPL", "art"))
    out = asyncio.run(scripted_run(lib, lib, sys.argv[1], os.environ.get("JUDGES", "add_cost")))
    for row in out["rows"]:
        print(json.dumps(row))
    print(json.dumps(out["state"], indent=2))


if __name__ == "__main__":
    main()
