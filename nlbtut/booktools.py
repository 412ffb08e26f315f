"""Keep the book's pages, their Colab notebooks and ``_config.yml`` in step.

The book's pages are MyST Markdown notebooks, ``book/NN_name.md``: they are the source of truth.
Colab opens only ``.ipynb`` files from GitHub, so every page has a committed jupytext twin
``book/NN_name.ipynb`` without outputs (header ``formats: ipynb,md:myst``); when it exists,
sphinx-book-theme points the page's Colab button at it. The first code cell of every page
installs nlbtut when it runs on Colab; the tag ``remove-cell`` hides it in the HTML and its URL
is derived from ``repository.url`` / ``repository.branch`` in ``_config.yml``, the one place the
repository is named.

Usage, from the repository root::

    python -m nlbtut.booktools sync    # write the install cells and the .ipynb twins
    python -m nlbtut.booktools check   # list what is out of step; exit status 1 if anything is

The module is also a Sphinx extension (``sphinx.extra_extensions`` in ``_config.yml``): it sets
quiet TensorFlow defaults for the kernels and turns every problem :func:`check` finds into a
build warning, so ``jupyter-book build -W`` fails on a stale Colab notebook or on a page missing
from ``_toc.yml`` (which ``only_build_toc_files`` would otherwise skip silently).

Written by hand: jupytext pairs files but knows nothing about the install cell, the repository
URL of a Jupyter Book or its table of contents.

Example
-------
>>> from nlbtut import booktools
>>> booktools.colab_url("book/03_lfads.md")  # doctest: +SKIP
'https://colab.research.google.com/github/nlbtut/nlbtut/blob/main/book/03_lfads.ipynb'
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlbtut.errors import ConfigError

__all__ = [
    "INSTALL_MARKER",
    "BuildResult",
    "build_book",
    "check",
    "check_pages",
    "check_toc",
    "colab_url",
    "find_root",
    "install_cell_source",
    "is_notebook_page",
    "load_config",
    "notebook_pages",
    "repository_url",
    "sync",
    "toc_files",
    "twin_path",
]

INSTALL_MARKER = "# Colab only: install nlbtut (written by `python -m nlbtut.booktools sync`)"
"""First line of the hidden install cell; it identifies the cell."""

TWIN_FORMATS = "ipynb,md:myst"
_GITHUB_URL = re.compile(r"^https://github\.com/(?P<org>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")


# --------------------------------------------------------------------------- configuration


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the book root: the nearest folder at or above ``start`` holding ``_config.yml``.

    Parameters
    ----------
    start : path, optional
        Where to start looking (default: the current directory).

    Raises
    ------
    ConfigError
        If no folder at or above ``start`` has both ``_config.yml`` and ``_toc.yml``.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    raise ConfigError(
        f"no book root at or above {here}: expected a folder with _config.yml and _toc.yml"
    )


def _root(root: str | os.PathLike[str] | None) -> Path:
    return Path(root).resolve() if root is not None else find_root()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} is missing") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping, got {type(data).__name__}")
    return data


def load_config(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Return the parsed ``_config.yml`` of the book at ``root`` (default: :func:`find_root`)."""
    return _read_yaml(_root(root) / "_config.yml")


def _repository(root: str | os.PathLike[str] | None) -> tuple[str, str, str, str]:
    """``(url, org, repo, branch)`` from ``repository`` in ``_config.yml``, validated."""
    cfg = load_config(root)
    repo = cfg.get("repository") or {}
    url = str(repo.get("url", "")).strip()
    match = _GITHUB_URL.match(url)
    if not match:
        raise ConfigError(
            f"_config.yml: repository.url must be https://github.com/ORG/REPO, got {url!r}"
        )
    branch = str(repo.get("branch", "main")).strip() or "main"
    path_to_book = str(repo.get("path_to_book", "") or "")
    if path_to_book != "":
        raise ConfigError(
            "_config.yml: repository.path_to_book must be '' (the book root is the repository "
            f"root; '.' breaks the links); got {path_to_book!r}"
        )
    return f"https://github.com/{match['org']}/{match['repo']}", match["org"], match["repo"], branch


def repository_url(root: str | os.PathLike[str] | None = None) -> str:
    """The GitHub URL of the repository, ``https://github.com/ORG/REPO``, from ``_config.yml``."""
    return _repository(root)[0]


