"""Benchmark: scoring an mc_maze-sized submission, nlbtut vs the official nlb_tools 0.0.4.

Random but realistic targets and a submission with the real MC_Maze shapes (1721 train / 574
eval trials, 140 bins, 137 held-in / 45 held-out neurons, 40 forward bins, PSTHs of 108
conditions) are built once with ``tests/test_parity_evaluation.make_eval_case`` and saved as HDF5
(not timed). Each run is a fresh process - nlbtut in this environment, the official package in the
reference environment ``.venv-ref`` - that calls ``evaluate(targets.h5, submission.h5)``; the
child reports the time of that call (``evaluate_s``) and its import time, and the parent the wall
time of the whole process. The two implementations alternate, so background load hits both alike.
Every run's metrics are compared between the two (they must agree to 1e-9).

Usage::

    python bench/bench_evaluate.py              # 3 runs each
    python bench/bench_evaluate.py --runs 5 --note "what else was running"

Results (every run, medians, ratio, machine facts, load average) go to
``bench/results/evaluate.json``. The file is also the child process (``--child``) and is kept
Python 3.9-compatible for that.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_PYTHON = os.environ.get("NLBTUT_REF_PYTHON", os.path.join(ROOT, ".venv-ref", "bin", "python"))
SHAPES = {"n_train": 1721, "n_eval": 574, "n_cond": 108}  # + registry: 140 bins, 137/45, 40 fp


def child(impl: str, targets: str, submission: str) -> None:
    """Time one evaluate() call; print JSON with the timings and the results."""
    import logging

    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    if impl == "official":
        from nlb_tools.evaluation import evaluate
    else:
        from nlbtut.evaluation import evaluate
    t1 = time.perf_counter()
    results = evaluate(targets, submission)
    t2 = time.perf_counter()
    out = {
        "import_s": round(t1 - t0, 3),
        "evaluate_s": round(t2 - t1, 3),
        "results": [
            {k: {m: float(v) for m, v in d.items()}} for e in results for k, d in e.items()
        ],
    }
    print(json.dumps(out))


def make_files(folder: str) -> tuple[str, str]:
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from test_parity_evaluation import make_eval_case

    from nlbtut.submission import save_submission

    targets, sub = make_eval_case("mc_maze", 5, seed=0, **SHAPES)
    g = targets["mc_maze"]
    assert g["eval_spikes_heldout"].shape == (574, 140, 45)
    assert g["psth"].shape[0] == SHAPES["n_cond"] + 1  # + one condition without eval trials
    tpath = save_submission(targets, os.path.join(folder, "targets.h5"))
    spath = save_submission(sub, os.path.join(folder, "submission.h5"))
    return str(tpath), str(spath)


def run_child(python: str, impl: str, tpath: str, spath: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    t = time.perf_counter()
    proc = subprocess.run(
        [python, os.path.abspath(__file__), "--child", impl, tpath, spath],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # the nlb-tools wheel's top-level `tests` must not clash
        check=False,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} run failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = round(wall, 3)
    return out


def max_diff(a: list, b: list) -> float:
    da = {k: v for e in a for k, v in e.items()}
    db = {k: v for e in b for k, v in e.items()}
    assert list(da) == list(db), (list(da), list(db))
    return max(abs(da[k][m] - db[k][m]) for k in db for m in db[k])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--note", default="", help="what else was running")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "evaluate.json"))
    args = parser.parse_args()

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        tpath, spath = make_files(folder)
        print(f"files built in {time.perf_counter() - t:.1f} s", flush=True)
        runs: dict[str, list] = {"nlbtut": [], "official": []}
        for i in range(args.runs):
            for impl, python in (("official", REF_PYTHON), ("nlbtut", sys.executable)):
                r = run_child(python, impl, tpath, spath)
                runs[impl].append(r)
                print(f"run {i + 1} {impl}: evaluate {r['evaluate_s']} s, wall {r['wall_s']} s",
                      flush=True)  # fmt: skip
    diffs = [max_diff(a["results"], b["results"]) for a, b in zip(runs["nlbtut"], runs["official"])]
    med = {
        impl: {
            key: statistics.median(r[key] for r in rs)
            for key in ("evaluate_s", "wall_s", "import_s")
        }
        for impl, rs in runs.items()
    }
    report = {
        "benchmark": "evaluate() of an mc_maze-sized submission (HDF5 files), fresh process per run",
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu": _cpu_name(),
            "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
            "loadavg_at_start": [round(x, 2) for x in load_start],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "note": args.note,
        "shapes": {
            "train_trials": 1721,
            "eval_trials": 574,
            "bins": 140,
            "heldin": 137,
            "heldout": 45,
            "fp_bins": 40,
            "psth_conditions": SHAPES["n_cond"] + 1,
        },
        "runs": {
            impl: [{k: v for k, v in r.items() if k != "results"} for r in rs]
            for impl, rs in runs.items()
        },  # fmt: skip
        "median": med,
        "ratio_official_over_nlbtut": {
            "evaluate_s": round(med["official"]["evaluate_s"] / med["nlbtut"]["evaluate_s"], 2),
            "wall_s": round(med["official"]["wall_s"] / med["nlbtut"]["wall_s"], 2),
        },
        "max_abs_metric_difference": max(diffs),
        "metrics": runs["nlbtut"][0]["results"],
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, args.out)
    print(json.dumps({k: report[k] for k in ("median", "ratio_official_over_nlbtut",
                                             "max_abs_metric_difference")}, indent=1))  # fmt: skip
    print(f"saved {args.out}")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main()
