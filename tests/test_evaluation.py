"""nlbtut.evaluation: the metrics against closed forms and scikit-learn, evaluate()'s
inputs, output structure, no mutation, test-phase scoring and the results table.

Parity with the official package is in test_parity_evaluation.py.
"""

from __future__ import annotations

import copy
import logging

import h5py
import numpy as np
import pytest
from scipy.special import gammaln
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from test_parity_evaluation import all_groups_case, make_eval_case

from nlbtut.datasets import DATASETS, get_dataset_info, group_name
from nlbtut.errors import SubmissionError
from nlbtut.evaluation import (
    bits_per_spike,
    eval_psth,
    evaluate,
    fit_and_eval_decoder,
    neg_log_likelihood,
    results_table,
    speed_tp_correlation,
    velocity_decoding,
)
from nlbtut.submission import SubmissionWarning, save_submission

rng = np.random.default_rng(1234)


# --------------------------------------------------------------------------- NLL / bps


def test_neg_log_likelihood_closed_form_and_nan_mask():
    spikes = rng.integers(0, 5, size=(6, 30, 7)).astype(float)
    rates = rng.exponential(1.0, size=spikes.shape)
    expected = np.sum(rates - spikes * np.log(rates) + gammaln(spikes + 1.0))
    assert neg_log_likelihood(rates, spikes) == pytest.approx(expected, rel=1e-12)
    mask = rng.random(spikes.shape) < 0.2
    spikes[mask] = np.nan
    rates_nan = rates.copy()
    rates_nan[mask] = np.nan  # NaN rates where spikes are NaN are ignored
    expected = np.sum(
        rates[~mask] - spikes[~mask] * np.log(rates[~mask]) + gammaln(spikes[~mask] + 1.0)
    )
    assert neg_log_likelihood(rates_nan, spikes) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("rates", "spikes", "match"),
    [
        (np.ones((2, 3, 4)), np.ones((2, 3, 5)), "same shape"),
        (-np.ones((2, 3, 4)), np.ones((2, 3, 4)), "negative rate"),
        (np.full((2, 3, 4), np.nan), np.ones((2, 3, 4)), "NaN rate"),
    ],
)
def test_neg_log_likelihood_rejects_bad_rates(rates, spikes, match):
    with pytest.raises(SubmissionError, match=match):
        neg_log_likelihood(rates, spikes)


def test_neg_log_likelihood_zero_rates_do_not_mutate(caplog):
    spikes = np.array([[[0.0, 1.0], [2.0, 0.0]]])
    rates = np.array([[[0.0, 1.0], [2.0, 0.5]]])
    before = rates.copy()
    with caplog.at_level(logging.WARNING, logger="nlbtut.evaluation"):
        nll = neg_log_likelihood(rates, spikes)
    assert np.array_equal(rates, before)
    assert "Zero rate predictions" in caplog.text
    r = np.where(before == 0, 1e-9, before)
    assert nll == pytest.approx(np.sum(r - spikes * np.log(r) + gammaln(spikes + 1)))


def test_bits_per_spike_formula_and_null_model_is_zero():
    spikes = rng.poisson(0.3, size=(5, 20, 6)).astype(float)
    spikes[0, 0, :] = 1.0  # no silent neuron
    rates = rng.uniform(0.1, 1.0, size=spikes.shape)
    null = np.broadcast_to(spikes.mean(axis=(0, 1), keepdims=True), spikes.shape)
    nll = lambda r: np.sum(r - spikes * np.log(r))  # noqa: E731 - lgamma terms cancel
    expected = (nll(null) - nll(rates)) / spikes.sum() / np.log(2)
    assert bits_per_spike(rates, spikes) == pytest.approx(expected, rel=1e-10)
    assert bits_per_spike(null.copy(), spikes) == pytest.approx(0.0, abs=1e-12)
    # the true rates of Poisson data beat the null model
    true = rng.uniform(0.05, 2.0, size=(40, 50, 5))
    sp = rng.poisson(true).astype(float)
    assert bits_per_spike(true, sp) > 0.1


# --------------------------------------------------------------------------- decoding


def _sklearn_decoder_r2(xtr, ytr, xev, yev):
    dec = GridSearchCV(Ridge(), {"alpha": np.logspace(-4, 0, 9)}).fit(xtr, ytr)
    return dec.score(xev, yev)


