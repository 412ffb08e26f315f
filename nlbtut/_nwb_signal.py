"""The numerics behind ``NWBDataset.resample`` and ``NWBDataset.smooth_spk``.

Each function reproduces one step of ``nlb_tools.nwb_interface`` with the official numbers:

* :func:`sum_bins`: spike re-binning (``nan_to_num``, sum groups of ``q`` bins, NaN where the
  first sub-bin was NaN). Float16 spike counts are summed from their non-zero entries with
  ``np.bincount``, exact for whole numbers and without the float16 arithmetic that makes the
  official step slow; other data take the official expression on row chunks.
* :func:`decimate`: continuous signals, NaN-interpolated and passed column by column through
  ``scipy.signal.decimate(x, q, n=500, ftype="fir")`` (the official call).
* :func:`smooth_block`: Gaussian smoothing; NaN-free runs shared by many columns are convolved
  together with ``scipy.signal.oaconvolve`` instead of one ``scipy.signal.convolve`` per column
  and run (agreement ~1e-15).

Written by hand because no library re-bins with these NaN rules; the filtering itself is scipy's.
Work is spread over threads (numpy and scipy release the GIL), never written into the caller's
arrays (pandas 3 hands out read-only views).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.signal as signal

__all__ = ["isnan", "n_threads", "decimate", "sum_bins", "smooth_block"]


def isnan(arr: np.ndarray) -> np.ndarray:
    """``np.isnan``, fast for float16 (numpy's float16 ufuncs are slow)."""
    if arr.dtype == np.float16:
        return (arr.view(np.uint16) & 0x7FFF) > 0x7C00
    return np.isnan(arr)


_F16 = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)
_F16_VALUE = np.where(np.isnan(_F16), 0, _F16).astype(np.float32)  # float16 bits -> value, NaN 0
with np.errstate(invalid="ignore"):
    _F16_WHOLE = np.isnan(_F16) | (np.isfinite(_F16) & (_F16 == np.round(_F16)))


def n_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def decimate(arr: np.ndarray, q: int, pool: ThreadPoolExecutor | None = None) -> np.ndarray:
    """Official continuous resampling, column by column (threads): interpolate NaNs, then
    ``scipy.signal.decimate(x, q, n=500, ftype="fir")``, NaN where the first sub-sample was."""
    n, c = arr.shape
    nan_mask = np.isnan(arr[::q])
    kind = arr.dtype if arr.dtype.kind == "f" and arr.dtype != np.float16 else np.float64
    out = np.empty((len(nan_mask), c), dtype=kind, order="F")

    def one(j: int) -> None:
        x = _interpolate_nans(arr[:, j : j + 1])[:, 0]
        out[:, j] = signal.decimate(x, q, n=500, ftype="fir")

    list(pool.map(one, range(c)) if pool is not None else map(one, range(c)))
    out[nan_mask] = np.nan
    return out


