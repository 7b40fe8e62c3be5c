"""Choosing the dialect, and ``drain_pending`` in both dialects.

The dialect belongs to the run: the root ``MetricsBuilder`` or the ``Model`` names it, every
builder of the run (``for_cost_context``) has it, and the default stays 0.5.18's vocabulary.
``drain_pending`` is compared with openpipe-art 0.5.23's, also in the 0.5.18 dialect (with keys
that mean the same in both).
"""

import asyncio

import api
import art_metrics
import pytest
from art.metrics import MetricsBuilder as RefBuilder


def run(coro):
    return asyncio.run(coro)


def test_the_default_is_still_0518():
    builder = art_metrics.MetricsBuilder("train")
    assert builder.art_version == "0.5.18"
    assert builder.for_cost_context("eval").art_version == "0.5.18"
    builder.add_user_timing(step_actor_s=1.0)
    with pytest.raises(TypeError):
        builder.add_user_timing(step_rollout_s=1.0)


def test_every_builder_of_a_run_has_the_runs_dialect(tmp_path):
    root = api.builder("train")
    assert root.art_version == "0.5.23"
    child = root.for_cost_context("eval", buffer_scope="other")
    assert child.art_version == "0.5.23"
    model = api.model(name="m", project="p", base_path=str(tmp_path))
    assert model.art_version == "0.5.23"
    assert model.metrics_builder().art_version == "0.5.23"
    assert model.metrics_builder("holdout").art_version == "0.5.23"
    default = art_metrics.Model(name="d", project="p", base_path=str(tmp_path))
    assert default.art_version == "0.5.18"


@pytest.mark.parametrize("bad", ["0.4.0", "0.5.2", "", "latest"])
def test_an_unsupported_version_is_a_value_error_naming_the_supported_ones(bad, tmp_path):
    for make in (
        lambda: art_metrics.MetricsBuilder("train", art_version=bad),
        lambda: art_metrics.Model(name="m", project="p", base_path=str(tmp_path), art_version=bad),
    ):
        with pytest.raises(ValueError, match=r"0\.5\.18.*0\.5\.23"):
            make()


@pytest.mark.parametrize(
    "method, old, new",
    [
        ("add_data", "step_actor_tokens", "step_rollout_tokens"),
        ("add_user_timing", "step_actor_s", "step_rollout_s"),
        ("add_idle_times", "step_actor_idle_s", "step_rollout_idle_s"),
    ],
)
def test_each_dialect_takes_its_own_keyword_names(method, old, new):
    with pytest.raises(TypeError):
        getattr(RefBuilder("train"), method)(**{old: 1})
    with pytest.raises(TypeError):
        getattr(api.builder(), method)(**{old: 1})
    getattr(api.builder(), method)(**{new: 1})
    with pytest.raises(TypeError):
        getattr(art_metrics.MetricsBuilder("train"), method)(**{new: 1})


def test_positional_arguments_keep_their_order():
    ref, ours = RefBuilder("train"), api.builder()
    for b in (ref, ours):
        b.add_user_timing(1.0, 2.0, 3.0)
        b.add_data(4, 5)
        b.add_idle_times(6.0, 7.0)
    expected = {
        "time/step_wall_s": 1.0,
        "time/step_rollout_s": 2.0,
        "time/step_eval_s": 3.0,
        "data/step_num_scenarios": 4.0,
        "data/step_rollout_tokens": 5.0,
        "time/step_trainer_idle_s": 6.0,
        "time/step_rollout_idle_s": 7.0,
    }
    assert run(ref.drain_pending()) == expected
    assert run(ours.drain_pending()) == expected


def neutral_ops(builder, scenario_ids):
    """Calls that mean the same in both vocabularies."""
    builder.add_cost("train/judge", 0.25)
    builder.add_cost("train/judge", 0.5)
    builder.add_metric("time/step_wall_s", 2.0)
    builder.add_metric("loss/train", 0.125)
    builder.add_data(step_num_scenarios=3, scenario_ids=scenario_ids)


async def drain_story(builder):
    """Flush once, record more, drain twice, flush: what each returned, and the totals."""
    neutral_ops(builder, ["a", "b"])
    first_flush = await builder.flush()
    neutral_ops(builder, ["c"])
    other = builder.for_cost_context("eval")
    other.add_cost("eval/judge", 1.0)
    drained = await builder.drain_pending()
    again = await builder.drain_pending()
    after = await builder.flush()
    other_flush = await other.flush()  # another scope is not drained
    return {
        "first_flush": first_flush,
        "drained": drained,
        "again": again,
        "after": after,
        "other_flush": other_flush,
        "state": builder.state_dict(),
    }


@pytest.mark.parametrize(
    "make", [api.builder, art_metrics.MetricsBuilder], ids=["0.5.23", "0.5.18"]
)
def test_drain_pending_matches_0523_in_both_dialects(make):
    ref = run(drain_story(RefBuilder("train")))
    ours = run(drain_story(make("train")))
    assert ref["drained"] == {
        "costs/train/judge": 0.75,
        "time/step_wall_s": 2.0,
        "loss/train": 0.125,
        "data/step_num_scenarios": 3.0,
    }
    assert ref["again"] == ref["after"] == {}
    for key in ("drained", "again", "after", "first_flush", "other_flush"):
        assert ours[key] == pytest.approx(ref[key]), key
    # Totals untouched by the drain; the drained scenario ids were dropped, not counted.
    assert ours["state"]["cum_state"] == pytest.approx(ref["state"]["cum_state"])
    assert sorted(ours["state"]["unique_scenario_ids"]) == ["a", "b"]
