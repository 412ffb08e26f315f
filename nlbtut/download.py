"""Download the NLB'21 NWB files from the DANDI archive, cached and verified.

:func:`download_dataset` fetches a dataset's two files (the train and the test file) with the
``dandi`` client into the DANDI layout ``<cache>/<dandiset_id>/sub-<Subject>/<file>`` and
returns that folder, ready for :class:`nlbtut.NWBDataset`:

>>> from nlbtut import download_dataset, NWBDataset  # doctest: +SKIP
>>> folder = download_dataset("mc_maze_small")  # doctest: +SKIP
>>> ds = NWBDataset(folder, "*small")  # doctest: +SKIP

* The cache is ``cache_dir``, else ``$NLBTUT_DATA_DIR``, else ``~/.cache/nlbtut``
  (:func:`default_cache_dir`); never the working directory unless asked for.
* A file already present is kept when it has been verified: after each download the size and
  the DANDI etag (the digest the archive publishes) are checked and written to
  ``.nlbtut-download.json`` next to the files, so later calls need no network. Files put there
  by hand (``dandi download``) are verified against the archive when it is reachable.
* A file is streamed to a temporary name in the same folder and renamed only once complete and
  verified, so an interrupted download never leaves a partial file under the final name.
* Without a connection the call fails at once (one short probe, no retry loop) with a
  :class:`~nlbtut.errors.DownloadError` that says how to fetch the files by hand and how to
  use synthetic data instead.

The HTTP work is ``dandi``'s (``DandiAPIClient``, ``RemoteAsset.get_download_file_iter``,
``dandi.support.digests``); this module adds the cache layout, the atomic rename, the manifest
and the offline message.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlbtut.datasets import DatasetInfo, get_dataset_info
from nlbtut.errors import DataError, DownloadError

logger = logging.getLogger("nlbtut.download")

__all__ = ["download_dataset", "default_cache_dir", "dataset_dir", "DANDI_API_URL"]

DANDI_API_URL = "https://api.dandiarchive.org/api"
MANIFEST = ".nlbtut-download.json"
PROBE_TIMEOUT = (5.0, 10.0)  # connect, read (s): how long we wait before calling DANDI offline
_ETAG = "dandi:dandi-etag"
_PARTS = ("train", "test")


def default_cache_dir() -> Path:
    """Where datasets are stored: ``$NLBTUT_DATA_DIR`` if set, else ``~/.cache/nlbtut``."""
    env = os.environ.get("NLBTUT_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser().absolute()
    return Path.home() / ".cache" / "nlbtut"


def _info(name: str) -> DatasetInfo:
    try:
        return get_dataset_info(name)
    except (ValueError, TypeError) as exc:
        raise DataError(str(exc)) from None


def dataset_dir(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder ``<cache>/<dandiset_id>/sub-<Subject>`` that holds a dataset's files."""
    info = _info(name)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / info.dandiset_id / f"sub-{info.subject}"


def _files(info: DatasetInfo, parts: Sequence[str]) -> list[str]:
    bad = [p for p in parts if p not in _PARTS]
    if bad or not parts:
        raise DataError(f"parts must be a non-empty subset of {_PARTS}, got {tuple(parts)!r}")
    return [info.train_file if p == "train" else info.test_file for p in parts]


def offline_help(info: DatasetInfo, folder: Path) -> str:
    """How to get a dataset without this function (the text of the offline error)."""
    version = info.dandiset_version
    return (
        f"To download it by hand where the internet is reachable (dandi creates "
        f"{info.dandiset_id}/sub-{info.subject}/ in the current folder):\n"
        f"    pip install dandi\n"
        f"    cd {folder.parent.parent}\n"
        f"    dandi download DANDI:{info.dandiset_id}/{version}\n"
        f"  or fetch {info.train_file} and {info.test_file} from {info.dandi_url}\n"
        f"  into {folder}\n"
        f"To work without the real data, generate a synthetic dataset in the same layout:\n"
        f"    nlbtut synth --preset {info.name} --out <folder>"
    )


# ----------------------------------------------------------------------------------------------
# remote side (the parts tests replace)
# ----------------------------------------------------------------------------------------------
@dataclass
class RemoteFile:
    """One asset of a dandiset: its name, size (bytes), DANDI etag and a chunk iterator."""

    name: str
    size: int
    etag: str | None
    chunks: Callable[[], Iterator[bytes]]


def _probe(api_url: str) -> None:
    """Fail fast (one request, short timeout) when the archive cannot be reached."""
    import requests

    resp = requests.get(f"{api_url.rstrip('/')}/info/", timeout=PROBE_TIMEOUT)
    resp.raise_for_status()


def _remote_files(info: DatasetInfo, files: list[str], api_url: str) -> list[RemoteFile]:
    """Look the files up in the dandiset with the ``dandi`` client."""
    from dandi.dandiapi import DandiAPIClient
    from dandi.exceptions import NotFoundError

    client = DandiAPIClient(api_url)
    dandiset = client.get_dandiset(info.dandiset_id, info.dandiset_version)
    out = []
    for fname in files:
        asset = dandiset.get_asset_by_path(f"sub-{info.subject}/{fname}")
        try:
            etag = asset.get_raw_digest(_ETAG)
        except NotFoundError:
            etag = None
        download = asset.get_download_file_iter()
        out.append(RemoteFile(fname, int(asset.size), etag, lambda d=download: d(0)))
    return out


