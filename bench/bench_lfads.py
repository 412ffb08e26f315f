"""Benchmarks of nlbtut's LFADS: training speed per preset, and quality on synthetic data.

Usage::

    python bench/bench_lfads.py speed   [--presets cpu mc_maze_small ...] [--xla both|on|off] [--steps 3]
    python bench/bench_lfads.py quality [--preset cpu] [--dataset mc_maze_small] [--seconds 240]

``speed`` builds random Poisson data with each preset's NLB dimensions (5 ms bins,
the val-phase training trials less the preset's validation split), times training
steps after a warm-up (with XLA on and/or off) and reports the step time, the epoch
time it implies and trials per second, in wall-clock and in CPU seconds (the machine
may be shared).

``quality`` generates the synthetic NLB dataset (``nlbtut.synthetic``), runs the
smoothing and factor-analysis baselines, the oracle (true rates) and ``run_pipeline``
with the preset, and reports the official metrics and the training time.

Results are merged into ``bench/results/lfads.json`` (one entry per run, with
the machine, the load average and the time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "lfads.json"


def machine() -> dict:
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_logical_devices("GPU")],
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def save(section: str, entry: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data.setdefault(section, []).append(entry)
    fd, tmp = tempfile.mkstemp(dir=RESULTS.parent, prefix=".lfads.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, RESULTS)
    print(f"saved to {RESULTS}")


def random_data(dataset: str, valid_ratio: float, seed: int = 0):
    import numpy as np

    from nlbtut.datasets import get_dataset_info
    from nlbtut.lfads import format_lfads_data

    info = get_dataset_info(dataset)
    t_obs, t_fwd = info.n_bins(5), info.n_fp_bins(5)
    n = info.n_train
    rng = np.random.default_rng(seed)
    spk = rng.poisson(0.05, (n, t_obs + t_fwd, info.n_neurons)).astype(np.float32)
    ni = info.n_heldin
    train = {
        "train_spikes_heldin": spk[:, :t_obs, :ni],
        "train_spikes_heldout": spk[:, :t_obs, ni:],
        "train_spikes_heldin_forward": spk[:, t_obs:, :ni],
        "train_spikes_heldout_forward": spk[:, t_obs:, ni:],
    }
    return format_lfads_data(train, valid_ratio=valid_ratio)


def bench_speed(presets: list[str], xla_modes: list[bool], steps: int) -> None:
    import tensorflow as tf

    from nlbtut.lfads import LFADSTrainer, load_config

    for preset in presets:
        cfg0 = load_config(preset)
        dataset = preset if preset not in ("cpu", "tiny") else "mc_maze_small"
        data = random_data(dataset, valid_ratio=cfg0.train.valid_ratio)
        for xla in xla_modes:
            cfg = cfg0.replace(jit_compile=xla)
            run_dir = Path(tempfile.mkdtemp(prefix="bench-lfads-"))
            try:
                tr = LFADSTrainer(cfg, data, run_dir, progress=False)
                bs = tr.batch_size
                batch = tf.constant(data.train[:bs])
                w0, c0 = time.perf_counter(), time.process_time()
                float(tr._train_step(batch)["loss"])
                first_wall, first_cpu = time.perf_counter() - w0, time.process_time() - c0
                w0, c0 = time.perf_counter(), time.process_time()
                for _ in range(steps):
                    res = tr._train_step(batch)
                float(res["loss"])
                step_wall = (time.perf_counter() - w0) / steps
                step_cpu = (time.process_time() - c0) / steps
                valid = tf.constant(data.valid[:bs])
                tr._valid_step(valid)
                w0 = time.perf_counter()
                tr._valid_step(valid)["logrates"].numpy()
                val_wall = (time.perf_counter() - w0) * (len(data.valid) / len(valid))
                n_steps = len(data.train) // bs
                epoch_wall = n_steps * step_wall + val_wall
                entry = {
                    "preset": preset,
                    "data": dataset,
                    "xla": xla,
                    "batch_size": bs,
                    "train_trials": len(data.train),
                    "steps_per_epoch": n_steps,
                    "compile_and_first_step_s": {
                        "wall": round(first_wall, 2),
                        "cpu": round(first_cpu, 2),
                    },
                    "step_s": {"wall": round(step_wall, 4), "cpu": round(step_cpu, 4)},
                    "epoch_s_wall_estimate": round(epoch_wall, 3),
                    "train_trials_per_s_wall": round(bs / step_wall, 1),
                    "machine": machine(),
                }
                print(json.dumps(entry))
                save("speed", entry)
            finally:
                shutil.rmtree(run_dir, ignore_errors=True)


def bench_quality(
    preset: str, dataset: str, seconds: float | None, data_root: Path, seed: int
) -> None:
    from nlbtut.datasets import get_dataset_info
    from nlbtut.evaluation import evaluate
    from nlbtut.pipeline import _flat_metrics, load_nlb_tensors, run_pipeline
    from nlbtut.synthetic import generate_dataset, oracle_submission
    from nlbtut.tensors import make_eval_target_tensors

    info = get_dataset_info(dataset)
    folder = data_root / info.relative_dir
    if not folder.is_dir():
        folder = generate_dataset(dataset, data_root, seed=seed, progress=True)
    ds, train_input, eval_input = load_nlb_tensors(folder, dataset, "val", 5)
    targets = make_eval_target_tensors(
        ds, dataset, "train", "val", include_psth=True, save_file=False
    )
    scores = {
        "oracle": _flat_metrics(evaluate(targets, oracle_submission(folder, phase="val")), dataset)
    }
    from nlbtut.baselines import factor_analysis_baseline, smoothing_baseline

    for name, baseline in (("smoothing", smoothing_baseline), ("FA", factor_analysis_baseline)):
        try:
            sub = baseline(train_input, eval_input, dataset, bin_width=5, progress=False)
            scores[name] = _flat_metrics(evaluate(targets, sub), dataset)
        except Exception as exc:  # report, don't hide
            scores[name] = {"error": repr(exc)}
    m0 = machine()
    out = Path(tempfile.mkdtemp(prefix=f"bench-{preset}-"))
    overrides = {"max_train_seconds": seconds} if seconds else {}
    c0 = time.process_time()
    result = run_pipeline(
        folder, dataset, "val", preset=preset, out=out, overrides=overrides, progress=True
    )
    import pandas as pd

    hist = pd.read_csv(Path(result["run_dir"]) / "history.csv")
    run_info = json.loads((Path(result["run_dir"]) / "run.json").read_text())
    scores["lfads"] = result["metrics"]
    entry = {
        "preset": preset,
        "data": f"synthetic {dataset} (seed {seed})",
        "scores": scores,
        "lfads_over_oracle_co_bps": round(
            scores["lfads"]["co-bps"] / scores["oracle"]["co-bps"], 3
        ),
        "epochs": int(hist["epoch"].iloc[-1]),
        "best_epoch": run_info.get("best_epoch"),
        "stop_reason": run_info.get("stop_reason"),
        "train_seconds_wall": round(float(hist["train_seconds"].iloc[-1]), 1),
        "pipeline_cpu_seconds": round(time.process_time() - c0, 1),
        "timings_s": {k: round(v, 1) for k, v in result["timings"].items()},
        "val_co_bps_curve": hist[["epoch", "train_seconds", "val_co_bps", "val_nll"]]
        .iloc[:: max(1, len(hist) // 25)]
        .round(4)
        .to_dict("records"),
        "machine": m0,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps({k: v for k, v in entry.items() if k != "val_co_bps_curve"}, indent=1))
    save("quality", entry)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--presets", nargs="+", default=["tiny", "cpu", "mc_maze_small", "mc_maze"])
    s.add_argument("--xla", choices=["both", "on", "off"], default="both")
    s.add_argument("--steps", type=int, default=3)
    q = sub.add_parser("quality")
    q.add_argument("--preset", default="cpu")
    q.add_argument("--dataset", default="mc_maze_small")
    q.add_argument("--seconds", type=float, default=None, help="max_train_seconds override")
    q.add_argument("--data-root", default="data/synthetic")
    q.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.what == "speed":
        modes = {"both": [False, True], "on": [True], "off": [False]}[args.xla]
        bench_speed(args.presets, modes, args.steps)
    else:
        bench_quality(args.preset, args.dataset, args.seconds, Path(args.data_root), args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
