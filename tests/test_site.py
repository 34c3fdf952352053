"""The course site: built with warnings as errors, lessons show real outputs, math renders offline.

`make test` builds the site first (`make site-build`); where `_build/html` is missing this test builds it.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
LESSONS = ["ch02_generating_text", "ch03_evaluating_reasoning", "ch04_inference_time_scaling",
           "ch05_self_refinement"]


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML / "lessons" / f"{LESSONS[-1]}.html").is_file():
        bin_dir = Path(sys.executable).parent
        if not (ROOT / "book/_static/mathjax/tex-mml-chtml.js").is_file():
            pytest.fail("MathJax is missing: run `make mathjax` (the site serves it itself)")
        done = subprocess.run([str(bin_dir / "jupyter-book"), "build", ".", "--toc", "book/_toc.yml", "--builder",
                               "html", "-W", "-n", "--keep-going"], cwd=ROOT, capture_output=True, text=True,
                              timeout=1800)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return HTML


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_pages_show_executed_outputs_and_local_mathjax(site, lesson):
    page = (site / "lessons" / f"{lesson}.html").read_text()
    assert page.count("cell_output") >= 5  # the lesson ran at build time and its outputs are on the page
    assert 'src="../_images/' in page  # and so is its plot
    assert "Traceback" not in page
    # Sphinx loads MathJax only on pages with math (chapter 5 has none), and then the local copy.
    assert ("_static/mathjax/tex-mml-chtml.js" in page) == ('class="math' in page)
    assert 'class="math' in page or lesson == "ch05_self_refinement"  # chapters 2-4 write formulas
    assert "cdn.jsdelivr.net" not in page and "mathjax@3" not in page  # no CDN: math renders offline
    assert (site / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


def test_site_has_launch_buttons_and_every_page(site):
    page = (site / "lessons" / "ch02_generating_text.html").read_text()
    assert "colab.research.google.com" in page and "mybinder.org" in page
    for name in ["book/intro", "book/setup", "book/learners", "book/instructors", "book/results",
                 "lessons/ch01_understanding_reasoning_models", "book/assignments/ch02/ch02_exercises",
                 "book/assignments/ch04/ch04_exercises", "book/assignments/ch05/ch05_exercises"]:
        assert (site / f"{name}.html").is_file(), name


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_headless_chromium_renders_the_math(site):
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    url = (site / "lessons" / "ch03_evaluating_reasoning.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--allow-file-access-from-files",
             "--virtual-time-budget=10000"]
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([browser, *flags, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=180).stdout
        screenshots = ROOT / "_build" / "screenshots"
        screenshots.mkdir(parents=True, exist_ok=True)
        subprocess.run([browser, *flags, f"--user-data-dir={profile}", "--window-size=1280,2400",
                        f"--screenshot={screenshots / 'ch03.png'}", url], capture_output=True, timeout=180)
    assert "mjx-container" in dom, "MathJax did not typeset the page"
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", dom, flags=re.DOTALL)
    text = re.sub(r"<[^>]+>", " ", text)
    assert not re.search(r"\$\$|\\\(|\\\[", text), "raw TeX delimiters left on the page"
    assert (screenshots / "ch03.png").stat().st_size > 10_000
