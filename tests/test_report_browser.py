"""The report pages in a real headless browser (Debian's chromium + chromium-driver, through selenium):
each page is opened from disk, screenshotted, and checked for what a person would see: the charts laid
out at their size, the leaderboard's rows, the plotted points, and nothing fetched from anywhere.

One browser serves the whole module. Skipped, with the reason, only where the browser is not installed
(``apt-get install -y chromium chromium-driver``; CI installs it).
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from report_fixtures import CLI_STARTUP, TRAIN_BENCH, make_run, make_sweep

from azure_trainer.cli import main

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WINDOW = (1200, 900)


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no headless browser here: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="azt-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The three kinds of page, made by the command itself."""
    root = tmp_path_factory.mktemp("pages")
    sweep = make_sweep(root / "sweep")
    run = make_run(root / "run")
    bench = root / "bench"
    bench.mkdir()
    (bench / "train_bench.json").write_text(json.dumps(TRAIN_BENCH))
    (bench / "cli_startup.json").write_text(json.dumps(CLI_STARTUP))
    for folder in (sweep, run, bench):
        assert main(["report", str(folder)]) == 0
    return {"sweep": sweep / "report.html", "run": run / "report.html", "bench": bench / "report.html"}


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def open_page(driver, path: Path) -> None:
    driver.get(path.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def count(driver, selector: str) -> int:
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", selector)


def test_the_sweep_page_shows_its_leaderboard_and_plots(browser, pages, tmp_path):
    open_page(browser, pages["sweep"])
    png = browser.get_screenshot_as_png()
    assert png_size(png) == WINDOW or png_size(png)[0] == WINDOW[0]
    assert len(png) > 30_000  # a blank page compresses to a few kB
    assert browser.title == "Sweep sweep"
    assert count(browser, "table.leaderboard tbody tr") == 4
    assert count(browser, "table.leaderboard tr.best") == 1
    assert count(browser, "svg.parallel-chart path.trial-line") == 3
    assert count(browser, "svg.scatter-chart") == 3
    assert count(browser, "svg.scatter-chart circle.point") == 3 * 3
    assert count(browser, "svg.line-chart g.curve") == 4  # every trial's objective curve, the failed one too
    # laid out: the parallel view spans the page, two scatters sit side by side
    wide = browser.execute_script(
        "return document.querySelector('svg.parallel-chart').getBoundingClientRect().width"
    )
    tops = browser.execute_script(
        "return [...document.querySelectorAll('svg.scatter-chart')].map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert wide > 0.8 * WINDOW[0] and tops[0] == tops[1] != tops[2]
    chart = browser.find_element("css selector", "svg.parallel-chart")
    shot = chart.screenshot_as_png
    assert abs(png_size(shot)[0] - chart.rect["width"]) <= 2


def test_the_run_page_draws_one_curve_per_metric(browser, pages):
    open_page(browser, pages["run"])
    assert count(browser, "svg.line-chart") == 3
    assert count(browser, "svg.line-chart circle.point") == 12
    # text is rendered (fonts present), and the curve has a length on screen
    assert (
        browser.execute_script("return document.querySelector('svg .chart-title').getComputedTextLength()")
        > 10
    )
    assert browser.execute_script("return document.querySelector('path.series').getTotalLength()") > 100


def test_the_benchmark_page_draws_its_bars(browser, pages):
    open_page(browser, pages["bench"])
    assert count(browser, "svg.bar-chart") == 4
    widths = browser.execute_script(
        "return [...document.querySelectorAll('svg.bar-chart')[2].querySelectorAll('rect.bar')].map(r => r.getBoundingClientRect().width)"
    )
    assert len(widths) == 2 and widths[1] > 50 * widths[0]  # the GPU bar dwarfs the CPU bar (61,000 vs 498/s)


def test_no_page_fetches_anything(browser, pages):
    for path in pages.values():
        open_page(browser, path)
        assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
        assert count(browser, "script, link, img, iframe") == 0
