"""Logs forever into one run directory until killed; used by test_crash_safety.py.

Each row carries ``seq``, from which the test recomputes what the row added: cost 0.5,
one item, and the scenario ids ``id<seq>`` and ``common<seq % 7>``.
"""

import asyncio
import random
import sys

import art_metrics


async def main(base_path: str) -> None:
    art_metrics.Model._compact_min_bytes = 2048  # compact often, to be killed during it too
    model = art_metrics.Model(name="k", project="p", base_path=base_path)
    model.metrics_builder()  # opens (repairs, reconciles) the run directory
    try:
        with open(f"{model.run_dir}/history.jsonl") as f:
            seq = sum(1 for _ in f)
    except FileNotFoundError:
        seq = 0
    rng = random.Random()
    while True:
        builder = model.metrics_builder("train")
        builder.add_data(scenario_ids=[f"id{seq}", f"common{seq % 7}"])
        # Every third row also carries a trajectory group.
        groups = (
            [
                art_metrics.TrajectoryGroup(
                    [art_metrics.Trajectory(reward=1.0), art_metrics.Trajectory(reward=0.0)]
                )
            ]
            if seq % 3 == 0
            else None
        )
        await model.log(
            groups,
            split="train",
            step=seq,
            metrics={"seq": seq, "costs/train/work": 0.5, "data/step_items": 1},
        )
        seq += 1
        if rng.random() < 0.05:
            model.read_state()
        if rng.random() < 0.02:
            model.merge_state({"user": {"last_seq": seq}})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
