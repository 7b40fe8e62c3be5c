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

The run is read and folded per step by the core (`summary.read_steps`), streamed. A series
longer than the report's point budget (`max_points_per_series`) is cut for drawing: per
bucket of consecutive steps its first, lowest, highest and last point, each an exact value;
``Series.sampled_from`` says how many points it had and the page says so under the chart.
The header's facts and the sources table are exact whatever the length.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__
from ._core import THROUGHPUT_LABELS, StepTable
from .history import read_state
from .summary import escape_controls, number, read_steps

__all__ = ["Chart", "Run", "Series", "load_run", "render_html", "write_html", "write_pngs"]

# Both openpipe-art versions' throughput keys and their series names (the core's table).
_THROUGHPUT = dict(THROUGHPUT_LABELS)
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}

# The point budget of the embedded data: each series at most MAX_POINTS (a 10,000-step run is
# drawn in full), and TOTAL_POINTS over the whole report, but never fewer than MIN_POINTS per
# series (more than the 520 pixel columns of a chart: report.js still draws each column's
# first, lowest, highest and last point). A 200,000-step run's report is 4.8 MB of HTML
# instead of 86 MB (issue #21).
MAX_POINTS = 10_000
TOTAL_POINTS = 200_000
MIN_POINTS = 2_000


def max_points_per_series(n_series: int) -> int:
    """How many points each of ``n_series`` series may keep."""
    return max(MIN_POINTS, min(MAX_POINTS, TOTAL_POINTS // max(n_series, 1)))


@dataclass
class Series:
    """One line (or stacked layer): ``x`` and ``y`` of equal length; ``steps`` when ``x``
    is not the step."""

    name: str
    x: list[float] = field(default_factory=list)
    y: list[float | None] = field(default_factory=list)
    steps: list[int] | None = None
    sampled_from: int | None = None  # the points before the series was cut for drawing

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
                {
                    "name": s.name,
                    "x": s.x,
                    "y": s.y,
                    **({"steps": s.steps} if s.steps else {}),
                    **({"sampledFrom": s.sampled_from} if s.sampled_from else {}),
                }
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


def _drawable(y: Iterable[float | None]) -> list[float | None]:
    """``y`` with its infinities as gaps (None), as a missing value is drawn: JSON has no
    ``Infinity`` (openpipe-art writes it into history.jsonl), and no axis holds it."""
    return [v if v is None or math.isfinite(v) else None for v in y]


def _series(name: str, data: tuple[list[float], list[float], list[int], int]) -> Series:
    x, y, steps, points = data
    return Series(name, x, _drawable(y), steps or None, points if points > len(x) else None)


def _reward_keys(keys: list[str]) -> list[str]:
    found = [k for k in keys if k.endswith("/reward") and k.count("/") == 1]
    return sorted(found, key=lambda k: (_SPLIT_ORDER.get(k.split("/")[0], 3), k))


def _charts(table: StepTable, budget: float | None) -> list[Chart]:
    last = table.last_keys()
    rewards = _reward_keys(last)
    sources = sorted(table.sources())
    cum = [k for k in last if k.startswith("costs/cum/") and k.count("/") == 2]
    cum.sort(key=lambda k: (k != "costs/cum/all", k))
    throughput = [k for k in _THROUGHPUT if k in last]
    times = sorted(table.time_keys(), key=lambda k: (k != "time/step_wall_s", k))
    losses = sorted(k for k in last if k.startswith("loss/"))
    # every series the charts can have (a reward twice: against step and against cost)
    n_series = 2 * len(rewards) + len(sources) + len(cum) + len(throughput) + len(times)
    cap = max_points_per_series(n_series + len(losses))

    charts = []
    if rewards:
        charts.append(
            Chart(
                "reward",
                "Reward",
                "step",
                "reward",
                [_series(k.split("/")[0], table.last_series(k, cap)) for k in rewards],
            )
        )
    against = [(k, table.reward_cost_series(k, cap)) for k in rewards]
    if any(data for _, data in against):
        charts.append(
            Chart(
                "reward_cost",
                "Reward against cumulative cost",
                "cumulative cost (USD)",
                "reward",
                [_series(k.split("/")[0], data) for k, data in against if data],
                x_money=True,
            )
        )
    if sources:
        x, layers, points = table.stacked_costs(sources, cap)
        sampled = points if points > len(x) else None
        charts.append(
            Chart(
                "cost_step",
                "Cost per step by source",
                "step",
                "USD",
                [Series(s, list(x), _drawable(y), None, sampled) for s, y in zip(sources, layers)],
                money=True,
                stacked=True,
            )
        )
    if cum:
        charts.append(
            Chart(
                "cost_total",
                "Cumulative cost",
                "step",
                "USD",
                [_series(k[len("costs/cum/") :], table.last_series(k, cap)) for k in cum],
                money=True,
                budget=budget,
            )
        )
    if throughput:
        charts.append(
            Chart(
                "throughput",
                "Throughput (cumulative average)",
                "step",
                "tokens/s",
                [_series(_THROUGHPUT[k], table.last_series(k, cap)) for k in throughput],
                from_zero=True,
            )
        )
    if times:
        charts.append(
            Chart(
                "time",
                "Time per step",
                "step",
                "seconds",
                [
                    _series(k[len("time/step_") :].removesuffix("_s"), table.summed_series(k, cap))
                    for k in times
                ],
                from_zero=True,
            )
        )
    if losses:
        charts.append(
            Chart(
                "loss",
                "Loss",
                "step",
                "loss",
                [_series(k[5:], table.last_series(k, cap)) for k in losses],
            )
        )
    return charts


def _budget(state: dict[str, Any]) -> float | None:
    ours = state.get("_art_metrics")
    value = number(ours.get("budget_usd")) if isinstance(ours, dict) else None
    return value


def load_run(run_dir: str | os.PathLike[str]) -> Run:
    """Read ``run_dir`` (history.jsonl, streamed by the core; state.json) and build the
    report's charts."""
    run_dir = Path(run_dir)
    table, problems = read_steps(run_dir)
    budget = _budget(read_state(run_dir))
    return Run(
        run_dir=run_dir,
        n_rows=table.rows,
        n_steps=len(table),
        charts=_charts(table, budget),
        sources=sorted(table.source_totals(), key=lambda item: -item[1]),
        # The run's total is the last `costs/cum/all` written (file order), as `summary` says:
        # a late row for an earlier step (a validation) carries the newest total.
        total_cost=table.totals().get("all"),
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
    if any(s.sampled_from for chart in run.charts for s in chart.series):
        problems += (
            '<p class="note">Long series are drawn from fewer points than the run has (see under '
            "each chart): per bucket of consecutive points, the first, lowest, highest and last, "
            "each an exact value. The facts above and the sources table are exact.</p>"
        )
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
                # A missing value is a gap in the line (matplotlib reads None as NaN too).
                y = [float("nan") if v is None else v for v in s.y]
                ax.plot(s.x, y, label=_png_label(s.name), marker="o" if len(s.x) <= 60 else None)
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
