"""Runs phases of tests/support/scripted_run.py in its own process and writes the result as JSON.

  python run_worker.py IMPL PHASE BASE_PATH OUT_JSON [--judges J] [--traj-lib L] [--install]
  [--art-version V]

IMPL: ``art`` (openpipe-art's own ``art.Model``) or ``art_metrics`` (``art_metrics.Model`` in
the installed openpipe-art's dialect). PHASE: ``first``, ``resume``, or ``both`` (one after
the other here, each with a new Model; the result is the last phase's). ``--traj-lib``: whose
Trajectory/TrajectoryGroup to build (default IMPL's). ``--install``: call
``art_metrics.install()`` first (IMPL must be ``art``; ``--art-version V``: the explicit
override ``install(art_version=V)``). With IMPL ``art`` the worker also reports the builder
class ART ends up with and where its ``track_api_cost`` comes from.
"""

import argparse
import asyncio
import importlib
import json
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# tests/, so that `support` imports as in the test runs.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=["art", "art_metrics"])
    parser.add_argument("phase", choices=["first", "resume", "both"])
    parser.add_argument("base_path")
    parser.add_argument("out_json")
    parser.add_argument("--judges", default="add_cost")
    parser.add_argument("--traj-lib", choices=["art", "art_metrics"])
    parser.add_argument("--install", action="store_true")
    parser.add_argument("--art-version")
    args = parser.parse_args()

    out: dict = {}
    if args.install:
        import art_metrics

        kwargs = {} if args.art_version is None else {"art_version": args.art_version}
        out["installed"] = art_metrics.install(**kwargs)

    import art

    from support import installed_art_version
    from support.scripted_run import scripted_run

    model_lib = importlib.import_module(args.impl)
    traj_lib = importlib.import_module(args.traj_lib or args.impl)
    version = installed_art_version()
    for phase in ["first", "resume"] if args.phase == "both" else [args.phase]:
        result = scripted_run(model_lib, traj_lib, args.base_path, phase, version, args.judges)
        out.update(asyncio.run(result))
    if args.impl == "art":
        probe = art.Model(name="probe", project="p", base_path=args.base_path)
        builder = probe.metrics_builder()
        out["builder_type"] = type(builder).__module__
        out["builder_art_version"] = getattr(builder, "art_version", None)
        out["track_api_cost"] = art.metrics.track_api_cost.__module__
    with open(args.out_json, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
