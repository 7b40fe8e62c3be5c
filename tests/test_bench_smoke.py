"""The benchmark scripts run end to end (tiny sizes), so they cannot rot. No timing is asserted."""

import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"


def smoke(script: str) -> tuple[str, list[str]]:
    """``bench/<script> --smoke``'s output and its table rows (header included); fails the
    test when the script fails."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [
        line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    return proc.stdout, rows


@pytest.mark.slow
@pytest.mark.test_hooks  # the floor: _core._noop
def test_benchmark_smoke_run_prints_every_workload():
    out, rows = smoke("compare.py")
    assert len(rows) == 1 + 10, out  # header + ten workloads
    assert "floor: an empty call into the extension" in out


@pytest.mark.slow
def test_workers_benchmark_smoke_run():
    out, rows = smoke("workers.py")
    assert len(rows) == 1 + 3, out


@pytest.mark.slow
@pytest.mark.test_hooks  # the floor: _core._noop
def test_sdk_benchmark_smoke_run_prints_every_sdk_type():
    out, rows = smoke("sdk.py")
    assert len(rows) == 1 + 8 + 1, out  # header, eight SDK types, the seed's async judge
    assert "floor: an empty call into the extension" in out


def test_bigrun_benchmark_smoke_run():
    out, rows = smoke("bigrun.py")
    assert len(rows) == 1 + 4, out  # header, the floor, summary, --json, report
    assert "report HTML:" in out


def test_sinks_benchmark_smoke_run():
    out, rows = smoke("sinks.py")
    assert len(rows) == 1 + 3, out  # header, the loop, back to back, inline
    assert "W&B (offline), MLflow (file store), TensorBoard" in out
