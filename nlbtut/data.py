"""``prepare_data``: the one call the book pages make to get a dataset's files.

It returns the folder holding the NWB files of an NLB'21 dataset, from one of
two sources:

* ``"dandi"``: the real files, downloaded once into the cache
  (:func:`nlbtut.download.download_dataset`);
* ``"synthetic"``: a synthetic dataset in the same layout and with the same
  names (:func:`nlbtut.synthetic.generate_dataset`), generated once and cached
  under ``<cache>/synthetic/<preset>-seed<seed>/``.

``"auto"`` (the default) picks ``dandi`` on Colab or when the environment
variable ``NLBTUT_DATA_SOURCE=dandi`` is set, and ``synthetic`` otherwise;
``NLBTUT_DATA_SOURCE`` (``dandi`` or ``synthetic``) overrides ``source``. One
line is printed saying which data is used, so every page shows it.

>>> from nlbtut import prepare_data, NWBDataset  # doctest: +SKIP
>>> data = prepare_data("mc_maze_small")  # doctest: +SKIP
Using synthetic mc_maze_small data (seed 0) in ~/.cache/nlbtut/synthetic/mc_maze_small-seed0/...
>>> ds = NWBDataset(data, "*small")  # doctest: +SKIP
>>> data.source, data.folder  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nlbtut.datasets import get_dataset_info
from nlbtut.errors import DataError

__all__ = ["DataPath", "SOURCES", "prepare_data", "resolve_source"]

SOURCES = ("auto", "dandi", "synthetic")
ENV_VAR = "NLBTUT_DATA_SOURCE"


class DataPath(type(Path())):  # type: ignore[misc]  # the concrete Path class of this OS
    """The dataset folder (a :class:`pathlib.Path`) that also says where it came from.

    ``source`` is ``"dandi"`` or ``"synthetic"``, ``dataset`` the NLB dataset
    name, ``seed`` the synthetic seed (None for real data); ``folder`` is the
    plain :class:`~pathlib.Path`. Paths derived from it (``data / name``) are
    ordinary paths.
    """

    source: str = "unknown"
    dataset: str = ""
    seed: int | None = None

    @property
    def folder(self) -> Path:
        """The folder as a plain :class:`pathlib.Path`."""
        return Path(self)


def _tag(path: Path, source: str, dataset: str, seed: int | None) -> DataPath:
    out = DataPath(path)
    out.source, out.dataset, out.seed = source, dataset, seed
    return out


def resolve_source(source: str = "auto") -> str:
    """The data source ``prepare_data`` uses: ``"dandi"`` or ``"synthetic"``.

    An explicit ``"dandi"`` or ``"synthetic"`` is used as given (a page that needs the ground
    truth of the synthetic data asks for it by name). ``"auto"`` means ``NLBTUT_DATA_SOURCE``
    when it is set, else ``dandi`` on Colab and ``synthetic`` elsewhere.
    """
    if not isinstance(source, str) or source.strip().lower() not in SOURCES:
        raise DataError(f"source must be one of {SOURCES}, got {source!r}")
    source = source.strip().lower()
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env:
        if env not in SOURCES:
            raise DataError(f"{ENV_VAR}={env!r} is not a data source; expected one of {SOURCES}")
        if source == "auto":
            source = env
    if source == "auto":
        return "dandi" if "google.colab" in sys.modules else "synthetic"
    return source


def prepare_data(
    dataset: str = "mc_maze_small",
    source: str = "auto",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
) -> DataPath:
    """Return the folder with the NWB files of ``dataset``, downloading or generating them once.

    Parameters
    ----------
    dataset : str
        NLB'21 dataset name (``mc_maze_small``, ``mc_rtt``, ...). The synthetic
        source generates the preset of the same name.
    source : {"auto", "dandi", "synthetic"}
        Where the data come from (see the module docstring); the environment
        variable ``NLBTUT_DATA_SOURCE`` overrides it.
    data_dir : str or Path, optional
        Root of the cache; default :func:`nlbtut.download.default_cache_dir`
        (``$NLBTUT_DATA_DIR`` or ``~/.cache/nlbtut``).
    seed : int
        Seed of the synthetic data (ignored for DANDI).
    progress : bool
        Show progress bars while downloading or generating.

    Returns
    -------
    DataPath
        The ``sub-<Subject>`` folder (a :class:`pathlib.Path`) with attributes
        ``source`` (``"dandi"``/``"synthetic"``), ``dataset``, ``seed`` and ``folder``.

    Raises
    ------
    DataError
        Unknown dataset or source.
    nlbtut.errors.DownloadError
        ``dandi`` when the archive cannot be reached.
    """
    from nlbtut.download import default_cache_dir

    info = get_dataset_info(dataset)
    src = resolve_source(source)
    root = Path(data_dir).expanduser() if data_dir is not None else default_cache_dir()
    if src == "dandi":
        from nlbtut.download import download_dataset

        folder = download_dataset(info.name, root, progress=progress)
        print(f"Using the real {info.name} data from DANDI ({info.dandiset_id}) in {folder}")
        return _tag(folder, "dandi", info.name, None)

    from nlbtut.synthetic import generate_dataset
    from nlbtut.synthetic.truth import GROUND_TRUTH_FILE

    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"seed must be a non-negative int, got {seed!r}")
    out = root / "synthetic" / f"{info.name}-seed{seed}"
    folder = out / info.relative_dir
    # the ground truth is written last: without it an earlier run was interrupted, and this
    # folder (under <cache>/synthetic/, never real data) may be regenerated
    partial = folder.exists() and not (folder / GROUND_TRUTH_FILE).exists()
    folder = generate_dataset(info.name, out, seed=seed, progress=progress, overwrite=partial)
    print(f"Using synthetic {info.name} data (seed {seed}; not the real recordings) in {folder}")
    return _tag(folder, "synthetic", info.name, seed)
