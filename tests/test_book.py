"""The book: configuration, table of contents, Colab twins, and the executed build.

Fast checks (no marker) read ``_config.yml``, ``_toc.yml`` and ``book/*.md``. The ``book``-marked
tests consume one build of the whole book (``jupyter-book build . -W -n --keep-going --all`` with
``NLBTUT_FAST=1`` into an empty ``_build/test``, so every page is executed), and one build of a
throwaway book in ``_build/selftest`` (the landing page plus a tiny notebook page) that proves the
checks work before any chapter exists. Everything is data-driven over ``_toc.yml``, so new chapters
are picked up without editing this file.

The two builds are memoised in this module (``real_book_build``, ``selftest_book_build``) so that
``test_screenshots.py`` reuses them instead of building again.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from nlbtut import booktools
from nlbtut.booktools import BuildResult
from nlbtut.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 1800  # seconds; the budget for the whole fast book on a 2-core CPU is 15 minutes

# A page whose code calls one of these is meant to show a figure (override: front matter
# ``nlbtut: {figures: true|false}``).
FIGURE_CALL = re.compile(r"\bplt\.\w+\(|\bplotting\.\w+\(|\bplot_\w+\(|\.plot\(|\.imshow\(")
# An exception summary line ("ValueError: ...") at the start of a line of output.
ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception)\b(?::|$)", re.M)


# --------------------------------------------------------------------------- page analysis


@dataclass
class PageExpectation:
    """What the source of a page promises about its HTML."""

    doc: str  # as in _toc.yml, e.g. "book/03_lfads"
    source: Path
    notebook: bool
    figures: bool
    has_code: bool


def page_expectation(root: Path, doc: str) -> PageExpectation:
    source = root / f"{doc}.md"
    if not booktools.is_notebook_page(source):
        return PageExpectation(doc, source, notebook=False, figures=False, has_code=False)
    import jupytext

    nb = jupytext.read(source)
    code = [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and not c.source.startswith(booktools.INSTALL_MARKER)
    ]
    figures = (nb.metadata.get("nlbtut") or {}).get("figures")
    if figures is None:
        figures = any(FIGURE_CALL.search(src) for src in code)
    return PageExpectation(doc, source, True, bool(figures), has_code=bool(code))


@dataclass
class PageFacts:
    """What the built HTML of a page shows."""

    outputs: int = 0
    output_images: int = 0
    stderr_blocks: int = 0
    traceback_blocks: int = 0
    error_lines: list[str] = field(default_factory=list)
    colab_links: list[str] = field(default_factory=list)


def page_facts(html: str) -> PageFacts:
    """Parse a built page (or a DOM dump of it)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    facts = PageFacts()
    outputs = soup.select("div.cell_output")
    facts.outputs = len(outputs)
    facts.output_images = sum(len(o.find_all("img")) for o in outputs)
    facts.stderr_blocks = len(soup.select(".output.stderr, .stderr"))
    facts.traceback_blocks = len(soup.select(".output.traceback, .traceback"))
    for out in outputs:
        text = out.get_text("\n")
        if "Traceback (most recent call last)" in text:
            facts.traceback_blocks += 1
        facts.error_lines += [m.group(0).strip() for m in ERROR_LINE.finditer(text)]
    if "Traceback (most recent call last)" in soup.get_text() and not facts.traceback_blocks:
        facts.traceback_blocks += 1
    facts.colab_links = sorted(
        {
            a["href"]
            for a in soup.find_all("a", href=True)
            if a["href"].startswith("https://colab.research.google.com/")
        }
    )
    return facts


def page_problems(root: Path, exp: PageExpectation, html: str) -> list[str]:
    """Everything wrong with the built page ``html`` of ``exp`` (empty list: all good)."""
    facts = page_facts(html)
    problems = []
    if facts.stderr_blocks:
        problems.append(f"{facts.stderr_blocks} stderr output block(s)")
    if facts.traceback_blocks:
        problems.append(f"{facts.traceback_blocks} traceback(s)")
    if facts.error_lines:
        problems.append(f"error lines in the outputs: {facts.error_lines[:3]}")
    if exp.notebook:
        if exp.has_code and not facts.outputs:
            problems.append("no executed outputs")
        if exp.figures and not facts.output_images:
            problems.append("no figure in the outputs, but the code plots")
        expected = booktools.colab_url(exp.source, root)
        if expected not in facts.colab_links:
            problems.append(f"no Colab link {expected} (found {facts.colab_links})")
    for link in facts.colab_links:
        target = link.split("/blob/", 1)[-1].split("/", 1)[-1]
        if not target.endswith(".ipynb") or not (root / target).is_file():
            problems.append(f"Colab link {link} does not point at a notebook in the repo")
    return [f"{exp.doc}: {p}" for p in problems]


