"""SDK response objects are priced exactly as their `model_dump()` dicts (issue #20).

Reading an SDK object avoids pydantic's raising `__getattr__` (src/response/shape.rs):
these tests pin that the shortcut reads what `getattr(obj, key, None)` would, for the real
openai, anthropic, google-genai and litellm types and for every other shape an object can have.
"""

import asyncio
import dataclasses
import datetime as dt
import pathlib
import subprocess
import sys
import types
from collections.abc import Mapping
from typing import Any

import pytest
from art_metrics import MetricsBuilder, track_api_cost
from litellm import ModelResponse
from litellm import Usage as LitellmUsage
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ConfigDict, PrivateAttr
from test_price_accuracy import (
    CASES,
    anth_msg,
    anthropic_stream,
    gem,
    gemini_stream,
    modalities,
    oai_chat,
    oai_chat_stream,
    oai_response,
    responses_stream,
)

USAGE = {"prompt_tokens": 1_000, "completion_tokens": 100}
USAGE_COST = 1_000 * 2.5 / 1e6 + 100 * 10 / 1e6  # gpt-4o


def price(response: Any, provider: str, model: str, **kw: Any) -> float:
    return MetricsBuilder("train").add_response_cost(
        "judge", response, provider=provider, model_name=model, **kw
    )


def dumped(response: Any, **kw: Any) -> Any:
    """The response as plain Python data: `model_dump()` of the object or of each event."""
    if isinstance(response, (list, tuple)):
        return [dumped(e, **kw) for e in response]
    return response.model_dump(warnings=False, **kw)


def litellm_response(prompt=1_234, completion=56, cached=200) -> ModelResponse:
    return ModelResponse(
        id="chatcmpl-1",
        created=1_764_000_000,
        model="gpt-4.1",
        object="chat.completion",
        choices=[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant"}}],
        usage=LitellmUsage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            prompt_tokens_details={"cached_tokens": cached},
        ),
    )


SDK_CASES = [
    ("chat_completion", lambda: oai_chat("gpt-4.1", 10_000, 500, 4_000), "openai", "gpt-4.1"),
    (
        "chat_completion_everything",
        lambda: oai_chat(
            "gpt-4o-audio-preview-2024-12-17",
            3_000,
            2_000,
            500,
            audio_in=1_000,
            audio_out=1_500,
            reasoning=100,
            service_tier="priority",
        ),
        "openai",
        "gpt-4o-audio-preview-2024-12-17",
    ),
    (
        "chat_completion_reported_cost",
        lambda: ChatCompletion.model_validate(
            oai_chat("gpt-4o", 1_000, 100).model_dump()
            | {"usage": USAGE | {"total_tokens": 1_100, "cost": 0.25}}
        ),
        "openai",
        "gpt-4o",
    ),
    (
        "chat_completion_chunks",
        lambda: oai_chat_stream("gpt-4o", 1_000, 100, 200),
        "openai",
        "gpt-4o",
    ),
    (
        "responses_response",
        lambda: oai_response("gpt-6-sol", 50_000, 1_000, 10_000, cache_write=20_000, ttl=(5, 7)),
        "openai",
        "gpt-6-sol",
    ),
    (
        "responses_stream",
        lambda: responses_stream("gpt-4.1", 5_000, 500, 1_000),
        "openai",
        "gpt-4.1",
    ),
    (
        "anthropic_message",
        lambda: anth_msg(
            "claude-sonnet-4-5", 1_000, 500, 3_000, 7, split=(1_000, 2_000), searches=3
        ),
        "anthropic",
        "claude-sonnet-4-5",
    ),
    (
        "anthropic_message_batch_tier",
        lambda: anth_msg("claude-haiku-4-5", 4_000, 1_000, 2_000, 6_000, service_tier="batch"),
        "anthropic",
        "claude-haiku-4-5",
    ),
    (
        "anthropic_stream",
        lambda: anthropic_stream("claude-sonnet-4-5", 1_000, 300, 2_000, 500),
        "anthropic",
        "claude-sonnet-4-5",
    ),
    (
        "gemini_response",
        lambda: gem(
            "gemini-2.5-pro",
            300_000,
            1_000,
            20_000,
            thoughts=500,
            tool_use=40,
            prompt_details=modalities(text=290_000, audio=10_000),
            create_time=dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc),
        ),
        "google",
        "gemini-2.5-pro",
    ),
    (
        "gemini_stream",
        lambda: gemini_stream("gemini-2.5-flash", 1_000, [10, 50, 120]),
        "google",
        "gemini-2.5-flash",
    ),
    ("litellm_model_response", litellm_response, "openai", "gpt-4.1"),
]


