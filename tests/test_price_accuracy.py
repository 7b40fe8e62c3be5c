"""Accuracy: real SDK responses priced against the providers' published prices (issue #11).

Every expected value is written out by hand as tokens x published USD-per-million rate. The rates
were read on 2026-11-28 from the pages cited per case:

- OPENAI = https://developers.openai.com/api/docs/pricing (standard, flex, priority, batch tables)
- ANTHROPIC = https://platform.claude.com/docs/en/about-claude/pricing (base input, 5m and 1h
  cache writes, cache hits, output; batch 50%; web search $10 per 1,000 searches)
- GOOGLE = https://ai.google.dev/gemini-api/docs/pricing (per-model tables: input by modality,
  context caching, output incl. thinking, >200k-token prompts)

and cross-checked against genai-prices 0.2.3 (pydantic, 2026-11) — the catalog's primary source.
Dated prices cite the change in genai-prices' data (o3's 2025-06-10 cut; gpt-5.6-sol's 2026-08-21
cut). OpenAI responses carry a fixed `created` timestamp (2026-11-20) so an expected value stays
right when later price changes land in the catalog.

Conventions these tests pin down (issue #11), beyond today's API:
- `batch=True` on `add_response_cost(...)` / `track_api_cost(...)` prices batch jobs.
- A stream is priced by passing its collected events (a list) or its final event.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from anthropic.types import (
    Message,
    RawContentBlockDeltaEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
)
from art_metrics import CostTrackingError, MetricsBuilder, track_api_cost
from google.genai import types as gtypes
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseCompletedEvent, ResponseCreatedEvent
from pricing_helpers import anthropic_usage, chat_completion

OPENAI = "https://developers.openai.com/api/docs/pricing"
ANTHROPIC = "https://platform.claude.com/docs/en/about-claude/pricing"
GOOGLE = "https://ai.google.dev/gemini-api/docs/pricing"
READ = "read 2026-11-28"

CREATED = int(dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc).timestamp())
BEFORE_O3_CUT = int(dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc).timestamp())
BEFORE_SOL_CUT = int(dt.datetime(2026, 8, 1, tzinfo=dt.timezone.utc).timestamp())


def M(tokens: int, usd_per_million: float) -> float:
    return tokens * usd_per_million / 1_000_000


# --- SDK response builders ---------------------------------------------------------------------


def oai_chat(
    model,
    prompt,
    completion,
    cached=0,
    *,
    audio_in=None,
    audio_out=None,
    reasoning=None,
    cache_write=None,
    created=CREATED,
    service_tier=None,
) -> ChatCompletion:
    prompt_details: dict[str, Any] = {"cached_tokens": cached}
    if audio_in is not None:
        prompt_details["audio_tokens"] = audio_in
    if cache_write is not None:
        prompt_details["cache_write_tokens"] = cache_write
    completion_details: dict[str, Any] = {}
    if audio_out is not None:
        completion_details["audio_tokens"] = audio_out
    if reasoning is not None:
        completion_details["reasoning_tokens"] = reasoning
    return chat_completion(
        prompt,
        completion,
        model=model,
        created=created,
        service_tier=service_tier,
        prompt_tokens_details=prompt_details,
        completion_tokens_details=completion_details,
    )


def oai_response(
    model,
    input,
    output,
    cached=0,
    *,
    cache_write=0,
    ttl=None,
    reasoning=0,
    created=CREATED,
    service_tier=None,
    with_usage=True,
) -> Response:
    details: dict[str, Any] = {"cached_tokens": cached, "cache_write_tokens": cache_write}
    if ttl is not None:
        details["cache_write_tokens_details"] = {"ttl_30m_tokens": ttl[0], "ttl_12h_tokens": ttl[1]}
    body: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": created,
        "model": model,
        "output": [],
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
        "service_tier": service_tier,
    }
    if with_usage:
        body["usage"] = {
            "input_tokens": input,
            "output_tokens": output,
            "total_tokens": input + output,
            "input_tokens_details": details,
            "output_tokens_details": {"reasoning_tokens": reasoning},
        }
    return Response.model_validate(body)


def anth_usage(
    input,
    output,
    creation=0,
    read=0,
    *,
    split=None,
    searches=None,
    fetches=0,
    service_tier=None,
    speed=None,
) -> dict[str, Any]:
    usage: dict[str, Any] = anthropic_usage(input, output, creation, read, split)["usage"]
    if searches is not None:
        usage["server_tool_use"] = {"web_search_requests": searches, "web_fetch_requests": fetches}
    if service_tier is not None:
        usage["service_tier"] = service_tier
    if speed is not None:
        usage["speed"] = speed
    return usage


def anth_msg(model, *args, **kw) -> Message:
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": anth_usage(*args, **kw),
        }
    )


def modalities(**counts: int) -> list[gtypes.ModalityTokenCount]:
    return [
        gtypes.ModalityTokenCount(modality=gtypes.MediaModality(k.upper()), token_count=v)
        for k, v in counts.items()
    ]


def gem(
    model,
    prompt,
    candidates,
    cached=None,
    *,
    thoughts=None,
    tool_use=None,
    prompt_details=None,
    create_time=None,
) -> gtypes.GenerateContentResponse:
    usage = gtypes.GenerateContentResponseUsageMetadata(
        prompt_token_count=prompt,
        candidates_token_count=candidates,
        cached_content_token_count=cached,
        thoughts_token_count=thoughts,
        tool_use_prompt_token_count=tool_use,
        prompt_tokens_details=prompt_details,
        total_token_count=prompt + candidates + (thoughts or 0) + (tool_use or 0),
    )
    return gtypes.GenerateContentResponse(
        candidates=[
            gtypes.Candidate(
                content=gtypes.Content(role="model", parts=[gtypes.Part(text="ok")]),
                finish_reason=gtypes.FinishReason.STOP,
            )
        ],
        model_version=model,
        usage_metadata=usage,
        create_time=create_time,
    )


def gem_rest(prompt, candidates, cached=0, thoughts=0, audio=0) -> dict[str, Any]:
    """A Gemini REST body as `requests`/`httpx` return it: camelCase `usageMetadata`."""
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
    }
    if cached:
        usage["cachedContentTokenCount"] = cached
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if audio:
        usage["promptTokensDetails"] = [
            {"modality": "TEXT", "tokenCount": prompt - audio},
            {"modality": "AUDIO", "tokenCount": audio},
        ]
    return {"candidates": [], "usageMetadata": usage, "modelVersion": "gemini"}


# --- streams -----------------------------------------------------------------------------------


def oai_chat_stream(model, prompt, completion, cached=0) -> list[ChatCompletionChunk]:
    def chunk(content, usage=None, finish=None):
        return ChatCompletionChunk.model_validate(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": model,
                "choices": []
                if content is None
                else [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
                "usage": usage,
            }
        )

    return [
        chunk("o"),
        chunk("k", finish="stop"),
        chunk(
            None,
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        ),
    ]


def responses_stream(model, input, output, cached=0) -> list[Any]:
    created = ResponseCreatedEvent(
        type="response.created",
        sequence_number=0,
        response=oai_response(model, 0, 0, with_usage=False),
    )
    done = ResponseCompletedEvent(
        type="response.completed",
        sequence_number=5,
        response=oai_response(model, input, output, cached),
    )
    return [created, done]


def anthropic_stream(model, input, output, creation=0, read=0) -> list[Any]:
    start = RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": anth_usage(input, 1, creation, read),
            },
        }
    )
    delta = RawContentBlockDeltaEvent.model_validate(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}
    )
    end = RawMessageDeltaEvent.model_validate(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": output},
        }
    )
    return [start, delta, end]


def gemini_stream(model, prompt, outputs) -> list[gtypes.GenerateContentResponse]:
    """Gemini chunks carry cumulative usage: the last one is the call's usage."""
    return [gem(model, prompt, n) for n in outputs]


