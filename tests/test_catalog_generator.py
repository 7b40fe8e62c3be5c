"""The embedded catalog is reproducible: scripts/gen_catalog.py, run with the pinned sources
(genai-prices 0.2.3, litellm 1.110.2), writes src/pricing/catalog.json byte for byte.

`make test` builds the sources' venv (.venv-prices) and passes its interpreter in
ART_METRICS_PRICES_PYTHON; without it this test fails and says so (it is never skipped).
"""

import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def prices_python() -> str:
    given = os.environ.get("ART_METRICS_PRICES_PYTHON")
    default = ROOT / ".venv-prices" / "bin" / "python"
    python = given or (str(default) if default.exists() else None)
    assert python, (
        "no interpreter with genai-prices==0.2.3 and litellm==1.110.2: run `make test` "
        "(it builds .venv-prices) or set ART_METRICS_PRICES_PYTHON"
    )
    return python


def test_the_catalog_regenerates_byte_for_byte():
    proc = subprocess.run(
        [prices_python(), "scripts/gen_catalog.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "is up to date" in proc.stdout
    # The generator reports how it decided: disagreements between the sources, fixes.
    assert "disagree " in proc.stdout and "fix google/gemini-1.5-flash-8b" in proc.stdout
