"""The spend guard, the efficiency metrics, GPU prices beyond H200 and the warnings for
easy mistakes (issue 14)."""

import asyncio
import json
import os
import subprocess
import sys
import types
import warnings

import pytest
from art_metrics import (
    BudgetExceeded,
    BudgetWarning,
    LocalBackend,
    MetricsBuilder,
    Model,
    TrackioReporter,
    Trajectory,
    TrajectoryGroup,
    WandbReporter,
    track_api_cost,
)

JUDGE_RESPONSE = {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}  # $0.0035


def model_at(tmp_path, name="m", **kwargs):
    return Model(name=name, project="p", base_path=str(tmp_path), **kwargs)


def rows(model):
    run_dir = f"{model.base_path}/{model.project}/models/{model.name}"
    with open(f"{run_dir}/history.jsonl") as f:
        return [json.loads(line) for line in f]


# -- spend guard --------------------------------------------------------------------------


def test_thresholds_warn_once_each_and_the_crossing_call_raises_after_recording(tmp_path):
    model = model_at(tmp_path)
    model.set_budget(10.0, on_exceed="raise")
    builder = model.metrics_builder()
    builder.add_cost("train/judge", 4.0)
    with pytest.warns(BudgetWarning, match=r"50% of the \$10.00 budget"):
        builder.add_cost("train/judge", 1.0)
    builder.add_cost("train/judge", 1.0)  # 50% already given: nothing
    with pytest.warns(BudgetWarning) as caught:
        builder.add_cost("train/judge", 4.0)  # $10: 80% and 100% at once, not exceeded
    assert [str(w.message).split(" of ")[0][-3:] for w in caught] == ["80%", "00%"]
    with pytest.raises(BudgetExceeded, match=r"exceeds the \$10.00 budget") as exc:
        builder.add_cost("train/other", 0.5)
    assert (exc.value.spend_usd, exc.value.budget_usd, exc.value.result) == (10.5, 10.0, None)
    builder.add_cost("train/other", 0.5)  # raised once: the run may go on
    flushed = builder._flush()
    assert flushed["costs/train/other"] == 1.0  # the crossing cost was recorded
    assert flushed["costs/all"] == 11.0


def test_reaching_and_passing_the_budget_in_one_call_is_one_warning():
    # warn_at with 1.0 and on_exceed="warn": one cost taking spend from below the budget
    # past it gave "reached 100%" and "exceeds" for the same event.
    builder = MetricsBuilder("train")
    builder.set_budget(1.0, on_exceed="warn", warn_at=[0.5, 1.0])
    with pytest.warns(BudgetWarning) as caught:
        builder.add_cost("train/judge", 2.0)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages  # 50%, then one message for 100% and past it
    assert "50%" in messages[0] and "exceeds the $1.00 budget" in messages[1]
    assert builder._budget_state()["budget_warned_at"] == [0.5, 1.0]


def test_pending_costs_of_every_context_count(tmp_path):
    model = model_at(tmp_path)
    model.set_budget(1.0, on_exceed="raise", warn_at=())
    model.metrics_builder("eval").add_cost("eval/judge", 0.6)  # pending in another scope
    assert model.metrics_builder().spend_usd() == 0.6
    with pytest.raises(BudgetExceeded):
        model.metrics_builder().add_metric("costs/train/judge", 0.6)


def test_a_budget_on_any_builder_of_the_run_guards_the_run():
    builder = MetricsBuilder("train")
    other = builder.for_cost_context("eval")
    other.set_budget(1.0, on_exceed="warn", warn_at=[0.5])
    with pytest.warns(BudgetWarning, match="50%"):
        builder.add_cost("train/x", 0.5)
    with pytest.warns(BudgetWarning, match="exceeds"):
        builder.add_cost("train/x", 0.75)
    with pytest.raises(ValueError, match="on_exceed"):
        builder.set_budget(1.0, on_exceed="stop")
    with pytest.raises(ValueError, match="warn_at"):
        builder.set_budget(1.0, warn_at=[2.0])
    with pytest.raises(ValueError, match="budget usd"):
        builder.set_budget(-1.0)
    builder.set_budget(None)
    builder.add_cost("train/x", 100.0)  # no budget, nothing said


