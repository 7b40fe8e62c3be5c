#!/usr/bin/env bash
# Creates .venv-0523: Python 3.12 with openpipe-art 0.5.23 (which needs Python >= 3.12), the test
# dependencies, and art_metrics built into it. The differential tests against 0.5.23 run there:
#
#   scripts/venv_0523.sh                  # or: make venv-0523
#   .venv-0523/bin/python -m pytest -q -p no:cacheprovider tests/differential_0523
#
# PYTHON312 picks the interpreter (default: pyenv's 3.12.1, else python3.12 on PATH).
# VENV picks the directory (default .venv-0523). Re-running reuses the venv and rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
export LITELLM_LOCAL_MODEL_COST_MAP=True

venv="${VENV:-.venv-0523}"
py312="${PYTHON312:-$HOME/.pyenv/versions/3.12.1/bin/python}"
if [ ! -x "$py312" ]; then
    py312="$(command -v python3.12 || true)"
fi
if [ -z "$py312" ] || ! "$py312" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    echo "venv_0523.sh: no Python >= 3.12 found (set PYTHON312=/path/to/python3.12)" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    "$py312" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi
"$venv/bin/python" -m pip install -q maturin ruff "openpipe-art==0.5.23" numpy pyarrow
# The `test` extra (pytest, pytest-asyncio, hypothesis, openai, anthropic, wandb, ...) comes with
# the build; maturin only finds a venv named .venv by itself, hence VIRTUAL_ENV.
VIRTUAL_ENV="$(pwd)/$venv" "$venv/bin/maturin" develop -q --extras test

"$venv/bin/python" - <<'PY'
from importlib.metadata import version

import art  # noqa: F401  (the reference imports cleanly)
import art_metrics  # noqa: F401

assert version("openpipe-art") == "0.5.23", version("openpipe-art")
print("venv_0523.sh: openpipe-art", version("openpipe-art"), "and art_metrics ready")
PY
