"""A headless Chromium, to check that report.html renders in a real browser
(tests/test_html_report.py) and to take the README's screenshot
(docs/make_readme.py). Nothing here runs unless asked; a missing browser is
reported, never installed.

Chromium runs with no network, no sandbox (as root in a container it needs
none), no GPU, and a fresh profile in a temporary directory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio")


def find_browser() -> str | None:
    """The path of a Chromium (or Chrome) executable: $SIMENGINE_BROWSER, else
    the first of NAMES on PATH; None when there is none."""
    explicit = os.environ.get("SIMENGINE_BROWSER")
    if explicit:
        return explicit if Path(explicit).is_file() else shutil.which(explicit)
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(browser, args, page, timeout):
    with tempfile.TemporaryDirectory(prefix="simengine-chromium-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", *args,
               Path(page).resolve().as_uri()]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def screenshot(page, png, width=1200, height=3000, browser=None, timeout=120) -> Path:
    """A PNG of `page` (an HTML file) as Chromium draws it in a window of
    width x height CSS pixels. Raises RuntimeError when no PNG comes out."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found (install the `chromium` package)")
    png = Path(png).resolve()
    png.unlink(missing_ok=True)
    p = _run(browser, [f"--screenshot={png}", f"--window-size={width},{height}"], page, timeout)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {p.returncode}): "
                           f"{p.stderr.strip()[-500:]}")
    return png


def dump_dom(page, browser=None, timeout=120) -> str:
    """The document as Chromium parsed it (serialised DOM)."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found (install the `chromium` package)")
    p = _run(browser, ["--dump-dom"], page, timeout)
    if p.returncode != 0:
        raise RuntimeError(f"chromium --dump-dom failed (exit {p.returncode}): "
                           f"{p.stderr.strip()[-500:]}")
    return p.stdout


def print_pdf(page, pdf, browser=None, timeout=120) -> Path:
    """`page` printed to PDF as Chromium prints it (A4 or Letter by locale)."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no Chromium found (install the `chromium` package)")
    pdf = Path(pdf).resolve()
    pdf.unlink(missing_ok=True)
    p = _run(browser, [f"--print-to-pdf={pdf}", "--no-pdf-header-footer"], page, timeout)
    if not pdf.is_file():
        raise RuntimeError(f"chromium wrote no PDF (exit {p.returncode}): "
                           f"{p.stderr.strip()[-500:]}")
    return pdf
