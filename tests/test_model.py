"""art_metrics.Model: row rules, splits and prefixes, state, resume and repair."""

import asyncio
import json
import math
import threading

import pytest
from art_metrics import Model, Trajectory, TrajectoryGroup
from art_metrics.history import read_rows


def text(model: Model) -> str:
    with open(f"{model.run_dir}/history.jsonl") as f:
        return f.read()


def rows(model: Model) -> list[dict]:
    with open(f"{model.run_dir}/history.jsonl") as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def model(tmp_path):
    return Model(name="m", project="p", base_path=str(tmp_path))


def group(*rewards, exceptions=0, metadata=None, metrics=None, traj_metrics=None):
    trajs = [Trajectory(reward=r, metrics=dict(traj_metrics or {})) for r in rewards]
    return TrajectoryGroup(
        trajs + [RuntimeError("x")] * exceptions, metadata=metadata, metrics=metrics
    )


async def test_train_row_rules(model):
    await model.log(
        [
            group(
                1.0,
                0.0,
                exceptions=1,
                metadata={"scenario_id": 7},
                metrics={"difficulty": 2},
                traj_metrics={"correct": True, "costs/train/rollout": 0.25},
            ),
            group(0.5, 0.5, metrics={"difficulty": 4}),
            group(1.0),
        ],
        split="train",
        step=2,
    )
    (row,) = rows(model)
    assert row["train/reward"] == pytest.approx(0.6)
    assert row["train/exception_rate"] == pytest.approx(1 / 6)
    assert row["train/correct"] == 1.0  # averaged over the trajectories that have it
    assert row["train/group_difficulty"] == 3.0
    assert (
        row["train/reward_std_dev"] == 0.25
    )  # mean of 0.5 and 0.0; the 1-trajectory group skipped
    assert row["costs/train/rollout"] == 0.5  # costs are summed, not averaged
    assert row["data/step_num_scenarios"] == 3.0
    assert row["data/step_num_trajectories"] == 6.0
    assert row["data/step_num_groups_trainable"] == 1.0
    assert row["data/cum/num_unique_scenarios"] == 1.0
    assert row["training_step"] == row["step"] == 2
    assert list(row)[-4:] == ["training_step", "time/wall_clock_sec", "step", "recorded_at"]


async def test_reward_std_dev_is_int_zero_without_groups_of_two(model):
    await model.log([group(1.0)], split="val")
    assert '"val/reward_std_dev": 0,' in text(model)
    assert rows(model)[0]["step"] == 0


@pytest.mark.parametrize(
    "split,key,expected",
    [
        ("train", "reward", "train/reward"),
        ("train", "foo/bar", "train/foo/bar"),
        ("train", "loss/a", "loss/a"),
        ("train", "time/foo", "time/foo"),
        ("val", "train/x", "train/x"),
        ("test", "pipeline/x", "pipeline/x"),
        ("holdout", "loss/a", "holdout/loss/a"),
        ("holdout", "costs/holdout/x", "holdout/costs/holdout/x"),
    ],
)
async def test_prefixes(model, split, key, expected):
    await model.log(None, split=split, metrics={key: 1.0})
    assert expected in rows(model)[0]


async def test_val_and_test_share_the_eval_buffer_custom_splits_have_their_own(model):
    model.metrics_builder("eval").add_cost("eval/judge", 1.0)
    model.metrics_builder("holdout").add_cost("holdout/judge", 2.0)
    await model.log(None, split="train", metrics={"loss/x": 1.0})
    assert "costs/eval/judge" not in rows(model)[-1]
    await model.log(None, split="test", metrics={})
    assert rows(model)[-1]["costs/eval/judge"] == 1.0
    await model.log([group(1.0)], split="holdout")
    row = rows(model)[-1]
    assert row["holdout/costs/holdout/judge"] == 2.0
    assert row["holdout/costs/cum/all"] == 3.0  # totals are shared by every split
    assert not any(k.startswith("data/") or k.startswith("holdout/data/") for k in row)


async def test_metrics_only_nan_and_no_ops(model):
    await model.log(None, split="train")
    await model.log(None, split="train", metrics={})
    assert model.read_state() is None
    await model.log(None, split="train", step=3, metrics={"loss/kl": math.nan, "x": math.inf})
    (row,) = rows(model)
    assert "loss/kl" not in row
    assert row["train/x"] == math.inf
    assert "Infinity" in text(model)


