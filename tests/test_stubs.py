"""The `_core.pyi` stubs match the compiled extension (mypy.stubtest).

This checks the installed build (with the test hooks under `make test`); `make wheel-smoke`
runs stubtest against a wheel built without them, as users get it. The hooks are private
names outside `__all__`, which stubtest checks only where the module has them.
"""

import subprocess
import sys

import pytest
from art_metrics import _core


@pytest.mark.slow
def test_stubs_match_the_extension():
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "art_metrics._core"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_test_hooks_are_not_exported():
    assert not {"_noop", "_fail_next_appends"} & set(_core.__all__)
