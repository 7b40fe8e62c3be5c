"""A self-contained HTML report of a run directory: ``python -m art_metrics report RUN_DIR``.

One file, no network: the data is embedded as JSON, the charts are drawn as SVG by a small
inline script (``report.js``), styles are inline (``report.css``). Works on run directories
written by art_metrics and by openpipe-art (0.5.18, and 0.5.23's ``rollout`` names), and only
reads them. `write_pngs` draws the same charts with matplotlib (the ``[plot]`` extra).

Every chart is a list of series; a series has one point per training step that has its key
(``x`` the step, or the cumulative cost for reward against cost):

- reward per split against step, and against cumulative USD (``costs/cum/all``);
- cost per step stacked by source (the leaf ``costs/...`` keys, summed over the step's
  rows), and cumulative cost with the budget (``state["_art_metrics"]["budget_usd"]``);
- throughput (``throughput/avg_{actor,rollout,trainer}_tok_per_s``) and time per step
  (``time/step_*``, summed over the step's rows); losses (``loss/*``) when present;
- a table of the most expensive sources.
"""

from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__
from .history import read_rows, read_state
from .summary import cost_breakdown, cost_sources, escape_controls, number, numbers, row_step

__all__ = ["Chart", "Run", "Series", "load_run", "render_html", "write_html", "write_pngs"]

_THROUGHPUT = {
    "throughput/avg_actor_tok_per_s": "actor",
    "throughput/avg_rollout_tok_per_s": "rollout",
    "throughput/avg_trainer_tok_per_s": "trainer",
}
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


@dataclass
class Series:
    """One line (or stacked layer): ``x`` and ``y`` of equal length; ``steps`` when ``x``
    is not the step."""

    name: str
    x: list[float] = field(default_factory=list)
    y: list[float | None] = field(default_factory=list)
    steps: list[int] | None = None

    def points(self) -> int:
        """The series' data points (stacked layers hold None where a step lacks the key)."""
        return sum(v is not None for v in self.y)


@dataclass
class Chart:
    id: str
    title: str
    x_label: str
    y_label: str
    series: list[Series]
    money: bool = False  # y is US dollars
    x_money: bool = False  # x is US dollars
    stacked: bool = False
    budget: float | None = None
    from_zero: bool = False  # the y axis starts at 0 (amounts, not levels)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "xLabel": self.x_label,
            "yLabel": self.y_label,
            "money": self.money,
            "xMoney": self.x_money,
            "stacked": self.stacked,
            "budget": self.budget,
            "fromZero": self.from_zero or self.money or self.stacked,
            "series": [
                {"name": s.name, "x": s.x, "y": s.y, **({"steps": s.steps} if s.steps else {})}
                for s in self.series
            ],
        }


@dataclass
class Run:
    """What the report shows of one run directory."""

    run_dir: Path
    n_rows: int
    n_steps: int
    charts: list[Chart]
    sources: list[tuple[str, float]]  # (source, total USD), most expensive first
    total_cost: float | None
    budget: float | None
    problems: list[str]


class _Steps:
    """Per key: the step's last value (and the cumulative cost when it was written), or the
    sum over the step's rows."""

    def __init__(self) -> None:
        self.last: dict[str, dict[int, float]] = {}
        self.cost_at: dict[str, dict[int, float]] = {}
        self.sums: dict[str, dict[int, float]] = {}

    def add(self, rows: list[dict[str, Any]]) -> set[int]:
        steps: set[int] = set()
        cum_cost: float | None = None
        for row in rows:
            step = row_step(row)
            if step is None:
                continue
            steps.add(step)
            values = numbers(row)
            cum_cost = values.get("costs/cum/all", cum_cost)
            for key, value in values.items():
                if key.startswith("time/step_"):
                    sums = self.sums.get(key)
                    if sums is None:
                        sums = self.sums[key] = {}
                    sums[step] = sums.get(step, 0.0) + value
                    continue
                last = self.last.get(key)
                if last is None:
                    last = self.last[key] = {}
                last[step] = value
                if cum_cost is not None and key.endswith("/reward"):
                    self.cost_at.setdefault(key, {})[step] = cum_cost
            for source, amount in cost_sources(values).items():
                sums = self.sums.setdefault("costs/" + source, {})
                sums[step] = sums.get(step, 0.0) + amount
        return steps

    def series(self, key: str, name: str, summed: bool = False) -> Series:
        values = (self.sums if summed else self.last).get(key, {})
        steps = sorted(values)
        return Series(name, [float(s) for s in steps], [values[s] for s in steps])


