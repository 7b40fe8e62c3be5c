"""Per-step summaries of a run directory's history.jsonl: reward, cost, throughput.

Works on any run directory in ART's format, written by art_metrics or by openpipe-art
(0.5.18, and 0.5.23's ``rollout`` names), and only reads it. ``python -m art_metrics summary
RUN_DIR`` prints `format_summary`; `Table` also writes CSV and JSON. The rules and the
formatting of many steps are the core's (`_core.StepTable`): `read_steps` folds a run's
history.jsonl per step, streamed, and `summarize` folds rows you already hold the same way.

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
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ._core import StepTable, format_summary_line
from ._core import cost_sources as cost_sources_core
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
    "read_steps",
    "step_summaries",
    "summarize",
    "write_json",
]

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
    if type(value) is float:  # the common case first
        return None if math.isnan(value) else value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def cost_sources(values: Mapping[str, float]) -> dict[str, float]:
    """A row's cost per source, from its numbers: the leaf ``costs/...`` keys (no other cost
    key of the row lies below them), without ``costs/all`` and the cumulative
    ``costs/cum/...`` (the core's rule, `_core.cost_sources`)."""
    return cost_sources_core(list(values.items()))


def summarize(rows: Iterable[Mapping[str, object]]) -> list[StepSummary]:
    """One `StepSummary` per ``training_step``, in step order.

    The step cost and the per-source costs add every row's own costs (each row has its own
    split's costs); the total, the rewards, the throughputs, losses and exception rates are
    the step's last values (``costs/cum/all`` and ``throughput/avg_*`` are run-wide). The
    rows are folded by the core's `StepTable`, as ``summary`` folds history.jsonl.
    """
    table = StepTable()
    for row in rows:
        table.add_row(row)
    return step_summaries(table)


def step_summaries(table: StepTable, start: int = 0, stop: int | None = None) -> list[StepSummary]:
    """The `StepSummary` of each step of ``table`` at positions ``start:stop`` (step order)."""
    stop = len(table) if stop is None else stop
    return [StepSummary(*fields) for fields in table.summaries(start, stop)]


def read_steps(run_dir: str | os.PathLike[str]) -> tuple[StepTable, list[str]]:
    """``run_dir/history.jsonl`` folded per step by the core, streamed (a run of any length
    holds one value per step and column, never its rows), with the run's cost totals
    (``totals()``) from its folded state, and the problems found: the bad lines, as
    `read_rows` reports them. ``OSError`` when the file cannot be read or is not a regular
    file."""
    path = Path(run_dir) / "history.jsonl"
    table = StepTable.read_run(Path(run_dir))
    return table, [f"{path} line {line}: {what}" for line, what in table.problems()]


_COLUMNS = (
    "step",
    "train reward",
    "val reward",
    "step cost",
    "total cost",
    "actor tok/s",
    "trainer tok/s",
)


# Each column's format, one letter per column (the core's `summary_text` writes them as
# Python's `format()` would): r {:.3f}, $ ${:.4f}, t {:,.0f}, g {:.4g}, % {:.1%}; the step is d.
_BASE_FORMATS = "drr$$tt"
# A column is as wide as its name, and at least as wide as its format writes common values
# ("$0.0188" under "gpu", "100.0%" under "val exceptions"), so that cells stay aligned.
_MIN_WIDTHS = {"d": 4, "r": 6, "$": 8, "t": 6, "g": 6, "%": 6}
# `summary` prints its table in blocks of columns that each fit this many characters (issue
# #23: a run with a few cost sources was ~270 wide); `summary --wide`, a line per step.
WIDTH = 100
_CHUNK = 8192  # steps formatted per call into the core when printing a whole run


def _base_values(summary: StepSummary) -> list[float | None]:
    return [
        summary.train_reward,
        summary.val_reward,
        summary.step_cost,
        summary.total_cost,
        summary.actor_tok_per_s,
        summary.trainer_tok_per_s,
    ]


def format_step(summary: StepSummary) -> str:
    """One line of the base table (the columns of `format_header`)."""
    widths = [len(name) for name in _COLUMNS]
    line = format_summary_line(summary.step, _base_values(summary), _BASE_FORMATS, widths)
    return line.rstrip()


def format_header() -> str:
    """The base table's header: the columns every run has."""
    return "  ".join(_COLUMNS)


def _split_order(split: str) -> tuple[int, str]:
    return ({"train": 0, "val": 1, "test": 2}.get(split, 3), split)


class Table:
    """The summary table of some steps: the base columns, then one column per cost source,
    per loss and per split's exception rate that the steps have (in that order).

    Text (`header`, `line`), CSV (`csv_header`, `csv_row`: full precision, empty when
    missing) and JSON-ready dicts (``StepSummary.to_dict``) share the same columns.
    `of_run` lays out a whole run read by `read_steps`, and `write_lines` / `write_csv`
    print it without making a `StepSummary` per step. `blocks` cuts the columns into blocks
    whose lines fit a width (each block begins with the step); `header`, `line` and
    `write_lines` print the columns of one block when given it, all of them otherwise.
    """

    def __init__(self, steps: Iterable[StepSummary] = ()) -> None:
        steps = list(steps)
        self._lay_out(
            {s for step in steps for s in step.costs},
            {k for step in steps for k in step.losses},
            {k for step in steps for k in step.exception_rates},
        )

    @classmethod
    def of_run(cls, table: StepTable) -> Table:
        """The columns of every step of ``table``."""
        self = cls.__new__(cls)
        self._lay_out(table.sources(), table.losses(), table.splits())
        return self

    def _lay_out(
        self, sources: Iterable[str], losses: Iterable[str], splits: Iterable[str]
    ) -> None:
        self.sources = sorted(sources)
        self.losses = sorted(losses)
        self.splits = sorted(splits, key=_split_order)
        self._formats = (
            _BASE_FORMATS
            + "$" * len(self.sources)
            + "g" * len(self.losses)
            + "%" * len(self.splits)
        )
        self._widths = [
            max(len(name), _MIN_WIDTHS[letter]) for name, letter in zip(self.names(), self._formats)
        ]

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

    def blocks(self, width: int = WIDTH) -> list[list[int]]:
        """The value columns (indices after the step: the base columns, then sources, losses
        and exception rates) cut into blocks whose lines are at most ``width`` characters
        (a column wider than that alone in its block). The base columns stay together."""
        blocks: list[list[int]] = []
        used = 0
        for column, cell_width in enumerate(self._widths[1:]):
            if blocks and (column < len(_BASE_FORMATS) - 1 or used + 2 + cell_width <= width):
                blocks[-1].append(column)
                used += 2 + cell_width
            else:
                blocks.append([column])
                used = self._widths[0] + 2 + cell_width
        return blocks

    def _picked(self, columns: list[int] | None) -> tuple[str, list[int], list[int]]:
        """The formats, widths and indices (step included) of the step and ``columns``."""
        picked = (
            list(range(len(self._widths))) if columns is None else [0, *(c + 1 for c in columns)]
        )
        formats = "".join(self._formats[i] for i in picked)
        return formats, [self._widths[i] for i in picked], picked

    def header(self, columns: list[int] | None = None) -> str:
        """The names of the step and ``columns`` (every column by default), right-aligned."""
        _, widths, picked = self._picked(columns)
        names = self.names()
        return "  ".join(names[i].rjust(w) for i, w in zip(picked, widths))

    def line(self, step: StepSummary, columns: list[int] | None = None) -> str:
        values = _base_values(step)
        values += [step.costs.get(s) for s in self.sources]
        values += [step.losses.get(k) for k in self.losses]
        values += [step.exception_rates.get(s) for s in self.splits]
        formats, widths, picked = self._picked(columns)
        values = [values[i - 1] for i in picked[1:]]
        return format_summary_line(step.step, values, formats, widths)

    def write_lines(self, table: StepTable, out: TextIO, columns: list[int] | None = None) -> None:
        """A `line` for every step of ``table``, formatted by the core in chunks."""
        formats, widths, _ = self._picked(columns)
        for start in range(0, len(table), _CHUNK):
            out.write(
                table.table_text(
                    start,
                    start + _CHUNK,
                    self.sources,
                    self.losses,
                    self.splits,
                    formats,
                    widths,
                    columns,
                )
            )

    def write_blocks(self, table: StepTable, out: TextIO, width: int = WIDTH) -> None:
        """Every step of ``table``, a block of columns at a time (`blocks`): each block's
        header and lines, a blank line between blocks."""
        for n, columns in enumerate(self.blocks(width)):
            if n:
                out.write("\n")
            out.write(self.header(columns) + "\n")
            self.write_lines(table, out, columns)

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

    def write_csv(self, table: StepTable, out: TextIO) -> None:
        """A `csv_row` for every step of ``table`` (numbers only: no field needs quoting)."""
        for start in range(0, len(table), _CHUNK):
            out.write(table.csv_text(start, start + _CHUNK, self.sources, self.losses, self.splits))


def write_json(
    table: StepTable, run_dir: str | os.PathLike[str], problems: list[str], out: TextIO
) -> None:
    """``summary --json``'s document for ``table``, streamed: the same text as
    ``json.dumps(doc, indent=2, ensure_ascii=True)`` of ``run_dir``, ``rows``, ``steps`` (each
    step's ``StepSummary.to_dict()``), ``totals`` (`cost_breakdown`) and ``problems``."""
    marker = r"\u0000steps"  # how json.dumps writes the placeholder: no path or name holds NUL
    doc = {
        "run_dir": str(run_dir),
        "rows": table.rows,
        "steps": "\0steps",
        "totals": table.totals(),
        "problems": problems,
    }
    head, tail = json.dumps(doc, indent=2, ensure_ascii=True).split(f'"{marker}"', 1)
    out.write(head)
    if len(table):
        out.write("[\n")
        for start in range(0, len(table), _CHUNK):
            if start:
                out.write(",\n")
            out.write(table.json_text(start, start + _CHUNK))
        out.write("\n  ]")
    else:
        out.write("[]")
    out.write(tail + "\n")


def format_summary(steps: Iterable[StepSummary]) -> str:
    """The `Table`'s header and one line per step."""
    steps = list(steps)
    table = Table(steps)
    return "\n".join([table.header(), *(table.line(s) for s in steps)])


def cost_breakdown(rows: Iterable[Mapping[str, object]]) -> dict[str, float]:
    """The run's cumulative cost per top-level cost context (``train``, ``eval``, ``gpu``, ...)
    and ``all``: the last value of each ``costs/cum/<name>`` key in the rows (rows without a
    step included; ``StepTable.totals()`` of a run read by `read_steps`)."""
    table = StepTable()
    for row in rows:
        table.add_row(row)
    return table.totals()


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