async def test_metrics_win_over_default_data_metrics_and_computed_values(model):
    await model.log(
        [group(1.0, 0.0)], split="train", metrics={"data/step_num_scenarios": 10, "reward": 42}
    )
    row = rows(model)[0]
    assert row["data/step_num_scenarios"] == 10.0
    assert row["train/reward"] == 42.0
    assert list(row)[0] == "train/reward"


async def test_legacy_cost_keys_are_refused_and_leave_nothing_behind(model):
    # The message is openpipe-art's, naming the key passed (issue #23).
    with pytest.raises(ValueError, match=r"Legacy cost keys .*\(got 'costs_judge'\)"):
        await model.log([group(1.0)], split="train", metrics={"costs_judge": 1.0})
    with pytest.raises(ValueError, match=r"Legacy cost keys .*\(got 'costs_x'\)"):
        await model.log([group(1.0, traj_metrics={"costs_x": 1})], split="train")
    await model.log(None, split="train", metrics={"loss/x": 1.0})
    assert not any(k.startswith("data/") for k in rows(model)[0])


async def test_bad_items_and_single_groups(model):
    with pytest.raises(TypeError, match="iterable of TrajectoryGroup"):
        await model.log([group(1.0), Trajectory(reward=1.0)])
    # A single group keeps its exceptions (the reference would lose them).
    await model.log(group(1.0, exceptions=1), split="val")
    assert rows(model)[0]["val/exception_rate"] == 0.5
    await model.log([Trajectory(reward=0.2), Trajectory(reward=0.4), ValueError()], split="val")
    assert rows(model)[1]["val/reward_std_dev"] == pytest.approx(0.1)


async def test_resume_continues_totals_and_scenarios(tmp_path):
    first = Model(name="m", project="p", base_path=str(tmp_path))
    await first.log(
        [group(1.0, metadata={"scenario_id": "a"})], split="train", metrics={"costs/train/x": 1.0}
    )
    second = Model(name="m", project="p", base_path=str(tmp_path))
    await second.log(
        [group(1.0, metadata={"scenario_id": "a"}), group(1.0, metadata={"scenario_id": "b"})],
        split="train",
        metrics={"costs/train/x": 2.0},
    )
    row = rows(second)[-1]
    assert row["costs/cum/all"] == 3.0
    assert row["data/cum/num_unique_scenarios"] == 2.0
    assert row["data/cum/num_scenarios"] == 3.0


async def test_state_methods(model):
    assert model.read_state() is None
    model.overwrite_state({"user": {"a": 1}})
    merged = model.merge_state({"user": {"b": 2}, "other": [1]})
    assert merged["user"] == {"a": 1, "b": 2}
    await model.log(None, split="train", metrics={"costs/train/x": 1.0})
    state = model.read_state()
    assert state["user"] == {"a": 1, "b": 2}
    assert state["_metrics_builder_state"]["cum_state"]["costs/cum/all"] == 1.0
    # Overwritten after the load: the in-memory totals are saved again by the next log.
    model.overwrite_state({})
    await model.log(None, split="train", metrics={"loss/x": 1.0})
    assert model.read_state()["_metrics_builder_state"]["cum_state"]["costs/cum/all"] == 1.0
    with pytest.raises(ValueError):
        model.overwrite_state({"x": math.nan})


async def test_overwrite_before_first_use_restarts_totals(tmp_path):
    first = Model(name="m", project="p", base_path=str(tmp_path))
    await first.log(None, split="train", metrics={"costs/train/x": 1.0})
    fresh = Model(name="m", project="p", base_path=str(tmp_path))
    fresh.overwrite_state({})
    await fresh.log(None, split="train", metrics={"costs/train/x": 1.0})
    assert rows(fresh)[-1]["costs/cum/all"] == 1.0


async def test_a_torn_last_line_of_another_writer_is_kept_and_ended_on_open(tmp_path):
    """A partial last line the journal does not prove ours (here another program's) is
    never cut (issue #21 case 1): it is ended with a newline, readers skip it, and our rows
    stay whole. Our own torn rows are cut: tests/test_crash_safety.py."""
    first = Model(name="m", project="p", base_path=str(tmp_path))
    await first.log(None, split="train", metrics={"costs/train/x": 1.0})
    first.close()
    with open(f"{first.run_dir}/history.jsonl", "a") as f:
        f.write('{"costs/all": 5.0, "costs/cum/')
    second = Model(name="m", project="p", base_path=str(tmp_path))
    with pytest.warns(RuntimeWarning, match="partial line that art_metrics did not write"):
        await second.log(None, split="train", metrics={"costs/train/x": 1.0})
    found, problems = read_rows(second.run_dir)
    assert [r["costs/cum/all"] for r in found] == [1.0, 2.0]
    assert len(problems) == 1 and "line 2: not JSON" in problems[0]


