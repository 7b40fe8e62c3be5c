"""Issue #21, case 10: ``summary`` and ``report`` read a run through the core, streamed.

Before, every row was a Python dict: a 200,000-step run took 1.2-1.9 GB and 10-40 s, and its
report was 86 MB of HTML. The core now folds history.jsonl per step (`_core.StepTable`) and
writes the long outputs itself. These tests check that nothing a user sees changed: the
streamed path against the dict-based one it replaced (tests/dict_summary.py), on the demo, a
run written by openpipe-art 0.5.18, hostile names, 0.5.23's names and a file with every odd
line; and that a long run's report is cut for drawing while its totals stay exact.
``make bench`` (bench/bigrun.py) measures the time and memory.
"""

from __future__ import annotations

import json
import math
import os
import pathlib

import dict_summary
import pytest
from art_metrics.history import read_rows
from art_metrics.report import MAX_POINTS, load_run, max_points_per_series, render_html
from art_metrics.summary import Table, cost_breakdown, read_steps, step_summaries, summarize
from report_runs import long_run
from support.workers import openpipe_art_run
from test_cli import DEMO_RUN, cli
from test_security import hostile_run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("demo")
    cli("demo", "--steps", "6", "--base-path", str(base), cwd=base)
    return base / DEMO_RUN


