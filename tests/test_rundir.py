"""Issue #10: the run directory never loses a row. One test (or more) per case of the
issue's "Why" list; each docstring names its case. Long loops live in bench/reliability.py.
"""

import asyncio
import errno
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import art_metrics
import pytest
from art_metrics import Model, _core
from fork_stress import fork_while_recording

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(sys.path),
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}


def log(model, step, **metrics):
    asyncio.run(model.log(None, split="train", step=step, metrics=metrics))


def cum(model_or_state, key="costs/cum/all"):
    state = model_or_state if isinstance(model_or_state, dict) else model_or_state.read_state()
    return state["_metrics_builder_state"]["cum_state"].get(key)


def restart(model: Model) -> Model:
    """A new process would see what a new Model sees once this one is closed and gone."""
    kwargs = {"name": model.name, "project": model.project, "base_path": model.base_path}
    model.close()
    del model
    gc.collect()
    return Model(**kwargs)


def files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}


def crash(model: Model) -> None:
    """Drops `model` the way a killed process does: no close, no compaction."""
    model._finalizer.detach()  # noqa: SLF001
    model._run = None  # noqa: SLF001 - the run directory's handle (and lock) go with it
    model._delivery = None  # noqa: SLF001 - it holds the handle too (to keep undelivered rows)
    gc.collect()


READER = """
import sys, time, warnings
from art_metrics import Model
base, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    m = Model(name="r", project="p", base_path=base)
    m.read_state()
    m.metrics_builder()
    m.close()
    del m
    time.sleep(0.005)
"""


def test_readers_in_another_process_lose_no_row(tmp_path):
    """Case 1: a monitoring process opening the run (read_state, metrics_builder, close)
    while the writer appends deletes nothing."""
    model = Model(name="r", project="p", base_path=str(tmp_path))
    log(model, 0, **{"costs/train/x": 1.0})
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path), "30"], env=ENV)
    n = 1
    while reader.poll() is None or n < 300:
        log(model, n, **{"costs/train/x": 1.0})
        n += 1
    assert reader.wait() == 0
    rows = (Path(model.run_dir) / "history.jsonl").read_text().splitlines()
    assert len(rows) == n
    assert [json.loads(r)["training_step"] for r in rows] == list(range(n))
    assert cum(restart(model)) == n


def test_a_monitoring_thread_loses_no_row(tmp_path):
    """Case 1: a second Model in the same process reading while the first logs."""
    model = Model(name="t", project="p", base_path=str(tmp_path))
    stop = threading.Event()

    def monitor():
        while not stop.is_set():
            other = Model(name="t", project="p", base_path=str(tmp_path))
            other.read_state()
            other.metrics_builder()
            other.close()

    t = threading.Thread(target=monitor)
    t.start()
    for i in range(300):
        log(model, i, **{"costs/train/x": 1.0})
    stop.set()
    t.join()
    rows = (Path(model.run_dir) / "history.jsonl").read_text().splitlines()
    assert len(rows) == 300
    assert cum(model) == 300


def test_a_reader_modifies_no_file(tmp_path):
    """Case 1: a reader (read_state on a Model that has not written) changes no byte."""
    model = Model(name="m", project="p", base_path=str(tmp_path))
    for i in range(3):
        log(model, i, **{"costs/train/x": 1.0})
    run_dir = Path(model.run_dir)
    before = files(run_dir)
    reader = Model(name="m", project="p", base_path=str(tmp_path))
    assert cum(reader) == 3.0
    reader.metrics_builder()
    reader.close()
    del reader
    gc.collect()
    assert files(run_dir) == before


@pytest.mark.parametrize("action", ["truncate", "rotate", "delete"])
def test_history_truncation_rotation_deletion_keep_totals(tmp_path, action):
    """Case 2: the totals continue exactly (14, not 11) whatever happens to history.jsonl."""
    model = Model(name="h", project="p", base_path=str(tmp_path))
    history = Path(model.run_dir) / "history.jsonl"
    for i in range(10):
        log(model, i, **{"data/step_items": 1})
    model = restart(model)
    for i in range(10, 12):
        log(model, i, **{"data/step_items": 1})
    if action == "truncate":
        history.write_text("")
    elif action == "rotate":
        history.rename(history.with_name("history.jsonl.1"))
    else:
        history.unlink()
    log(model, 12, **{"data/step_items": 1})
    model = restart(model)
    if action == "truncate":
        history.write_text("")  # between runs too
    log(model, 13, **{"data/step_items": 1})
    last = json.loads(history.read_text().splitlines()[-1])
    assert last["data/cum/items"] == 14
    assert cum(restart(model), "data/cum/items") == 14


