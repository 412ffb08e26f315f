"""nlbtut.tensors and nlbtut.psth without the reference environment.

Parity with the official package is in test_parity_tensors.py; here: argument checks and
errors, the trial-window rules against ``NWBDataset.make_trial_data``, the PSTH shortcut
against the official algorithm written out densely (smooth the whole 1 ms recording, bin,
cut, average), the DMFC jitter draws, saving, and the pandas-3 condition-matching fix.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.signal as signal

from nlbtut.errors import DataError
from nlbtut.tensors import (
    PARAMS,
    make_eval_input_tensors,
    make_eval_target_tensors,
    make_train_input_tensors,
    trial_windows,
)


@pytest.fixture(scope="module")
def maze1(synthetic_dataset):
    """The tiny maze dataset at 1 ms."""
    from nlbtut.nwb import NWBDataset

    return NWBDataset(synthetic_dataset("tiny"), "*small")


@pytest.fixture(scope="module")
def maze5(maze1):
    ds = copy.deepcopy(maze1)
    ds.resample(5)
    return ds


# --------------------------------------------------------------------------------------
# arguments and errors
# --------------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors(maze5):
    with pytest.raises(DataError, match="Unknown dataset_name 'mc_mazee'"):
        make_train_input_tensors(maze5, "mc_mazee", save_file=False)
    with pytest.raises(DataError, match="Invalid `trial_split` 'test'"):
        make_train_input_tensors(maze5, "mc_maze_small", "test", save_file=False)
    with pytest.raises(DataError, match="one entry per trial"):
        make_eval_input_tensors(maze5, "mc_maze_small", np.ones(3, bool), save_file=False)
    with pytest.raises(DataError, match="must be an NWBDataset"):
        make_eval_input_tensors(object(), "mc_maze_small", save_file=False)
    with pytest.raises(DataError, match="update_params must be a dict"):
        make_eval_input_tensors(maze5, "mc_maze_small", update_params=[1], save_file=False)
    none = np.zeros(len(maze5.trial_info), bool)
    with pytest.raises(DataError, match="All trials ignored"):
        make_eval_input_tensors(maze5, "mc_maze_small", none, save_file=False)
    with pytest.raises(DataError, match="held-out spikes"):
        make_eval_target_tensors(maze5, "mc_maze_small", ["train", "val"], "test", save_file=False)


def test_masks_lists_and_arrays_agree(maze5):
    split = maze5.trial_info.split
    a = make_train_input_tensors(maze5, "mc_maze_small", ["train", "val"], save_file=False)
    b = make_train_input_tensors(
        maze5, "mc_maze_small", (split == "train") | (split == "val"), save_file=False
    )
    c = make_train_input_tensors(
        maze5, "mc_maze_small", split.isin(["train", "val"]).to_numpy(), save_file=False
    )
    n = int(split.isin(["train", "val"]).sum())
    assert a["train_spikes_heldin"].shape == (n, 140, 30)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(a[k], c[k])


def test_save_file_round_trip(maze5, tmp_path):
    from nlbtut.h5io import h5_to_dict

    out = make_eval_input_tensors(
        maze5, "mc_maze_small", "val", save_file=True, save_path=str(tmp_path / "eval_input")
    )
    back = h5_to_dict(tmp_path / "eval_input.h5")
    assert set(back) == set(out) == {"eval_spikes_heldin", "eval_spikes_heldout"}
    np.testing.assert_array_equal(back["eval_spikes_heldin"], out["eval_spikes_heldin"])
    assert make_eval_input_tensors(maze5, "mc_maze_small", "val", return_dict=False,
                                   save_path=str(tmp_path / "x.h5")) is None  # fmt: skip
    assert (tmp_path / "x.h5").exists()


def test_trial_info_and_global_rng_untouched(maze5):
    before = list(maze5.trial_info.columns)
    np.random.seed(123)  # noqa: NPY002 (the legacy global state must stay untouched)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    make_eval_target_tensors(maze5, "mc_maze_small", save_file=False)
    assert list(maze5.trial_info.columns) == before
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


# --------------------------------------------------------------------------------------
# trial windows == NWBDataset.make_trial_data
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        dict(align_field="move_onset_time", align_range=(-250, 450)),
        dict(align_field="move_onset_time", align_range=(-1500, 2500)),  # overlaps: shortened
        dict(align_field="move_onset_time", align_range=(-1500, 2500), allow_overlap=True),
        dict(align_field="move_onset_time", align_range=(-250, 452)),  # rounded to the bin
        dict(start_field="start_time", end_field="end_time", margin=40),
        dict(align_field="go_cue_time", align_range=(0, 300), allow_nans=True),
    ],
)
def test_windows_match_make_trial_data(maze5, params):
    from nlbtut.tensors import make_trial_data

    ti = maze5.trial_info
    include = (ti.split != "none").to_numpy()
    ref = maze5.make_trial_data(ignored_trials=~include, **params)
    td = make_trial_data(maze5, ti, params, include)
    np.testing.assert_array_equal(td.windows.trial_id, ref.trial_id.unique())
    np.testing.assert_array_equal(td.lengths, ref.groupby("trial_id", sort=False).size())
    np.testing.assert_array_equal(
        td.frame.index.to_numpy(), ref.clock_time.to_numpy().astype(td.frame.index.dtype)
    )
    ours = td.field("spikes")
    np.testing.assert_array_equal(ours, ref["spikes"].to_numpy())


def test_windows_drop_trials_with_nat_alignment(maze5):
    ti = maze5.trial_info.copy()
    ti.loc[ti.index[3], "move_onset_time"] = pd.NaT
    idx = maze5.data.index.to_numpy().astype("timedelta64[ns]").view("i8")
    w = trial_windows(ti, idx, 5, align_field="move_onset_time", align_range=(-250, 450))
    assert 3 not in set(w.pos) and len(w.pos) == len(ti) - 1
    assert np.all(w.lengths == 140)


# --------------------------------------------------------------------------------------
# PSTH: the shortcut equals the official algorithm written out densely
# --------------------------------------------------------------------------------------
def _official_psth_dense(ds1, bw, train_mask, eval_mask, ignore, make_params, cond_fields, kern_sd):
    """nlb_tools' _make_psth, step by step, on the 1 ms dataset (float64 segments)."""
    ds = copy.deepcopy(ds1)
    win_len = int(6 * kern_sd)
    w = signal.windows.gaussian(win_len, kern_sd, sym=True)
    w /= w.sum()
    cols = []
    for st in ("spikes", "heldout_spikes"):
        x = ds.data[st].to_numpy().astype(np.float64)
        y = np.full_like(x, np.nan)
        for c in range(x.shape[1]):
            col, nan = x[:, c], np.isnan(x[:, c])
            cuts = np.flatnonzero(np.diff(nan)) + 1
            for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(col)]):
                if not nan[a]:
                    seg = signal.convolve(col[a:b], w, "same")
                    y[a:b, c] = np.clip(seg, 0, None)
        cols.append(pd.DataFrame(y, index=ds.data.index, columns=ds.data[st].columns))
    data = pd.concat(cols, axis=1, keys=["spikes", "heldout_spikes"])
    data.columns.names = ("signal_type", "channel")
    ds.data = data
    ds.resample(bw)
    ti = ds.trial_info
    combos = sorted(ti[~ignore][cond_fields].dropna().set_index(cond_fields).index.unique())
    align = make_params["align_field"]
    tr_ids = ti[train_mask][["trial_id", align]].dropna().trial_id.to_numpy()
    ev_ids = ti[eval_mask][["trial_id", align]].dropna().trial_id.to_numpy()
    psths, tr_idx, ev_idx = [], [], []
    for comb in combos:
        m = np.ones(len(ti), bool)
        for f, v in zip(cond_fields, comb):
            m &= (ti[f] == v).to_numpy()
        td = ds.make_trial_data(ignored_trials=~m | ignore, allow_nans=True, **make_params)
        lens = td.groupby("trial_id").size()
        good = lens[lens >= 0.8 * lens.mean()].index
        td = td[td.trial_id.isin(good)]
        p = td.groupby("align_time")[list(td[["spikes", "heldout_spikes"]].columns)].mean()
        psths.append(p.to_numpy()[: lens[good].min()])
        tr_idx.append(np.flatnonzero(np.isin(tr_ids, td.trial_id)))
        ev_idx.append(np.flatnonzero(np.isin(ev_ids, td.trial_id)))
    return np.stack(psths), tr_idx, ev_idx


