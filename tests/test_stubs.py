"""The `_core.pyi` stubs match the compiled extension (mypy.stubtest)."""

import subprocess
import sys


def test_stubs_match_the_extension():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "art_metrics._core"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
