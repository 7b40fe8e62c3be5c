"""Issue #21, case 5: hostile text in a run (metric keys, splits, cost sources, the run's
directory name) reaching the HTML report and the ``summary`` output.

- The report embeds its data as JSON in ``<script type="application/json">``: a ``<!--<script>``
  in a key put the HTML parser in the script's "double escaped" state, the element did not end
  where it should, and no chart was drawn. The JSON now holds ``<``, ``>``, ``&`` as ``\\u003c``
  etc. and parses back unchanged; names in the page are HTML-escaped text.
- ``summary`` printed keys as they are: ``\\x1b]0;...\\x07`` retitles the terminal,
  ``\\x1b[2J`` clears it, ``\\u202e`` reverses the text after it. Table, CSV and warnings now
  show them escaped (`art_metrics.summary.escape_controls`); JSON escapes them itself.

tests/test_report_browser.py opens the hostile run's report in Chromium.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import json
import os
import pathlib
import re
import signal
import subprocess
import sys

import art_metrics
import pytest
from art_metrics.report import load_run, render_html
from art_metrics.summary import cost_sources
from test_cli import Lines, cli, watch

# Names that end or comment out a script element, or are markup, or HTML/JS-special text.
MARKUP = ["</script>", "<!--<script>", "<img src=x onerror=window.__pwned=1>", "&amp;", "a\u2028b"]
# Names that a terminal acts on: set the window title, clear the screen, reverse the text.
TERMINAL = ["\x1b]0;pwned\x07", "\x1b[2J", "\u202e"]
HOSTILE = MARKUP + TERMINAL
RUN_NAME = "run \u202e\x1b[2J<img src=x onerror=window.__pwned=1>"

# What must never reach a terminal raw: C0 (but the newline) and C1 controls, DEL, bidi
# controls, U+2028/U+2029.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]"
)


def escaped(text: str) -> str:
    """What summary and the report show for ``text``, written out independently of
    `art_metrics.summary.escape_controls`: each character that `RAW_CONTROL` matches (the
    newline too) or a lone surrogate as ``\\xNN`` / ``\\uNNNN``."""
    out = []
    for char in text:
        code = ord(char)
        if char == "\n" or RAW_CONTROL.match(char) or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def hostile_run(base: pathlib.Path, names: list[str] = HOSTILE) -> pathlib.Path:
    """A real run written by `art_metrics.Model` over 3 steps, every name in ``names`` used as
    a loss key (``loss/<name>``), a train cost source (``costs/train/<name>``) and, when it
    holds no "/", a split with its own reward and a judge cost in its own cost context."""

    async def write() -> pathlib.Path:
        model = art_metrics.Model(name=RUN_NAME, project="p", base_path=str(base))
        for step in (1, 2, 3):
            metrics = {}
            for i, name in enumerate(names):
                metrics[f"loss/{name}"] = 0.1 * step + i
                metrics[f"costs/train/{name}"] = 0.001 * (i + 1) * step
            trajectories = [art_metrics.Trajectory(reward=0.5 + 0.1 * step)]
            await model.log(trajectories, split="train", step=step, metrics=metrics)
            for i, name in enumerate(names):
                if "/" in name:
                    continue
                model.metrics_builder(name).add_cost(f"{name}/judge", 0.002 * step)
                trajectories = [art_metrics.Trajectory(reward=0.1 * i + 0.01 * step)]
                await model.log(trajectories, split=name, step=step)
        model.close()
        return pathlib.Path(model.run_dir)

    # In a thread of its own: Playwright's sync API (tests/test_report_browser.py) holds this
    # thread's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(write())).result()


def script_data(page: str) -> str:
    """The text of the report's data element, up to the first "</script" after it (where the
    HTML parser ends it, when nothing in it changed the parser's state)."""
    start = page.index('<script type="application/json" id="report-data">')
    start = page.index(">", start) + 1
    return page[start : page.index("</script", start)]


def assert_no_raw_controls(text: str, what: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in RAW_CONTROL.findall(text)})
    assert not found, f"{what} holds raw control characters {found}"


# -- the report --------------------------------------------------------------------------


