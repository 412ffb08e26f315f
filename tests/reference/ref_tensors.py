"""Build the official NLB tensors (nlb_tools 0.0.4) and save them for the parity test.

Runs in the reference environment (Python 3.9, pandas 1.3.4, numpy 1.21). Usage::

    python ref_tensors.py OUT.h5 DATASET_DIR PREFIX NAMES BINS [--bugs] [--extras]

``NAMES`` and ``BINS`` are comma-separated (e.g. ``mc_maze_small,mc_maze 5,20``). The
files are loaded once, then for each bin width and dataset name the validation phase
(train='train', eval='val': train inputs with behaviour and forward prediction, eval
inputs, eval targets with PSTH) and the test phase (train=['train','val'] inputs,
eval='test' inputs) are built. Layout of OUT.h5::

    /<name>/<bw>/<phase>/<train|eval|target>/<key>       arrays as returned
    /<name>/<bw>/<phase>/target/<key>/<i>                 *_cond_idx rows (int64)
    attrs "error" on a group whose function raised

``/_data/<bw>/<signal>`` holds the official resampled continuous signals.
``--extras`` adds ``/extras/wide_kernel``: eval targets of the first name at 5 ms with a
400 ms PSTH kernel (smoothing windows that cross NaN gaps). ``--bugs`` adds ``/bugs``: the official behaviour in the documented bug cases
(save_to_h5 with equal-sized conditions; DMFC PSTH with seg_len shorter than the trials).
Prints a JSON summary with the timings.
"""

import copy
import json
import logging
import os
import sys
import tempfile
import time
import traceback

import h5py
import numpy as np

logging.disable(logging.WARNING)

import nlb_tools.nwb_interface as _ni  # noqa: E402
from nlb_tools.make_tensors import (  # noqa: E402
    make_eval_input_tensors,
    make_eval_target_tensors,
    make_train_input_tensors,
    save_to_h5,
)
from nlb_tools.nwb_interface import NWBDataset  # noqa: E402

_ni._original_smooth_column = _ni.smooth_column


def _put(group, key, val):
    if isinstance(val, dict):
        sub = group.create_group(key)
        for k, v in val.items():
            _put(sub, k, v)
        return
    val = np.asarray(val)
    if val.dtype == object:
        sub = group.create_group(key)
        sub.attrs["object_ndim"] = val.ndim
        for i, row in enumerate(val):
            sub.create_dataset(str(i), data=np.asarray(list(row), dtype=np.int64))
        return
    group.create_dataset(key, data=val)


def _run(group, key, fn):
    sub = group.create_group(key)
    try:
        out = fn()
    except Exception as exc:  # recorded, compared by the test
        sub.attrs["error"] = f"{type(exc).__name__}: {exc}"
        return
    for k, v in out.items():
        _put(sub, k, v)


def _dump_continuous(out, ds, bw):
    """The official resampled continuous signals (to test tensors apart from resampling)."""
    g = out.create_group(f"_data/{bw}")
    for st in ds.data.columns.get_level_values(0).unique():
        if "spikes" in st:
            continue
        d = g.create_dataset(st, data=ds.data[st].to_numpy())
        d.attrs["columns"] = [str(c) for c in ds.data[st].columns]


def build(out, ds1, names, bins):
    timings = {}
    for bw in bins:
        ds = copy.deepcopy(ds1)
        if bw != 1:
            ds.resample(bw)
        _dump_continuous(out, ds, bw)
        for name in names:
            g = out.require_group(f"{name}/{bw}")
            t0 = time.time()
            val = g.create_group("val")
            group = name + ("" if bw == 5 else f"_{bw}")
            _run(
                val,
                "train",
                lambda ds=ds, name=name: make_train_input_tensors(
                    ds,
                    name,
                    "train",
                    save_file=False,
                    include_behavior=True,
                    include_forward_pred=True,
                ),
            )
            _run(
                val,
                "eval",
                lambda ds=ds, name=name: make_eval_input_tensors(ds, name, "val", save_file=False),
            )
            _run(
                val,
                "target",
                lambda ds=ds, name=name, group=group: make_eval_target_tensors(
                    ds, name, "train", "val", save_file=False, include_psth=True
                )[group],
            )
            test = g.create_group("test")
            _run(
                test,
                "train",
                lambda ds=ds, name=name: make_train_input_tensors(
                    ds,
                    name,
                    ["train", "val"],
                    save_file=False,
                    include_behavior=True,
                    include_forward_pred=True,
                ),
            )
            _run(
                test,
                "eval",
                lambda ds=ds, name=name: make_eval_input_tensors(ds, name, "test", save_file=False),
            )
            timings[f"{name}/{bw}"] = round(time.time() - t0, 3)
    return timings


