"""Tests of ``nlbtut.nwb.NWBDataset`` (loading, resample, smoothing, trial data, errors).

The numbers are checked against the official package in ``test_parity_nwb.py``; here the
behaviour is checked against hand-computed expectations on small NLB-format files written by
``write_nlb_dataset`` (also used by the parity test).
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlbtut.errors import DataError, DataFileNotFoundError, NLBTutError
from nlbtut.nwb import NWBDataset

pytestmark = pytest.mark.filterwarnings("ignore:Dropping offgrid:UserWarning")

# -------------------------------------------------------------------------------------------------
# a writer of small NLB-format NWB files (the four dataset families, with edge cases)
# -------------------------------------------------------------------------------------------------
FAMILY_FILES = {
    "maze": ("Jenkins", "sub-Jenkins_ses-small_desc-{}.nwb", "*small"),
    "rtt": ("Indy", "sub-Indy_desc-{}.nwb", ""),
    "area2": ("Han", "sub-Han_desc-{}.nwb", ""),
    "dmfc": ("Haydn", "sub-Haydn_desc-{}.nwb", ""),
}
TRAIN_DESC = {
    "maze": "train_behavior+ecephys",
    "rtt": "train_behavior+ecephys",
    "area2": "train_behavior+ecephys",
    "dmfc": "train_ecephys",
}


def _spikes(rng, t_end, rate, obs):
    """Spike times on the 1 ms grid (as in the NLB files) plus float-noise and edge cases."""
    n = rng.poisson(rate * t_end)
    t = np.sort(np.floor(rng.uniform(0, t_end, n) * 1000) / 1000)
    noise = rng.random(len(t)) < 0.1  # a few times a hair below/above the bin edge
    t[noise] += rng.choice([-1e-10, 1e-10, 3e-7], noise.sum())
    t = np.clip(t, 0, None)
    if len(t) > 3:
        t[2] = t[1]  # two spikes in one bin
    return np.sort(t[t < obs[-1][1] - 0.002])


def write_nlb_file(path, family, *, test, seed, t_end, trials, units, obs, behavior=True):
    """Write one NLB-format NWB file; ``trials`` is a list of dicts (columns in order)."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    rng = np.random.default_rng(seed)
    nwb = NWBFile(
        session_description=f"{family} test file",
        identifier=f"{family}-{seed}-{test}",
        session_start_time=_dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc),
    )
    ragged = {k for k, v in trials[0].items() if isinstance(v, list)}
    for col in trials[0]:
        if col not in ("start_time", "stop_time"):
            nwb.add_trial_column(col, f"the {col} column", index=col in ragged)
    for row in trials:
        nwb.add_trial(**row)
    nwb.add_unit_column("heldout", "Whether the unit is held out")
    for k, (uid, heldout) in enumerate(units):
        unit_obs = obs if k != 1 else obs[:1]  # the 2nd unit differs (official uses the 1st)
        nwb.add_unit(
            id=uid,
            spike_times=_spikes(rng, t_end, 20 + 10 * k, obs),
            obs_intervals=unit_obs,
            heldout=heldout,
        )
    if behavior:
        n = int(round(obs[-1][1] * 1000))
        mod = nwb.create_processing_module("behavior", "Processed behavioral data")

        def walk(c):
            return np.cumsum(rng.normal(size=(n, c)), axis=0) * 0.1

        if family == "maze":
            keep = np.ones(n, bool)
            keep[rng.choice(n, 20, replace=False)] = False  # a few missing samples
            ts = np.arange(n)[keep] / 1000
            for name in ("hand_vel", "hand_pos", "cursor_pos", "eye_pos"):
                mod.add(
                    TimeSeries(
                        name=name,
                        data=walk(2)[keep],
                        timestamps=ts,
                        unit="mm",
                        comments="columns=[x,y]",
                        description=f"{name} desc",
                    )
                )
            mod.add(
                TimeSeries(
                    name="offgrid",
                    data=walk(1)[keep, 0],
                    timestamps=ts + 0.0005,
                    unit="a.u.",
                    description="not on the 1 ms grid",
                )
            )
        else:
            specs = {
                "rtt": [
                    ("finger_vel", "x,y"),
                    ("finger_pos", "x,y,z"),
                    ("cursor_pos", "x,y"),
                    ("target_pos", "x,y"),
                ],
                "area2": [("hand_vel", "x,y"), ("force", "x,y,z,xmo,ymo,zmo"), ("joint_ang", None)],
            }[family]
            for name, cols in specs:
                c = 3 if cols is None else len(cols.split(","))
                data = walk(c)
                data[rng.integers(0, n - 30) :][:25] = np.nan  # a NaN gap
                if name == "target_pos":
                    data = np.repeat(rng.normal(size=(n // 100 + 1, c)), 100, axis=0)[:n]
                mod.add(
                    TimeSeries(
                        name=name,
                        data=data,
                        rate=1000.0,
                        starting_time=0.0,
                        unit="a.u.",
                        comments=f"columns=[{cols}]" if cols else "no comments",
                        description=f"{name} desc",
                    )
                )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _trials(family, rng, n, t0, test):
    """Trial rows and the recording end for one file."""
    rows, t = [], t0
    for i in range(n):
        if family == "rtt":
            start, stop = t, t + 0.6
            t = stop
        else:
            start = t
            stop = round(start + rng.uniform(1.8, 2.6), 3)
            t = round(stop + rng.uniform(0.0, 0.3), 3)
        row = {"start_time": start, "stop_time": stop}
        if family in ("maze", "area2"):
            onset = round(start + rng.uniform(0.55, 0.9), 4)
            failed = family == "area2" and not test and i % 5 == 4
            if not test:
                row["target_on_time"] = round(start + 0.2, 4)
                row["go_cue_time"] = round(onset - 0.3, 4)
            if family == "maze" and not test:
                row.update(
                    trial_type=int(i % 3),
                    trial_version=int(i % 2),
                    success=True,
                    rt=float(rng.uniform(200, 400)),
                    target_pos=[[1, 2], [3, 4]][: 1 + i % 2],
                )
            if family == "area2" and not test:
                bump = bool(i % 2)
                row.update(
                    result="F" if failed else "R",
                    ctr_hold_bump=bump,
                    bump_dir=float(90 * (i % 4)) if bump else np.nan,
                    cond_dir=float(45 * (i % 8)),
                )
            row["move_onset_time"] = np.nan if failed else onset
            split = "test" if test else ("none" if failed else ["train", "val"][i % 3 == 2])
        elif family == "dmfc":
            set_time = round(start + rng.uniform(1.6, 1.8), 4)
            tp = float(rng.uniform(400, 900)) if i % 6 else -1.0
            go = round(set_time + tp / 1000, 4) if tp > 0 else np.nan
            if not test:
                row.update(
                    set_time=set_time,
                    is_eye=bool(i % 2),
                    theta=float(180 * (i % 2)),
                    ts=float(rng.choice([480, 560, 640])),
                    tp=tp,
                    is_short=bool(i % 3),
                    is_outlier=bool(i % 7 == 6),
                )
            else:
                row["set_time"] = set_time
            row["go_time"] = go if not test else round(set_time + 0.7, 4)
            split = "test" if test else ("none" if tp < 0 else ["train", "val"][i % 3 == 2])
        else:
            split = "test" if test else ["train", "val"][i % 3 == 2]
        row["split"] = split
        rows.append(row)
    return rows, t


def write_nlb_dataset(out_dir, family: str, seed: int = 0) -> tuple[Path, str]:
    """Write a test + train file pair in the DANDI layout; return ``(folder, prefix)``."""
    rng = np.random.default_rng(seed)
    subject, pattern, prefix = FAMILY_FILES[family]
    folder = Path(out_dir) / f"sub-{subject}"
    folder.mkdir(parents=True, exist_ok=True)
    ids = [2961, 1011, 1021, 2011, 1500, 2100, 1100, 2500]  # not sorted, as in the NLB files
    heldout = [False, False, True, False, True, False, False, True]
    for test in (True, False):
        n = {"rtt": 10, "maze": 4, "area2": 4, "dmfc": 5}[family] if test else 10
        rows, t_end = _trials(family, rng, n, 0.0, test)
        if family in ("rtt", "area2", "dmfc"):  # continuous recording, a few segments
            cut = round(rows[len(rows) // 2]["start_time"] - 0.05, 3)
            obs = [[0.0, cut], [round(cut + 0.02, 3), round(t_end + 0.2, 3)]]
        else:
            obs = [[r["start_time"], r["stop_time"]] for r in rows]
        units = [(u, h) for u, h in zip(ids, heldout) if not (test and h)]
        name = pattern.format("test_ecephys" if test else TRAIN_DESC[family])
        write_nlb_file(
            folder / name,
            family,
            test=test,
            seed=seed + test,
            t_end=obs[-1][1],
            trials=rows,
            units=units,
            obs=obs,
            behavior=not test and family != "dmfc",
        )
    return folder, prefix


@pytest.fixture(scope="module")
def maze_dir(tmp_path_factory):
    return write_nlb_dataset(tmp_path_factory.mktemp("maze"), "maze", seed=3)


@pytest.fixture(scope="module")
def maze(maze_dir):
    folder, prefix = maze_dir
    return NWBDataset(folder, prefix)


# -------------------------------------------------------------------------------------------------
# loading
# -------------------------------------------------------------------------------------------------
def _train_file(folder):
    return next(p for p in Path(folder).glob("*.nwb") if "train" in p.name)


def _test_file(folder):
    return next(p for p in Path(folder).glob("*.nwb") if "test" in p.name)


def test_single_file_spike_counts_match_hand_binning(maze_dir):
    from pynwb import NWBHDF5IO

    path = _train_file(maze_dir[0])
    ds = NWBDataset(path)
    with NWBHDF5IO(str(path), "r") as io:
        units = io.read().units.to_dataframe()
    first_obs = units.obs_intervals.iloc[0]
    n_bins = int(round(max(o[-1][-1] for o in units.obs_intervals) * 1000))
    assert len(ds.data) == n_bins
    observed = np.zeros(n_bins, bool)
    for s, e in first_obs:
        observed[int(np.ceil(round(s * 1000, 6))) : int(np.floor(round(e * 1000, 6)))] = True
    for uid, unit in units.iterrows():
        sig = "heldout_spikes" if unit.heldout else "spikes"
        counts = np.bincount(
            np.round(np.asarray(unit.spike_times) * 1000, 6).astype(int), minlength=n_bins
        ).astype(float)
        counts[~observed] = np.nan
        got = ds.data[(sig, uid)].to_numpy().astype(float)
        np.testing.assert_array_equal(got, counts)
    assert (ds.data["spikes"].dtypes == np.float16).all()


def test_columns_sorted_and_index(maze):
    cols = list(maze.data.columns)
    assert [c[0] for c in cols] == sorted(c[0] for c in cols)
    spk = [c[1] for c in cols if c[0] == "spikes"]
    assert spk == sorted(spk) and spk == [1011, 1100, 2011, 2100, 2961]
    assert maze.data.columns.names == ["signal_type", "channel"]
    idx = maze.data.index
    assert idx.name == "clock_time" and idx.dtype == "timedelta64[ns]"
    assert (np.diff(idx.values.view("i8")) == 1_000_000).all()
    assert "offgrid" not in maze.data.columns  # dropped: off the 1 ms grid
    assert list(maze.data["hand_vel"].columns) == ["x", "y"]


def test_multi_file_shift_and_trial_info(maze_dir, maze):
    folder, prefix = maze_dir
    test_ds = NWBDataset(_test_file(folder))
    train_ds = NWBDataset(_train_file(folder))
    n_test = len(test_ds.trial_info)
    last_s = (len(test_ds.data) - 1) / 1000
    shift_ms = int(np.ceil((last_s + 0.05) * 10) * 100)
    assert shift_ms % 100 == 0 and shift_ms / 1000 >= last_s + 0.05
    ti = maze.trial_info
    assert list(ti.trial_id) == list(range(len(ti)))
    assert (ti.split.iloc[:n_test] == "test").all()
    shifted = train_ds.trial_info.move_onset_time + pd.Timedelta(milliseconds=shift_ms)
    pd.testing.assert_series_equal(
        ti.move_onset_time.iloc[n_test:].reset_index(drop=True), shifted, check_names=False
    )
    # the train file's data sit at the shifted rows, the gap between the files is NaN
    part = maze.data.iloc[shift_ms : shift_ms + len(train_ds.data)]
    np.testing.assert_array_equal(
        part["spikes"].to_numpy(dtype=float), train_ds.data["spikes"].to_numpy(dtype=float)
    )
    gap = maze.data.iloc[len(test_ds.data) : shift_ms]
    assert len(gap) > 0 and gap.isna().all().all()
    # trial_info: the test file's columns first, then the train-only ones; trial_type NaN in test
    assert list(ti.columns[: len(test_ds.trial_info.columns)]) == list(test_ds.trial_info.columns)
    assert ti.trial_type.iloc[:n_test].isna().all()
    assert maze.descriptions["stop_time"] and maze.descriptions["hand_vel"] == "hand_vel desc"


def test_open_nwbfile_and_path_types(maze_dir):
    from pynwb import NWBHDF5IO

    path = _train_file(maze_dir[0])
    with NWBHDF5IO(str(path), "r") as io:
        ds = NWBDataset(io.read())
    assert ds.fpath is None and ds.prefix is None
    ds2 = NWBDataset(Path(path))
    pd.testing.assert_frame_equal(ds.data, ds2.data)
    assert ds2.fpath == str(path)


def test_split_heldout_false_and_skip_fields(maze_dir):
    path = _train_file(maze_dir[0])
    ds = NWBDataset(path, split_heldout=False, skip_fields=["eye_pos", "cursor_pos"])
    assert "heldout_spikes" not in ds.data.columns
    assert ds.data["spikes"].shape[1] == 8
    assert "eye_pos" not in ds.data.columns and "hand_vel" in ds.data.columns


# -------------------------------------------------------------------------------------------------
# errors
# -------------------------------------------------------------------------------------------------
def test_missing_path_error(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="not found"):
        NWBDataset(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):  # still a FileNotFoundError for old code
        NWBDataset(str(tmp_path / "nope.nwb"))


def test_no_matching_prefix_names_the_files(maze_dir):
    folder, _ = maze_dir
    with pytest.raises(DataFileNotFoundError) as err:
        NWBDataset(folder, "*large")
    msg = str(err.value)
    assert "'*large'" in msg and "sub-Jenkins_ses-small_desc-test_ecephys.nwb" in msg


def test_empty_folder_error(tmp_path):
    (tmp_path / "sub-X").mkdir()
    with pytest.raises(DataFileNotFoundError, match="no .nwb file; sub-folders: sub-X"):
        NWBDataset(tmp_path)


def test_not_an_nwb_file(tmp_path):
    bad = tmp_path / "bad.nwb"
    bad.write_text("hello")
    with pytest.raises(DataError, match="bad.nwb"):
        NWBDataset(bad)


def _plain_nwb(path, heldout=True, obs=True):
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile(
        session_description="x",
        identifier="x",
        session_start_time=_dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc),
    )
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    if heldout:
        nwb.add_unit_column("heldout", "h")
    kw = {"heldout": False} if heldout else {}
    if obs:
        kw["obs_intervals"] = [[0.0, 1.0]]
    nwb.add_unit(id=1, spike_times=[0.1, 0.5], **kw)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_non_nlb_file_names_missing_column(tmp_path):
    p = _plain_nwb(tmp_path / "noheldout.nwb", heldout=False)
    with pytest.raises(DataError, match=r"noheldout\.nwb.*'heldout'.*split_heldout=False"):
        NWBDataset(p)
    ds = NWBDataset(p, split_heldout=False)
    assert ds.data[("spikes", 1)].sum() == 2
    p2 = _plain_nwb(tmp_path / "noobs.nwb", obs=False)
    with pytest.raises(DataError, match=r"noobs\.nwb.*'obs_intervals'"):
        NWBDataset(p2)


def test_resample_errors_and_noop(maze, caplog):
    ds = _copy(maze)
    with pytest.raises(DataError, match=r"target_bin=3 ms.*bin width 2 ms"):
        ds.bin_width = 2
        ds.resample(3)
    ds.bin_width = 1
    with caplog.at_level(logging.WARNING, logger="nlbtut.nwb"):
        ds.resample(1)
    assert "already at 1 ms" in caplog.text and ds.bin_width == 1


def test_offgrid_series_warns(maze_dir):
    with pytest.warns(UserWarning, match=r"Dropping offgrid due to timestamp mismatch"):
        NWBDataset(_train_file(maze_dir[0]))


def test_errors_are_nlbtut_errors():
    assert issubclass(DataError, NLBTutError) and issubclass(DataFileNotFoundError, NLBTutError)


# -------------------------------------------------------------------------------------------------
# resample / smooth / trial data
# -------------------------------------------------------------------------------------------------
def _copy(ds):
    new = object.__new__(NWBDataset)
    new.__dict__.update(ds.__dict__)
    new.data = ds.data.copy()
    new.trial_info = ds.trial_info.copy()
    return new


def test_resample_sums_spikes_and_keeps_first_nan(maze):
    ds = _copy(maze)
    raw = maze.data["spikes"].to_numpy().astype(float)
    ds.resample(5)
    assert ds.bin_width == 5 and ds.data.index.freq == pd.Timedelta(5, "ms")
    got = ds.data["spikes"].to_numpy().astype(float)
    n = len(raw)
    assert got.shape == (-(-n // 5), raw.shape[1])
    exp = np.nan_to_num(raw[: n - n % 5]).reshape(-1, 5, raw.shape[1]).sum(1)
    exp[np.isnan(raw[: n - n % 5 : 5])] = np.nan
    np.testing.assert_array_equal(got[: len(exp)], exp)
    assert ds.data["spikes"].dtypes.iloc[0] == np.float16
    # the original frame is untouched (pandas 3: read-only views must not be written)
    np.testing.assert_array_equal(maze.data["spikes"].to_numpy().astype(float), raw)


def test_resample_continuous_is_scipy_decimate(maze):
    from scipy import signal

    ds = _copy(maze)
    x = maze.data["hand_vel"].interpolate(limit_direction="both").to_numpy()
    ds.resample(20)
    exp = signal.decimate(x, 20, axis=0, n=500, ftype="fir")
    exp[maze.data["hand_vel"].iloc[::20].isna().to_numpy()] = np.nan
    np.testing.assert_allclose(ds.data["hand_vel"].to_numpy(), exp, rtol=0, atol=1e-12)


def test_smooth_spk_ignore_nans_matches_segment_convolution(maze):
    from scipy import signal

    ds = _copy(maze)
    ds.resample(5)
    ds.smooth_spk(40, name="smth", ignore_nans=True)
    assert "spikes_smth" in ds.data.columns and "heldout_spikes_smth" in ds.data.columns
    win = signal.windows.gaussian(int(6 * 8), 8, sym=True)
    win /= win.sum()
    x = ds.data[("spikes", 1011)].to_numpy().astype(float)
    exp = np.full_like(x, np.nan)
    isn = np.isnan(x)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(isn)) + 1, [len(x)]])
    for a, b in zip(bounds[:-1], bounds[1:]):
        if not isn[a]:
            exp[a:b] = np.clip(signal.convolve(x[a:b], win, "same"), 0, None)
    np.testing.assert_allclose(ds.data[("spikes_smth", 1011)].to_numpy(), exp, atol=1e-12)
    with pytest.raises(DataError, match="name"):
        ds.smooth_spk(40)


def test_make_trial_data_windows(maze):
    ds = _copy(maze)
    ds.resample(5)
    td = ds.make_trial_data(align_field="move_onset_time", align_range=(-250, 450), allow_nans=True)
    assert td.groupby("trial_id").size().eq(140).all()
    first = td[td.trial_id == td.trial_id.iloc[0]]
    onset = ds.trial_info.move_onset_time.iloc[int(td.trial_id.iloc[0])]
    start = first.clock_time.iloc[0]
    assert onset - pd.Timedelta(250, "ms") <= start < onset - pd.Timedelta(245, "ms")
    assert first.align_time.iloc[0] == pd.Timedelta(-250, "ms")
    assert not first.margin.any()
    # allow_nans=False drops the test trials' rows (NaN held-out spikes and behaviour)
    td2 = ds.make_trial_data(align_field="move_onset_time", align_range=(-250, 450))
    assert not td2.isna().any().any() and len(td2) < len(td)
    ign = ds.trial_info.split != "train"
    td3 = ds.make_trial_data(
        align_field="move_onset_time", align_range=(-250, 450), ignored_trials=ign
    )
    assert set(td3.trial_id) == set(ds.trial_info.trial_id[~ign])
    assert ds.make_trial_data(ignored_trials=np.ones(len(ds.trial_info), bool)) is None
    with pytest.raises(DataError, match="no column 'go_time'"):
        ds.make_trial_data(align_field="go_time")


def test_add_continuous_and_trialized(maze):
    ds = _copy(maze)
    ds.resample(5)
    ds.add_continuous_data(np.ones((len(ds.data), 2)), "extra", ["a", "b"])
    assert list(ds.data["extra"].columns) == ["a", "b"]
    with pytest.raises(DataError, match="rows"):
        ds.add_continuous_data(np.ones((3, 2)), "bad")


def test_public_api_lazy_import():
    import nlbtut

    assert nlbtut.NWBDataset is NWBDataset


def test_loads_synthetic_tiny(synthetic_dataset):
    from nlbtut.synthetic import SYNTHETIC_PRESETS

    preset = SYNTHETIC_PRESETS["tiny"]
    ds = NWBDataset(synthetic_dataset("tiny"), "*small")
    assert ds.data["spikes"].shape[1] == preset.n_heldin
    assert ds.data["heldout_spikes"].shape[1] == preset.n_heldout
    counts = ds.trial_info.split.value_counts()
    assert counts["train"] == preset.n_train and counts["val"] == preset.n_val
    assert counts["test"] == preset.n_test
    assert ds.data["spikes"].notna().any().all()


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("kind", ["counts", "fractions", "float64"])
def test_sum_bins_equals_official_expression(order, kind):
    from nlbtut._nwb_signal import sum_bins

    rng = np.random.default_rng(1)
    n, c, q = 1003, 7, 5
    if kind == "counts":
        x = rng.poisson(0.3, (n, c)).astype(np.float16)
    elif kind == "fractions":
        x = (rng.random((n, c)) * 3).astype(np.float16)
    else:
        x = rng.random((n, c))
    x[rng.random(n) < 0.1] = np.nan
    x[5:9, 2] = np.nan
    x = np.asarray(x, order=order)
    # the official nlb_tools expression, on the same memory layout (float16 sums depend on it)
    main, extra = x[: n - n % q].copy(order="K"), x[n - n % q :].copy(order="K")
    exp = np.nan_to_num(main).reshape(-1, q, c).sum(axis=1)
    exp = np.vstack([exp, np.nan_to_num(extra).sum(axis=0)])
    exp[np.isnan(x[::q])] = np.nan
    got = sum_bins(x, q)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, exp)
