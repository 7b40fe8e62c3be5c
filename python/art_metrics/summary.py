"""Per-step summaries of a run directory's history.jsonl: reward, cost, throughput.

Works on any run directory in ART's format, written by art_metrics or by openpipe-art, and
only reads it. ``python -m art_metrics summary RUN_DIR`` prints `format_summary`.

>>> rows = [{"training_step": 1, "train/reward": 0.5, "costs/all": 0.25, "costs/cum/all": 0.25,
...          "costs/cum/train": 0.25}]
>>> print(format_summary(summarize(rows)))   # doctest: +NORMALIZE_WHITESPACE
step  train reward  val reward  step cost  total cost  actor tok/s  trainer tok/s
   1         0.500           -    $0.2500     $0.2500            -              -
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "StepSummary",
    "cost_breakdown",
    "find_run_dir",
    "format_breakdown",
    "format_summary",
    "read_history",
    "summarize",
]


@dataclass
class StepSummary:
    """What one training step's rows add up to."""

    step: int
    train_reward: float | None = None
    val_reward: float | None = None
    step_cost: float = 0.0
    total_cost: float | None = None
    actor_tok_per_s: float | None = None
    trainer_tok_per_s: float | None = None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def _unprefixed(key: str) -> str:
    # Custom splits prefix every key (``holdout/costs/all``); costs and cum keys are run-wide.
    head, _, rest = key.partition("/")
    return rest if rest.startswith("costs/") and head != "costs" else key


def summarize(rows: Iterable[Mapping[str, object]]) -> list[StepSummary]:
    """One `StepSummary` per ``training_step``, in step order.

    The step cost adds every row's ``costs/all`` (each row has its own split's costs); the
    total, the rewards and the throughputs are the step's last values (the cumulative
    ``costs/cum/all`` and the ``throughput/avg_*`` averages are run-wide).
    """
    steps: dict[int, StepSummary] = {}
    for row in rows:
        step = row.get("training_step", row.get("step"))
        if not isinstance(step, int):
            continue
        summary = steps.setdefault(step, StepSummary(step))
        for key, value in row.items():
            number = _number(value)
            if number is None:
                continue
            key = _unprefixed(key)
            if key == "costs/all":
                summary.step_cost += number
            elif key == "costs/cum/all":
                summary.total_cost = number
            elif key == "train/reward":
                summary.train_reward = number
            elif key == "val/reward":
                summary.val_reward = number
            elif key == "throughput/avg_actor_tok_per_s":
                summary.actor_tok_per_s = number
            elif key == "throughput/avg_trainer_tok_per_s":
                summary.trainer_tok_per_s = number
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


def format_step(summary: StepSummary) -> str:
    """One table line; see `format_header`."""
    cells = (
        str(summary.step),
        _cell(summary.train_reward, "{:.3f}"),
        _cell(summary.val_reward, "{:.3f}"),
        _cell(summary.step_cost, "${:.4f}"),
        _cell(summary.total_cost, "${:.4f}"),
        _cell(summary.actor_tok_per_s, "{:,.0f}"),
        _cell(summary.trainer_tok_per_s, "{:,.0f}"),
    )
    return "  ".join(cell.rjust(len(name)) for cell, name in zip(cells, _COLUMNS)).rstrip()


def format_header() -> str:
    return "  ".join(_COLUMNS)


def format_summary(steps: Iterable[StepSummary]) -> str:
    """The header and one line per step."""
    return "\n".join([format_header(), *(format_step(s) for s in steps)])


def cost_breakdown(rows: Iterable[Mapping[str, object]]) -> dict[str, float]:
    """The run's cumulative cost per top-level cost context (``train``, ``eval``, ``gpu``, ...)
    and ``all``: the last value of each ``costs/cum/<name>`` key in the rows."""
    totals: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            key = _unprefixed(key)
            number = _number(value)
            if number is not None and key.startswith("costs/cum/") and key.count("/") == 2:
                totals[key[len("costs/cum/") :]] = number
    return totals


def format_breakdown(totals: Mapping[str, float]) -> str:
    """``Total cost $0.1234: train $0.0500 (41%), ...`` (or a line saying there is none)."""
    total = totals.get("all")
    if total is None:
        return "No costs recorded."
    parts = [
        f"{name} ${value:.4f}" + (f" ({value / total:.0%})" if total > 0 else "")
        for name, value in sorted(totals.items(), key=lambda item: -item[1])
        if name != "all"
    ]
    return f"Total cost ${total:.4f}" + (": " + ", ".join(parts) if parts else "")


def read_history(run_dir: str | os.PathLike[str]) -> list[dict]:
    """The rows of ``run_dir/history.jsonl``; a torn last line (a crash mid-write) is skipped."""
    rows = []
    with open(Path(run_dir) / "history.jsonl", encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines) - 1:  # not the last line: the file is damaged, say so
                raise ValueError(f"{run_dir}/history.jsonl line {number} is not JSON") from None
    return rows


def find_run_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` when it holds history.jsonl, else the single run below it
    (``{base_path}/{project}/models/{name}``). ``FileNotFoundError`` / ``ValueError`` otherwise."""
    path = Path(path)
    if (path / "history.jsonl").is_file():
        return path
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    found = sorted(
        {
            p.parent
            for pattern in ("*/history.jsonl", "models/*/history.jsonl", "*/models/*/history.jsonl")
            for p in path.glob(pattern)
        }
    )
    if not found:
        raise FileNotFoundError(f"no history.jsonl in {path} or in a run directory below it")
    if len(found) > 1:
        listing = "\n  ".join(str(p) for p in found)
        raise ValueError(f"{path} holds several runs; pick one:\n  {listing}")
    return found[0]
