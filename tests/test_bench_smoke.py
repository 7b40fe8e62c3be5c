"""The benchmark script runs end to end (tiny sizes), so it cannot rot. No timing is asserted."""

import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "bench" / "compare.py"


def test_benchmark_smoke_run_prints_every_workload():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = [
        line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(table) == 1 + 9, proc.stdout  # header + nine workloads
    assert "floor: an empty call into the extension" in proc.stdout


def test_workers_benchmark_smoke_run():
    script = SCRIPT.parent / "workers.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [
        line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == 1 + 3, proc.stdout


def test_sdk_benchmark_smoke_run_prints_every_sdk_type():
    script = SCRIPT.parent / "sdk.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [
        line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == 1 + 8 + 1, proc.stdout  # header, eight SDK types, the seed's async judge
    assert "floor: an empty call into the extension" in proc.stdout


def test_bigrun_benchmark_smoke_run():
    script = SCRIPT.parent / "bigrun.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [
        line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == 1 + 4, proc.stdout  # header, the floor, summary, --json, report
    assert "report HTML:" in proc.stdout
