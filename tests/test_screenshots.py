"""Screenshots of the built book in headless Chromium.

The HTML of the book build (shared with ``test_book.py``) is served on 127.0.0.1 by a
``http.server`` in a thread; each page of ``_toc.yml`` is opened in headless Chromium, which saves
a PNG under ``_build/screenshots/`` and dumps the rendered DOM. The PNG must be a real, non-blank
image; the DOM must show the page, its figures and its Colab link, and no traceback or error.
The throwaway page of the self-test build is checked the same way, so the checks are proven
before any chapter exists.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it). Without it
these tests skip locally and fail under ``CI=true``. ``NLBTUT_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from test_book import (
    ROOT,
    TOC_DOCS,
    build_report,
    page_expectation,
    page_facts,
    page_problems,
    real_book_build,
    selftest_book_build,
)

SHOTS = ROOT / "_build" / "screenshots"
WIDTH, HEIGHT = 1280, 2400
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # mandatory as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
    "--virtual-time-budget=5000",
]

pytestmark = pytest.mark.book


def find_chromium() -> str | None:
    env = os.environ.get("NLBTUT_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        msg = "headless Chromium is missing: apt-get install chromium (or set NLBTUT_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def serve(folder: Path):
    """Start an HTTP server for ``folder`` on a free port of 127.0.0.1; returns (server, url)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def capture(chromium: str, url: str, png: Path) -> str:
    """Screenshot ``url`` into ``png`` and return the DOM after scripts ran."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    cmd = [chromium, *CHROMIUM_FLAGS, f"--screenshot={png}", "--dump-dom", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"chromium failed on {url}: {proc.stderr[-2000:]}"
    return proc.stdout


def assert_real_image(png: Path) -> None:
    from PIL import Image

    assert png.is_file(), f"no screenshot {png}"
    with Image.open(png) as img:
        assert img.format == "PNG"
        assert img.size == (WIDTH, HEIGHT), img.size
        gray = np.asarray(img.convert("L"), dtype=float)
    inked = (gray < 200).mean()  # text, code, figures
    assert gray.std() > 5 and inked > 0.005, f"{png} looks blank (std {gray.std():.1f})"


def shot_path(doc: str) -> Path:
    return SHOTS / f"{doc.replace('/', '_')}.png"


@pytest.fixture(scope="session")
def shots(chromium):
    """``{doc: (png, dom)}`` for every page of the book, taken once."""
    res = real_book_build()
    assert res.returncode == 0, build_report(res)
    server, base = serve(res.html_dir)
    try:
        jobs = {"index": f"{base}/"} | {doc: f"{base}/{doc}.html" for doc in TOC_DOCS}
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {
                doc: pool.submit(capture, chromium, url, shot_path(doc))
                for doc, url in jobs.items()
            }
            return {doc: (shot_path(doc), f.result()) for doc, f in futures.items()}
    finally:
        server.shutdown()
        server.server_close()


def test_landing_page_renders(shots):
    png, dom = shots["index"]
    assert_real_image(png)
    assert "Evaluating LFADS with the Neural Latents Benchmark" in dom
    assert "What changed since the original NLB tutorial" in dom


@pytest.mark.parametrize("doc", TOC_DOCS)
def test_page_screenshot_and_dom(shots, doc):
    png, dom = shots[doc]
    assert_real_image(png)
    assert 'class="bd-article"' in dom or "bd-article" in dom, "the page did not render"
    assert page_problems(ROOT, page_expectation(ROOT, doc), dom) == []


def test_selftest_page_in_the_browser(chromium):
    src, res = selftest_book_build()
    assert res.returncode == 0, build_report(res)
    server, base = serve(res.html_dir)
    try:
        png = SHOTS / "selftest" / "01_throwaway.png"
        dom = capture(chromium, f"{base}/book/01_throwaway.html", png)
    finally:
        server.shutdown()
        server.server_close()
    assert_real_image(png)
    facts = page_facts(dom)
    assert facts.output_images >= 1
    assert facts.colab_links, "the Colab launch button is missing"
    assert page_problems(src, page_expectation(src, "book/01_throwaway"), dom) == []
