"""A griffe extension for `make docs`: the package's docstrings as Markdown.

The docstrings are written for `help()` and doctest: reST roles (:class:`X`), ``>>>``
examples and ``::`` literal blocks. Markdown would turn ``>>>`` into nested quotes and print
the roles as they are, so the API reference converts them when griffe loads the package; the
docstrings themselves stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):`~?([^`]+)`")


def to_markdown(text: str) -> str:
    """Roles as code, doctest examples and literal blocks as fenced code."""
    lines = ROLE.sub(r"`\1`", text).split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):  # a doctest example runs to the next blank line
            out.append("```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append("```")
            continue
        if line.rstrip().endswith("::") and i + 1 < len(lines) and not lines[i + 1].strip():
            out.append(line.rstrip()[:-1])  # "Example::" reads "Example:"
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
            out += ["", "```python", *(b[indent:] for b in block), "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def convert(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = to_markdown(obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias:
            convert(member)


class RestToMarkdown(griffe.Extension):
    # Once the whole package is loaded, so that each docstring is converted exactly once.
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        convert(pkg)