def sum_bins(
    arr: np.ndarray, q: int, chunk_rows: int = 200_000, pool: ThreadPoolExecutor | None = None
) -> np.ndarray:
    """Official spike re-binning: NaN as 0, sum groups of ``q`` rows, NaN if the first was NaN.

    The official computes ``np.nan_to_num(arr).reshape(-1, q, C).sum(axis=1)`` in the array's
    dtype, which for float16 spike counts is slow and needs a copy of the recording. Float16
    arrays holding whole numbers (spike counts) are summed exactly from their non-zero entries
    instead (``np.bincount``); anything else (smoothed rates, float16 fractions) goes through the
    official expression, chunk by chunk on copies (never writing into the DataFrame).
    """
    n, c = arr.shape
    n_main = n - n % q
    n_out = -(-n // q)
    out = np.empty((n_out, c), dtype=arr.dtype, order="F")
    done = False
    if arr.dtype == np.float16:
        done = _sum_counts_f16(arr, q, out, pool)
    if not done:
        step = max(q, (chunk_rows // q) * q)
        for start in range(0, n_main, step):
            stop = min(start + step, n_main)
            part = np.nan_to_num(arr[start:stop])  # a copy
            out[start // q : stop // q] = part.reshape(-1, q, c).sum(axis=1)
    if n % q:
        out[-1] = np.nan_to_num(arr[n_main:]).sum(axis=0)
    out[isnan(arr[::q])] = np.nan
    return out


def _sum_counts_f16(
    arr: np.ndarray, q: int, out: np.ndarray, pool: ThreadPoolExecutor | None = None
) -> bool:
    """Column by column bin sums of float16 whole numbers; False when a column holds anything
    else (then ``out`` is partly written and the caller overwrites it)."""
    n, c = arr.shape
    n_main = n - n % q

    def one(j: int) -> bool:
        u = np.ascontiguousarray(arr[:n_main, j]).view(np.uint16)
        nz = np.flatnonzero(u)
        bits = u[nz]
        if not _F16_WHOLE[bits].all():
            return False
        out[: n_main // q, j] = np.bincount(
            nz // q, weights=_F16_VALUE[bits], minlength=n_main // q
        )
        return True

    return all(pool.map(one, range(c)) if pool is not None else map(one, range(c)))


def _interpolate_nans(arr: np.ndarray) -> np.ndarray:
    """``Series.interpolate(limit_direction="both")`` per column (linear in sample number).

    Returns a copy in the input's float dtype (float64 for other dtypes): ``scipy.signal.decimate``
    filters float32 data in float32, as the official code does.
    """
    x = np.array(arr, dtype=arr.dtype if arr.dtype.kind == "f" else np.float64)
    nan = np.isnan(x)
    if not nan.any():
        return x
    idx = np.arange(x.shape[0])
    for j in np.flatnonzero(nan.any(axis=0)):
        good = ~nan[:, j]
        if not good.any():
            continue
        x[nan[:, j], j] = np.interp(idx[nan[:, j]], idx[good], x[good, j].astype(np.float64))
    return x


def _convolve_same(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``scipy.signal.convolve(x, window, "same")`` along axis 0 of a 1-D or 2-D array."""
    if x.shape[0] == 0:
        return x.copy()
    w = window if x.ndim == 1 else window[:, None]
    if x.shape[0] > 4 * len(window) and len(window) > 64:
        return signal.oaconvolve(x, w, mode="same", axes=0)
    return signal.convolve(x, w, mode="same")


def smooth_block(
    values: np.ndarray, window: np.ndarray, ignore_nans: bool, dtype: Any, parallel: bool
) -> np.ndarray:
    """Smooth every column of ``values`` (time x channels) like the official ``smooth_column``.

    Columns without NaN are convolved whole (chunks of columns at once). With ``ignore_nans``,
    columns sharing a NaN pattern (all units of a block, normally) share their NaN-free runs, and
    each run is convolved for all those columns at once and clipped at 0. Without
    ``ignore_nans`` a column with NaN goes through ``scipy.signal.convolve`` as officially, so
    NaN spreads exactly as it does there.
    """
    n, c = values.shape
    out = np.empty((n, c), dtype=dtype, order="F")
    nan = isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    has_nan = nan.any(axis=0)
    width = max(1, min(16, 8_000_000 // max(n, 1)))  # columns per whole-column job
    tasks: list[Any] = []

    def whole(cols: np.ndarray) -> None:
        out[:, cols] = _convolve_same(values[:, cols].astype(np.float64), window)

    def spread(j: int) -> None:
        out[:, j] = signal.convolve(values[:, j].astype(dtype), window, "same")

    def run(a: int, b: int, cols: np.ndarray) -> None:
        seg = _convolve_same(values[a:b, cols].astype(np.float64), window)
        seg[seg < 0] = 0
        out[a:b, cols] = seg

    plain = np.flatnonzero(~has_nan)
    for k in range(0, len(plain), width):
        tasks.append((whole, _as_index(plain[k : k + width])))
    if not ignore_nans:
        tasks.extend((spread, int(j)) for j in np.flatnonzero(has_nan))
    else:
        groups: dict[bytes, list[int]] = {}
        todo = np.flatnonzero(has_nan)
        while len(todo):  # columns with the NaN pattern of the first remaining one, at once
            same = (nan[:, todo] == nan[:, todo[:1]]).all(axis=0)
            groups[bytes(len(groups))] = [int(j) for j in todo[same]]
            todo = todo[~same]
        for cols_list in groups.values():
            cols = _as_index(np.asarray(cols_list))
            isn = nan[:, cols_list[0]]
            bounds = np.concatenate([[0], np.flatnonzero(np.diff(isn)) + 1, [n]])
            for a, b in zip(bounds[:-1], bounds[1:]):
                if isn[a]:
                    out[a:b, cols] = np.nan
                else:
                    tasks.append((run, int(a), int(b), cols))

    def call(task: tuple) -> None:
        task[0](*task[1:])

    if parallel and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=n_threads()) as pool:
            list(pool.map(call, tasks))
    else:
        for task in tasks:
            call(task)
    return out


def _as_index(cols: np.ndarray) -> slice | np.ndarray:
    """A slice for a contiguous run of column positions (no fancy-index copies), else the array."""
    if len(cols) and np.all(np.diff(cols) == 1):
        return slice(int(cols[0]), int(cols[-1]) + 1)
    return cols
