#!/usr/bin/env bash
# Builds a wheel for every CPython 3.9-3.13 found on this machine (PATH, then pyenv), installs
# each into a clean venv (no index: nothing but the wheel) and runs a smoke test there, from
# outside the checkout so that the installed package is the one imported.
#
# Usage: scripts/wheel_smoke.sh [MATURIN]   (default: .venv/bin/maturin, then maturin on PATH)
#
# The wheels use cargo's dev profile by default: what the smoke proves (the package builds for
# and loads into each CPython, its Python code runs there, the metadata and entry point are
# right) does not depend on optimisation, and the dev profile reuses the dependencies that
# `make test` compiled: the five wheels and their smoke took 1.4 minutes on the 2-core CI
# machine. Release wheels (fat LTO, one codegen unit: what users get) took 12.5 minutes there
# (6 CPU-minutes, other builds running): WHEEL_PROFILE=release builds those.
set -euo pipefail
cd "$(dirname "$0")/.."

maturin=${1:-}
if [[ -z $maturin ]]; then
    if [[ -x .venv/bin/maturin ]]; then maturin=.venv/bin/maturin; else maturin=maturin; fi
fi

# One interpreter per minor version: the first that runs, on PATH or under pyenv.
interpreters=()
for minor in 9 10 11 12 13; do
    for candidate in "python3.$minor" "$HOME"/.pyenv/versions/3."$minor".*/bin/python3."$minor"; do
        if exe=$("$candidate" -c 'import sys; print(sys.executable)' 2>/dev/null); then
            interpreters+=("$exe")
            break
        fi
    done
done
if [[ ${#interpreters[@]} -eq 0 ]]; then
    echo "wheel_smoke: no CPython 3.9-3.13 found" >&2
    exit 1
fi
echo "wheel_smoke: interpreters: ${interpreters[*]}"

work=$(mktemp -d -t art-metrics-wheels-XXXXXX)
trap 'rm -rf "$work"' EXIT

case ${WHEEL_PROFILE:-dev} in
    dev) profile=(--profile dev) ;;
    release) profile=(--release) ;;
    *) echo "wheel_smoke: WHEEL_PROFILE must be dev or release" >&2; exit 1 ;;
esac
interpreter_args=()
for exe in "${interpreters[@]}"; do interpreter_args+=(-i "$exe"); done
# One maturin call builds a wheel per interpreter (the dependencies are compiled once).
"$maturin" build -q "${profile[@]}" "${interpreter_args[@]}" --out "$work/dist"

for exe in "${interpreters[@]}"; do
    tag=$("$exe" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    wheels=("$work"/dist/art_metrics-*-"$tag"-"$tag"-*.whl)
    [[ -f ${wheels[0]} && ${#wheels[@]} -eq 1 ]] || {
        echo "wheel_smoke: expected one $tag wheel in $work/dist" >&2
        ls "$work/dist" >&2
        exit 1
    }
    size=$("$exe" -c 'import sys, zipfile
print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist() if i.filename.endswith(".so")))' "${wheels[0]}")
    echo "wheel_smoke: $(basename "${wheels[0]}"): extension $size bytes (${WHEEL_PROFILE:-dev} profile)"
    venv="$work/venv-$tag"
    "$exe" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --no-index --disable-pip-version-check "${wheels[0]}"
    (cd "$work" && "$venv/bin/python" - "$work/run-$tag") <<'PY'
import asyncio
import doctest
import importlib
import pathlib
import sys
import tempfile

import art_metrics
from art_metrics import Model, MetricsBuilder, Trajectory, TrajectoryGroup, track_api_cost

base = pathlib.Path(sys.argv[1])
package = pathlib.Path(art_metrics.__file__).parent
assert "site-packages" in package.parts, f"imported from {package}, not the installed wheel"

builder = MetricsBuilder("train")
builder.add_cost("train/judge", 0.25)


@track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
def judge():
    return {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}


with builder.activate_context():
    judge()  # $0.0035 from the price catalog; the first call comes through tp_call,
    judge()  # the next ones through vectorcall (set up by the first)
metrics = asyncio.run(builder.flush())
assert abs(metrics["costs/all"] - 0.257) < 1e-12, metrics


async def log() -> dict:
    model = Model(name="smoke", project="p", base_path=str(base))
    group = TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.0)])
    await model.log([group], split="train", step=1)
    model.close()
    return model.read_state()


state = asyncio.run(log())
assert state["_metrics_builder_state"]["cum_state"]["data/cum/num_trajectories"] == 2, state

# Every module imports, and its docstring examples run (art_patch's need openpipe-art).
# art_metrics.ray and art_metrics.monarch need the optional extras [ray] and [monarch]:
# without them, a one-line ImportError naming the extra.
tempfile.tempdir = str(base)
failed = 0
for path in sorted(package.glob("*.py")):
    if path.stem in ("ray", "monarch"):
        try:
            importlib.import_module(f"art_metrics.{path.stem}")
        except ImportError as exc:
            assert f"art-metrics[{path.stem}]" in str(exc), exc
        continue
    module = importlib.import_module(
        "art_metrics" if path.stem == "__init__" else f"art_metrics.{path.stem}"
    )
    if path.stem not in ("__main__", "art_patch"):
        failed += doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed
assert failed == 0, f"{failed} doctest(s) failed"
print(f"wheel_smoke: Python {sys.version.split()[0]}: ok ({art_metrics.__file__})")
PY
    # The CLI entry point: the demo writes a run directory and prints its summary.
    (cd "$work" && "$venv/bin/art-metrics" demo --base-path "$work/demo-$tag" >/dev/null)
done
# The stub against a build without the test hooks, as users get it (tests/test_stubs.py checks
# the dev build, which has them): stubtest from the dev venv, which has mypy, importing the
# wheel installed for the dev venv's Python.
dev_python="$(cd "$(dirname "$maturin")" && pwd)/python"  # absolute: stubtest runs from $work
if [[ -x $dev_python ]] && "$dev_python" -c 'import mypy.stubtest' 2>/dev/null; then
    tag=$("$dev_python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    site=$("$work/venv-$tag/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    (cd "$work" && PYTHONPATH="$site" "$dev_python" -m mypy.stubtest art_metrics._core)
    echo "wheel_smoke: stubtest passes against the $tag wheel (no test hooks)"
else
    echo "wheel_smoke: stubtest skipped: $dev_python has no mypy" >&2
fi
echo "wheel_smoke: ${#interpreters[@]} wheels built, installed and imported"
