"""Benchmark tensors of NLB'21: train inputs, eval inputs and eval targets.

The same functions, arguments, output keys and dtypes as
``nlb_tools.make_tensors`` (``make_train_input_tensors``,
``make_eval_input_tensors``, ``make_eval_target_tensors``, ``PARAMS``), and the
same numbers: on the same NWB files every tensor equals the official one (the
NaN pattern and spike counts exactly, behaviour and PSTHs to 1e-9; checked by
``tests/test_parity_tensors.py`` against the official package).

Why this is written by hand instead of calling ``NWBDataset.make_trial_data``:
the official code cuts trials by building a long pandas DataFrame (one row per
trial bin, merged with every column of the recording) and then groups it back
into arrays. Here the trial windows are computed once with integer nanosecond
arithmetic and :func:`numpy.searchsorted`, exactly reproducing
``make_trial_data``'s rules (label-inclusive slices, ``-1 us`` ends, overlap
shortening against the next kept trial, silent dropping of trials whose
alignment fields are NaT, and dropping NaN rows when ``allow_nans=False``), and
the arrays are gathered with one fancy index. PSTH targets live in
:mod:`nlbtut.psth`.

Differences from the official package (all documented where they happen):

* the dataset's ``trial_info`` is not modified (the official code adds and drops a
  ``go_jitter_time`` column) and the global numpy RNG is not reseeded: the DMFC
  jitter draws come from a private ``numpy.random.RandomState(seed)``, which gives
  the same numbers as the official ``np.random.seed(seed); np.random.random()``;
* bad inputs raise :class:`~nlbtut.errors.DataError` with a message instead of an
  ``assert``, ``KeyError`` or a numpy shape error;
* ``*_cond_idx`` are always 1-D object arrays of int64 index arrays (the official
  code makes a 2-D object array when all conditions have as many trials, which
  ``save_to_h5`` then cannot write);
* the DMFC eval-target path does not build the unused train-trial spike array.

Example
-------
>>> from nlbtut import NWBDataset, make_train_input_tensors  # doctest: +SKIP
>>> ds = NWBDataset("000140/sub-Jenkins", "*small")  # doctest: +SKIP
>>> ds.resample(5)  # doctest: +SKIP
>>> d = make_train_input_tensors(ds, "mc_maze_small", "train", save_file=False)  # doctest: +SKIP
>>> d["train_spikes_heldin"].shape  # trials x time bins x neurons  # doctest: +SKIP
(75, 140, 107)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nlbtut.datasets import DATASETS, DatasetInfo
from nlbtut.errors import DataError

__all__ = [
    "PARAMS",
    "make_train_input_tensors",
    "make_eval_input_tensors",
    "make_eval_target_tensors",
]

logger = logging.getLogger(__name__)

_US = 1_000  # ns
_MS = 1_000_000  # ns
_SPLITS = ("train", "val", "test", "none")
_BEHAVIOR_SKIP = ["force", "hand_pos", "hand_vel", "finger_pos", "finger_vel", "eye_pos",
                  "cursor_pos", "muscle_len", "muscle_vel", "joint_ang", "joint_vel"]  # fmt: skip


# --------------------------------------------------------------------------------------
# PARAMS, built from the registry in nlbtut.datasets
# --------------------------------------------------------------------------------------
def _window(info: DatasetInfo, **extra: Any) -> dict[str, Any]:
    mp: dict[str, Any] = {"align_field": info.align_field, "align_range": tuple(info.align_range)}
    mp.update(extra)
    return mp


def _dmfc_jitter(x: pd.DataFrame) -> np.ndarray:
    tp = x.get("tp", pd.Series(np.nan)).to_numpy()
    return np.stack(
        [
            np.zeros(len(x)),
            np.where(x.split == "test", np.zeros(len(x)), np.clip(1500.0 - tp, 0.0, 300.0)),
        ]
    ).T


def _params_for(info: DatasetInfo) -> dict[str, Any]:
    p: dict[str, Any] = {"spk_field": "spikes", "hospk_field": "heldout_spikes"}
    if info.name not in ("mc_maze", "dmfc_rsg"):
        p.update(rate_field="rates", horate_field="heldout_rates")
    p["behavior_source"] = info.behavior_source
    if info.behavior_source == "trial_info":
        p["behavior_mask"] = lambda x: x.is_outlier == 0
        p["behavior_field"] = list(info.behavior_field)
    else:
        p["behavior_field"] = info.behavior_field
    if info.has_decode_masks:
        p["decode_masks"] = lambda x: np.stack([x.ctr_hold_bump == 0, x.ctr_hold_bump == 1]).T
    if info.has_jitter:
        p["jitter"] = _dmfc_jitter
        # DMFC: the train window ends at go; eval targets span set -> go (variable length)
        p["make_params"] = _window(info, allow_overlap=True)
        ends = {"start_field": "set_time", "end_field": "go_time", "align_field": "go_time"}
        p["eval_make_params"] = dict(ends)
        p["eval_tensor_params"] = {"seg_len": -info.align_range[0], "pad": "front"}
    else:
        p["lag"] = info.lag
        overlap = {"allow_overlap": True} if info.allow_overlap else {}
        p["make_params"] = _window(info, **overlap)
        # area2_bump evaluates on windows that may overlap the next trial
        eval_overlap = (
            {"allow_overlap": True} if (info.allow_overlap or info.has_decode_masks) else {}
        )
        p["eval_make_params"] = _window(info, **eval_overlap)
    p["fp_len"] = info.fp_len
    if info.psth_cond_fields:
        psth: dict[str, Any] = {"cond_fields": list(info.psth_cond_fields)}
        if info.has_jitter:
            psth["make_params"] = dict(ends)
            psth["kern_sd"] = info.psth_kern_sd
            psth.update(pad="front", seg_len=-info.align_range[0])
            psth["skip_mask"] = lambda x: x.is_outlier == 1
        else:
            psth["make_params"] = _window(info)
            psth["kern_sd"] = info.psth_kern_sd
        p["psth_params"] = psth
    return p


#: Benchmark parameters per dataset, with the structure of ``nlb_tools.make_tensors.PARAMS``.
PARAMS: dict[str, dict[str, Any]] = {name: _params_for(info) for name, info in DATASETS.items()}


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------
def _check_dataset(ds: Any) -> None:
    missing = [a for a in ("data", "trial_info", "bin_width") if not hasattr(ds, a)]
    if missing:
        raise DataError(
            f"`dataset` must be an NWBDataset (nlbtut.NWBDataset or nlb_tools'), "
            f"got {type(ds).__name__} without {', '.join(missing)}"
        )
    if not isinstance(ds.data, pd.DataFrame) or not isinstance(ds.trial_info, pd.DataFrame):
        raise DataError("`dataset.data` and `dataset.trial_info` must be pandas DataFrames")


def _get_params(dataset_name: str, update_params: dict | None) -> dict[str, Any]:
    if dataset_name not in PARAMS:
        raise DataError(
            f"Unknown dataset_name {dataset_name!r}; expected one of {', '.join(PARAMS)}"
        )
    params = PARAMS[dataset_name].copy()
    if update_params is not None:
        if not isinstance(update_params, dict):
            raise DataError(f"update_params must be a dict, got {type(update_params).__name__}")
        params.update(update_params)
    return params


def _h5_path(save_path: str | os.PathLike) -> str:
    save_path = os.fspath(save_path)
    return save_path if save_path.endswith(".h5") else save_path + ".h5"


def _prep_mask(ds: Any, trial_split: Any, allowed: Sequence[str], arg: str) -> np.ndarray:
    """Boolean trial mask from a split name, a boolean array/Series, or a list of those (OR)."""
    ti = ds.trial_info
    n = len(ti)

    def one(x: Any) -> np.ndarray:
        if isinstance(x, str):
            if x not in allowed:
                raise DataError(f"Invalid `{arg}` {x!r}; expected one of {list(allowed)}, "
                                "a boolean mask over trials, or a list of those")  # fmt: skip
            if "split" not in ti.columns:
                raise DataError("dataset.trial_info has no 'split' column")
            return (ti["split"] == x).to_numpy(dtype=bool)
        arr = np.asarray(x)
        if arr.dtype != bool or arr.shape != (n,):
            raise DataError(
                f"`{arg}` masks must be boolean with one entry per trial ({n}), "
                f"got dtype {arr.dtype} and shape {arr.shape}"
            )
        return arr

    if isinstance(trial_split, list):
        if not trial_split:
            raise DataError(f"`{arg}` is an empty list")
        return np.any([one(s) for s in trial_split], axis=0)
    if isinstance(trial_split, str | pd.Series | np.ndarray):
        return one(trial_split)
    raise DataError(
        f"Invalid `{arg}` of type {type(trial_split).__name__}; expected a split name "
        f"({', '.join(allowed)}), a boolean mask, or a list of those"
    )


def _field(ds: Any, name: str) -> None:
    if name not in ds.data.columns.get_level_values(0):
        have = sorted(set(ds.data.columns.get_level_values(0)))
        raise DataError(f"dataset.data has no signal {name!r}; it has {have}")


# --------------------------------------------------------------------------------------
# trial windows (the row selection of NWBDataset.make_trial_data)
# --------------------------------------------------------------------------------------
def _td_ns(ti: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A timedelta column of trial_info as int64 ns plus a validity mask (False for NaT)."""
    if name not in ti.columns:
        raise DataError(f"trial_info has no field {name!r}")
    vals = ti[name].to_numpy()
    if vals.dtype.kind != "m":
        raise DataError(f"trial_info field {name!r} must hold times (timedelta), got {vals.dtype}")
    valid = ~np.isnat(vals)
    ns = vals.astype("timedelta64[ns]").view("i8").copy()
    ns[~valid] = 0
    return ns, valid


