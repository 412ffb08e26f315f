"""Synthetic NLB-format datasets: layout, determinism, loaders, ground truth and oracle.

The window checks bin the NWB files' spike times on the oracle's windows and
compare them, count for count, with the spike tensors of ``nlbtut.tensors``
and of the official ``nlb_tools`` (reference environment), so the oracle's
trials, order, window and forward bins are those of a model's submission.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from nlbtut.datasets import get_dataset_info, group_name
from nlbtut.errors import DataError, DataFileNotFoundError
from nlbtut.synthetic import (
    SYNTHETIC_PRESETS,
    generate_dataset,
    load_ground_truth,
    oracle_submission,
    trial_windows,
    true_rates,
)

TINY = ["tiny", "tiny_rtt", "tiny_area2_bump", "tiny_dmfc_rsg"]
BEHAVIOR = {
    "maze": {"hand_pos", "hand_vel", "cursor_pos", "eye_pos"},
    "rtt": {"finger_pos", "finger_vel", "cursor_pos", "target_pos"},
    "area2": {
        "hand_pos",
        "hand_vel",
        "force",
        "joint_ang",
        "joint_vel",
        "muscle_len",
        "muscle_vel",
    },
    "dmfc": set(),
}


# ----------------------------------------------------------------------------- helpers


def read_units(path: Path) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Unit ids, held-out flags and spike times (s) of an NWB file, read with h5py."""
    with h5py.File(path, "r") as f:
        u = f["units"]
        ids = u["id"][()]
        ho = u["heldout"][()].astype(bool)
        st, idx = u["spike_times"][()], u["spike_times_index"][()]
    starts = np.concatenate([[0], idx[:-1]])
    return ids, ho, [st[a:b] for a, b in zip(starts, idx)]


def bin_spikes(spikes: list[np.ndarray], start_ms: np.ndarray, n_bins: int, bw: int) -> np.ndarray:
    """trials x bins x units spike counts, with the NLB loader's 1 ms flooring."""
    out = np.zeros((len(start_ms), n_bins, len(spikes)))
    edges = start_ms[:, None] + bw * np.arange(n_bins + 1)[None, :]
    for j, t in enumerate(spikes):
        ms = np.floor(np.round(t * 1000, 6))
        cum = np.searchsorted(ms, edges, side="left")
        out[:, :, j] = np.diff(cum, axis=1)
    return out


def binned_windows(folder: Path, phase: str, bw: int) -> dict[str, np.ndarray]:
    """Spike tensors rebuilt from the NWB files on the oracle's windows."""
    gt = load_ground_truth(folder)
    wins = trial_windows(folder, phase, bw)
    files = {k: read_units(folder / gt[k]["nwb_file"]) for k in ("train", "test")}
    out = {}
    for name, tag in (
        ("train", "train"),
        ("train_forward", "train"),
        ("eval", "eval"),
        ("eval_forward", "eval"),
    ):
        w = wins[name]
        ids, ho, spk = files[w.key]
        counts = bin_spikes(spk, w.start_ms, w.n_bins, bw)
        suffix = "_forward" if name.endswith("forward") else ""
        out[f"{tag}_spikes_heldin{suffix}"] = counts[..., ~ho]
        if w.key == "train":
            out[f"{tag}_spikes_heldout{suffix}"] = counts[..., ho]
    return out


