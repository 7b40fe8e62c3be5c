"""art_metrics.install(): openpipe-art's own Model.log running on our Rust core.

The same ART script (tests/support/scripted_run.py through ``art.Model``: groups, judges
priced by ``track_api_cost`` in the train, eval and holdout contexts, builder timing, data and
idle times, a resumed Model) runs in two processes, with and without ``install()``, and must
give the same history rows and state apart from the clock and ``measure()`` timings. Floats
are compared at 1e-12 relative: our totals use compensated sums, which may differ from plain
float sums in the last bits.
"""

import asyncio
import json
import pathlib
import sys

import art
import art.api_costs
import art.metrics
import art.model
import art_metrics
import pytest
from support import non_finite_resume, switching_run
from support.rows import STATE_KEY, assert_builder_state_matches, assert_rows_match
from support.workers import run_worker

TARGETS = [
    (art.metrics, "MetricsBuilder"),
    (art.model, "MetricsBuilder"),
    (art.metrics, "track_api_cost"),
    (art.api_costs, "track_api_cost"),
]


def one_process_run(tmp_path: pathlib.Path, name: str, *flags: str) -> dict:
    """Both phases of the script through ``art.Model``, in one new process."""
    out = tmp_path / f"{name}.json"
    return run_worker("art", "both", tmp_path / name, out, "--judges", "track_api_cost", *flags)


def test_install_patches_every_alias_and_uninstall_restores():
    originals = {(m.__name__, a): getattr(m, a) for m, a in TARGETS}  # openpipe-art's own
    art_metrics.install()
    try:
        assert art.metrics.MetricsBuilder is art.model.MetricsBuilder is art_metrics.MetricsBuilder
        assert art.metrics.track_api_cost is art.api_costs.track_api_cost
        assert art.metrics.track_api_cost is art_metrics.track_api_cost
        art_metrics.install()  # idempotent: the saved originals are still openpipe-art's
    finally:
        art_metrics.uninstall()
    for module, attr in TARGETS:
        assert getattr(module, attr) is originals[(module.__name__, attr)]
    art_metrics.uninstall()  # a no-op
    for module, attr in TARGETS:
        assert getattr(module, attr) is originals[(module.__name__, attr)]


def test_models_made_before_install_keep_their_builder(tmp_path):
    before = art.Model(name="a", project="p", base_path=str(tmp_path))
    art_metrics.install()
    try:
        after = art.Model(name="b", project="p", base_path=str(tmp_path))
        with pytest.warns(RuntimeWarning, match=r"Model\(name='a'\) was created before"):
            assert type(before.metrics_builder()).__module__ == "art.metrics"
        assert isinstance(after.metrics_builder(), art_metrics.MetricsBuilder)
    finally:
        art_metrics.uninstall()


async def test_functions_decorated_by_art_before_install_record_on_our_builder(tmp_path):
    priced = art.metrics.track_api_cost(
        source="judge",
        provider="openai",
        model_name="openai/gpt-4.1",
        prompt_price_per_million=1.5,
        completion_price_per_million=6.0,
    )(lambda: {"usage": {"prompt_tokens": 1000, "completion_tokens": 200}})
    art_metrics.install()
    try:
        model = art.Model(name="m", project="p", base_path=str(tmp_path))
        token = model.activate_metrics_context("train")
        try:
            priced()
        finally:
            token.var.reset(token)
        flushed = await model.metrics_builder().flush()
    finally:
        art_metrics.uninstall()
    assert flushed["costs/train/judge"] == pytest.approx(0.0027)