def test_an_overflowing_rollup_is_refused_and_nothing_is_lost(tmp_path):
    """Case 3: two 1e308 leaves in one step would make costs/all infinite: ValueError naming
    the key, state unchanged, the journal never holds null, later totals survive restarts."""
    model = Model(name="o", project="p", base_path=str(tmp_path))
    log(model, 0, **{"costs/train/x": 1.0})
    b = model.metrics_builder()
    b.add_cost("train/a", 1e308)
    before = b.state_dict()
    with pytest.raises(ValueError, match="costs/train/b"):
        b.add_cost("train/b", 1e308)
    with pytest.raises(ValueError, match="costs/eval"):
        log(model, 1, **{"costs/eval/c": 1e308})
    assert b.state_dict() == before
    b.add_cost("train/a", -1e308)
    log(model, 2, **{"costs/train/x": 1.0})
    journal = (Path(model.run_dir) / "state.journal").read_text()
    assert "null" not in journal
    assert cum(restart(model)) == 2.0


def test_an_overflowing_cumulative_total_is_refused(tmp_path):
    """Case 3: the running total, not only the step value, is guarded."""
    model = Model(name="c", project="p", base_path=str(tmp_path))
    log(model, 0, **{"time/step_x": 1e308})
    with pytest.raises(ValueError, match="time/step_x"):
        model.metrics_builder().add_metric("time/step_x", 1e308)
    assert cum(model, "time/cum/x") == 1e308


def test_a_corrupt_journal_line_is_reported_and_later_entries_count(tmp_path):
    """Case 4: a bad line in the middle warns (file, line), keeps the journal beside, and does
    not drop everything after it; a tail torn inside a UTF-8 character opens."""
    model = Model(name="j", project="p", base_path=str(tmp_path))
    for i in range(9):
        log(model, i, **{"data/step_items": 1})
    run_dir = Path(model.run_dir)
    journal = run_dir / "state.journal"
    text = journal.read_bytes()
    lines = text.splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"seq"', b'"sEq"')
    broken = b"".join(lines) + '{"seq": 99, "row": "é'.encode()[:-1]
    journal.write_bytes(broken)
    crash(model)
    with pytest.warns(RuntimeWarning, match=r"state\.journal: line\(s\) 3"):
        again = Model(name="j", project="p", base_path=str(tmp_path))
        again.metrics_builder()
    assert cum(again, "data/cum/items") == 9, "the entries after the bad line count"
    with pytest.warns(RuntimeWarning, match="kept as"):
        log(again, 9, **{"data/step_items": 1})
    kept = [p for p in run_dir.iterdir() if p.name.startswith("state.journal.corrupt-")]
    assert [p.read_bytes() for p in kept] == [broken]


def test_a_reference_state_with_infinity_resumes_with_one_warning(tmp_path):
    """Case 5: ART writes Infinity/NaN into state.json; we resume with the values kept and
    one warning naming the keys, and write them back as Python's json reads them."""
    run_dir = tmp_path / "p" / "models" / "i"
    run_dir.mkdir(parents=True)
    state = {
        "_metrics_builder_state": {
            "cum_state": {"costs/cum/all": float("inf"), "data/cum/items": 2.0}
        }
    }
    (run_dir / "state.json").write_text(json.dumps(state))
    model = Model(name="i", project="p", base_path=str(tmp_path))
    with pytest.warns(RuntimeWarning, match="costs/cum/all"):
        model.metrics_builder()
    log(model, 0, **{"data/step_items": 1, "costs/train/x": 1.0})
    model.close()
    saved = json.loads((run_dir / "state.json").read_text())
    assert cum(saved) == float("inf")
    assert cum(saved, "data/cum/items") == 3.0


KILLED_WRITER = """
import asyncio, sys
from art_metrics import Model
m = Model(name="a", project="p", base_path=sys.argv[1])
m.metrics_builder()
async def main():
    for i in range(10):
        await m.log(None, split="train", step=i, metrics={"data/step_items": 1})
asyncio.run(main())
print("done", flush=True)
import time; time.sleep(60)
"""


