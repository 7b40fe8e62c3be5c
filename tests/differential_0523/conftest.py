"""The differential suite against openpipe-art 0.5.23 (Python >= 3.12, `.venv-0523`).

Run with ``make test-0523`` (or ``.venv-0523/bin/python -m pytest tests/differential_0523``).
The parent conftest sets the offline litellm price map, the catalog cache and drops
``WANDB_API_KEY``; this one refuses to run against any other openpipe-art, where every
comparison would be meaningless.
"""

import sys
from importlib.metadata import version
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# The worker scripts and helpers of this directory are imported by name, also in subprocesses.
sys.path.insert(0, str(HERE))


def pytest_configure(config):
    installed = version("openpipe-art")
    if installed != "0.5.23":
        raise pytest.UsageError(
            f"tests/differential_0523 needs openpipe-art 0.5.23, found {installed}: "
            "run `make test-0523`"
        )