@pytest.mark.parametrize(
    ("make", "provider", "model"), [c[1:] for c in SDK_CASES], ids=[c[0] for c in SDK_CASES]
)
@pytest.mark.parametrize("mode", ["python", "json"])
def test_sdk_object_and_its_dump_price_the_same(make, provider, model, mode):
    response = make()
    cost = price(response, provider, model)
    assert cost > 0
    assert price(dumped(response, mode=mode), provider, model) == cost


# The accuracy cases whose response is an SDK object (the others are dicts already).
OBJECT_CASES = [c for c in CASES if not isinstance(c.response(), dict)]


@pytest.mark.parametrize("case", OBJECT_CASES, ids=[c.id for c in OBJECT_CASES])
def test_every_published_price_case_prices_its_dump_the_same(case):
    response = case.response()
    cost = price(response, case.provider, case.model, **case.kw)
    assert price(dumped(response), case.provider, case.model, **case.kw) == cost


def test_sdk_objects_price_the_same_through_the_sync_and_async_decorators():
    for _, make, provider, model in SDK_CASES:
        response = make()
        expected = price(response, provider, model)

        @track_api_cost(source="judge", provider=provider, model_name=model)
        def judge(response=response):
            return response

        @track_api_cost(source="judge", provider=provider, model_name=model)
        async def ajudge(response=response):
            await asyncio.sleep(0)
            return response

        async def run_async(builder: MetricsBuilder) -> Any:
            with builder.activate_context():
                return await ajudge()

        sync_builder, async_builder = MetricsBuilder("train"), MetricsBuilder("train")
        with sync_builder.activate_context():
            assert judge() is response
        assert asyncio.run(run_async(async_builder)) is response
        assert sync_builder._flush()["costs/train/judge"] == expected
        assert async_builder._flush()["costs/train/judge"] == expected


def test_litellm_private_hidden_params_are_read():
    response = litellm_response()
    headers = {"llm_provider-x-litellm-response-cost": 0.5}
    response._hidden_params = {"additional_headers": headers}
    as_dict = dumped(response) | {"_hidden_params": {"additional_headers": headers}}
    assert price(response, "openai", "gpt-4.1") == price(as_dict, "openai", "gpt-4.1") == 0.5


# --- every shape an object can have --------------------------------------------------------


class Extras(BaseModel):
    model_config = ConfigDict(extra="allow")


class WithProperty(BaseModel):
    tokens: int

    @property
    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.tokens, "completion_tokens": 100}


class WithPrivate(BaseModel):
    _hidden_params: dict[str, Any] = PrivateAttr(default_factory=dict)