def test_a_tracked_judge_that_crosses_keeps_its_result():
    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    def judge():
        return JUDGE_RESPONSE

    @track_api_cost(source="ajudge", provider="openai", model_name="gpt-4o")
    async def async_judge():
        return JUDGE_RESPONSE

    builder = MetricsBuilder("train")
    builder.set_budget(0.005, on_exceed="raise", warn_at=())
    with builder.activate_context():
        judge()
        with pytest.raises(BudgetExceeded) as exc:
            judge()
        assert exc.value.result is JUDGE_RESPONSE
        builder.set_budget(0.008, on_exceed="raise", warn_at=())
        with pytest.raises(BudgetExceeded) as exc:
            asyncio.run(async_judge())
        assert exc.value.result is JUDGE_RESPONSE and exc.value.__cause__ is None
    flushed = builder._flush()
    assert flushed["costs/train/judge"] == pytest.approx(0.007)
    assert flushed["costs/train/ajudge"] == pytest.approx(0.0035)


def test_add_response_cost_is_guarded():
    builder = MetricsBuilder("train")
    builder.set_budget(0.001, on_exceed="raise", warn_at=())
    with pytest.raises(BudgetExceeded):
        builder.add_response_cost("judge", JUDGE_RESPONSE, provider="openai", model_name="gpt-4o")
    assert builder._flush()["costs/train/judge"] == pytest.approx(0.0035)


async def test_the_gpu_cost_of_a_train_step_is_guarded_and_the_row_kept(tmp_path):
    model = model_at(tmp_path)
    # $3.6M per hour: any measurable step costs more than the budget.
    await model.register(LocalBackend(gpu_cost_per_hour_usd=3.6e6, gpu_count=1))
    model.set_budget(1e-9, on_exceed="raise", warn_at=())
    with pytest.raises(BudgetExceeded):
        await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    (row,) = rows(model)
    assert row["costs/gpu"] > 1e-9 and row["costs/cum/all"] == row["costs/gpu"]


class AlertingReporter:
    def __init__(self):
        self.alerts = []

    def log(self, row):
        pass

    def alert(self, *, title, text, level):
        self.alerts.append((title, level, text))


def test_reporters_get_an_alert_per_threshold(tmp_path):
    reporter = AlertingReporter()
    model = model_at(tmp_path, reporters=[reporter])
    model.set_budget(2.0, on_exceed="raise", warn_at=[0.5])
    with pytest.warns(BudgetWarning):
        model.metrics_builder().add_cost("train/x", 1.0)
    with pytest.raises(BudgetExceeded):
        model.metrics_builder().add_cost("train/x", 1.5)
    assert [(t, lvl) for t, lvl, _ in reporter.alerts] == [
        ("Budget warning", "WARN"),
        ("Budget exceeded", "ERROR"),
    ]
    assert "$2.50" in reporter.alerts[1][2]


def test_a_budget_alert_without_wandb_installed_is_skipped_under_0523(tmp_path, monkeypatch):
    """0.5.23 skips W&B when wandb is missing: its reporter must skip the alert too, not
    raise AttributeError from the call that crossed the budget."""
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ModuleNotFoundError
    reporter = WandbReporter(project="p", name="n", art_version="0.5.23")
    model = model_at(tmp_path, reporters=[reporter])
    model.set_budget(1.0, on_exceed="raise", warn_at=[0.5])
    with pytest.warns(BudgetWarning):
        model.metrics_builder().add_cost("train/x", 0.75)
    with pytest.raises(BudgetExceeded):
        model.metrics_builder().add_cost("train/x", 0.5)
    assert reporter.run is None


def test_wandb_and_trackio_reporters_send_alerts(monkeypatch):
    calls = []
    run = types.SimpleNamespace(
        define_metric=lambda *a, **k: None,
        alert=lambda **kw: calls.append(("wandb", kw)),
        _is_finished=False,
    )
    wandb = types.ModuleType("wandb")
    wandb.__spec__ = types.SimpleNamespace(name="wandb")
    wandb.init = lambda **kw: run
    monkeypatch.setitem(sys.modules, "wandb", wandb)
    WandbReporter(project="p", name="n").alert(title="t", text="x", level="WARN")

    trackio = types.ModuleType("trackio")
    trackio.__spec__ = types.SimpleNamespace(name="trackio")
    trackio.alert = lambda **kw: None  # present: this Trackio has alerts
    trackio.init = lambda **kw: types.SimpleNamespace(
        alert=lambda **kw: calls.append(("trackio", kw))
    )
    monkeypatch.setitem(sys.modules, "trackio", trackio)
    TrackioReporter(project="p", name="n").alert(title="t", text="x", level="ERROR")
    assert calls == [
        ("wandb", {"title": "t", "text": "x", "level": "WARN"}),
        ("trackio", {"title": "t", "text": "x", "level": "error"}),
    ]


