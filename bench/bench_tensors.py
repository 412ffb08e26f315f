"""Benchmark: NWB files -> all NLB tensors, nlbtut vs the official nlb_tools 0.0.4.

The timed path is what a user runs to get every tensor of the validation phase at 5 ms:
load the NWB files (``NWBDataset``), ``resample(5)``, train inputs with behaviour and forward
prediction, eval inputs, and eval targets with PSTHs. Each run is a fresh process (nlbtut in this
environment, the official package in the reference environment ``.venv-ref``), timed from the
outside (wall clock) and measured for peak resident memory (``ru_maxrss`` of the child, from
``wait4``). A watchdog polls the resident memory of the child and its workers and stops a run that
goes over ``--mem-limit-gib`` (the official PSTH step does not fit in 24 GiB for MC_Maze), so the
benchmark cannot starve the machine; such a run is reported as not finished.

Usage::

    python bench/bench_tensors.py --quick            # tiny preset, one run each: checks the script
    python bench/bench_tensors.py                    # mc_maze and mc_maze_large, 3 runs each
    python bench/bench_tensors.py --presets mc_maze_large --runs 5

Synthetic datasets (``nlbtut.synthetic``) are generated once into ``--data-dir`` (not timed).
Results (every run, medians, ratio, machine facts) go to ``bench/results/tensors-<date>.json``.

The file is also the child process (``--child``), and is kept Python 3.9-compatible for that.
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
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_PYTHON = os.environ.get("NLBTUT_REF_PYTHON", os.path.join(ROOT, ".venv-ref", "bin", "python"))
GIB = 1024**3


# --------------------------------------------------------------------------------------
# child: one full run, prints step timings as JSON
# --------------------------------------------------------------------------------------
def child(impl: str, folder: str, prefix: str, name: str, bin_width: int) -> None:
    import logging

    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    steps = {}
    if impl == "official":
        from nlb_tools.make_tensors import (
            make_eval_input_tensors,
            make_eval_target_tensors,
            make_train_input_tensors,
        )
        from nlb_tools.nwb_interface import NWBDataset
    else:
        from nlbtut import (
            NWBDataset,
            make_eval_input_tensors,
            make_eval_target_tensors,
            make_train_input_tensors,
        )
    steps["import"] = time.perf_counter() - t0

    def step(key, fn):
        t = time.perf_counter()
        out = fn()
        steps[key] = time.perf_counter() - t
        return out

    ds = step("load", lambda: NWBDataset(folder, prefix))
    step("resample", lambda: ds.resample(bin_width))
    train = step(
        "train_inputs",
        lambda: make_train_input_tensors(
            ds, name, "train", save_file=False, include_behavior=True, include_forward_pred=True
        ),
    )
    ev = step("eval_inputs", lambda: make_eval_input_tensors(ds, name, "val", save_file=False))
    tg = step(
        "eval_targets",
        lambda: make_eval_target_tensors(
            ds, name, "train", "val", save_file=False, include_psth=True
        ),
    )
    steps["total_in_process"] = time.perf_counter() - t0
    group = tg[name + ("" if bin_width == 5 else f"_{bin_width}")]
    shapes = {
        k: list(v.shape) for k, v in list(train.items()) + list(ev.items()) + list(group.items())
    }
    print(json.dumps({"steps": {k: round(v, 3) for k, v in steps.items()}, "shapes": shapes}))


# --------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------
def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        p = int(entry)
        children.setdefault(int(parts[1]), []).append(p)
        rss[p] = int(parts[21]) * page
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def run_once(python: str, impl: str, folder: str, prefix: str, name: str, bw: int,
             mem_limit: float, timeout: float) -> dict:  # fmt: skip
    cmd = [python, os.path.abspath(__file__), "--child", impl, folder, prefix, name, str(bw)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    import signal as _signal
    import tempfile

    out_f = tempfile.TemporaryFile(mode="w+")
    err_f = tempfile.TemporaryFile(mode="w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=out_f, stderr=err_f, text=True, env=env, cwd="/", start_new_session=True
    )
    state = {"killed": None, "tree_peak": 0, "done": False}

    def watch():
        while not state["done"]:
            rss = _tree_rss(proc.pid)
            state["tree_peak"] = max(state["tree_peak"], rss)
            if rss > mem_limit * GIB:
                state["killed"] = f"resident memory {rss / GIB:.1f} GiB > limit {mem_limit} GiB"
            elif time.perf_counter() - t0 > timeout:
                state["killed"] = f"time limit {timeout:.0f} s"
            if state["killed"]:
                try:  # the child and its worker processes (its own session)
                    os.killpg(proc.pid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    state["done"] = True
    proc.returncode = os.waitstatus_to_exitcode(status)
    watcher.join()
    out_f.seek(0)
    err_f.seek(0)
    out, err = out_f.read(), err_f.read()
    rec = {
        "impl": impl,
        "wall_s": round(wall, 3),
        "peak_rss_gib": round(usage.ru_maxrss * 1024 / GIB, 3),
        "tree_rss_peak_gib": round(state["tree_peak"] / GIB, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "finished": False,
    }
    code = proc.returncode
    if state["killed"]:
        rec["stopped"] = state["killed"]
    elif code != 0:
        rec["error"] = (err or "")[-2000:]
    else:
        rec["finished"] = True
        rec.update(json.loads(out.strip().splitlines()[-1]))
    return rec


def machine_facts() -> dict:
    facts = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            facts["cpu"] = next(
                ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")
            )
        with open("/proc/meminfo") as f:
            kb = int(next(ln.split()[1] for ln in f if ln.startswith("MemTotal")))
        facts["ram_gib"] = round(kb / 1024**2, 1)
        facts["loadavg_at_start"] = os.getloadavg()
    except (OSError, StopIteration):
        pass
    return facts


def ensure_dataset(preset: str, data_dir: str) -> tuple[str, str, str]:
    """(folder, prefix, dataset name) of a synthetic dataset, generated once."""
    from nlbtut.datasets import get_dataset_info
    from nlbtut.synthetic import SYNTHETIC_PRESETS, generate_dataset

    name = SYNTHETIC_PRESETS[preset].dataset
    info = get_dataset_info(name)
    out = os.path.join(data_dir, preset)
    folder = os.path.join(out, info.relative_dir)
    done = os.path.join(out, ".complete")
    if not os.path.exists(done):
        print(f"generating synthetic {preset} into {out} (once) ...", flush=True)
        folder = str(generate_dataset(preset, out, seed=0, overwrite=True, progress=True))
        with open(done, "w") as f:
            f.write(folder)
    else:
        with open(done) as f:
            folder = f.read().strip()
    return folder, info.prefix, name


def busy_processes(limit: int = 6) -> list[str]:
    """The processes using the most CPU right now (what else was running), via ps."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,rss,args", "--sort=-pcpu"], capture_output=True,
                             text=True, timeout=10).stdout.splitlines()[1 : limit + 1]  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    return [" ".join(line.split())[:160] for line in out]