def colab_url(page: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str:
    """The Colab URL of a notebook page: the ``.ipynb`` twin on the configured branch.

    Parameters
    ----------
    page : path
        The page, relative to the book root or absolute (``book/03_lfads.md``).
    root : path, optional
        The book root (default: :func:`find_root`).

    Examples
    --------
    >>> colab_url("book/03_lfads.md")  # doctest: +SKIP
    'https://colab.research.google.com/github/nlbtut/nlbtut/blob/main/book/03_lfads.ipynb'
    """
    base = _root(root)
    _, org, repo, branch = _repository(base)
    cfg = load_config(base)
    colab = str((cfg.get("launch_buttons") or {}).get("colab_url", "")).rstrip("/")
    if not colab:
        raise ConfigError("_config.yml: launch_buttons.colab_url is not set")
    rel = Path(page)
    if rel.is_absolute():
        rel = rel.resolve().relative_to(base)
    return f"{colab}/github/{org}/{repo}/blob/{branch}/{rel.with_suffix('.ipynb').as_posix()}"


def install_cell_source(
    root: str | os.PathLike[str] | None = None, extras: Sequence[str] = ()
) -> str:
    """Source of the hidden first code cell that installs nlbtut on Colab (a no-op elsewhere).

    Parameters
    ----------
    root : path, optional
        The book root whose ``_config.yml`` names the repository and branch.
    extras : sequence of str
        Optional extras of nlbtut the page needs on Colab (``["autolfads"]``), taken from the
        page metadata ``nlbtut: {colab_extras: [...]}``.
    """
    url, _, _, branch = _repository(root)
    for extra in extras:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(extra)):
            raise ConfigError(f"colab_extras: {extra!r} is not a valid extra name")
    spec = "nlbtut" + (f"[{','.join(extras)}]" if extras else "")
    return (
        f"{INSTALL_MARKER}\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "{spec} @ git+{url}@{branch}"'
    )


# --------------------------------------------------------------------------- pages and toc


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the YAML front matter is invalid: {exc}") from exc
    return data if isinstance(data, dict) else {}


