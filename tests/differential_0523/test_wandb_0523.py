"""What ``art_metrics.Model`` in the 0.5.23 dialect sends to W&B, call for call as openpipe-art
0.5.23's ``Model`` (through a fake ``wandb``), and what happens without the wandb package.

0.5.23 defines ``sft/gradient_step`` as a second axis, drops ``time/wall_clock_sec`` and
``reward/*``, adds ``objective/* sample_efficiency/* offpolicy/* pipeline_settings/* vllm/*``,
and ``run.log`` gets only canonical keys, ``costs/cum/*``, ``sft/*`` and the caller's own
(trajectory, group and direct) metrics; history.jsonl still gets every key.
"""

import asyncio
import json
import sys
import types
import warnings

import api
import art
import pytest
from support.rows import assert_rows_match


class FakeRun:
    def __init__(self, calls: list, init_kwargs: dict) -> None:
        self.calls = calls
        self._is_finished = False
        self.config = types.SimpleNamespace(update=lambda *a, **k: None)
        keep = ("project", "entity", "name", "id", "resume")
        calls.append(("init", {k: init_kwargs.get(k) for k in keep}))

    def define_metric(self, name, step_metric=None):
        self.calls.append(("define_metric", name, step_metric))

    def log(self, row):
        self.calls.append(("log", dict(row)))

    def finish(self):
        self._is_finished = True


@pytest.fixture
def fake_wandb(monkeypatch):
    """``wandb`` as both libraries import it: ``wandb.init`` (ours) and
    ``wandb.sdk.wandb_init.init`` / ``wandb.sdk.wandb_settings.Settings`` (0.5.23's)."""
    calls: list = []

    def init(*args, **kwargs):
        return FakeRun(calls, kwargs)

    modules = {}
    for name in ("wandb", "wandb.sdk", "wandb.sdk.wandb_init", "wandb.sdk.wandb_settings"):
        module = types.ModuleType(name)
        module.__spec__ = types.SimpleNamespace(name=name)
        module.__path__ = []
        modules[name] = module
        monkeypatch.setitem(sys.modules, name, module)
    modules["wandb"].init = init
    modules["wandb"].Settings = lambda **kwargs: kwargs
    modules["wandb"].sdk = modules["wandb.sdk"]
    modules["wandb.sdk.wandb_init"].init = init
    modules["wandb.sdk.wandb_settings"].Settings = lambda **kwargs: kwargs
    monkeypatch.setenv("WANDB_API_KEY", "x")  # the reference reports only with a key
    return calls


async def log_script(lib, make_model, base_path: str) -> None:
    model = make_model(
        name="m1", project="proj", entity="team", base_path=base_path, report_metrics=["wandb"]
    )
    T, G = lib.Trajectory, lib.TrajectoryGroup
    groups = [
        G(
            [T(reward=1.0, metrics={"correct": True}), T(reward=0.0, metrics={"correct": False})],
            metrics={"difficulty": 0.5},
        )
    ]
    model.metrics_builder("train").add_cost("train/judge", 0.5)
    model.metrics_builder("train").add_user_timing(step_wall_s=3.0, step_rollout_s=1.0)
    await model.log(
        groups,
        split="train",
        step=1,
        metrics={
            "loss/kl": float("nan"),
            "loss/train": 0.25,
            "entropy": 1.5,
            "objective/score": 2.0,
            "vllm/num_requests_running": 3,
            "time/step_backend_train_s": 2.0,
            "data/step_trainable_assistant_tokens": 100,
        },
    )
    model.metrics_builder("eval").add_cost("eval/judge", 0.25)
    await model.log(groups, split="val", step=1)
    model.metrics_builder("holdout").add_cost("holdout/judge", 0.25)
    await model.log(groups, split="holdout", step=2)
    await model.log(None, split="sft", step=3, metrics={"gradient_step": 1.0, "loss/train": 0.5})
    await model.log(None, split="train", step=3, metrics={"custom": 1.0, "time/step_x_s": 1.0})
    # Ours delivers from a thread per reporter: wait for it (openpipe-art logs inline).
    flush = getattr(model, "flush_reporters", None)
    if flush is not None:
        flush()