@pytest.mark.slow
def test_art_script_gives_the_same_rows_and_state_with_and_without_install(tmp_path):
    plain = one_process_run(tmp_path, "plain")
    ours = one_process_run(tmp_path, "installed", "--install")
    assert plain["builder_type"] == "art.metrics" and plain["track_api_cost"] == "art.api_costs"
    assert ours["installed"] == ours["builder_art_version"] == "0.5.18"
    assert (
        ours["builder_type"] == "art_metrics.builder"
        and ours["track_api_cost"] == "art_metrics.costs"
    )

    assert len(plain["rows"]) == 13
    assert_rows_match(ours["rows"], plain["rows"])
    # Ours keeps its journal bookkeeping (compensation terms, sequence) in `_art_metrics`.
    assert plain["state"].keys() == {STATE_KEY}
    assert ours["state"].keys() == {STATE_KEY, "_art_metrics"}
    # Same totals; only the key order of cum_state differs (ours is the core's: sorted
    # within each batch of new totals, the reference's is first-insertion).
    assert_builder_state_matches(ours["state"][STATE_KEY], plain["state"][STATE_KEY])


def test_install_without_openpipe_art_is_an_import_error_and_changes_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "art.api_costs", None)
    with pytest.raises(ImportError):
        art_metrics.install()
    assert art.metrics.MetricsBuilder.__module__ == "art.metrics"
    assert not art_metrics.art_patch.is_installed()


def test_install_on_0518_returns_the_version_and_builds_0518_builders(tmp_path):
    assert art_metrics.install() == "0.5.18"
    try:
        assert art_metrics.install() == "0.5.18"  # again: nothing changes
        builder = art.Model(name="m", project="p", base_path=str(tmp_path)).metrics_builder()
        assert builder.art_version == "0.5.18"
        builder.add_user_timing(step_actor_s=1.0)
        with pytest.raises(TypeError, match="step_rollout_s"):
            builder.add_user_timing(step_rollout_s=1.0)
        # Another version while installed is a mistake, not a silent switch.
        with pytest.raises(ValueError, match="uninstall"):
            art_metrics.install(art_version="0.5.23")
        assert art.metrics.MetricsBuilder is art_metrics.MetricsBuilder
    finally:
        art_metrics.uninstall()


def test_the_override_installs_the_named_versions_rules(tmp_path):
    """On 0.5.18, ``install(art_version="0.5.23")`` serves 0.5.23's vocabulary (the user's risk)."""
    assert art_metrics.install(art_version="0.5.23") == "0.5.23"
    try:
        # 0.5.18's groups have no prepared parquet paths: logged all the same, 0.5.23's keys.
        model = art.Model(name="m", project="p", base_path=str(tmp_path))
        group = art.TrajectoryGroup([art.Trajectory(reward=1.0), art.Trajectory(reward=0.0)])
        asyncio.run(model.log([group], split="train", step=1))
        history = (tmp_path / "p/models/m/history.jsonl").read_text()
        assert '"train/reward": 0.5' in history
        assert art.metrics.MetricsBuilder is art.model.MetricsBuilder
        assert issubclass(art.metrics.MetricsBuilder, art_metrics.MetricsBuilder)
        worker = art.metrics.MetricsBuilder(cost_context="train")  # as ART constructs it
        assert worker.art_version == "0.5.23"
        assert worker.for_cost_context("eval").art_version == "0.5.23"
        worker.add_user_timing(step_rollout_s=1.0)
        with pytest.raises(TypeError, match="step_actor_s"):
            worker.add_user_timing(step_actor_s=1.0)
    finally:
        art_metrics.uninstall()
    assert art.metrics.MetricsBuilder.__module__ == "art.metrics"


@pytest.mark.parametrize("bad", ["0.4.0", "0.5.2", "", "latest"])
def test_an_unsupported_override_is_a_value_error_with_nothing_patched(bad):
    with pytest.raises(ValueError, match=r"0\.5\.18, 0\.5\.23"):
        art_metrics.install(art_version=bad)
    assert not art_metrics.art_patch.is_installed()
    assert art.metrics.MetricsBuilder.__module__ == "art.metrics"


def test_an_unsupported_installed_version_is_an_import_error_with_nothing_patched(monkeypatch):
    monkeypatch.setattr(art_metrics.art_patch.importlib.metadata, "version", lambda name: "0.4.0")
    with pytest.raises(ImportError, match=r"0\.5\.18 and 0\.5\.23; found 0\.4\.0") as e:
        art_metrics.install()
    assert "art_version=" in str(e.value)
    assert not art_metrics.art_patch.is_installed()
    assert art.metrics.MetricsBuilder.__module__ == "art.metrics"


