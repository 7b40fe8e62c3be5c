"""Rollouts with two priced judges, run in worker processes (Ray actors, a process pool).

Workers import this module by name, so it holds everything they run. Prices are multiples of
1e6 / 2**24 USD per million tokens: every judge cost is then a whole number of 2**-24 dollars
and every sum of them is exact in binary floating point, in any order, so the tests can ask
for equality with sums computed independently.
"""

from __future__ import annotations

import random
from fractions import Fraction

from art_metrics import MetricsBuilder, track_api_cost
from art_metrics.workers import run_with_metrics
from pricing_helpers import anthropic_message, chat_completion

UNIT = 2**24  # price units per dollar-per-token


def _price(units: int) -> float:
    return units * 1e6 / UNIT


# Price units (one unit = 1e6 / 2**24 USD per million tokens), near the real list prices.
OPENAI_UNITS = {"prompt": 42, "cached": 21, "completion": 168}  # gpt-4o ~ $2.50 / $1.25 / $10
ANTHROPIC_UNITS = {"input": 50, "creation": 63, "read": 5, "output": 252}  # sonnet ~ $3 / $15


@track_api_cost(
    source="judge_gpt",
    provider="openai",
    model_name="gpt-4o",
    prompt_price_per_million=_price(OPENAI_UNITS["prompt"]),
    cached_prompt_price_per_million=_price(OPENAI_UNITS["cached"]),
    completion_price_per_million=_price(OPENAI_UNITS["completion"]),
)
def openai_judge(prompt: int, cached: int, completion: int):
    return chat_completion(prompt=prompt, completion=completion, cached=cached)


@track_api_cost(
    source="judge_claude",
    provider="anthropic",
    model_name="claude-sonnet-4-5",
    prompt_price_per_million=_price(ANTHROPIC_UNITS["input"]),
    cache_creation_price_per_million=_price(ANTHROPIC_UNITS["creation"]),
    cache_read_price_per_million=_price(ANTHROPIC_UNITS["read"]),
    completion_price_per_million=_price(ANTHROPIC_UNITS["output"]),
)
def anthropic_judge(input: int, creation: int, read: int, output: int):
    return anthropic_message(input=input, output=output, creation=creation, read=read)


def rollout(scenario_id: str, attempt: int) -> dict:
    """One rollout: two judge calls with token counts drawn per attempt, and its scenario id."""
    rng = random.Random(f"{scenario_id}/{attempt}")
    prompt = rng.randint(200, 4000)
    gpt = (prompt, rng.randint(0, prompt), rng.randint(1, 500))
    claude = tuple(rng.randint(0, 3000) for _ in range(3)) + (rng.randint(1, 500),)
    openai_judge(*gpt)
    anthropic_judge(*claude)
    MetricsBuilder.get_active().add_data(scenario_ids=[scenario_id])
    return {"scenario_id": scenario_id, "attempt": attempt, "gpt": gpt, "claude": claude}


def cost_of(result: dict) -> Fraction:
    """What a rollout's two judge calls cost, from its token counts (exact)."""
    prompt, cached, completion = result["gpt"]
    o = OPENAI_UNITS
    units = (prompt - cached) * o["prompt"] + cached * o["cached"] + completion * o["completion"]
    a = ANTHROPIC_UNITS
    units += sum(
        n * a[k] for n, k in zip(result["claude"], ("input", "creation", "read", "output"))
    )
    return Fraction(units, UNIT)


def context_of(split: str) -> str:
    return "train" if split == "train" else "eval"


class RolloutWorker:
    """A worker serving train and eval rollouts; keeps what it sent so it can send it again."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, str, int], tuple] = {}

    def rollout(self, split: str, scenario_id: str, attempt: int):
        delivered = run_with_metrics(context_of(split), rollout, scenario_id, attempt)
        self.sent[(split, scenario_id, attempt)] = delivered
        return delivered

    def resend(self, split: str, scenario_id: str, attempt: int):
        """The same (result, PendingMetrics) again, as an at-least-once queue would."""
        return self.sent[(split, scenario_id, attempt)]


def pool_rollout(split: str, scenario_id: str, attempt: int):
    """`rollout` for a process pool: a module-level function, pickled by name."""
    return run_with_metrics(context_of(split), rollout, scenario_id, attempt)


def plain_rollout(scenario_id: str, attempt: int) -> dict:
    """`rollout` without any metrics: the same responses, nothing tracked (the benchmark's
    baseline)."""
    rng = random.Random(f"{scenario_id}/{attempt}")
    prompt = rng.randint(200, 4000)
    gpt = (prompt, rng.randint(0, prompt), rng.randint(1, 500))
    claude = tuple(rng.randint(0, 3000) for _ in range(3)) + (rng.randint(1, 500),)
    openai_judge.__wrapped__(*gpt)
    anthropic_judge.__wrapped__(*claude)
    return {"scenario_id": scenario_id, "attempt": attempt, "gpt": gpt, "claude": claude}