# --- cases -------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    response: Callable[[], Any]
    provider: str
    model: str
    expected: float
    cite: str
    kw: dict[str, Any] = field(default_factory=dict)


CASES = [
    # ---- OpenAI: input, cached input, output ----
    # gpt-4.1 $2.00 in / $0.50 cached / $8.00 out (OPENAI, READ)
    Case(
        "openai-gpt-4.1-cached",
        lambda: oai_chat("gpt-4.1", 10_000, 500, 4_000),
        "openai",
        "gpt-4.1",
        M(6_000, 2.0) + M(4_000, 0.5) + M(500, 8.0),
        OPENAI,
    ),
    # gpt-4o $2.50 / $1.25 / $10.00 (OPENAI, READ)
    Case(
        "openai-gpt-4o",
        lambda: oai_chat("gpt-4o", 1_000, 100, 200),
        "openai",
        "gpt-4o",
        M(800, 2.5) + M(200, 1.25) + M(100, 10.0),
        OPENAI,
    ),
    # gpt-4o-2024-05-13 snapshot keeps its own $5.00 / $15.00 (OPENAI, READ)
    Case(
        "openai-gpt-4o-2024-05-13",
        lambda: oai_chat("gpt-4o-2024-05-13", 2_000, 300),
        "openai",
        "gpt-4o-2024-05-13",
        M(2_000, 5.0) + M(300, 15.0),
        OPENAI,
    ),
    # gpt-4o-mini $0.15 / $0.075 / $0.60 (OPENAI, READ)
    Case(
        "openai-gpt-4o-mini",
        lambda: oai_chat("gpt-4o-mini", 50_000, 2_000, 10_000),
        "openai",
        "gpt-4o-mini",
        M(40_000, 0.15) + M(10_000, 0.075) + M(2_000, 0.6),
        OPENAI,
    ),
    # gpt-5-mini $0.25 / $0.025 / $2.00 (OPENAI, READ)
    Case(
        "openai-gpt-5-mini",
        lambda: oai_chat("gpt-5-mini", 20_000, 1_000, 5_000),
        "openai",
        "gpt-5-mini",
        M(15_000, 0.25) + M(5_000, 0.025) + M(1_000, 2.0),
        OPENAI,
    ),
    # gpt-5.4 $2.50 / $0.25 / $15.00 below 272k input (OPENAI, READ)
    Case(
        "openai-gpt-5.4",
        lambda: oai_response("gpt-5.4", 30_000, 2_000, 10_000),
        "openai",
        "gpt-5.4",
        M(20_000, 2.5) + M(10_000, 0.25) + M(2_000, 15.0),
        OPENAI,
    ),
    # gpt-5.4-mini $0.75 / $0.075 / $4.50 (OPENAI, READ)
    Case(
        "openai-gpt-5.4-mini",
        lambda: oai_chat("gpt-5.4-mini", 8_000, 700),
        "openai",
        "gpt-5.4-mini",
        M(8_000, 0.75) + M(700, 4.5),
        OPENAI,
    ),
    # gpt-5.5 $5.00 / $0.50 / $30.00 below 272k (OPENAI, READ)
    Case(
        "openai-gpt-5.5",
        lambda: oai_response("gpt-5.5", 100_000, 4_000, 60_000),
        "openai",
        "gpt-5.5",
        M(40_000, 5.0) + M(60_000, 0.5) + M(4_000, 30.0),
        OPENAI,
    ),
    # o1-mini-2024-09-12 is o1-mini: $1.10 / $0.55 / $4.40 (OPENAI, READ; litellm 1.82.0 had $3/$12)
    Case(
        "openai-o1-mini-snapshot",
        lambda: oai_chat("o1-mini-2024-09-12", 5_000, 2_000, 1_000, reasoning=1_500),
        "openai",
        "o1-mini-2024-09-12",
        M(4_000, 1.1) + M(1_000, 0.55) + M(2_000, 4.4),
        OPENAI,
    ),
    # ---- OpenAI: Responses-only models ----
    # o1-pro $150 / $600 (OPENAI, READ)
    Case(
        "openai-o1-pro",
        lambda: oai_response("o1-pro", 2_000, 1_000, reasoning=800),
        "openai",
        "o1-pro",
        M(2_000, 150.0) + M(1_000, 600.0),
        OPENAI,
    ),
    # o3-pro $20 / $80 (OPENAI, READ)
    Case(
        "openai-o3-pro",
        lambda: oai_response("o3-pro", 3_000, 1_500, reasoning=1_000),
        "openai",
        "o3-pro",
        M(3_000, 20.0) + M(1_500, 80.0),
        OPENAI,
    ),
    # gpt-5-pro $15 / $120 (OPENAI, READ)
    Case(
        "openai-gpt-5-pro",
        lambda: oai_response("gpt-5-pro", 4_000, 2_000, reasoning=1_800),
        "openai",
        "gpt-5-pro",
        M(4_000, 15.0) + M(2_000, 120.0),
        OPENAI,
    ),
    # gpt-5-codex is priced as gpt-5: $1.25 / $0.125 / $10.00 (OPENAI, READ)
    Case(
        "openai-gpt-5-codex",
        lambda: oai_response("gpt-5-codex", 40_000, 3_000, 30_000),
        "openai",
        "gpt-5-codex",
        M(10_000, 1.25) + M(30_000, 0.125) + M(3_000, 10.0),
        OPENAI,
    ),
    # codex-mini-latest $1.50 / $0.375 / $6.00 (OPENAI, READ)
    Case(
        "openai-codex-mini-latest",
        lambda: oai_response("codex-mini-latest", 10_000, 1_000, 2_000),
        "openai",
        "codex-mini-latest",
        M(8_000, 1.5) + M(2_000, 0.375) + M(1_000, 6.0),
        OPENAI,
    ),
    # o3-deep-research $10 / $2.50 cached / $40 (OPENAI, READ)
    Case(
        "openai-o3-deep-research",
        lambda: oai_response("o3-deep-research", 20_000, 5_000, 4_000),
        "openai",
        "o3-deep-research",
        M(16_000, 10.0) + M(4_000, 2.5) + M(5_000, 40.0),
        OPENAI,
    ),
    # ---- OpenAI: reasoning tokens are output tokens, billed once ----
    # o3 $2.00 / $0.50 / $8.00 since 2025-06-10 (OPENAI, READ)
    Case(
        "openai-o3-reasoning",
        lambda: oai_chat("o3", 3_000, 5_000, reasoning=4_500),
        "openai",
        "o3",
        M(3_000, 2.0) + M(5_000, 8.0),
        OPENAI,
    ),
    # ---- OpenAI: cache writes ----
    # gpt-6-sol $2.00 in / $2.50 cache write (30m) / $0.20 cached / $10.00 out (OPENAI, READ)
    Case(
        "openai-responses-cache-write",
        lambda: oai_response("gpt-6-sol", 50_000, 1_000, 10_000, cache_write=20_000),
        "openai",
        "gpt-6-sol",
        M(20_000, 2.0) + M(10_000, 0.2) + M(20_000, 2.5) + M(1_000, 10.0),
        OPENAI,
    ),
    # gpt-6-sol 12-hour cache writes $5.00, 30-minute $2.50 (OPENAI, READ)
    Case(
        "openai-responses-cache-write-ttl",
        lambda: oai_response(
            "gpt-6-sol", 50_000, 1_000, 0, cache_write=30_000, ttl=(10_000, 20_000)
        ),
        "openai",
        "gpt-6-sol",
        M(20_000, 2.0) + M(10_000, 2.5) + M(20_000, 5.0) + M(1_000, 10.0),
        OPENAI,
    ),
    # chat completions report cache writes in prompt_tokens_details.cache_write_tokens (OPENAI, READ)
    Case(
        "openai-chat-cache-write",
        lambda: oai_chat("gpt-6-sol", 12_000, 400, 2_000, cache_write=6_000),
        "openai",
        "gpt-6-sol",
        M(4_000, 2.0) + M(2_000, 0.2) + M(6_000, 2.5) + M(400, 10.0),
        OPENAI,
    ),
    # ---- OpenAI: audio and image modality tokens ----
    # gpt-4o-audio-preview text $2.50 / $10.00, audio $40 / $80 (OPENAI, READ)
    Case(
        "openai-audio-preview",
        lambda: oai_chat(
            "gpt-4o-audio-preview-2024-12-17", 3_000, 2_000, audio_in=1_000, audio_out=1_500
        ),
        "openai",
        "gpt-4o-audio-preview-2024-12-17",
        M(2_000, 2.5) + M(1_000, 40.0) + M(500, 10.0) + M(1_500, 80.0),
        OPENAI,
    ),
    # gpt-realtime text $4 / $16, audio $32 in / $64 out (OPENAI, READ)
    Case(
        "openai-realtime-audio",
        lambda: oai_chat("gpt-realtime", 5_000, 1_000, audio_in=4_000, audio_out=800),
        "openai",
        "gpt-realtime",
        M(1_000, 4.0) + M(4_000, 32.0) + M(200, 16.0) + M(800, 64.0),
        OPENAI,
    ),
    # gpt-audio-mini text $0.60 / $2.40, audio $10 / $20 (OPENAI, READ)
    Case(
        "openai-audio-mini",
        lambda: oai_chat("gpt-audio-mini", 2_000, 1_000, audio_in=2_000, audio_out=1_000),
        "openai",
        "gpt-audio-mini",
        M(2_000, 10.0) + M(1_000, 20.0),
        OPENAI,
    ),
    # ---- OpenAI: long context (>272k input) ----
    # gpt-5.5 above 272k input: $10 / $1.00 / $45 for the whole request (OPENAI, READ)
    Case(
        "openai-gpt-5.5-long-context",
        lambda: oai_response("gpt-5.5", 300_000, 2_000, 100_000),
        "openai",
        "gpt-5.5",
        M(200_000, 10.0) + M(100_000, 1.0) + M(2_000, 45.0),
        OPENAI,
    ),
    # gpt-5.4 above 272k: $5.00 / $0.50 / $22.50 (OPENAI, READ)
    Case(
        "openai-gpt-5.4-long-context",
        lambda: oai_response("gpt-5.4", 280_000, 1_000),
        "openai",
        "gpt-5.4",
        M(280_000, 5.0) + M(1_000, 22.5),
        OPENAI,
    ),
    # ---- OpenAI: service tiers on the response ----
    # gpt-4.1 priority $3.50 / $0.875 / $14.00 (OPENAI priority table, READ)
    Case(
        "openai-priority-chat",
        lambda: oai_chat("gpt-4.1", 10_000, 1_000, 2_000, service_tier="priority"),
        "openai",
        "gpt-4.1",
        M(8_000, 3.5) + M(2_000, 0.875) + M(1_000, 14.0),
        OPENAI,
    ),
    # gpt-5 flex $0.625 / $0.0625 / $5.00 (OPENAI flex table, READ)
    Case(
        "openai-flex-responses",
        lambda: oai_response("gpt-5", 40_000, 4_000, 8_000, service_tier="flex"),
        "openai",
        "gpt-5",
        M(32_000, 0.625) + M(8_000, 0.0625) + M(4_000, 5.0),
        OPENAI,
    ),
    # o3 flex $1.00 / $0.25 / $4.00 (OPENAI flex table, READ)
    Case(
        "openai-flex-o3",
        lambda: oai_chat("o3", 10_000, 2_000, 4_000, reasoning=1_500, service_tier="flex"),
        "openai",
        "o3",
        M(6_000, 1.0) + M(4_000, 0.25) + M(2_000, 4.0),
        OPENAI,
    ),
    # service_tier "default" is the standard price: gpt-4o $2.50 / $10.00 (OPENAI, READ)
    Case(
        "openai-default-tier",
        lambda: oai_chat("gpt-4o", 1_000, 100, service_tier="default"),
        "openai",
        "gpt-4o",
        M(1_000, 2.5) + M(100, 10.0),
        OPENAI,
    ),
    # gpt-5-mini priority $0.45 / $0.045 / $3.60 (OPENAI priority table, READ)
    Case(
        "openai-priority-responses",
        lambda: oai_response("gpt-5-mini", 10_000, 1_000, 5_000, service_tier="priority"),
        "openai",
        "gpt-5-mini",
        M(5_000, 0.45) + M(5_000, 0.045) + M(1_000, 3.6),
        OPENAI,
    ),
    # ---- OpenAI: batch (batch=True) ----
    # gpt-5 batch $0.625 / $0.0625 / $5.00 (OPENAI batch table, READ)
    Case(
        "openai-batch-gpt-5",
        lambda: oai_chat("gpt-5", 20_000, 2_000, 10_000),
        "openai",
        "gpt-5",
        M(10_000, 0.625) + M(10_000, 0.0625) + M(2_000, 5.0),
        OPENAI,
        {"batch": True},
    ),
    # gpt-4o-mini batch $0.075 / $0.30 (OPENAI batch table, READ)
    Case(
        "openai-batch-gpt-4o-mini",
        lambda: oai_chat("gpt-4o-mini", 100_000, 10_000),
        "openai",
        "gpt-4o-mini",
        M(100_000, 0.075) + M(10_000, 0.3),
        OPENAI,
        {"batch": True},
    ),
    # o3-pro batch $10 / $40 (OPENAI batch table, READ)
    Case(
        "openai-batch-o3-pro",
        lambda: oai_response("o3-pro", 5_000, 2_000),
        "openai",
        "o3-pro",
        M(5_000, 10.0) + M(2_000, 40.0),
        OPENAI,
        {"batch": True},
    ),
    # ---- OpenAI: dated prices (the response's own timestamp) ----
    # o3 before 2025-06-10: $10 / $40 (OpenAI cut o3 by 80% on 2025-06-10; genai-prices 0.2.3)
    Case(
        "openai-dated-o3-chat",
        lambda: oai_chat("o3", 1_000, 500, created=BEFORE_O3_CUT),
        "openai",
        "o3",
        M(1_000, 10.0) + M(500, 40.0),
        OPENAI,
    ),
    # same via Responses created_at
    Case(
        "openai-dated-o3-responses",
        lambda: oai_response("o3-2025-04-16", 2_000, 1_000, created=BEFORE_O3_CUT),
        "openai",
        "o3-2025-04-16",
        M(2_000, 10.0) + M(1_000, 40.0),
        OPENAI,
    ),
    # gpt-5.6-sol before 2026-08-21: $5.00 / $30.00 (after: $4 / $20) (genai-prices 0.2.3, READ)
    Case(
        "openai-dated-gpt-5.6-sol",
        lambda: oai_response("gpt-5.6-sol", 10_000, 1_000, created=BEFORE_SOL_CUT),
        "openai",
        "gpt-5.6-sol",
        M(10_000, 5.0) + M(1_000, 30.0),
        OPENAI,
    ),
    # and after the cut: $4.00 / $20.00
    Case(
        "openai-dated-gpt-5.6-sol-after",
        lambda: oai_response("gpt-5.6-sol", 10_000, 1_000),
        "openai",
        "gpt-5.6-sol",
        M(10_000, 4.0) + M(1_000, 20.0),
        OPENAI,
    ),
    # ---- OpenAI: aliases ----
    Case(
        "openai-alias-prefixed",
        lambda: oai_chat("gpt-4.1", 1_000, 100),
        "openai",
        "openai/gpt-4.1",
        M(1_000, 2.0) + M(100, 8.0),
        OPENAI,
    ),
    Case(
        "openai-alias-snapshot",
        lambda: oai_chat("gpt-4.1-2025-04-14", 1_000, 100),
        "OpenAI",
        "gpt-4.1-2025-04-14",
        M(1_000, 2.0) + M(100, 8.0),
        OPENAI,
    ),
    # gpt-5-chat-latest is priced as gpt-5 (OPENAI, READ)
    Case(
        "openai-alias-chat-latest",
        lambda: oai_chat("gpt-5-chat-latest", 1_000, 100),
        "openai",
        "gpt-5-chat-latest",
        M(1_000, 1.25) + M(100, 10.0),
        OPENAI,
    ),
    # ---- OpenAI: streams ----
    Case(
        "openai-stream-chat-final-chunk",
        lambda: oai_chat_stream("gpt-4o", 1_000, 100, 200),
        "openai",
        "gpt-4o",
        M(800, 2.5) + M(200, 1.25) + M(100, 10.0),
        OPENAI,
    ),
    Case(
        "openai-stream-responses-completed",
        lambda: responses_stream("gpt-4.1", 5_000, 500, 1_000),
        "openai",
        "gpt-4.1",
        M(4_000, 2.0) + M(1_000, 0.5) + M(500, 8.0),
        OPENAI,
    ),
    Case(
        "openai-responses-completed-event-alone",
        lambda: responses_stream("gpt-4.1", 5_000, 500, 1_000)[-1],
        "openai",
        "gpt-4.1",
        M(4_000, 2.0) + M(1_000, 0.5) + M(500, 8.0),
        OPENAI,
    ),
    # ---- Anthropic: input, cache writes 5m/1h, cache hits, output ----
    # claude-sonnet-4-5 $3 / 5m $3.75 / 1h $6 / hits $0.30 / $15 (ANTHROPIC, READ)
    Case(
        "anthropic-sonnet-4-5-cache",
        lambda: anth_msg("claude-sonnet-4-5-20250929", 1_000, 500, 2_000, 3_000),
        "anthropic",
        "claude-sonnet-4-5-20250929",
        M(1_000, 3.0) + M(2_000, 3.75) + M(3_000, 0.3) + M(500, 15.0),
        ANTHROPIC,
    ),
    Case(
        "anthropic-cache-write-5m-1h",
        lambda: anth_msg("claude-sonnet-4-5", 1_000, 500, 3_000, 0, split=(1_000, 2_000)),
        "anthropic",
        "claude-sonnet-4-5",
        M(1_000, 3.0) + M(1_000, 3.75) + M(2_000, 6.0) + M(500, 15.0),
        ANTHROPIC,
    ),
    # claude-opus-4-7 $5 / $6.25 / $10 / $0.50 / $25 (ANTHROPIC, READ)
    Case(
        "anthropic-opus-4-7",
        lambda: anth_msg("claude-opus-4-7", 2_000, 1_000, 4_000, 10_000, split=(0, 4_000)),
        "anthropic",
        "claude-opus-4-7",
        M(2_000, 5.0) + M(4_000, 10.0) + M(10_000, 0.5) + M(1_000, 25.0),
        ANTHROPIC,
    ),
    # claude-sonnet-5-5 $2 / $2.50 / $4 / $0.10 / $10 (ANTHROPIC, READ)
    Case(
        "anthropic-sonnet-5-5",
        lambda: anth_msg("claude-sonnet-5-5", 5_000, 800, 1_000, 20_000),
        "anthropic",
        "claude-sonnet-5-5",
        M(5_000, 2.0) + M(1_000, 2.5) + M(20_000, 0.1) + M(800, 10.0),
        ANTHROPIC,
    ),
    # claude-3-5-haiku-latest $0.80 / $1.00 / $0.08 / $4.00 (ANTHROPIC, READ; litellm had $1/$5)
    Case(
        "anthropic-haiku-3-5-latest",
        lambda: anth_msg("claude-3-5-haiku-latest", 10_000, 1_000, 2_000, 5_000),
        "anthropic",
        "claude-3-5-haiku-latest",
        M(10_000, 0.8) + M(2_000, 1.0) + M(5_000, 0.08) + M(1_000, 4.0),
        ANTHROPIC,
    ),
    # claude-haiku-4-5 $1 / $1.25 / $0.10 / $5 (ANTHROPIC, READ)
    Case(
        "anthropic-haiku-4-5",
        lambda: anth_msg("claude-haiku-4-5-20251001", 4_000, 600, 0, 8_000),
        "anthropic",
        "claude-haiku-4-5-20251001",
        M(4_000, 1.0) + M(8_000, 0.1) + M(600, 5.0),
        ANTHROPIC,
    ),
    # claude-opus-4-1 $15 / $18.75 / $1.50 / $75 (ANTHROPIC, READ)
    Case(
        "anthropic-opus-4-1",
        lambda: anth_msg("claude-opus-4-1-20250805", 1_000, 200, 1_000, 1_000),
        "anthropic",
        "claude-opus-4-1-20250805",
        M(1_000, 15.0) + M(1_000, 18.75) + M(1_000, 1.5) + M(200, 75.0),
        ANTHROPIC,
    ),
    # ---- Anthropic: web search ($10 per 1,000 searches) ----
    Case(
        "anthropic-web-search",
        lambda: anth_msg("claude-opus-4-7", 3_000, 700, searches=3),
        "anthropic",
        "claude-opus-4-7",
        M(3_000, 5.0) + M(700, 25.0) + 3 * 10.0 / 1_000,
        ANTHROPIC,
    ),
    Case(
        "anthropic-web-search-sonnet",
        lambda: anth_msg("claude-sonnet-4-5", 1_000, 100, searches=12),
        "anthropic",
        "claude-sonnet-4-5",
        M(1_000, 3.0) + M(100, 15.0) + 12 * 10.0 / 1_000,
        ANTHROPIC,
    ),
    # ---- Anthropic: long context ----
    # claude-sonnet-4-5 above 200k total input: $6 / $7.50 / $0.60 / $22.50 (ANTHROPIC, READ)
    Case(
        "anthropic-sonnet-4-5-long-context",
        lambda: anth_msg("claude-sonnet-4-5", 150_000, 1_000, 0, 60_000),
        "anthropic",
        "claude-sonnet-4-5",
        M(150_000, 6.0) + M(60_000, 0.6) + M(1_000, 22.5),
        ANTHROPIC,
    ),
    # claude-sonnet-4-6: flat $3 / $15 across 1M context since 2026-03-13 (ANTHROPIC, READ)
    Case(
        "anthropic-sonnet-4-6-no-premium",
        lambda: anth_msg("claude-sonnet-4-6", 250_000, 1_000),
        "anthropic",
        "claude-sonnet-4-6",
        M(250_000, 3.0) + M(1_000, 15.0),
        ANTHROPIC,
    ),
    Case(
        "anthropic-sonnet-4-6-prefixed-same",
        lambda: anth_msg("claude-sonnet-4-6", 250_000, 1_000),
        "Anthropic",
        "anthropic/claude-sonnet-4-6",
        M(250_000, 3.0) + M(1_000, 15.0),
        ANTHROPIC,
    ),
    # claude-opus-4-6: flat $5 / $25 since 2026-03-13 (ANTHROPIC, READ)
    Case(
        "anthropic-opus-4-6-no-premium",
        lambda: anth_msg("claude-opus-4-6", 300_000, 2_000),
        "anthropic",
        "claude-opus-4-6",
        M(300_000, 5.0) + M(2_000, 25.0),
        ANTHROPIC,
    ),
    # claude-haiku-5-5 above 100k: $0.50 / $0.05 / $2.50 (ANTHROPIC, READ)
    Case(
        "anthropic-haiku-5-5-long-context",
        lambda: anth_msg("claude-haiku-5-5", 90_000, 1_000, 0, 20_000),
        "anthropic",
        "claude-haiku-5-5",
        M(90_000, 0.5) + M(20_000, 0.05) + M(1_000, 2.5),
        ANTHROPIC,
    ),
    # ---- Anthropic: batch and fast mode ----
    # usage.service_tier == "batch": claude-haiku-4-5 $0.50 / $0.625 / $0.05 / $2.50 (ANTHROPIC batch)
    Case(
        "anthropic-batch-from-usage",
        lambda: anth_msg("claude-haiku-4-5", 4_000, 1_000, 2_000, 6_000, service_tier="batch"),
        "anthropic",
        "claude-haiku-4-5",
        M(4_000, 0.5) + M(2_000, 0.625) + M(6_000, 0.05) + M(1_000, 2.5),
        ANTHROPIC,
    ),
    # batch=True: claude-sonnet-5-5 $1 / $0.05 / $5 (ANTHROPIC batch)
    Case(
        "anthropic-batch-keyword",
        lambda: anth_msg("claude-sonnet-5-5", 10_000, 2_000, 0, 10_000),
        "anthropic",
        "claude-sonnet-5-5",
        M(10_000, 1.0) + M(10_000, 0.05) + M(2_000, 5.0),
        ANTHROPIC,
        {"batch": True},
    ),
    # fast mode (usage.speed == "fast"): claude-opus-4-8 $10 / $50 (ANTHROPIC fast mode, READ)
    Case(
        "anthropic-fast-mode",
        lambda: anth_msg("claude-opus-4-8", 2_000, 1_000, speed="fast"),
        "anthropic",
        "claude-opus-4-8",
        M(2_000, 10.0) + M(1_000, 50.0),
        ANTHROPIC,
    ),
    # ---- Anthropic: stream (message_start + message_delta) ----
    Case(
        "anthropic-stream",
        lambda: anthropic_stream("claude-sonnet-4-5", 1_000, 400, 2_000, 3_000),
        "anthropic",
        "claude-sonnet-4-5",
        M(1_000, 3.0) + M(2_000, 3.75) + M(3_000, 0.3) + M(400, 15.0),
        ANTHROPIC,
    ),
    # ---- Gemini: input, cached, output + thoughts ----
    # gemini-2.5-pro $1.25 / $0.125 / $10 (<=200k) (GOOGLE, READ)
    Case(
        "gemini-2.5-pro-thoughts",
        lambda: gem("gemini-2.5-pro", 10_000, 1_000, 4_000, thoughts=3_000),
        "google",
        "gemini-2.5-pro",
        M(6_000, 1.25) + M(4_000, 0.125) + M(4_000, 10.0),
        GOOGLE,
    ),
    # gemini-2.5-flash $0.30 / $0.03 / $2.50 (GOOGLE, READ)
    Case(
        "gemini-2.5-flash",
        lambda: gem("gemini-2.5-flash", 20_000, 2_000, 10_000, thoughts=1_000),
        "gemini",
        "gemini-2.5-flash",
        M(10_000, 0.3) + M(10_000, 0.03) + M(3_000, 2.5),
        GOOGLE,
    ),
    # gemini-3.5-flash $1.50 / $0.15 / $9.00 (GOOGLE, READ)
    Case(
        "gemini-3.5-flash",
        lambda: gem("gemini-3.5-flash", 8_000, 1_000, 2_000),
        "google",
        "gemini-3.5-flash",
        M(6_000, 1.5) + M(2_000, 0.15) + M(1_000, 9.0),
        GOOGLE,
    ),
    # gemini-flash-latest points at gemini-3.8-flash: $0.75 / $3.75 (GOOGLE, READ)
    Case(
        "gemini-flash-latest",
        lambda: gem("gemini-flash-latest", 4_000, 500),
        "google",
        "gemini-flash-latest",
        M(4_000, 0.75) + M(500, 3.75),
        GOOGLE,
    ),
    # gemini-1.5-flash-8b $0.0375 / $0.15 (<=128k), never $0 (GOOGLE, READ)
    Case(
        "gemini-1.5-flash-8b",
        lambda: gem("gemini-1.5-flash-8b", 100_000, 10_000),
        "google",
        "gemini-1.5-flash-8b",
        M(100_000, 0.0375) + M(10_000, 0.15),
        GOOGLE,
    ),
    # ---- Gemini: modality tokens ----
    # gemini-2.5-flash audio input $1.00 (text $0.30) (GOOGLE, READ)
    Case(
        "gemini-audio-input",
        lambda: gem(
            "gemini-2.5-flash",
            10_000,
            500,
            prompt_details=modalities(text=4_000, audio=6_000),
        ),
        "google",
        "gemini-2.5-flash",
        M(4_000, 0.3) + M(6_000, 1.0) + M(500, 2.5),
        GOOGLE,
    ),
    # gemini-2.0-flash audio input $0.70 (text/image $0.10) (GOOGLE, READ)
    Case(
        "gemini-2.0-flash-audio-image",
        lambda: gem(
            "gemini-2.0-flash",
            10_000,
            1_000,
            prompt_details=modalities(text=2_000, image=3_000, audio=5_000),
        ),
        "google",
        "gemini-2.0-flash",
        M(5_000, 0.1) + M(5_000, 0.7) + M(1_000, 0.4),
        GOOGLE,
    ),
    # ---- Gemini: tool-use prompt tokens are input ----
    Case(
        "gemini-tool-use-prompt",
        lambda: gem("gemini-2.5-flash", 5_000, 500, tool_use=3_000),
        "google",
        "gemini-2.5-flash",
        M(8_000, 0.3) + M(500, 2.5),
        GOOGLE,
    ),
    # ---- Gemini: long context (>200k prompt) ----
    # gemini-2.5-pro >200k: $2.50 / $0.25 / $15 (GOOGLE, READ)
    Case(
        "gemini-2.5-pro-long-context",
        lambda: gem("gemini-2.5-pro", 250_000, 2_000, 50_000),
        "google",
        "gemini-2.5-pro",
        M(200_000, 2.5) + M(50_000, 0.25) + M(2_000, 15.0),
        GOOGLE,
    ),
    # gemini-3.1-pro-preview >200k: $4 / $18 (GOOGLE, READ)
    Case(
        "gemini-3.1-pro-long-context",
        lambda: gem("gemini-3.1-pro-preview", 210_000, 1_000),
        "google",
        "gemini-3.1-pro-preview",
        M(210_000, 4.0) + M(1_000, 18.0),
        GOOGLE,
    ),
    # ---- Gemini: batch ----
    # gemini-2.5-flash batch $0.15 / $1.25 (GOOGLE batch, READ)
    Case(
        "gemini-batch",
        lambda: gem("gemini-2.5-flash", 40_000, 4_000),
        "google",
        "gemini-2.5-flash",
        M(40_000, 0.15) + M(4_000, 1.25),
        GOOGLE,
        {"batch": True},
    ),
    # ---- Gemini: REST camelCase usageMetadata ----
    Case(
        "gemini-rest-camelcase",
        lambda: gem_rest(10_000, 1_000, cached=4_000, thoughts=2_000),
        "google",
        "gemini-2.5-pro",
        M(6_000, 1.25) + M(4_000, 0.125) + M(3_000, 10.0),
        GOOGLE,
    ),
    Case(
        "gemini-rest-camelcase-audio",
        lambda: gem_rest(10_000, 500, audio=6_000),
        "google",
        "gemini-2.5-flash",
        M(4_000, 0.3) + M(6_000, 1.0) + M(500, 2.5),
        GOOGLE,
    ),
    # ---- Gemini: stream (cumulative chunks: the last, never the sum) ----
    Case(
        "gemini-stream-last-chunk",
        lambda: gemini_stream("gemini-2.5-flash", 10_000, [10, 200, 900]),
        "google",
        "gemini-2.5-flash",
        M(10_000, 0.3) + M(900, 2.5),
        GOOGLE,
    ),
    # ---- aliases across providers ----
    Case(
        "gemini-alias-prefixed",
        lambda: gem("gemini-2.5-pro", 1_000, 100),
        "Google",
        "gemini/gemini-2.5-pro",
        M(1_000, 1.25) + M(100, 10.0),
        GOOGLE,
    ),
]


