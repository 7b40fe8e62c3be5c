"""The README's pricing examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_pricing_examples_run(capsys):
    # Only this section: later sections' examples write run directories (test_readme.py
    # runs them in a temporary directory).
    section = README.read_text().split("## Pricing and API costs", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})  # noqa: S102 - the README is ours
    assert capsys.readouterr().out.startswith("0.00325")