def odd_run(run_dir: pathlib.Path) -> pathlib.Path:
    """Every kind of line and row the readers meet: late and out-of-order rows, 0.5.23's
    rollout names, a custom split's prefixed costs, duplicate keys, NaN and infinities,
    bools, nested values, rows without a step, bad and blank lines, a key with escapes, and
    a last line without its newline."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        '{"training_step": 2, "train/reward": 0.5, "costs/train/judge": 0.25, "costs/gpu": 0.5,'
        ' "costs/train": 0.25, "costs/all": 0.75, "costs/cum/all": 0.75, "costs/cum/train": 0.25,'
        ' "costs/cum/gpu": 0.5, "throughput/avg_rollout_tok_per_s": 900.5,'
        ' "throughput/avg_trainer_tok_per_s": 3000, "time/step_rollout_s": 2.5,'
        ' "time/step_wall_s": 5, "loss/train": 1.5, "train/exception_rate": 0.0625,'
        ' "data/step_rollout_tokens": 1000, "step": 2}',
        "",
        '{"training_step": 1, "train/reward": NaN, "costs/all": 1.0, "costs/all": 2.0,'
        ' "costs/gpu": 2.0, "costs/cum/all": 2.75, "loss/train": Infinity, "correct": true,'
        ' "nested": {"costs/all": 9, "a": [1, 2, {"b": null}]}, "step": 1}',
        "{oops",
        "[1, 2]",
        '{"step": 3, "val/reward": -Infinity, "holdout/costs/holdout/judge": 0.125,'
        ' "holdout/costs/all": 0.125, "holdout/costs/cum/all": 2.875,'
        ' "holdout/costs/cum/holdout": 0.125, "holdout/reward": 0.3,'
        ' "holdout/exception_rate": 0.5, "costs/\\u00e9t\\u00e9/judge": 0.001}',
        '{"costs/cum/all": 3.0, "note": "a row without a step"}',
        '{"training_step": null, "step": 9, "costs/all": 1.0}',
        '{"training_step": 2, "val/reward": 0.75, "costs/eval/judge": 0.5, "costs/eval": 0.5,'
        ' "costs/all": 0.5, "costs/cum/all": 3.5, "costs/cum/eval": 0.5,'
        ' "throughput/avg_actor_tok_per_s": 800, "time/step_eval_s": 1.25, "step": 2}',
        '"a string"',
        '{"training_step": 4, "train/reward": 0.9, "costs/cum/all": 3.5, "loss/train": 0.5}',
    ]
    (run_dir / "history.jsonl").write_text("\n".join(lines))  # no newline after the last
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo_run) -> dict[str, pathlib.Path]:
    base = tmp_path_factory.mktemp("runs")
    return {
        "demo": demo_run,
        "openpipe-art": openpipe_art_run(base / "ref"),
        "hostile": hostile_run(base / "hostile"),
        "odd": odd_run(base / "odd"),
        "long": long_run(base / "long", 3_000),
    }


RUNS = ["demo", "openpipe-art", "hostile", "odd", "long"]


@pytest.mark.parametrize("name", RUNS)
def test_summarize_and_cost_breakdown_match_the_dict_path(runs, name):
    rows, _ = read_rows(runs[name])
    ours = [s.to_dict() for s in summarize(rows)]
    assert ours == [s.to_dict() for s in dict_summary.summarize(rows)]
    assert cost_breakdown(rows) == dict_summary.cost_breakdown(rows)
    table, _ = read_steps(runs[name])  # streamed from the file: the same
    assert [s.to_dict() for s in step_summaries(table)] == ours
    assert table.totals() == dict_summary.cost_breakdown(rows)
    assert table.rows == len(rows)


@pytest.mark.parametrize("name", RUNS)
@pytest.mark.parametrize("style", ["text", "json", "csv"])
def test_summary_prints_what_the_dict_path_printed(runs, name, style):
    run_dir = runs[name]
    rows, problems = read_rows(run_dir)
    flag = {"text": ["--wide"], "json": ["--json"], "csv": ["--csv"]}[style]
    proc = cli("summary", str(run_dir), *flag, cwd=run_dir)
    expected = dict_summary.summary_output(str(run_dir), rows, problems, style)
    if style == "text":
        # The same lines, cell for cell (the table's columns are now at least as wide as
        # their format writes: issue #23), and the same lines around the table.
        assert [line.split() for line in proc.stdout.splitlines()] == [
            line.split() for line in expected.splitlines()
        ]
    else:
        # Byte for byte. (One difference can exist, not in these runs: --json lists a step's
        # costs in the order the run first had each source, the dict path in the order
        # that step's rows had them; the same document.)
        assert proc.stdout == expected
    assert proc.stderr.splitlines() == [f"warning: {p}; skipped it" for p in problems]


def report_series(run) -> dict[str, list[dict]]:
    return {
        chart.id: [
            {"name": s.name, "x": s.x, "y": s.y, **({"steps": s.steps} if s.steps else {})}
            for s in chart.series
        ]
        for chart in run.charts
    }


@pytest.mark.parametrize("name", RUNS)
def test_report_data_matches_the_dict_path(runs, name):
    run_dir = runs[name]
    rows, problems = read_rows(run_dir)
    run = load_run(run_dir)
    # One difference, on purpose: an infinite value (openpipe-art writes them) is a gap, as
    # JSON has no Infinity (the dict path kept it, and render_html refused the run).
    expected = {
        chart: [
            {**s, "y": [v if v is None or math.isfinite(v) else None for v in s["y"]]}
            for s in series
        ]
        for chart, series in dict_summary.report_charts(rows).items()
    }
    assert report_series(run) == expected
    facts = dict_summary.report_facts(rows)
    assert (run.n_rows, run.n_steps, run.total_cost) == (
        facts["n_rows"],
        facts["n_steps"],
        facts["total_cost"],
    )
    assert run.sources == facts["sources"]
    assert run.problems == problems
    assert not any(s.sampled_from for c in run.charts for s in c.series)
    assert "Long series are drawn from fewer points" not in render_html(run)


def test_the_odd_run_reads_as_python_reads_it(runs):
    """The rules the dict path had, spelled out on the odd run."""
    table, problems = read_steps(runs["odd"])
    path = runs["odd"] / "history.jsonl"
    assert problems == [
        f"{path} line 4: not JSON",
        f"{path} line 5: not a JSON object (list)",
        f"{path} line 10: not a JSON object (str)",
    ]
    assert table.rows == 7  # the complete last line counts; the step-less rows too
    by_step = {s.step: s for s in step_summaries(table)}
    assert sorted(by_step) == [1, 2, 3, 4]  # `training_step: null` hides `step: 9`
    one, two, three = by_step[1], by_step[2], by_step[3]
    assert one.step_cost == 2.0 and one.train_reward is None  # duplicate once; NaN is none
    assert one.losses == {"loss/train": math.inf}
    assert two.actor_tok_per_s == 800  # the later of 0.5.23's rollout and 0.5.18's actor
    assert two.step_cost == 1.25 and two.total_cost == 3.5  # the late val row
    assert three.costs == {"holdout/judge": 0.125, "\u00e9t\u00e9/judge": 0.001}
    assert three.exception_rates == {"holdout": 0.5} and three.val_reward == -math.inf
    assert table.totals()["all"] == 3.5  # the last written, not the highest step's


def test_a_long_run_report_is_cut_for_drawing_and_its_totals_stay_exact(tmp_path):
    steps = 25_000
    run_dir = long_run(tmp_path / "long", steps)
    rows, _ = read_rows(run_dir)
    run = load_run(run_dir)
    facts = dict_summary.report_facts(rows)
    assert (run.n_rows, run.n_steps) == (facts["n_rows"], facts["n_steps"]) == (27_500, steps)
    assert run.total_cost == facts["total_cost"] and run.sources == facts["sources"]
    exact = dict_summary.report_charts(rows)
    cap = max_points_per_series(sum(len(c.series) for c in run.charts))
    assert cap == MAX_POINTS
    for chart in run.charts:
        for series, full in zip(chart.series, exact[chart.id]):
            assert series.name == full["name"]
            n = len(full["x"])
            if n <= cap:
                assert series.sampled_from is None and series.x == full["x"], series.name
                continue
            assert series.sampled_from == n and len(series.x) <= cap, series.name
            # each point kept is one of the full series (same step, exact value), in order;
            # the first, last, lowest and highest are among them
            points = list(zip(full.get("steps") or full["x"], full["x"], full["y"]))
            kept = list(zip(series.steps or series.x, series.x, series.y))
            where = {p: i for i, p in enumerate(points)}
            indices = [where[p] for p in kept]
            assert indices == sorted(indices) and indices[0] == 0 and indices[-1] == n - 1
            values = [y for y in full["y"] if y is not None]
            if not chart.stacked:
                assert min(values) in series.y and max(values) in series.y
    html = render_html(run)
    assert "Long series are drawn from fewer points" in html
    assert len(html.encode()) < 5_000_000
    data = json.loads(
        html.split('id="report-data">')[1].split("</script>")[0]
    )  # the embedded data says how many points each cut series had
    reward = {s["name"]: s for c in data if c["id"] == "reward" for s in c["series"]}
    assert reward["train"]["sampledFrom"] == steps and "sampledFrom" not in reward["val"]


def test_the_point_budget():
    assert max_points_per_series(1) == MAX_POINTS == 10_000
    assert max_points_per_series(40) == 5_000
    assert max_points_per_series(1_000) == 2_000  # never fewer


@pytest.mark.parametrize("command", ["summary", "report"])
def test_a_history_that_is_not_a_regular_file_is_refused_in_one_line(tmp_path, command):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "history.jsonl").symlink_to("/dev/zero")
    proc = cli(command, str(run_dir), cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert (
        proc.stderr
        == f"error: {run_dir}/history.jsonl is not a regular file (refusing to read it)\n"
    )
    (run_dir / "history.jsonl").unlink()
    os.mkfifo(run_dir / "history.jsonl")  # a FIFO with no writer: must not block
    proc = cli(command, str(run_dir), cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr


def test_the_python_api_still_formats_single_steps(runs):
    """`Table.line` and `format_step` (summary --watch, the demo) format through the same
    core cells as the streamed table."""
    rows, _ = read_rows(runs["openpipe-art"])
    ours, theirs = summarize(rows), dict_summary.summarize(rows)
    table, old = Table(ours), dict_summary.Table(theirs)
    assert table.names() == old.names()
    assert [table.line(s).split() for s in ours] == [old.line(s).split() for s in theirs]
    assert [table.csv_row(s) for s in ours] == [old.csv_row(s) for s in theirs]