def test_report_data_holds_no_markup_and_parses_back(tmp_path):
    """Failed before: the embedded JSON held the keys' raw ``<!--<script>`` (only "</" was
    escaped), which puts the parser in the "double escaped" state: the data element does not
    end at its "</script>", and the report's script never runs."""
    run = load_run(hostile_run(tmp_path))
    page = render_html(run)
    data = script_data(page)
    for char in "<>&\u2028\u2029":
        assert char not in data, f"raw {char!r} in the report's embedded JSON"
    assert json.loads(data) == [chart.to_json() for chart in run.charts]
    # the page has its two script elements, each opened and closed once
    assert page.count("<script") == 2 and page.count("</script") == 2
    assert page.count("<!--") == 0
    names = {s["name"] for chart in json.loads(data) for s in chart["series"]}
    assert set(HOSTILE) <= names  # every hostile name is a series (loss), unchanged
    assert {n for n in HOSTILE if "/" not in n} <= {
        s.name for c in run.charts if c.id == "reward" for s in c.series
    }


def test_report_inline_assets_cannot_end_their_elements():
    """A guard (passes before too): report.js and report.css, inlined in <script> and <style>,
    hold nothing that ends or comments out their element."""
    from importlib import resources

    for name, element in (("report.js", "script"), ("report.css", "style")):
        text = resources.files(art_metrics).joinpath(name).read_text(encoding="utf-8").lower()
        assert f"</{element}" not in text and "<!--" not in text and "<script" not in text, name


def test_report_page_shows_run_text_escaped(tmp_path):
    """The run directory's name (title, heading), the sources table and the problems are text:
    markup HTML-escaped, controls shown as ``\\x1b`` / ``\\u202e``. Failed before: the
    title, heading and table held the raw ESC and U+202E (the markup was escaped already)."""
    run_dir = hostile_run(tmp_path)
    with open(run_dir / "history.jsonl", "a") as f:
        f.write("not json\n")
    bad_line = len((run_dir / "history.jsonl").read_text().splitlines())
    run = load_run(run_dir)
    assert len(run.problems) == 1 and str(run_dir) in run.problems[0]
    page = render_html(run)
    outside = page.replace(script_data(page), "")
    shown = escaped(str(run_dir)).replace("<", "&lt;").replace(">", "&gt;")
    assert "\\u202e\\x1b[2J&lt;img src=x onerror=window.__pwned=1&gt;" in shown
    assert f"<title>{shown}: art-metrics report</title>" in page
    assert f"<h1>{shown}</h1>" in page
    assert f"<li>{shown}/history.jsonl line {bad_line}: not JSON</li>" in page
    # 15 most expensive sources: the hostile train sources cost the most
    for source in ("train/&amp;amp;", "train/\\x1b]0;pwned\\x07", "train/\\u202e"):
        assert f"<tr><td>{source}</td>" in outside, source
    assert "<img" not in outside and "&amp;amp;" in outside
    assert_no_raw_controls(outside, "the report page")


def test_png_export_of_hostile_names(tmp_path):
    """``--png`` (matplotlib) labels: controls escaped and ``$`` literal. Failed before: the
    ESC in a name warned "Glyph 27 missing from font(s)", and a ``$\\frac$`` name (mathtext
    that does not parse) stopped the export with a ParseSyntaxException traceback."""
    from art_metrics.report import write_pngs

    run = load_run(hostile_run(tmp_path / "runs", [*HOSTILE, "$\\frac$"]))
    assert "$\\frac$" in {s.name for chart in run.charts for s in chart.series}
    written = write_pngs(run, tmp_path / "png")
    assert sorted(p.name for p in written) == sorted(f"{c.id}.png" for c in run.charts)


# -- summary -----------------------------------------------------------------------------


def test_summary_table_shows_controls_escaped(tmp_path):
    """Failed before: the table's header (cost sources, losses, ``<split> exceptions``), the
    run directory line, the cost breakdown and the warnings printed the raw ESC/BEL/U+202E."""
    run_dir = hostile_run(tmp_path, TERMINAL)
    with open(run_dir / "history.jsonl", "a") as f:
        f.write("not json\n")
    blocks = cli("summary", str(run_dir), cwd=tmp_path)
    assert_no_raw_controls(blocks.stdout, "summary's stdout")
    assert_no_raw_controls(blocks.stderr, "summary's stderr")
    proc = cli("summary", str(run_dir), "--wide", cwd=tmp_path)  # every column on one line
    assert_no_raw_controls(proc.stdout, "summary --wide's stdout")
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(escaped(str(run_dir)) + ": 12 rows, 3 steps")
    assert "run \\u202e\\x1b[2J<img" in lines[0]
    header = lines[2]
    for column in (
        "train/\\x1b]0;pwned\\x07",
        "train/\\x1b[2J",
        "train/\\u202e",
        "\\x1b]0;pwned\\x07/judge",
        "loss/\\x1b[2J",
        "\\u202e exceptions",
        "\\x1b[2J exceptions",
    ):
        assert f"  {column}" in header, column
    # every line's cells right-aligned under the escaped names: as wide as the header
    assert {len(line) for line in lines[2:6]} == {len(header)}
    assert "\\x1b]0;pwned\\x07 $" in lines[-1]  # the breakdown by cost context
    assert "warning: " + escaped(str(run_dir)) in proc.stderr


