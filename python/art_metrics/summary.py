"""Per-step summaries of a run directory's history.jsonl: reward, cost, throughput.

Works on any run directory in ART's format, written by art_metrics or by openpipe-art
(0.5.18, and 0.5.23's ``rollout`` names), and only reads it. ``python -m art_metrics summary
RUN_DIR`` prints `format_summary`; `Table` also writes CSV and JSON.

>>> rows = [{"training_step": 1, "train/reward": 0.5, "costs/all": 0.25, "costs/cum/all": 0.25,
...          "costs/cum/train": 0.25}]
>>> print(format_summary(summarize(rows)))   # doctest: +NORMALIZE_WHITESPACE
step  train reward  val reward  step cost  total cost  actor tok/s  trainer tok/s
   1         0.500           -    $0.2500     $0.2500            -              -
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .history import find_runs, read_history

__all__ = [
    "StepSummary",
    "Table",
    "cost_breakdown",
    "escape_controls",
    "find_run_dir",
    "format_breakdown",
    "format_summary",
    "read_history",
    "summarize",
]

# 0.5.23 renamed the actor to the rollout; both mean the same column.
_ACTOR_TOK_PER_S = ("throughput/avg_actor_tok_per_s", "throughput/avg_rollout_tok_per_s")

# C0 and C1 control characters (with DEL), bidi controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI)
# and the line/paragraph separators: what a terminal or viewer acts on rather than shows. And
# lone surrogates (a path's undecodable byte, a "\ud800" key), which no UTF-8 output holds.
_CONTROLS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    r"""``text`` (a metric key, split, source name or path from a run) safe to print:
    control characters as ``\xNN``, bidi controls, U+2028/U+2029 and lone surrogates as
    ``\uNNNN``, so that a name can neither retitle or clear the terminal nor hide or reorder
    the text around it (nor make printing it fail).

    >>> print(escape_controls("costs/\x1b]0;pwned\x07judge \u202eevil"))
    costs/\x1b]0;pwned\x07judge \u202eevil
    """
    return _CONTROLS.sub(_escaped, text) if _CONTROLS.search(text) else text


@dataclass
class StepSummary:
    """What one training step's rows add up to.

    ``costs`` holds the step's cost per source (the leaf ``costs/...`` keys, e.g.
    ``train/judge/style`` or ``gpu``), ``losses`` the last ``loss/*`` values and
    ``exception_rates`` the last ``{split}/exception_rate`` per split.
    """

    step: int
    train_reward: float | None = None
    val_reward: float | None = None
    step_cost: float = 0.0
    total_cost: float | None = None
    actor_tok_per_s: float | None = None
    trainer_tok_per_s: float | None = None
    costs: dict[str, float] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    exception_rates: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def number(value: object) -> float | None:
    """``value`` as a float when it is a real number (not bool, not NaN)."""
    if type(value) is float:  # the common case first: this runs for every value of a run
        return None if math.isnan(value) else value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def unprefixed(key: str) -> str:
    """A cost key without its custom split's prefix: ``holdout/costs/all`` -> ``costs/all``
    (custom splits prefix every key; costs and their totals are run-wide)."""
    if key.startswith("costs/") or "/costs/" not in key:
        return key
    head, _, rest = key.partition("/")
    return rest if rest.startswith("costs/") else key


def row_step(row: Mapping[str, object]) -> int | None:
    step = row.get("training_step", row.get("step"))
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def numbers(row: Mapping[str, object]) -> dict[str, float]:
    """The row's numeric values (NaN and non-numbers left out), cost keys `unprefixed`."""
    values = {}
    for key, value in row.items():
        value = number(value)
        if value is not None:
            values[unprefixed(key)] = value
    return values


def cost_sources(values: Mapping[str, float]) -> dict[str, float]:
    """A row's cost per source, from its `numbers`: the leaf ``costs/...`` keys (no other cost
    key of the row lies below them), without ``costs/all`` and the cumulative ``costs/cum/...``."""
    costs = {
        key[6:]: amount
        for key, amount in values.items()
        if key.startswith("costs/") and key != "costs/all" and not key.startswith("costs/cum/")
    }
    # Every key's ancestors are parents. (Not "the next key in sorted order is below it": a
    # sibling can sort between a key and its children, "judge" < "judge-2" < "judge/style".)
    parents: set[str] = set()
    for name in costs:
        head, sep, _ = name.rpartition("/")
        while sep and head not in parents:  # an ancestor already in has its own ancestors in
            parents.add(head)
            head, sep, _ = head.rpartition("/")
    return {name: amount for name, amount in costs.items() if name not in parents}


def summarize(rows: Iterable[Mapping[str, object]]) -> list[StepSummary]:
    """One `StepSummary` per ``training_step``, in step order.

    The step cost and the per-source costs add every row's own costs (each row has its own
    split's costs); the total, the rewards, the throughputs, losses and exception rates are
    the step's last values (``costs/cum/all`` and ``throughput/avg_*`` are run-wide).
    """
    steps: dict[int, StepSummary] = {}
    for row in rows:
        step = row_step(row)
        if step is None:
            continue
        summary = steps.setdefault(step, StepSummary(step))
        values = numbers(row)
        for source, amount in cost_sources(values).items():
            summary.costs[source] = summary.costs.get(source, 0.0) + amount
        for key, value in values.items():
            if key == "costs/all":
                summary.step_cost += value
            elif key == "costs/cum/all":
                summary.total_cost = value
            elif key == "train/reward":
                summary.train_reward = value
            elif key == "val/reward":
                summary.val_reward = value
            elif key in _ACTOR_TOK_PER_S:
                summary.actor_tok_per_s = value
            elif key == "throughput/avg_trainer_tok_per_s":
                summary.trainer_tok_per_s = value
            elif key.startswith("loss/"):
                summary.losses[key] = value
            elif key.endswith("/exception_rate") and key.count("/") == 1:
                summary.exception_rates[key.partition("/")[0]] = value
    return [steps[step] for step in sorted(steps)]


_COLUMNS = (
    "step",
    "train reward",
    "val reward",
    "step cost",
    "total cost",
    "actor tok/s",
    "trainer tok/s",
)


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _base_cells(summary: StepSummary) -> list[str]:
    return [
        str(summary.step),
        _cell(summary.train_reward, "{:.3f}"),
        _cell(summary.val_reward, "{:.3f}"),
        _cell(summary.step_cost, "${:.4f}"),
        _cell(summary.total_cost, "${:.4f}"),
        _cell(summary.actor_tok_per_s, "{:,.0f}"),
        _cell(summary.trainer_tok_per_s, "{:,.0f}"),
    ]


def format_step(summary: StepSummary) -> str:
    """One line of the base table (the columns of `format_header`)."""
    cells = _base_cells(summary)
    return "  ".join(cell.rjust(len(name)) for cell, name in zip(cells, _COLUMNS)).rstrip()


def format_header() -> str:
    """The base table's header: the columns every run has."""
    return "  ".join(_COLUMNS)


class Table:
    """The summary table of some steps: the base columns, then one column per cost source,
    per loss and per split's exception rate that the steps have (in that order).

    Text (`header`, `line`), CSV (`csv_header`, `csv_row`: full precision, empty when
    missing) and JSON-ready dicts (``StepSummary.to_dict``) share the same columns.
    """

    def __init__(self, steps: Iterable[StepSummary]) -> None:
        steps = list(steps)
        self.sources = sorted({s for step in steps for s in step.costs})
        self.losses = sorted({k for step in steps for k in step.losses})
        self.splits = sorted(
            {k for step in steps for k in step.exception_rates},
            key=lambda split: ({"train": 0, "val": 1, "test": 2}.get(split, 3), split),
        )

    def covers(self, step: StepSummary) -> bool:
        """Whether this table has a column for everything ``step`` holds."""
        return (
            set(step.costs) <= set(self.sources)
            and set(step.losses) <= set(self.losses)
            and set(step.exception_rates) <= set(self.splits)
        )

    def names(self) -> list[str]:
        """The columns' names as printed (run text `escape_controls`'d)."""
        return [
            *_COLUMNS,
            *map(escape_controls, self.sources),
            *map(escape_controls, self.losses),
            *(f"{escape_controls(split)} exceptions" for split in self.splits),
        ]

    def header(self) -> str:
        return "  ".join(self.names())

    def line(self, step: StepSummary) -> str:
        cells = _base_cells(step)
        cells += [_cell(step.costs.get(s), "${:.4f}") for s in self.sources]
        cells += [_cell(step.losses.get(k), "{:.4g}") for k in self.losses]
        cells += [_cell(step.exception_rates.get(s), "{:.1%}") for s in self.splits]
        return "  ".join(cell.rjust(len(name)) for cell, name in zip(cells, self.names()))

    def csv_header(self) -> list[str]:
        return [
            "step",
            "train_reward",
            "val_reward",
            "step_cost",
            "total_cost",
            "actor_tok_per_s",
            "trainer_tok_per_s",
            *(f"cost:{escape_controls(s)}" for s in self.sources),
            *map(escape_controls, self.losses),
            *(f"exception_rate:{escape_controls(s)}" for s in self.splits),
        ]

    def csv_row(self, step: StepSummary) -> list[str]:
        def text(value: float | int | None) -> str:
            return "" if value is None else repr(value)

        values: list[float | int | None] = [
            step.step,
            step.train_reward,
            step.val_reward,
            step.step_cost,
            step.total_cost,
            step.actor_tok_per_s,
            step.trainer_tok_per_s,
            *(step.costs.get(s) for s in self.sources),
            *(step.losses.get(k) for k in self.losses),
            *(step.exception_rates.get(s) for s in self.splits),
        ]
        return [text(v) for v in values]


def format_summary(steps: Iterable[StepSummary]) -> str:
    """The `Table`'s header and one line per step."""
    steps = list(steps)
    table = Table(steps)
    return "\n".join([table.header(), *(table.line(s) for s in steps)])


def cost_breakdown(rows: Iterable[Mapping[str, object]]) -> dict[str, float]:
    """The run's cumulative cost per top-level cost context (``train``, ``eval``, ``gpu``, ...)
    and ``all``: the last value of each ``costs/cum/<name>`` key in the rows."""
    totals: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            key = unprefixed(key)
            amount = number(value)
            if amount is not None and key.startswith("costs/cum/") and key.count("/") == 2:
                totals[key[len("costs/cum/") :]] = amount
    return totals


def format_breakdown(totals: Mapping[str, float]) -> str:
    """``Total cost $0.1234: train $0.0500 (41%), ...`` (or a line saying there is none)."""
    total = totals.get("all")
    if total is None:
        return "No costs recorded."
    parts = [
        f"{escape_controls(name)} ${value:.4f}" + (f" ({value / total:.0%})" if total > 0 else "")
        for name, value in sorted(totals.items(), key=lambda item: -item[1])
        if name != "all"
    ]
    return f"Total cost ${total:.4f}" + (": " + ", ".join(parts) if parts else "")


def find_run_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` when it holds history.jsonl, else the single run at any depth below it.
    ``FileNotFoundError`` when there is none, ``ValueError`` listing them when several."""
    found = find_runs(path)
    where = escape_controls(str(path))  # the messages are printed: paths `escape_controls`'d
    if not found:
        raise FileNotFoundError(f"no history.jsonl in {where} or in a run directory below it")
    if len(found) > 1:
        listing = "\n  ".join(escape_controls(str(p)) for p in found)
        raise ValueError(f"{where} holds several runs ({len(found)}); pick one:\n  {listing}")
    return found[0]
