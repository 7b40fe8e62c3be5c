"""`track_api_cost`: record what a judge or API call cost on the active `MetricsBuilder`.

The decorator checks its arguments when it is applied and hands them to a Rust
`CostTracker`; each call then costs one Rust call (read usage, price, record).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar, cast

from ._core import CostTracker, CostTrackingWarning, TrackedFunction
from ._types import OnUnpriced
from .budget import BudgetExceeded
from .builder import _active_builder

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["CostTrackingError", "CostTrackingWarning", "track_api_cost"]


class CostTrackingError(ValueError):
    """A decorated call succeeded but its cost could not be recorded.

    The call's return value is kept in ``.result``; the original error is ``__cause__``.
    """

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


def _failure(tracker: CostTracker) -> Callable[[BaseException, Any, Callable[..., Any]], Exception]:
    """``on_error(err, result, func)``: the CostTrackingError for a failed recording."""

    def on_error(err: BaseException, result: Any, func: Callable[..., Any]) -> Exception:
        if isinstance(err, BudgetExceeded):
            return err  # the cost was recorded; the guard's exception carries `.result`
        name = getattr(func, "__qualname__", repr(func))
        exc = CostTrackingError(
            f"{name} returned, but its cost could not be recorded under "
            f"'{tracker.source}' ({tracker.provider}, {tracker.model_name}): {err}",
            result,
        )
        exc.__cause__ = err
        return exc

    return on_error


def track_api_cost(
    *,
    source: str,
    provider: str,
    model_name: str,
    response_getter: Callable[[Any], Any] | None = None,
    prompt_price_per_million: float | None = None,
    completion_price_per_million: float | None = None,
    cached_prompt_price_per_million: float | None = None,
    cache_creation_price_per_million: float | None = None,
    cache_read_price_per_million: float | None = None,
    batch: bool = False,
    on_unpriced: OnUnpriced = "raise",
) -> Callable[[F], F]:
    """Record the cost of each call's response under ``costs/<context>/<source>``.

    The cost goes to the active builder (``MetricsBuilder.activate_context()``) in its
    cost context; with no active builder nothing is recorded (and ``response_getter`` is
    not called) and a :class:`CostTrackingWarning` says so, once per decorated function.
    Works on sync and async functions. A function may return a stream's collected events (a
    list): the OpenAI chunk with usage, Responses ``response.completed``, Anthropic
    ``message_start`` + ``message_delta`` and the last Gemini chunk price the call.

    ``batch=True`` prices batch jobs whose responses do not say so. ``on_unpriced="warn"``
    counts a call whose model has no price in ``data/step_unpriced_calls`` (and warns once
    naming the model) instead of raising.

    >>> from art_metrics import MetricsBuilder
    >>> @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    ... def judge():
    ...     return {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
    >>> with MetricsBuilder("train").activate_context() as builder:
    ...     _ = judge()
    >>> builder._flush()["costs/train/judge"]
    0.0035

    Raises ``ValueError`` at decoration time for an empty source, provider or model name,
    and :class:`CostTrackingError` (a ``ValueError`` carrying ``.result``) when a call's
    cost cannot be priced.
    """
    tracker = CostTracker(
        source=source,
        provider=provider,
        model_name=model_name,
        response_getter=response_getter,
        prompt_price_per_million=prompt_price_per_million,
        completion_price_per_million=completion_price_per_million,
        cached_prompt_price_per_million=cached_prompt_price_per_million,
        cache_creation_price_per_million=cache_creation_price_per_million,
        cache_read_price_per_million=cache_read_price_per_million,
        batch=batch,
        on_unpriced=on_unpriced,
    )
    on_error = _failure(tracker)

    def decorate(func: F) -> F:
        # Sync calls go through a Rust callable: the same steps without a Python frame.
        wrapper = TrackedFunction(func, tracker, _active_builder, on_error)
        if inspect.iscoroutinefunction(func):
            # It must stay a coroutine function, so a Python frame remains; what follows the
            # await (read the builder, price, record, map a failure) is one Rust call.
            record_awaited = wrapper._record_awaited

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return record_awaited(await func(*args, **kwargs))

            return cast(F, async_wrapper)

        return cast(F, functools.wraps(func)(wrapper))

    return decorate
