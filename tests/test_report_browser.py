"""The HTML report in a real headless browser: the system Chromium driven by Playwright.

For a demo run, an openpipe-art run and a 10,000-step run: no console errors, every chart has
the right number of points, a hover shows the right value, the screenshot is not blank.
Never skipped: without Chromium it fails and says how to get it (.ci/run installs it).
``UPDATE_SCREENSHOT=1`` also writes the demo's screenshot to docs/pages/report.png.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
from art_metrics.history import read_rows
from art_metrics.report import load_run, write_html
from report_runs import DEMO_CHARTS, expected_points, long_run, step_value
from support.workers import openpipe_art_run
from test_security import escaped, hostile_run

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLOT_WIDTH = 600 - 66 - 14  # report.js: W - M.l - M.r


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "no Chromium found: .ci/run installs it (apt-get install -y chromium); "
        "install it the same way to run this test"
    )


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: `make build-dev` installs the test extra")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


class Page:
    """A report opened in a fresh page, with its console errors collected."""

    def __init__(self, browser, html: pathlib.Path) -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 1000})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        started = time.perf_counter()
        self.page.goto(html.as_uri(), wait_until="load")
        self.page.wait_for_function("window.artReport !== undefined")
        self.open_s = time.perf_counter() - started

    def series(self, chart: str) -> dict[str, dict]:
        found = self.page.evaluate(f"window.artReport.charts[{json.dumps(chart)}].series")
        return {s["name"]: s for s in found}

    def hover(self, chart: str, series: str, index: int) -> dict[str, tuple[str, float]]:
        """Moves the mouse onto point ``index`` of ``series``; the tooltip's rows by series:
        (shown text, exact value)."""
        names = list(self.series(chart))
        self.page.locator(f"#chart-{chart}").scroll_into_view_if_needed()
        point = self.page.evaluate(
            f"window.artReport.charts[{json.dumps(chart)}].point({names.index(series)}, {index})"
        )
        self.page.mouse.move(point["x"], point["y"])
        assert self.page.is_visible("#tooltip")
        assert self.page.get_attribute("#tooltip", "data-chart") == chart
        rows = self.page.query_selector_all("#tooltip .row")
        return {
            r.get_attribute("data-series"): (
                r.query_selector("b").inner_text(),
                float(r.get_attribute("data-value")),
            )
            for r in rows
        }

    def screenshot(self, path: pathlib.Path) -> None:
        self.page.mouse.move(0, 0)
        self.page.screenshot(path=str(path), full_page=True)
        assert_not_blank(path)

    def close(self) -> None:
        self.page.close()


def assert_not_blank(path: pathlib.Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        data = image.convert("RGB").resize((200, 200)).tobytes()
        pixels = [data[i : i + 3] for i in range(0, len(data), 3)]
        inked = sum(1 for p in pixels if min(p) < 200)
        colors = len(set(pixels))
    assert inked > 0.03 * 200 * 200 and colors > 20, (path, inked, colors)


def shown(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def report_of(run_dir: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    subprocess.run(
        [sys.executable, "-m", "art_metrics", "report", str(run_dir), "-o", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def check_points(page: Page, rows: list[dict], *, drawn_dots: bool) -> None:
    """Every series of the charts with a key per series has one point per step with the key;
    with few points, one dot per point is drawn too."""
    for chart, expected in expected_points(rows).items():
        series = page.series(chart)
        assert {name: s["points"] for name, s in series.items()} == expected, chart
        if drawn_dots:
            for name, n in expected.items():
                selector = f'#chart-{chart} circle.pt[data-series="{name}"]'
                assert len(page.page.query_selector_all(selector)) == n, (chart, name)


def check_hover(
    page: Page, rows: list[dict], chart: str, series: str, key: str, index: int, *, summed=False
):
    """Hovers point ``index`` of ``series``; the tooltip names the step under the mouse and
    shows its exact value. With more steps than pixels the mouse lands on a pixel, so the
    step shown may be a neighbour, within the steps one pixel holds."""
    steps = sorted(
        {r["training_step"] for r in rows if any(k == key or k.endswith("/" + key) for k in r)}
    )
    tooltip = page.hover(chart, series, index)
    text, exact = tooltip[series]
    step = int(page.page.inner_text("#tooltip .title").rsplit("step ", 1)[1])
    per_pixel = (steps[-1] - steps[0]) / PLOT_WIDTH
    assert abs(step - steps[index]) <= (per_pixel + 1 if per_pixel > 1 else 0), (step, index)
    assert exact == step_value(rows, step, key, summed=summed), (chart, series, step)
    assert shown(text) == pytest.approx(exact, rel=1e-3, abs=1e-12), (chart, text, exact)


def test_demo_run_in_the_browser(browser, tmp_path):
    subprocess.run(
        [sys.executable, "-m", "art_metrics", "demo", "--steps", "8", "--base-path", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    run_dir = tmp_path / "art-metrics-demo" / "models" / "demo"
    rows, _ = read_rows(run_dir)
    page = Page(browser, report_of(tmp_path, tmp_path / "report.html"))
    try:
        check_points(page, rows, drawn_dots=True)
        ids = page.page.evaluate("Object.keys(window.artReport.charts)")
        assert ids == DEMO_CHARTS
        check_hover(page, rows, "reward", "train", "train/reward", 4)
        check_hover(page, rows, "reward", "val", "val/reward", 1)
        check_hover(page, rows, "cost_total", "all", "costs/cum/all", 7)
        check_hover(page, rows, "cost_step", "gpu", "costs/gpu", 2, summed=True)
        check_hover(page, rows, "loss", "policy", "loss/policy", 0)
        check_hover(page, rows, "throughput", "trainer", "throughput/avg_trainer_tok_per_s", 5)
        check_hover(page, rows, "time", "actor", "time/step_actor_s", 3, summed=True)
        # against cost: the point's x is the cumulative cost when the reward was written
        tooltip = page.hover("reward_cost", "train", 0)
        assert tooltip["train"][1] == rows[0]["train/reward"]
        title = page.page.inner_text("#tooltip .title")
        assert shown(title.split(" · ")[0]) == pytest.approx(rows[0]["costs/cum/all"], rel=1e-3)
        assert page.page.query_selector("#chart-cost_total line.budget") is None
        sources = page.page.query_selector_all("#sources tbody tr")
        assert sources[0].inner_text().startswith("gpu")
        page.screenshot(tmp_path / "demo.png")
        if os.environ.get("UPDATE_SCREENSHOT"):
            shutil.copy(tmp_path / "demo.png", ROOT / "docs" / "pages" / "report.png")
        assert page.errors == []
    finally:
        page.close()


def test_openpipe_art_run_in_the_browser(browser, tmp_path):
    run_dir = openpipe_art_run(tmp_path / "ref")
    rows, problems = read_rows(run_dir)
    assert problems == []
    page = Page(browser, report_of(run_dir, tmp_path / "report.html"))
    try:
        check_points(page, rows, drawn_dots=True)
        assert set(page.series("reward")) == {"train", "val", "test", "holdout"}
        # the custom split's prefixed costs are a source like any other
        assert "holdout/judge" in page.series("cost_step")
        check_hover(page, rows, "reward", "val", "val/reward", 2)  # step 3: its last val row
        check_hover(page, rows, "reward", "holdout", "holdout/reward", 0)
        check_hover(page, rows, "cost_total", "holdout", "costs/cum/holdout", 0)
        check_hover(page, rows, "cost_step", "train/judge", "costs/train/judge", 3, summed=True)
        check_hover(page, rows, "loss", "policy", "loss/policy", 1)
        page.screenshot(tmp_path / "ref.png")
        assert page.errors == []
    finally:
        page.close()


def test_ten_thousand_steps_with_a_budget(browser, tmp_path, capsys):
    run_dir = long_run(tmp_path / "long", 10_000)
    (run_dir / "state.json").write_text(json.dumps({"_art_metrics": {"budget_usd": 150.0}}))
    rows, _ = read_rows(run_dir)

    started = time.perf_counter()
    write_html(load_run(run_dir), tmp_path / "report.html")
    write_s = time.perf_counter() - started
    page = Page(browser, tmp_path / "report.html")
    try:
        render_ms = page.page.evaluate("window.artReport.renderMs")
        with capsys.disabled():
            print(
                f"\n10,000-step report: written in {write_s:.2f} s "
                f"({(tmp_path / 'report.html').stat().st_size / 1e6:.1f} MB), "
                f"opened in {page.open_s:.2f} s (charts drawn in {render_ms:.0f} ms)"
            )
        assert write_s < 20 and page.open_s < 30  # sanity bounds only; README has the figures
        check_points(page, rows, drawn_dots=False)
        reward = page.series("reward")
        assert reward["train"]["points"] == 10_000 and reward["val"]["points"] == 1_000
        # drawn downsampled (at most 4 vertices per pixel column), hovered exactly
        assert PLOT_WIDTH < reward["train"]["drawn"] <= 4 * PLOT_WIDTH
        check_hover(page, rows, "reward", "train", "train/reward", 6_789)
        check_hover(
            page,
            rows,
            "cost_step",
            "train/judge/style",
            "costs/train/judge/style",
            9_999,
            summed=True,
        )
        check_hover(page, rows, "reward", "val", "val/reward", 500)
        label = page.page.text_content("#chart-cost_total .budget-label")
        assert label == "budget $150.00"
        line = page.page.query_selector("#chart-cost_total line.budget")
        assert line.get_attribute("y1") == line.get_attribute("y2")
        page.screenshot(tmp_path / "long.png")
        assert page.errors == []
    finally:
        page.close()


def test_hostile_names_in_the_browser(browser, tmp_path):
    """Keys, splits and sources holding ``</script>``, ``<!--<script>``, an ``<img onerror>``,
    ``&amp;``, U+2028 and terminal controls (tests/test_security.py's run): the page runs with
    no console error, every chart is drawn with its series, and each name is text in the
    legend and the tooltip (controls shown escaped), never markup. Failed before: the
    ``<!--<script>`` kept the data element from ending, so no chart was drawn; and the tooltip
    showed ``&amp;`` as ``&``."""
    run_dir = hostile_run(tmp_path / "runs")
    run = load_run(run_dir)
    html = report_of(run_dir, tmp_path / "report.html")

    first = browser.new_page()
    errors: list[str] = []
    first.on("pageerror", lambda e: errors.append(str(e)))
    first.goto(html.as_uri(), wait_until="load")  # the script is inline: done by "load"
    drawn = first.evaluate("window.artReport !== undefined")
    first.close()
    assert drawn, f"the report's script did not run, no chart drawn (page errors: {errors})"

    page = Page(browser, html)
    try:
        charts = {c.id: c for c in run.charts}
        assert page.page.evaluate("Object.keys(window.artReport.charts)") == list(charts)
        assert page.page.evaluate("window.__pwned") is None
        assert page.page.query_selector_all("img, iframe, object, embed") == []
        for chart_id, name in (
            ("reward", "&amp;"),
            ("reward", "<!--<script>"),
            ("loss", "</script>"),
            ("loss", "<img src=x onerror=window.__pwned=1>"),
            ("loss", "\x1b]0;pwned\x07"),
            ("cost_step", "train/\u202e"),
            ("cost_total", "a\u2028b"),
        ):
            expected = {s.name: s for s in charts[chart_id].series}[name]
            tooltip = page.hover(chart_id, name, 1)
            assert name in tooltip, f"{name!r} not in the tooltip's rows {list(tooltip)}"
            assert tooltip[name][1] == expected.y[1], (chart_id, name)
            (row,) = [
                r
                for r in page.page.query_selector_all("#tooltip .row")
                if r.get_attribute("data-series") == name
            ]
            assert row.query_selector("bdi").inner_text() == escaped(name), (chart_id, name)
        for chart_id, chart in charts.items():
            names = [s.name for s in chart.series]
            series = page.series(chart_id)
            assert list(series) == names, chart_id
            assert {n: s["points"] for n, s in series.items()} == {
                s.name: s.points() for s in chart.series
            }, chart_id
            legend = page.page.query_selector_all(f"#chart-{chart_id} .legend span")
            assert [item.get_attribute("data-series") for item in legend] == names
            assert [item.inner_text() for item in legend] == [escaped(n) for n in names]
            if chart.stacked:
                continue
            marked = page.page.evaluate(
                f"""Array.from(document.querySelectorAll("#chart-{chart_id} circle.pt"))
                    .map(function (c) {{ return c.getAttribute("data-series"); }})"""
            )
            assert sorted(marked) == sorted(n for s in chart.series for n in [s.name] * s.points())
        assert page.page.query_selector_all("img, iframe, object, embed") == []
        assert page.page.evaluate("window.__pwned") is None
        page.screenshot(tmp_path / "hostile.png")
        assert page.errors == []
    finally:
        page.close()
