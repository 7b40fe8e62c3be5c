"""The examples in the docstrings of python/art_metrics run and print what they show.

Each module's doctests run in a temporary working directory, with `tempfile` pointed at it,
so an example that writes files (a run directory) leaves nothing in the checkout or /tmp.
"""

import doctest
import importlib
import pathlib
import tempfile

import art_metrics
import pytest

PACKAGE = pathlib.Path(art_metrics.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__main__")


def test_every_module_is_checked():
    assert {"__init__", "builder", "costs", "model", "summary"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module("art_metrics" if name == "__init__" else f"art_metrics.{name}")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    tests = doctest.DocTestFinder().find(module, module.__name__)
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    # An example the finder cannot reach (a typo in `>>>`, a docstring that is not one) fails.
    if ">>>" in (PACKAGE / f"{name}.py").read_text():
        # Examples marked `+SKIP` are found but not attempted (history.py has only those).
        found = sum(len(test.examples) for test in tests)
        assert found > 0, f"{name}.py shows examples but none were found"