# --- routes: Azure, Bedrock, Vertex, free models, per-request fees (issue #22) ------------------
# Prices are genai-prices 0.2.5's (the catalog's primary source; its `aws` models are Bedrock's
# published prices, regional profiles 10% above `global.`); `test_route_cases_match_genai_prices`
# checks every expected value below against genai-prices' own extract_usage + calc_price.
AWS = "https://aws.amazon.com/bedrock/pricing/ (genai-prices 0.2.5 aws)"
AZURE = "https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/ (genai-prices 0.2.5 azure)"
VERTEX = "https://cloud.google.com/vertex-ai/generative-ai/pricing (genai-prices 0.2.5 google)"
PPLX = "https://docs.perplexity.ai/guides/pricing (genai-prices 0.2.5 perplexity)"
FREE = "https://openrouter.ai/models?max_price=0 (genai-prices 0.2.5: ModelPrice() = $0)"
BEFORE_CARBON_RISE = int(dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc).timestamp())
AFTER_CARBON_RISE = int(dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc).timestamp())


def converse(input, output, read=0, write=0) -> dict[str, Any]:
    """A boto3 `bedrock-runtime` `converse()` response (the usage keys are camelCase)."""
    usage = {
        "inputTokens": input,
        "outputTokens": output,
        "totalTokens": input + output + read + write,
    }
    if read or write:
        usage |= {"cacheReadInputTokens": read, "cacheWriteInputTokens": write}
    return {
        "ResponseMetadata": {"RequestId": "1", "HTTPStatusCode": 200},
        "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 420},
    }


