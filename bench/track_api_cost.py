"""Overhead of a @track_api_cost call (OpenAI dict response, active builder) over the bare call.

    python bench/track_api_cost.py            # art_metrics
    python bench/track_api_cost.py reference  # openpipe-art 0.5.18, for comparison

Build the extension in release mode first (`maturin develop -r`).
"""

import logging
import os
import sys
import timeit

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

RESPONSE = {
    "usage": {
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "prompt_tokens_details": {"cached_tokens": 200},
    }
}


def main() -> None:
    reference = sys.argv[1:] == ["reference"]
    if reference:
        logging.disable(logging.CRITICAL)
        from art.metrics import MetricsBuilder, track_api_cost
    else:
        from art_metrics import MetricsBuilder, track_api_cost

    def bare():
        return RESPONSE

    tracked = track_api_cost(
        source="llm_judge/correctness", provider="openai", model_name="gpt-4o"
    )(bare)
    MetricsBuilder("train").activate()
    tracked()
    n = 20_000 if reference else 200_000

    def best(f):
        return min(timeit.repeat(f, number=n, repeat=7)) / n * 1e9

    t_bare, t_tracked = best(bare), best(tracked)
    name = "openpipe-art" if reference else "art_metrics"
    print(
        f"{name}: bare {t_bare:.0f} ns, decorated {t_tracked:.0f} ns, overhead {t_tracked - t_bare:.0f} ns"
    )


if __name__ == "__main__":
    main()
