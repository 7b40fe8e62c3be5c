"""Every ```python block of the README and of the documentation pages (docs/pages/) runs as
written, and the README's links lead somewhere."""

import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs" / "pages").rglob("*.md"))


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


BLOCKS = [
    (f"{path.relative_to(ROOT)} block {index}", block)
    for path in [README, *PAGES]
    for index, block in enumerate(python_blocks(path))
]


def test_the_docs_have_examples():
    assert python_blocks(README)  # the ART-script snippet
    assert len(BLOCKS) >= 20
    # A page that loses its examples (a renamed fence, a moved page) shows here.
    with_examples = {p.name for p in PAGES if python_blocks(p)}
    assert {"getting-started.md", "pricing.md", "workers.md", "report.md"} <= with_examples


@pytest.mark.parametrize("name, block", BLOCKS, ids=[name for name, _ in BLOCKS])
def test_example_runs(name, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environ = dict(os.environ)  # an example may set WANDB_MODE and the like for itself
    try:
        exec(compile(block, name, "exec"), {"__name__": "__readme__"})
    finally:
        os.environ.clear()
        os.environ.update(environ)


def test_quickstart_example_runs():
    import runpy

    example = ROOT / "examples" / "quickstart.py"
    runpy.run_path(str(example), run_name="__main__")


def test_the_readme_stays_short():
    # The README is the way in; the rest lives in docs/pages/.
    assert len(README.read_text().splitlines()) <= 250


def anchors(path):
    """The anchors GitHub (and mkdocs' toc, for these headings) gives a page's headings."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_the_readme_links_resolve():
    # mkdocs build --strict checks the links between pages; the README is not one of them.
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/pages/") for link in local)
    for link in local:
        target, _, anchor = link.partition("#")
        path = ROOT / target if target else README
        assert path.exists(), link
        if anchor:
            assert anchor in anchors(path), link