def test_after_a_kill_compact_lets_art_resume_and_arts_newer_state_wins(tmp_path):
    """Case 7: after a SIGKILL, `python -m art_metrics compact` gives ART the current totals
    (10, not 5); when ART then writes a newer state.json, we do not replay our older
    journal over it (11, not 6)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], env=ENV, stdout=subprocess.PIPE
    )
    assert proc.stdout.readline().strip() == b"done"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    run_dir = tmp_path / "p" / "models" / "a"
    out = subprocess.run(
        [sys.executable, "-m", "art_metrics", "compact", str(run_dir)],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    state = json.loads((run_dir / "state.json").read_text())
    assert cum(state, "data/cum/items") == 10
    # ART resumes from state.json, logs a step and saves 11 (simulated: its merge_state).
    state["_metrics_builder_state"]["cum_state"]["data/cum/items"] = 11.0
    (run_dir / "state.json").write_text(json.dumps(state))
    model = Model(name="a", project="p", base_path=str(tmp_path))
    assert cum(model, "data/cum/items") == 11
    log(model, 11, **{"data/step_items": 1})
    assert cum(model, "data/cum/items") == 12


def test_a_second_process_cannot_write_and_is_told_the_pid(tmp_path):
    """One writer per run directory: another process's write names the directory and pid."""
    model = Model(name="w", project="p", base_path=str(tmp_path))
    log(model, 0, **{"data/step_items": 1})
    code = (
        "import asyncio, sys\nfrom art_metrics import Model\n"
        "m = Model(name='w', project='p', base_path=sys.argv[1])\n"
        "try:\n    asyncio.run(m.log(None, split='train', step=1, metrics={'data/step_items': 1}))\n"
        "except OSError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=ENV, capture_output=True, text=True
    )
    assert f"pid {os.getpid()}" in out.stdout and "models/w" in out.stdout, out.stdout + out.stderr
    model.close()  # releases the lock: now the other process may write
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=ENV, capture_output=True, text=True
    )
    assert out.stdout == "", out.stdout + out.stderr
    assert cum(Model(name="w", project="p", base_path=str(tmp_path)), "data/cum/items") == 2


def test_forks_while_threads_use_a_builder_never_hang(tmp_path):
    """Case 6: 150 fork()s while 4 threads record and flush: every child finishes (without
    at-fork handling about 1 in 20 children deadlocked; the test stops at the first)."""
    model = Model(name="f", project="p", base_path=str(tmp_path))
    result = fork_while_recording(model.metrics_builder(), forks=150, stop_at_first_hang=True)
    assert (result.hung, result.failed, result.thread_errors) == (0, 0, [])


class _Backend:
    def supports_automatic_train_step_metrics(self):
        return True

    def automatic_gpu_cost_per_hour_usd(self, model):
        return 3600.0  # $1 per second


@pytest.mark.test_hooks
def test_a_retried_train_log_counts_the_interval_once(tmp_path):
    """Case 8: a train-split log that fails (full disk) and is retried keeps its
    time/step_wall_s and costs/gpu: the clock moves only when the row is written."""
    model = Model(name="g", project="p", base_path=str(tmp_path))
    model._backend = _Backend()  # noqa: SLF001 - a LocalBackend without GPUs
    log(model, 0, **{"data/step_items": 1})
    time.sleep(0.05)
    _core._fail_next_appends(1, errno.ENOSPC)
    with pytest.raises(OSError):
        log(model, 1, **{"data/step_items": 1})
    log(model, 1, **{"data/step_items": 1})
    row = json.loads((Path(model.run_dir) / "history.jsonl").read_text().splitlines()[-1])
    assert row["time/step_wall_s"] >= 0.05
    assert row["costs/gpu"] == pytest.approx(row["time/step_wall_s"])


