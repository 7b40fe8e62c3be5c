"""The dict-based `summary` and `report` aggregation as it was before the core streamed it
(issue #21, case 10), kept as the oracle that tests/test_big_runs.py compares the core with:
every row a Python dict, folded by Python. Not used by the package."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from art_metrics.summary import StepSummary, escape_controls, format_breakdown

_ACTOR_TOK_PER_S = ("throughput/avg_actor_tok_per_s", "throughput/avg_rollout_tok_per_s")
_THROUGHPUT = {
    "throughput/avg_actor_tok_per_s": "actor",
    "throughput/avg_rollout_tok_per_s": "rollout",
    "throughput/avg_trainer_tok_per_s": "trainer",
}
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def unprefixed(key: str) -> str:
    if key.startswith("costs/") or "/costs/" not in key:
        return key
    head, _, rest = key.partition("/")
    return rest if rest.startswith("costs/") else key


def row_step(row: Mapping[str, object]) -> int | None:
    step = row.get("training_step", row.get("step"))
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def numbers(row: Mapping[str, object]) -> dict[str, float]:
    values = {}
    for key, value in row.items():
        value = number(value)
        if value is not None:
            values[unprefixed(key)] = value
    return values


def cost_sources(values: Mapping[str, float]) -> dict[str, float]:
    costs = {
        key[6:]: amount
        for key, amount in values.items()
        if key.startswith("costs/") and key != "costs/all" and not key.startswith("costs/cum/")
    }
    parents: set[str] = set()
    for name in costs:
        head, sep, _ = name.rpartition("/")
        while sep and head not in parents:
            parents.add(head)
            head, sep, _ = head.rpartition("/")
    return {name: amount for name, amount in costs.items() if name not in parents}


def summarize(rows: Iterable[Mapping[str, object]]) -> list[StepSummary]:
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


def cost_breakdown(rows: Iterable[Mapping[str, object]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            key = unprefixed(key)
            amount = number(value)
            if amount is not None and key.startswith("costs/cum/") and key.count("/") == 2:
                totals[key[len("costs/cum/") :]] = amount
    return totals


# -- the CLI's output -----------------------------------------------------------------------

_COLUMNS = ("step", "train reward", "val reward", "step cost", "total cost")
_COLUMNS += ("actor tok/s", "trainer tok/s")


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


class Table:
    def __init__(self, steps: list[StepSummary]) -> None:
        self.sources = sorted({s for step in steps for s in step.costs})
        self.losses = sorted({k for step in steps for k in step.losses})
        self.splits = sorted(
            {k for step in steps for k in step.exception_rates},
            key=lambda split: (_SPLIT_ORDER.get(split, 3), split),
        )

    def names(self) -> list[str]:
        return [
            *_COLUMNS,
            *map(escape_controls, self.sources),
            *map(escape_controls, self.losses),
            *(f"{escape_controls(split)} exceptions" for split in self.splits),
        ]

    def line(self, s: StepSummary) -> str:
        cells = [
            str(s.step),
            _cell(s.train_reward, "{:.3f}"),
            _cell(s.val_reward, "{:.3f}"),
            _cell(s.step_cost, "${:.4f}"),
            _cell(s.total_cost, "${:.4f}"),
            _cell(s.actor_tok_per_s, "{:,.0f}"),
            _cell(s.trainer_tok_per_s, "{:,.0f}"),
        ]
        cells += [_cell(s.costs.get(k), "${:.4f}") for k in self.sources]
        cells += [_cell(s.losses.get(k), "{:.4g}") for k in self.losses]
        cells += [_cell(s.exception_rates.get(k), "{:.1%}") for k in self.splits]
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

    def csv_row(self, s: StepSummary) -> list[str]:
        values = [
            s.step,
            s.train_reward,
            s.val_reward,
            s.step_cost,
            s.total_cost,
            s.actor_tok_per_s,
            s.trainer_tok_per_s,
            *(s.costs.get(k) for k in self.sources),
            *(s.losses.get(k) for k in self.losses),
            *(s.exception_rates.get(k) for k in self.splits),
        ]
        return ["" if v is None else repr(v) for v in values]


def summary_output(run_dir: str, rows: list[dict], problems: list[str], style: str) -> str:
    """What ``summary`` printed (``style`` text, json or csv) before the core streamed it."""
    steps = summarize(rows)
    if style == "json":
        doc = {
            "run_dir": run_dir,
            "rows": len(rows),
            "steps": [s.to_dict() for s in steps],
            "totals": cost_breakdown(rows),
            "problems": problems,
        }
        return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
    table = Table(steps)
    out = io.StringIO()
    if style == "csv":
        writer = csv.writer(out, lineterminator="\n")
        if steps:
            writer.writerow(table.csv_header())
        for s in steps:
            writer.writerow(table.csv_row(s))
        return out.getvalue()
    print(f"{escape_controls(run_dir)}: {len(rows)} rows, {len(steps)} steps\n", file=out)
    if steps:
        print("  ".join(table.names()), file=out)
    for s in steps:
        print(table.line(s), file=out)
    print("\n" + format_breakdown(cost_breakdown(rows)), file=out)
    return out.getvalue()


# -- the report's data ----------------------------------------------------------------------


class Steps:
    """Per key: the step's last value (and the cumulative cost when it was written), or the
    sum over the step's rows."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.last: dict[str, dict[int, float]] = {}
        self.cost_at: dict[str, dict[int, float]] = {}
        self.sums: dict[str, dict[int, float]] = {}
        self.steps: set[int] = set()
        cum_cost: float | None = None
        for row in rows:
            step = row_step(row)
            if step is None:
                continue
            self.steps.add(step)
            values = numbers(row)
            cum_cost = values.get("costs/cum/all", cum_cost)
            for key, value in values.items():
                if key.startswith("time/step_"):
                    sums = self.sums.setdefault(key, {})
                    sums[step] = sums.get(step, 0.0) + value
                    continue
                self.last.setdefault(key, {})[step] = value
                if cum_cost is not None and key.endswith("/reward"):
                    self.cost_at.setdefault(key, {})[step] = cum_cost
            for source, amount in cost_sources(values).items():
                sums = self.sums.setdefault("costs/" + source, {})
                sums[step] = sums.get(step, 0.0) + amount

    def series(self, key: str, name: str, summed: bool = False) -> dict[str, Any]:
        values = (self.sums if summed else self.last).get(key, {})
        steps = sorted(values)
        return {"name": name, "x": [float(s) for s in steps], "y": [values[s] for s in steps]}