def _median(recs: list[dict], key: str):
    vals = [r[key] for r in recs if r.get("finished")]
    return round(statistics.median(vals), 3) if vals else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="tiny preset, one run each (a smoke test)")
    ap.add_argument("--presets", default="mc_maze,mc_maze_large")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--official-runs", type=int, default=None,
                    help="runs of the official package (default: --runs)")  # fmt: skip
    ap.add_argument("--bin-width", type=int, default=5)
    ap.add_argument("--mem-limit-gib", type=float, default=16.0)
    ap.add_argument("--timeout-s", type=float, default=1800.0)
    ap.add_argument("--skip-official", action="store_true")
    ap.add_argument("--data-dir", default=os.path.join(
        os.environ.get("NLBTUT_DATA_DIR", os.path.expanduser("~/.cache/nlbtut")), "bench"))  # fmt: skip
    ap.add_argument("--out", default=None, help="JSON results file")
    ap.add_argument("--note", default="", help="what else was running, recorded in the JSON")
    ap.add_argument("--child", nargs=5, metavar=("IMPL", "FOLDER", "PREFIX", "NAME", "BW"))
    args = ap.parse_args(argv)
    if args.child:
        impl, folder, prefix, name, bw = args.child
        child(impl, folder, prefix, name, int(bw))
        return 0

    presets = ["tiny"] if args.quick else [p.strip() for p in args.presets.split(",") if p.strip()]
    runs = 1 if args.quick else args.runs
    official_runs = runs if args.official_runs is None else args.official_runs
    do_official = not args.skip_official
    if do_official and not os.path.exists(REF_PYTHON):
        print(
            f"reference environment not found ({REF_PYTHON}); run `make ref-env`", file=sys.stderr
        )
        return 2
    result = {
        "benchmark": "NWB files -> all tensors (train+behaviour+fp, eval inputs, eval targets+PSTH)",
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_facts(),
        "note": args.note,
        "bin_width": args.bin_width,
        "mem_limit_gib": args.mem_limit_gib,
        "presets": {},
    }
    result["busy_at_start"] = busy_processes()
    for preset in presets:
        folder, prefix, name = ensure_dataset(preset, args.data_dir)
        entry = {"dataset": name, "folder": folder, "runs": {"nlbtut": [], "official": []}}
        plan = [("nlbtut", sys.executable, runs)]
        if do_official:
            plan.append(("official", REF_PYTHON, official_runs))
        for i in range(max(n for _, _, n in plan)):
            for impl, python, n in plan:  # interleaved, so both see the same machine load
                if i >= n:
                    continue
                rec = run_once(python, impl, folder, prefix, name, args.bin_width,
                               args.mem_limit_gib, args.timeout_s)  # fmt: skip
                entry["runs"][impl].append(rec)
                status = "ok" if rec["finished"] else rec.get("stopped", "FAILED")
                print(f"{preset:>14} {impl:>8} run {i + 1}: {rec['wall_s']:8.1f} s "
                      f"{rec['peak_rss_gib']:6.2f} GiB  {status}", flush=True)  # fmt: skip
                if impl == "official" and not rec["finished"]:
                    plan = [p for p in plan if p[0] != "official"]  # do not repeat a failure
                    break
        summary = {}
        for impl, recs in entry["runs"].items():
            summary[impl] = {
                "median_wall_s": _median(recs, "wall_s"),
                "median_peak_rss_gib": _median(recs, "peak_rss_gib"),
                "finished_runs": sum(r["finished"] for r in recs),
                "runs": len(recs),
            }
        o, n = summary.get("official", {}), summary["nlbtut"]
        if o.get("median_wall_s") and n["median_wall_s"]:
            summary["speedup"] = round(o["median_wall_s"] / n["median_wall_s"], 2)
            summary["memory_ratio"] = round(n["median_peak_rss_gib"] / o["median_peak_rss_gib"], 3)
        entry["summary"] = summary
        result["presets"][preset] = entry
        print(json.dumps({preset: summary}, indent=1), flush=True)
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    result["busy_at_end"] = busy_processes()
    out = args.out or os.path.join(
        ROOT, "bench", "results",
        f"tensors-{'quick-' if args.quick else ''}{_dt.date.today().isoformat()}.json",
    )  # fmt: skip
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, out)
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
