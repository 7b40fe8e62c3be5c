"""Issue #21, cases 7 and 8, and issue #24: every row written to history.jsonl reaches every
reporter once, in order, from a thread per reporter.

Delivery is tracked per reporter: a failing reporter is given its row again (after a pause,
or at once by `flush_reporters`, `log(None)` and `close`) without re-sending the row to the
others, its error is raised by the caller's next `log`/`flush_reporters`/`close` once per
cause, and the budget check after a log does not depend on delivery. A KeyboardInterrupt
(right after the row is written, while `close` waits, or raised by a reporter itself) loses
and duplicates no row for any reporter.

Issue #24 changed what these tests wait for: `log` no longer gives the row to the reporters
itself, so each test waits with `flush_reporters()` (or `close()`) before it looks, and a
reporter's error comes from that call rather than from the `log` that wrote the row.
"""

import asyncio
import json
import os
import random
import sys
import threading

import pytest
from art_metrics import Model
from art_metrics.budget import BudgetExceeded


class Recorder:
    """A reporter that keeps the steps it got. ``failures`` are raised by its next calls
    (a KeyboardInterrupt class, or an exception; None: no failure), one per call; ``down``,
    while set, by every call. With a ``gate``, each call first waits for it to be open (a
    slow backend; a test opens it when a failure may be raised to the caller)."""

    def __init__(self, *failures, down=None, gate=None) -> None:
        self.steps: list[int] = []
        self.failures = list(failures)
        self.down = down
        self.gate = gate

    def log(self, row):
        if self.gate is not None:
            self.gate.wait()
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure
        if self.down is not None:
            raise self.down
        self.steps.append(row["training_step"])


def log(model, step, **metrics):
    asyncio.run(model.log(None, split="train", step=step, metrics=metrics or {"a": 1.0}))


def history_steps(model) -> list[int]:
    with open(f"{model.run_dir}/history.jsonl") as f:
        return [json.loads(line)["training_step"] for line in f]


def test_a_failing_reporter_is_retried_without_resending_to_the_others(tmp_path):
    """Case 8: a reporter that raised kept the row from the reporters after it, and the
    ones before it got the row again on the next log ([1, 1, 2])."""
    gate = threading.Event()
    healthy, flaky, last = Recorder(), Recorder(down=ValueError("down"), gate=gate), Recorder()
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[healthy, flaky, last])
    log(model, 1)  # returns at once: the reporters' threads deliver
    gate.set()
    with pytest.raises(ValueError, match="down"):
        model.flush_reporters()
    assert healthy.steps == last.steps == [1] and flaky.steps == []
    log(model, 2)
    assert model.flush_reporters() is False  # the same failure again is not raised again
    assert healthy.steps == last.steps == [1, 2] and flaky.steps == []
    flaky.down = None  # it works again: rows 1 and 2, in order
    assert model.flush_reporters() is True
    assert healthy.steps == flaky.steps == last.steps == history_steps(model) == [1, 2]
    log(model, 3)
    model.close()
    assert healthy.steps == flaky.steps == last.steps == history_steps(model) == [1, 2, 3]


def test_a_reporter_error_is_raised_once_per_cause(tmp_path):
    """Case 8: the same error was raised by every later log (the row was retried first)."""
    gate = threading.Event()
    flaky = Recorder(down=ValueError("a"), gate=gate)
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[flaky])
    log(model, 1)
    gate.set()
    with pytest.raises(ValueError, match="a"):
        model.flush_reporters()
    log(model, 2)  # ValueError("a") again: not raised
    assert model.flush_reporters() is False
    assert history_steps(model) == [1, 2]
    flaky.down = ValueError("b")
    with pytest.raises(ValueError, match="b"):
        model.flush_reporters()  # a new cause is raised
    asyncio.run(model.log(None, step=3))  # nothing to write: a retry; "b" again is not raised
    log(model, 3)
    assert model.flush_reporters() is False and flaky.steps == []
    flaky.down = None
    model.close()  # it works again: rows 1 to 3, in order
    assert flaky.steps == history_steps(model) == [1, 2, 3]


