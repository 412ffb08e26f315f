"""Run the official ``nlb_tools.NWBDataset`` on NLB-format files and save what it produces.

Runs in the reference environment (Python 3.9, pandas 1.3.4, numpy 1.21, nlb-tools 0.0.4).
``tests/test_parity_nwb.py`` runs the same operations with ``nlbtut.NWBDataset`` and compares.

Usage: ``ref_nwb.py <cases.json> <out_dir>``. ``cases.json`` is a list of
``{"name", "path", "prefix", "family", "kern_sd", "lag"}``; for each case this writes
``<out_dir>/<name>.npz`` holding, without pickles:

* ``load``: the loaded ``data`` and ``trial_info`` (+ ``descriptions`` as JSON);
* ``r5``/``r20``: ``data`` after ``resample(5)`` / ``resample(20)``;
* ``psth``: spikes after ``smooth_spk(kern_sd, overwrite=True, ignore_nans=True)`` at 1 ms and
  ``resample(5)`` (the PSTH-target path of ``make_eval_target_tensors``);
* ``smooth5``: ``smooth_spk(30, name="smth")`` at 5 ms (NaN spreading);
* ``td_<k>``: ``make_trial_data(**params)`` at 5 ms for the benchmark's parameter sets
  (``trial_params(family, lag)``).

The serialisers (``frame_arrays``, ``trial_info_arrays``) are shared with the test, which imports
this file; they run under pandas 1.3 and 3.x alike. Only ``main`` imports ``nlb_tools``.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings

import numpy as np
import pandas as pd

INT_MIN = np.iinfo(np.int64).min


# ------------------------------------------------------------------------------------------------
# parameter sets: the make_trial_data calls of nlb_tools.make_tensors for each dataset family
# ------------------------------------------------------------------------------------------------
def trial_params(family, lag):
    """``{key: (make_trial_data kwargs, ignored-split list or None)}`` for one family."""
    if family == "maze":
        base = dict(align_field="move_onset_time", align_range=(-250, 450))
        fp = dict(align_field="move_onset_time", align_range=(450, 650), allow_overlap=True)
    elif family == "rtt":
        base = dict(align_field="start_time", align_range=(0, 600), allow_overlap=True)
        fp = dict(align_field="start_time", align_range=(600, 800), allow_overlap=True)
    elif family == "area2":
        base = dict(align_field="move_onset_time", align_range=(-100, 500))
        fp = dict(align_field="move_onset_time", align_range=(500, 700), allow_overlap=True)
    elif family == "dmfc":
        base = dict(align_field="go_time", align_range=(-1500, 0), allow_overlap=True)
        fp = dict(align_field="go_time", align_range=(0, 200), allow_overlap=True)
    else:
        raise ValueError(family)
    out = {
        "train": (dict(base), ["val", "test", "none"]),
        "eval": (dict(base, allow_nans=True), ["train", "none"]),
        "fp": (fp, ["train", "none"]),
        "whole_margin": (dict(margin=50, allow_nans=True), None),
        "odd_range": (
            dict(base, align_range=(base["align_range"][0] - 2, base["align_range"][1] + 1)),
            None,
        ),
    }
    if family == "area2":
        out["eval_overlap"] = (dict(base, allow_overlap=True, allow_nans=True), ["train", "none"])
    if family == "dmfc":
        out["eval_setgo"] = (
            dict(
                start_field="set_time", end_field="go_time", align_field="go_time", allow_nans=True
            ),
            ["train", "none"],
        )
    if lag is not None and family != "dmfc":
        a, b = base["align_range"]
        out["behavior"] = (
            dict(base, align_range=(a + lag, b + lag), allow_nans=True),
            ["test", "none"],
        )
    return out


# ------------------------------------------------------------------------------------------------
# serialisers
# ------------------------------------------------------------------------------------------------
def _norm(x):
    """A JSON-able, version-independent form of one trial_info cell."""
    if isinstance(x, np.ndarray):
        return [_norm(v) for v in x.tolist()]
    if isinstance(x, (list, tuple)):
        return [_norm(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes):
        return x.decode()
    if isinstance(x, float) and x != x:
        return None
    if x is None or x is pd.NaT:
        return None
    if isinstance(x, pd.Timedelta):
        return int(x.value)
    return x


def _kind(values):
    return np.asarray(values).dtype.kind


def frame_arrays(df, prefix):
    """Arrays describing a DataFrame with (signal_type, channel) columns."""
    out = {}
    cols = [[str(c[0]), _norm(c[1])] for c in df.columns]
    out[prefix + "/columns"] = np.array(json.dumps(cols))
    out[prefix + "/dtypes"] = np.array(json.dumps([str(np.dtype(t)) for t in df.dtypes]))
    idx = df.index
    if isinstance(idx, pd.TimedeltaIndex):
        out[prefix + "/index"] = np.asarray(idx.values).astype("timedelta64[ns]").view("i8")
    else:
        out[prefix + "/index"] = np.asarray(idx, dtype=np.int64)
    # group columns by kind into 2-D arrays (fast to save and compare)
    num, td, bl = [], [], []
    for i, t in enumerate(df.dtypes):
        k = np.dtype(t).kind
        (td if k == "m" else bl if k == "b" else num).append(i)
    for name, pos, conv in (
        ("num", num, lambda a: a.astype(np.float64)),
        ("td", td, lambda a: a.astype("timedelta64[ns]").view("i8")),
        ("bool", bl, lambda a: a.astype(bool)),
    ):
        out[prefix + "/" + name + "_pos"] = np.asarray(pos, dtype=np.int64)
        if pos:
            arrs = [conv(df.iloc[:, p].to_numpy()) for p in pos]
            out[prefix + "/" + name] = np.stack(arrs, axis=1)
    return out


def trial_info_arrays(ti, prefix):
    """Arrays describing a trial_info DataFrame."""
    out = {prefix + "/columns": np.array(json.dumps([str(c) for c in ti.columns]))}
    out[prefix + "/index"] = np.asarray(ti.index, dtype=np.int64)
    for i, c in enumerate(ti.columns):
        v = ti[c].to_numpy()
        k = v.dtype.kind
        if k == "m":
            out[f"{prefix}/c{i}"] = v.astype("timedelta64[ns]").view("i8")
        elif k in "fiub":
            out[f"{prefix}/c{i}"] = v.astype(np.float64)
        else:
            out[f"{prefix}/c{i}"] = np.array(json.dumps([_norm(x) for x in v]))
    return out


# ------------------------------------------------------------------------------------------------
def run_case(NWBDataset, case):
    path, prefix, family = case["path"], case["prefix"], case["family"]
    lag, kern_sd = case.get("lag"), case.get("kern_sd", 50)
    out = {}
    ds = NWBDataset(path, prefix)
    out.update(frame_arrays(ds.data, "load/data"))
    out.update(trial_info_arrays(ds.trial_info, "load/trial_info"))
    out["load/descriptions"] = np.array(json.dumps(ds.descriptions, sort_keys=True))
    ds.resample(5)
    out.update(frame_arrays(ds.data, "r5"))
    split = ds.trial_info["split"]
    for key, (params, ignored) in trial_params(family, lag).items():
        ign = split.isin(ignored) if ignored is not None else None
        td = ds.make_trial_data(ignored_trials=ign, **params)
        out.update(frame_arrays(td, "td_" + key))
    ds.smooth_spk(30, name="smth", parallelized=False)
    out.update(frame_arrays(ds.data[["spikes_smth"]], "smooth5"))
    ds20 = NWBDataset(path, prefix)
    ds20.resample(20)
    out.update(frame_arrays(ds20.data, "r20"))
    ps = NWBDataset(path, prefix)
    ps.data = ps.data[[c for c in ("spikes", "heldout_spikes") if c in ps.data.columns]]
    ps.smooth_spk(kern_sd, overwrite=True, ignore_nans=True, parallelized=False)
    ps.resample(5)
    out.update(frame_arrays(ps.data, "psth"))
    return out


def main(argv):
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    from nlb_tools.nwb_interface import NWBDataset

    cases_file, out_dir = argv[1], argv[2]
    with open(cases_file) as f:
        cases = json.load(f)
    for case in cases:
        arrays = run_case(NWBDataset, case)
        np.savez(out_dir + "/" + case["name"] + ".npz", **arrays)
        print(case["name"], "ok")


if __name__ == "__main__":
    main(sys.argv)
