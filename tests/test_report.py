"""``python -m art_metrics report``: the charts' data, the HTML file, the PNGs (no browser;
tests/test_report_browser.py opens the page)."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import pytest
from art_metrics.history import read_rows
from art_metrics.report import load_run, render_html
from report_runs import DEMO_CHARTS, expected_points, long_run, step_value
from support.workers import openpipe_art_run
from test_cli import cli

DEMO_RUN = pathlib.Path("art-metrics-demo/models/demo")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("demo")
    cli("demo", "--steps", "5", "--base-path", str(base), cwd=base)
    return base / DEMO_RUN


def embedded(html: str) -> list[dict]:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert match
    return json.loads(match.group(1).replace("<\\/", "</"))


def charts_by_id(run_dir: pathlib.Path) -> dict[str, dict]:
    return {c["id"]: c for c in embedded(render_html(load_run(run_dir)))}


def test_report_cli_writes_one_self_contained_file(demo_run, tmp_path):
    out = cli("report", str(demo_run.parents[2]), "-o", "r.html", cwd=tmp_path).stdout
    assert out.startswith("Wrote r.html (") and "8 rows, 5 steps" in out
    html = (tmp_path / "r.html").read_text()
    # nothing to fetch: no external script, style, font or image
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert "url(" not in html and "@import" not in html
    assert html.count("<script") == 2 and "window.artReport" in html
    assert str(demo_run) in html


def test_the_charts_hold_one_point_per_step_with_the_key(demo_run):
    rows, _ = read_rows(demo_run)
    charts = charts_by_id(demo_run)
    assert list(charts) == DEMO_CHARTS
    for chart, expected in expected_points(rows).items():
        got = {s["name"]: sum(v is not None for v in s["y"]) for s in charts[chart]["series"]}
        assert got == expected, chart
    reward = {s["name"]: s for s in charts["reward"]["series"]}
    assert reward["val"]["x"] == [2, 4, 5]
    assert reward["val"]["y"] == [step_value(rows, s, "val/reward") for s in (2, 4, 5)]
    # per step and source: the step's rows added up; the layers sum to each step's costs/all
    stacked = charts["cost_step"]
    assert stacked["stacked"] and stacked["money"]
    for i, step in enumerate(stacked["series"][0]["x"]):
        layers = [s["y"][i] or 0.0 for s in stacked["series"]]
        assert sum(layers) == pytest.approx(step_value(rows, step, "costs/all", summed=True))
    times = {s["name"]: s for s in charts["time"]["series"]}
    assert list(times) == ["wall", "actor", "eval", "trainer"]
    assert times["eval"]["y"][0] == step_value(rows, 2, "time/step_eval_s", summed=True)
    # reward against cost: x is the cumulative cost written with (or before) the reward
    against = {s["name"]: s for s in charts["reward_cost"]["series"]}
    val_rows = [r for r in rows if "val/reward" in r]
    assert against["val"]["x"] == [r["costs/cum/all"] for r in val_rows]
    assert against["val"]["steps"] == [2, 4, 5]
    assert charts["cost_total"]["budget"] is None


def test_the_budget_line_comes_from_state_json(tmp_path):
    run_dir = long_run(tmp_path / "run", 30)
    assert charts_by_id(run_dir)["cost_total"]["budget"] is None
    state = {"_metrics_builder_state": {}, "_art_metrics": {"budget_usd": 0.75}}
    (run_dir / "state.json").write_text(json.dumps(state))
    run = load_run(run_dir)
    assert run.budget == 0.75
    html = render_html(run)
    assert {c["id"]: c for c in embedded(html)}["cost_total"]["budget"] == 0.75
    assert "<span>budget</span><b>$0.75</b>" in html
    (run_dir / "state.json").write_text("{not json")  # unreadable: no budget, still a report
    assert load_run(run_dir).budget is None


def test_an_openpipe_art_run(tmp_path):
    run_dir = openpipe_art_run(tmp_path / "ref")
    rows, _ = read_rows(run_dir)
    charts = charts_by_id(run_dir)
    assert [s["name"] for s in charts["reward"]["series"]] == ["train", "val", "test", "holdout"]
    sources = [s["name"] for s in charts["cost_step"]["series"]]
    assert "holdout/judge" in sources and "train/judge" in sources and "train" not in sources
    run = load_run(run_dir)
    assert run.total_cost == rows[-1]["costs/cum/all"]
    assert sum(amount for _, amount in run.sources) == pytest.approx(run.total_cost)
    assert [a for _, a in run.sources] == sorted((a for _, a in run.sources), reverse=True)


def test_openpipe_art_0_5_23_names(tmp_path):
    """0.5.23 calls the actor the rollout: its throughput and time keys are charted."""
    rows = [
        {
            "training_step": s,
            "train/reward": 0.1 * s,
            "throughput/avg_rollout_tok_per_s": 900.0 + s,
            "throughput/avg_trainer_tok_per_s": 3000.0,
            "time/step_rollout_s": 2.0 * s,
            "time/step_wall_s": 5.0 * s,
            "loss/train": 1.0 / s,
        }
        for s in (1, 2, 3)
    ]
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    charts = charts_by_id(tmp_path)
    throughput = {s["name"]: s["y"] for s in charts["throughput"]["series"]}
    assert throughput == {"rollout": [901.0, 902.0, 903.0], "trainer": [3000.0] * 3}
    assert {s["name"] for s in charts["time"]["series"]} == {"wall", "rollout"}
    assert charts["loss"]["series"][0]["name"] == "train"
    assert "cost_step" not in charts and "reward_cost" not in charts


def test_markup_in_names_and_bad_lines(tmp_path):
    rows = [
        {"training_step": 1, "costs/</script><b>x": 0.5, "costs/all": 0.5, "costs/cum/all": 0.5},
        {"training_step": 2, "costs/</script><b>x": 0.25, "costs/all": 0.25, "costs/cum/all": 0.75},
    ]
    lines = [json.dumps(rows[0]), "not json", "[1, 2]", json.dumps(rows[1])]
    (tmp_path / "history.jsonl").write_text("\n".join(lines) + "\n")
    run = load_run(tmp_path)
    assert run.problems == [
        f"{tmp_path}/history.jsonl line 2: not JSON",
        f"{tmp_path}/history.jsonl line 3: not a JSON object (list)",
    ]
    html = render_html(run)
    assert html.count("</script>") == 2  # the two script elements' own
    assert "&lt;/script&gt;&lt;b&gt;x" in html  # the sources table
    assert {c["id"]: c for c in embedded(html)}["cost_step"]["series"][0]["y"] == [0.5, 0.25]
    proc = cli("report", str(tmp_path), "-o", "r.html", cwd=tmp_path)
    assert "line 2: not JSON; skipped it" in proc.stderr and "2 rows, 2 steps" in proc.stdout


def test_png_export(demo_run, tmp_path):
    out = cli("report", str(demo_run), "-o", "r.html", "--png", "png", cwd=tmp_path).stdout
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert names == sorted(
        f"{c}.png"
        for c in ("reward", "reward_cost", "cost_step", "cost_total", "throughput", "time", "loss")
    )
    assert "Wrote png/cost_total.png" in out
    from PIL import Image

    with Image.open(tmp_path / "png" / "cost_step.png") as image:
        assert image.size == (800, 400)
        colors = image.convert("RGB").getcolors(maxcolors=100_000)
        assert colors is not None and len(colors) > 50  # drawn, not blank


def test_png_without_matplotlib_writes_the_html_then_says_how_to_get_them(demo_run, tmp_path):
    """Issue #23: before, nothing was written (not the HTML either)."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from art_metrics.__main__ import main\n"
        f"sys.exit(main(['report', {str(demo_run)!r}, '--png', 'png']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout.startswith("Wrote report.html (")
    assert proc.stderr == (
        "error: --png needs matplotlib: pip install 'art-metrics[plot]'; "
        "report.html was written, the PNGs were not\n"
    )
    assert (tmp_path / "report.html").stat().st_size > 0 and not (tmp_path / "png").exists()


def test_report_errors(tmp_path):
    missing = cli("report", str(tmp_path / "nope"), cwd=tmp_path, check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_report_and_summary_agree_on_the_total_with_a_late_row_for_an_earlier_step(tmp_path):
    """Issue #21 case 9: a validation row for step 1 written after step 2's train row carries
    the newest running total; the report took the total at the highest step ($2.00), summary
    the last row's ($7.00, the truth). Both now say $7.00."""
    from art_metrics.report import load_run
    from art_metrics.summary import cost_breakdown

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows = [
        {"training_step": 1, "costs/train": 1.0, "costs/cum/all": 1.0, "step": 1},
        {"training_step": 2, "costs/train": 1.0, "costs/cum/all": 2.0, "step": 2},
        {"training_step": 1, "costs/eval": 5.0, "costs/cum/all": 7.0, "step": 1},
    ]
    (run_dir / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cost_breakdown(rows)["all"] == 7.0
    assert load_run(run_dir).total_cost == 7.0


def test_summary_and_report_take_the_runs_totals_from_its_folded_state(tmp_path):
    """Issue #21: one reader of a run. Totals do not depend on history.jsonl (README: "Run
    directory and crash safety"): after it was rotated away, `summary` and `report` read the
    run's totals from its state (the journal folded in memory) rather than the last row."""
    import asyncio

    import art_metrics

    async def write() -> str:
        model = art_metrics.Model(name="m", project="p", base_path=str(tmp_path))
        for step in (1, 2, 3):
            model.metrics_builder().add_cost("train/judge", 1.0)
            await model.log([art_metrics.Trajectory(reward=1.0)], split="train", step=step)
        model.close()
        return model.run_dir

    run_dir = pathlib.Path(asyncio.run(write()))
    history = run_dir / "history.jsonl"
    first = history.read_text().splitlines()[0]
    history.rename(run_dir / "history.jsonl.1")
    history.write_text(first + "\n")  # a rotated log restarted with an old row
    assert load_run(run_dir).total_cost == 3.0
    out = cli("summary", str(run_dir), cwd=tmp_path).stdout
    assert "Total cost $3.0000" in out, out
    data = json.loads(cli("summary", "--json", str(run_dir), cwd=tmp_path).stdout)
    assert data["totals"] == {"all": 3.0, "train": 3.0}


def test_infinite_values_are_drawn_as_gaps(tmp_path):
    """openpipe-art writes ``Infinity`` into history.jsonl (its JSON is Python's): the report
    stopped with "Out of range float values are not JSON compliant". They are now gaps, as a
    missing value is, and the rest of the series is drawn."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows = [
        {"training_step": 1, "train/reward": 0.5, "loss/x": 1.0, "costs/train": 1.0},
        {"training_step": 2, "train/reward": float("inf"), "loss/x": float("-inf")},
        {"training_step": 3, "train/reward": 0.7, "loss/x": 3.0, "costs/train": float("inf")},
    ]
    (run_dir / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = render_html(load_run(run_dir))
    start = page.index('<script type="application/json" id="report-data">')
    data = json.loads(page[page.index(">", start) + 1 : page.index("</script", start)])
    ys = {(c["title"], s["name"]): s["y"] for c in data for s in c["series"]}
    assert ys["Loss", "x"] == [1.0, None, 3.0]
    assert ys["Reward", "train"] == [0.5, None, 0.7]
