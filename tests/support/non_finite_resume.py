"""Issue #10, case 5, shared by the 0.5.18 and 0.5.23 install tests: openpipe-art writes
``Infinity``/``NaN`` totals into state.json and resumes them as they are. Under ``install()``
it hands them to our ``load_state_dict``, which must keep them (one RuntimeWarning naming
the keys) so the run goes on as it does on plain ART; before, every log raised."""

from __future__ import annotations

import json
import pathlib

import art
import art_metrics
import pytest

from support.rows import UNSTABLE, assert_rows_match

SAVED = {
    "_metrics_builder_state": {
        "cum_state": {
            "costs/cum/all": float("inf"),
            "costs/cum/train": float("nan"),
            "data/cum/num_scenarios": 2.0,
        },
        "unique_scenario_ids": ["s0"],
    }
}


async def resume(base: pathlib.Path, name: str) -> tuple[list[dict], dict]:
    """Two train logs of an ``art.Model`` resumed from SAVED: (history rows, state.json),
    with ``Infinity``/``NaN`` read as those strings so that they compare equal."""
    run_dir = base / "p" / "models" / name
    run_dir.mkdir(parents=True)
    (run_dir / "state.json").write_text(json.dumps(SAVED))
    model = art.Model(name=name, project="p", base_path=str(base))
    for step in (1, 2):
        builder = model.metrics_builder()
        builder.add_cost("train/judge", 0.5)
        builder.add_data(step_num_scenarios=1, scenario_ids=[f"s{step}"])
        await model.log(None, split="train", step=step, metrics={"loss/train": 0.1})
    rows = [
        json.loads(line, parse_constant=str)
        for line in (run_dir / "history.jsonl").read_text().splitlines()
    ]
    # read_state(), not the file: under install() the last rows' totals are in the journal
    # until the run is closed (plain ART's read_state is the file).
    return rows, json.loads(json.dumps(model.read_state()), parse_constant=str)


async def check(base: pathlib.Path) -> None:
    """Plain ART and ART under ``install()`` resume SAVED alike; ours warns once."""
    plain_rows, plain_state = await resume(base, "plain")
    art_metrics.install()
    try:
        with pytest.warns(RuntimeWarning) as caught:
            ours_rows, ours_state = await resume(base, "ours")
    finally:
        art_metrics.uninstall()
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert "costs/cum/all" in message and "costs/cum/train" in message, message
    assert "data/cum/num_scenarios" not in message, message

    assert len(plain_rows) == 2
    assert_rows_match(ours_rows, plain_rows)
    assert ours_rows[-1]["costs/cum/all"] == "Infinity"
    assert ours_rows[-1]["data/cum/num_scenarios"] == 4
    o_cum = ours_state["_metrics_builder_state"]["cum_state"]
    p_cum = plain_state["_metrics_builder_state"]["cum_state"]
    assert {k: o_cum[k] for k in p_cum if k not in UNSTABLE} == {
        k: v for k, v in p_cum.items() if k not in UNSTABLE
    }
    assert o_cum["costs/cum/all"] == "Infinity" and o_cum["costs/cum/train"] == "NaN"