def test_summary_csv_shows_controls_escaped(tmp_path):
    """Failed before: the CSV header held the raw control characters."""
    run_dir = hostile_run(tmp_path, TERMINAL)
    out = cli("summary", str(run_dir), "--csv", cwd=tmp_path).stdout
    assert_no_raw_controls(out, "summary --csv")
    table = list(csv.reader(out.splitlines()))
    assert [len(r) for r in table] == [len(table[0])] * 4
    for column in ("cost:train/\\x1b[2J", "loss/\\u202e", "exception_rate:\\x1b]0;pwned\\x07"):
        assert column in table[0], column


def test_summary_json_escapes_controls_and_keeps_the_names(tmp_path):
    """A guard (passes before too: json.dumps escapes with ensure_ascii): no raw control
    character in the document, and the names parse back exactly."""
    run_dir = hostile_run(tmp_path, TERMINAL)
    out = cli("summary", str(run_dir), "--json", cwd=tmp_path).stdout
    assert_no_raw_controls(out, "summary --json")
    doc = json.loads(out)
    assert doc["run_dir"] == str(run_dir)
    assert {f"train/{name}" for name in TERMINAL} <= set(doc["steps"][0]["costs"])
    assert set(TERMINAL) <= set(doc["totals"]) and set(TERMINAL) <= set(
        doc["steps"][0]["exception_rates"]
    )


def test_summary_watch_shows_controls_escaped(tmp_path):
    """Failed before: --watch printed the header and the "Following" line raw."""
    run_dir = hostile_run(tmp_path, TERMINAL)
    proc = watch(run_dir, "--wide", cwd=tmp_path)
    lines = Lines(proc)
    try:
        header, *steps = lines.take(4)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0, stderr
    assert_no_raw_controls("\n".join([header, *steps]), "summary --watch")
    assert_no_raw_controls(stderr, "summary --watch's stderr")
    assert "  train/\\x1b[2J" in header and [s.split()[0] for s in steps] == ["1", "2", "3"]
    assert f"Following {escaped(str(run_dir))}/history.jsonl" in stderr


