"""A simulated ART training run, recorded with art_metrics: ``python -m art_metrics demo``.

Nothing is trained and nothing is called over the network: rollouts, judge responses,
timings and token counts are drawn from a seeded random generator, so a run with the same
seed writes the same metrics. Everything else is real: judges are priced by
`track_api_cost` from OpenAI- and Anthropic-shaped responses in the train and eval cost
contexts, rows go through `Model.log` into a run directory, and a rerun resumes it.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
from typing import Any, TextIO

from ._core import gpu_cost_usd
from ._types import ReportMetric
from .costs import track_api_cost
from .model import Model
from .summary import (
    StepSummary,
    cost_breakdown,
    format_breakdown,
    format_header,
    format_step,
    read_history,
    summarize,
)
from .trajectories import Trajectory, TrajectoryGroup

__all__ = ["DEMO_NAME", "DEMO_PROJECT", "run_demo"]

DEMO_PROJECT = "art-metrics-demo"
DEMO_NAME = "demo"
GPU_PRICE_PER_HOUR_USD = 3.00  # one simulated H200
SCENARIOS = [f"scenario-{i:02d}" for i in range(24)]
VAL_SCENARIOS = [f"val-{i:02d}" for i in range(6)]
ROLLOUTS_PER_GROUP = 4
GROUPS_PER_STEP = 4


@track_api_cost(source="judge/correctness", provider="openai", model_name="gpt-4.1-mini")
def correctness_judge(rng: random.Random) -> dict[str, Any]:
    """What an OpenAI chat completion returns, as a dict."""
    prompt, cached = rng.randint(800, 1600), rng.choice([0, 0, 512])
    completion = rng.randint(40, 160)
    return {
        "object": "chat.completion",
        "model": "gpt-4.1-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "correct"}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


@track_api_cost(source="judge/style", provider="anthropic", model_name="claude-3-5-haiku-20241022")
def style_judge(rng: random.Random) -> dict[str, Any]:
    """What an Anthropic message returns, as a dict (with prompt caching)."""
    return {
        "type": "message",
        "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": "concise"}],
        "usage": {
            "input_tokens": rng.randint(300, 900),
            "output_tokens": rng.randint(20, 120),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": rng.choice([0, 1024]),
        },
    }


def _rollout_group(
    rng: random.Random, scenario: str, skill: float, size: int
) -> tuple[TrajectoryGroup, int]:
    """A group of rollouts for one scenario, and the tokens the actor generated."""
    members: list[Trajectory | BaseException] = []
    tokens = 0
    for _ in range(size):
        if rng.random() < 0.05:
            members.append(TimeoutError("rollout timed out"))
            continue
        correct = rng.random() < skill
        turns = rng.randint(1, 5)
        tokens += turns * rng.randint(150, 400)
        correctness_judge(rng)
        members.append(
            Trajectory(
                messages_and_choices=[{"role": "user", "content": f"Solve {scenario}"}],
                reward=1.0 if correct else rng.choice([0.0, 0.25, 0.5]),
                metrics={"correct": correct, "num_turns": turns},
                metadata={"scenario_id": scenario},
            )
        )
    style_judge(rng)
    group = TrajectoryGroup(
        members,
        metadata={"scenario_id": scenario},
        metrics={"difficulty": round(1.0 - skill + rng.uniform(-0.1, 0.1), 3)},
    )
    return group, tokens


async def _train_step(model: Model, rng: random.Random, step: int) -> None:
    skill = 0.35 + 0.5 * (1.0 - math.exp(-step / 4.0))  # the simulated policy improves
    builder = model.metrics_builder("train")
    groups, actor_tokens = [], 0
    with builder.activate_context():  # the judges' costs go to costs/train/judge/...
        for scenario in rng.sample(SCENARIOS, GROUPS_PER_STEP):
            group, tokens = _rollout_group(rng, scenario, skill, ROLLOUTS_PER_GROUP)
            groups.append(group)
            actor_tokens += tokens

    actor_s = actor_tokens / rng.uniform(900.0, 1300.0)  # rollouts at ~1,100 tok/s
    trainer_tokens = actor_tokens + GROUPS_PER_STEP * ROLLOUTS_PER_GROUP * 600  # + prompts
    trainer_s = trainer_tokens / rng.uniform(2500.0, 3500.0)
    wall_s = actor_s + trainer_s + rng.uniform(1.0, 3.0)
    builder.add_user_timing(step_wall_s=wall_s, step_actor_s=actor_s)
    builder.add_data(step_actor_tokens=actor_tokens)
    builder.add_idle_times(step_trainer_idle_s=actor_s * 0.2, step_actor_idle_s=trainer_s * 0.5)
    builder.add_cost("gpu", gpu_cost_usd(wall_s, GPU_PRICE_PER_HOUR_USD))
    await model.log(
        groups,
        split="train",
        step=step,
        metrics={
            "loss/policy": round(0.9 * math.exp(-step / 5.0) + rng.uniform(-0.05, 0.05), 4),
            "loss/entropy": round(1.2 - 0.05 * step + rng.uniform(-0.02, 0.02), 4),
            "data/step_trainer_tokens": trainer_tokens,
            "time/step_trainer_s": trainer_s,
        },
    )


async def _val_step(model: Model, rng: random.Random, step: int) -> None:
    skill = 0.3 + 0.5 * (1.0 - math.exp(-step / 4.0))
    evaluation = model.metrics_builder("eval")
    groups = []
    with evaluation.activate_context():  # costs/eval/judge/...
        for scenario in VAL_SCENARIOS[:3]:
            group, _ = _rollout_group(rng, scenario, skill, 2)
            groups.append(group)
    evaluation.add_user_timing(step_eval_s=rng.uniform(2.0, 4.0))
    await model.log(groups, split="val", step=step)


def _last_step(run_dir: str) -> int:
    try:
        rows = read_history(run_dir)
    except FileNotFoundError:
        return 0
    return max(
        (r["training_step"] for r in rows if isinstance(r.get("training_step"), int)), default=0
    )


class _StepRows:
    """A reporter keeping the rows of the step being logged."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def log(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