def extras(out, ds1, name):
    """A wide PSTH kernel (kern_sd 400 ms): smoothing windows cross NaN gaps and file ends.

    Run twice: as is, and with the segments smoothed in float64. For segments shorter than
    about the kernel, scipy picks FFT convolution, and scipy.fft computes float16 input (the
    raw spike column) in float32, so the official PSTH carries ~1e-8 rounding noise there.
    """
    import nlb_tools.nwb_interface as ni
    from nlb_tools.make_tensors import PARAMS

    ds = copy.deepcopy(ds1)
    ds.resample(5)
    psth_params = dict(PARAMS[name]["psth_params"], kern_sd=400)
    g = out.create_group("extras")

    def target():
        return make_eval_target_tensors(
            ds,
            name,
            "train",
            "val",
            save_file=False,
            include_psth=True,
            update_params={"psth_params": psth_params},
        )[name]

    _run(g, "wide_kernel", target)
    original = ni.smooth_column
    ni.smooth_column = _smooth_column_f64
    try:
        _run(g, "wide_kernel_f64", target)
    finally:
        ni.smooth_column = original


def _smooth_column_f64(args):
    import nlb_tools.nwb_interface as ni

    x, window, ignore_nans, dtype = args
    return ni.__dict__["_original_smooth_column"]((x.astype("float64"), window, ignore_nans, dtype))


def bugs(out, ds1, names):
    b = out.create_group("bugs")
    # 1) save_to_h5 when every condition has the same number of trials
    idx = np.array([np.arange(2), np.arange(2) + 2], dtype=object)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            save_to_h5({"eval_cond_idx": idx}, os.path.join(tmp, "x.h5"))
            b.attrs["save_equal_conds"] = "ok"
        except Exception as exc:
            b.attrs["save_equal_conds"] = f"{type(exc).__name__}: {exc}"
    # 2) front-padded PSTH longer than seg_len (DMFC): official keeps psth[max_len:]
    if "dmfc_rsg" in names:
        from nlb_tools.make_tensors import PARAMS

        ds = copy.deepcopy(ds1)
        ds.resample(5)
        psth_params = dict(PARAMS["dmfc_rsg"]["psth_params"], seg_len=300)
        try:
            t = make_eval_target_tensors(
                ds,
                "dmfc_rsg",
                "train",
                "val",
                save_file=False,
                include_psth=True,
                update_params={"psth_params": psth_params},
            )["dmfc_rsg"]
            b.create_dataset("front_psth", data=t["psth"])
        except Exception as exc:
            b.attrs["front_psth"] = f"{type(exc).__name__}: {exc}"


def main(argv):
    out_path, folder, prefix, names, bins = argv[:5]
    names = names.split(",")
    bins = [int(x) for x in bins.split(",")]
    t0 = time.time()
    ds1 = NWBDataset(folder, prefix)
    load = time.time() - t0
    with h5py.File(out_path, "w") as out:
        timings = build(out, ds1, names, bins)
        if "--bugs" in argv:
            bugs(out, ds1, names)
        if "--extras" in argv:
            extras(out, ds1, names[0])
    print(json.dumps({"load_s": round(load, 3), "build_s": timings}))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception:
        traceback.print_exc()
        sys.exit(1)