@pytest.mark.parametrize(
    ("n_train", "n_feat", "collinear"),
    [(503, 12, False), (211, 40, True), (37, 60, False), (1000, 5, False)],
)
def test_closed_form_grid_search_matches_gridsearchcv(n_train, n_feat, collinear):
    x = rng.exponential(0.2, size=(n_train + 97, n_feat))
    if collinear:
        x[:, 1] = x[:, 0] * 2.0 + 1e-6 * rng.standard_normal(len(x))
    w = rng.normal(size=(n_feat, 2))
    y = x @ w + rng.normal(0, 0.5, size=(len(x), 2)) + 3.0
    y[rng.random(len(y)) < 0.1] = np.nan  # behaviour gaps are dropped on both sides
    xtr, ytr, xev, yev = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    got = fit_and_eval_decoder(xtr, ytr, xev, yev)
    keep_tr, keep_ev = ~np.isnan(ytr[:, 0]), ~np.isnan(yev[:, 0])
    want = _sklearn_decoder_r2(xtr[keep_tr], ytr[keep_tr], xev[keep_ev], yev[keep_ev])
    assert got == pytest.approx(want, abs=1e-9)
    no_gs = fit_and_eval_decoder(xtr, ytr, xev, yev, grid_search=False)
    ref = Ridge(alpha=1e-2).fit(xtr[keep_tr], ytr[keep_tr]).score(xev[keep_ev], yev[keep_ev])
    assert no_gs == pytest.approx(ref, abs=1e-12)


def test_decoder_rejects_nan_rates_where_behaviour_exists():
    x = rng.random((50, 3))
    y = rng.random((50, 2))
    x[3, 1] = np.nan
    with pytest.raises(SubmissionError, match="NaNs found in rate predictions"):
        fit_and_eval_decoder(x, y, x[:10] * 0 + 1, y[:10])
    y[3] = np.nan  # no behaviour there: the NaN rate is not used
    assert np.isfinite(fit_and_eval_decoder(x, y, rng.random((10, 3)), rng.random((10, 2))))


def test_velocity_decoding_averages_mask_columns():
    xtr, xev = rng.random((20, 15, 6)), rng.random((10, 15, 6))
    ytr = xtr[..., :2] @ rng.normal(size=(2, 2)) + 0.1 * rng.random((20, 15, 2))
    yev = xev[..., :2] @ rng.normal(size=(2, 2))
    mtr = np.stack([np.arange(20) < 12, np.arange(20) >= 12], axis=1)
    mev = np.stack([np.arange(10) < 4, np.arange(10) >= 4], axis=1)
    both = velocity_decoding(xtr, ytr, mtr, xev, yev, mev)
    parts = [
        fit_and_eval_decoder(
            xtr[mtr[:, i]].reshape(-1, 6),
            ytr[mtr[:, i]].reshape(-1, 2),
            xev[mev[:, i]].reshape(-1, 6),
            yev[mev[:, i]].reshape(-1, 2),
        )
        for i in range(2)
    ]
    assert both == pytest.approx(np.mean(parts), abs=1e-15)


# --------------------------------------------------------------------------- psth / tp corr


def test_eval_psth_unjitters_and_skips_empty_conditions():
    t, c = 10, 3
    rates = rng.random((4, t, c))
    psth = np.full((3, t, c), np.nan)
    psth[0, 2:] = rng.random((t - 2, c))
    psth[1] = rng.random((t, c))
    cond_idx = [np.array([0, 1]), np.array([2, 3]), np.array([], dtype=int)]
    jitter = np.array([2, 0, 0, -1])
    # the prediction of condition 0: trial 0 shifted 2 bins later, NaN in front
    shifted0 = np.vstack([np.full((2, c), np.nan), rates[0, :-2]])
    pred0 = (shifted0 + rates[1]) / 2
    shifted3 = np.vstack([rates[3, 1:], np.full((1, c), np.nan)])
    pred1 = (rates[2] + shifted3) / 2
    pred1[-1] = rates[2, -1]  # placeholder: that row holds NaN -> must raise
    with pytest.raises(SubmissionError, match="NaNs found"):
        eval_psth(psth, rates, cond_idx, jitter=jitter)
    psth[1, -1] = np.nan  # the true PSTH ends one bin earlier: no NaN used any more
    want = r2_score(np.vstack([psth[0, 2:], psth[1, :-1]]), np.vstack([pred0[2:], pred1[:-1]]))
    assert eval_psth(psth, rates, cond_idx, jitter=jitter) == pytest.approx(want, abs=1e-14)


