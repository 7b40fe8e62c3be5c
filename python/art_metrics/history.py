"""Reading run directories (``history.jsonl``, ``state.json``) without ever writing to them.

A run directory may belong to a live run: the readers here open files for reading only, and
call nothing that compacts or rewrites (no `Model`, no run-directory core). Used by
``summary``, ``summary --watch`` and ``report``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from stat import S_ISREG
from typing import Any

__all__ = ["HistoryReader", "find_runs", "read_history", "read_rows", "read_state"]

# Folders a search for runs never enters: they hold no runs and can be huge.
_SKIP_DIRS = {".git", "__pycache__", "node_modules", "trajectories", ".venv", "venv"}


class HistoryReader:
    """Reads the rows of ``run_dir/history.jsonl`` as it grows, from where it stopped.

    `read_new` returns the complete lines written since the last call. A bad line (not JSON,
    or JSON but not an object) is reported in ``problems`` with the file and line number and
    the other rows are kept. A last line without its newline is held back until it is
    complete (the writer may be in the middle of it). When the file is replaced or shrinks
    (a resumed run rewrites it) the reader starts again from the top and says so.

    >>> import pathlib, tempfile
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (run / "history.jsonl").write_text('{"step": 1}\\nnot json\\n{"step": 2')
    >>> reader = HistoryReader(run)
    >>> rows, problems = reader.read_new()
    >>> rows, len(problems)
    ([{'step': 1}], 1)
    >>> with open(run / "history.jsonl", "a") as f:
    ...     _ = f.write("}\\n")
    >>> reader.read_new()
    ([{'step': 2}], [])
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / "history.jsonl"
        self._offset = 0
        self._line = 0
        self._pending = b""
        self._identity: tuple[int, int] | None = None
        self.restarted = False

    def read_new(self) -> tuple[list[dict[str, Any]], list[str]]:
        """New complete rows and the problems found in them (``FileNotFoundError`` when the
        file does not exist; ``ValueError`` when it is not a regular file). Sets
        ``restarted`` when the file was rewritten."""
        _check_regular(self.path)  # opening a FIFO would block; /dev/zero never ends
        with open(self.path, "rb") as f:
            stat = os.fstat(f.fileno())
            _check_regular(self.path, stat)
            identity = (stat.st_dev, stat.st_ino)
            self.restarted = self._identity is not None and (
                identity != self._identity or stat.st_size < self._offset
            )
            if self.restarted:
                self._offset, self._line, self._pending = 0, 0, b""
            self._identity = identity
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        return self._parse(lines)

    def read_all(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every row up to the end of the file, including a last line without its newline
        when it is complete JSON (a torn one, from a crash mid-write, is skipped)."""
        rows, problems = self.read_new()
        if self._pending.strip():
            try:
                row = json.loads(self._pending)
            except (ValueError, UnicodeDecodeError):
                row = None
            if isinstance(row, dict):
                rows.append(row)
        return rows, problems

    def _parse(self, lines: list[bytes]) -> tuple[list[dict[str, Any]], list[str]]:
        rows, problems = [], []
        for line in lines:
            self._line += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                problems.append(f"{self.path} line {self._line}: not JSON")
                continue
            if not isinstance(row, dict):
                problems.append(
                    f"{self.path} line {self._line}: not a JSON object ({type(row).__name__})"
                )
                continue
            rows.append(row)
        return rows, problems


def _check_regular(path: Path, stat: os.stat_result | None = None) -> None:
    """``ValueError`` naming ``path`` unless it (or what its link points to) is a regular
    file (``FileNotFoundError`` when it does not exist)."""
    mode = (stat or os.stat(path)).st_mode
    if not S_ISREG(mode):
        raise ValueError(
            f"{path} is not a regular file (a device, FIFO or directory): a run's files "
            "are read only as regular files"
        )


def read_rows(run_dir: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of ``run_dir/history.jsonl`` and the problems found (see `HistoryReader`)."""
    return HistoryReader(run_dir).read_all()


def read_history(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of ``run_dir/history.jsonl``; a torn last line (a crash mid-write) is skipped.

    Strict: a bad line anywhere else raises ``ValueError`` naming the file and the line
    (`read_rows` reports it and keeps the other rows instead).
    """
    rows, problems = read_rows(run_dir)
    if problems:
        raise ValueError(problems[0])
    return rows


def read_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``run_dir/state.json`` as a dict; an empty dict when it is missing, unreadable or
    not a regular file."""
    path = Path(run_dir) / "state.json"
    try:
        _check_regular(path)
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def find_runs(path: str | os.PathLike[str]) -> list[Path]:
    """Every run directory (a folder holding ``history.jsonl``) at or below ``path``, at any
    depth, sorted. A run directory's own subfolders are not searched."""
    path = Path(path)
    if (path / "history.jsonl").is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    found = []
    for folder, dirs, files in os.walk(path):
        if "history.jsonl" in files:
            found.append(Path(folder))
            dirs.clear()
        else:
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
    return sorted(found)
