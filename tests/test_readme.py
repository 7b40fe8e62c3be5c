"""Every ```python block of the README runs as written."""

import os
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environ = dict(os.environ)  # an example may set WANDB_MODE and the like for itself
    try:
        exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {"__name__": "__readme__"})
    finally:
        os.environ.clear()
        os.environ.update(environ)


def test_quickstart_example_runs():
    import runpy

    example = README.parent / "examples" / "quickstart.py"
    runpy.run_path(str(example), run_name="__main__")