def _reward_keys(keys: list[str]) -> list[str]:
    found = [k for k in keys if k.endswith("/reward") and k.count("/") == 1]
    return sorted(found, key=lambda k: (_SPLIT_ORDER.get(k.split("/")[0], 3), k))


def _charts(data: _Steps, budget: float | None) -> list[Chart]:
    charts = []
    rewards = _reward_keys(list(data.last))
    if rewards:
        charts.append(
            Chart(
                "reward",
                "Reward",
                "step",
                "reward",
                [data.series(k, k.split("/")[0]) for k in rewards],
            )
        )
    with_cost = [k for k in rewards if data.cost_at.get(k)]
    if with_cost:
        series = []
        for key in with_cost:
            points = sorted((data.cost_at[key][s], s, data.last[key][s]) for s in data.cost_at[key])
            series.append(
                Series(
                    key.split("/")[0],
                    [p[0] for p in points],
                    [p[2] for p in points],
                    steps=[p[1] for p in points],
                )
            )
        charts.append(
            Chart(
                "reward_cost",
                "Reward against cumulative cost",
                "cumulative cost (USD)",
                "reward",
                series,
                x_money=True,
            )
        )
    sources = sorted(k for k in data.sums if k.startswith("costs/"))
    if sources:
        steps = sorted({s for k in sources for s in data.sums[k]})
        layers = [
            Series(
                k[len("costs/") :], [float(s) for s in steps], [data.sums[k].get(s) for s in steps]
            )
            for k in sources
        ]
        charts.append(
            Chart(
                "cost_step",
                "Cost per step by source",
                "step",
                "USD",
                layers,
                money=True,
                stacked=True,
            )
        )
    cum = [k for k in data.last if k.startswith("costs/cum/") and k.count("/") == 2]
    if cum:
        cum.sort(key=lambda k: (k != "costs/cum/all", k))
        charts.append(
            Chart(
                "cost_total",
                "Cumulative cost",
                "step",
                "USD",
                [data.series(k, k[len("costs/cum/") :]) for k in cum],
                money=True,
                budget=budget,
            )
        )
    throughput = [k for k in _THROUGHPUT if k in data.last]
    if throughput:
        charts.append(
            Chart(
                "throughput",
                "Throughput (cumulative average)",
                "step",
                "tokens/s",
                [data.series(k, _THROUGHPUT[k]) for k in throughput],
                from_zero=True,
            )
        )
    times = sorted(k for k in data.sums if k.startswith("time/step_"))
    if times:
        times.sort(key=lambda k: (k != "time/step_wall_s", k))
        charts.append(
            Chart(
                "time",
                "Time per step",
                "step",
                "seconds",
                [data.series(k, k[len("time/step_") :].removesuffix("_s"), True) for k in times],
                from_zero=True,
            )
        )
    losses = sorted(k for k in data.last if k.startswith("loss/"))
    if losses:
        charts.append(
            Chart("loss", "Loss", "step", "loss", [data.series(k, k[5:]) for k in losses])
        )
    return charts


def _budget(state: dict[str, Any]) -> float | None:
    ours = state.get("_art_metrics")
    value = number(ours.get("budget_usd")) if isinstance(ours, dict) else None
    return value


def load_run(run_dir: str | os.PathLike[str]) -> Run:
    """Read ``run_dir`` (history.jsonl, state.json) and build the report's charts."""
    run_dir = Path(run_dir)
    rows, problems = read_rows(run_dir)
    budget = _budget(read_state(run_dir))
    data = _Steps()
    steps = data.add(rows)
    totals = {
        k[len("costs/") :]: sum(v.values()) for k, v in data.sums.items() if k.startswith("costs/")
    }
    # The run's total is the last `costs/cum/all` written (file order), as `summary` says:
    # a late row for an earlier step (a validation) carries the newest total.
    total_cost = cost_breakdown(rows).get("all")
    return Run(
        run_dir=run_dir,
        n_rows=len(rows),
        n_steps=len(steps),
        charts=_charts(data, budget),
        sources=sorted(totals.items(), key=lambda item: -item[1]),
        total_cost=total_cost,
        budget=budget,
        problems=problems,
    )