def invoke_model_body(model, *args, **kw) -> dict[str, Any]:
    """`json.loads(bedrock.invoke_model(...)["body"].read())` for a Claude model."""
    return anth_msg(model, *args, **kw).model_dump(mode="json")


def pplx_chat(model, prompt, completion, *, citations=0, reasoning=0, searches=0) -> ChatCompletion:
    """A Perplexity chat completion through the openai SDK (its extra usage fields kept)."""
    response = oai_chat(model, prompt, completion)
    usage = response.usage.model_dump() | {
        "citation_tokens": citations,
        "reasoning_tokens": reasoning,
        "num_search_queries": searches,
        "search_context_size": "low",
    }
    return ChatCompletion.model_validate(response.model_dump() | {"usage": usage})


def gem_at(model, prompt, candidates, when) -> gtypes.GenerateContentResponse:
    return gem(
        model, prompt, candidates, create_time=dt.datetime.fromtimestamp(when, dt.timezone.utc)
    )


def R(id, response, provider, model, expected, cite, genai_provider, **kw) -> Case:
    case = Case(id, response, provider, model, expected, cite, kw)
    ROUTE_GENAI[id] = genai_provider
    return case


ROUTE_GENAI: dict[str, str] = {}
ROUTE_CASES = [
    # ---- Azure OpenAI: OpenAI shapes; Azure's own prices, else OpenAI's (genai-prices' fallback) ----
    R(
        "azure-gpt-4o",
        lambda: oai_chat("gpt-4o", 10_000, 500, 2_000),
        "azure",
        "gpt-4o",
        M(8_000, 2.5) + M(2_000, 1.25) + M(500, 10.0),
        AZURE,
        "azure",
    ),
    R(
        "azure-openai-gpt-4.1",
        lambda: oai_chat("gpt-4.1", 4_000, 300),
        "azure_openai",
        "gpt-4.1",
        M(4_000, 2.0) + M(300, 8.0),
        AZURE,
        "azure",
    ),
    R(
        "azure-o3-snapshot",
        lambda: oai_chat("o3-2025-04-16", 6_000, 2_000, 1_000, reasoning=1_500),
        "azure",
        "o3-2025-04-16",
        M(5_000, 2.0) + M(1_000, 0.5) + M(2_000, 8.0),
        AZURE,
        "azure",
    ),
    R(
        "azure-phi-4",
        lambda: oai_chat("phi-4", 20_000, 1_000),
        "Azure",
        "phi-4",
        M(20_000, 0.125) + M(1_000, 0.5),
        AZURE,
        "azure",
    ),
    R(
        "azure-responses-gpt-5-mini",
        lambda: oai_response("gpt-5-mini", 20_000, 1_000, 5_000),
        "azure-openai",
        "gpt-5-mini",
        M(15_000, 0.25) + M(5_000, 0.025) + M(1_000, 2.0),
        AZURE,
        "azure",
    ),
    # ---- Bedrock Converse: regional profiles (us./eu./apac.) 10% above global. ----
    R(
        "bedrock-converse-us-sonnet-4-5",
        lambda: converse(1_000, 100),
        "bedrock",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        M(1_000, 3.3) + M(100, 16.5),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-global-sonnet-4-5",
        lambda: converse(1_000, 100),
        "bedrock",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        M(1_000, 3.0) + M(100, 15.0),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-eu-cache",
        lambda: converse(2_000, 300, read=10_000, write=4_000),
        "aws",
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        M(2_000, 3.3) + M(10_000, 0.33) + M(4_000, 4.125) + M(300, 16.5),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-apac-opus-4-6",
        lambda: converse(5_000, 800, read=20_000),
        "aws-bedrock",
        "apac.anthropic.claude-opus-4-6-v1:0",
        M(5_000, 5.5) + M(20_000, 0.55) + M(800, 27.5),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-global-opus-4-6",
        lambda: converse(5_000, 800, read=20_000),
        "bedrock",
        "global.anthropic.claude-opus-4-6-v1:0",
        M(5_000, 5.0) + M(20_000, 0.5) + M(800, 25.0),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-in-region-id",
        lambda: converse(3_000, 200),
        "bedrock",
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        M(3_000, 1.1) + M(200, 5.5),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-nova-pro",
        lambda: converse(10_000, 1_000, read=4_000),
        "bedrock",
        "amazon.nova-pro-v1:0",
        M(10_000, 0.8) + M(4_000, 0.2) + M(1_000, 3.2),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-us-nova-pro",
        lambda: converse(10_000, 1_000),
        "bedrock",
        "us.amazon.nova-pro-v1:0",
        M(10_000, 0.8) + M(1_000, 3.2),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-llama-3-3",
        lambda: converse(8_000, 2_000),
        "bedrock",
        "us.meta.llama3-3-70b-instruct-v1:0",
        M(8_000, 0.72) + M(2_000, 0.72),
        AWS,
        "aws",
    ),
    R(
        "bedrock-converse-gpt-6-sol-regional",
        lambda: converse(10_000, 1_000),
        "bedrock",
        "us.openai.gpt-6-sol",
        M(10_000, 2.2) + M(1_000, 11.0),
        AWS,
        "aws",
    ),
    # ---- Bedrock InvokeModel: the Anthropic body (dict, or AnthropicBedrock's Message) ----
    R(
        "bedrock-invoke-body-sonnet-4-5",
        lambda: invoke_model_body("claude-sonnet-4-5-20250929", 1_000, 500, 3_000, 400),
        "bedrock",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        M(1_000, 3.3) + M(3_000, 4.125) + M(400, 0.33) + M(500, 16.5),
        AWS,
        "aws",
    ),
    R(
        "bedrock-invoke-message-us-opus-4-6",
        lambda: anth_msg("claude-opus-4-6", 2_000, 100),
        "bedrock",
        "us.anthropic.claude-opus-4-6-v1:0",
        M(2_000, 5.5) + M(100, 27.5),
        AWS,
        "aws",
    ),
    R(
        "bedrock-invoke-openai-gpt-oss",
        lambda: oai_chat("openai.gpt-oss-120b-1:0", 10_000, 2_000),
        "bedrock",
        "openai.gpt-oss-120b-1:0",
        M(10_000, 0.15) + M(2_000, 0.6),
        AWS,
        "aws",
    ),
    # ---- Vertex AI: Gemini shapes, and Claude on Vertex (Anthropic shapes) ----
    R(
        "vertex-gemini-2.5-flash",
        lambda: gem("gemini-2.5-flash", 10_000, 1_000),
        "vertex_ai",
        "gemini-2.5-flash",
        M(10_000, 0.3) + M(1_000, 2.5),
        VERTEX,
        "google",
    ),
    R(
        "vertex-gemini-4-carbon-before",
        lambda: gem_at("gemini-4-carbon", 10_000, 1_000, BEFORE_CARBON_RISE),
        "google-vertex",
        "gemini-4-carbon",
        M(10_000, 2.0) + M(1_000, 10.0),
        VERTEX,
        "google",
    ),
    R(
        "vertex-gemini-4-carbon-after",
        lambda: gem_at("gemini-4-carbon", 10_000, 1_000, AFTER_CARBON_RISE),
        "vertex",
        "gemini-4-carbon",
        M(10_000, 4.0) + M(1_000, 20.0),
        VERTEX,
        "google",
    ),
    R(
        "vertex-gemini-4-neon",
        lambda: gem("gemini-4-neon", 10_000, 1_000, 2_000),
        "vertex_ai",
        "gemini-4-neon",
        M(8_000, 3.0) + M(2_000, 0.15) + M(1_000, 15.0),
        VERTEX,
        "google",
    ),
    R(
        "gemini-4-hydrogen",
        lambda: gem("gemini-4-hydrogen", 10_000, 1_000),
        "google",
        "gemini-4-hydrogen",
        M(10_000, 1.5) + M(1_000, 7.5),
        GOOGLE,
        "google",
    ),
    R(
        "vertex-claude-sonnet-4-5-at-date",
        lambda: anth_msg("claude-sonnet-4-5", 1_000, 500, 2_000, 400),
        "vertex_ai",
        "claude-sonnet-4-5@20250929",
        M(1_000, 3.0) + M(2_000, 3.75) + M(400, 0.3) + M(500, 15.0),
        VERTEX,
        "google",
    ),
    R(
        "vertex-claude-haiku-4-5",
        lambda: anth_msg("claude-haiku-4-5", 4_000, 300),
        "google-vertex",
        "claude-haiku-4-5@20251001",
        M(4_000, 1.0) + M(300, 5.0),
        VERTEX,
        "google",
    ),
    # ---- new OpenAI models (genai-prices 0.2.5) ----
    R(
        "openai-gpt-6.2-astra",
        lambda: oai_chat("gpt-6.2-astra", 10_000, 1_000, 2_000),
        "openai",
        "gpt-6.2-astra",
        M(8_000, 8.0) + M(2_000, 0.4) + M(1_000, 40.0),
        OPENAI,
        "openai",
    ),
    R(
        "openai-gpt-6.2-sol",
        lambda: oai_response("gpt-6.2-sol", 10_000, 1_000, 2_000),
        "openai",
        "gpt-6.2-sol",
        M(8_000, 2.0) + M(2_000, 0.1) + M(1_000, 10.0),
        OPENAI,
        "openai",
    ),
    # ---- free models: $0, not an error ----
    R(
        "openrouter-free-llama",
        lambda: oai_chat("meta-llama/llama-3.3-70b-instruct:free", 5_000, 500),
        "openrouter",
        "meta-llama/llama-3.3-70b-instruct:free",
        0.0,
        FREE,
        "openrouter",
    ),
    R(
        "openrouter-free-deepcoder",
        lambda: oai_chat("agentica-org/deepcoder-14b-preview:free", 900, 90),
        "openrouter",
        "agentica-org/deepcoder-14b-preview:free",
        0.0,
        FREE,
        "openrouter",
    ),
    R(
        "azure-free-mai-ds-r1",
        lambda: oai_chat("mai-ds-r1:free", 900, 90),
        "azure",
        "mai-ds-r1:free",
        0.0,
        AZURE,
        "azure",
    ),
    # ---- Perplexity: per-request fee, citations, reasoning, searches ----
    R(
        "perplexity-sonar-request-fee",
        lambda: pplx_chat("sonar", 1_000, 100),
        "perplexity",
        "sonar",
        M(1_000, 1.0) + M(100, 1.0) + 12 / 1_000,
        PPLX,
        "perplexity",
    ),
    R(
        "perplexity-sonar-pro-request-fee",
        lambda: pplx_chat("sonar-pro", 2_000, 400),
        "perplexity",
        "sonar-pro",
        M(2_000, 3.0) + M(400, 15.0) + 14 / 1_000,
        PPLX,
        "perplexity",
    ),
    R(
        "perplexity-sonar-reasoning-pro",
        lambda: pplx_chat("sonar-reasoning-pro", 2_000, 400),
        "perplexity",
        "sonar-reasoning-pro",
        M(2_000, 2.0) + M(400, 8.0) + 14 / 1_000,
        PPLX,
        "perplexity",
    ),
    R(
        "perplexity-deep-research",
        lambda: pplx_chat(
            "sonar-deep-research", 3_000, 1_000, citations=5_000, reasoning=20_000, searches=12
        ),
        "perplexity",
        "sonar-deep-research",
        M(3_000, 2.0) + M(1_000, 8.0) + M(5_000, 2.0) + M(20_000, 3.0) + 12 * 5 / 1_000,
        PPLX,
        "perplexity",
    ),
]
CASES += ROUTE_CASES


