"""Differential test: the scripted run (tests/support/scripted_run.py) through openpipe-art
0.5.18's Model.log and ours, both phases in this process (tests/differential_0523 runs them in
two processes against 0.5.23).

Every history row and the saved state must agree, apart from the values that are not
deterministic (``support.rows.UNSTABLE``: the clock and the ``measure()`` timing). Floats agree
to 1e-12 relative (our totals use compensated summation).
"""

import asyncio

import art
import art_metrics
import pytest
from support.rows import assert_runs_match
from support.scripted_run import in_one_process


def run(model_lib, traj_lib, base_path, judges) -> dict:
    return asyncio.run(in_one_process(model_lib, traj_lib, str(base_path), "0.5.18", judges))


@pytest.fixture(scope="module", params=["add_cost", "track_api_cost"])
def judges(request):
    return request.param


@pytest.fixture(scope="module")
def reference(tmp_path_factory, judges):
    return run(art, art, tmp_path_factory.mktemp("ref"), judges)


def test_the_reference_run_covers_the_script(reference):
    rows = reference["resume"]["rows"]
    assert len(rows) == len(reference["first"]["rows"]) + 2 == 13
    keys = {k for row in rows for k in row}
    for key in [
        "train/group_difficulty",  # 0.5.23: train/group/difficulty
        "reward/legacy",  # a section of its own in 0.5.18
        "holdout/holdout/already",
        "val/data/step_num_trajectories",
        "throughput/cum/actor_idle_s",  # 0.5.23: time/cum/rollout_idle_s
        "data/cum/unused_and_dummy_ratio",  # a plain total in 0.5.18
    ]:
        assert key in keys, key
    assert "drained" not in reference["first"]  # 0.5.18 has no drain_pending


@pytest.mark.parametrize(
    "traj_lib", [art_metrics, art], ids=["our-trajectories", "art-trajectories"]
)
def test_rows_and_state_match_the_reference(reference, judges, traj_lib, tmp_path):
    assert_runs_match(run(art_metrics, traj_lib, tmp_path, judges), reference)