async def _run(
    base_path: str,
    steps: int,
    seed: int,
    name: str,
    report_metrics: list[ReportMetric],
    out: TextIO,
) -> list[StepSummary]:
    recorder = _StepRows()
    model = Model(
        name=name,
        project=DEMO_PROJECT,
        base_path=base_path,
        report_metrics=report_metrics,
        reporters=[recorder],
    )
    first = _last_step(model.run_dir) + 1
    if first > 1:
        print(f"Resuming {model.run_dir} after step {first - 1} (totals continue).", file=out)
    print(
        f"Simulating {steps} training steps; rows go to {model.run_dir}/history.jsonl\n", file=out
    )
    print(format_header(), file=out)
    summaries = []
    try:
        for step in range(first, first + steps):
            rng = random.Random(f"{seed}:{step}")  # per step, so a resumed run draws the same
            recorder.rows.clear()
            await _train_step(model, rng, step)
            if step % 2 == 0 or step == first + steps - 1:
                await _val_step(model, rng, step)
            model.flush_reporters()  # the step's rows reach `recorder` from its thread
            (summary,) = summarize(recorder.rows)
            summaries.append(summary)
            print(format_step(summary), file=out, flush=True)
    finally:
        model.close()
    print("\n" + format_breakdown(cost_breakdown(read_history(model.run_dir))), file=out)
    print(f"Run directory: {model.run_dir}", file=out)
    print(f"Summarize it again with: python -m art_metrics summary {model.run_dir}", file=out)
    return summaries


def run_demo(
    base_path: str = ".art",
    steps: int = 6,
    *,
    seed: int = 0,
    name: str = DEMO_NAME,
    report_metrics: list[ReportMetric] | None = None,
    out: TextIO | None = None,
) -> list[StepSummary]:
    """Simulate ``steps`` training steps into ``{base_path}/art-metrics-demo/models/{name}``,
    printing one summary line per step; returns the summaries.

    A second call on the same directory resumes: steps and totals continue.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    return asyncio.run(
        _run(base_path, steps, seed, name, list(report_metrics or []), out or sys.stdout)
    )