def price(case: Case) -> float:
    return MetricsBuilder("train").add_response_cost(
        "judge", case.response(), provider=case.provider, model_name=case.model, **case.kw
    )


def test_enough_cases():
    assert len(CASES) >= 60 and len(ROUTE_CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_published_price(case):
    assert price(case) == pytest.approx(case.expected, rel=1e-9, abs=0)


def test_aliases_are_one_model():
    response = oai_chat("gpt-4.1", 1_000, 100, 200)
    b = MetricsBuilder("train")
    costs = {
        name: b.add_response_cost("judge", response, provider=prov, model_name=name)
        for prov, name in [
            ("openai", "gpt-4.1"),
            ("openai", "openai/gpt-4.1"),
            ("OpenAI", "gpt-4.1-2025-04-14"),
            ("openai", "OpenAI/GPT-4.1"),
        ]
    }
    assert len(set(costs.values())) == 1, costs


def test_batch_keyword_on_track_api_cost():
    @track_api_cost(source="judge", provider="openai", model_name="gpt-5", batch=True)
    def judge():
        return oai_chat("gpt-5", 20_000, 2_000, 10_000)

    with MetricsBuilder("train").activate_context() as b:
        judge()
    expected = M(10_000, 0.625) + M(10_000, 0.0625) + M(2_000, 5.0)
    assert b._flush()["costs/train/judge"] == pytest.approx(expected, rel=1e-9)


def test_gemini_stream_is_not_summed():
    chunks = gemini_stream("gemini-2.5-flash", 10_000, [10, 200, 900])
    summed = 3 * M(10_000, 0.3) + M(10 + 200 + 900, 2.5)
    got = MetricsBuilder("train").add_response_cost(
        "judge", chunks, provider="google", model_name="gemini-2.5-flash"
    )
    # The last chunk's (cumulative) usage, once: not the sum, not the first chunk.
    assert got == pytest.approx(M(10_000, 0.3) + M(900, 2.5)) and got < summed / 2


def test_gemini_is_priced_by_its_create_time():
    """The response's own ``create_time`` picks the dated price, as OpenAI's ``created`` does:
    gemini-4-argon doubles on 2026-12-01 ($2 / $10 -> $4 / $20 per million tokens, genai-prices
    0.2.3). The SDK gives a datetime; a REST body, RFC 3339 text (``createTime``)."""
    before = dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.timezone.utc)
    after = dt.datetime(2026, 12, 1, 0, 1, tzinfo=dt.timezone.utc)
    old, new = M(10_000, 2.0) + M(1_000, 10.0), M(10_000, 4.0) + M(1_000, 20.0)

    def cost(response):
        return MetricsBuilder("train").add_response_cost(
            "judge", response, provider="google", model_name="gemini-4-argon"
        )

    assert cost(gem("gemini-4-argon", 10_000, 1_000, create_time=before)) == pytest.approx(old)
    assert cost(gem("gemini-4-argon", 10_000, 1_000, create_time=after)) == pytest.approx(new)
    rest = gem_rest(10_000, 1_000)
    assert cost({**rest, "createTime": "2026-11-30T23:59:00.123456Z"}) == pytest.approx(old)
    assert cost({**rest, "createTime": "2026-11-30T20:00:00-05:00"}) == pytest.approx(new)
    # A stream's chunks carry it too; unreadable text means "now" (today, 2026-11-28 or later).
    chunks = [gem("gemini-4-argon", 10_000, n, create_time=before) for n in (10, 1_000)]
    assert cost(chunks) == pytest.approx(old)
    now = new if dt.date.today() >= dt.date(2026, 12, 1) else old
    assert cost({**rest, "createTime": "yesterday"}) == pytest.approx(now)


