"""Responses used by the pricing tests: dicts and real openai/anthropic SDK objects."""

from typing import Any

from anthropic.types import Message
from openai.types.chat import ChatCompletion
from openai.types.responses import Response


def openai_usage(prompt=1000, completion=100, cached=200) -> dict[str, Any]:
    return {
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
    }


def anthropic_usage(input=1000, output=100, creation=300, read=400, split=None) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": input,
        "output_tokens": output,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
    }
    if split is not None:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": split[0],
            "ephemeral_1h_input_tokens": split[1],
        }
    return {"usage": usage}


def chat_completion(
    prompt=1000,
    completion=100,
    cached=200,
    *,
    model="gpt-4o",
    created=1,
    service_tier=None,
    **usage_extra,
) -> ChatCompletion:
    """An openai ``ChatCompletion``; ``usage_extra`` adds to (or replaces) its usage fields."""
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "service_tier": service_tier,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "ok"},
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
                **usage_extra,
            },
        }
    )


def anthropic_message(input=1000, output=100, creation=300, read=400, split=None) -> Message:
    usage = anthropic_usage(input, output, creation, read, split)["usage"]
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
    )


def responses_response(input=1000, output=100, cached=200) -> Response:
    return Response.model_validate(
        {
            "id": "resp_1",
            "object": "response",
            "created_at": 1,
            "model": "gpt-4o",
            "output": [],
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": input,
                "output_tokens": output,
                "total_tokens": input + output,
                "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
    )


def t2c(tokens, per_million):
    return float(tokens) * per_million / 1_000_000