# Inside <script type="application/json"> only "</script" ends the element, but "<!--" and
# "<script" change how the parser looks for it: escaped as JSON, no text of the run can.
_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _script_json(value: Any) -> str:
    """``value`` as JSON to embed in a script element: ``<``, ``>``, ``&`` (and every
    non-ASCII character) as ``\\uNNNN`` escapes, so ``JSON.parse`` gives ``value`` back and
    no key, split or name can end the element or comment it out."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return text.translate(_SCRIPT_SAFE)


def _text(value: object) -> str:
    """Run text (a name, a path, a problem) for the HTML: its controls shown escaped as in
    ``summary`` (`escape_controls`), then HTML-escaped."""
    return html.escape(escape_controls(str(value)))


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _sources_table(run: Run) -> str:
    if not run.sources:
        return "<p>No costs recorded.</p>"
    whole = sum(amount for _, amount in run.sources) or 1.0
    rows = "".join(
        f"<tr><td>{_text(name)}</td><td>${amount:,.4f}</td><td>{amount / whole:.1%}</td></tr>"
        for name, amount in run.sources[:15]
    )
    return (
        '<table id="sources"><thead><tr><th>source</th><th>cost</th><th>share</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def render_html(run: Run) -> str:
    """The report as one HTML document."""
    data = _script_json([c.to_json() for c in run.charts])
    facts = [
        ("steps", f"{run.n_steps:,}"),
        ("rows", f"{run.n_rows:,}"),
        ("total cost", "-" if run.total_cost is None else f"${run.total_cost:,.4f}"),
    ]
    if run.budget is not None:
        facts.append(("budget", f"${run.budget:,.2f}"))
    facts_html = "".join(
        f'<div class="fact"><span>{name}</span><b>{value}</b></div>' for name, value in facts
    )
    problems = "".join(f"<li>{_text(p)}</li>" for p in run.problems)
    problems = f'<ul class="problems">{problems}</ul>' if problems else ""
    title = _text(run.run_dir)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: art-metrics report</title>
<style>{_asset("report.css")}</style></head>
<body>
<header><h1>{title}</h1>
<p class="meta">art-metrics {html.escape(__version__)} report, written
{time.strftime("%Y-%m-%d %H:%M:%S")}</p><div class="facts">{facts_html}</div></header>
{problems}
<main id="charts"></main>
<section><h2>Most expensive sources</h2>{_sources_table(run)}</section>
<div id="tooltip" hidden></div>
<script type="application/json" id="report-data">{data}</script>
<script>{_asset("report.js")}</script>
</body></html>
"""


def write_html(run: Run, path: str | os.PathLike[str]) -> int:
    """Write the report to ``path``; returns its size in bytes."""
    text = render_html(run).encode("utf-8")
    Path(path).write_bytes(text)
    return len(text)


def _png_label(name: str) -> str:
    """A series name as matplotlib text: controls escaped (no missing-glyph warnings), ``$``
    kept literal (not the start of mathtext, which can fail to parse)."""
    return escape_controls(name).replace("$", "\\$")


def write_pngs(run: Run, folder: str | os.PathLike[str]) -> list[Path]:
    """Draw each chart into ``folder/<chart id>.png`` with matplotlib (the ``[plot]`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in run.charts:
        fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
        if chart.stacked:
            x = chart.series[0].x
            ax.stackplot(
                x,
                *[[v or 0.0 for v in s.y] for s in chart.series],
                labels=[_png_label(s.name) for s in chart.series],
            )
        else:
            for s in chart.series:
                ax.plot(s.x, s.y, label=_png_label(s.name), marker="o" if len(s.x) <= 60 else None)
        if chart.budget is not None:
            ax.axhline(chart.budget, color="crimson", linestyle="--", label="budget")
        ax.set_title(chart.title)
        ax.set_xlabel(chart.x_label)
        ax.set_ylabel(chart.y_label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = folder / f"{chart.id}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