def _etag(path: Path) -> str:
    from dandi.support.digests import get_dandietag

    return get_dandietag(path).as_str()


# ----------------------------------------------------------------------------------------------
# manifest of verified files
# ----------------------------------------------------------------------------------------------
def _read_manifest(folder: Path) -> dict[str, dict]:
    try:
        data = json.loads((folder / MANIFEST).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_manifest(folder: Path, manifest: dict[str, dict]) -> None:
    tmp = folder / f".{MANIFEST}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, folder / MANIFEST)


def _verified_locally(folder: Path, fname: str, manifest: dict[str, dict]) -> bool:
    entry = manifest.get(fname)
    path = folder / fname
    return bool(entry) and path.is_file() and path.stat().st_size == entry.get("size")


def _check(path: Path, remote: RemoteFile) -> str | None:
    """Why ``path`` is not the remote file, or None when size and etag match."""
    size = path.stat().st_size
    if size != remote.size:
        return f"size {size} bytes, expected {remote.size}"
    if remote.etag is not None:
        got = _etag(path)
        if got != remote.etag:
            return f"DANDI etag {got}, expected {remote.etag}"
    return None


# ----------------------------------------------------------------------------------------------
def download_dataset(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    parts: Sequence[str] = _PARTS,
    api_url: str = DANDI_API_URL,
) -> Path:
    """Download an NLB'21 dataset from DANDI (or find it in the cache) and return its folder.

    Parameters
    ----------
    name : str
        Dataset name (``mc_maze``, ``mc_rtt``, ``area2_bump``, ``dmfc_rsg``,
        ``mc_maze_large``, ``mc_maze_medium``, ``mc_maze_small``).
    cache_dir : str or Path, optional
        Download root; default :func:`default_cache_dir`.
    force : bool
        Download again even when verified files are present.
    progress : bool
        Show a progress bar per file.
    parts : sequence of {"train", "test"}
        Which of the two files to fetch (both by default).
    api_url : str
        The DANDI API (the public archive by default).

    Returns
    -------
    Path
        ``<cache>/<dandiset_id>/sub-<Subject>``, the folder to pass to ``NWBDataset`` with the
        dataset's prefix (``"*small"`` ..., see ``nlbtut.datasets``).

    Raises
    ------
    DataError
        Unknown dataset name.
    DownloadError
        DANDI unreachable (at once; the message says how to get the files by hand or use
        synthetic data), a file missing from the dandiset, or a size/etag mismatch.

    Examples
    --------
    >>> folder = download_dataset("mc_maze_small")  # doctest: +SKIP
    >>> sorted(p.name for p in folder.glob("*.nwb"))  # doctest: +SKIP
    ['sub-Jenkins_ses-small_desc-test_ecephys.nwb', 'sub-Jenkins_ses-small_desc-train_behavior+ecephys.nwb']
    """
    info = _info(name)
    files = _files(info, parts)
    folder = dataset_dir(info.name, cache_dir)
    manifest = _read_manifest(folder)
    if not force and all(_verified_locally(folder, f, manifest) for f in files):
        logger.info("%s: verified files present in %s", info.name, folder)
        return folder

    try:
        _probe(api_url)
    except Exception as exc:  # requests' ConnectionError, Timeout, HTTPError, ...
        present = [f for f in files if (folder / f).is_file()]
        if not force and len(present) == len(files):
            warnings.warn(
                f"DANDI is unreachable ({type(exc).__name__}); using the files in {folder} "
                "without verifying them against the archive",
                UserWarning,
                stacklevel=2,
            )
            return folder
        raise DownloadError(
            f"Cannot reach the DANDI archive at {api_url} to download {info.name} "
            f"(dandiset {info.dandiset_id}): {type(exc).__name__}: {_short(exc)}\n"
            + offline_help(info, folder)
        ) from None

    try:
        remote = _remote_files(info, files, api_url)
    except Exception as exc:
        raise DownloadError(
            f"Could not look up {info.name} in dandiset {info.dandiset_id}/"
            f"{info.dandiset_version}: {type(exc).__name__}: {_short(exc)}\n"
            + offline_help(info, folder)
        ) from exc

    folder.mkdir(parents=True, exist_ok=True)
    for rf in remote:
        dest = folder / rf.name
        if not force and dest.is_file() and _check(dest, rf) is None:
            logger.info("%s already present and verified", dest)
        else:
            _fetch(rf, dest, progress)
        manifest[rf.name] = {"size": rf.size, "etag": rf.etag}
        _write_manifest(folder, manifest)
    return folder


def _fetch(rf: RemoteFile, dest: Path, progress: bool) -> None:
    """Stream one file to a temporary name next to ``dest``, verify it, then rename."""
    from tqdm.auto import tqdm

    tmp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    try:
        with (
            open(tmp, "wb") as fh,
            tqdm(
                total=rf.size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=rf.name,
                disable=not progress,
            ) as bar,
        ):
            try:
                for chunk in rf.chunks():
                    fh.write(chunk)
                    bar.update(len(chunk))
            except Exception as exc:  # network (requests) or disk errors while streaming
                raise DownloadError(
                    f"Downloading {rf.name} failed: {type(exc).__name__}: {_short(exc)}; "
                    "nothing was kept, run the download again"
                ) from exc
        problem = _check(tmp, rf)
        if problem is not None:
            raise DownloadError(
                f"Downloaded {rf.name} does not match the archive ({problem}); nothing was "
                "kept, run the download again"
            )
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."