def history(base_path) -> list[dict]:
    with open(f"{base_path}/proj/models/m1/history.jsonl") as f:
        return [json.loads(line) for line in f]


def same(ours, ref):  # NaN != NaN
    return json.dumps(ours, sort_keys=True) == json.dumps(ref, sort_keys=True)


def test_the_reference_sends_the_0523_calls(fake_wandb, tmp_path):
    asyncio.run(log_script(art, art.Model, str(tmp_path)))
    defined = [c[1:] for c in fake_wandb if c[0] == "define_metric"]
    logged = [c[1] for c in fake_wandb if c[0] == "log"]
    assert ("sft/gradient_step", None) in defined
    assert ("sft/*", "sft/gradient_step") in defined
    assert ("vllm/*", "training_step") in defined
    assert not any(name in ("time/wall_clock_sec", "reward/*") for name, _ in defined)
    first, holdout, sft = logged[0], logged[2], logged[3]
    assert {"train/reward", "train/correct", "train/group/difficulty", "costs/cum/all"} <= set(
        first
    )
    assert {"loss/train", "train/entropy", "objective/score", "time/step_backend_train_s"} <= set(
        first
    )
    # A custom split's reward is not canonical and not the caller's: not sent.
    assert "holdout/holdout/correct" in holdout and "holdout/holdout/reward" not in holdout
    assert sft == {"sft/gradient_step": 1.0, "sft/loss/train": 0.5, "training_step": 3}
    # A caller's key is defined against training_step, also under sft/ (a quirk kept as is).
    assert ("sft/loss/train", "training_step") in defined
    # Step costs and most builder keys stay in history.jsonl only.
    assert "costs/train/judge" not in first and "data/step_num_scenarios" not in first
    assert "costs/train/judge" in history(tmp_path)[0]


def test_wandb_calls_match_openpipe_art_0523(fake_wandb, tmp_path):
    asyncio.run(log_script(art, art.Model, str(tmp_path / "ref")))
    reference = list(fake_wandb)
    fake_wandb.clear()
    import art_metrics

    asyncio.run(log_script(art_metrics, api.model, str(tmp_path / "ours")))
    assert len(fake_wandb) == len(reference) > 20
    for i, (ours, ref) in enumerate(zip(fake_wandb, reference)):
        assert same(ours, ref), f"call {i}: {ours} != {ref}"


def test_without_the_wandb_package_rows_are_still_written(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wandb", None)
    monkeypatch.setenv("WANDB_API_KEY", "x")
    asyncio.run(log_script(art, art.Model, str(tmp_path / "ref")))
    import art_metrics

    # No error, at Model() or at a log; whether we also warn is ours to choose.
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        asyncio.run(log_script(art_metrics, api.model, str(tmp_path / "ours")))
    assert_rows_match(history(tmp_path / "ours"), history(tmp_path / "ref"))


def test_an_installed_art_model_makes_the_same_wandb_calls(fake_wandb, tmp_path):
    """Under install(), art.Model's log runs on the core and reports through ART's own W&B
    run and 0.5.23's payload filter: the same calls as plain openpipe-art 0.5.23."""
    asyncio.run(log_script(art, art.Model, str(tmp_path / "ref")))
    reference = list(fake_wandb)
    fake_wandb.clear()
    import art_metrics

    art_metrics.install()
    try:
        asyncio.run(log_script(art, art.Model, str(tmp_path / "ours")))
    finally:
        art_metrics.uninstall()
    assert len(fake_wandb) == len(reference) > 20
    for i, (ours, ref) in enumerate(zip(fake_wandb, reference)):
        assert same(ours, ref), f"call {i}: {ours} != {ref}"
    assert_rows_match(history(tmp_path / "ours"), history(tmp_path / "ref"))
    state = json.loads((tmp_path / "ours/proj/models/m1/state.json").read_text())
    assert "_art_metrics" in state  # the rows went through the core's run directory
