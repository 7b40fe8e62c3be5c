"""Runs tests/scripted_run.py through openpipe-art's own ``art.Model``, optionally after
``art_metrics.install()``, and writes the rows and state as JSON; used by test_install.py.

Usage: python tests/install_worker.py BASE_PATH OUT_JSON [--install]
"""

import asyncio
import json
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import art_metrics  # noqa: E402

if "--install" in sys.argv:
    art_metrics.install()

import art  # noqa: E402
from scripted_run import scripted_run  # noqa: E402


def main() -> None:
    base_path, out_path = sys.argv[1], sys.argv[2]
    out = asyncio.run(scripted_run(art, art, base_path, "track_api_cost"))
    probe = art.Model(name="probe", project="p", base_path=base_path)
    out["builder_type"] = type(probe.metrics_builder()).__module__
    out["track_api_cost"] = art.metrics.track_api_cost.__module__
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
