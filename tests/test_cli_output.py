"""What the commands print, for people and for programs (issue #23): a reader that closes the
pipe early ends a command quietly, diagnostics are plain lines on stderr, and every command
that prints a result prints it as one JSON document with ``--json``."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from art_metrics import Model
from report_runs import long_run
from test_cli import DEMO_RUN, cli
from test_rundir import crash, log

CLOSED_PIPE = 128 + 13  # the status of a process killed by SIGPIPE, as `yes | head` gives


@pytest.fixture(scope="module")
def long_run_dir(tmp_path_factory) -> pathlib.Path:
    """Enough steps that every output style is far larger than a pipe's buffer."""
    return long_run(tmp_path_factory.mktemp("long") / "run", 3000)


def closed_early(*args: str, cwd: pathlib.Path) -> tuple[int, str]:
    """Runs the command with stdout into a pipe whose reader takes 100 bytes and closes it
    (as ``| head -c 100`` does); returns the exit status and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "art_metrics", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=120), stderr


@pytest.mark.parametrize("style", [[], ["--json"], ["--csv"]], ids=["text", "json", "csv"])
def test_a_reader_closing_the_pipe_ends_summary_quietly(long_run_dir, style, tmp_path):
    """Before: "error: [Errno 32] Broken pipe" and exit status 2."""
    status, stderr = closed_early("summary", str(long_run_dir), *style, cwd=tmp_path)
    assert (status, stderr) == (CLOSED_PIPE, "")


def test_a_reader_closing_the_pipe_ends_a_small_output_quietly_too(tmp_path):
    """The whole output fits the pipe and Python's buffer: the pipe is found closed only when
    the output is flushed at the end, which must not print "Exception ignored" either."""
    cli("demo", "--steps", "2", "--base-path", "runs", cwd=tmp_path)
    proc = subprocess.run(
        f"{sys.executable} -m art_metrics summary runs | (exec 0<&-; sleep 2)",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stderr == ""


def test_compact_reports_in_plain_lines_on_stderr(tmp_path):
    """Before: through warnings.warn, with a Python source location in the output."""
    model = Model(name="j", project="p", base_path=str(tmp_path))
    for i in range(3):
        log(model, i, **{"data/step_items": 1})
    run_dir = pathlib.Path(model.run_dir)
    journal = run_dir / "state.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"seq"', b'"sEq"')
    journal.write_bytes(b"".join(lines))
    crash(model)
    proc = cli("compact", str(run_dir), cwd=tmp_path)
    assert proc.stdout == f"compacted {run_dir / 'state.json'}\n"
    bad_line, kept = proc.stderr.splitlines()
    assert bad_line.startswith(f"warning: {run_dir}/state.journal: line(s) 2 fail their checksum")
    assert kept.startswith(f"warning: the journal was kept as {run_dir}/state.journal.corrupt-")
    # no Python warning: neither its category nor the source location it names
    assert "RuntimeWarning" not in proc.stderr and ".py:" not in proc.stderr


def test_compact_json(tmp_path):
    model = Model(name="c", project="p", base_path=str(tmp_path))
    log(model, 0, **{"data/step_items": 1})
    crash(model)
    doc = json.loads(cli("compact", model.run_dir, "--json", cwd=tmp_path).stdout)
    assert doc == {"state": f"{model.run_dir}/state.json", "warnings": []}


def test_report_json(tmp_path):
    cli("demo", "--steps", "2", "--base-path", "runs", cwd=tmp_path)
    doc = json.loads(cli("report", "runs", "-o", "r.html", "--json", cwd=tmp_path).stdout)
    size = (tmp_path / "r.html").stat().st_size
    assert doc == {
        "html": "r.html",
        "bytes": size,
        "rows": 3,
        "steps": 2,
        "pngs": [],
        "problems": [],
    }


def test_demo_json_is_the_summary_document(tmp_path):
    doc = json.loads(
        cli("demo", "--steps", "2", "--base-path", "runs", "--json", cwd=tmp_path).stdout
    )
    summary = json.loads(cli("summary", "runs", "--json", cwd=tmp_path).stdout)
    assert doc == summary and doc["run_dir"] == str(pathlib.Path("runs") / DEMO_RUN)
    assert [s["step"] for s in doc["steps"]] == [1, 2]