def h5_contents(path: Path) -> dict:
    """Every dataset and attribute of an HDF5 file, minus random object ids."""
    out = {}

    def visit(name, obj):
        attrs = {
            k: v
            for k, v in obj.attrs.items()
            if k != "object_id" and not isinstance(v, h5py.Reference)
        }
        out[f"{name}@attrs"] = repr(sorted(attrs.items(), key=lambda kv: kv[0]))
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind not in "O" and name != ".specloc":
            if obj.dtype.kind != "V":
                out[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


# ----------------------------------------------------------------------------- presets


def test_presets_mirror_the_real_datasets():
    for name in (
        "mc_maze",
        "mc_maze_large",
        "mc_maze_medium",
        "mc_maze_small",
        "mc_rtt",
        "area2_bump",
        "dmfc_rsg",
    ):
        p, info = SYNTHETIC_PRESETS[name], get_dataset_info(name)
        assert p.dataset == name
        assert (p.n_heldin, p.n_heldout) == (info.n_heldin, info.n_heldout)
        assert (p.n_train, p.n_val, p.n_test) == (info.n_train, info.n_val, info.n_test)
    assert SYNTHETIC_PRESETS["mc_maze"].n_conditions == 108
    assert SYNTHETIC_PRESETS["mc_maze_small"].n_conditions == 27
    assert SYNTHETIC_PRESETS["area2_bump"].n_train_file_trials == 826
    assert SYNTHETIC_PRESETS["dmfc_rsg"].n_train_file_trials == 1160
    assert {SYNTHETIC_PRESETS[t].dataset for t in TINY} == {
        "mc_maze_small",
        "mc_rtt",
        "area2_bump",
        "dmfc_rsg",
    }


def test_unknown_preset_and_bad_seed_raise(tmp_path):
    with pytest.raises(DataError, match="Did you mean 'tiny'"):
        generate_dataset("tiyn", tmp_path)
    with pytest.raises(DataError, match="seed"):
        generate_dataset("tiny", tmp_path, seed=-1)


def test_poisson_counts_follow_the_poisson_law():
    from scipy.stats import poisson

    from nlbtut.synthetic.dynamics import poisson_counts

    rng = np.random.default_rng(0)
    n = 200_000
    for lam in (0.005, 0.3, 3.0):
        idx, c = poisson_counts(rng, np.full(n, lam, dtype=np.float32))
        full = np.zeros(n, dtype=np.int64)
        full[idx] = c
        freq = np.bincount(full, minlength=6)[:6] / n
        pmf = poisson.pmf(np.arange(6), lam)
        assert np.all(np.abs(freq - pmf) <= 5 * np.sqrt(pmf * (1 - pmf) / n) + 1e-5), lam
        assert abs(full.mean() - lam) < 5 * np.sqrt(lam / n)


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize("preset", TINY)
def test_layout_and_nlbtut_loader(preset, synthetic_dataset):
    from nlbtut.nwb import NWBDataset

    p = SYNTHETIC_PRESETS[preset]
    info = get_dataset_info(p.dataset)
    folder = synthetic_dataset(preset)
    assert folder.parts[-2:] == (info.dandiset_id, f"sub-{info.subject}")
    names = sorted(x.name for x in folder.iterdir())
    assert names == sorted([info.train_file, info.test_file, "ground_truth.h5"])

    ds = NWBDataset(folder, info.prefix)
    assert ds.data["spikes"].shape[1] == p.n_heldin
    assert ds.data["heldout_spikes"].shape[1] == p.n_heldout
    counts = ds.trial_info.split.value_counts().to_dict()
    expected = {"train": p.n_train, "val": p.n_val, "test": p.n_test, "none": p.n_none}
    assert counts == {k: v for k, v in expected.items() if v}
    signals = set(ds.data.columns.get_level_values(0)) - {"spikes", "heldout_spikes"}
    assert signals == BEHAVIOR[p.family]
    # the test file holds held-in units only, and only start/stop/split + the alignment field
    with h5py.File(folder / info.test_file, "r") as f:
        assert not f["units/heldout"][()].any()
        cols = {
            c.decode() if isinstance(c, bytes) else c
            for c in f["intervals/trials"].attrs["colnames"]
        }
        assert "processing" not in f or "behavior" not in f["processing"]
    align = {"mc_rtt": set(), "dmfc_rsg": {"go_time"}}.get(info.name, {"move_onset_time"})
    assert cols == {"start_time", "stop_time", "split"} | align


def test_electrodes_units_and_behaviour_metadata(synthetic_dataset):
    folder = synthetic_dataset("tiny")
    info = get_dataset_info("mc_maze_small")
    with h5py.File(folder / info.train_file, "r") as f:
        el = f["general/extracellular_ephys/electrodes"]
        assert el.attrs["neurodata_type"] == "DynamicTable"  # readable by pynwb 2.x
        assert len(el["id"]) == 192
        assert set(f["general/devices"]) == {"electrode_array_M1", "electrode_array_PMd"}
        ids = f["units/id"][()]
        assert np.all(np.diff(ids) > 0) and set(ids // 1000) <= {1, 2}
        obs = f["units/obs_intervals"][()]
        n_trials = len(f["intervals/trials/id"])
        assert obs.shape == (len(ids) * n_trials, 2)
        hv = f["processing/behavior/hand_vel"]
        assert hv.attrs["comments"] == "columns=[x,y]"
        ts = hv["timestamps"][()]
        assert np.allclose(ts * 1000, np.round(ts * 1000), atol=1e-6)
        assert f["intervals/trials/target_pos_index"].shape == (n_trials,)


def test_pynwb_reads_the_files(synthetic_dataset):
    from pynwb import NWBHDF5IO

    folder = synthetic_dataset("tiny_area2_bump")
    info = get_dataset_info("area2_bump")
    with NWBHDF5IO(str(folder / info.train_file), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        trials = nwb.trials.to_dataframe()
        assert {"spike_times", "obs_intervals", "electrodes", "heldout"} <= set(units.columns)
        assert {"result", "ctr_hold_bump", "cond_dir", "bump_dir", "split"} <= set(trials.columns)
        assert set(trials.split) == {"train", "val", "none"}
        assert set(trials.result[trials.split == "none"]) <= {"A", "F", "I"}
        assert nwb.processing["behavior"]["hand_pos"].conversion == 0.01


def test_deterministic_for_a_seed(tmp_path):
    a = generate_dataset("tiny", tmp_path / "a", seed=3, progress=False)
    b = generate_dataset("tiny", tmp_path / "b", seed=3, progress=False)
    c = generate_dataset("tiny", tmp_path / "c", seed=4, progress=False)
    for name in sorted(x.name for x in a.iterdir()):
        ca, cb = h5_contents(a / name), h5_contents(b / name)
        assert ca.keys() == cb.keys()
        for key in ca:
            x, y = ca[key], cb[key]
            nan_ok = isinstance(x, np.ndarray) and x.dtype.kind == "f"
            assert np.array_equal(x, y, equal_nan=nan_ok), f"{name}:{key} differs between runs"
    ta, tc = (
        read_units(a / get_dataset_info("mc_maze_small").train_file)[2],
        read_units(c / get_dataset_info("mc_maze_small").train_file)[2],
    )
    assert not all(len(x) == len(y) and np.array_equal(x, y) for x, y in zip(ta, tc))


def test_reuse_refuse_and_overwrite(tmp_path):
    folder = generate_dataset("tiny", tmp_path, seed=0, progress=False)
    stamp = (folder / "ground_truth.h5").stat().st_mtime_ns
    assert generate_dataset("tiny", tmp_path, seed=0, progress=False) == folder
    assert (folder / "ground_truth.h5").stat().st_mtime_ns == stamp  # reused, not rewritten
    with pytest.raises(DataError, match="overwrite"):
        generate_dataset("tiny", tmp_path, seed=1, progress=False)
    generate_dataset("tiny", tmp_path, seed=1, overwrite=True, progress=False)
    assert load_ground_truth(folder)["seed"] == 1
    assert not list(folder.glob(".*tmp*"))  # no temporary file left behind


# ----------------------------------------------------------------------------- ground truth


@pytest.mark.parametrize("preset", TINY)
def test_spikes_follow_the_true_rates(preset, synthetic_dataset):
    folder = synthetic_dataset(preset)
    gt = load_ground_truth(folder)
    ids, ho, spikes = read_units(folder / gt["train"]["nwb_file"])
    assert np.array_equal(ids, gt["units"]["ids"]) and np.array_equal(ho, gt["units"]["heldout"])
    f = gt["train"]
    starts, lengths = f["block_start_ms"], f["block_length_ms"]
    ms = np.concatenate([np.floor(np.round(t * 1000, 6)) for t in spikes])
    blk = np.searchsorted(starts, ms, side="right") - 1
    assert np.all(blk >= 0) and np.all(ms < starts[blk] + lengths[blk])  # inside observed blocks
    # expected total count = sum of the 1 ms rates; Poisson: within 5 sd
    expected = sum(
        true_rates(gt, "train", [s], int(n)).sum(axis=(0, 1)) for s, n in zip(starts, lengths)
    )
    observed = np.array([len(t) for t in spikes])
    assert abs(observed.sum() - expected.sum()) < 5 * np.sqrt(expected.sum())
    hz = expected / (lengths.sum() / 1000.0)
    assert 1.0 < np.median(hz) < 40.0  # realistic firing, sparse at 1 ms
    assert np.corrcoef(observed, expected)[0, 1] > 0.9


def test_true_rates_outside_a_block_raise(synthetic_dataset):
    gt = load_ground_truth(synthetic_dataset("tiny"))
    end = int(gt["train"]["block_start_ms"][0] + gt["train"]["block_length_ms"][0])
    with pytest.raises(DataError, match="not inside an observed block"):
        true_rates(gt, "train", [end - 10], 20)


def test_load_ground_truth_errors(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="does not exist"):
        load_ground_truth(tmp_path / "missing")
    with pytest.raises(DataFileNotFoundError, match="ground_truth.h5"):
        load_ground_truth(tmp_path)


# ----------------------------------------------------------------------------- oracle


CASES = [(p, ph, 5) for p in TINY for ph in ("val", "test")] + [
    ("tiny", "val", 20),
    ("tiny_dmfc_rsg", "val", 20),
]


@pytest.mark.parametrize(("preset", "phase", "bw"), CASES)
def test_oracle_windows_match_nlbtut_tensors(preset, phase, bw, synthetic_dataset):
    from nlbtut.nwb import NWBDataset
    from nlbtut.tensors import make_eval_input_tensors, make_train_input_tensors

    folder = synthetic_dataset(preset)
    name = SYNTHETIC_PRESETS[preset].dataset
    info = get_dataset_info(name)
    ds = NWBDataset(folder, info.prefix)
    ds.resample(bw)
    train_split = "train" if phase == "val" else ["train", "val"]
    tr = make_train_input_tensors(ds, name, train_split, save_file=False, include_forward_pred=True)
    ev = make_eval_input_tensors(ds, name, "val" if phase == "val" else "test", save_file=False)
    mine = binned_windows(folder, phase, bw)
    for key, val in {**tr, **ev}.items():
        want = np.asarray(val, dtype=float)
        got = mine[key]
        assert got.shape == want.shape, key
        finite = np.isfinite(want)  # eval inputs may hold NaN outside observed data
        assert np.array_equal(got[finite], want[finite]), key
    sub = oracle_submission(folder, phase, bw)[group_name(name, bw)]
    assert sub["train_rates_heldin"].shape == tr["train_spikes_heldin"].shape
    assert sub["eval_rates_heldin"].shape == ev["eval_spikes_heldin"].shape
    assert sub["eval_rates_heldout_forward"].shape[1] == info.n_fp_bins(bw)


def test_oracle_submission_format_and_values(synthetic_dataset):
    folder = synthetic_dataset("tiny")
    p = SYNTHETIC_PRESETS["tiny"]
    sub = oracle_submission(folder, "val", 20)
    assert list(sub) == ["mc_maze_small_20"]
    g = sub["mc_maze_small_20"]
    assert set(g) == {
        "train_rates_heldin",
        "train_rates_heldout",
        "eval_rates_heldin",
        "eval_rates_heldout",
        "eval_rates_heldin_forward",
        "eval_rates_heldout_forward",
    }
    assert g["train_rates_heldin"].shape == (p.n_train, 35, p.n_heldin)
    assert g["eval_rates_heldout"].shape == (p.n_val, 35, p.n_heldout)
    assert g["eval_rates_heldout_forward"].shape == (p.n_val, 10, p.n_heldout)
    for v in g.values():
        assert v.dtype == np.float32 and np.all(np.isfinite(v)) and np.all(v > 0)
    # the mean expected count per bin is the mean true rate times the bin width
    gt = load_ground_truth(folder)
    w = trial_windows(folder, "val", 20)["eval"]
    direct = true_rates(gt, "train", w.start_ms, 700, ~gt["units"]["heldout"])
    np.testing.assert_allclose(g["eval_rates_heldin"].sum(axis=1), direct.sum(axis=1), rtol=1e-4)
    with pytest.raises(DataError, match="phase"):
        oracle_submission(folder, "train")
    with pytest.raises(DataError, match="bin_width"):
        oracle_submission(folder, "val", 3)


@pytest.mark.parametrize("preset", ["tiny", "tiny_dmfc_rsg"])
def test_oracle_scores_above_smoothing(preset, synthetic_dataset):
    """The ceiling is clearly above the floor on the metrics the benchmark ranks by."""
    from nlbtut.synthetic.scores import reference_scores

    s = reference_scores(synthetic_dataset(preset))
    assert s["oracle"]["co-bps"] > 0.2
    assert s["oracle"]["co-bps"] > s["smoothing"]["co-bps"] + 0.1
    assert s["oracle"]["fp-bps"] > s["smoothing"]["fp-bps"]
    if preset == "tiny_dmfc_rsg":
        assert s["oracle"]["tp corr"] < -0.4  # faster dynamics, shorter produced interval
    else:
        assert s["oracle"]["vel R2"] > 0.8 and s["oracle"]["vel R2"] > s["smoothing"]["vel R2"]


# ----------------------------------------------------------------------------- CLI


def test_cli_synth(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nlbtut",
            "synth",
            "--preset",
            "tiny_rtt",
            "--out",
            str(tmp_path),
            "--seed",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith(str(tmp_path / "000129" / "sub-Indy"))
    header = next(ln.split() for ln in lines if ln.split()[:1] == ["co-bps"])
    assert "psth" not in header  # mc_rtt has no PSTH targets
    rows = {
        ln.split()[0]: ln.split()[1:]
        for ln in lines
        if ln.strip().startswith(("oracle", "smoothing"))
    }
    assert float(rows["oracle"][0]) > float(rows["smoothing"][0])  # co-bps, first column
    assert load_ground_truth(tmp_path / "000129" / "sub-Indy")["seed"] == 2


def test_cli_synth_errors(tmp_path):
    from nlbtut.cli import main

    assert main(["synth", "--preset", "nope", "--out", str(tmp_path), "--no-eval"]) == 1


# ----------------------------------------------------------------------------- reference


@pytest.mark.reference
def test_official_nlb_tools_reads_every_tiny_preset(
    synthetic_dataset, ref_python, reference, tmp_path
):
    args = []
    for preset in TINY:
        args += [str(synthetic_dataset(preset)), SYNTHETIC_PRESETS[preset].dataset]
    report = json.loads(
        reference(ref_python, "ref_load_synthetic.py", "--psth", "--dump", str(tmp_path), *args)
    )
    for preset in TINY:
        p = SYNTHETIC_PRESETS[preset]
        info = get_dataset_info(p.dataset)
        r = report[p.dataset]
        t, fp = info.n_bins(5), info.n_fp_bins(5)
        assert (r["heldin"], r["heldout"]) == (p.n_heldin, p.n_heldout)
        assert r["train"]["train_spikes_heldin"][0] == [p.n_train, t, p.n_heldin]
        assert r["train"]["train_spikes_heldout_forward"][0] == [p.n_train, fp, p.n_heldout]
        assert r["eval"]["eval_spikes_heldout"][0] == [p.n_val, t, p.n_heldout]
        assert r["trainval"]["train_spikes_heldin"][0] == [p.n_train + p.n_val, t, p.n_heldin]
        assert r["test"]["eval_spikes_heldin"][0] == [p.n_test, t, p.n_heldin]
        tg = r["target"][p.dataset]
        assert tg["eval_spikes_heldin_forward"][0] == [p.n_val, fp, p.n_heldin]
        if p.dataset != "mc_rtt":
            assert tg["psth"][0][1:] == [t, p.n_neurons]
        if p.family != "dmfc":
            assert tg["train_behavior"][0] == [p.n_train, t, 2]
        # the official tensors equal the NWB spikes binned on the oracle's windows
        official = np.load(tmp_path / f"{p.dataset}.npz")
        folder = synthetic_dataset(preset)
        mine = binned_windows(folder, "val", 5)
        for key in (
            "train_spikes_heldin",
            "train_spikes_heldout",
            "train_spikes_heldin_forward",
            "train_spikes_heldout_forward",
        ):
            assert np.array_equal(mine[key], official[f"train/{key}"].astype(float)), key
        for key in ("eval_spikes_heldin", "eval_spikes_heldout"):
            want = official[f"eval/{key}"].astype(float)
            ok = np.isfinite(want)
            assert np.array_equal(mine[key][ok], want[ok]), key
        fwd = official["target/eval_spikes_heldout_forward"].astype(float)
        assert np.array_equal(mine["eval_spikes_heldout_forward"], fwd)
