"""``art_metrics.install()`` on openpipe-art 0.5.23, and on versions it does not support.

- On 0.5.23 it patches the same four aliases as on 0.5.18 (0.5.23 has no new module-level
  alias: ``art.api_costs``, ``art.rewards.ruler`` and ``art.distributed.*`` look
  ``MetricsBuilder`` up in ``art.metrics`` at call time) with a builder in 0.5.23's dialect.
- The same ART script, in two processes each, gives the same rows and state with and without
  ``install()`` (tests/support/scripted_run.py through ``art.Model``).
- Any other installed version (a fake 0.4.0 dist-info) is refused with nothing patched,
  unless ``install(art_version=...)`` names a supported dialect explicitly.
"""

import json
import os
import pathlib
import subprocess
import sys

import art
import art.api_costs
import art.metrics
import art.model
import art_metrics
import pytest
from support import non_finite_resume, switching_run
from support.rows import STATE_KEY, assert_runs_match
from support.workers import two_process_run

HERE = pathlib.Path(__file__).parent

TARGETS = [
    (art.metrics, "MetricsBuilder"),
    (art.model, "MetricsBuilder"),
    (art.metrics, "track_api_cost"),
    (art.api_costs, "track_api_cost"),
]


@pytest.fixture
def installed():
    returned = art_metrics.install()
    try:
        yield returned
    finally:
        art_metrics.uninstall()


async def test_install_patches_the_aliases_with_a_0523_builder(installed, tmp_path):
    assert installed == "0.5.23"
    assert art.metrics.MetricsBuilder is art.model.MetricsBuilder
    assert issubclass(art.metrics.MetricsBuilder, art_metrics.MetricsBuilder)
    assert art.metrics.track_api_cost is art.api_costs.track_api_cost is art_metrics.track_api_cost

    builder = art.Model(name="m", project="p", base_path=str(tmp_path)).metrics_builder()
    assert isinstance(builder, art_metrics.MetricsBuilder)
    assert builder.art_version == "0.5.23"
    assert builder.for_cost_context("eval").art_version == "0.5.23"
    # As ART 0.5.23's distributed rollout workers use it.
    worker = art.metrics.MetricsBuilder(cost_context="train")
    worker.add_user_timing(step_rollout_s=1.5)
    with pytest.raises(TypeError):
        worker.add_user_timing(step_actor_s=1.5)
    assert await worker.drain_pending() == {"time/step_rollout_s": 1.5}

    art_metrics.uninstall()
    for module, attr in TARGETS:
        assert getattr(module, attr).__module__.startswith("art.")
    assert art_metrics.install() == "0.5.23"  # the fixture uninstalls


@pytest.mark.slow
def test_art_script_gives_the_same_rows_and_state_with_and_without_install(tmp_path):
    plain = two_process_run("art", tmp_path / "plain", "--judges", "track_api_cost")
    ours = two_process_run("art", tmp_path / "installed", "--judges", "track_api_cost", "--install")
    for phase in ("first", "resume"):
        assert ours[phase]["installed"] == "0.5.23"
        assert ours[phase]["builder_type"].startswith("art_metrics")
        assert ours[phase]["builder_art_version"] == "0.5.23"
        assert ours[phase]["track_api_cost"] == "art_metrics.costs"
        assert plain[phase]["state"].keys() == {STATE_KEY}
    assert_runs_match(ours, plain)


def probe(tmp_path: pathlib.Path, fake_version: str | None, **install_kwargs) -> dict:
    """install() in a fresh process, where openpipe-art's metadata says ``fake_version``."""
    path = [str(HERE)]
    if fake_version is not None:
        fake = tmp_path / "fake-metadata"
        dist_info = fake / f"openpipe_art-{fake_version}.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: openpipe-art\nVersion: {fake_version}\n"
        )
        path.insert(0, str(fake))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    done = subprocess.run(
        [sys.executable, str(HERE / "install_probe.py"), json.dumps(install_kwargs), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["metadata_version"] == (fake_version or "0.5.23")
    return result


NOTHING_PATCHED = {
    "art.metrics.MetricsBuilder": "art",
    "art.model.MetricsBuilder": "art",
    "art.metrics.track_api_cost": "art",
    "art.api_costs.track_api_cost": "art",
}
ALL_PATCHED = {target: "art_metrics" for target in NOTHING_PATCHED}


def test_the_probe_sees_the_real_version_without_a_fake(tmp_path):
    result = probe(tmp_path, None)
    assert result["error"] is None and result["returned"] == "0.5.23"
    assert result["patched_by"] == ALL_PATCHED


def test_an_unsupported_version_is_refused_with_nothing_patched(tmp_path):
    result = probe(tmp_path, "0.4.0")
    assert result["error"] is not None, result
    _, mro, message = result["error"]
    assert "ImportError" in mro  # like a missing openpipe-art: no usable ART
    for needed in ("0.4.0", "0.5.18", "0.5.23", "art_version"):
        assert needed in message, (needed, message)
    assert result["patched_by"] == NOTHING_PATCHED
    assert result["is_installed"] is False


def test_the_override_lets_a_user_try_another_version(tmp_path):
    result = probe(tmp_path, "0.4.0", art_version="0.5.23")
    assert result["error"] is None, result
    assert result["returned"] == "0.5.23"
    assert result["patched_by"] == ALL_PATCHED
    assert result["builder_art_version"] == "0.5.23"


def test_an_override_naming_no_supported_dialect_is_a_value_error(tmp_path):
    result = probe(tmp_path, "0.4.0", art_version="0.4.0")
    _, mro, message = result["error"]
    assert "ValueError" in mro
    assert "0.5.18" in message and "0.5.23" in message
    assert result["patched_by"] == NOTHING_PATCHED


async def test_a_state_with_infinity_and_nan_resumes_under_install_as_art_resumes_it(tmp_path):
    """Issue #10, case 5 on 0.5.23 (tests/support/non_finite_resume.py)."""
    await non_finite_resume.check(tmp_path)


@pytest.mark.slow
def test_a_run_switching_between_plain_art_and_install_keeps_arts_rows_and_state(tmp_path):
    """State calls, resume and switching (tests/support/switching_run.py), on 0.5.23."""
    switching_run.check(tmp_path)


def test_an_installed_trainable_model_checks_its_run_name_not_its_serving_name(installed, tmp_path):
    """0.5.23 stores a TrainableModel under `run_name`; `name` is only a serving alias, so it
    may hold a '/', while a `run_name` that leaves the base path is refused."""
    model = art.TrainableModel(
        name="org/model", run_name="run-1", project="p", base_model="b", base_path=str(tmp_path)
    )
    model.merge_state({"x": 1})
    assert (tmp_path / "p/models/run-1/state.json").exists()
    with pytest.raises(ValueError, match="^run_name must be one folder name"):
        art.TrainableModel(
            name="m", run_name="../up", project="p", base_model="b", base_path=str(tmp_path)
        )