async def test_concurrent_logs_from_many_tasks(model):
    async def one(i):
        await asyncio.sleep(0)
        await model.log(None, split="train", step=i, metrics={"costs/train/x": 1.0})

    await asyncio.gather(*(one(i) for i in range(50)))
    totals = sorted(r["costs/cum/all"] for r in rows(model))
    assert totals == [float(i) for i in range(1, 51)]


async def test_reporters_get_rows_with_nan(tmp_path):
    class Collect:
        def __init__(self):
            self.rows = []

        def log(self, row):
            self.rows.append(row)

    collect = Collect()
    model = Model(name="m", project="p", base_path=str(tmp_path), reporters=[collect])
    await model.log(None, split="train", step=1, metrics={"loss/kl": math.nan})
    assert model.flush_reporters()  # the row reaches the reporter from its own thread
    (row,) = collect.rows
    assert math.isnan(row["loss/kl"]) and row["training_step"] == 1


async def test_openpipe_art_objects_are_accepted(model):
    import art

    g = art.TrajectoryGroup(
        [art.Trajectory(messages_and_choices=[], reward=1.0, metrics={"c": 1}), RuntimeError("x")],
        metadata={"scenario_id": "s"},
    )
    await model.log([g], split="val")
    row = rows(model)[0]
    assert row["val/exception_rate"] == 0.5 and row["val/c"] == 1.0


async def test_trajectory_values_of_every_kind_are_read_as_python_reads_them(tmp_path):
    """A batch's metric dicts are read borrowed only while they hold exact str keys and
    float, int or bool values; the others (numpy, Decimal, str subclasses) the plain way, and
    both give the same row."""
    import decimal

    import numpy as np

    class Key(str):
        pass

    kinds = [
        {"a": 0.5, "b": 2, "c": True},
        {"a": np.float32(0.5), "b": decimal.Decimal(2), Key("c"): 1.0},
    ]
    lines = []
    for i, metrics in enumerate(kinds):
        model = Model(name=f"m{i}", project="p", base_path=str(tmp_path))
        g = TrajectoryGroup([Trajectory(reward=r, metrics=dict(metrics)) for r in (0.0, 1.0)])
        await model.log([g], split="val", step=1)
        row = rows(model)[0]
        del row["recorded_at"], row["time/wall_clock_sec"]
        lines.append(row)
    assert lines[0] == lines[1] and lines[0]["val/a"] == 0.5 and lines[0]["val/c"] == 1.0


async def test_pydantic_trajectories_are_read_as_python_reads_them(model):
    """openpipe-art's objects are pydantic models, whose fields are read from the instance
    `__dict__`, except where the class defines the name (a property wins over the dict, as in
    Python) or the `__dict__` lacks it (pydantic's `__getattr__` then answers)."""
    import pydantic

    class WithProperty(pydantic.BaseModel):
        reward: float
        messages_and_choices: list = []
        metadata: dict = {}
        raw: dict = {}

        @property
        def metrics(self) -> dict:
            return {"doubled": 2 * self.raw["m"]}

    class WithGetattr(pydantic.BaseModel):
        reward: float
        messages_and_choices: list = []
        metrics: dict = {}

        def __getattr__(self, name: str):
            if name == "metadata":
                return {"scenario_id": "from-getattr"}
            return super().__getattr__(name)

    class Batch(pydantic.BaseModel):
        trajectories: list
        exceptions: list = []
        metadata: dict = {}
        metrics: dict = {"size": 2.0}

    shadowed = [WithProperty(reward=r, raw={"m": r}) for r in (1.0, 3.0)]
    for t in shadowed:
        t.__dict__["metrics"] = {"doubled": -100.0}  # the property still wins
    batches = [
        Batch(trajectories=shadowed),
        Batch(trajectories=[WithGetattr(reward=r, metrics={"doubled": 0.0}) for r in (0.0, 0.0)]),
    ]
    await model.log(batches, split="train", step=1)
    row = rows(model)[0]
    assert row["train/doubled"] == 2.0 and row["train/group_size"] == 2.0
    assert row["train/reward"] == 1.0
    ids = model.read_state()["_metrics_builder_state"]["unique_scenario_ids"]
    assert ids == ["from-getattr"]


