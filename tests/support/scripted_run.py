"""A scripted run through ``Model.log`` in two phases, in openpipe-art 0.5.18's or 0.5.23's
vocabulary: through openpipe-art's own ``art.Model`` (with or without ``install()``) or
``art_metrics.Model`` in that version's dialect.

Phase "first" logs train, val, test and a custom split ("holdout") rows, and on 0.5.23 "sft"
rows and a scratch context's ``drain_pending``; phase "resume" is meant for a second process
(tests/support/run_worker.py) or a fresh Model in the same one: it continues the totals.
Costs come from ``costs/...`` trajectory, group and direct metrics and from judge calls, made
with ``builder.add_cost`` (``judges="add_cost"``) or through the library's ``track_api_cost``
with an OpenAI-shaped response (``judges="track_api_cost"``), in the train, eval and holdout
contexts (and sft). Each flush has at most one intermediate cost rollup (``costs/<context>``):
0.5.23 orders several by string hash.

What it exercises (docs/pages/art-script.md, "openpipe-art 0.5.18 or 0.5.23", has the table of
what differs):
- the builder kwargs of the version (``step_actor_s`` / ``step_rollout_s``, ...) and the
  keys, totals and throughputs they feed;
- 0.5.23's trainer throughput from ``data/step_trainable_assistant_tokens`` and
  ``time/step_backend_train_s``, and its unused-and-dummy capacity ratio (plain keys in 0.5.18);
- ``throughput/step_*`` (builder-managed in 0.5.18 only);
- 0.5.23's new sections (objective, pipeline_settings, queue, sample_efficiency, discarded,
  vllm) and ``reward/...`` no longer being one;
- trajectory metrics under ``{split}/...`` and group metrics (0.5.23: ``{split}/group/...``),
  custom splits, on 0.5.23 ``sft`` prefixing everything but ``sft/...``;
- val/test default data metrics, and the caller passing ``data/step_x`` or
  ``{split}/data/step_x`` instead;
- trainability: rewards 5e-13 apart (distinct in 0.5.18, zero variance in 0.5.23);
- a trajectory metric and a direct metric that qualify to the same row key;
- exceptions, bare trajectories, an exception-only group, an empty batch, NaN in metrics-only
  logs.
"""

from __future__ import annotations

import importlib
import json
import time
from typing import Any, Callable

NAME, PROJECT = "m1", "proj"

# The builder's keyword names that differ: add_user_timing's, add_data's, add_idle_times'.
ROLLOUT_KWARGS = {
    "0.5.18": ("step_actor_s", "step_actor_tokens", "step_actor_idle_s"),
    "0.5.23": ("step_rollout_s", "step_rollout_tokens", "step_rollout_idle_s"),
}


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