def test_the_budget_is_checked_when_a_reporter_fails(tmp_path):
    """Case 8: the reporter's error skipped the budget check after delivery."""
    model = Model(
        name="m", project="p", base_path=str(tmp_path), reporters=[Recorder(down=OSError())]
    )
    model.set_budget(1.0, on_exceed="raise", warn_at=())
    with pytest.raises(BudgetExceeded):
        log(model, 1, **{"costs/train/judge": 2.0})
    with pytest.raises(OSError):
        model.flush_reporters()  # the reporter's error, raised to the caller all the same
    with pytest.warns(RuntimeWarning, match=r"Recorder#0 did not receive 1 row\(s\)"):
        model.close()  # kept for the next start


def interrupts_from_reporters(count: int, reporters: int, seed: int) -> list[list]:
    """Per reporter, what its calls raise: ``count`` KeyboardInterrupts in all, spread."""
    rng = random.Random(seed)
    failures: list[list] = [[] for _ in range(reporters)]
    for _ in range(count):
        failures[rng.randrange(reporters)].extend([None] * rng.randrange(3) + [KeyboardInterrupt])
    return failures


def test_keyboard_interrupts_from_reporters_lose_and_repeat_no_row(tmp_path):
    """Case 7: a reporter raising KeyboardInterrupt 50 times. In its thread that is one more
    failure: the row is given again, and the interrupt reaches the caller."""
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
            model.flush_reporters()
        except KeyboardInterrupt:
            interrupted += 1
    model.close()
    written = history_steps(model)
    assert written == list(range(1, 101))
    for reporter in reporters:
        assert reporter.steps == written
    assert interrupted >= 1  # once per cause: KeyboardInterrupt() is one cause until a success


class InterruptAt:
    """A KeyboardInterrupt at the first point (a call or a return, where CPython also
    handles a Ctrl-C's signal) after ``armed`` says so: a Ctrl-C that arrives while the core
    writes the row, or while ``close`` waits for the reporters, is raised there."""

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


def test_keyboard_interrupts_right_after_the_write_lose_and_repeat_no_row(tmp_path):
    """Case 7: a Ctrl-C handled right after the core wrote the row left it out of the queue
    (never reported)."""
    reporters = [Recorder(), Recorder(), Recorder()]
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=reporters)
    log(model, 0)  # the run directory exists, its lock is taken
    interrupted = 0
    for step in range(1, 101):
        try:
            if step % 2 == 0:
                log(model, step)
                continue
            with InterruptAt(after_the_write(model)) as interrupt:
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


def test_a_keyboard_interrupt_while_close_waits_loses_and_repeats_no_row(tmp_path):
    """Issue #24: ``close`` waits for the reporters' threads; a Ctrl-C there leaves them
    delivering, keeps the rows on disk, and the next close finishes."""
    gate = threading.Event()
    reporters = [Recorder(gate=gate), Recorder(), Recorder()]
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=reporters)
    for step in range(1, 21):
        log(model, step)
    in_wait = lambda frame, event: event == "call" and frame.f_code.co_name == "wait"  # noqa: E731
    with InterruptAt(in_wait) as interrupt, pytest.raises(KeyboardInterrupt):
        model.close()
    assert interrupt.fired
    kept = tmp_path / "p" / "models" / "m" / ".art_metrics.undelivered.json"
    assert kept.is_file()  # what the gated reporter had not received, for a next process
    gate.set()
    model.close()
    for reporter in reporters:
        assert reporter.steps == history_steps(model) == list(range(1, 21))
    assert not kept.exists()