def is_notebook_page(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a MyST Markdown notebook (jupytext ``myst`` header and a kernelspec)."""
    meta = _front_matter(Path(path))
    fmt = ((meta.get("jupytext") or {}).get("text_representation") or {}).get("format_name")
    return fmt == "myst" and bool(meta.get("kernelspec"))


def notebook_pages(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The notebook pages ``book/*.md`` of the book at ``root``, sorted by name."""
    return [p for p in sorted((_root(root) / "book").glob("*.md")) if is_notebook_page(p)]


def twin_path(page: str | os.PathLike[str]) -> Path:
    """The ``.ipynb`` twin of a page: same folder and name."""
    return Path(page).with_suffix(".ipynb")


def _toc_entries(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if "file" in node:
            yield str(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                yield from _toc_entries(child)
    elif isinstance(node, list):
        for child in node:
            yield from _toc_entries(child)


def toc_files(root: str | os.PathLike[str] | None = None) -> list[str]:
    """The documents of ``_toc.yml`` in reading order, as written there (``book/intro`` first).

    Raises
    ------
    ConfigError
        If ``_toc.yml`` has no ``root`` entry.
    """
    toc = _read_yaml(_root(root) / "_toc.yml")
    if not toc.get("root"):
        raise ConfigError("_toc.yml: the 'root' entry (the landing page) is missing")
    return [str(toc["root"]), *_toc_entries(toc)]


def _resolve_doc(base: Path, doc: str) -> Path | None:
    cand = base / doc
    if cand.suffix in (".md", ".ipynb") and cand.is_file():
        return cand
    for suffix in (".md", ".ipynb"):
        if cand.with_name(cand.name + suffix).is_file():
            return cand.with_name(cand.name + suffix)
    return None


def check_toc(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Problems of ``_toc.yml``: listed pages that do not exist, ``book/*.md`` pages not listed."""
    base = _root(root)
    problems: list[str] = []
    listed: set[Path] = set()
    for doc in toc_files(base):
        found = _resolve_doc(base, doc)
        if found is None:
            problems.append(f"_toc.yml lists {doc!r} but there is no {doc}.md under {base}")
        else:
            listed.add(found.resolve())
    for page in sorted((base / "book").glob("*.md")):
        if page.resolve() not in listed:
            rel = page.relative_to(base).with_suffix("").as_posix()
            problems.append(f"{rel}.md is not in _toc.yml (add '- file: {rel}')")
    return problems


# --------------------------------------------------------------------------- notebooks


def _jupytext():
    import jupytext  # the 'book' extra; imported here so `import nlbtut` stays light

    return jupytext


def _read_page(page: Path):
    return _jupytext().reads(page.read_text(encoding="utf-8"), fmt="md:myst")


def _extras(nb) -> list[str]:
    extras = (nb.metadata.get("nlbtut") or {}).get("colab_extras") or []
    if isinstance(extras, str) or not isinstance(extras, list):
        raise ConfigError(f"nlbtut.colab_extras must be a list of extra names, got {extras!r}")
    return [str(e) for e in extras]


def _first_code_cell(nb) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)


def _with_install_cell(nb, source: str):
    """A copy of ``nb`` whose first code cell is the install cell with ``source``."""
    nbf = _nbformat()
    nb = copy.deepcopy(nb)
    first = _first_code_cell(nb)
    if first is not None and nb.cells[first].source.startswith(INSTALL_MARKER):
        nb.cells[first].source = source
        cell = nb.cells[first]
    else:
        cell = nbf.v4.new_code_cell(source)
        nb.cells.insert(first if first is not None else len(nb.cells), cell)
    tags = list(cell.metadata.get("tags", []))
    if "remove-cell" not in tags:
        cell.metadata["tags"] = ["remove-cell", *tags]
    return nb


def _nbformat():
    import nbformat

    return nbformat


def _twin_of(nb):
    """The ``.ipynb`` twin of a page notebook: outputs stripped, deterministic cell ids."""
    twin = copy.deepcopy(nb)
    twin.metadata.setdefault("jupytext", {})
    twin.metadata["jupytext"].pop("text_representation", None)
    for i, cell in enumerate(twin.cells):
        cell["id"] = f"cell-{i:03d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return twin


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def sync(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the install cell into every notebook page and (re)write its ``.ipynb`` twin.

    The ``.md`` page is rewritten only when its install cell or its ``formats`` header changes;
    the twin only when its content changes, so running ``sync`` twice changes nothing.

    Parameters
    ----------
    root : path, optional
        The book root (default: :func:`find_root`).

    Returns
    -------
    list of Path
        The files written.
    """
    base = _root(root)
    jt = _jupytext()
    written: list[Path] = []
    for page in notebook_pages(base):
        nb = _read_page(page)
        new = _with_install_cell(nb, install_cell_source(base, _extras(nb)))
        new.metadata.setdefault("jupytext", {})["formats"] = TWIN_FORMATS
        _keep_page_metadata(new)
        if _cells(new) != _cells(nb) or nb.metadata.get("jupytext", {}).get("formats") != (
            TWIN_FORMATS
        ):
            _write_atomic(page, jt.writes(new, fmt="md:myst"))
            written.append(page)
        twin = twin_path(page)
        text = jt.writes(_twin_of(new), fmt="ipynb")
        if not twin.is_file() or twin.read_text(encoding="utf-8") != text:
            _write_atomic(twin, text)
            written.append(twin)
    return written


def _keep_page_metadata(nb) -> None:
    """Make jupytext keep the page's own front-matter keys (``nlbtut: ...``) in the ``.md``."""
    own = sorted(k for k in nb.metadata if k not in ("jupytext", "kernelspec", "language_info"))
    if not own:
        return
    meta = nb.metadata["jupytext"]
    current = [k for k in str(meta.get("notebook_metadata_filter", "")).split(",") if k]
    meta["notebook_metadata_filter"] = ",".join(current + [k for k in own if k not in current])


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def check_pages(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Problems of the notebook pages and their Colab twins.

    Reported: a page whose first code cell is not the install cell ``_config.yml`` implies, or
    that is not hidden; a page without the ``formats: ipynb,md:myst`` header; a missing twin;
    a twin whose cells (type, source, tags) differ from the page's; a twin with outputs; a twin
    without a page.
    """
    base = _root(root)
    jt = _jupytext()
    problems: list[str] = []
    pages = notebook_pages(base)
    for page in pages:
        rel = page.relative_to(base).as_posix()
        nb = _read_page(page)
        expected = install_cell_source(base, _extras(nb))
        first = _first_code_cell(nb)
        if first is None or not nb.cells[first].source.startswith(INSTALL_MARKER):
            problems.append(f"{rel}: the first code cell is not the Colab install cell")
        else:
            cell = nb.cells[first]
            if cell.source.strip() != expected.strip():
                problems.append(
                    f"{rel}: the Colab install cell disagrees with _config.yml "
                    f"(expected {expected.splitlines()[-1].strip()!r})"
                )
            if "remove-cell" not in cell.metadata.get("tags", []):
                problems.append(f"{rel}: the Colab install cell lacks the 'remove-cell' tag")
        if nb.metadata.get("jupytext", {}).get("formats") != TWIN_FORMATS:
            problems.append(f"{rel}: the jupytext header lacks 'formats: {TWIN_FORMATS}'")
        twin = twin_path(page)
        if not twin.is_file():
            problems.append(f"{rel}: the Colab twin {twin.name} is missing")
            continue
        try:
            tnb = jt.reads(twin.read_text(encoding="utf-8"), fmt="ipynb")
        except Exception as exc:  # a corrupt twin is a problem to report, not a crash
            problems.append(f"{rel}: the Colab twin {twin.name} cannot be read: {exc}")
            continue
        if _cells(tnb) != _cells(nb):
            problems.append(f"{rel}: the Colab twin {twin.name} is out of sync with the page")
        if any(c.cell_type == "code" and (c.outputs or c.execution_count) for c in tnb.cells):
            problems.append(f"{rel}: the Colab twin {twin.name} has outputs (strip them)")
    stems = {p.stem for p in pages}
    for twin in sorted((base / "book").glob("*.ipynb")):
        if twin.stem not in stems:
            problems.append(
                f"{twin.relative_to(base).as_posix()} has no notebook page {twin.stem}.md"
            )
    if problems:
        problems.append("fix: edit the .md pages only, then run `python -m nlbtut.booktools sync`")
    return problems


def check(root: str | os.PathLike[str] | None = None) -> list[str]:
    """All problems: :func:`check_toc` and :func:`check_pages`."""
    return check_toc(root) + check_pages(root)


# --------------------------------------------------------------------------- building


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SUMMARY = re.compile(r"build (succeeded|finished with problems)(?:, (\d+) warnings?)?")
# kernel chatter that lands in the build log (ipykernel echoes fd output); not Sphinx warnings
_KERNEL_NOISE = ("[IPKernelApp]", "before absl::InitializeLog()")


@dataclass(frozen=True)
class BuildResult:
    """Outcome of :func:`build_book`: exit status, combined log, HTML folder, wall seconds."""

    returncode: int
    log: str
    html_dir: Path
    seconds: float

    @property
    def warning_count(self) -> int | None:
        """Sphinx's own count of warnings from its summary line; None if the build crashed."""
        found = _SUMMARY.findall(_ANSI.sub("", self.log))
        if not found:
            return None
        return int(found[-1][1] or 0)

    @property
    def warnings(self) -> list[str]:
        """The log's warning and error lines, for reports (kernel chatter left out)."""
        lines = _ANSI.sub("", self.log).splitlines()
        return [
            ln
            for ln in lines
            if re.search(r"\b(WARNING|ERROR|CRITICAL)\b:", ln)
            and not any(noise in ln for noise in _KERNEL_NOISE)
        ]


def build_book(
    root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    fast: bool = True,
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> BuildResult:
    """Build the book at ``root`` into ``output_dir/_build/html``, warnings as errors.

    Runs ``jupyter-book build ROOT -W -n --keep-going --all --path-output OUTPUT_DIR``. With an
    empty ``output_dir`` the execution cache is empty too, so every page is executed.

    Parameters
    ----------
    root : path
        The book root (``_config.yml``, ``_toc.yml``).
    output_dir : path
        Where ``_build`` is made; use a fresh folder to force execution.
    fast : bool
        Set ``NLBTUT_FAST=1`` (fewer epochs, smaller data) for the pages.
    timeout : float
        Seconds before the build is killed; a killed build has return code -9.
    env : dict, optional
        Extra environment variables.

    Examples
    --------
    >>> res = build_book(".", "_build/test")  # doctest: +SKIP
    >>> res.returncode, res.html_dir
    (0, PosixPath('_build/test/_build/html'))
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root)]
    cmd += ["-W", "-n", "--keep-going", "--all", "--path-output", str(output_dir)]
    run_env = dict(os.environ)
    run_env.pop("MPLBACKEND", None)  # a non-inline backend (pytest sets Agg) hides the figures
    run_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run_env["PYTHONUNBUFFERED"] = "1"
    if fast:
        run_env["NLBTUT_FAST"] = "1"
    run_env.update(env or {})
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=run_env, timeout=timeout, check=False
        )
        rc, log = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        rc, log = -9, f"{out}\nbuild killed after {timeout:.0f} s"
    return BuildResult(rc, log, Path(output_dir) / "_build" / "html", time.perf_counter() - start)


# --------------------------------------------------------------------------- Sphinx extension


def setup(app) -> dict[str, Any]:
    """Sphinx extension: quiet TensorFlow in the kernels; warn about what :func:`check` finds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def _warn(app_) -> None:
        from sphinx.util import logging

        logger = logging.getLogger(__name__)
        root = Path(app_.srcdir)
        if not (root / "_toc.yml").is_file():
            return
        for problem in check(root):
            logger.warning(problem, type="nlbtut", subtype="colab")

    app.connect("builder-inited", _warn)
    from nlbtut import __version__

    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nlbtut.booktools sync|check [ROOT]``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("sync", "check") or len(args) > 2:
        print("usage: python -m nlbtut.booktools sync|check [BOOK_ROOT]", file=sys.stderr)
        return 2
    try:
        root = find_root(args[1] if len(args) > 1 else None)
        if args[0] == "sync":
            for path in sync(root):
                print(f"wrote {path.relative_to(root)}")
        problems = check(root)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
