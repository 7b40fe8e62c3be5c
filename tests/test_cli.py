"""``python -m art_metrics demo`` and ``summary``: run as a user would, in subprocesses."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from art_metrics.summary import cost_breakdown, read_history, summarize

TESTS = pathlib.Path(__file__).parent
DEMO_RUN = pathlib.Path("art-metrics-demo/models/demo")
HEADER = "step  train reward  val reward  step cost  total cost  actor tok/s  trainer tok/s"


def cli(
    *args: str, cwd: pathlib.Path, check: bool = True, **env: str
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "art_metrics", *args],
        cwd=cwd,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def step_lines(output: str) -> dict[int, list[str]]:
    """The table lines of the output, by step: ``{1: ["1", "0.667", "-", "$0.0297", ...]}``."""
    lines = output.splitlines()
    start = lines.index(HEADER) + 1
    table = {}
    for line in lines[start:]:
        if not line.strip():
            break
        cells = line.split()
        table[int(cells[0])] = cells
    return table


def comparable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("time/wall_clock_sec", "recorded_at")}


def test_demo_in_a_fresh_directory_uses_dot_art(tmp_path):
    out = cli("demo", "--steps", "2", cwd=tmp_path).stdout
    run_dir = tmp_path / ".art" / DEMO_RUN
    assert (run_dir / "history.jsonl").is_file() and (run_dir / "state.json").is_file()
    assert f"Run directory: .art/{DEMO_RUN}" in out
    assert sorted(step_lines(out)) == [1, 2]


def test_demo_writes_a_full_run_and_prints_what_summary_prints(tmp_path):
    out = cli("demo", "--base-path", "runs", "--steps", "3", cwd=tmp_path).stdout
    run_dir = tmp_path / "runs" / DEMO_RUN
    rows = read_history(run_dir)
    assert [(r["training_step"], "train/reward" in r) for r in rows] == [
        (1, True),
        (2, True),
        (2, False),
        (3, True),
        (3, False),  # val after steps 2 and 3
    ]
    train, val = rows[0], rows[2]
    for key in [
        "train/reward",
        "train/exception_rate",
        "train/correct",
        "train/group_difficulty",
        "loss/policy",
        "costs/train/judge/correctness",
        "costs/train/judge/style",
        "costs/gpu",
        "time/step_actor_s",
        "data/step_actor_tokens",
        "throughput/step_actor_idle_s",
        "data/step_trainer_tokens",
        "throughput/avg_trainer_tok_per_s",
        "throughput/avg_actor_tok_per_s",
        "data/cum/num_unique_scenarios",
        "costs/cum/all",
    ]:
        assert key in train, key
    for key in [
        "val/reward",
        "costs/eval/judge/correctness",
        "costs/eval/judge/style",
        "time/step_eval_s",
    ]:
        assert key in val, key
    state = json.loads((run_dir / "state.json").read_text())["_metrics_builder_state"]
    assert state["cum_state"]["costs/cum/all"] == pytest.approx(rows[-1]["costs/cum/all"])

    table = step_lines(out)
    assert sorted(table) == [1, 2, 3]
    for summary in summarize(rows):
        cells = table[summary.step]
        assert cells[1] == f"{summary.train_reward:.3f}"
        assert cells[3] == f"${summary.step_cost:.4f}" and cells[4] == f"${summary.total_cost:.4f}"
        assert (
            cells[5] == f"{summary.actor_tok_per_s:,.0f}"
            and cells[6] == f"{summary.trainer_tok_per_s:,.0f}"
        )
    assert table[1][2] == "-" and table[2][2] == f"{rows[2]['val/reward']:.3f}"
    assert f"Total cost ${rows[-1]['costs/cum/all']:.4f}: gpu $" in out

    summary_out = cli("summary", str(run_dir), cwd=tmp_path).stdout
    assert step_lines(summary_out) == table
    assert f"{run_dir}: 5 rows, 3 steps" in summary_out


def test_demo_is_deterministic_and_resumes(tmp_path):
    cli("demo", "--base-path", "a", "--steps", "4", "--seed", "7", cwd=tmp_path)
    cli("demo", "--base-path", "b", "--steps", "2", "--seed", "7", cwd=tmp_path)
    resumed = cli("demo", "--base-path", "b", "--steps", "2", "--seed", "7", cwd=tmp_path).stdout
    assert "Resuming" in resumed and sorted(step_lines(resumed)) == [3, 4]
    # the same seed draws the same steps, and the resumed run continues every total
    a = [comparable(r) for r in read_history(tmp_path / "a" / DEMO_RUN)]
    b = [comparable(r) for r in read_history(tmp_path / "b" / DEMO_RUN)]
    assert len(a) == len(b) == 6
    for row_a, row_b in zip(a, b):
        assert row_a.keys() == row_b.keys()
        assert row_a == pytest.approx(row_b, rel=1e-12)
    other_seed = cli("demo", "--base-path", "c", "--steps", "1", "--seed", "8", cwd=tmp_path).stdout
    assert step_lines(other_seed)[1] != step_lines(resumed.replace("Resuming", ""))[3]


def test_summary_of_a_run_written_by_openpipe_art(tmp_path):
    subprocess.run(
        [sys.executable, str(TESTS / "scripted_run.py"), str(tmp_path / "ref")],
        env=dict(os.environ, METRICS_IMPL="art", JUDGES="track_api_cost"),
        check=True,
        capture_output=True,
        timeout=120,
    )
    run_dir = tmp_path / "ref" / "proj" / "models" / "m1"
    with open(run_dir / "history.jsonl") as f:
        rows = [json.loads(line) for line in f]
    out = cli("summary", str(tmp_path / "ref"), cwd=tmp_path).stdout  # finds the one run below
    assert out.startswith(f"{run_dir}: {len(rows)} rows, 4 steps")
    table = step_lines(out)
    assert sorted(table) == [1, 2, 3, 4]
    for step, cells in table.items():
        step_rows = [r for r in rows if r["training_step"] == step]
        # every row's own cost: costs/all on train/val/test rows, holdout/costs/all on the custom split
        cost = sum(
            v for r in step_rows for k, v in r.items() if k in ("costs/all", "holdout/costs/all")
        )
        total = [v for r in step_rows for k, v in r.items() if k.endswith("costs/cum/all")][-1]
        train_reward = [r["train/reward"] for r in step_rows if "train/reward" in r]
        assert cells[3] == f"${cost:.4f}" and cells[4] == f"${total:.4f}", step
        assert cells[1] == (f"{train_reward[-1]:.3f}" if train_reward else "-")
    final = rows[-1]["costs/cum/all"]
    assert f"Total cost ${final:.4f}: train $" in out and "holdout $" in out and "eval $" in out


def test_summary_errors(tmp_path):
    missing = cli("summary", str(tmp_path / "nope"), cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    for name in ("r1", "r2"):
        run = tmp_path / "base" / "p" / "models" / name
        run.mkdir(parents=True)
        (run / "history.jsonl").write_text('{"training_step": 1, "costs/all": 1.0}\n')
    several = cli("summary", str(tmp_path / "base"), cwd=tmp_path, check=False)
    assert several.returncode == 2 and "several runs" in several.stderr and "r2" in several.stderr
    assert cli("demo", "--steps", "0", cwd=tmp_path, check=False).returncode == 2


# -- the summary rules, in process --------------------------------------------------------


def test_summary_skips_a_torn_last_line_and_nan(tmp_path):
    (tmp_path / "history.jsonl").write_text(
        '{"training_step": 1, "train/reward": NaN, "costs/all": 0.5, "costs/cum/all": 0.5}\n'
        '{"training_step": 2, "costs/al'
    )
    (step,) = summarize(read_history(tmp_path))
    assert (step.step, step.train_reward, step.step_cost, step.total_cost) == (1, None, 0.5, 0.5)
    (tmp_path / "history.jsonl").write_text('{"training_step": 1, "costs/al\n{}\n')
    with pytest.raises(ValueError, match="line 1"):
        read_history(tmp_path)


def test_cost_breakdown_takes_the_last_total_of_each_context():
    rows = [
        {
            "training_step": 1,
            "costs/cum/train": 1.0,
            "costs/cum/train/judge": 1.0,
            "costs/cum/all": 1.0,
        },
        {"training_step": 1, "holdout/costs/cum/holdout": 0.5, "holdout/costs/cum/all": 1.5},
        {"training_step": 2, "costs/cum/train": 2.0, "costs/cum/all": 2.5},
    ]
    assert cost_breakdown(rows) == {"train": 2.0, "holdout": 0.5, "all": 2.5}