def test_concurrent_merge_state_from_two_models(tmp_path):
    """Case 9: two Models calling merge_state share one writer and one temp-file name
    space: no OSError."""
    a = Model(name="s", project="p", base_path=str(tmp_path))
    b = Model(name="s", project="p", base_path=str(tmp_path))
    errors = []

    def merge(m, key):
        for i in range(100):
            try:
                m.merge_state({key: i})
            except OSError as e:
                errors.append(e)

    threads = [threading.Thread(target=merge, args=(m, k)) for m, k in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert a.read_state()["a"] == 99 and a.read_state()["b"] == 99


def test_stale_temp_files_of_live_processes_are_kept(tmp_path):
    """Case 9: stale-temp cleanup removes only files whose process is gone."""
    run_dir = tmp_path / "p" / "models" / "t"
    run_dir.mkdir(parents=True)
    live = run_dir / f".state.json.tmp.{os.getppid()}.0"
    dead = run_dir / ".state.json.tmp.2147483646.0"
    live.write_text("{")
    dead.write_text("{")
    log(Model(name="t", project="p", base_path=str(tmp_path)), 0, **{"data/step_items": 1})
    assert live.exists() and not dead.exists()


def test_symlinked_and_unterminated_histories_keep_their_rows(tmp_path):
    """Case 9: a symlinked history.jsonl is appended through, its target's last row kept;
    a history without a final newline keeps its last valid row."""
    run_dir = tmp_path / "p" / "models" / "l"
    run_dir.mkdir(parents=True)
    target = tmp_path / "target.jsonl"
    target.write_text('{"step": 0}\n{"step": 1}')
    (run_dir / "history.jsonl").symlink_to(target)
    log(Model(name="l", project="p", base_path=str(tmp_path)), 2, **{"data/step_items": 1})
    lines = target.read_text().splitlines()
    assert lines[:2] == ['{"step": 0}', '{"step": 1}'] and len(lines) == 3
    assert (run_dir / "history.jsonl").is_symlink()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"name": None, "project": "p"}, TypeError, "name"),
        ({"name": "", "project": "p"}, ValueError, "name"),
        ({"name": "n", "project": 3}, TypeError, "project"),
    ],
)
def test_model_names_must_be_non_empty_strings(tmp_path, kwargs, exc, match):
    """Case 9: Model(name=None) no longer writes to models/None."""
    with pytest.raises(exc, match=match):
        Model(base_path=str(tmp_path), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"name": "n", "project": "../.."}, "project"),
        ({"name": "../../x", "project": "p"}, "name"),
        ({"name": ".", "project": "p"}, "name"),
        ({"name": "..", "project": "p"}, "name"),
        ({"name": "a/b", "project": "p"}, "name"),
        ({"name": "a\\b", "project": "p"}, "name"),
        ({"name": "n\x00", "project": "p"}, "name"),
        ({"name": "n", "project": "/abs"}, "project"),
    ],
)
def test_names_that_leave_the_base_path_are_refused_before_anything_is_created(
    tmp_path, kwargs, named
):
    """Issue #21, case 2: name and project are one folder each (openpipe-art joins them as
    given, so `project="../.."` writes outside base_path)."""
    base = tmp_path / "base"
    base.mkdir()
    with pytest.raises(ValueError, match=f"^{named} must be one folder name"):
        Model(base_path=str(base), **kwargs)
    assert list(tmp_path.rglob("*")) == [base]


@pytest.mark.parametrize(("step", "exc"), [(1.5, TypeError), ("3", TypeError), (2**63, ValueError)])
def test_bad_steps_are_named(tmp_path, step, exc):
    """Case 9: step=1.5 / "3" / 2**63 errors name `step`."""
    model = Model(name="n", project="p", base_path=str(tmp_path))
    with pytest.raises(exc) as info:
        log(model, step, **{"data/step_items": 1})
    # The message itself, not only a note PyO3 attaches ("while processing 'step'").
    assert "step" in str(info.value), str(info.value)


def test_a_lone_surrogate_key_or_scenario_id_is_named(tmp_path):
    """Case 9: a key or scenario id with a lone surrogate raises ValueError naming it (not a
    UnicodeEncodeError naming neither), and nothing is recorded."""
    model = Model(name="u", project="p", base_path=str(tmp_path))
    with pytest.raises(ValueError, match=r"'train/\\ud800' is not valid Unicode"):
        log(model, 0, **{"train/\ud800": 1.0})
    builder = model.metrics_builder()
    with pytest.raises(ValueError, match=r"scenario id 's\\udc80' is not valid Unicode"):
        builder.add_data(step_num_scenarios=1, scenario_ids=["s\udc80"])
    with pytest.raises(ValueError, match=r"Metric key 'time/\\udc80' is not valid Unicode"):
        builder.add_metric("time/\udc80", 1.0)
    log(model, 0, **{"data/step_items": 1})
    assert cum(model, "data/cum/items") == 1
    assert "data/cum/num_scenarios" not in model.read_state()["_metrics_builder_state"]["cum_state"]