def test_a_run_directory_with_an_undecodable_name(tmp_path):
    """A path byte that is not UTF-8 reads as a lone surrogate (``\\udcff``). Failed before:
    summary wrote the raw byte 0xFF (the C.UTF-8 locale's surrogateescape), or stopped with
    "'utf-8' codec can't encode character '\\udcff'" (strict errors, as a UTF-8 locale has),
    and report stopped with that error (the HTML is UTF-8). Now both show ``\\udcff``."""
    run_dir = hostile_run(tmp_path / "a", ["judge"])
    odd = os.fsdecode(os.fsencode(tmp_path) + b"/run\xff")
    os.rename(run_dir, odd)
    for errors in ("surrogateescape", "strict"):
        proc = subprocess.run(
            [sys.executable, "-m", "art_metrics", "summary", odd],
            cwd=tmp_path,
            env=dict(os.environ, PYTHONIOENCODING=f"utf-8:{errors}"),
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == 0, (errors, proc.stderr)
        out = proc.stdout.decode("utf-8")  # valid UTF-8: no raw 0xFF byte
        assert out.startswith(f"{tmp_path}/run\\udcff: 6 rows, 3 steps"), errors
    proc = cli("report", odd, "-o", "r.html", cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"<h1>{tmp_path}/run\\udcff</h1>" in (tmp_path / "r.html").read_text()


def test_escape_controls():
    from art_metrics.summary import escape_controls

    every = "".join(map(chr, range(0x3000))) + "\ud800\udcff\udfff\U0001f600"
    assert escape_controls(every) == escaped(every)
    assert escape_controls("costs/train/judge é 😀 \\x1b") == "costs/train/judge é 😀 \\x1b"
    assert escape_controls("\x00\t\n\x1b\x7f\x85\x9f") == "\\x00\\x09\\x0a\\x1b\\x7f\\x85\\x9f"
    assert escape_controls("\u061c\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069\ud800") == (
        "\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a\\u202e\\u2066\\u2069\\ud800"
    )


def test_cost_sources_with_a_sibling_sorting_between_a_key_and_its_children(tmp_path):
    """Found with the hostile keys: ``train/<`` (the rollup of ``train/</script>``) sorts
    before ``train/<!--<script>``, and was taken for a leaf, so its cost counted twice in the
    summary and the report. The same with ordinary names: ``judge`` < ``judge-2`` <
    ``judge/style``. Failed before: the rollups were returned as sources."""
    row = {
        "costs/all": 3.0,
        "costs/train": 3.0,
        "costs/train/judge": 2.0,
        "costs/train/judge-2": 1.0,
        "costs/train/judge/style": 1.0,
        "costs/train/judge/style/long": 1.0,
        "costs/train/judge/tone": 1.0,
        "costs/cum/all": 9.0,
    }
    assert cost_sources(row) == {
        "train/judge-2": 1.0,
        "train/judge/style/long": 1.0,
        "train/judge/tone": 1.0,
    }
    run = load_run(hostile_run(tmp_path, MARKUP))
    assert "train/<" not in dict(run.sources)
    assert sum(amount for _, amount in run.sources) == pytest.approx(run.total_cost)


# -- case 1: links in a run directory ---------------------------------------------------
# Before: a journal linked elsewhere had its target truncated to 0 bytes, a linked lock
# file was overwritten with the pid, a link planted at a temporary name of state.json had
# its target overwritten (and state.json became a link to it), a linked history's
# unfinished last line was cut, and a history linked to /dev/zero made `summary` read
# until memory ran out.


def _run_dir(base: pathlib.Path) -> pathlib.Path:
    run = base / "p" / "models" / "m"
    run.mkdir(parents=True)
    return run


async def _log_once(base: pathlib.Path) -> None:
    model = art_metrics.Model(name="m", project="p", base_path=str(base))
    await model.log([art_metrics.Trajectory(reward=1.0)], split="train", step=1)
    model.close()


@pytest.mark.parametrize("name", ["state.journal", ".art_metrics.lock"])
def test_the_journal_and_the_lock_are_never_written_through_links(tmp_path, name):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (_run_dir(tmp_path) / name).symlink_to(target)
    with pytest.raises(OSError, match=rf"{re.escape(name)} is a symbolic link"):
        asyncio.run(_log_once(tmp_path))
    assert target.read_text() == "keep me"


PLANT_AND_LOG = """
import asyncio, os, pathlib, sys
import art_metrics
base = pathlib.Path(sys.argv[1])
run = base / "p" / "models" / "m"
run.mkdir(parents=True)
# Every temporary name this process's next writes of state.json could take.
for n in range(200):
    (run / f".state.json.tmp.{os.getpid()}.{n}").symlink_to(base / "precious.txt")
async def main():
    model = art_metrics.Model(name="m", project="p", base_path=str(base))
    for step in (1, 2):
        await model.log([art_metrics.Trajectory(reward=1.0)], split="train", step=step)
    model.merge_state({"user": 1})
    model.close()
asyncio.run(main())
"""


def test_planted_temporary_links_are_never_written_through(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    subprocess.run([sys.executable, "-c", PLANT_AND_LOG, str(tmp_path)], check=True, timeout=60)
    assert target.read_text() == "keep me"
    state = tmp_path / "p" / "models" / "m" / "state.json"
    assert state.is_file() and not state.is_symlink()
    assert json.loads(state.read_text())["user"] == 1


def test_a_linked_history_keeps_every_byte_of_its_target(tmp_path):
    target = tmp_path / "notes.jsonl"
    target.write_text('{"step": 0}\nan unfinished line')
    (_run_dir(tmp_path) / "history.jsonl").symlink_to(target)
    with pytest.warns(RuntimeWarning, match="partial line that art_metrics did not write"):
        asyncio.run(_log_once(tmp_path))
    lines = target.read_text().split("\n")
    assert lines[:2] == ['{"step": 0}', "an unfinished line"]
    assert json.loads(lines[2])["step"] == 1


def test_a_history_that_is_not_a_regular_file_is_refused(tmp_path):
    run = _run_dir(tmp_path)
    (run / "history.jsonl").symlink_to("/dev/zero")
    for args in (["summary", str(run)], ["summary", "--json", str(run)], ["report", str(run)]):
        proc = cli(*args, cwd=tmp_path, check=False)
        assert proc.returncode != 0
        error = proc.stderr.strip()
        assert "history.jsonl is not a regular file" in error and len(error.splitlines()) == 1
    with pytest.raises(OSError, match="history.jsonl is not a regular file"):
        asyncio.run(_log_once(tmp_path))
