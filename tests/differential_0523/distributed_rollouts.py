"""The rollout that test_distributed_0523.py runs through openpipe-art 0.5.23's executors.

``InstalledAsyncCallable`` takes a rollout only by import path (a top-level async function of
an installed module), hence this module. Each rollout pays a judge $0.25 (a real OpenAI SDK
``ChatCompletion``, priced through whichever ``art.metrics.track_api_cost`` is in place when it
runs: ART's, or art_metrics' under ``install()``), records its scenario id and one metric, and
then fails when its scenario says so.
"""

from __future__ import annotations

from typing import Any

import art
import art.metrics
from openai.types.chat import ChatCompletion

JUDGE_USD = 0.25
# 200,000 prompt tokens at $1/M and 25,000 completion tokens at $2/M: $0.20 + $0.05.
PROMPT_TOKENS, PROMPT_PRICE = 200_000, 1.0
COMPLETION_TOKENS, COMPLETION_PRICE = 25_000, 2.0


class RolloutFailed(Exception):
    """The environment broke after the judge was paid."""


def _judge_response() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-judge",
            "object": "chat.completion",
            "created": 1_765_000_000,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "score: 1"},
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }
    )


async def judge() -> ChatCompletion:
    return _judge_response()


async def rollout(model: Any, scenario: dict[str, Any], config: Any) -> float:
    """Pay the judge, record the scenario id and a metric, then fail if the scenario says so."""
    del model, config
    # Looked up at each call, so that install() / uninstall() between tests count.
    tracked = art.metrics.track_api_cost(
        source="judge",
        provider="openai",
        model_name="gpt-4o",
        prompt_price_per_million=PROMPT_PRICE,
        completion_price_per_million=COMPLETION_PRICE,
    )(judge)
    response = await tracked()
    assert isinstance(response, ChatCompletion)
    builder = art.metrics.MetricsBuilder.get_active()
    builder.add_data(scenario_ids=[scenario["id"]])
    builder.add_metric("rollout/judge_calls", 1.0)
    if scenario.get("fail"):
        raise RolloutFailed(f"scenario {scenario['id']} broke after its judge was paid")
    return 1.0


async def group_rollout(model: Any, scenario: dict[str, Any], config: Any) -> art.TrajectoryGroup:
    """:func:`rollout`, returning a trajectory group (what a result queue stores)."""
    reward = await rollout(model, scenario, config)
    return art.TrajectoryGroup([art.Trajectory(reward=reward, messages_and_choices=[])])