async def test_slot_trajectories_are_read_as_python_reads_them(model):
    """Our `Trajectory` and `TrajectoryGroup` keep their fields in `__slots__`, read at the
    members' offsets, except where Python's lookup finds something else first: a subclass's
    property (a slot of the same name in the instance is ignored, as in Python), a class
    with its own `__getattribute__`, a member never set (getattr's AttributeError)."""

    class WithProperty(Trajectory):
        __slots__ = ("raw",)

        @property
        def metrics(self) -> dict:
            return {"doubled": 2 * self.raw}

        @metrics.setter
        def metrics(self, value: dict) -> None:
            Trajectory.metrics.__set__(self, value)  # the shadowed slot holds {"doubled": -100}

    class Renamed(Trajectory):
        __slots__ = ()

        def __getattribute__(self, name: str):
            return (
                {"scenario_id": "from-getattribute"}
                if name == "metadata"
                else super().__getattribute__(name)
            )

    class Slotted:  # a user's own class with slots
        __slots__ = ("reward", "metrics", "metadata")

        def __init__(self, reward: float) -> None:
            self.reward, self.metrics, self.metadata = reward, {"doubled": 2 * reward}, {}

    shadowed = []
    for r in (1.0, 3.0):
        t = WithProperty(reward=r, metrics={"doubled": -100.0})
        t.raw = r
        shadowed.append(t)
    renamed = [Renamed(reward=0.0, metrics={"doubled": 0.0}) for _ in range(2)]
    await model.log(
        [TrajectoryGroup(shadowed), TrajectoryGroup(renamed), TrajectoryGroup([Slotted(2.0)])],
        split="train",
        step=1,
    )
    row = rows(model)[0]
    assert row["train/doubled"] == (2.0 + 6.0 + 0.0 + 0.0 + 4.0) / 5
    assert row["train/reward"] == (1.0 + 3.0 + 0.0 + 0.0 + 2.0) / 5
    ids = model.read_state()["_metrics_builder_state"]["unique_scenario_ids"]
    assert ids == ["from-getattribute"]

    unset = Trajectory(reward=1.0)
    del unset.metrics
    with pytest.raises(AttributeError, match="metrics"):
        await model.log([TrajectoryGroup([unset])], split="train", step=2)


def test_trajectories_keep_extra_attributes_and_pickle():
    """Fields are slots; extra keyword arguments still become attributes (in `__dict__`),
    and a trajectory or group survives pickle and copy, as Ray and Monarch workers send
    them."""
    import copy
    import pickle

    t = Trajectory(reward=0.5, metrics={"m": 1.0}, metadata={"scenario_id": "s"}, judge="j")
    assert t.judge == "j" and vars(t) == {"judge": "j"}
    g = TrajectoryGroup([t, RuntimeError("x")], metrics={"g": 2.0})
    for clone in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g), copy.copy(g)):
        (u,) = clone.trajectories
        assert (u.reward, u.metrics, u.metadata, u.judge) == (
            0.5,
            {"m": 1.0},
            {"scenario_id": "s"},
            "j",
        )
        assert clone.metrics == {"g": 2.0} and len(clone.exceptions) == 1


async def test_per_log_writes_do_not_grow_with_the_run(tmp_path):
    """The reference rewrites all of state.json on every log; we append a journal line and
    fold it into state.json only when the journal outgrows it (amortised constant cost)."""
    Model._compact_min_bytes = 64 * 1024
    try:
        model = Model(name="m", project="p", base_path=str(tmp_path))
    finally:
        Model._compact_min_bytes = None
    builder = model.metrics_builder("train")
    state_path = tmp_path / "p/models/m/state.json"
    rewrites, last_inode = 0, None
    for i in range(600):
        builder.add_data(scenario_ids=[f"scenario-{i}-{k}" for k in range(100)])
        await model.log(None, split="train", step=i, metrics={"loss/x": 1.0})
        inode = state_path.stat().st_ino if state_path.exists() else None
        rewrites += inode != last_inode
        last_inode = inode
    assert rewrites <= 8, rewrites  # geometric: 64 KiB, then each time the journal outgrows state
    state = model.read_state()["_metrics_builder_state"]
    assert len(state["unique_scenario_ids"]) == 60_000


