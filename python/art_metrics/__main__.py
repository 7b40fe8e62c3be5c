"""``python -m art_metrics demo|summary|report|refresh|compact`` (also the ``art-metrics`` command)."""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from ._core import StepTable
from .history import HistoryReader
from .summary import (
    StepSummary,
    Table,
    escape_controls,
    find_run_dir,
    format_breakdown,
    read_steps,
    step_summaries,
    write_json,
)

# Optional dependencies: the module, and the extra that installs it.
_EXTRAS = {
    "wandb": "wandb",
    "trackio": "trackio",
    "matplotlib": "plot",
    "mlflow": "mlflow",
    "tensorboardX": "tensorboard",
    "opentelemetry.metrics": "otel",
}
# `demo --report NAME`: the module each reporter needs.
_REPORT_MODULES = {
    "wandb": "wandb",
    "trackio": "trackio",
    "mlflow": "mlflow",
    "tensorboard": "tensorboardX",
    "otel": "opentelemetry.metrics",
}


class _MissingExtra(Exception):
    pass


def _require(module: str, needed_by: str) -> None:
    """Import ``module`` or raise `_MissingExtra` naming the extra that installs it."""
    try:
        importlib.import_module(module)
    except ImportError:
        extra = _EXTRAS[module]
        raise _MissingExtra(
            f"{needed_by} needs {module}: pip install 'art-metrics[{extra}]'"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m art_metrics", description="Metrics and cost tracking for ART runs."
    )
    parser.add_argument("--version", action="version", version=f"art-metrics {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="simulate a training run, write its run directory, print a per-step summary"
    )
    demo.add_argument(
        "--base-path", default=".art", help="where run directories go (default: .art)"
    )
    demo.add_argument(
        "--steps", type=int, default=6, help="training steps to simulate (default: 6)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--name", default="demo", help="the run's name (default: demo)")
    demo.add_argument(
        "--report",
        action="append",
        choices=list(_REPORT_MODULES),
        default=[],
        help="also report rows to W&B, Trackio, MLflow, TensorBoard or OpenTelemetry "
        "(repeatable; needs the extra)",
    )
    demo.add_argument(
        "--json", action="store_true", help="print the run's summary as JSON (as summary --json)"
    )

    run_help = "a run directory, or a folder holding one at any depth"
    summary = commands.add_parser(
        "summary", help="print the per-step summary of a run directory (ours or openpipe-art's)"
    )
    summary.add_argument("run_dir", help=run_help)
    output = summary.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    output.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    output.add_argument(
        "--wide",
        action="store_true",
        help="one line per step with every column (the table is otherwise printed in blocks "
        "of columns that fit 100 characters)",
    )
    summary.add_argument(
        "--watch",
        action="store_true",
        help="keep following the run: a line per new row (JSON Lines with --json); Ctrl-C stops",
    )
    summary.add_argument(
        "--interval", type=float, default=1.0, help="seconds between checks with --watch"
    )

    report = commands.add_parser(
        "report", help="write a self-contained HTML report with charts of a run directory"
    )
    report.add_argument("run_dir", help=run_help)
    report.add_argument(
        "-o", "--output", default="report.html", help="the HTML file (default: report.html)"
    )
    report.add_argument(
        "--png", metavar="DIR", help="also write each chart as a PNG into DIR (needs [plot])"
    )
    report.add_argument("--json", action="store_true", help="print what was written as JSON")

    refresh = commands.add_parser(
        "refresh", help="download a newer price catalog, cache it, and print what changed"
    )
    refresh.add_argument(
        "source",
        nargs="?",
        default=None,
        help="an https URL, a local path or a file:// URL of a price list in genai-prices' or "
        "litellm's format (default: genai-prices' data at a pinned release)",
    )
    refresh.add_argument(
        "--from-package",
        action="store_true",
        help="read the installed genai-prices package's data instead (offline; "
        "pip install -U genai-prices for newer prices)",
    )
    refresh.add_argument("--timeout", type=float, default=30.0, help="seconds (default: 30)")
    refresh.add_argument(
        "--allow-insecure", action="store_true", help="accept a plain http:// source"
    )
    refresh.add_argument("--json", action="store_true", help="print what changed as JSON")

    compact = commands.add_parser(
        "compact",
        help="fold a run's state.journal into state.json (after a crash, before plain ART)",
    )
    compact.add_argument("run_dir", help="the run directory (.art/PROJECT/models/NAME)")
    compact.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _print_json(doc: dict[str, Any]) -> None:
    """A command's ``--json`` document: one JSON object on stdout (ASCII, every control and
    non-ASCII character escaped, as ``summary --json`` writes run text)."""
    print(json.dumps(doc, indent=2, ensure_ascii=True))


