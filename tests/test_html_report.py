"""`simengine report --html` (docs/model.md section 9): one self-contained page (no
network, images inline) with the scenario in words, the percentile tables of
total and economic cost with their intervals, regret, the plots and the
run's facts; it renders in a real headless Chromium and prints."""
from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from simengine import cli, report
from simengine.report import browser

from test_cli import TINY

STRATEGIES = ["no-purchase", "fit", "vip-first", "oracle"]
BROWSER = browser.find_browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium on this machine: install the `chromium` package "
    "(Debian/Ubuntu: apt-get install -y chromium) or set SIMENGINE_BROWSER to its path")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("html")
    (d / "tiny.toml").write_text(TINY)
    assert cli.main(["run", str(d / "tiny.toml"), "--paths", "16", "--no-progress",
                     "--set", "strategy.fit.headroom=0.1", "--out", str(d / "run")]) == 0
    assert cli.main(["report", str(d / "run"), "--html"]) == 0
    return d / "run" / "report.html"


def test_the_page_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", text)   # nothing fetched
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(report.PLOTS)
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "@media print" in text


def test_the_page_says_what_was_run(page):
    text = page.read_text(encoding="utf-8")
    # the scenario in words, from the resolved scenario
    assert "6,000 addressable customers in 2 segments (vip and rest)" in text
    assert "Renews to the smallest tier that fits usage with 10% headroom" in text
    assert "(--set strategy.fit.headroom=0.1)" in text
    for s in STRATEGIES:
        assert f"<b>{s}</b>" in text
    # tables with intervals, regret, the share of paths won
    for title in ("total_cost per path over 2 years, 16 paths",
                  "economic_cost per path over 2 years, 16 paths",
                  "regret per path over 2 years, 16 paths",
                  "cheapest per path over 2 years, 16 paths"):
        assert title in text
    assert text.count(">P95 95% CI</th>") == 3 and ">share 95% CI</th>" in text
    # the run's facts
    run = report.load_run(page.parent)
    for fact in (run.manifest["scenario_sha256"], run.manifest["engine_version"],
                 "simulation time (compile excluded)"):
        assert fact in text
    # each fact once: the threads are not repeated in the executor's line
    facts = re.search(r'<dl class="facts">(.*?)</dl>', text).group(1)
    assert facts.count("thread") == 1 and "<dt>threads</dt>" in facts
    executor = re.search(r"<dt>executor</dt><dd>(.*?)</dd>", facts).group(1)
    assert executor == run.manifest["executor"]["executor"]
    # the oracle is the hindsight bound: apart in every table, out of the shares
    assert text.count("oracle (hindsight bound)") == 3
    assert "(oracle, the hindsight bound, left out" in text


def _pixels(png):
    import matplotlib.image
    return matplotlib.image.imread(png)


@needs_browser
def test_it_renders_in_headless_chromium(page, tmp_path):
    dom = browser.dump_dom(page)
    assert dom.count("<table") == 5 and dom.count("<img") == len(report.PLOTS)
    assert "Which strategy is cheapest" in dom
    shot = browser.screenshot(page, tmp_path / "page.png", width=1200, height=2400)
    img = _pixels(shot)
    assert img.shape[1] == 1200 and img.shape[0] == 2400
    ink = (img[..., :3].min(axis=2) < 0.6).mean()       # text, rules and plots drawn
    assert 0.01 < ink < 0.5, ink
    # the first plot is drawn, not a broken-image box: its colours are there
    colourful = (np.ptp(img[..., :3], axis=2) > 0.2).mean()
    assert colourful > 0.001, colourful


@needs_browser
def test_it_prints(page, tmp_path):
    pdf = browser.print_pdf(page, tmp_path / "page.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2
