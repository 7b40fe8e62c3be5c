"""The bad-input catalogue of tests/test_bad_input.py, run against art-metrics and openpipe-art
0.5.18: how each library answers each case.

    python bench/bad_input.py            # summary table
    python bench/bad_input.py --cases    # and one line per case

A case is "refused" when the expected exception type is raised, its message names what was
wrong, and nothing changed (state_dict() and the next flush equal those of an untouched twin).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import math
import os
import pathlib
import sys
import tempfile
import warnings
from types import SimpleNamespace

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("ART_METRICS_CACHE_DIR", tempfile.mkdtemp(prefix="art-metrics-bench-"))

_PATH = pathlib.Path(__file__).resolve().parent.parent / "tests" / "test_bad_input.py"
_spec = importlib.util.spec_from_file_location("bad_input_cases", _PATH)
cases = importlib.util.module_from_spec(_spec)
sys.modules["bad_input_cases"] = cases  # dataclasses resolve annotations through it
_spec.loader.exec_module(cases)


def _same(a, b) -> bool:
    """Equality where NaN equals NaN (a reference that accepts NaN keeps NaN in its totals)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _normalized(state: dict) -> dict:
    return {**state, "unique_scenario_ids": sorted(map(str, state["unique_scenario_ids"]))}


def run_case(lib, case) -> tuple[str, str]:
    """(verdict, detail): refused | vague | wrong type | changed state | accepted."""
    b, control = cases.prepared(lib), cases.prepared(lib)
    before = _normalized(b.state_dict())
    error = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            case.call(lib, b)
        except BaseException as e:  # noqa: BLE001 - classified, not hidden
            error = e
    try:
        unchanged = _same(_normalized(b.state_dict()), before) and _same(
            cases.flush(b), cases.flush(control)
        )
    except BaseException as e:  # noqa: BLE001 - a builder left unusable counts as changed
        unchanged, error = False, error or e
    if error is None:
        return ("accepted" if unchanged else "accepted, state changed"), ""
    kind = type(error).__name__
    if not isinstance(error, case.exc):
        return "wrong type", kind
    if not unchanged:
        return "changed state", kind
    if case.names not in str(error):
        return "vague", kind
    return "refused", kind


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", action="store_true", help="print one line per case")
    args = parser.parse_args()
    import art.metrics as ref
    import art_metrics

    libs = {
        "art-metrics": cases.ours(),
        "openpipe-art 0.5.18": SimpleNamespace(
            MetricsBuilder=ref.MetricsBuilder, track_api_cost=ref.track_api_cost
        ),
    }
    assert art_metrics.MetricsBuilder is libs["art-metrics"].MetricsBuilder
    cases.start_price_server()
    common = [c for c in cases.CASES if not c.ours_only]
    print(f"{len(cases.CASES)} cases, {len(common)} of them with an equivalent in the reference\n")
    verdicts: dict[str, collections.Counter] = {}
    errors: dict[str, collections.Counter] = {}
    for name, lib in libs.items():
        verdicts[name], errors[name] = collections.Counter(), collections.Counter()
        for case in cases.CASES if name == "art-metrics" else common:
            verdict, kind = run_case(lib, case)
            verdicts[name][verdict] += 1
            if kind:
                errors[name][kind] += 1
            if args.cases:
                print(f"{name:20} {case.id:45} {verdict:24} {kind}")
    if args.cases:
        print()
    print(
        "| library | cases | refused, named, state unchanged | other outcomes | exception types |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name in libs:
        v = verdicts[name]
        other = ", ".join(f"{k}: {n}" for k, n in v.most_common() if k != "refused") or "none"
        kinds = ", ".join(f"{k} {n}" for k, n in errors[name].most_common())
        print(f"| {name} | {sum(v.values())} | {v['refused']} | {other} | {kinds} |")


if __name__ == "__main__":
    main()
