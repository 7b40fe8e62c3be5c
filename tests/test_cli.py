"""``python -m art_metrics demo`` and ``summary``: run as a user would, in subprocesses."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from art_metrics.summary import cost_breakdown, read_history, summarize
from support.workers import openpipe_art_run

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
    """The base columns of the table lines of the output, by step:
    ``{1: ["1", "0.667", "-", "$0.0297", ...]}`` (summary adds columns after them)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER)) + 1
    table = {}
    for line in lines[start:]:
        if not line.strip():
            break
        cells = line.split()[: len(HEADER.split("  "))]
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
    run_dir = openpipe_art_run(tmp_path / "ref")
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


# -- the CLI's other commands and options ---------------------------------------------------


def demo_run(tmp_path: pathlib.Path, steps: int = 3) -> pathlib.Path:
    cli("demo", "--base-path", str(tmp_path / "runs"), "--steps", str(steps), cwd=tmp_path)
    return tmp_path / "runs" / DEMO_RUN


def test_version():
    from art_metrics import __version__

    out = cli("--version", cwd=TESTS).stdout
    assert out == f"art-metrics {__version__}\n"


def test_summary_has_source_loss_and_exception_columns(tmp_path):
    run_dir = demo_run(tmp_path)
    rows = read_history(run_dir)
    out = cli("summary", str(run_dir), "--wide", cwd=tmp_path).stdout
    header = next(line for line in out.splitlines() if line.startswith(HEADER))
    extra = header[len(HEADER) :].split()
    assert extra == [
        "eval/judge/correctness",
        "eval/judge/style",
        "gpu",
        "train/judge/correctness",
        "train/judge/style",
        "loss/entropy",
        "loss/policy",
        "train",
        "exceptions",
        "val",
        "exceptions",
    ]
    line = next(line for line in out.splitlines() if line.split()[:1] == ["2"])
    cells = line.split()[7:]
    step2 = [r for r in rows if r["training_step"] == 2]
    assert cells[0] == f"${step2[1]['costs/eval/judge/correctness']:.4f}"
    assert cells[2] == f"${step2[0]['costs/gpu']:.4f}"
    assert cells[6] == f"{step2[0]['loss/policy']:.4g}"
    assert cells[7] == f"{step2[0]['train/exception_rate']:.1%}"
    assert cells[8] == f"{step2[1]['val/exception_rate']:.1%}"


def test_summary_fits_100_columns_in_blocks(tmp_path):
    """Issue #23: with its cost sources, losses and exception rates the demo's table was 233
    characters wide; it is printed in blocks of columns, each line at most 100 characters,
    each block beginning with the step; --wide prints the one wide table."""
    run_dir = demo_run(tmp_path)
    wide = cli("summary", str(run_dir), "--wide", cwd=tmp_path).stdout.splitlines()
    lines = cli("summary", str(run_dir), cwd=tmp_path).stdout.splitlines()
    assert max(map(len, wide[2:-2])) > 200 and max(map(len, lines[2:-2])) <= 100
    assert lines[:2] == wide[:2] and lines[-2:] == wide[-2:]  # the title, the total
    blocks = [block.splitlines() for block in "\n".join(lines[2:-2]).split("\n\n")]
    assert len(blocks) == 3 and lines[2].startswith(HEADER)
    assert all(block[0].split()[0] == "step" and len(block) == 4 for block in blocks)
    # The blocks hold the wide table's columns in order, each step's cells the same.
    wide_table = [line.split() for line in wide[2:-2]]
    for row, wide_row in enumerate(wide_table):
        cells = [cell for block in blocks for cell in block[row].split()[1:]]
        assert [wide_row[0], *cells] == wide_row
    # Cells are right-aligned under their names: "gpu" is wider than its name.
    gpu = next(block for block in blocks if " gpu " in block[0] or block[0].endswith(" gpu"))
    end = gpu[0].index(" gpu") + len(" gpu")
    assert all(line[end - 1] != " " and line[end : end + 2] in ("  ", "") for line in gpu[1:])