def test_logs_from_many_threads(tmp_path):
    import threading

    model = Model(name="m", project="p", base_path=str(tmp_path))

    def worker(t):
        for i in range(25):
            asyncio.run(
                model.log(None, split="train", step=i, metrics={"costs/train/x": 1.0, "t": t})
            )

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # Rows are appended in the order their totals were taken: strictly increasing.
    assert [r["costs/cum/all"] for r in rows(model)] == [float(i) for i in range(1, 101)]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(
            lambda k: not k.startswith(("costs", "time/step_", "data/step_", "throughput/step_"))
        ),
        st.floats(allow_nan=True, allow_infinity=True),
        min_size=1,
        max_size=5,
    )
)
def test_history_lines_are_byte_identical_to_json_dumps(metrics):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        model = Model(name="m", project="p", base_path=d)
        asyncio.run(model.log(None, split="custom", step=3, metrics=metrics))
        line = text(model)
    row = json.loads(line)
    expected = {f"custom/{k}": v for k, v in metrics.items() if v == v}
    expected |= {"training_step": 3, "time/wall_clock_sec": row["time/wall_clock_sec"]}
    expected |= {"step": 3, "recorded_at": row["recorded_at"]}
    assert line == json.dumps(expected) + "\n"


async def test_a_torn_reference_state_json_is_reported_clearly(tmp_path):
    run_dir = tmp_path / "p/models/m"
    run_dir.mkdir(parents=True)
    (run_dir / "state.json").write_text('{"_metrics_builder_state": {"cum_state": {"costs/cum/a')
    model = Model(name="m", project="p", base_path=str(tmp_path))
    with pytest.raises(ValueError, match="state.json is not valid JSON.*move it away"):
        await model.log(None, split="train", metrics={"loss/x": 1.0})


class FoldRecorder:
    """A model's RunCore whose `fold_if_due` (the journal's fold into state.json, which
    rewrites and fsyncs it) records the thread it runs on, and can be held back until
    `release` is set."""

    def __init__(self, run) -> None:
        self._run = run
        self.threads: list[int] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __getattr__(self, name):
        return getattr(self._run, name)

    def fold_if_due(self):
        self.threads.append(threading.get_ident())
        self.started.set()
        self.release.wait(10)
        return self._run.fold_if_due()


class SmallJournal(Model):
    # The journal is folded into state.json as soon as it outgrows it: at every few rows.
    _compact_min_bytes = 0


async def test_log_folds_state_json_off_the_event_loops_thread(tmp_path):
    """Issue #20: the loop runs other tasks while a log's fold rewrites and fsyncs state.json."""
    model = SmallJournal(name="m", project="p", base_path=str(tmp_path))
    recorder = model._run = FoldRecorder(model._run)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    for step in range(1, 6):
        await model.log([group(1.0, 0.0)], split="train", step=step, metrics={"loss": 0.5})
    task.cancel()
    assert recorder.threads and threading.get_ident() not in recorder.threads
    assert ticks > before  # the ticker ran while state.json was being folded
    state = json.loads((tmp_path / "p/models/m/state.json").read_text())
    assert state["_art_metrics"]["journal_seq"] >= 3  # folded, not only appended
    assert len(rows(model)) == 5


async def test_a_log_cancelled_while_folding_keeps_its_row_and_reports_it_once(tmp_path):
    got = []

    class Collect:
        def log(self, row):
            got.append(row["training_step"])

    model = SmallJournal(name="m", project="p", base_path=str(tmp_path), reporters=[Collect()])
    recorder = model._run = FoldRecorder(model._run)
    recorder.release.clear()
    step = 0

    async def logs():
        nonlocal step
        while True:
            step += 1
            await model.log(None, split="train", step=step, metrics={"a": 1.0})

    task = asyncio.create_task(logs())
    await asyncio.get_running_loop().run_in_executor(None, recorder.started.wait, 10)
    task.cancel()
    recorder.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await model.log(None, split="train", step=step + 1, metrics={"a": 2.0})
    assert model.flush_reporters()
    written = [r["training_step"] for r in rows(model)]
    assert written == list(range(1, step + 2))
    assert got == written  # the cancelled log's row too, once