def judge_recorder(model_lib: Any, judges: str) -> Callable[[Any, int, int], None]:
    """A function ``judge(builder, prompt_tokens, completion_tokens)`` recording one call."""
    if judges == "add_cost":

        def judge(builder, p, c):
            builder.add_cost(f"{builder.cost_context}/judge", judge_cost(p, c))

        return judge
    track = getattr(model_lib, "track_api_cost", None)
    if track is None:  # openpipe-art exports it from art.metrics only
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
                    "loss/traj_kl": 0.125,
                    "reward/legacy": 0.75,
                },
                metadata={"scenario_id": f"s{step}-a"},
            ),
            T(
                messages_and_choices=msgs,
                reward=0.0,
                metrics={"correct": False, "num_turns": 3, "loss/traj_kl": 0.375},
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
    # Rewards 5e-13 apart: distinct (trainable) in 0.5.18, zero variance in 0.5.23.
    g3 = G([T(reward=0.25), T(reward=0.25 + 5e-13)], metadata={"scenario_id": f"s{step}-c"})
    # Within 1e-12 of the *first* reward counts, so these two differ: the first group is not
    # trainable (both others are 1e-12 from 1e-12), the second is (2e-12 from 0.0).
    g4 = G([T(reward=1e-12), T(reward=0.0), T(reward=2e-12)])
    g5 = G([T(reward=0.0), T(reward=1e-12), T(reward=2e-12)])
    # Only an exception: its metrics are "custom" keys but give no average.
    g6 = G([ValueError("no rollout")], metrics={"difficulty": 9.0, "only_here": 1.0})
    return [g1, g2, g3, g4, g5, g6]


TRAIN_METRICS = {
    "loss/policy": 0.1,
    "entropy": 1.5,
    "costs/train/extra": 0.01,
    "data/step_trainable_assistant_tokens": 800,
    "time/step_backend_train_s": 2.0,
    "data/step_nominal_schedule_capacity_tokens": 4096,
    "data/step_unused_packed_capacity_tokens": 300,
    "data/step_dummy_schedule_capacity_tokens": 100,
    "data/step_unused_and_dummy_ratio": 400 / 4096,
    "throughput/step_custom_tok_per_s": 3.0,
    "objective/score": 0.5,
    "sample_efficiency/batch_factor": 0.9,
    "offpolicy/token_weighted_policy_age_steps": 0.5,
    "pipeline_settings/min_batch_size": 8,
    "queue/put_wait_s": 0.25,
    "discarded/step/stale_groups": 1,
    "vllm/num_requests_running": 4,
    "reward/legacy_direct": 2.0,
    "val/leaked": 7.0,
}


async def first_phase(model_lib: Any, traj_lib: Any, model: Any, judges: str, version: str) -> dict:
    judge = judge_recorder(model_lib, judges)
    rollout_s, rollout_tokens, rollout_idle_s = ROLLOUT_KWARGS[version]
    out: dict[str, Any] = {}

    for step in (1, 2, 3):
        train = model.metrics_builder("train")
        judge(train, 1000, 200)
        judge(train, 2000, 100 * step)
        train.add_user_timing(step_wall_s=10.0 * step, **{rollout_s: 4.0})
        with train.measure("time/step_reward_s"):
            time.sleep(0.001)
        train.add_data(**{rollout_tokens: 1000 * step}, scenario_ids=[f"s{step}-a", "extra"])
        train.add_idle_times(step_trainer_idle_s=1.0, **{rollout_idle_s: 0.5 * step})
        metrics = {k: v * step if k != "entropy" else v for k, v in TRAIN_METRICS.items()}
        groups = make_groups(traj_lib, step, "train", with_exception=(step != 2))
        if step == 3:
            # "entropy" as a trajectory metric and as a direct metric: both are
            # train/entropy in the row (the position of the first, the value of the last).
            groups[1].trajectories[0].metrics["entropy"] = 9.0
        await model.log(groups, split="train", step=step, metrics=metrics)

        judge(model.metrics_builder("eval"), 500, 50)
        val_metrics = {
            1: None,
            2: {"data/step_num_scenarios": 5},  # replaces the default, into the builder
            3: {"val/data/step_num_trajectories": 99},  # replaces the default, as given
        }[step]
        await model.log(
            make_groups(traj_lib, step, "eval"), split="val", step=step, metrics=val_metrics
        )

    # test shares the eval buffer and cost context with val
    judge(model.metrics_builder("eval"), 100, 10)
    await model.log(make_groups(traj_lib, 9, "eval"), split="test", step=3)

    # a custom split has its own context and buffer; its own keys are prefixed twice
    judge(model.metrics_builder("holdout"), 100, 100)
    model.metrics_builder("holdout").add_user_timing(step_eval_s=1.25)
    await model.log(
        make_groups(traj_lib, 7, "holdout"),
        split="holdout",
        step=3,
        metrics={"loss/holdout": 0.5, "plain": 2.0, "holdout/already": 1.0},
    )

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
            "time/step_backend_train_s": 1.0,
        },
    )
    # an empty batch
    await model.log([], split="val", step=3)

    if version == "0.5.18":
        return out
    # sft: per-gradient-step rows as TrainableModel.train_sft writes them in 0.5.23
    sft = model.metrics_builder("sft")
    judge(sft, 300, 30)
    for gradient_step in (1, 2):
        await model.log(
            None,
            split="sft",
            step=4,
            metrics={
                "gradient_step": float(gradient_step),
                "loss/train": 0.5 / gradient_step,
                "loss/grad_norm": 1.25,
                "sft/already": 2.0,
                "time/step_sft_s": 0.5,
            },
        )
    await model.log(make_groups(traj_lib, 8, "sft"), split="sft", step=4, metrics={"extra": 1.0})

    # drain_pending (0.5.23's) hands back a scope's raw step values and leaves the totals alone
    scratch = model.metrics_builder("scratch")
    scratch.add_cost("scratch/judge", 0.5)
    scratch.add_metric("time/step_scratch_s", 2.0)
    scratch.add_data(**{rollout_tokens: 10}, scenario_ids=["never-counted"])
    out["drained"] = await scratch.drain_pending()
    out["drained_again"] = await scratch.drain_pending()
    out["flush_after_drain"] = await scratch.flush()
    return out


async def resume_phase(
    model_lib: Any, traj_lib: Any, model: Any, judges: str, version: str
) -> dict:
    judge = judge_recorder(model_lib, judges)
    judge(model.metrics_builder("train"), 1000, 1000)
    model.metrics_builder("train").add_data(scenario_ids=["s1-a", "brand-new"])
    await model.log(
        make_groups(traj_lib, 4, "train"),
        split="train",
        step=4,
        metrics={"data/step_trainable_assistant_tokens": 100, "time/step_backend_train_s": 0.5},
    )
    # 0.5.23's val no longer adds scenario ids or data totals
    await model.log(make_groups(traj_lib, 5, "eval"), split="val", step=4)
    return {}


def model_factory(model_lib: Any, version: str) -> Callable[..., Any]:
    """``art.Model`` (openpipe-art's, or under ``install()`` ours), or ``art_metrics.Model`` in
    ``version``'s dialect."""
    if model_lib.__name__ == "art_metrics":
        return lambda **kwargs: model_lib.Model(art_version=version, **kwargs)
    return model_lib.Model


async def scripted_run(
    model_lib: Any, traj_lib: Any, base_path: str, phase: str, version: str, judges: str
) -> dict:
    """Runs one phase with a new Model; returns the history rows so far, the state and the
    phase's extras (``drained``, ``drained_again``, ``flush_after_drain`` on 0.5.23)."""
    model = model_factory(model_lib, version)(name=NAME, project=PROJECT, base_path=base_path)
    run = {"first": first_phase, "resume": resume_phase}[phase]
    extras = await run(model_lib, traj_lib, model, judges, version)
    with open(f"{base_path}/{PROJECT}/models/{NAME}/history.jsonl") as f:
        rows = [json.loads(line) for line in f]
    return {"rows": rows, "state": model.read_state(), **extras}


async def in_one_process(
    model_lib: Any, traj_lib: Any, base_path: str, version: str, judges: str
) -> dict:
    """Both phases here, the second with a fresh Model: ``{"first": ..., "resume": ...}`` as
    tests/support/workers.py's ``two_process_run`` returns them."""
    return {
        phase: await scripted_run(model_lib, traj_lib, base_path, phase, version, judges)
        for phase in ("first", "resume")
    }