# --------------------------------------------------------------------------- builds (memoised)

_BUILDS: dict[str, BuildResult] = {}


def real_book_build() -> BuildResult:
    """The whole book, fast mode, executed from scratch into ``_build/test`` (once per session).

    The pages get an empty data/model cache (``NLBTUT_DATA_DIR``) inside the build folder, as on
    a fresh machine: they generate their synthetic data and train their models themselves, and a
    model cached by an older version of the package can never stand in for a fresh one.
    """
    if "real" not in _BUILDS:
        out = ROOT / "_build" / "test"
        shutil.rmtree(out, ignore_errors=True)
        env = {"NLBTUT_DATA_DIR": str(out / "nlbtut-cache")}
        _BUILDS["real"] = booktools.build_book(ROOT, out, fast=True, timeout=BUILD_TIMEOUT, env=env)
    return _BUILDS["real"]


SELFTEST_PAGE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Throwaway page

A formula, $\\lambda_t = \\exp(W f_t + b)$, and a display:

$$
\\log p(y \\mid \\lambda) = y \\log \\lambda - \\lambda - \\log y!
$$

```{code-cell} ipython3
import sys

import matplotlib.pyplot as plt

print("stdout " + "is shown")
print("stderr " + "must be removed", file=sys.stderr)
```

