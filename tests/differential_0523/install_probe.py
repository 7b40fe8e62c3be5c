"""Calls ``art_metrics.install(**kwargs)`` and reports what happened, as JSON on stdout.

  python install_probe.py '{"art_version": "0.5.23"}'

Run with a fake ``openpipe_art-X.dist-info`` first on PYTHONPATH to make the installed
version look like X (the real 0.5.23 code stays importable).
"""

import importlib
import json
import os
import sys
from importlib.metadata import version

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TARGETS = [
    ("art.metrics", "MetricsBuilder"),
    ("art.model", "MetricsBuilder"),
    ("art.metrics", "track_api_cost"),
    ("art.api_costs", "track_api_cost"),
]


def patched_by() -> dict:
    """Which package each target comes from now: "art" or "art_metrics"."""
    out = {}
    for module, attr in TARGETS:
        value = getattr(importlib.import_module(module), attr)
        out[f"{module}.{attr}"] = value.__module__.split(".")[0]
    return out


def main() -> None:
    import art_metrics

    kwargs = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    result = {"metadata_version": version("openpipe-art")}
    try:
        result["returned"] = art_metrics.install(**kwargs)
        result["error"] = None
    except Exception as e:  # noqa: BLE001 - the type and message are what we report
        result["error"] = [type(e).__name__, [c.__name__ for c in type(e).__mro__], str(e)]
    result["patched_by"] = patched_by()
    result["is_installed"] = art_metrics.art_patch.is_installed()
    if result["error"] is None:
        import art

        builder = art.Model(name="probe", project="p", base_path=sys.argv[2]).metrics_builder()
        result["builder_art_version"] = getattr(builder, "art_version", None)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