async def test_a_state_with_infinity_and_nan_resumes_under_install_as_art_resumes_it(tmp_path):
    """Issue #10, case 5 on 0.5.18 (tests/support/non_finite_resume.py)."""
    await non_finite_resume.check(tmp_path)


@pytest.mark.slow
def test_a_run_switching_between_plain_art_and_install_keeps_arts_rows_and_state(tmp_path):
    """State calls, resume and switching (tests/support/switching_run.py), on 0.5.18."""
    switching_run.check(tmp_path)


async def test_an_installed_art_model_folds_state_json_off_the_event_loops_thread(tmp_path):
    """Issue #20 under install(): the journal's fold runs on the loop's default executor."""
    import threading

    from test_model import FoldRecorder

    art_metrics.install()
    try:
        model = art.Model(name="m", project="p", base_path=str(tmp_path))
        run = model.__dict__["_art_metrics_run"]
        core = art_metrics._core.RunCore(model._get_output_dir(), compact_min_bytes=0)
        recorder = FoldRecorder(core)
        run._core, run._path = recorder, model._get_output_dir()
        group = art.TrajectoryGroup([art.Trajectory(reward=1.0), art.Trajectory(reward=0.0)])
        for step in range(1, 6):
            await model.log([group], split="train", step=step)
    finally:
        art_metrics.uninstall()
    assert recorder.threads and threading.get_ident() not in recorder.threads


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"name": "n", "project": "../.."}, "project"), ({"name": "../x", "project": "p"}, "name")],
)
def test_an_installed_art_model_refuses_names_that_leave_the_base_path(tmp_path, kwargs, named):
    """Issue #21, case 2 under install() (plain openpipe-art writes there)."""
    base = tmp_path / "base"
    base.mkdir()
    art_metrics.install()
    try:
        with pytest.raises(ValueError, match=f"^{named} must be one folder name"):
            art.Model(base_path=str(base), **kwargs)
    finally:
        art_metrics.uninstall()
    assert list(tmp_path.rglob("*")) == [base]


async def test_an_installed_model_checks_the_budget_and_writes_rows_while_wandb_fails(tmp_path):
    """Issue #21 case 8 under install(): the budget check does not depend on W&B taking the
    row, and a failing W&B retry does not stop the next row from being written."""
    art_metrics.install()
    try:
        model = art.Model(name="m", project="p", base_path=str(tmp_path), report_metrics=["wandb"])

        def broken():
            raise OSError("wandb is down")

        object.__setattr__(model, "_get_wandb_run", broken)
        model.metrics_builder().set_budget(1.0, on_exceed="raise", warn_at=())
        with pytest.raises(art_metrics.BudgetExceeded):
            await model.log(None, split="train", step=1, metrics={"costs/train/judge": 2.0})
        with pytest.raises(OSError, match="wandb is down"):
            await model.log(None, split="train", step=2, metrics={"loss": 1.0})
    finally:
        art_metrics.uninstall()
    history = (tmp_path / "p/models/m/history.jsonl").read_text().splitlines()
    assert [json.loads(line)["training_step"] for line in history] == [1, 2]


async def test_a_removed_trajectory_directory_is_made_again(tmp_path):
    """ART makes its trajectories directory at every log; installed, it is made once and made
    again when a write finds it removed."""
    import shutil

    art_metrics.install()
    try:
        model = art.Model(name="m", project="p", base_path=str(tmp_path))
        directory = tmp_path / "p/models/m/trajectories/train"
        for step in (1, 2, 3):
            if step == 3:
                shutil.rmtree(directory)
            group = art.TrajectoryGroup([art.Trajectory(reward=1.0), art.Trajectory(reward=0.0)])
            await model.log([group], split="train", step=step)
        assert sorted(p.name for p in directory.iterdir()) == ["0003.parquet"]
        assert len((tmp_path / "p/models/m/history.jsonl").read_text().splitlines()) == 3
    finally:
        art_metrics.uninstall()
