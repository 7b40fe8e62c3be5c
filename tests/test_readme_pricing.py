"""The pricing page's examples (docs/pages/pricing.md) run as written, and print what they say."""

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "pages" / "pricing.md"


def test_pricing_examples_run(capsys):
    # In the working directory, one after the other: the page's examples write no run
    # directory (test_readme.py runs every page's examples in a temporary directory).
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), {})  # noqa: S102 - the page is ours
    assert capsys.readouterr().out.startswith("0.00325")
