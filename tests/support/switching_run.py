"""A run that switches between plain openpipe-art and ``install()``, one process per phase,
shared by the 0.5.18 and 0.5.23 install tests.

Each phase is an ART script as users write it: ``art.Model``, ``merge_state`` /
``overwrite_state`` / ``write_state`` / ``read_state`` for its own keys, train and val logs
with judges' costs and scenario ids, a metrics-only log. Whatever mix of plain and installed
phases runs, the history rows and the state must be those of the all-plain run (apart from
the clock and our ``_art_metrics`` bookkeeping), and no phase may warn.

Usage as a script: PYTHONPATH=tests python tests/support/switching_run.py BASE_PATH PHASE OUT_JSON
[--install]
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import warnings

from support.rows import STATE_KEY, assert_builder_state_matches, assert_rows_match

HERE = pathlib.Path(__file__)
TESTS = HERE.parent.parent
NAME, PROJECT = "m", "p"


def group(art, step: int):
    msgs = [{"role": "user", "content": "hi"}]
    return art.TrajectoryGroup(
        [
            art.Trajectory(
                messages_and_choices=msgs,
                reward=0.25 * step,
                metrics={"correct": 1.0},
                metadata={"scenario_id": f"s{step}"},
            ),
            art.Trajectory(messages_and_choices=msgs, reward=1.0, metadata={"scenario_id": "x"}),
        ]
    )


async def phase(art, base: str, index: int) -> dict:
    model = art.Model(name=NAME, project=PROJECT, base_path=base)
    seen = (model.read_state() or {}).get("phases", [])
    model.merge_state({"phases": [*seen, index], "user": {"last": index}})
    for step in (2 * index + 1, 2 * index + 2):
        train = model.metrics_builder("train")
        train.add_cost("train/judge", 0.25 * step)
        train.add_data(scenario_ids=[f"id{step}", "shared"])
        await model.log([group(art, step)], split="train", step=step, metrics={"loss/train": 0.1})
        model.metrics_builder("eval").add_cost("eval/judge", 0.125)
        await model.log([group(art, step)], split="val", step=step)
        if step % 2:
            # Replaces the whole file; the totals come back with the next row.
            model.overwrite_state({**(model.read_state() or {}), "user": {"overwritten": step}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ART deprecates write_state
        model.write_state({**(model.read_state() or {}), "written": index})
    await model.log(None, split="train", step=2 * index + 2, metrics={"costs/train/gpu": 0.5})
    return {"state": model.read_state()}


def main() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    base, index, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import art_metrics

        installed = None
        if "--install" in sys.argv:
            installed = art_metrics.install()
        import art

        result = asyncio.run(phase(art, base, index))
    result["installed"] = installed
    result["warnings"] = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, DeprecationWarning)
    ]
    with open(out, "w") as f:
        json.dump(result, f)


def run(tmp: pathlib.Path, plan: str) -> dict:
    """Runs the phases of ``plan`` ("p" plain, "i" installed, e.g. "pip") in order, each in
    its own process, on one run directory; returns the history rows and the last state."""
    base = tmp / plan
    last: dict = {}
    for index, kind in enumerate(plan):
        out = tmp / f"{plan}-{index}.json"
        flags = ["--install"] if kind == "i" else []
        subprocess.run(
            [sys.executable, str(HERE), str(base), str(index), str(out), *flags],
            env=dict(os.environ, PYTHONPATH=str(TESTS)),
            check=True,
        )
        last = json.loads(out.read_text())
        assert last["warnings"] == [], (plan, index, last["warnings"])
        assert (last["installed"] is not None) == (kind == "i")
    run_dir = base / PROJECT / "models" / NAME
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    parquet = sorted(str(f.relative_to(run_dir)) for f in run_dir.rglob("*.parquet"))
    return {"rows": rows, "state": last["state"], "parquet": parquet}


def check(tmp: pathlib.Path) -> None:
    """Every mix of plain and installed phases gives the all-plain run's rows and state."""
    reference = run(tmp, "ppp")
    assert len(reference["rows"]) == 15
    assert len(reference["parquet"]) == 12  # trajectories/{train,val}/000N.parquet
    for plan in ("pip", "ipi"):
        ours = run(tmp, plan)
        # An installed phase writes through the core (its journal bookkeeping; a later
        # plain phase carries the key along, as it carries any key it read).
        assert "_art_metrics" in ours["state"], plan
        assert ours["parquet"] == reference["parquet"], plan  # ART's own writer, still called
        assert_rows_match(ours["rows"], reference["rows"], f"{plan} ")
        o_state = {k: v for k, v in ours["state"].items() if k != "_art_metrics"}
        r_state = {k: v for k, v in reference["state"].items() if k != "_art_metrics"}
        assert_builder_state_matches(o_state.pop(STATE_KEY), r_state.pop(STATE_KEY))
        assert o_state == r_state, plan


if __name__ == "__main__":
    main()
