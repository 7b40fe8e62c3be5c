"""A few steps of a simulated training loop, recorded with art_metrics.MetricsBuilder."""

import asyncio
import random

from art_metrics import MetricsBuilder


async def main() -> None:
    rng = random.Random(0)
    train = MetricsBuilder("train")
    evaluation = train.for_cost_context("eval")
    for step in range(1, 4):
        with train.measure("time/step_actor_s"):
            await asyncio.sleep(0.01)  # rollouts would run here
        train.add_data(
            step_num_scenarios=8,
            step_actor_tokens=4096,
            scenario_ids=[f"s{rng.randint(0, 20)}" for _ in range(8)],
        )
        train.add_cost("train/llm_judge/correctness", 0.002 * rng.randint(1, 5))
        evaluation.add_cost("eval/llm_judge/correctness", 0.001)
        train.add_idle_times(step_actor_idle_s=0.5)
        row = await train.flush()
        eval_row = await evaluation.flush()
        print(
            f"step {step}: train cost ${row['costs/train']:.4f}, eval cost ${eval_row['costs/eval']:.4f}, "
            f"total so far ${eval_row['costs/cum/all']:.4f}, "
            f"unique scenarios {row['data/cum/num_unique_scenarios']:.0f}, "
            f"actor {row['throughput/avg_actor_tok_per_s']:.0f} tok/s"
        )


if __name__ == "__main__":
    asyncio.run(main())