def test_a_row_interrupted_before_delivery_is_delivered_later(tmp_path):
    """Case 9: a KeyboardInterrupt between writing a row and reporting it: the row goes to
    the reporters on the next log. (Issue #24: a reporter's thread raising it is one more
    failure of that reporter, raised to the caller by a later call; flush_reporters gives
    the row again.)"""
    seen = []
    opened = threading.Event()  # the reporter's first call waits until log(0) returned

    class Flaky:
        calls = 0

        def log(self, row):
            opened.wait()
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise KeyboardInterrupt
            seen.append(row["training_step"])

    model = Model(name="k", project="p", base_path=str(tmp_path), reporters=[Flaky()])
    log(model, 0, **{"data/step_items": 1})
    opened.set()
    with pytest.raises(KeyboardInterrupt):
        model.flush_reporters()
    log(model, 1, **{"data/step_items": 1})
    assert model.flush_reporters()
    assert seen == [0, 1]


@pytest.mark.slow
@pytest.mark.parametrize("every", [3, 7])
def test_compensated_sums_survive_restarts(tmp_path, every):
    """Case 9: 0.1 added 100 times is 10.0 with restarts as without (restarting every 3 or 7
    steps gave 10.000000000000002 and 9.999999999999998 when the compensation term was
    dropped); state.json stays readable by openpipe-art 0.5.18."""
    model = Model(name="e", project="p", base_path=str(tmp_path))
    for i in range(100):
        log(model, i, **{"data/step_x": 0.1})
        if i % every == every - 1:
            model = restart(model)
    assert cum(model, "data/cum/x") == 10.0
    model.close()
    import art

    ref = art.Model(name="e", project="p", base_path=str(tmp_path))
    ref._load_metrics_builder_state()  # noqa: SLF001
    assert ref._metrics_builder.state_dict()["cum_state"]["data/cum/x"] == 10.0  # noqa: SLF001


def test_load_state_dict_through_a_model_is_persisted(tmp_path):
    """Case 9: totals loaded with load_state_dict are saved with the next row."""
    model = Model(name="d", project="p", base_path=str(tmp_path))
    log(model, 0, **{"costs/train/x": 1.0, "data/step_y": 1})
    model.metrics_builder().load_state_dict(
        {"cum_state": {"costs/cum/all": 40.0, "data/cum/y": 7.0}, "unique_scenario_ids": ["a"]}
    )
    log(model, 1, **{"costs/train/x": 2.0})
    resumed = restart(model).read_state()
    assert cum(resumed) == 42.0
    # Loaded totals that the next row does not touch are saved too (not 1.0, not []).
    assert cum(resumed, "data/cum/y") == 7.0
    assert resumed["_metrics_builder_state"]["unique_scenario_ids"] == ["a"]


def test_the_art_metrics_key_keeps_other_sub_keys(tmp_path):
    """Issue #14 keeps its budget in state["_art_metrics"]["budget_usd"]: our rewrites keep it."""
    model = Model(name="b", project="p", base_path=str(tmp_path))
    model.merge_state({"_art_metrics": {"budget_usd": 500.0}})
    for i in range(3):
        log(model, i, **{"costs/train/x": 0.5})
    model = restart(model)
    log(model, 3, **{"costs/train/x": 0.5})
    model.close()
    saved = json.loads((Path(model.run_dir) / "state.json").read_text())
    assert saved["_art_metrics"]["budget_usd"] == 500.0
    assert cum(saved) == 2.0


def test_a_model_with_stale_totals_is_refused(tmp_path):
    """A Model writes only on top of the totals it loaded (another Model wrote meanwhile)."""
    a = Model(name="x", project="p", base_path=str(tmp_path))
    b = Model(name="x", project="p", base_path=str(tmp_path))
    a.metrics_builder()
    b.metrics_builder()
    log(a, 0, **{"data/step_items": 1})
    with pytest.raises(ValueError, match="create a new Model"):
        log(b, 1, **{"data/step_items": 1})
    c = Model(name="x", project="p", base_path=str(tmp_path))
    log(c, 1, **{"data/step_items": 1})
    assert cum(c, "data/cum/items") == 2


assert art_metrics  # imported for its fork hooks