def report_charts(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per chart id, its series (name, x, y, steps) as the report built them from dicts."""
    data = Steps(rows)
    charts: dict[str, list[dict[str, Any]]] = {}
    found = [k for k in data.last if k.endswith("/reward") and k.count("/") == 1]
    rewards = sorted(found, key=lambda k: (_SPLIT_ORDER.get(k.split("/")[0], 3), k))
    if rewards:
        charts["reward"] = [data.series(k, k.split("/")[0]) for k in rewards]
    with_cost = [k for k in rewards if data.cost_at.get(k)]
    if with_cost:
        charts["reward_cost"] = []
        for key in with_cost:
            points = sorted((data.cost_at[key][s], s, data.last[key][s]) for s in data.cost_at[key])
            charts["reward_cost"].append(
                {
                    "name": key.split("/")[0],
                    "x": [p[0] for p in points],
                    "y": [p[2] for p in points],
                    "steps": [p[1] for p in points],
                }
            )
    sources = sorted(k for k in data.sums if k.startswith("costs/"))
    if sources:
        steps = sorted({s for k in sources for s in data.sums[k]})
        charts["cost_step"] = [
            {
                "name": k[len("costs/") :],
                "x": [float(s) for s in steps],
                "y": [data.sums[k].get(s) for s in steps],
            }
            for k in sources
        ]
    cum = [k for k in data.last if k.startswith("costs/cum/") and k.count("/") == 2]
    if cum:
        cum.sort(key=lambda k: (k != "costs/cum/all", k))
        charts["cost_total"] = [data.series(k, k[len("costs/cum/") :]) for k in cum]
    throughput = [k for k in _THROUGHPUT if k in data.last]
    if throughput:
        charts["throughput"] = [data.series(k, _THROUGHPUT[k]) for k in throughput]
    times = sorted(k for k in data.sums if k.startswith("time/step_"))
    if times:
        times.sort(key=lambda k: (k != "time/step_wall_s", k))
        charts["time"] = [
            data.series(k, k[len("time/step_") :].removesuffix("_s"), True) for k in times
        ]
    losses = sorted(k for k in data.last if k.startswith("loss/"))
    if losses:
        charts["loss"] = [data.series(k, k[5:]) for k in losses]
    return charts


def report_facts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's exact figures: rows, steps, total cost, sources most expensive first."""
    data = Steps(rows)
    totals = {
        k[len("costs/") :]: sum(v.values()) for k, v in data.sums.items() if k.startswith("costs/")
    }
    return {
        "n_rows": len(rows),
        "n_steps": len(data.steps),
        "total_cost": cost_breakdown(rows).get("all"),
        "sources": sorted(totals.items(), key=lambda item: -item[1]),
    }
