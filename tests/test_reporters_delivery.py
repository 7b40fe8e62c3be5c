"""Issue #21, cases 7 and 8: every row written to history.jsonl reaches every reporter once.

Delivery is tracked per reporter: a failing reporter is retried (on the next log or close)
without re-sending the row to the others, its error is raised once per cause, and the
budget check after a log does not depend on delivery. A KeyboardInterrupt anywhere in a log
(from a reporter, right after the row is written, right after a reporter took a row) loses
and duplicates no row for any reporter.
"""

import asyncio
import json
import os
import random
import sys

import pytest
from art_metrics import Model
from art_metrics.budget import BudgetExceeded


class Recorder:
    """A reporter that keeps the steps it got; ``failures`` are raised by the next calls
    (a KeyboardInterrupt class, or an exception), one per call, before the row is kept."""

    def __init__(self, *failures) -> None:
        self.steps: list[int] = []
        self.failures = list(failures)

    def log(self, row):
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure
        self.steps.append(row["training_step"])


def log(model, step, **metrics):
    asyncio.run(model.log(None, split="train", step=step, metrics=metrics or {"a": 1.0}))


def history_steps(model) -> list[int]:
    with open(f"{model.run_dir}/history.jsonl") as f:
        return [json.loads(line)["training_step"] for line in f]


def test_a_failing_reporter_is_retried_without_resending_to_the_others(tmp_path):
    """Case 8: a reporter that raised kept the row from the reporters after it, and the
    ones before it got the row again on the next log ([1, 1, 2])."""
    healthy, flaky, last = Recorder(), Recorder(ValueError("down"), ValueError("down")), Recorder()
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[healthy, flaky, last])
    with pytest.raises(ValueError, match="down"):
        log(model, 1)
    assert healthy.steps == last.steps == [1]  # the reporters after it were given the row
    log(model, 2)  # the same failure again is not raised again; row 1 stays for `flaky`
    assert healthy.steps == last.steps == [1, 2] and flaky.steps == []
    log(model, 3)  # `flaky` works again: rows 1 to 3, in order
    assert healthy.steps == flaky.steps == last.steps == history_steps(model) == [1, 2, 3]


def test_a_reporter_error_is_raised_once_per_cause(tmp_path):
    """Case 8: the same error was raised by every later log (the row was retried first)."""
    flaky = Recorder(ValueError("a"), ValueError("a"), ValueError("b"), ValueError("b"))
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[flaky])
    with pytest.raises(ValueError, match="a"):
        log(model, 1)
    log(model, 2)  # ValueError("a") again: not raised; ValueError("b") for row 1
    # ... was raised by the retry before row 2 was written on today's main.
    assert history_steps(model) == [1, 2]
    with pytest.raises(ValueError, match="b"):
        asyncio.run(model.log(None, step=3))  # nothing to write: a retry; a new cause is raised
    log(model, 3)  # ValueError("b") again on row 1: not raised
    assert flaky.steps == []
    model.close()  # it works again: rows 1 to 3, in order
    assert flaky.steps == history_steps(model) == [1, 2, 3]


def test_the_budget_is_checked_when_a_reporter_fails(tmp_path):
    """Case 8: the reporter's error skipped the budget check after delivery."""
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[Recorder(OSError())])
    model.set_budget(1.0, on_exceed="raise", warn_at=())
    with pytest.raises(BudgetExceeded) as raised:
        log(model, 1, **{"costs/train/judge": 2.0})
    assert isinstance(raised.value.__context__, OSError)  # the reporter's error, chained


def interrupts_from_reporters(count: int, reporters: int, seed: int) -> list[list]:
    """Per reporter, what its calls raise: ``count`` KeyboardInterrupts in all, spread."""
    rng = random.Random(seed)
    failures: list[list] = [[] for _ in range(reporters)]
    for _ in range(count):
        failures[rng.randrange(reporters)].extend([None] * rng.randrange(3) + [KeyboardInterrupt])
    return failures


def test_keyboard_interrupts_from_reporters_lose_and_repeat_no_row(tmp_path):
    """Case 7: a reporter raising KeyboardInterrupt 50 times; the reporters before it got the
    row again on the next log (today's main sends a queued row to every reporter)."""
    reporters = [Recorder(*f) for f in interrupts_from_reporters(50, 3, seed=21)]
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=reporters)
    interrupted = 0
    for step in range(1, 101):
        try:
            log(model, step)
        except KeyboardInterrupt:
            interrupted += 1
    while any(r.failures for r in reporters):
        try:
            model.close()
        except KeyboardInterrupt:
            interrupted += 1
    model.close()
    written = history_steps(model)
    for reporter in reporters:
        assert reporter.steps == written
    assert interrupted == 50