def test_the_budget_survives_a_restart_and_art_reads_the_state(tmp_path):
    model = model_at(tmp_path)
    model.set_budget(4.0, on_exceed="raise", warn_at=[0.5, 0.75])
    with pytest.warns(BudgetWarning, match="50%"):
        model.metrics_builder().add_cost("train/x", 2.5)
    asyncio.run(model.log(None, split="train", step=1, metrics={"loss/x": 1.0}))
    model.close()
    saved = model.read_state()["_art_metrics"]
    assert saved["budget_usd"] == 4.0
    assert saved["budget_warned_at"] == [0.5]

    again = model_at(tmp_path)
    builder = again.metrics_builder()
    assert builder._budget_state()["budget_on_exceed"] == "raise"
    builder.add_cost("train/x", 0.25)  # $2.75 of $4: 50% already given before the restart
    with pytest.warns(BudgetWarning, match="75%"):
        builder.add_cost("train/x", 0.5)
    with pytest.raises(BudgetExceeded):
        builder.add_cost("train/x", 1.0)
    assert again.read_state()["_art_metrics"]["budget_exceeded"] is True

    # openpipe-art 0.5.18 opens the same run directory and resumes its totals.
    import art

    ref = art.Model(name="m", project="p", base_path=str(tmp_path))
    assert ref.read_state()["_art_metrics"]["budget_usd"] == 4.0
    asyncio.run(ref.log(None, split="train", step=2, metrics={"costs/train/y": 1.0}))
    assert rows(ref)[-1]["costs/cum/all"] == pytest.approx(3.5)


def test_a_saved_budget_is_read_by_the_core_with_its_defaults_and_checks(tmp_path):
    model = model_at(tmp_path)
    model.merge_state({"_art_metrics": {"budget_usd": 2.0}})  # an older save: the amount only
    model.close()
    again = model_at(tmp_path)
    again.metrics_builder().add_cost("train/x", 0.5)  # loads the run, budget included
    assert again.metrics_builder()._budget_state() == {
        "budget_usd": 2.0,
        "budget_on_exceed": "warn",
        "budget_warn_at": [0.5, 0.8, 1.0],
        "budget_warned_at": [],
        "budget_exceeded": False,
    }
    again.merge_state({"_art_metrics": {"budget_warn_at": "half"}})
    again.close()
    with pytest.raises(ValueError, match="budget_warn_at"):
        model_at(tmp_path).metrics_builder().add_cost("train/x", 0.5)


# -- efficiency metrics ---------------------------------------------------------------------


async def test_efficiency_metrics_follow_their_formulas(tmp_path):
    model = model_at(tmp_path, efficiency_metrics=True)
    await model.register(LocalBackend(gpu_cost_per_hour_usd=36.0, gpu_count=2))  # $72/h
    builder = model.metrics_builder()
    builder.add_idle_times(step_trainer_idle_s=50.0)  # 50 s x $72/h = $1
    builder.add_cost("train/judge", 2.0)
    groups = [TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.0)])]
    await model.log(groups, split="train", step=1, metrics={"data/step_trainer_tokens": 4e6})
    row = rows(model)[-1]
    spend = row["costs/cum/all"]
    assert row["efficiency/step_idle_gpu_usd"] == pytest.approx(1.0)
    assert row["efficiency/cum/idle_gpu_usd"] == pytest.approx(1.0)
    assert row["efficiency/usd_per_trajectory"] == pytest.approx(spend / 2)
    assert row["efficiency/usd_per_million_trainer_tokens"] == pytest.approx(spend / 4)
    assert row["efficiency/gpu_share"] == pytest.approx(row["costs/cum/gpu"] / spend)
    assert row["efficiency/api_share"] == pytest.approx(2.0 / spend)

    builder.add_idle_times(step_trainer_idle_s=25.0)
    await model.log(None, split="train", step=2, metrics={"loss/x": 1.0})
    assert rows(model)[-1]["efficiency/cum/idle_gpu_usd"] == pytest.approx(1.5)
    await model.log(None, split="val", step=2, metrics={"loss/x": 1.0})
    assert not any(k.startswith("efficiency/") for k in rows(model)[-1])
    # The running total resumes after a restart.
    again = model_at(tmp_path, efficiency_metrics=True)
    await again.register(LocalBackend(gpu_cost_per_hour_usd=36.0, gpu_count=2))
    again.metrics_builder().add_idle_times(step_trainer_idle_s=50.0)
    await again.log(None, split="train", step=3, metrics={"loss/x": 1.0})
    assert rows(again)[-1]["efficiency/cum/idle_gpu_usd"] == pytest.approx(2.5)


