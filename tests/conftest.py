import os
import stat
import tempfile
from importlib.metadata import PackageNotFoundError, version

import pytest

# openpipe-art imports litellm, which otherwise downloads prices at import time (no network here).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# The price catalog cache of this test session: never the developer's ~/.cache.
os.environ["ART_METRICS_CACHE_DIR"] = tempfile.mkdtemp(prefix="art-metrics-test-cache-")
# A developer's W&B key would make every Model report to W&B (report_metrics=None means
# "W&B when WANDB_API_KEY is set", as in openpipe-art).
os.environ.pop("WANDB_API_KEY", None)


def _installed_art_version() -> str | None:
    try:
        return version("openpipe-art")
    except PackageNotFoundError:
        return None


# tests/differential_0523 compares with openpipe-art 0.5.23, which needs Python >= 3.12 and has
# its own venv and pytest run (`make test-0523`, part of `make test` and CI); the main suite
# runs with 0.5.18. Said in the report header, so the split is never silent.
collect_ignore = [] if _installed_art_version() == "0.5.23" else ["differential_0523"]


def pytest_report_header(config):
    if collect_ignore:
        return (
            f"openpipe-art {_installed_art_version()}: tests/differential_0523 runs in its own "
            "venv with openpipe-art 0.5.23 (make test-0523; make test runs both)"
        )
    return None


def _has_test_hooks() -> bool:
    from art_metrics import _core

    return hasattr(_core, "_fail_next_appends")


# Tests marked `test_hooks` call the extension's test hooks (`_core._fail_next_appends`,
# `_core._noop`), which only builds with the cargo feature `test-hooks` have (make build-dev).
# Against another build (a release wheel) they are skipped, saying why; the Makefile's test
# targets (and so CI) set ART_METRICS_REQUIRE_TEST_HOOKS=1, which makes a build without the
# hooks an error instead: there, nothing is skipped.
NO_HOOKS = (
    "needs the extension built with the cargo feature test-hooks "
    "(make build-dev, or maturin develop --features test-hooks)"
)


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("test_hooks")]
    if not marked or _has_test_hooks():
        return
    if os.environ.get("ART_METRICS_REQUIRE_TEST_HOOKS") == "1":
        raise pytest.UsageError(f"ART_METRICS_REQUIRE_TEST_HOOKS=1: art_metrics._core {NO_HOOKS}")
    for item in marked:
        item.add_marker(pytest.mark.skip(reason=NO_HOOKS))


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    """Installs an nvidia-smi that lists the given GPUs; returns the installer.

    ``install(*names, memory_used_mib=None)`` answers the GPU query (index, uuid, name) and
    the efficiency figures' memory query (index, uuid, memory.used in MiB, or ``[N/A]``
    where ``memory_used_mib`` gives None, name); installing again replaces the answers. It
    returns the file each run appends its arguments to, one line per run.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    calls = bin_dir / "nvidia-smi.calls"

    def install(*names, memory_used_mib=None):
        memory = list(memory_used_mib) if memory_used_mib is not None else [None] * len(names)
        lines = "".join(f"{i}, GPU-{i:04d}-uuid, {n}\n" for i, n in enumerate(names))
        with_memory = "".join(
            f"{i}, GPU-{i:04d}-uuid, {'[N/A]' if m is None else m}, {n}\n"
            for i, (n, m) in enumerate(zip(names, memory, strict=True))
        )
        script = bin_dir / "nvidia-smi"
        script.write_text(
            "#!/bin/sh\n"
            f"echo \"$*\" >> '{calls}'\n"
            'case "$*" in\n'
            f"  *--query-gpu=index,uuid,memory.used,name*) printf '%s' '{with_memory}' ;;\n"
            f"  *--query-gpu=index,uuid,name*) printf '%s' '{lines}' ;;\n"
            "  *) exit 2 ;;\n"
            "esac\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return calls

    return install
