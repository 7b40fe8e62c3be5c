"""Reliability cases run against art-metrics and openpipe-art 0.5.18, with figures side by side.

    python bench/reliability.py            # every case, both libraries
    python bench/reliability.py --smoke    # small sizes

The same functions back tests/test_reliability.py, which asserts that art-metrics loses nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
from dataclasses import dataclass, field

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# An OpenAI chat response priced by both libraries' built-in catalogs (openai/gpt-4.1:
# $2/M prompt, $8/M completion): 1000 prompt + 100 completion tokens = $0.0028.
JUDGE_RESPONSE = {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
JUDGE_COST = 0.0028


@dataclass
class Outcome:
    expected: dict[str, float]
    recorded: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def lost_fraction(self) -> float:
        want = sum(self.expected.values())
        got = sum(self.recorded.get(k, 0.0) for k in self.expected)
        return max(0.0, (want - got) / want) if want else 0.0

    def exact(self) -> bool:
        return not self.errors and all(
            abs(self.recorded.get(k, 0.0) - v) <= 1e-9 * max(1.0, v)
            for k, v in self.expected.items()
        )


def _collect(outcome: Outcome, row: dict, lock: threading.Lock) -> None:
    with lock:
        for ctx in outcome.expected:
            outcome.recorded[ctx] = outcome.recorded.get(ctx, 0.0) + row.get(f"costs/{ctx}", 0.0)


def threads_case(
    builder_cls, track_api_cost, *, n_threads: int = 8, per_thread: int = 2000
) -> Outcome:
    """`n_threads` threads record costs directly and through `track_api_cost`, half in train and
    half in eval, while another thread flushes both contexts in a loop."""
    root = builder_cls("train")
    contexts = {"train": root, "eval": root.for_cost_context("eval")}
    per_context = n_threads // 2 * per_thread * (0.001 + JUDGE_COST)
    outcome = Outcome(expected={"train": per_context, "eval": per_context})
    lock, stop = threading.Lock(), threading.Event()

    def record(i: int, ctx: str) -> None:
        # Each thread has its own keys, as judges of different rubrics would: new keys arrive
        # after every flush while other threads are checking theirs.
        builder = contexts[ctx]
        judge = track_api_cost(
            source=f"llm_judge/rubric{i}", provider="openai", model_name="openai/gpt-4.1"
        )(lambda: JUDGE_RESPONSE)
        try:
            with builder.activate_context():
                for _ in range(per_thread):
                    builder.add_cost(f"{ctx}/direct{i}", 0.001)
                    judge()
        except Exception as e:  # noqa: BLE001 - counted, not hidden
            outcome.errors.append(f"{type(e).__name__}: {e}")

    def flusher() -> None:
        while not stop.is_set():
            for builder in contexts.values():
                try:
                    _collect(outcome, asyncio.run(builder.flush()), lock)
                except Exception as e:  # noqa: BLE001
                    outcome.errors.append(f"{type(e).__name__}: {e}")

    f = threading.Thread(target=flusher)
    f.start()
    workers = [
        threading.Thread(target=record, args=(i, "train" if i % 2 else "eval"))
        for i in range(n_threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    f.join()
    for builder in contexts.values():
        _collect(outcome, asyncio.run(builder.flush()), lock)
    return outcome


def asyncio_case(builder_cls, track_api_cost, *, n_tasks: int = 1000) -> Outcome:
    """`n_tasks` concurrent tasks judge in train and eval contexts, with flushes in between."""
    root = builder_cls("train")
    contexts = {"train": root, "eval": root.for_cost_context("eval")}

    @track_api_cost(source="llm_judge/correctness", provider="openai", model_name="openai/gpt-4.1")
    async def judge():
        await asyncio.sleep(0)
        return JUDGE_RESPONSE

    per_context = n_tasks // 2 * 3 * JUDGE_COST
    outcome = Outcome(expected={"train": per_context, "eval": per_context})
    lock = threading.Lock()

    async def task(i: int) -> None:
        with contexts["train" if i % 2 else "eval"].activate_context():
            for _ in range(3):
                await judge()

    async def flushes(done: asyncio.Event) -> None:
        while not done.is_set():
            for builder in contexts.values():
                _collect(outcome, await builder.flush(), lock)
            await asyncio.sleep(0)

    async def main() -> None:
        done = asyncio.Event()
        flusher = asyncio.create_task(flushes(done))
        try:
            await asyncio.gather(*(task(i) for i in range(n_tasks)))
        except Exception as e:  # noqa: BLE001
            outcome.errors.append(f"{type(e).__name__}: {e}")
        done.set()
        await flusher
        for builder in contexts.values():
            _collect(outcome, await builder.flush(), lock)

    asyncio.run(main())
    return outcome


def describe(outcome: Outcome) -> str:
    kinds = sorted({e.split(":")[0] for e in outcome.errors})
    errs = f"{len(outcome.errors)} errors ({', '.join(kinds)})" if outcome.errors else "no errors"
    return f"{outcome.lost_fraction():.1%} of cost lost, {errs}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    from art.metrics import MetricsBuilder as RefBuilder
    from art.metrics import track_api_cost as ref_track
    from art_metrics import MetricsBuilder, track_api_cost

    per_thread = 200 if args.smoke else 2000
    n_tasks = 100 if args.smoke else 1000
    print("| case | art-metrics | openpipe-art 0.5.18 |")
    print("| --- | --- | --- |")
    ours = threads_case(MetricsBuilder, track_api_cost, per_thread=per_thread)
    ref = threads_case(RefBuilder, ref_track, per_thread=per_thread)
    print(
        f"| 8 threads × {per_thread} costs (direct + track_api_cost), flusher thread | {describe(ours)} | {describe(ref)} |"
    )
    ours = asyncio_case(MetricsBuilder, track_api_cost, n_tasks=n_tasks)
    ref = asyncio_case(RefBuilder, ref_track, n_tasks=n_tasks)
    print(
        f"| {n_tasks} asyncio tasks judging in train/eval, flushes between | {describe(ours)} | {describe(ref)} |"
    )


if __name__ == "__main__":
    main()
