"""Comparing the history rows and saved states of two runs (ours and openpipe-art's, or a run
with and without ``install()``), for either openpipe-art version."""

from __future__ import annotations

import math

import pytest

# Not deterministic: the clock, and what ``measure()`` timed (and its total). Compared by key,
# position and JSON type, never by value.
UNSTABLE = frozenset(
    {"time/wall_clock_sec", "recorded_at", "time/step_reward_s", "time/cum/reward_s"}
)
STATE_KEY = "_metrics_builder_state"


def assert_rows_equal(ours: dict, ref: dict, where: str) -> None:
    """Same keys in the same order, same JSON types, floats equal to 1e-12 relative (but for
    `UNSTABLE` values). Our totals use compensated sums, so the last bits may differ from
    plain float sums."""
    assert list(ours) == list(ref), f"{where}: keys differ\nours {list(ours)}\nref  {list(ref)}"
    for key, want in ref.items():
        got = ours[key]
        assert type(got) is type(want), f"{where}: {key}: {got!r} vs {want!r}"
        if key in UNSTABLE:
            continue
        if isinstance(want, float) and math.isfinite(want):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15), f"{where}: {key}"
        else:
            assert got == want, f"{where}: {key}"


def assert_rows_match(ours: list[dict], ref: list[dict], where: str = "") -> None:
    assert len(ours) == len(ref), (where, len(ours), len(ref))
    for i, (o, r) in enumerate(zip(ours, ref)):
        assert_rows_equal(o, r, f"{where}row {i}")


def stable_totals(builder_state: dict) -> dict:
    """The ``cum_state`` of a ``_metrics_builder_state`` without the `UNSTABLE` totals."""
    return {k: v for k, v in builder_state["cum_state"].items() if k not in UNSTABLE}


def assert_builder_state_matches(ours: dict, ref: dict) -> None:
    """``_metrics_builder_state`` of two state.json files: same ids, same totals."""
    assert set(ours["unique_scenario_ids"]) == set(ref["unique_scenario_ids"])
    o_cum, r_cum = stable_totals(ours), stable_totals(ref)
    # The key order of cum_state may differ (ours: the core's; the reference: first insertion).
    assert o_cum.keys() == r_cum.keys(), set(o_cum) ^ set(r_cum)
    assert o_cum == pytest.approx(r_cum, rel=1e-12)


# What phase "first" of tests/support/scripted_run.py returns besides rows and state (0.5.23).
EXTRAS = ("drained", "drained_again", "flush_after_drain")


def assert_runs_match(ours: dict, ref: dict) -> None:
    """Both phases of two runs of tests/support/scripted_run.py: the same rows, the same
    builder state (``_art_metrics`` is ours alone), the same extras."""
    for phase in ("first", "resume"):
        assert_rows_match(ours[phase]["rows"], ref[phase]["rows"], f"{phase}: ")
        assert_builder_state_matches(
            ours[phase]["state"][STATE_KEY], ref[phase]["state"][STATE_KEY]
        )
        assert set(ours[phase]["state"]) - set(ref[phase]["state"]) == {"_art_metrics"}
    for extra in EXTRAS:
        assert (extra in ours["first"]) == (extra in ref["first"]), extra
        if extra in ref["first"]:
            assert ours["first"][extra] == pytest.approx(ref["first"][extra]), extra