def test_summary_json_and_csv(tmp_path):
    import csv

    run_dir = demo_run(tmp_path)
    rows = read_history(run_dir)
    steps = summarize(rows)
    doc = json.loads(cli("summary", str(run_dir), "--json", cwd=tmp_path).stdout)
    assert doc["run_dir"] == str(run_dir) and doc["rows"] == len(rows) == 5
    assert doc["steps"] == [s.to_dict() for s in steps]
    assert doc["steps"][1]["costs"]["gpu"] == rows[1]["costs/gpu"]
    assert doc["totals"] == cost_breakdown(rows) and doc["problems"] == []

    table = list(
        csv.DictReader(cli("summary", str(run_dir), "--csv", cwd=tmp_path).stdout.splitlines())
    )
    assert [int(r["step"]) for r in table] == [1, 2, 3]
    assert float(table[2]["total_cost"]) == rows[-1]["costs/cum/all"]  # full precision
    assert table[0]["val_reward"] == "" and float(table[1]["val_reward"]) == rows[2]["val/reward"]
    assert float(table[1]["cost:eval/judge/style"]) == rows[2]["costs/eval/judge/style"]
    assert float(table[0]["loss/policy"]) == rows[0]["loss/policy"]
    assert float(table[1]["exception_rate:val"]) == rows[2]["val/exception_rate"]
    both = cli("summary", str(run_dir), "--json", "--csv", cwd=tmp_path, check=False)
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_summary_finds_runs_at_any_depth_and_lists_several(tmp_path):
    deep = tmp_path / "a" / "b" / "c" / "d" / "e" / "run"
    deep.mkdir(parents=True)
    (deep / "history.jsonl").write_text('{"training_step": 1, "costs/all": 1.0}\n')
    assert cli("summary", str(tmp_path / "a"), cwd=tmp_path).stdout.startswith(f"{deep}: 1 rows")
    other = tmp_path / "a" / "x" / "run2"
    other.mkdir(parents=True)
    (other / "history.jsonl").write_text('{"training_step": 1}\n')
    several = cli("summary", str(tmp_path / "a"), cwd=tmp_path, check=False)
    assert several.returncode == 2
    assert several.stderr.splitlines() == [
        f"error: {tmp_path / 'a'} holds several runs (2); pick one:",
        f"  {deep}",
        f"  {other}",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    none = cli("summary", str(empty), cwd=tmp_path, check=False)
    assert none.returncode == 2 and "no history.jsonl in" in none.stderr


def test_summary_reports_bad_lines_and_shows_the_others(tmp_path):
    (tmp_path / "history.jsonl").write_text(
        '{"training_step": 1, "costs/all": 1.0, "costs/cum/all": 1.0}\n'
        "{oops\n"
        '"a string"\n'
        '{"training_step": 2, "costs/all": 2.0, "costs/cum/all": 3.0}\n'
    )
    proc = cli("summary", str(tmp_path), cwd=tmp_path)
    assert proc.stderr.splitlines() == [
        f"warning: {tmp_path}/history.jsonl line 2: not JSON; skipped it",
        f"warning: {tmp_path}/history.jsonl line 3: not a JSON object (str); skipped it",
    ]
    assert sorted(step_lines(proc.stdout)) == [1, 2] and "2 rows, 2 steps" in proc.stdout


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [("wandb", "wandb", "wandb"), ("tensorboard", "tensorboardX", "tensorboard")],
)
def test_demo_report_without_its_package_is_one_line(tmp_path, name, module, extra):
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from art_metrics.__main__ import main\n"
        f"sys.exit(main(['demo', '--steps', '1', '--report', {name!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"error: --report {name} needs {module}: pip install 'art-metrics[{extra}]'\n"
    )
    assert not (tmp_path / ".art").exists()


def test_demo_report_tensorboard_writes_event_files_in_the_run_directory(tmp_path):
    proc = cli("demo", "--steps", "2", "--report", "tensorboard", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    log_dir = tmp_path / ".art" / "art-metrics-demo" / "models" / "demo" / "tensorboard"
    assert [p.name.startswith("events.out.tfevents.") for p in log_dir.iterdir()] == [True]


class Lines:
    """A child process's stdout lines, read by a thread, waited for with a deadline."""

    def __init__(self, proc: subprocess.Popen) -> None:
        import queue
        import threading

        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def take(self, n: int, timeout: float = 30.0) -> list[str]:
        return [self.queue.get(timeout=timeout) for _ in range(n)]

    def empty(self, wait: float) -> bool:
        import queue

        try:
            self.queue.get(timeout=wait)
        except queue.Empty:
            return True
        return False


def watch(run_dir: pathlib.Path, *flags: str, cwd: pathlib.Path) -> subprocess.Popen:
    """``summary RUN_DIR --watch [FLAGS]`` started in a child process (stop it with SIGINT)."""
    return subprocess.Popen(
        [sys.executable, "-m", "art_metrics", "summary", str(run_dir), "--watch", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def snapshot(folder: pathlib.Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("style", ["text", "json"])
def test_summary_watch_follows_a_live_run_and_writes_nothing(tmp_path, style):
    import signal

    run_dir = demo_run(tmp_path, steps=2)
    rows = read_history(run_dir)
    before = snapshot(run_dir)  # before the watcher starts: its start-up writes count too
    proc = watch(
        run_dir, "--interval", "0.05", *(["--json"] if style == "json" else []), cwd=tmp_path
    )
    lines = Lines(proc)
    try:
        if style == "text":
            header, first, second = lines.take(3)
            assert header.startswith(HEADER)
            assert [first.split()[0], second.split()[0]] == ["1", "2"]
        else:
            assert [json.loads(line)["step"] for line in lines.take(2)] == [1, 2]
        new_train = dict(
            rows[0], training_step=3, step=3, **{"costs/all": 0.5, "costs/cum/all": 9.0}
        )
        new_val = {
            "training_step": 3,
            "val/reward": 0.25,
            "costs/all": 0.125,
            "costs/cum/all": 9.125,
        }
        with open(run_dir / "history.jsonl", "a") as f:
            f.write(json.dumps(new_train) + "\n")
            f.flush()
            (line,) = lines.take(1)
            f.write(json.dumps(new_val)[:20])  # half a line: nothing printed yet
            f.flush()
            assert lines.empty(wait=0.5)
            f.write(json.dumps(new_val)[20:] + "\n")
        (updated,) = lines.take(1)
        assert lines.empty(wait=0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0
    assert "Traceback" not in stderr
    # The watcher wrote nothing and touched nothing: only the test's own appends changed.
    after = snapshot(run_dir)
    history = "history.jsonl"
    appended = (json.dumps(new_train) + "\n" + json.dumps(new_val) + "\n").encode()
    assert after.pop(history)[0] == before.pop(history)[0] + appended
    assert after == before
    if style == "text":
        assert line.split()[:5] == [
            "3",
            f"{rows[0]['train/reward']:.3f}",
            "-",
            "$0.5000",
            "$9.0000",
        ]
        assert updated.split()[:5] == [
            "3",
            f"{rows[0]['train/reward']:.3f}",
            "0.250",
            "$0.6250",
            "$9.1250",
        ]
    else:
        first, second = json.loads(line), json.loads(updated)
        assert (first["step"], first["val_reward"], first["step_cost"]) == (3, None, 0.5)
        assert (second["val_reward"], second["step_cost"], second["total_cost"]) == (
            0.25,
            0.625,
            9.125,
        )