def _compact(args: argparse.Namespace) -> int:
    """Takes the run's writer lock, folds the journal into state.json and releases it."""
    from ._core import RunCore

    run_dir = Path(args.run_dir)
    where = escape_controls(str(run_dir))
    if not (run_dir / "state.json").exists() and not (run_dir / "state.journal").exists():
        print(f"error: {where} has no state.json or state.journal", file=sys.stderr)
        return 2
    run = RunCore(str(run_dir))
    run.compact()
    run.close()
    warnings = run.take_warnings()
    for message in warnings:  # what the fold found (a corrupt journal line...), as lines
        print(f"warning: {escape_controls(message)}", file=sys.stderr)
    state = run_dir / "state.json"
    if args.json:
        _print_json({"state": str(state), "warnings": warnings})
    else:
        print(f"compacted {escape_controls(str(state))}")
    return 0


def _warn(problems: list[str]) -> None:
    for problem in problems:  # they name the run's files, whose path comes from the run
        print(f"warning: {escape_controls(problem)}; skipped it", file=sys.stderr)


# -- summary ------------------------------------------------------------------------------
# Text from the run (metric keys, split and source names, run directory paths) is printed
# `escape_controls`'d: `Table` and `format_breakdown` escape the names, the JSON output is
# json.dumps with ensure_ascii (every control and non-ASCII character as \uNNNN).


class _StepPrinter:
    """Prints step summaries as a table, CSV rows or JSON Lines; a new header when a step
    brings columns the last header lacks. A table line holds the columns that fit 100
    characters (`Table.blocks`' first), every column with ``wide``."""

    def __init__(self, style: str, out: TextIO, wide: bool = False) -> None:
        self.style, self.out, self.wide = style, out, wide
        self.table: Table | None = None
        self.columns: list[int] | None = None
        self.writer = csv.writer(out, lineterminator="\n")

    def print_steps(self, steps: list[StepSummary], known: list[StepSummary]) -> None:
        for step in steps:
            if self.style != "json" and (self.table is None or not self.table.covers(step)):
                self.table = Table([*known, *steps])
                self.columns = None if self.wide else self.table.blocks()[0]
                if self.style == "csv":
                    self.writer.writerow(self.table.csv_header())
                else:
                    print(self.table.header(self.columns), file=self.out)
            if self.style == "json":
                print(json.dumps(step.to_dict(), ensure_ascii=True), file=self.out)
            elif self.style == "csv":
                assert self.table is not None
                self.writer.writerow(self.table.csv_row(step))
            else:
                assert self.table is not None
                print(self.table.line(step, self.columns), file=self.out)
        self.out.flush()


def _summary(args: argparse.Namespace) -> int:
    run_dir = find_run_dir(args.run_dir)
    if args.watch:
        return _watch(run_dir, args)
    # The core reads and folds history.jsonl (streamed); the output is written in chunks, so
    # a long run never exists as Python objects (issue #21: 200,000 steps took 1.2 GB).
    table, problems = read_steps(run_dir)
    _warn(problems)
    out = sys.stdout
    if args.json:
        write_json(table, run_dir, problems, out)
        return 0
    layout = Table.of_run(table)
    if args.csv:
        if len(table):
            csv.writer(out, lineterminator="\n").writerow(layout.csv_header())
            layout.write_csv(table, out)
        return 0
    print(f"{escape_controls(str(run_dir))}: {table.rows} rows, {len(table)} steps\n")
    if len(table) and args.wide:
        print(layout.header())
        layout.write_lines(table, out)
    elif len(table):
        layout.write_blocks(table, out)
    print("\n" + format_breakdown(table.totals()))
    return 0


