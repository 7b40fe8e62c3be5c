"""report_metrics=["tensorboard"]: event files in the run directory, read back with
TensorBoard's own reader (EventAccumulator)."""

import asyncio
import json
import math

import numpy as np
import pytest
from art_metrics import Model
from support.sink_runs import log_steps
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def test_every_number_is_a_scalar_at_its_training_step_across_restarts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written outside the run directory
    base = tmp_path / "runs"
    first = Model(name="m1", project="proj", base_path=str(base), report_metrics=["tensorboard"])
    asyncio.run(log_steps(first, [1, 2]))
    first.close()
    again = Model(name="m1", project="proj", base_path=str(base), report_metrics=["tensorboard"])
    asyncio.run(log_steps(again, [3]))
    again.close()

    log_dir = base / "proj" / "models" / "m1" / "tensorboard"
    assert len(list(log_dir.glob("events.out.tfevents.*"))) == 2  # one per process (Model)
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]

    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    rows = [
        json.loads(line) for line in (log_dir.parent / "history.jsonl").read_text().splitlines()
    ]
    expected: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key not in ("step", "training_step", "recorded_at"):
                expected.setdefault(key, []).append((row["training_step"], value))
    # history.jsonl leaves NaN out; TensorBoard keeps it.
    expected["loss/kl"] = [(r["training_step"], math.nan) for r in rows if "train/reward" in r]
    assert sorted(accumulator.Tags()["scalars"]) == sorted(expected)
    for key, points in expected.items():
        got = [(e.step, e.value) for e in accumulator.Scalars(key)]
        assert [s for s, _ in got] == [s for s, _ in points], key
        for (_, value), (_, want) in zip(got, points):
            # TensorBoard scalars are float32.
            assert value == pytest.approx(float(np.float32(want)), nan_ok=True), key
    assert accumulator.Scalars("loss/big")[0].value == math.inf
