"""Starting tests/support/run_worker.py processes from the tests."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

TESTS = pathlib.Path(__file__).resolve().parent.parent
WORKER = TESTS / "support" / "run_worker.py"


def run_worker(
    impl: str, phase: str, base_path: pathlib.Path, out: pathlib.Path, *flags: str
) -> dict:
    """Runs one phase (or ``both``) in a fresh interpreter and returns what it wrote."""
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    cmd = [sys.executable, str(WORKER), impl, phase, str(base_path), str(out), *flags]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}"
    return json.loads(out.read_text())


def two_process_run(impl: str, base_path: pathlib.Path, *flags: str) -> dict:
    """Phase "first" in one process, "resume" in a second one on the same run directory."""
    first = run_worker(impl, "first", base_path, base_path / "first.json", *flags)
    resumed = run_worker(impl, "resume", base_path, base_path / "resume.json", *flags)
    return {"first": first, "resume": resumed}


def openpipe_art_run(base_path: pathlib.Path) -> pathlib.Path:
    """The script through openpipe-art's own Model and MetricsBuilder, both phases in one
    process (judges priced by its track_api_cost); returns the run directory."""
    out = base_path.parent / f"{base_path.name}.json"
    run_worker("art", "both", base_path, out, "--judges", "track_api_cost")
    return base_path / "proj" / "models" / "m1"