class OwnModelExtra(BaseModel):
    """A model whose `model_extra` is its own: read with getattr, not as `__pydantic_extra__`."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def model_extra(self) -> dict[str, Any]:
        return {"cost": 0.75}


class Slotted:
    __slots__ = ("usage",)

    def __init__(self, usage: Any) -> None:
        self.usage = usage


class DynamicGetattr:
    def __getattr__(self, name: str) -> Any:
        if name == "usage":
            return USAGE
        raise AttributeError(name)


class ReadOnlyMapping(Mapping):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class PropertyOverDict:
    """A data descriptor wins over the instance `__dict__`, as in Python."""

    @property
    def usage(self) -> dict[str, int]:
        return USAGE


class ClassDefault:
    usage: Any = None


@dataclasses.dataclass
class Wrapper:
    usage: Any


def test_pydantic_extras_and_properties_and_private_attributes():
    assert price(Extras(usage=USAGE), "openai", "gpt-4o") == USAGE_COST
    assert price(Extras(usage=Extras(**USAGE)), "openai", "gpt-4o") == USAGE_COST
    assert price(WithProperty(tokens=1_000), "openai", "gpt-4o") == USAGE_COST
    private = WithPrivate()
    private._hidden_params = {"additional_headers": {"llm_provider-x-litellm-response-cost": 0.125}}
    assert price(private, "openai", "gpt-4o") == 0.125
    with pytest.raises(ValueError, match="does not match provider"):
        price(WithPrivate(), "openai", "gpt-4o")
    assert price(Extras(usage=Extras(**USAGE, cost=0.5)), "openai", "gpt-4o") == 0.5
    assert price(Extras(usage=OwnModelExtra(**USAGE)), "openai", "gpt-4o") == 0.75


def test_plain_objects_of_every_kind():
    assert price(Slotted(USAGE), "openai", "gpt-4o") == USAGE_COST
    assert price(DynamicGetattr(), "openai", "gpt-4o") == USAGE_COST
    assert price(ReadOnlyMapping({"usage": USAGE}), "openai", "gpt-4o") == USAGE_COST
    namespace = types.SimpleNamespace(usage=types.SimpleNamespace(**USAGE))
    assert price(namespace, "openai", "gpt-4o") == USAGE_COST
    assert price(Wrapper(usage=ReadOnlyMapping(USAGE)), "openai", "gpt-4o") == USAGE_COST
    shadowed = PropertyOverDict()
    shadowed.__dict__["usage"] = {"prompt_tokens": 1, "completion_tokens": 1}
    assert price(shadowed, "openai", "gpt-4o") == USAGE_COST
    instance = ClassDefault()
    with pytest.raises(ValueError, match="does not match provider"):
        price(instance, "openai", "gpt-4o")
    instance.usage = USAGE
    assert price(instance, "openai", "gpt-4o") == USAGE_COST


def test_a_class_changed_after_its_first_read_is_read_anew():
    class Judged:
        pass

    with pytest.raises(ValueError, match="does not match provider"):
        price(Judged(), "openai", "gpt-4o")
    Judged.usage = property(lambda self: USAGE)  # type: ignore[attr-defined]
    assert price(Judged(), "openai", "gpt-4o") == USAGE_COST
    del Judged.usage  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="does not match provider"):
        price(Judged(), "openai", "gpt-4o")


def test_each_thread_sees_a_class_changed_in_another():
    # Each thread keeps its own cache of how a class is read (issue #20): a worker thread
    # that read a class before it changed on this thread reads it anew.
    from concurrent.futures import ThreadPoolExecutor

    class Judged:
        pass

    def worker_price():
        try:
            return price(Judged(), "openai", "gpt-4o")
        except ValueError as err:
            return str(err)

    with ThreadPoolExecutor(max_workers=1) as worker:
        assert "does not match provider" in worker.submit(worker_price).result()
        Judged.usage = property(lambda self: USAGE)  # type: ignore[attr-defined]
        assert worker.submit(worker_price).result() == USAGE_COST
        assert price(Judged(), "openai", "gpt-4o") == USAGE_COST
        del Judged.usage  # type: ignore[attr-defined]
        assert "does not match provider" in worker.submit(worker_price).result()


FILL_THE_CACHE = """
import types
from art_metrics import MetricsBuilder
from test_price_accuracy import oai_chat

def price(response):
    return MetricsBuilder("train").add_response_cost(
        "judge", response, provider="openai", model_name="gpt-4o"
    )

expected = price({"usage": {"prompt_tokens": 1_000, "completion_tokens": 100}})
for i in range(1_100):
    obj = type(f"Response{i}", (), {})()
    obj.usage = types.SimpleNamespace(prompt_tokens=1_000, completion_tokens=100)
    assert price(obj) == expected, i
assert price(oai_chat("gpt-4o", 1_000, 100)) == expected
print("ok")
"""


def test_more_types_than_the_cache_holds_are_still_read():
    # Beyond the cache's 1,024 types a type is read the generic way. In a child process, so
    # that the rest of this session still reads through the cache.
    proc = subprocess.run(
        [sys.executable, "-c", FILL_THE_CACHE],
        cwd=pathlib.Path(__file__).parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