async def test_a_0523_run_prices_its_idle_trainer(tmp_path):
    # 0.5.23's add_idle_times records time/step_trainer_idle_s (0.5.18:
    # throughput/step_trainer_idle_s); the idle cost read only 0.5.18's key.
    model = model_at(tmp_path, efficiency_metrics=True, art_version="0.5.23")
    await model.register(LocalBackend(gpu_cost_per_hour_usd=36.0, gpu_count=2))  # $72/h
    model.metrics_builder().add_idle_times(step_trainer_idle_s=50.0)  # 50 s x $72/h = $1
    await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    row = rows(model)[-1]
    assert row["time/step_trainer_idle_s"] == 50.0
    assert row["efficiency/step_idle_gpu_usd"] == pytest.approx(1.0)
    assert row["efficiency/cum/idle_gpu_usd"] == pytest.approx(1.0)


async def test_a_log_asks_its_backend_each_thing_once(tmp_path):
    # With efficiency figures on, the GPU rate was asked twice per train log (once for
    # costs/gpu, once for the figures) and the support three times.
    asked = []

    class Backend(LocalBackend):
        def supports_automatic_train_step_metrics(self):
            asked.append("supports")
            return True

        def automatic_gpu_cost_per_hour_usd(self, model):
            asked.append("rate")
            return 36.0

    model = model_at(tmp_path, efficiency_metrics=True)
    await model.register(Backend())
    await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    assert asked == ["supports", "rate"]
    assert "costs/gpu" in rows(model)[-1]


async def test_rows_have_no_efficiency_keys_by_default(tmp_path):
    model = model_at(tmp_path)
    await model.register(LocalBackend(gpu_cost_per_hour_usd=36.0, gpu_count=2))
    model.metrics_builder().add_idle_times(step_trainer_idle_s=50.0)
    await model.log(None, split="train", step=1, metrics={"costs/train/x": 1.0})
    assert not any(k.startswith("efficiency/") for k in rows(model)[-1])


# -- GPU prices ---------------------------------------------------------------------------

GPU_TABLE = [
    ("NVIDIA H200", 3.0),
    ("NVIDIA H100 80GB HBM3", 3.9492),
    ("NVIDIA A100-SXM4-80GB", 2.4984),
    ("NVIDIA A100-PCIE-40GB", 2.0988),
    ("NVIDIA B200", 6.2496),
    ("NVIDIA L40S", 1.9512),
    ("NVIDIA L4", 0.7992),
    ("NVIDIA A10G", 1.1016),
]


@pytest.mark.parametrize(("name", "price"), GPU_TABLE)
async def test_costs_gpu_at_the_table_price(fake_smi, tmp_path, name, price):
    fake_smi(name, name)
    model = model_at(tmp_path)
    await model.register(LocalBackend())
    await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    row = rows(model)[-1]
    assert row["costs/gpu"] == pytest.approx(row["time/step_wall_s"] * 2 * price / 3600, rel=1e-12)


def test_a_price_without_gpus_or_count_warns_naming_gpu_count(tmp_path):
    # In a fresh process: the warning is given once per process.
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "from art_metrics import LocalBackend\n"
        "b = LocalBackend(gpu_cost_per_hour_usd=2.25)\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    assert b.automatic_gpu_cost_per_hour_usd() is None\n"
        "    assert b.automatic_gpu_cost_per_hour_usd() is None\n"
        "print(len(w), w[0].message)\n"
    )
    env = {**os.environ, "PATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("1 gpu_cost_per_hour_usd=2.25 is set, but no GPU is visible")
    assert "gpu_count=" in out


# -- warnings and hints for easy mistakes --------------------------------------------------


def test_a_cost_path_starting_with_costs_warns_once():
    builder = MetricsBuilder("train")
    with pytest.warns(
        UserWarning, match=r"'costs/costs/spend-test/judge'.*pass 'spend-test/judge'"
    ):
        builder.add_cost("costs/spend-test/judge", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        builder.add_cost("costs/spend-test/judge", 1.0)
    assert builder._flush()["costs/costs/spend-test/judge"] == 2.0  # recorded as asked


async def test_a_split_other_than_train_val_test_warns_once(tmp_path):
    model = model_at(tmp_path)
    with pytest.warns(UserWarning, match=r"split=\"spend-eval\".*'spend-eval/reward'.*\"val\""):
        await model.log([Trajectory(reward=1.0)], split="spend-eval", step=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await model.log([Trajectory(reward=1.0)], split="spend-eval", step=2)
        await model.log([Trajectory(reward=1.0)], split="val", step=2)
    assert "spend-eval/reward" in rows(model)[0]


def test_get_active_without_an_active_builder_says_what_to_do():
    with pytest.raises(LookupError, match=r"activate_context\(\)"):
        MetricsBuilder.get_active()


def test_install_without_openpipe_art_says_what_to_install(monkeypatch):
    from art_metrics import install

    for name in ("art", "art.metrics", "art.model", "art.api_costs"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match="pip install openpipe-art"):
        install()
