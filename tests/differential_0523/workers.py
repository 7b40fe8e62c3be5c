"""Starting run_worker.py processes from the tests."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
WORKER = HERE / "run_worker.py"


def run_worker(
    impl: str,
    phase: str,
    base_path: pathlib.Path,
    out: pathlib.Path,
    *flags: str,
    pythonpath: tuple[str, ...] = (),
) -> dict:
    """Runs one phase in a fresh interpreter and returns what it wrote."""
    path = os.pathsep.join([*pythonpath, str(HERE)])
    env = dict(os.environ, PYTHONPATH=path)
    cmd = [sys.executable, str(WORKER), impl, phase, str(base_path), str(out), *flags]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}"
    return json.loads(out.read_text())


def two_process_run(impl: str, base_path: pathlib.Path, *flags: str) -> dict:
    """Phase "first" in one process, "resume" in a second one on the same run directory."""
    first = run_worker(impl, "first", base_path, base_path / "first.json", *flags)
    resumed = run_worker(impl, "resume", base_path, base_path / "resume.json", *flags)
    return {"first": first, "resume": resumed}
