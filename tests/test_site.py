"""The course site: built with warnings as errors, lessons show real outputs, math renders offline.

`make test` builds the site first (`make site-build`); where `_build/html` is missing this test builds it.
"""

import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
LESSONS = ["ch02_generating_text", "ch03_evaluating_reasoning", "ch04_inference_time_scaling",
           "ch05_self_refinement"]


def build_command() -> list[str]:
    """The site build as the Makefile runs it (warnings are errors)."""
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    return [jupyter_book, "build", ".", "--toc", "book/_toc.yml", "--builder", "html", "-W", "-n", "--keep-going"]


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML / "lessons" / f"{LESSONS[-1]}.html").is_file():
        if not (ROOT / "book/_static/mathjax/tex-mml-chtml.js").is_file():
            pytest.fail("MathJax is missing: run `make mathjax` (the site serves it itself)")
        done = subprocess.run(build_command(), cwd=ROOT, capture_output=True, text=True, timeout=1800)
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
    assignments = [f"book/assignments/{d.name}/{d.name}_exercises" for d in (ROOT / "book" / "assignments").iterdir()]
    for name in ["book/intro", "book/setup", "book/learners", "book/instructors", "book/results",
                 "lessons/ch01_understanding_reasoning_models", *sorted(assignments)]:
        assert (site / f"{name}.html").is_file(), name


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_text_outputs_fit_the_page(site, lesson):
    """Printed output wider than the text column is cut off behind a scroll bar."""
    page = (site / "lessons" / f"{lesson}.html").read_text()
    blocks = re.findall(r'<div class="cell_output docutils container">\s*<div class="output[^"]*">'
                        r'<div class="highlight"><pre>(.*?)</pre>', page, flags=re.DOTALL)
    assert blocks
    lines = [line for block in blocks for line in html.unescape(re.sub(r"<[^>]+>", "", block)).splitlines()]
    assert not [line for line in lines if len(line) > CODE_WIDTH], "output lines wider than the page"


def test_pages_carry_a_favicon_each_script_once_and_no_empty_index(site):
    for name in ["book/intro", "lessons/ch02_generating_text", "book/assignments/ch02/ch02_exercises"]:
        page = (site / f"{name}.html").read_text()
        icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
        assert icon and (site / f"{name}.html").parent.joinpath(icon[1]).resolve().is_file(), name  # no 404
        assert page.count("const THEBE_JS_URL") == 1 and page.count("togglebuttonSelector =") == 1, name
        assert "genindex" not in page, name  # Sphinx's index page has no entries on this site
    assert not (site / "genindex.html").exists()


def test_lesson_and_assignment_pages_hide_the_colab_install_cell(site):
    pages = [site / "lessons" / f"{lesson}.html" for lesson in LESSONS]
    pages += sorted((site / "book" / "assignments").glob("*/*_exercises.html"))
    assert len(pages) > len(LESSONS)  # the assignment pages were found
    for page in pages:
        assert "google.colab" not in page.read_text(), page


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--allow-file-access-from-files", "--virtual-time-budget=10000"]


def test_headless_chromium_renders_the_math(site):
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    url = (site / "lessons" / "ch03_evaluating_reasoning.html").as_uri()
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=180).stdout
        screenshots = ROOT / "_build" / "screenshots"
        screenshots.mkdir(parents=True, exist_ok=True)
        subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,2400",
                        f"--screenshot={screenshots / 'ch03.png'}", url], capture_output=True, timeout=180)
    assert "mjx-container" in dom, "MathJax did not typeset the page"
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", dom, flags=re.DOTALL)
    text = re.sub(r"<[^>]+>", " ", text)
    assert not re.search(r"\$\$|\\\(|\\\[", text), "raw TeX delimiters left on the page"
    assert (screenshots / "ch03.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["book/intro", "lessons/ch02_generating_text", "book/assignments/ch04/ch04_exercises",
                                  "book/results"])
def test_pages_load_in_chromium_without_console_errors(site, name):
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([browser, *CHROMIUM_FLAGS, "--enable-logging=stderr", "--v=0",
                               f"--user-data-dir={profile}", "--dump-dom", (site / f"{name}.html").as_uri()],
                              capture_output=True, text=True, timeout=180)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if re.search(r"Uncaught|Error|Failed to load", line)]
    assert not errors, "\n".join(errors)
    assert "<main" in done.stdout  # the page rendered


def notebook(*code: str) -> nbformat.NotebookNode:
    """A notebook with a title and the given code cells."""
    cells = [nbformat.v4.new_markdown_cell("# A lesson"), *map(nbformat.v4.new_code_cell, code)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.mark.slow  # a small book build with a kernel: about 20 s
def test_a_lesson_cell_that_raises_fails_the_site_build(tmp_path):
    """Lessons execute only in the site build, so a failing cell must fail it (the project's execute settings)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"].pop("exclude_patterns", None)
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(yaml.safe_dump({"title": "t", "only_build_toc_files": True,
                                                          "execute": config["execute"]}))
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: good\n- file: bad\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    nbformat.write(notebook("print(6 * 7)"), tmp_path / "good.ipynb")
    nbformat.write(notebook("x = 1", "raise ValueError('a lesson bug')"), tmp_path / "bad.ipynb")
    done = subprocess.run(build_command(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "bad.ipynb: WARNING: Executing notebook failed" in done.stdout + done.stderr
    assert "good.ipynb: WARNING" not in done.stdout + done.stderr
    # The build records each lesson's execution time; .ci/lesson_times.py prints it (the bad one is not cached).
    times = subprocess.run([sys.executable, str(ROOT / ".ci" / "lesson_times.py"), "_build/.jupyter_cache"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert re.search(r"\n +\d+\.\d  good\.ipynb\n", times.stdout) and "bad.ipynb" not in times.stdout


def test_every_link_to_the_course_repository_uses_the_configured_address():
    """_config.yml's repository.url is where the course is published; README, lessons and notebooks agree."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert url in (ROOT / "README.md").read_text()
    files = [ROOT / "README.md", *ROOT.glob("book/*.md"), *ROOT.glob("lessons/*"), *ROOT.glob("solutions/*/*.ipynb"),
             *ROOT.glob("book/assignments/*/*.ipynb"), ROOT / "binder" / "requirements.txt"]
    for path in files:
        for address in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", path.read_text()):
            assert address == url, f"{path.relative_to(ROOT)} links {address}, not {url}"


# Code lines of the lessons fit the site's text column (longer ones scroll sideways).
CODE_WIDTH = 88


@pytest.mark.parametrize("lesson", sorted(p.stem for p in (ROOT / "lessons").glob("*.ipynb")))
def test_lesson_code_lines_fit_the_page(lesson):
    cells = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4).cells
    long_lines = [line for cell in cells if cell.cell_type == "code" for line in cell.source.splitlines()
                  if len(line) > CODE_WIDTH]
    assert not long_lines, "\n".join(long_lines)