@pytest.mark.parametrize(
    "provider, model, near",
    [
        ("openai", "gpt-4.1-nnao", "gpt-4.1-nano"),
        ("anthropic", "claude-opsu-4-7", "claude-opus-4-7"),
        ("google", "gemini-2.5-flsah", "gemini-2.5-flash"),
    ],
)
def test_unknown_model_raises_naming_nearest(provider, model, near):
    # The misspelt names do not contain the near name: the message must name it by itself.
    with pytest.raises(ValueError, match=model) as info:
        MetricsBuilder("train").add_response_cost(
            "judge", oai_chat(model, 1_000, 100), provider=provider, model_name=model
        )
    assert near in str(info.value)


def test_unknown_model_under_track_api_cost_keeps_result():
    response = oai_chat("gpt-4.1-nnao", 1_000, 100)

    @track_api_cost(source="judge", provider="openai", model_name="gpt-4.1-nnao")
    def judge():
        return response

    with MetricsBuilder("train").activate_context() as b:
        with pytest.raises(CostTrackingError) as info:
            judge()
    assert info.value.result is response
    assert "gpt-4.1-nano" in str(info.value) + str(info.value.__cause__)
    assert "costs/train/judge" not in b._flush()


# genai-prices' own reading of each route case's body (its extractors) and its calc_price.
GENAI_CALC = r"""
import datetime as dt, json, sys, warnings
from genai_prices import Usage, calc_price, extract_usage
out = []
for provider, body, when in json.load(sys.stdin):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flavor = "default"
        if provider in ("azure", "openai", "openrouter") and "choices" in body:
            flavor = "chat"
        elif provider in ("azure", "openai") and "output" in body:
            flavor = "responses"
        elif provider in ("aws", "google") and "content" in body and "usage" in body and "input_tokens" in body["usage"]:
            flavor = "anthropic"
        at = dt.datetime.fromtimestamp(when, dt.timezone.utc) if when else None
        if provider == "aws" and "choices" in body:
            # Bedrock's OpenAI-compatible endpoint: genai-prices has no extractor for it.
            u = body["usage"]
            usage = Usage(input_tokens=u["prompt_tokens"], output_tokens=u["completion_tokens"])
            price = calc_price(usage, body["model"], provider_id=provider, genai_request_timestamp=at)
        else:
            usage = extract_usage(body, provider_id=provider, api_flavor=flavor)
            price = usage.calc_price(genai_request_timestamp=at)
        out.append(float(price.total_price))
print(json.dumps(out))
"""


def _body(case: Case) -> tuple[dict[str, Any], int | None]:
    response = case.response()
    if not isinstance(response, dict):
        response = response.model_dump(mode="json", by_alias=True, exclude_none=True)
    when = response.get("created") or response.get("created_at")
    if "createTime" in response:
        when = int(dt.datetime.fromisoformat(response["createTime"]).timestamp())
    return {**response, "model": case.model, "modelVersion": case.model}, when


def test_route_cases_match_genai_prices():
    import json
    import subprocess

    from test_catalog_generator import prices_python

    specs = [[ROUTE_GENAI[c.id], *_body(c)] for c in ROUTE_CASES]
    proc = subprocess.run(
        [prices_python(), "-c", GENAI_CALC],
        input=json.dumps(specs),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    truths = json.loads(proc.stdout)
    wrong = {
        c.id: (c.expected, truth)
        for c, truth in zip(ROUTE_CASES, truths)
        if c.expected != pytest.approx(truth, rel=1e-9, abs=1e-15)
    }
    assert not wrong, wrong