@pytest.mark.parametrize("bw,kern_sd", [(5, 50), (20, 50), (5, 400)])
def test_psth_equals_dense_official_algorithm(maze1, bw, kern_sd):
    """kern_sd=400 makes most smoothing windows reach a NaN gap (the per-segment path)."""
    from nlbtut.psth import make_psth

    ds = copy.deepcopy(maze1)
    ds.resample(bw)
    ti = ds.trial_info
    train, ev = (ti.split == "train").to_numpy(), (ti.split == "val").to_numpy()
    ignore = ~(train | ev)
    mp = dict(PARAMS["mc_maze_small"]["psth_params"]["make_params"])
    fields = ["trial_type", "trial_version"]
    (tr, evi), psth, conds = make_psth(ds, train, ev, ignore, mp, fields, kern_sd)
    ref, tr_ref, ev_ref = _official_psth_dense(maze1, bw, train, ev, ignore, mp, fields, kern_sd)
    assert psth.shape == ref.shape == (len(conds), 700 // bw, 40)
    np.testing.assert_array_equal(np.isnan(psth), np.isnan(ref))
    np.testing.assert_allclose(psth, ref, rtol=0, atol=1e-12)
    assert [list(a) for a in tr] == [list(a) for a in tr_ref]
    assert [list(a) for a in evi] == [list(a) for a in ev_ref]


def test_psth_cond_idx_always_one_dimensional(maze5):
    t = make_eval_target_tensors(maze5, "mc_maze_small", save_file=False, include_psth=True)
    g = t["mc_maze_small"]
    for key in ("train_cond_idx", "eval_cond_idx"):
        assert g[key].dtype == object and g[key].ndim == 1
        assert all(a.dtype == np.int64 for a in g[key])
    assert g["psth"].shape[0] == len(g["eval_cond_idx"])
    # every val trial with a condition appears once
    assert sorted(np.concatenate(list(g["eval_cond_idx"]))) == list(range(8))


def test_condition_matching_without_tuple_comparison(maze5):
    """The official `trial_info[cond_fields] == comb` compares a DataFrame with a tuple, which
    pandas 3 deprecates (its meaning changes in pandas 4); ours compares field by field."""
    from nlbtut.psth import _condition_masks

    ti = maze5.trial_info
    fields = ["trial_type", "trial_version"]
    ignore = (ti.split == "none").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = list(_condition_masks(ti, fields, ignore))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        official = [np.all(ti[fields] == comb, axis=1).to_numpy() for comb, _ in ours]
    for (_, m), r in zip(ours, official):
        np.testing.assert_array_equal(m, r)  # same trials today ...
    if int(pd.__version__.split(".")[0]) >= 3:  # ... but pandas 3 warns about the official way
        assert any("tuple" in str(c.message) for c in caught), [str(c.message) for c in caught]


# --------------------------------------------------------------------------------------
# DMFC jitter
# --------------------------------------------------------------------------------------
def test_jitter_draws_equal_legacy_global_seed():
    from nlbtut.tensors import _prep_jitter

    ti = pd.DataFrame(
        {"split": ["train", "val", "test", "train"], "tp": [1400.0, 1000.0, np.nan, 1234.0]}
    )
    mask = np.array([True, True, True, True])
    ours = _prep_jitter(ti, mask, PARAMS["dmfc_rsg"]["jitter"], 5, seed=0)
    np.random.seed(0)  # noqa: NPY002 (the official code: legacy draws after seeding)
    rng = np.floor((PARAMS["dmfc_rsg"]["jitter"](ti) / 5).round(4))
    draw = np.random.random  # noqa: NPY002
    legacy = np.array([round(draw() * (hi - lo) + lo) for lo, hi in rng]) * 5
    np.testing.assert_array_equal(ours, legacy)
    assert ours[2] == 0  # test trials are not jittered
    assert 0 <= ours[0] <= 100 and 0 <= ours[1] <= 300