def test_speed_tp_correlation_perfect_and_outliers_ignored():
    n, t, c = 8, 12, 3
    tp = np.linspace(400, 900, n)
    rates = np.zeros((n, t, c))
    for i in range(n):  # speed proportional to -tp (slower trials = longer tp)
        rates[i, :, 0] = np.arange(t) * (2000 - tp[i]) / 1000
    spikes = np.ones((n, t, 2))
    spikes[:, :3] = np.nan  # set->go starts at bin 3
    beh = np.stack([np.zeros(n), np.where(np.arange(n) % 2, 0.0, 180.0), np.zeros(n), tp, tp], 1)
    beh[0] = np.nan  # outlier
    assert speed_tp_correlation(spikes, rates, beh) == pytest.approx(-1.0, abs=1e-12)


# --------------------------------------------------------------------------- evaluate


@pytest.fixture(scope="module")
def case():
    small = {"n_heldin": 30, "n_heldout": 10}
    t1, s1 = make_eval_case("mc_maze_small", 5, seed=1, **small)
    t2, s2 = make_eval_case("dmfc_rsg", 5, seed=2, **small)
    t3, s3 = make_eval_case("mc_maze_large", 20, seed=3, **small)
    t4, s4 = make_eval_case("mc_rtt", 20, seed=4, forward=False, **small)
    return {**t1, **t2, **t3, **t4}, {**s1, **s2, **s3, **s4}


def test_evaluate_output_structure(case):
    targets, sub = case
    res = evaluate(targets, sub)
    assert [next(iter(e)) for e in res] == [
        "mc_rtt_20_split",
        "dmfc_rsg_split",
        "mc_maze_scaling_split",
        "mc_maze_scaling_20_split",
    ]
    d = {k: v for e in res for k, v in e.items()}
    assert list(d["mc_rtt_20_split"]) == ["co-bps", "vel R2"]  # no psth, no forward rates
    assert list(d["dmfc_rsg_split"]) == ["co-bps", "tp corr", "psth R2", "fp-bps"]
    assert list(d["mc_maze_scaling_split"]) == [
        "[100] co-bps",
        "[100] vel R2",
        "[100] psth R2",
        "[100] fp-bps",
    ]
    assert list(d["mc_maze_scaling_20_split"])[0] == "[500] co-bps"
    assert all(isinstance(v, float) for m in d.values() for v in m.values())
    # these rates are the truth times noise: positive bits per spike, decent decoding
    assert d["dmfc_rsg_split"]["co-bps"] > 0 and d["mc_rtt_20_split"]["vel R2"] > 0.3


def test_evaluate_accepts_dict_str_path_and_h5py(case, tmp_path):
    targets, sub = case
    tpath = save_submission(targets, tmp_path / "targets.h5")
    spath = save_submission(sub, tmp_path / "sub.h5")
    from_path = evaluate(tpath, spath)
    assert evaluate(str(tpath), str(spath)) == from_path
    with h5py.File(tpath, "r") as ft, h5py.File(spath, "r") as fs:
        assert evaluate(ft, fs) == from_path
    # dict input (float64) vs file (float32): same up to float32 rounding
    from_dict = evaluate(targets, sub)
    for a, b in zip(from_dict, from_path):
        (ka, ma), (kb, mb) = *a.items(), *b.items()
        assert ka == kb
        for key in ma:
            assert ma[key] == pytest.approx(mb[key], abs=1e-5)


def test_evaluate_never_mutates_inputs(case):
    targets, sub = case
    t_before, s_before = copy.deepcopy(targets), copy.deepcopy(sub)
    assert any((v == 0).any() for g in sub.values() for v in g.values())  # zeros present
    evaluate(targets, sub)
    for before, after in ((t_before, targets), (s_before, sub)):
        for g in before:
            for k, v in before[g].items():
                if v.dtype == object:
                    assert all(np.array_equal(a, b) for a, b in zip(v, after[g][k]))
                else:
                    assert np.array_equal(v, after[g][k], equal_nan=True), (g, k)


def test_evaluate_skips_groups_without_targets(case):
    targets, sub = case
    only = {"mc_maze_small": targets["mc_maze_small"]}
    with pytest.warns(SubmissionWarning) as record:
        res = evaluate(only, sub)
    skipped = sorted(str(w.message).split(":")[0] for w in record)
    assert skipped == ["dmfc_rsg", "mc_maze_large_20", "mc_rtt_20"]
    assert [next(iter(e)) for e in res] == ["mc_maze_scaling_split"]


