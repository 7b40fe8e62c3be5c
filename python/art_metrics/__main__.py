"""``python -m art_metrics demo|summary`` (also installed as the ``art-metrics`` command)."""

from __future__ import annotations

import argparse
import sys

from .demo import run_demo
from .summary import (
    cost_breakdown,
    find_run_dir,
    format_breakdown,
    format_summary,
    read_history,
    summarize,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m art_metrics", description="Metrics and cost tracking for ART runs."
    )
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
        choices=["wandb", "trackio"],
        default=[],
        help="also report rows to W&B or Trackio (repeatable; needs the package)",
    )

    summary = commands.add_parser(
        "summary", help="print the per-step summary of a run directory (ours or openpipe-art's)"
    )
    summary.add_argument(
        "run_dir",
        help="a run directory ({base_path}/{project}/models/{name}), or a folder holding one",
    )
    return parser


def _summary(path: str) -> int:
    try:
        run_dir = find_run_dir(path)
        rows = read_history(run_dir)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    steps = summarize(rows)
    print(f"{run_dir}: {len(rows)} rows, {len(steps)} steps\n")
    print(format_summary(steps))
    print("\n" + format_breakdown(cost_breakdown(rows)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        if args.steps < 1:
            print("error: --steps must be at least 1", file=sys.stderr)
            return 2
        run_demo(
            args.base_path, args.steps, seed=args.seed, name=args.name, report_metrics=args.report
        )
        return 0
    return _summary(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