# -- across restarts ---------------------------------------------------------------------
# Before: the queue of undelivered rows lived only in memory, so a row a reporter had not
# received when the process ended (a reporter still failing at close, an interrupt with no
# later log) was in history.jsonl but never reported.

RESTART_SCRIPT = """
import asyncio, sys, time
import art_metrics.delivery
from art_metrics import Model

base, phase = sys.argv[1], sys.argv[2]
art_metrics.delivery.EXIT_TIMEOUT_S = 1.0  # how long the exit hook waits for a reporter

class FileRecorder:
    def __init__(self, name, fail=None, hang=(), slow=0.0):
        self.name, self.fail, self.hang, self.slow = name, fail, hang, slow
    def log(self, row):
        step = row["training_step"]
        if self.fail and step in self.fail[1]:
            raise self.fail[0]("down")
        if step in self.hang:
            time.sleep(3600)  # a backend that never answers
        time.sleep(self.slow)
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
    try:
        model.close()  # b fails again on rows 1 and 2
    except ValueError:
        pass
elif phase == "hung-at-exit":
    b = FileRecorder("b", hang={2})
    model = Model(name="m", project="p", base_path=base, reporters=[FileRecorder("a"), b])
    log(model, 1)
    log(model, 2)
    model.flush_reporters(timeout=0)
    # no close: the exit hook waits a second for b, then keeps rows 2 on disk
elif phase == "no-close":
    slow = [FileRecorder("a", slow=0.1), FileRecorder("b", slow=0.1)]
    model = Model(name="m", project="p", base_path=base, reporters=slow)
    for step in (1, 2, 3):
        log(model, step)
    # no close: the exit hook delivers what is queued
elif phase == "other-reporter":
    model = Model(name="m", project="p", base_path=base, reporters=[FileRecorder("a"), Other("c")])
    log(model, 3)
else:
    model = Model(name="m", project="p", base_path=base, reporters=[FileRecorder("a"), FileRecorder("b")])
    log(model, 3)
    model.close()
"""


def _phase(tmp_path, phase: str) -> str:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", RESTART_SCRIPT, str(tmp_path), phase],
        timeout=120,
        check=False,
        capture_output=True,
        text=True,
    )
    return proc.stderr


def _got(tmp_path, name: str) -> list[int]:
    path = tmp_path / f"got-{name}.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize("phase", ["failing-at-close", "hung-at-exit"])
def test_rows_undelivered_at_exit_reach_the_reporter_after_a_restart(tmp_path, phase):
    stderr = _phase(tmp_path, phase)
    kept = tmp_path / "p" / "models" / "m" / ".art_metrics.undelivered.json"
    assert kept.is_file(), stderr
    assert _got(tmp_path, "a") == [1, 2]
    assert _got(tmp_path, "b") == ([] if phase == "failing-at-close" else [1])
    # What was not delivered is said, naming the reporter (close's or the exit hook's warning).
    assert "__main__.FileRecorder#1" in stderr and "row(s)" in stderr, stderr
    _phase(tmp_path, "restart")
    assert _got(tmp_path, "a") == _got(tmp_path, "b") == [1, 2, 3]
    assert not kept.exists()


def test_a_script_that_ends_without_close_delivers_at_exit(tmp_path):
    """Issue #24: the rows still queued when the script ends are delivered by the exit
    hook (the reporters are slow: the script ends before they are done)."""
    stderr = _phase(tmp_path, "no-close")
    assert _got(tmp_path, "a") == _got(tmp_path, "b") == [1, 2, 3], stderr
    assert not (tmp_path / "p" / "models" / "m" / ".art_metrics.undelivered.json").exists()


def test_kept_rows_go_only_to_the_reporter_they_were_kept_for(tmp_path):
    _phase(tmp_path, "failing-at-close")
    _phase(tmp_path, "other-reporter")  # another class at b's place: not sent b's rows
    assert _got(tmp_path, "a") == [1, 2, 3] and _got(tmp_path, "c") == [3]