```{code-cell} ipython3
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([0, 1, 2], [0, 1, 4])
plt.show()
```
"""


def make_book_copy(dest: Path, pages: dict[str, str]) -> Path:
    """A book in ``dest`` with the real ``_config.yml``, a minimal landing page and ``pages``.

    ``pages`` maps a stem (``01_x``) to a page source; the pages are listed in the toc after the
    landing page and synced (install cell, Colab twin) with :func:`booktools.sync`.
    """
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "book").mkdir(parents=True)
    shutil.copy2(ROOT / "_config.yml", dest / "_config.yml")
    landing = booktools.toc_files(ROOT)[0]
    (dest / f"{landing}.md").write_text("# Self-test book\n\nA landing page.\n", encoding="utf-8")
    toc = {"format": "jb-book", "root": landing}
    if pages:
        toc["chapters"] = [{"file": f"book/{stem}"} for stem in pages]
    (dest / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    for stem, text in pages.items():
        (dest / "book" / f"{stem}.md").write_text(text, encoding="utf-8")
    booktools.sync(dest)
    return dest


def selftest_book_build() -> tuple[Path, BuildResult]:
    """The landing page plus a throwaway notebook page, built into ``_build/selftest``."""
    if "selftest" not in _BUILDS:
        src = make_book_copy(ROOT / "_build" / "selftest" / "src", {"01_throwaway": SELFTEST_PAGE})
        out = ROOT / "_build" / "selftest" / "out"
        shutil.rmtree(out, ignore_errors=True)
        _BUILDS["selftest"] = booktools.build_book(src, out, fast=True, timeout=300)
    return ROOT / "_build" / "selftest" / "src", _BUILDS["selftest"]


def build_report(res: BuildResult) -> str:
    tail = "\n".join(res.log.splitlines()[-60:])
    return f"rc={res.returncode} after {res.seconds:.0f} s; warnings: {res.warnings}\n{tail}"


@pytest.fixture(scope="session")
def book_build() -> BuildResult:
    return real_book_build()


@pytest.fixture(scope="session")
def selftest_build() -> tuple[Path, BuildResult]:
    return selftest_book_build()


TOC_DOCS = booktools.toc_files(ROOT)
NOTEBOOK_PAGES = [p.relative_to(ROOT).as_posix() for p in booktools.notebook_pages(ROOT)]


# --------------------------------------------------------------------------- configuration


def test_config_has_the_settings_the_build_relies_on():
    cfg = booktools.load_config(ROOT)
    assert cfg["only_build_toc_files"] is True
    excluded = set(cfg["exclude_patterns"])
    for pattern in (".*", "**/.*", ".venv*", "_build", "book/*.ipynb", "tests", "nlbtut", "docs"):
        assert pattern in excluded, f"_config.yml: exclude_patterns lacks {pattern!r}"
    assert cfg["execute"]["allow_errors"] is False
    assert cfg["execute"]["stderr_output"] == "remove"
    assert cfg["execute"]["timeout"] >= 600
    assert cfg["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert "nlbtut.booktools" in cfg["sphinx"]["extra_extensions"]
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert booktools.repository_url(ROOT) == "https://github.com/nlbtut/nlbtut"
    assert cfg["repository"]["path_to_book"] == ""


def test_repository_url_is_validated(tmp_path):
    src = make_book_copy(tmp_path / "b", {})
    cfg = (src / "_config.yml").read_text()
    (src / "_config.yml").write_text(cfg.replace("https://github.com/nlbtut/nlbtut", "nlbtut"))
    with pytest.raises(ConfigError, match="repository.url"):
        booktools.repository_url(src)
    (src / "_config.yml").write_text(cfg.replace('path_to_book: ""', "path_to_book: ."))
    with pytest.raises(ConfigError, match="path_to_book"):
        booktools.colab_url("book/x.md", src)


def test_colab_url_follows_the_config(tmp_path):
    src = make_book_copy(tmp_path / "b", {})
    assert booktools.colab_url("book/03_lfads.md", src) == (
        "https://colab.research.google.com/github/nlbtut/nlbtut/blob/main/book/03_lfads.ipynb"
    )
    cfg = (src / "_config.yml").read_text()
    cfg = cfg.replace("github.com/nlbtut/nlbtut", "github.com/someone/fork").replace(
        "branch: main", "branch: dev"
    )
    (src / "_config.yml").write_text(cfg)
    assert booktools.colab_url(src / "book" / "x.md", src) == (
        "https://colab.research.google.com/github/someone/fork/blob/dev/book/x.ipynb"
    )
    assert '"nlbtut @ git+https://github.com/someone/fork@dev"' in booktools.install_cell_source(
        src
    )


# --------------------------------------------------------------------------- toc and twins


def test_toc_and_pages_agree():
    assert TOC_DOCS[0] == "book/intro"
    assert booktools.check_toc(ROOT) == []


def test_pages_have_in_sync_colab_twins_without_outputs():
    assert booktools.check_pages(ROOT) == []


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_colab_twin_is_not_git_ignored(page):
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    twin = booktools.twin_path(page)
    proc = subprocess.run([git, "check-ignore", "-q", str(twin)], cwd=ROOT, check=False)
    assert proc.returncode == 1, f"{twin} is git-ignored, so Colab could never open it"


def test_check_finds_every_kind_of_drift(tmp_path):
    src = make_book_copy(tmp_path / "b", {"01_x": SELFTEST_PAGE})
    page, twin = src / "book" / "01_x.md", src / "book" / "01_x.ipynb"
    assert booktools.check(src) == []
    assert booktools.sync(src) == []  # idempotent

    page.write_text(page.read_text().replace("[0, 1, 4]", "[0, 1, 9]"))
    assert any("out of sync" in p for p in booktools.check_pages(src))
    assert booktools.sync(src) == [twin]
    assert booktools.check(src) == []

    import jupytext
    import nbformat

    nb = jupytext.read(twin)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")]
    jupytext.write(nb, twin)
    assert any("has outputs" in p for p in booktools.check_pages(src))

    booktools.sync(src)
    cfg = src / "_config.yml"
    cfg.write_text(cfg.read_text().replace("github.com/nlbtut/nlbtut", "github.com/other/repo"))
    assert any("disagrees with _config.yml" in p for p in booktools.check_pages(src))
    assert set(booktools.sync(src)) == {page, twin}
    assert "git+https://github.com/other/repo@main" in page.read_text()
    assert booktools.check(src) == []

    twin.unlink()
    assert any("01_x.ipynb is missing" in p for p in booktools.check_pages(src))
    (src / "book" / "02_y.md").write_text("# Not in the toc\n")
    (src / "book" / "03_z.ipynb").write_text("{}")
    problems = booktools.check(src)
    assert any("02_y.md is not in _toc.yml" in p for p in problems)
    assert any("03_z.ipynb has no notebook page" in p for p in problems)
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/9\n")
    assert any("lists 'book/9'" in p for p in booktools.check_toc(src))


def test_install_cell_is_first_hidden_and_uses_page_extras(tmp_path):
    page = SELFTEST_PAGE.replace("kernelspec:", "nlbtut:\n  colab_extras: [autolfads]\nkernelspec:")
    src = make_book_copy(tmp_path / "b", {"06_auto": page})
    import jupytext

    nb = jupytext.read(src / "book" / "06_auto.md")
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.startswith(booktools.INSTALL_MARKER)
    assert first.metadata["tags"] == ["remove-cell"]
    assert '"nlbtut[autolfads] @ git+https://github.com/nlbtut/nlbtut@main"' in first.source
    assert 'if "google.colab" in sys.modules:' in first.source
    assert booktools.check(src) == []


def test_cli_check_reports_problems(tmp_path, capsys):
    src = make_book_copy(tmp_path / "b", {"01_x": SELFTEST_PAGE})
    assert booktools.main(["check", str(src)]) == 0
    (src / "book" / "01_x.ipynb").unlink()
    assert booktools.main(["check", str(src)]) == 1
    assert "01_x.ipynb is missing" in capsys.readouterr().err
    assert booktools.main(["sync", str(src)]) == 0
    assert booktools.main(["bogus"]) == 2


def test_page_analysis_catches_bad_output():
    exp = PageExpectation("book/x", ROOT / "book" / "x.md", notebook=False, figures=False,
                          has_code=False)  # fmt: skip
    clean = '<div class="cell_output"><pre>loss 0.25</pre></div>'
    assert page_problems(ROOT, exp, clean) == []
    bad = [
        '<div class="cell_output"><div class="output stderr"><pre>W0000 cuda</pre></div></div>',
        '<div class="cell_output"><pre>Traceback (most recent call last):\n  x</pre></div>',
        '<div class="cell_output"><pre>nlbtut.errors.SubmissionError: bad shape</pre></div>',
        '<div class="cell_output"><div class="output traceback"><pre>boom</pre></div></div>',
    ]
    for html in bad:
        assert page_problems(ROOT, exp, html), html
    nb = PageExpectation("book/x", ROOT / "book" / "x.md", notebook=True, figures=True,
                         has_code=True)  # fmt: skip
    problems = " ".join(page_problems(ROOT, nb, clean))
    assert "no figure" in problems and "no Colab link" in problems
    assert "no executed outputs" in " ".join(page_problems(ROOT, nb, "<p>text</p>"))
    dangling = '<a href="https://colab.research.google.com/github/o/r/blob/main/book/none.ipynb">'
    assert "does not point at a notebook" in " ".join(page_problems(ROOT, exp, dangling))


# --------------------------------------------------------------------------- the built book


@pytest.mark.book
def test_book_builds_without_warnings(book_build):
    assert book_build.returncode == 0, build_report(book_build)
    assert book_build.warning_count == 0, build_report(book_build)


@pytest.mark.book
@pytest.mark.parametrize("doc", TOC_DOCS)
def test_built_page_is_executed_and_clean(book_build, doc):
    html = book_build.html_dir / f"{doc}.html"
    assert html.is_file(), f"{html} was not built\n{build_report(book_build)}"
    exp = page_expectation(ROOT, doc)
    assert page_problems(ROOT, exp, html.read_text(encoding="utf-8")) == []


@pytest.mark.book
def test_landing_page_redirect(book_build):
    index = (book_build.html_dir / "index.html").read_text(encoding="utf-8")
    assert f"{TOC_DOCS[0]}.html" in index


@pytest.mark.book
def test_selftest_book_proves_the_checks(selftest_build):
    src, res = selftest_build
    assert res.returncode == 0, build_report(res)
    assert res.warning_count == 0, build_report(res)
    html = (res.html_dir / "book" / "01_throwaway.html").read_text(encoding="utf-8")
    exp = page_expectation(src, "book/01_throwaway")
    assert exp.notebook and exp.figures
    assert page_problems(src, exp, html) == []
    facts = page_facts(html)
    assert facts.output_images >= 1
    assert facts.colab_links == [
        "https://colab.research.google.com/github/nlbtut/nlbtut/blob/main/book/01_throwaway.ipynb"
    ]
    assert "stdout is shown" in html
    assert "stderr must be removed" not in html  # stderr_output: remove
    assert "google.colab" not in html  # the install cell is hidden
    assert "math notranslate" in html  # the formulas were rendered as math, with no warning


@pytest.mark.book
def test_failing_cell_and_stale_twin_fail_the_build(tmp_path):
    broken = SELFTEST_PAGE.replace('print("stdout " + "is shown")', "1 / 0")
    src = make_book_copy(tmp_path / "b", {"01_ok": SELFTEST_PAGE, "02_broken": broken})
    page = src / "book" / "01_ok.md"
    page.write_text(page.read_text().replace("[0, 1, 4]", "[0, 1, 9]"))  # twin now stale
    res = booktools.build_book(src, tmp_path / "out", fast=True, timeout=300)
    assert res.returncode != 0, build_report(res)
    assert res.warning_count != 0, build_report(res)  # None (aborted) or a positive count
    assert "ZeroDivisionError" in res.log, build_report(res)
    assert "01_ok.ipynb is out of sync" in res.log, build_report(res)


def test_build_result_reads_sphinx_summary():
    def res(log: str) -> BuildResult:
        return BuildResult(0, log, ROOT, 0.0)

    absl = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
    assert res(f"{absl}\n\x1b[01mbuild succeeded.\x1b[39;49;00m\n").warning_count == 0
    failed = "build finished with problems, 2 warnings (with warnings treated as errors)."
    assert res(f"x.md:3: WARNING: bad\n{failed}").warning_count == 2
    assert res("Traceback ...").warning_count is None
    assert res(f"{absl}\nx.md:3: WARNING: bad\n").warnings == ["x.md:3: WARNING: bad"]