def test_evaluate_validates_first(case):
    targets, sub = case
    bad = copy.deepcopy(sub)
    bad["mc_maze_small"]["eval_rates_heldout"] = bad["mc_maze_small"]["eval_rates_heldout"][:, :5]
    bad["dmfc_rsg"]["eval_rates_heldin"] = -bad["dmfc_rsg"]["eval_rates_heldin"]
    with pytest.raises(SubmissionError) as err:
        evaluate(targets, bad)
    msg = str(err.value)
    assert "mc_maze_small: eval_rates_heldout" in msg and "time bins" in msg
    assert "dmfc_rsg: eval_rates_heldin" in msg and "negative" in msg
    assert len(err.value.problems) == 2


def test_evaluate_missing_file_is_clear(tmp_path):
    from nlbtut.errors import DataFileNotFoundError

    with pytest.raises(DataFileNotFoundError, match="targets file not found"):
        evaluate(tmp_path / "nope.h5", {})


def test_test_phase_file_layout(tmp_path):
    """Score against a file laid out like the public ``eval_data_test.h5``.

    That file holds ``make_eval_target_tensors(..., eval_trial_split='test')``
    output of every dataset at 5 and 20 ms saved with ``save_to_h5``: train
    behaviour over train+val trials, eval targets over the test trials. A
    submission for only some datasets is scored on those.
    """
    targets, subs = {}, {}
    for i, name in enumerate(DATASETS):
        info = get_dataset_info(name)
        for bw in (5, 20):
            t, s = make_eval_case(
                name, bw, n_train=40, n_eval=20, n_heldin=12, n_heldout=5, seed=50 + i + bw
            )
            targets.update(t)
            subs.update(s)
            assert t[group_name(name, bw)]["eval_spikes_heldout"].shape[1] == info.n_bins(bw)
    test_file = save_submission(targets, tmp_path / "eval_data_test.h5")
    with h5py.File(test_file, "r") as f:
        assert sorted(f) == sorted(group_name(n, bw) for n in DATASETS for bw in (5, 20))
        assert h5py.check_vlen_dtype(f["mc_maze"]["eval_cond_idx"].dtype) is not None
    wanted = ["mc_maze", "mc_maze_large", "mc_maze_medium", "mc_maze_small"]
    sub_file = save_submission({g: subs[g] for g in wanted}, tmp_path / "submission.h5")
    res = evaluate(test_file, sub_file)
    d = {k: v for e in res for k, v in e.items()}
    assert list(d) == ["mc_maze_split", "mc_maze_scaling_split"]
    assert {"[500] co-bps", "[250] psth R2", "[100] fp-bps"} <= set(d["mc_maze_scaling_split"])
    assert d["mc_maze_split"]["co-bps"] > 0


def test_results_table():
    targets, subs = all_groups_case(seed=3, n_heldin=10, n_heldout=4, n_train=20, n_eval=10)
    table = results_table(evaluate(targets, subs))
    assert list(table.index) == [
        "mc_maze",
        "mc_maze_20",
        "mc_rtt",
        "mc_rtt_20",
        "area2_bump",
        "area2_bump_20",
        "dmfc_rsg",
        "dmfc_rsg_20",
        "mc_maze_large",
        "mc_maze_medium",
        "mc_maze_small",
        "mc_maze_large_20",
        "mc_maze_medium_20",
        "mc_maze_small_20",
    ]
    assert list(table.columns) == ["co-bps", "vel R2", "psth R2", "fp-bps", "tp corr"]
    assert np.isnan(table.loc["mc_rtt", "psth R2"]) and np.isnan(table.loc["dmfc_rsg", "vel R2"])
    assert table.loc["mc_maze_medium_20", "co-bps"] == pytest.approx(
        evaluate(targets, subs)[-1]["mc_maze_scaling_20_split"]["[250] co-bps"]
    )


# --------------------------------------------------------------------------- command line


def test_cli_evaluate(case, tmp_path, capsys):
    import json

    from nlbtut.cli import main

    targets, sub = case
    tpath = save_submission(targets, tmp_path / "targets.h5")
    spath = save_submission(sub, tmp_path / "sub.h5")
    assert main(["evaluate", str(tpath), str(spath), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == evaluate(tpath, spath)
    assert main(["evaluate", str(tpath), str(spath)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["co-bps", "vel", "R2", "psth", "R2", "fp-bps", "tp", "corr"]
    assert [ln.split()[0] for ln in lines[1:]] == [
        "mc_rtt_20",
        "dmfc_rsg",
        "mc_maze_small",
        "mc_maze_large_20",
    ]
    bad = save_submission({"mc_maze_small": {"eval_rates_heldin": np.ones(3)}}, tmp_path / "b.h5")
    assert main(["evaluate", str(tpath), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "nlbtut evaluate: error:" in err and "mc_maze_small: train_rates_heldin: missing" in err
