#!/usr/bin/env bash
# Creates .venv-0523: Python 3.12 with openpipe-art 0.5.23 (which needs Python >= 3.12) and what
# tests/differential_0523 needs (pyproject's dependency group `test-0523`), and builds
# art_metrics into it. The differential tests against 0.5.23 run there:
#
#   scripts/venv_0523.sh                  # or: make venv-0523
#   .venv-0523/bin/python -m pytest -q -p no:cacheprovider tests/differential_0523
#
# PYTHON312 picks the interpreter (default: pyenv's 3.12.1, else python3.12 on PATH).
# VENV picks the directory (default .venv-0523). Re-running reuses the venv and rebuilds
# incrementally (its own cargo target directory, so the 3.11 build in target/ stays valid).
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
    "$venv/bin/python" -m pip install -q --upgrade pip  # `--group` (PEP 735) needs pip >= 25.1
fi
"$venv/bin/python" -m pip install -q --group test-0523
# maturin only finds a venv named .venv by itself, hence VIRTUAL_ENV. `--group test-0523`:
# without it maturin develop installs the `dev` group, whose openpipe-art is 0.5.18.
VIRTUAL_ENV="$(pwd)/$venv" CARGO_TARGET_DIR="$(pwd)/target/py312" \
    "$venv/bin/maturin" develop -q --group test-0523 --features test-hooks

"$venv/bin/python" - <<'PY'
from importlib.metadata import version

import art  # noqa: F401  (the reference imports cleanly)
import art_metrics

assert version("openpipe-art") == "0.5.23", version("openpipe-art")
assert art_metrics.SUPPORTED_ART_VERSIONS == ("0.5.18", "0.5.23")
print("venv_0523.sh: openpipe-art", version("openpipe-art"), "and art_metrics ready")
PY
