"""The spend guard: a run's budget, `BudgetWarning` and `BudgetExceeded`.

``model.set_budget(usd)`` (or ``builder.set_budget(usd)`` on any builder of the run) checks
the run's spend, recorded and pending, after every recorded cost: judges, ``add_cost``,
``add_response_cost`` and the GPU cost of each train step. The rule lives in the Rust core;
this module only warns, raises and alerts the run's reporters.

>>> import asyncio, tempfile, warnings
>>> from art_metrics import BudgetExceeded, Model
>>> model = Model(name="run", project="demo", base_path=tempfile.mkdtemp())
>>> model.set_budget(1.0, on_exceed="raise", warn_at=())
>>> builder = model.metrics_builder()
>>> builder.add_cost("train/judge", 0.75)
>>> try:
...     builder.add_cost("train/judge", 0.5)
... except BudgetExceeded as e:
...     print(e.spend_usd, e.budget_usd)
1.25 1.0
>>> asyncio.run(builder.flush())["costs/train/judge"]  # the crossing cost is kept
1.25
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

from . import _core
from ._types import AlertLevel

__all__ = ["BudgetExceeded", "BudgetWarning"]

# Where a run's budget progress is saved: the Model of each run, by the run's id.
_models: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


class BudgetWarning(UserWarning):
    """The run's spend reached a ``warn_at`` fraction of its budget, or (with
    ``on_exceed="warn"``) went past it. Given once per threshold."""


class BudgetExceeded(RuntimeError):
    """The run's spend went past its budget (``on_exceed="raise"``).

    Raised by the call whose cost crossed the budget, after that cost was recorded:
    nothing is lost. ``.result`` holds a tracked call's return value (None otherwise);
    ``.spend_usd`` and ``.budget_usd`` the amounts.
    """

    def __init__(
        self, message: str, *, spend_usd: float, budget_usd: float, result: Any = None
    ) -> None:
        super().__init__(message)
        self.spend_usd = spend_usd
        self.budget_usd = budget_usd
        self.result = result


def _register(builder: Any, model: Any) -> None:
    """Make ``model`` the place where the budget of ``builder``'s run is saved."""
    _models[builder._run_id()] = model


def _alert(model: Any, title: str, text: str, level: AlertLevel) -> None:
    if model is None:
        return
    for reporter in model.reporters:
        alert = getattr(reporter, "alert", None)
        if callable(alert):
            alert(title=title, text=text, level=level)


def _on_budget_event(
    builder: Any,
    *,
    warnings: list[str],
    exceeded: str | None,
    raise_: bool,
    spend_usd: float,
    budget_usd: float,
    result: Any,
) -> None:
    """Called by the core when a recorded cost crossed thresholds of the run's budget."""
    model = _models.get(builder._run_id())
    if model is not None:
        model._save_budget()
    for message in warnings:
        _alert(model, "Budget warning", message, "WARN")
    if exceeded is not None:
        _alert(model, "Budget exceeded", exceeded, "ERROR")
    _warn(warnings)
    if exceeded is None:
        return
    if raise_:
        raise BudgetExceeded(exceeded, spend_usd=spend_usd, budget_usd=budget_usd, result=result)
    _warn([exceeded])


def _warn(messages: list[str]) -> None:
    # stacklevel 3: the user's call (the core calls _on_budget_event, which calls this).
    for message in messages:
        warnings.warn(message, BudgetWarning, stacklevel=3)


# The extension calls this with each budget event (it imports no Python module by name).
_core._set_budget_handler(_on_budget_event)