class InterruptAt:
    """A KeyboardInterrupt at the first point (a call or a return, where CPython also
    handles a Ctrl-C's signal) after ``armed`` says so: a Ctrl-C that arrives while the core
    writes the row, or while a reporter takes it, is raised there."""

    def __init__(self, armed) -> None:
        self.armed = armed
        self.fired = False

    def __enter__(self):
        sys.setprofile(self.hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)

    def hook(self, frame, event, arg):
        if self.armed(frame, event):
            sys.setprofile(self.fire)

    def fire(self, frame, event, arg):
        sys.setprofile(None)
        self.fired = True
        raise KeyboardInterrupt


def after_the_write(model):
    path = f"{model.run_dir}/history.jsonl"
    size = os.path.getsize(path) if os.path.exists(path) else 0
    return lambda frame, event: os.path.getsize(path) > size


def after_a_reporter_returns(reporter):
    def armed(frame, event):
        return event == "return" and frame.f_locals.get("self") is reporter

    return armed


@pytest.mark.parametrize("point", ["write", "reporter"])
def test_keyboard_interrupts_right_after_the_write_or_a_delivery_lose_and_repeat_no_row(
    tmp_path, point
):
    """Case 7: a Ctrl-C handled right after the core wrote the row left it out of the queue
    (never reported: "write"), and one right after a reporter returned sent that reporter
    the row again on the next log ("reporter")."""
    reporters = [Recorder(), Recorder(), Recorder()]
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=reporters)
    log(model, 0)  # the run directory exists, its lock is taken
    rng = random.Random(7)
    interrupted = 0
    for step in range(1, 101):
        try:
            if step % 2 == 0:
                log(model, step)
                continue
            if point == "write":
                armed = after_the_write(model)
            else:
                armed = after_a_reporter_returns(reporters[rng.randrange(3)])
            with InterruptAt(armed) as interrupt:
                log(model, step)
        except KeyboardInterrupt:
            assert interrupt.fired
            interrupted += 1
    model.close()
    written = history_steps(model)
    assert written == list(range(101))
    for reporter in reporters:
        assert reporter.steps == written
    assert interrupted == 50


# -- across restarts ---------------------------------------------------------------------
# Before: the queue of undelivered rows lived only in memory, so a row a reporter had not
# received when the process ended (a reporter still failing at close, an interrupt with no
# later log) was in history.jsonl but never reported.

RESTART_SCRIPT = """
import asyncio, sys
from art_metrics import Model

base, phase = sys.argv[1], sys.argv[2]

class FileRecorder:
    def __init__(self, name, fail=None):
        self.name, self.fail = name, fail
    def log(self, row):
        step = row["training_step"]
        if self.fail and step in self.fail[1]:
            raise self.fail[0]("down")
        with open(f"{base}/got-{self.name}.txt", "a") as f:
            f.write(f"{step}\\n")

class Other(FileRecorder):
    pass

def log(model, step):
    asyncio.run(model.log(None, split="train", step=step, metrics={"a": 1.0}))

if phase == "failing-at-close":
    b = FileRecorder("b", (ValueError, {1, 2}))
    model = Model(name="m", project="p", base_path=base, reporters=[FileRecorder("a"), b])
    for step in (1, 2):
        try:
            log(model, step)
        except ValueError:
            pass
    model.close()  # b fails again on rows 1 and 2: the same cause, not raised again
elif phase == "interrupted":
    b = FileRecorder("b", (KeyboardInterrupt, {2}))
    model = Model(name="m", project="p", base_path=base, reporters=[FileRecorder("a"), b])
    log(model, 1)
    try:
        log(model, 2)
    except KeyboardInterrupt:
        sys.exit(1)  # no close: the rows are kept at exit
elif phase == "other-reporter":
    model = Model(name="m", project="p", base_path=base, reporters=[FileRecorder("a"), Other("c")])
    log(model, 3)
else:
    model = Model(name="m", project="p", base_path=base, reporters=[FileRecorder("a"), FileRecorder("b")])
    log(model, 3)
    model.close()
"""


def _phase(tmp_path, phase: str) -> None:
    import subprocess

    subprocess.run(
        [sys.executable, "-c", RESTART_SCRIPT, str(tmp_path), phase], timeout=120, check=False
    )


def _got(tmp_path, name: str) -> list[int]:
    path = tmp_path / f"got-{name}.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize("phase", ["failing-at-close", "interrupted"])
def test_rows_undelivered_at_exit_reach_the_reporter_after_a_restart(tmp_path, phase):
    _phase(tmp_path, phase)
    kept = tmp_path / "p" / "models" / "m" / ".art_metrics.undelivered.json"
    assert kept.is_file()
    assert _got(tmp_path, "a") == [1, 2]
    assert _got(tmp_path, "b") == ([] if phase == "failing-at-close" else [1])
    _phase(tmp_path, "restart")
    assert _got(tmp_path, "a") == _got(tmp_path, "b") == [1, 2, 3]
    assert not kept.exists()


def test_kept_rows_go_only_to_the_reporter_they_were_kept_for(tmp_path):
    _phase(tmp_path, "failing-at-close")
    _phase(tmp_path, "other-reporter")  # another class at b's place: not sent b's rows
    assert _got(tmp_path, "a") == [1, 2, 3] and _got(tmp_path, "c") == [3]
