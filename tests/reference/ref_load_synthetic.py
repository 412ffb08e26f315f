"""Load synthetic datasets with the official nlb_tools and report the tensors' shapes.

Runs in the reference environment (Python 3.9, nlb-tools 0.0.4, pynwb 2.2.0).
Usage: ``ref_load_synthetic.py <folder> <dataset name> [<folder> <dataset name> ...]``
(``--psth`` first to build the PSTH targets, ``--bin 20`` for another bin width,
``--dump <dir>`` to save each dataset's tensors as ``<dir>/<name>.npz``).
Prints one JSON object: ``{dataset name: {"n_trials": ..., "heldin": ..., tensors: shapes}}``.
"""

import json
import logging
import os
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

from nlb_tools.make_tensors import (  # noqa: E402
    make_eval_input_tensors,
    make_eval_target_tensors,
    make_train_input_tensors,
)
from nlb_tools.nwb_interface import NWBDataset  # noqa: E402

PREFIX = {
    "mc_maze": "*full",
    "mc_maze_large": "*large",
    "mc_maze_medium": "*medium",
    "mc_maze_small": "*small",
}


def shapes(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = shapes(v)
        elif isinstance(v, np.ndarray):
            out[k] = [list(v.shape), str(v.dtype)]
    return out


def main(argv):
    psth = "--psth" in argv
    argv = [a for a in argv if a != "--psth"]
    bw = 5
    dump = None
    if "--bin" in argv:
        i = argv.index("--bin")
        bw = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    if "--dump" in argv:
        i = argv.index("--dump")
        dump = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    report = {}
    for folder, name in zip(argv[0::2], argv[1::2]):
        ds = NWBDataset(folder, PREFIX.get(name, ""))
        r = {
            "n_trials": int(len(ds.trial_info)),
            "splits": {str(k): int(v) for k, v in ds.trial_info.split.value_counts().items()},
            "heldin": int(ds.data["spikes"].shape[1]),
            "heldout": int(ds.data["heldout_spikes"].shape[1]),
            "data_columns": sorted({str(c) for c in ds.data.columns.get_level_values(0)}),
        }
        if bw != 1:
            ds.resample(bw)
        tr = make_train_input_tensors(
            ds, name, "train", save_file=False, include_behavior=True, include_forward_pred=True
        )
        ev = make_eval_input_tensors(ds, name, "val", save_file=False)
        tv = make_train_input_tensors(ds, name, ["train", "val"], save_file=False)
        te = make_eval_input_tensors(ds, name, "test", save_file=False)
        tg = make_eval_target_tensors(ds, name, "train", "val", save_file=False, include_psth=psth)
        r.update(
            train=shapes(tr),
            eval=shapes(ev),
            trainval=shapes(tv),
            test=shapes(te),
            target=shapes(tg),
        )
        report[name] = r
        if dump:
            flat = {}
            for pre, d in (("train", tr), ("eval", ev), ("trainval", tv), ("test", te)):
                for k, v in d.items():
                    flat[f"{pre}/{k}"] = v
            for k, v in next(iter(tg.values())).items():
                if isinstance(v, np.ndarray) and v.dtype != object:
                    flat[f"target/{k}"] = v
            np.savez(os.path.join(dump, f"{name}.npz"), **flat)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