def _watch(run_dir: Path, args: argparse.Namespace) -> int:
    """Follows ``run_dir/history.jsonl``: the steps so far, then a line for the step of each
    new row. Reads only; never writes to the run directory."""
    style = "json" if args.json else "csv" if args.csv else "text"
    printer = _StepPrinter(style, sys.stdout, args.wide)
    reader = HistoryReader(run_dir)
    table = StepTable()  # the core folds the rows; a step's line is read back from it
    summaries: dict[int, StepSummary] = {}
    following = escape_controls(str(reader.path))
    print(f"Following {following} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    first = True
    try:
        while True:
            try:
                rows, problems = reader.read_new()
            except FileNotFoundError:  # replaced this instant: try again
                rows, problems = [], []
            if reader.restarted:
                print("note: history.jsonl was rewritten; reading it again", file=sys.stderr)
                table = StepTable()
                summaries.clear()
            _warn(problems)
            if first:
                for row in rows:
                    table.add_row(row)
                steps = step_summaries(table)
                summaries.update((s.step, s) for s in steps)
                printer.print_steps(steps, [])
                first = False
            else:
                for row in rows:
                    step = table.add_row(row)
                    if step is None:
                        continue
                    summary = table.summary_of(step)
                    assert summary is not None  # add_row returned the step its row went to
                    summaries[step] = StepSummary(*summary)
                    printer.print_steps([summaries[step]], list(summaries.values()))
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


# -- report -------------------------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    """Writes the HTML report, then the PNGs. Without matplotlib, ``--png`` still gets the
    HTML, then an error naming the extra and exit status 2 (the PNGs asked for are missing)."""
    from .report import load_run, write_html, write_pngs

    started = time.perf_counter()
    run = load_run(find_run_dir(args.run_dir))
    _warn(run.problems)
    size = write_html(run, args.output)
    elapsed = time.perf_counter() - started
    if not args.json:
        print(
            f"Wrote {args.output} ({size / 1024:,.0f} KiB; {run.n_rows} rows, "
            f"{run.n_steps} steps) in {elapsed:.2f} s",
            flush=True,
        )
    pngs: list[str] = []
    missing: _MissingExtra | None = None
    if args.png:
        try:
            _require("matplotlib", "--png")
        except _MissingExtra as err:
            missing = err
        else:
            pngs = [str(path) for path in write_pngs(run, args.png)]
    if args.json:
        doc = {"html": args.output, "bytes": size, "rows": run.n_rows, "steps": run.n_steps}
        _print_json({**doc, "pngs": pngs, "problems": run.problems})
    else:
        for path in pngs:
            print(f"Wrote {path}")
    if missing is not None:
        print(f"error: {missing}; {args.output} was written, the PNGs were not", file=sys.stderr)
        return 2
    return 0


# -- refresh ------------------------------------------------------------------------------


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


class _ProgressBar:
    """A download progress line on stderr while a blocking call runs (terminals only): a bar
    with the percentage once the length is known, the bytes so far otherwise."""

    WIDTH = 24

    def __init__(self, label: str, progress: Any) -> None:
        self.label = label
        self.progress = progress
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._draw_until_done, daemon=True)

    def line(self, elapsed: float, frame: int) -> str:
        received, total = self.progress.received, self.progress.total
        if total:
            done = min(received / total, 1.0)
            filled = round(done * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            return (
                f"{self.label} [{bar}] {done:4.0%} {_megabytes(received)} of "
                f"{_megabytes(total)}, {elapsed:.1f} s"
            )
        spinner = "|/-\\"[frame % 4]
        return f"{spinner} {self.label} {_megabytes(received)}, {elapsed:.1f} s"

    def _draw_until_done(self) -> None:
        started, frame = time.monotonic(), 0
        while not self._done.wait(0.1):
            line = self.line(time.monotonic() - started, frame)
            print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
            frame += 1
        print("\r\033[K", end="", file=sys.stderr, flush=True)

    def run(self, call: Callable[[], Any]) -> Any:
        self._thread.start()
        try:
            return call()
        finally:
            self._done.set()
            self._thread.join()


def _refresh(args: argparse.Namespace) -> int:
    import warnings

    from . import pricing
    from .catalog_changes import change_lines

    was = pricing.catalog_info()
    progress = pricing.DownloadProgress()

    def call() -> dict[str, Any]:
        # The skipped entries are a line of the output (below), not a warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pricing.CatalogRefreshWarning)
            return pricing._refresh(
                args.source,
                args.timeout,
                args.allow_insecure,
                progress,
                args.from_package,
                cli=True,
            )

    try:
        if sys.stderr.isatty() and not args.from_package:
            label = f"downloading {args.source or pricing.DEFAULT_CATALOG_URL}"
            info = _ProgressBar(label, progress).run(call)
        else:
            info = call()
    except (ConnectionError, TimeoutError, ValueError, OSError, ImportError) as err:
        print(f"error: refresh failed, the previous catalog stays: {err}", file=sys.stderr)
        return 1
    if args.json:
        previous = {k: was.get(k) for k in ("origin", "source", "version", "url")}
        doc = {"url": info["url"], "path": info["path"], "previous": previous}
        _print_json({**doc, "models": info["models"], "changes": info["changes"]})
        return 0
    print(f"Refreshed the price catalog from {info['url']}")
    was_source = f"{was.get('source') or ''} {was.get('version') or ''}".strip()
    print(f"Cached at {info['path']} (was: {was.get('origin')} {was_source})")
    for line in change_lines(info["changes"]):
        print(line)
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.steps < 1:
        print("error: --steps must be at least 1", file=sys.stderr)
        return 2
    for name in args.report:
        _require(_REPORT_MODULES[name], f"--report {name}")
    from .demo import DEMO_PROJECT, run_demo

    run_demo(
        args.base_path,
        args.steps,
        seed=args.seed,
        name=args.name,
        report_metrics=args.report,
        out=io.StringIO() if args.json else None,
    )
    if args.json:
        run_dir = Path(args.base_path) / DEMO_PROJECT / "models" / args.name
        table, problems = read_steps(run_dir)
        write_json(table, run_dir, problems, sys.stdout)
    return 0


# A reader that closed the pipe early (`summary --json | head`) ends the command quietly, as
# it ends other Unix tools: no message, the exit status of a process killed by SIGPIPE
# (128 + 13). The signal itself stays ignored, as Python sets it: HTTP reads and writes in
# the core (refresh) must get an error, not kill the process.
_CLOSED_PIPE = 128 + 13


def _closed_pipe() -> int:
    # Anything still buffered for stdout would fail again when Python flushes it at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return _CLOSED_PIPE


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {
        "demo": _demo,
        "summary": _summary,
        "report": _report,
        "compact": _compact,
        "refresh": _refresh,
    }
    try:
        status = commands[args.command](args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return status
    except BrokenPipeError:
        return _closed_pipe()
    except _MissingExtra as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
