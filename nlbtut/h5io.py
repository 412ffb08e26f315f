"""HDF5 input/output of NLB tensor dicts: ``save_to_h5``, ``h5_to_dict``, ``combine_h5``.

The same functions, arguments and on-disk layout as ``nlb_tools.make_tensors``:
a (nested) dict of arrays becomes groups and datasets; every floating array is
stored as ``float{dlen}`` (float32 by default) and every integer array as
``int{dlen}``; bool arrays stay bool; ragged object arrays (the per-condition
trial indices ``train_cond_idx`` / ``eval_cond_idx``) become variable-length
datasets. Files written by one package are read by the other.

Differences from the official code (each is a fix; the tests show both sides):

* **Equal-sized conditions.** When every condition has the same number of
  trials, ``np.array(list_of_index_arrays, dtype=object)`` is a 2-D object array
  and the official ``save_to_h5`` raises ``TypeError: Object dtype dtype('O') has
  no native HDF5 equivalent``. Here any object array (1-D of arrays, or 2-D of
  scalars) is written as one variable-length row per condition.
* **Atomic writes.** The official function edits the file in place, so a crash
  leaves a half-written file. Here the work is done on a temporary copy in the
  same folder, which then replaces the target with :func:`os.replace`.
* ``compression`` is applied to nested groups too (the official code drops it
  below the top level and always uses gzip there; the default is the same).
* ``h5_to_dict`` also accepts a path; scalars and lists are accepted by
  ``save_to_h5`` (wrapped with :func:`numpy.asarray`).

Example
-------
>>> import numpy as np, tempfile, os
>>> from nlbtut.h5io import save_to_h5, h5_to_dict
>>> path = os.path.join(tempfile.mkdtemp(), "x.h5")
>>> save_to_h5({"mc_maze": {"eval_spikes_heldout": np.zeros((2, 3, 4))}}, path)
>>> h5_to_dict(path)["mc_maze"]["eval_spikes_heldout"].dtype
dtype('float32')
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nlbtut.errors import DataError, DataFileNotFoundError

__all__ = ["save_to_h5", "h5_to_dict", "combine_h5"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


def _storage_dtype(dtype: np.dtype, dlen: int | None) -> np.dtype:
    """dtype used on disk: floats -> float{dlen}, ints -> int{dlen}, others unchanged."""
    if dlen is not None:
        if np.issubdtype(dtype, np.floating):
            return np.dtype(f"float{dlen}")
        if np.issubdtype(dtype, np.integer):
            return np.dtype(f"int{dlen}")
    return np.dtype(dtype)


def _ragged_rows(val: np.ndarray, key: str) -> list[np.ndarray]:
    """Rows of an object array: a 1-D array of arrays, or a 2-D array of scalars."""
    if val.ndim == 1:
        rows = [np.asarray(v) for v in val]
    elif val.ndim == 2:
        rows = [np.asarray(row.tolist()) for row in val]
    else:
        raise DataError(
            f"cannot save {key!r}: object arrays must be 1-D (ragged rows) or 2-D, "
            f"got shape {val.shape}"
        )
    for i, row in enumerate(rows):
        if row.ndim != 1 or row.dtype == object:
            raise DataError(
                f"cannot save {key!r}: row {i} of the object array is not a 1-D numeric "
                f"array (got shape {row.shape}, dtype {row.dtype})"
            )
    return rows


def _validate_keys(data_dict: Mapping, where: str = "") -> None:
    for key, val in data_dict.items():
        if not isinstance(key, str):
            raise DataError(f"HDF5 keys must be str, got {key!r} ({type(key).__name__}){where}")
        if isinstance(val, Mapping):
            _validate_keys(val, f" in group {key!r}")


def _check_r(data_dict: Mapping, h5obj: h5py.Group, overwrite: bool) -> tuple[bool, list]:
    """Find keys already in the file; delete them when ``overwrite``."""
    dup_list: list = []
    good = True
    for key, val in data_dict.items():
        if key not in h5obj:
            continue
        if isinstance(h5obj[key], h5py.Group) and isinstance(val, Mapping):
            rgood, rdup = _check_r(val, h5obj[key], overwrite)
            good = good and rgood
            dup_list += [(key, d) for d in rdup]
        else:
            dup_list.append(key)
            if overwrite:
                del h5obj[key]
            else:
                good = False
    return good, dup_list


def _save_r(data_dict: Mapping, h5obj: h5py.Group, dlen: int | None, compression: Any) -> None:
    for key, val in data_dict.items():
        if isinstance(val, Mapping):
            group = h5obj[key] if key in h5obj else h5obj.create_group(key)
            _save_r(val, group, dlen, compression)
            continue
        arr = np.asarray(val)
        if arr.dtype == object:
            rows = _ragged_rows(arr, key)
            sub = rows[0].dtype if rows else np.dtype("int64")
            if rows and np.issubdtype(sub, np.bool_):
                sub = np.dtype("int64")
            vlen = h5py.vlen_dtype(_storage_dtype(sub, dlen))
            dset = h5obj.create_dataset(
                key, shape=(len(rows),), dtype=vlen, compression=compression
            )
            for i, row in enumerate(rows):
                dset[i] = row
            continue
        if arr.dtype.kind == "U":
            h5obj.create_dataset(key, data=arr.astype(object), dtype=h5py.string_dtype())
            continue
        comp = compression if arr.ndim > 0 else None
        h5obj.create_dataset(key, data=arr, dtype=_storage_dtype(arr.dtype, dlen), compression=comp)


def save_to_h5(
    data_dict: Mapping[str, Any],
    save_path: PathLike,
    overwrite: bool = False,
    dlen: int | None = 32,
    compression: str | None = "gzip",
) -> None:
    """Save a (nested) dict of arrays to an HDF5 file, keeping the dict structure as groups.

    Like ``nlb_tools.make_tensors.save_to_h5``: the file is opened for appending,
    so saving into an existing file adds to it. Keys already in the file are
    replaced only with ``overwrite=True``; otherwise a warning is logged and
    nothing is saved.

    Parameters
    ----------
    data_dict : dict
        ``{name: array or dict}``. Tensors are trials x time x neurons (spikes/bin)
        or trials x time x channels (behaviour); ``*_cond_idx`` are object arrays
        with one index array per condition.
    save_path : str or path
        HDF5 file to write (created if missing).
    overwrite : bool
        Replace datasets that already exist in the file.
    dlen : int or None
        Bit width of stored numbers: floats as ``float{dlen}``, ints as ``int{dlen}``.
        ``None`` keeps the array dtypes.
    compression : str or None
        h5py compression filter (``"gzip"`` like the official code).

    Raises
    ------
    DataError
        For keys that are not strings or values that cannot be stored.

    Examples
    --------
    >>> save_to_h5({"eval_spikes_heldin": spikes}, "eval_input.h5", overwrite=True)  # doctest: +SKIP
    """
    if not isinstance(data_dict, Mapping):
        raise DataError(f"data_dict must be a dict of arrays, got {type(data_dict).__name__}")
    _validate_keys(data_dict)
    path = Path(save_path)
    if path.exists() and not path.is_file():
        raise DataError(f"save_path {str(path)!r} exists and is not a file")
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if path.exists():
            shutil.copyfile(path, tmp)
        else:
            tmp.unlink()
        with h5py.File(tmp, "a") as h5file:
            good, dup_list = _check_r(data_dict, h5file, overwrite)
            if good:
                if dup_list:
                    logger.warning(f"{dup_list} already found in {save_path}. Overwriting...")
                _save_r(data_dict, h5file, dlen, compression)
        if not good:
            logger.warning(
                f"{dup_list} already found in {save_path}. Save to file canceled. "
                "Please set `overwrite=True` or specify a different file path."
            )
            return
        os.replace(tmp, path)
        logger.info(f"Saved data to {save_path}")
    finally:
        if tmp.exists():
            tmp.unlink()


def h5_to_dict(h5obj: h5py.Group | PathLike) -> dict[str, Any]:
    """Read an HDF5 file or group into a nested dict of numpy arrays.

    Parameters
    ----------
    h5obj : h5py.File, h5py.Group, str or path
        What to read. A path is opened read-only and closed again.

    Returns
    -------
    dict
        Groups become dicts, datasets ``obj[()]`` arrays (variable-length
        datasets: 1-D object arrays of int32/float32 arrays, as with the official
        function).

    Examples
    --------
    >>> targets = h5_to_dict("target_data.h5")  # doctest: +SKIP
    >>> targets["mc_maze"]["eval_spikes_heldout"].shape  # doctest: +SKIP
    (574, 140, 45)
    """
    if isinstance(h5obj, str | os.PathLike):
        path = Path(h5obj)
        if not path.is_file():
            raise DataFileNotFoundError(f"HDF5 file not found: {str(path)!r}")
        with h5py.File(path, "r") as f:
            return h5_to_dict(f)
    if not isinstance(h5obj, h5py.Group):
        raise DataError(
            f"h5_to_dict expects an h5py File/Group or a path, got {type(h5obj).__name__}"
        )
    out: dict[str, Any] = {}
    for key in h5obj.keys():
        item = h5obj[key]
        out[key] = h5_to_dict(item) if isinstance(item, h5py.Group) else item[()]
    return out


def combine_h5(file_paths: Sequence[PathLike], save_path: PathLike | None = None) -> None:
    """Combine several HDF5 files into one (e.g. the three MC_Maze scaling submissions).

    Like the official function, the contents of every file are added to
    ``save_path`` (default: the first file) without overwriting keys that are
    already there (a warning is logged for those).

    Parameters
    ----------
    file_paths : list of str or path
        At least two HDF5 files.
    save_path : str or path, optional
        Output file; by default the first of ``file_paths``.

    Examples
    --------
    >>> combine_h5(["large.h5", "medium.h5", "small.h5"], "scaling.h5")  # doctest: +SKIP
    """
    if isinstance(file_paths, str | os.PathLike) or len(file_paths) < 2:
        raise DataError("combine_h5 needs a list of at least 2 files to combine")
    missing = [str(p) for p in file_paths if not Path(p).is_file()]
    if missing:
        raise DataFileNotFoundError(f"combine_h5: files not found: {missing}")
    if save_path is None:
        save_path = file_paths[0]
    for fpath in file_paths:
        if Path(fpath).resolve() == Path(save_path).resolve():
            continue
        save_to_h5(h5_to_dict(fpath), save_path)
