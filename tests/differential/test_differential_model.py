"""Differential test: one scripted run through openpipe-art 0.5.18's Model.log and ours.

Every history row and the saved state must agree, apart from what is not deterministic:
``time/wall_clock_sec``, ``recorded_at`` and the ``measure()`` timing (``time/step_reward_s``
and its total). Floats agree to 1e-12 relative (our totals use compensated summation).
"""

import asyncio
import math

import art
import art_metrics
import pytest
from scripted_run import scripted_run

IGNORED = {"time/wall_clock_sec", "recorded_at", "time/step_reward_s", "time/cum/reward_s"}


def comparable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in IGNORED}


def assert_rows_equal(ours: dict, ref: dict, where: str) -> None:
    assert list(ours) == list(ref), f"{where}: keys differ\nours {list(ours)}\nref  {list(ref)}"
    for key, want in ref.items():
        got = ours[key]
        assert type(got) is type(want), f"{where}: {key}: {got!r} vs {want!r}"
        if isinstance(want, float) and not math.isinf(want):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15), f"{where}: {key}"
        else:
            assert got == want, f"{where}: {key}"


@pytest.fixture(scope="module", params=["add_cost", "track_api_cost"])
def judges(request):
    return request.param


@pytest.fixture(scope="module")
def reference(tmp_path_factory, judges):
    return asyncio.run(scripted_run(art, art, str(tmp_path_factory.mktemp("ref")), judges))


@pytest.mark.parametrize(
    "traj_lib", [art_metrics, art], ids=["our-trajectories", "art-trajectories"]
)
def test_rows_and_state_match_the_reference(reference, judges, traj_lib, tmp_path):
    ours = asyncio.run(scripted_run(art_metrics, traj_lib, str(tmp_path), judges))
    assert len(ours["rows"]) == len(reference["rows"]) == 12
    for i, (o, r) in enumerate(zip(ours["rows"], reference["rows"])):
        assert_rows_equal(comparable(o), comparable(r), f"row {i}")
    key = "_metrics_builder_state"
    o_state, r_state = ours["state"][key], reference["state"][key]
    assert set(o_state["unique_scenario_ids"]) == set(r_state["unique_scenario_ids"])
    o_cum = {k: v for k, v in o_state["cum_state"].items() if k not in IGNORED}
    r_cum = {k: v for k, v in r_state["cum_state"].items() if k not in IGNORED}
    assert o_cum == pytest.approx(r_cum, rel=1e-12)
    assert set(ours["state"]) - set(reference["state"]) == {"_art_metrics"}
