"""Memory over a long run of @track_api_cost calls: RSS after warm-up and at the end.

    python bench/leak.py                      # 1,000,000 calls with art-metrics
    python bench/leak.py --calls 200000 --library reference   # openpipe-art 0.5.18

Each call returns an OpenAI chat response priced from the catalog, in the train or the eval
context of an active builder; every 100th call returns a malformed usage (the error path);
both contexts are flushed every 1,000 calls. tests/test_leak.py runs a shorter loop and
asserts that RSS stays flat after warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

GOOD = {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
BAD = {"usage": {"prompt_tokens": -1, "completion_tokens": 100}}


def rss_mib() -> float:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(builder_cls, track_api_cost, *, calls: int, warmup: int) -> tuple[float, float, int]:
    """(RSS after `warmup` calls, RSS after `calls` calls, pricing errors seen), in MiB."""
    train = builder_cls("train")
    contexts = [train, train.for_cost_context("eval")]
    responses = iter(())

    @track_api_cost(source="llm_judge/correctness", provider="openai", model_name="gpt-4o")
    def judge():
        return next(responses)

    errors = 0
    warm_rss = 0.0
    done = 0
    while done < calls:
        # One block of 1,000 calls: 500 per context, then a flush of both.
        for builder in contexts:
            responses = iter([BAD if (done + i) % 100 == 99 else GOOD for i in range(500)])
            with builder.activate_context():
                for _ in range(500):
                    try:
                        judge()
                    except ValueError:
                        errors += 1
            done += 500
        for builder in contexts:
            asyncio.run(builder.flush())
        if warm_rss == 0.0 and done >= warmup:
            warm_rss = rss_mib()
    return warm_rss, rss_mib(), errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=50_000)
    parser.add_argument("--library", choices=["art-metrics", "reference"], default="art-metrics")
    args = parser.parse_args()
    if args.library == "reference":
        from art.metrics import MetricsBuilder, track_api_cost
    else:
        from art_metrics import MetricsBuilder, track_api_cost
    warm, end, errors = run(MetricsBuilder, track_api_cost, calls=args.calls, warmup=args.warmup)
    print(
        f"{args.library}: {args.calls:,} tracked calls ({errors:,} pricing errors), "
        f"RSS after {args.warmup:,} warm-up calls {warm:.1f} MiB, at the end {end:.1f} MiB, "
        f"growth {end - warm:+.1f} MiB"
    )


if __name__ == "__main__":
    main()
