"""Issue #24: reporters get their rows from threads of their own, off the training loop.

`Model.log` returns once the row is in history.jsonl; a slow reporter holds up neither the
log nor the other reporters; `close` waits a bounded time and says what it could not
deliver; a reporter far behind has its oldest rows dropped with a warning instead of
making `log` wait. No test measures a time: the slow reporters wait on events the test
sets.
"""

import asyncio
import json
import threading

import pytest
from art_metrics import Model
from art_metrics.delivery import Delivery

WAIT_S = 60  # only a broken build waits this long


class Recorder:
    """Keeps the steps it got; with a ``gate``, each call waits until the gate is open
    (a backend that answers slowly) and says it is waiting (``entered``)."""

    def __init__(self, gate=None, fail_while=None) -> None:
        self.steps: list[int] = []
        self.gate = gate
        self.entered = threading.Event()
        self.fail_while = fail_while  # an Event: while set, every call fails
        self.all_in = threading.Event()
        self.expect = None
        self.failed = threading.Event()

    def log(self, row):
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)
        if self.fail_while is not None and self.fail_while.is_set():
            self.failed.set()
            raise ConnectionError("backend down")
        self.steps.append(row["training_step"])
        if self.expect is not None and len(self.steps) == self.expect:
            self.all_in.set()


def log(model, step):
    asyncio.run(model.log(None, split="train", step=step, metrics={"a": float(step)}))


def history_steps(model) -> list[int]:
    with open(f"{model.run_dir}/history.jsonl") as f:
        return [json.loads(line)["training_step"] for line in f]


def test_a_slow_reporter_delays_neither_log_nor_the_other_reporters(tmp_path):
    gate = threading.Event()
    slow, fast = Recorder(gate=gate), Recorder()
    fast.expect = 5
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[slow, fast])
    for step in range(1, 6):
        log(model, step)  # returns while `slow` is still inside its first call
    assert slow.entered.wait(WAIT_S) and slow.steps == []
    assert history_steps(model) == [1, 2, 3, 4, 5]  # durable before the reporters have it
    assert fast.all_in.wait(WAIT_S) and fast.steps == [1, 2, 3, 4, 5]
    gate.set()
    assert model.flush_reporters(timeout=WAIT_S)
    assert slow.steps == [1, 2, 3, 4, 5]
    model.close()


def test_order_and_exactly_once_through_failures_and_recovery(tmp_path):
    down = threading.Event()
    down.set()
    flaky, healthy = Recorder(fail_while=down), Recorder()
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[flaky, healthy])
    raised = 0
    for step in range(1, 51):
        if step == 30:
            assert flaky.failed.wait(WAIT_S)  # it has failed at least once
            down.clear()  # the backend comes back
        try:
            log(model, step)
        except ConnectionError:
            raised += 1
    try:
        model.close()
    except ConnectionError:
        raised += 1
    assert raised == 1  # once per cause
    assert flaky.steps == healthy.steps == history_steps(model) == list(range(1, 51))


def test_close_waits_a_bounded_time_and_says_what_it_left(tmp_path):
    gate = threading.Event()
    slow = Recorder(gate=gate)
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[slow])
    for step in (1, 2, 3):
        log(model, step)
    assert slow.entered.wait(WAIT_S)
    with pytest.warns(RuntimeWarning, match=r"test_delivery_threads.Recorder#0 did not receive 3"):
        model.close(timeout=0.01)
    kept = tmp_path / "p" / "models" / "m" / ".art_metrics.undelivered.json"
    assert kept.is_file()
    gate.set()  # the reporter's thread goes on after close: the kept file follows it
    assert model.flush_reporters(timeout=WAIT_S)
    assert slow.steps == [1, 2, 3] and not kept.exists()
    model.close()
    # The next process (here: Model) has nothing left to give.
    again = Recorder()
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[again])
    log(model, 4)
    model.close()
    assert again.steps == [4]


def test_a_reporter_too_far_behind_has_its_oldest_rows_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(Delivery, "max_rows", 5)
    gate = threading.Event()
    slow = Recorder(gate=gate)
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[slow])
    log(model, 1)
    assert slow.entered.wait(WAIT_S)  # in its call with row 1
    with pytest.warns(RuntimeWarning, match=r"Recorder fell 5 rows behind.*training_step 2"):
        for step in range(2, 9):
            log(model, step)  # never waits for the reporter
    gate.set()
    model.close()
    assert history_steps(model) == list(range(1, 9))
    assert slow.steps == [1, 4, 5, 6, 7, 8]  # rows 2 and 3 dropped, the rest in order


def test_a_failing_record_call_fails_neither_the_priced_call_nor_a_row(tmp_path):
    from art_metrics import track_api_cost

    class Broken:
        def log(self, row):
            pass

        def record_call(self, **call):
            raise RuntimeError("exporter down")

    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    def judge():
        return {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}

    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[Broken()])
    with model.metrics_builder().activate_context():
        assert judge() and judge()  # priced and returned all the same
    with pytest.raises(RuntimeError, match="exporter down"):
        log(model, 1)  # after the row is written; once per cause
    with model.metrics_builder().activate_context():
        judge()
    log(model, 2)
    model.close()
    assert history_steps(model) == [1, 2]