def _offset_ns(x: Any) -> int | None:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return None
    return int(round(float(x) * _MS))


def _round_half_even(x: int, step: int) -> int:
    q, r = divmod(x, step)
    if 2 * r > step or (2 * r == step and q % 2 == 1):
        q += 1
    return q * step


def _index_ns(ds: Any) -> np.ndarray:
    idx = ds.data.index
    if not isinstance(idx, pd.TimedeltaIndex):
        raise DataError("dataset.data must be indexed by time (a TimedeltaIndex named clock_time)")
    return idx.to_numpy().astype("timedelta64[ns]").view("i8")


@dataclass
class Windows:
    """Trial windows on the rows of ``dataset.data`` (like ``make_trial_data``).

    ``pos`` are positions in trial_info, ``trial_id`` their ids, rows ``lo:hi``
    of ``dataset.data``, and ``align_ref`` the ``ceil(bin)`` alignment point (ns)
    that ``align_time`` is measured from.
    """

    pos: np.ndarray
    trial_id: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    align_ref: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return self.hi - self.lo


def trial_windows(
    ti: pd.DataFrame,
    index_ns: np.ndarray,
    bin_width: int,
    start_field: str = "start_time",
    end_field: str = "end_time",
    align_field: str | None = None,
    align_range: tuple = (None, None),
    margin: int = 0,
    ignored_trials: np.ndarray | None = None,
    allow_overlap: bool = False,
    allow_nans: bool = False,
) -> Windows:
    """Row windows of each kept trial, by the rules of ``NWBDataset.make_trial_data``.

    Trials with a NaT start/alignment are dropped silently (the official
    ``dropna``); windows that would run into the next kept trial are shortened
    unless ``allow_overlap``. Trials whose window holds no row are dropped.
    """
    n = len(ti)
    bw = int(round(bin_width * _MS))
    start, start_ok = _td_ns(ti, start_field)
    end, end_ok = _td_ns(ti, end_field)
    next_start = np.append(start[1:], 0)
    next_ok = np.append(start_ok[1:], False)
    keep = np.ones(n, bool) if ignored_trials is None else ~np.asarray(ignored_trials, bool)
    sel = np.flatnonzero(keep)
    if sel.size == 0:
        raise DataError("All trials ignored: no trial data to make")
    if align_field is not None:
        left, left_ok = _td_ns(ti, align_field)
        right, right_ok = left, left_ok
    else:
        left, left_ok, right, right_ok = start, start_ok, end, end_ok

    a, b = (tuple(align_range) + (None, None))[:2]
    s_off, e_off = _offset_ns(a), _offset_ns(b)
    if s_off is not None and e_off is not None and (e_off - s_off) % bw != 0:
        e_off = s_off + _round_half_even(e_off - s_off, bw)
        logger.warning(
            "Alignment window not integer multiple of bin width. "
            f"Rounded to {(round(s_off / _MS), round(e_off / _MS))}"
        )
    if s_off is None:
        a_start, a_start_ok = start, start_ok
    else:
        a_start, a_start_ok = left + s_off, left_ok
    if e_off is None:
        a_end, a_end_ok = end - _US, end_ok
    else:
        a_end, a_end_ok = right + e_off - _US, right_ok
    m = int(round(margin * _MS))

    # end bound of each kept row: min(next_start, align_start) of the *next kept* row
    ns_k, ns_ok = next_start[sel], next_ok[sel]
    as_k, as_ok = a_start[sel], a_start_ok[sel]
    big = np.iinfo(np.int64).max
    bound = np.minimum(np.where(ns_ok, ns_k, big), np.where(as_ok, as_k, big))
    bound_ok = ns_ok | as_ok
    bound = np.append(bound[1:], 0)
    bound_ok = np.append(bound_ok[1:], False)

    valid = start_ok[sel] & left_ok[sel] & a_start_ok[sel] & a_end_ok[sel]
    sel, bound, bound_ok = sel[valid], bound[valid], bound_ok[valid]
    m_start = a_start[sel] - m
    endpoint = a_end[sel] + m
    overlap = bound_ok & (a_end[sel] > bound)
    if not allow_overlap:
        endpoint = np.where(overlap, bound + m - _US, endpoint)
    if overlap.any():
        verb = "Allowed" if allow_overlap else "Shortened"
        logger.warning(f"{verb} {int(overlap.sum())} overlapping trials.")
    lo = np.searchsorted(index_ns, m_start, side="left")
    hi = np.maximum(np.searchsorted(index_ns, endpoint, side="right"), lo)
    ref = -((-left[sel]) // bw) * bw  # Timedelta.ceil(bin_width)
    nonempty = hi > lo
    ids = ti["trial_id"].to_numpy()[sel] if "trial_id" in ti.columns else sel
    return Windows(sel[nonempty], ids[nonempty], lo[nonempty], hi[nonempty], ref[nonempty])


@dataclass
class TrialData:
    """Rows of ``dataset.data`` gathered per trial (``rows`` concatenated in trial order)."""

    windows: Windows
    frame: pd.DataFrame  # the gathered rows, all columns
    lengths: np.ndarray  # rows per trial (after NaN dropping)

    def field(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy()


def make_trial_data(ds: Any, ti: pd.DataFrame, make_params: dict, include: np.ndarray) -> TrialData:
    """Gather the rows of ``ds.data`` for the included trials (``make_trial_data`` semantics)."""
    mp = dict(make_params)
    mp.pop("ignored_trials", None)
    allow_nans = bool(mp.get("allow_nans", False))
    w = trial_windows(ti, _index_ns(ds), ds.bin_width, ignored_trials=~include, **mp)
    lengths = w.lengths
    starts = np.repeat(w.lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    rows = starts + np.arange(int(lengths.sum()))
    frame = ds.data.iloc[rows]
    if not allow_nans:
        bad = frame.isna().to_numpy().any(axis=1)
        if bad.any():
            logger.warning(
                f"NaNs found in `self.data`. Dropping {100 * bad.mean():.2f}% "
                "of points to remove NaNs from `trial_data`."
            )
            owner = np.repeat(np.arange(len(lengths)), lengths)
            frame = frame.iloc[~bad]
            lengths = np.bincount(owner[~bad], minlength=len(lengths))
            keep = lengths > 0
            if not keep.all():
                w = Windows(
                    *(getattr(w, f)[keep] for f in ("pos", "trial_id", "lo", "hi", "align_ref"))
                )
                lengths = lengths[keep]
    return TrialData(w, frame, lengths)


def make_stacked_array(
    ds: Any, ti: pd.DataFrame, fields: Sequence[str], make_params: dict, include: np.ndarray
) -> dict[str, np.ndarray]:
    """Fixed-length trials -> ``{field: trials x time x channels}`` in the data dtype."""
    for f in fields:
        _field(ds, f)
    td = make_trial_data(ds, ti, make_params, include)
    if len(td.lengths) == 0:
        raise DataError("no trial has data in the requested window")
    if np.any(td.lengths != td.lengths[0]):
        short = td.windows.trial_id[td.lengths != np.bincount(td.lengths).argmax()]
        raise DataError(
            "trials have different numbers of bins in the window (NaN rows dropped or trials "
            f"cut short), so they cannot be stacked; odd trial ids: {short[:10].tolist()}"
        )
    n, t = len(td.lengths), int(td.lengths[0])
    return {f: td.field(f).reshape(n, t, -1) for f in fields}


def make_jagged_array(
    ds: Any,
    ti: pd.DataFrame,
    fields: Sequence[str],
    make_params: dict,
    include_trials: np.ndarray | list[np.ndarray],
    jitter: np.ndarray | list[np.ndarray] | None = None,
    pad: str = "back",
    seg_len: int | None = None,
) -> list[dict[str, np.ndarray]]:
    """Trials of any length -> NaN-padded float64 ``trials x max_len x channels`` per mask.

    Placement (``pad``, ``jitter`` in ms) follows ``nlb_tools.make_tensors.make_jagged_array``.
    """
    for f in fields:
        _field(ds, f)
    masks = include_trials if isinstance(include_trials, list) else [include_trials]
    masks = [np.asarray(mk, bool) for mk in masks]
    if jitter is None:
        jitter = [np.zeros(int(mk.sum())) for mk in masks]
    elif not isinstance(jitter, list):
        jitter = [jitter]
    td = make_trial_data(ds, ti, make_params, np.any(masks, axis=0))
    bounds = np.concatenate([[0], np.cumsum(td.lengths)])
    where = {int(p): i for i, p in enumerate(td.windows.pos)}
    bw = ds.bin_width
    max_len = int(td.lengths.max()) if seg_len is None else int(round(seg_len / bw))
    values = {f: td.field(f) for f in fields}
    out = []
    for mk, jit_ms in zip(masks, jitter):
        pos = np.flatnonzero(mk)
        missing = [int(ti["trial_id"].iloc[p]) for p in pos if int(p) not in where]
        if missing:
            raise DataError(
                f"trials {missing[:10]} have no data in the window (NaT alignment/start field or "
                "an empty window); nlb_tools fails here with a KeyError"
            )
        arrays = {}
        for f in fields:
            vals = values[f]
            arr = np.full((len(pos), max_len, vals.shape[1]), np.nan)
            for i, p in enumerate(pos):
                k = where[int(p)]
                data = vals[bounds[k] : bounds[k + 1]]
                jit = int(round(jit_ms[i] / bw))
                if pad == "front":
                    if jit == 0:
                        data = data[-max_len:]
                        arr[i, -data.shape[0] :, :] = data
                    elif jit > 0:
                        data = data[-(max_len - jit) :]
                        arr[i, -(data.shape[0] + jit) : -jit, :] = data
                    else:
                        data = data[-(max_len - jit) : jit]
                        arr[i, -data.shape[0] :, :] = data
                else:
                    if jit > 0:
                        data = data[jit : max_len + jit]
                        arr[i, : data.shape[0], :] = data
                    else:  # jit == 0 writes the same rows twice in the official code
                        data = data[: max_len - jit]
                        arr[i, -jit : data.shape[0] - jit] = data
            arrays[f] = arr
        out.append(arrays)
    return out


# --------------------------------------------------------------------------------------
# behaviour, forward prediction, jitter
# --------------------------------------------------------------------------------------
def _prep_behavior(lag: int | None, make_params: dict) -> dict | None:
    if lag is None:
        return None
    mp = dict(make_params)
    mp["allow_nans"] = True
    if "align_range" in mp:
        mp["align_range"] = tuple(t + lag for t in make_params["align_range"])
    else:
        mp["align_range"] = (lag, lag)
    return mp


def _prep_fp(make_params: dict, fp_steps: float, bin_width: int) -> dict:
    align_point = make_params.get("align_field", make_params.get("end_field", "end_time"))
    start = make_params.get("align_range", (0, 0))[1]
    return {
        "align_field": align_point,
        "align_range": (start, start + fp_steps * bin_width),
        "allow_overlap": True,
    }


def _prep_jitter(ti: pd.DataFrame, mask: np.ndarray, jitter: Any, bin_width: int, seed: int):
    """Jitter (ms) per masked trial: the official draws, from a private RandomState(seed)."""
    sub = ti[mask]
    if callable(jitter):
        rng_ms = np.asarray(jitter(sub), dtype=float)
    elif isinstance(jitter, list | tuple) and len(jitter) == 2:
        rng_ms = np.tile(np.asarray(jitter, dtype=float), (len(sub), 1))
    elif isinstance(jitter, np.ndarray) and jitter.shape == (len(sub), 2):
        rng_ms = jitter.astype(float)
    else:
        raise DataError(
            "`jitter` must be a callable on trial_info, a (low, high) pair in ms, "
            f"or an array of shape ({len(sub)}, 2)"
        )
    rng_bins = np.floor((rng_ms / bin_width).round(4))
    draws = np.random.RandomState(seed).random_sample(len(sub))
    vals = np.round(draws * (rng_bins[:, 1] - rng_bins[:, 0]) + rng_bins[:, 0])
    return vals * bin_width


def _jittered_info(ti: pd.DataFrame, field: str, parts: list[tuple[np.ndarray, np.ndarray]]):
    """Copy of trial_info with ``<field>_jitter`` = field + jitter (ms) on the masked rows."""
    name = field.replace("_time", "_jitter_time")
    col = pd.Series(pd.NaT, index=ti.index, dtype="timedelta64[ns]")
    base = ti[field].astype("timedelta64[ns]")
    for mask, vals in parts:
        col[mask] = base[mask] + pd.to_timedelta(vals, unit="ms")
    out = ti.copy(deep=False)
    out[name] = col
    return out, name


def _trial_info_behavior(ti: pd.DataFrame, mask: np.ndarray, fields: Sequence[str]) -> np.ndarray:
    sub = ti[mask]
    cols = []
    for f in fields:
        if f not in sub.columns:
            raise DataError(f"trial_info has no behaviour field {f!r}")
        s = sub[f]
        if s.dtype.kind == "m":
            cols.append(s.dt.total_seconds().to_numpy(dtype=float))
        else:
            cols.append(np.asarray(s.to_numpy(), dtype=float))
    return np.stack(cols, axis=1) if cols else np.empty((len(sub), 0))


def _apply_behavior_mask(params: dict, ti: pd.DataFrame, beh: np.ndarray, mask: np.ndarray, i: int):
    bm = params.get("behavior_mask")
    if bm is None:
        return beh
    keep = bm(ti[mask]) if callable(bm) else bm[i]
    beh[~np.asarray(keep, bool)] = np.nan
    return beh


def _save_return(data_dict: dict, save_file: bool, return_dict: bool, save_path) -> dict | None:
    if save_file:
        from nlbtut.h5io import save_to_h5

        save_to_h5(data_dict, _h5_path(save_path), overwrite=True)
    return data_dict if return_dict else None


def _jitter_setup(make_params: dict, ti: pd.DataFrame, parts: list):
    """Add the jittered alignment column (DMFC) and point the window at it."""
    align = make_params.get("align_field", make_params.get("start_field", "start_time"))
    ti2, name = _jittered_info(ti, align, parts)
    mp = dict(make_params)
    mp["align_field" if "align_field" in mp else "start_field"] = name
    return ti2, mp


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------
def make_train_input_tensors(
    dataset: Any,
    dataset_name: str,
    trial_split: str | np.ndarray | pd.Series | list = "train",
    update_params: dict | None = None,
    save_file: bool = True,
    return_dict: bool = True,
    save_path: str | os.PathLike = "train_input.h5",
    include_behavior: bool = False,
    include_forward_pred: bool = False,
    seed: int = 0,
) -> dict[str, np.ndarray] | None:
    """Model training inputs: held-in and held-out spikes of the training trials.

    Parameters
    ----------
    dataset : NWBDataset
        Loaded (and usually resampled) dataset; ``dataset.bin_width`` is the bin in ms.
    dataset_name : str
        Key of :data:`PARAMS` (``mc_maze``, ``mc_rtt``, ``area2_bump``, ``dmfc_rsg``,
        ``mc_maze_large``, ``mc_maze_medium``, ``mc_maze_small``).
    trial_split : {'train', 'val'}, bool mask, or list of those
        Trials to use (a list means their union, e.g. ``['train', 'val']`` in the test phase).
    update_params : dict, optional
        Entries replacing those of ``PARAMS[dataset_name]``.
    save_file, return_dict, save_path
        Save to HDF5 (``.h5`` appended if missing) and/or return the dict.
    include_behavior : bool
        Add ``train_behavior``: trials x time x 2 float64 velocities lagged by the
        dataset's lag, or for DMFC trials x 5 ``[is_eye, theta, is_short, ts, tp]``.
    include_forward_pred : bool
        Add ``train_spikes_heldin_forward``/``..._heldout_forward``: the 200 ms after the window.
    seed : int
        Seed of the DMFC window jitter.

    Returns
    -------
    dict or None
        ``train_spikes_heldin`` (trials x time x held-in neurons) and
        ``train_spikes_heldout`` (trials x time x held-out neurons), spike counts per
        bin in the data dtype (float16), plus the optional keys above.

    Examples
    --------
    >>> d = make_train_input_tensors(ds, "mc_maze", "train", save_file=False,
    ...                              include_behavior=True)  # doctest: +SKIP
    >>> d["train_behavior"].shape  # doctest: +SKIP
    (1721, 140, 2)
    """
    _check_dataset(dataset)
    params = _get_params(dataset_name, update_params)
    spk, hospk = params["spk_field"], params["hospk_field"]
    mp = dict(params["make_params"])
    mask = _prep_mask(dataset, trial_split, ("train", "val"), "trial_split")
    ti = dataset.trial_info
    jitter = params.get("jitter")
    if jitter is not None:
        jit = _prep_jitter(ti, mask, jitter, dataset.bin_width, seed)
        ti, mp = _jitter_setup(mp, ti, [(mask, jit)])

    arrays = make_stacked_array(dataset, ti, [spk, hospk], mp, mask)
    data_dict = {"train_spikes_heldin": arrays[spk], "train_spikes_heldout": arrays[hospk]}
    if include_behavior:
        if params["behavior_source"] == "data":
            bmp = _prep_behavior(params.get("lag"), mp)
            field = params["behavior_field"]
            beh = make_jagged_array(dataset, ti, [field], bmp, mask)[0][field]
        else:
            beh = _trial_info_behavior(ti, mask, params["behavior_field"])
        data_dict["train_behavior"] = _apply_behavior_mask(params, ti, beh, mask, 0)
    if include_forward_pred:
        fp_steps = params["fp_len"] / dataset.bin_width
        fp = make_stacked_array(
            dataset, ti, [spk, hospk], _prep_fp(mp, fp_steps, dataset.bin_width), mask
        )
        data_dict["train_spikes_heldin_forward"] = fp[spk]
        data_dict["train_spikes_heldout_forward"] = fp[hospk]
    return _save_return(data_dict, save_file, return_dict, save_path)


def make_eval_input_tensors(
    dataset: Any,
    dataset_name: str,
    trial_split: str | np.ndarray | pd.Series | list = "val",
    update_params: dict | None = None,
    save_file: bool = True,
    return_dict: bool = True,
    save_path: str | os.PathLike = "eval_input.h5",
    seed: int = 0,
) -> dict[str, np.ndarray] | None:
    """Model inputs of the evaluation trials (NaN rows kept).

    Parameters
    ----------
    dataset, dataset_name, update_params, save_file, return_dict, save_path, seed
        As in :func:`make_train_input_tensors`.
    trial_split : {'train', 'val', 'test'}, bool mask, or list of those
        The evaluation trials ('val' in the validation phase, 'test' in the test phase).

    Returns
    -------
    dict or None
        ``eval_spikes_heldin`` (trials x time x held-in neurons, float16 spikes/bin)
        and, unless a test trial is included (test files have no held-out units),
        ``eval_spikes_heldout``.

    Examples
    --------
    >>> make_eval_input_tensors(ds, "mc_maze", "test", save_file=False).keys()  # doctest: +SKIP
    dict_keys(['eval_spikes_heldin'])
    """
    _check_dataset(dataset)
    params = _get_params(dataset_name, update_params)
    spk, hospk = params["spk_field"], params["hospk_field"]
    mp = dict(params["make_params"])
    mp["allow_nans"] = True
    mask = _prep_mask(dataset, trial_split, ("train", "val", "test"), "trial_split")
    ti = dataset.trial_info
    jitter = params.get("jitter")
    if jitter is not None:
        jit = _prep_jitter(ti, mask, jitter, dataset.bin_width, seed)
        ti, mp = _jitter_setup(mp, ti, [(mask, jit)])
    has_test = bool(np.any(ti["split"].to_numpy()[mask] == "test"))
    if not has_test:
        arrays = make_stacked_array(dataset, ti, [spk, hospk], mp, mask)
        data_dict = {"eval_spikes_heldin": arrays[spk], "eval_spikes_heldout": arrays[hospk]}
    else:
        arrays = make_stacked_array(dataset, ti, [spk], mp, mask)
        data_dict = {"eval_spikes_heldin": arrays[spk]}
    return _save_return(data_dict, save_file, return_dict, save_path)


def make_eval_target_tensors(
    dataset: Any,
    dataset_name: str,
    train_trial_split: str | np.ndarray | pd.Series | list = "train",
    eval_trial_split: str | np.ndarray | pd.Series | list = "val",
    update_params: dict | None = None,
    save_file: bool = True,
    return_dict: bool = True,
    save_path: str | os.PathLike = "target_data.h5",
    include_psth: bool = False,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]] | None:
    """Evaluation targets: held-out spikes, behaviour, forward spikes, PSTHs of the eval trials.

    Parameters
    ----------
    dataset, dataset_name, update_params, save_file, return_dict, save_path, seed
        As in :func:`make_train_input_tensors`.
    train_trial_split, eval_trial_split : split name, bool mask, or list of those
        Trials the model was trained on (used for the behaviour decoder and the PSTH
        indices) and trials it is scored on.
    include_psth : bool
        Add ``psth`` (conditions x time x neurons, spikes/bin, held-in then held-out),
        ``train_cond_idx``/``eval_cond_idx`` (object arrays, one int64 index array per
        condition) and for DMFC ``train_jitter``/``eval_jitter`` (int bins). Computed
        by :func:`nlbtut.psth.make_psth`, which is much cheaper than the official
        reload-and-smooth-everything but gives the same values (to 1e-9).

    Returns
    -------
    dict or None
        ``{group: {...}}`` with group ``dataset_name`` (5 ms) or ``dataset_name + '_20'``
        (other bin widths ``_<bw>``), holding ``eval_spikes_heldout`` (trials x time x
        held-out neurons; float16, or NaN-padded float64 for DMFC), ``train_behavior``,
        ``eval_behavior``, ``eval_spikes_heldin_forward``, ``eval_spikes_heldout_forward``,
        and for area2_bump ``train_decode_mask``/``eval_decode_mask`` (bool, trials x 2).

    Examples
    --------
    >>> t = make_eval_target_tensors(ds, "mc_maze", "train", "val", save_file=False,
    ...                              include_psth=True)  # doctest: +SKIP
    >>> t["mc_maze"]["psth"].shape  # doctest: +SKIP
    (108, 140, 182)
    """
    _check_dataset(dataset)
    params = _get_params(dataset_name, update_params)
    spk, hospk = params["spk_field"], params["hospk_field"]
    mp = dict(params["eval_make_params"])
    source, bfield = params["behavior_source"], params["behavior_field"]
    jitter = params.get("jitter")
    tensor_params = dict(params.get("eval_tensor_params", {}))
    bw = dataset.bin_width
    suf = "" if bw == 5 else f"_{bw}"
    splits = ("train", "val", "test")
    train_mask = _prep_mask(dataset, train_trial_split, splits, "train_trial_split")
    eval_mask = _prep_mask(dataset, eval_trial_split, splits, "eval_trial_split")
    ti = dataset.trial_info
    if isinstance(eval_trial_split, str) and eval_trial_split == "test":
        ignore_mask = (ti["split"] == "none").to_numpy()
    else:
        ignore_mask = ~(train_mask | eval_mask)
    if eval_mask.any() and np.any(ti["split"].to_numpy()[eval_mask] == "test"):
        raise DataError(
            "eval targets need held-out spikes, which test-split trials do not have "
            "(the NLB test files hold only held-in units); use eval_trial_split='val'"
        )

    train_jit = eval_jit = None
    if jitter is not None:
        train_jit = _prep_jitter(ti, train_mask, jitter, bw, seed)
        eval_jit = _prep_jitter(ti, eval_mask, jitter, bw, seed)
        ti, mp = _jitter_setup(mp, ti, [(train_mask, train_jit), (eval_mask, eval_jit)])

    bmp = _prep_behavior(params.get("lag"), mp)
    if "align_range" not in mp:
        held = make_jagged_array(
            dataset, ti, [hospk], mp, eval_mask, jitter=eval_jit, **tensor_params
        )
        eval_heldout = held[0][hospk]
    else:
        eval_heldout = make_stacked_array(dataset, ti, [hospk], mp, eval_mask)[hospk]
    if source == "trial_info":
        train_beh = _trial_info_behavior(ti, train_mask, bfield)
        eval_beh = _trial_info_behavior(ti, eval_mask, bfield)
    else:
        if bmp is None or "align_range" not in mp:
            raise DataError("behaviour from `data` needs a `lag` and an `align_range`")
        train_beh = make_jagged_array(dataset, ti, [bfield], bmp, train_mask)[0][bfield]
        eval_beh = make_jagged_array(dataset, ti, [bfield], bmp, eval_mask)[0][bfield]
    train_beh = _apply_behavior_mask(params, ti, train_beh, train_mask, 0)
    eval_beh = _apply_behavior_mask(params, ti, eval_beh, eval_mask, 1)

    fp_mp = _prep_fp(mp, params["fp_len"] / bw, bw)
    fp = make_stacked_array(dataset, ti, [spk, hospk], fp_mp, eval_mask)
    group = {
        "eval_spikes_heldout": eval_heldout,
        "train_behavior": train_beh,
        "eval_behavior": eval_beh,
        "eval_spikes_heldin_forward": fp[spk],
        "eval_spikes_heldout_forward": fp[hospk],
    }
    if "decode_masks" in params:
        dm = params["decode_masks"]
        if callable(dm):
            group["train_decode_mask"] = np.asarray(dm(ti[train_mask]))
            group["eval_decode_mask"] = np.asarray(dm(ti[eval_mask]))
        else:
            group["train_decode_mask"], group["eval_decode_mask"] = dm
    if include_psth:
        psth_params = params.get("psth_params")
        if psth_params is None:
            logger.warning("PSTHs are not supported for this dataset, skipping...")
        else:
            from nlbtut.psth import make_psth

            (train_idx, eval_idx), psth, _ = make_psth(
                dataset, train_mask, eval_mask, ignore_mask, trial_info=ti, **psth_params
            )
            group["eval_cond_idx"] = eval_idx
            group["train_cond_idx"] = train_idx
            group["psth"] = psth
            if jitter is not None:
                group["eval_jitter"] = (eval_jit / bw).round().astype(int)
                group["train_jitter"] = (train_jit / bw).round().astype(int)
    return _save_return({dataset_name + suf: group}, save_file, return_dict, save_path)
