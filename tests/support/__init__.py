"""Helpers shared by both test suites: the Python 3.11 one (openpipe-art 0.5.18) and
tests/differential_0523 (Python 3.12, openpipe-art 0.5.23, `make test-0523`).

Import them as ``from support import ...``: pyproject's pytest ``pythonpath`` puts ``tests/`` on
``sys.path`` in both runs; scripts started in a subprocess add it themselves. Each helper takes
the openpipe-art version it works for (``installed_art_version()``: the installed one), so the
two suites run one harness, not two copies.
"""

from importlib.metadata import version


def installed_art_version() -> str:
    """The installed openpipe-art's version: the reference a differential test compares with."""
    return version("openpipe-art")
