"""Differential test: the scripted run (tests/support/scripted_run.py) through openpipe-art
0.5.23's ``Model.log`` and ``art_metrics.Model`` in the 0.5.23 dialect, each phase in its own
process (tests/support/run_worker.py).

Every history row must agree key for key, in order, with the same JSON types, apart from the
values that are not deterministic (``support.rows.UNSTABLE``); floats to 1e-12 relative
(compensated sums). The saved state must agree too (``_art_metrics`` is ours alone), and so
must what ``drain_pending`` returned.
"""

import pytest
from support.rows import STATE_KEY, assert_runs_match
from support.workers import two_process_run


@pytest.fixture(scope="module", params=["add_cost", "track_api_cost"])
def judges(request):
    return request.param


@pytest.fixture(scope="module")
def reference(tmp_path_factory, judges):
    return two_process_run("art", tmp_path_factory.mktemp("ref"), "--judges", judges)


def test_the_reference_run_covers_the_0523_rules(reference):
    """The script reaches what it claims to (checked on the reference alone)."""
    rows = reference["resume"]["rows"]
    keys = {k for row in rows for k in row}
    for key in [
        "train/group/difficulty",
        "train/loss/traj_kl",
        "train/reward/legacy",
        "holdout/holdout/correct",
        "holdout/holdout/reward",
        "holdout/holdout/group/difficulty",
        "sft/gradient_step",
        "sft/loss/train",
        "sft/costs/cum/all",
        "val/data/step_num_scenarios",
        "time/cum/rollout_idle_s",
        "data/cum/unused_and_dummy_ratio",
        "throughput/avg_rollout_tok_per_s",
        "throughput/avg_trainer_tok_per_s",
        "throughput/step_custom_tok_per_s",
        "vllm/num_requests_running",
    ]:
        assert key in keys, key
    assert "time/wall_clock_sec" not in keys
    assert not any(k.startswith("group_") or "/group_" in k for k in keys)
    assert rows[0]["data/step_num_groups_trainable"] == 2.0  # 0.5.18 would count 4
    assert reference["first"]["drained"] == {
        "costs/scratch/judge": 0.5,
        "time/step_scratch_s": 2.0,
        "data/step_rollout_tokens": 10.0,
    }
    assert "never-counted" not in reference["resume"]["state"][STATE_KEY]["unique_scenario_ids"]


@pytest.mark.parametrize("traj_lib", ["art_metrics", "art"])
def test_rows_and_state_match_the_reference(reference, judges, traj_lib, tmp_path):
    ours = two_process_run("art_metrics", tmp_path, "--judges", judges, "--traj-lib", traj_lib)
    assert_runs_match(ours, reference)
