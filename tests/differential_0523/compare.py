"""Row and state comparison shared by the 0.5.23 differential tests."""

from __future__ import annotations

import math

import pytest

# Not deterministic: the clock, and what ``measure()`` timed (and its total).
IGNORED = {"recorded_at", "time/step_reward_s", "time/cum/reward_s"}


def comparable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in IGNORED}


def assert_rows_equal(ours: dict, ref: dict, where: str) -> None:
    """Same keys in the same order, same JSON types, floats equal to 1e-12 relative.

    Our totals use compensated sums, so the last bits may differ from plain float sums.
    """
    assert list(ours) == list(ref), f"{where}: keys differ\nours {list(ours)}\nref  {list(ref)}"
    for key, want in ref.items():
        got = ours[key]
        assert type(got) is type(want), f"{where}: {key}: {got!r} vs {want!r}"
        if isinstance(want, float) and math.isfinite(want):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15), f"{where}: {key}"
        else:
            assert got == want, f"{where}: {key}"


def assert_rows_match(ours: list[dict], ref: list[dict]) -> None:
    assert len(ours) == len(ref), (len(ours), len(ref))
    for i, (o, r) in enumerate(zip(ours, ref)):
        assert_rows_equal(comparable(o), comparable(r), f"row {i}")


def assert_builder_state_matches(ours: dict, ref: dict) -> None:
    """``_metrics_builder_state`` of two state.json files: same ids, same totals."""
    assert set(ours["unique_scenario_ids"]) == set(ref["unique_scenario_ids"])
    o_cum = {k: v for k, v in ours["cum_state"].items() if k not in IGNORED}
    r_cum = {k: v for k, v in ref["cum_state"].items() if k not in IGNORED}
    # The key order of cum_state may differ (ours: the core's; the reference: first insertion).
    assert o_cum.keys() == r_cum.keys(), set(o_cum) ^ set(r_cum)
    assert o_cum == pytest.approx(r_cum, rel=1e-12)
