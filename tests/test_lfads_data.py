"""Formatting NLB tensors for LFADS (the original tutorial's layout)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from nlbtut.errors import DataError  # noqa: E402
from nlbtut.lfads import format_lfads_data  # noqa: E402
from nlbtut.lfads.data import split_indices  # noqa: E402


def _inputs(n=10, t_obs=6, t_fwd=2, n_in=4, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    train = {
        "train_spikes_heldin": rng.poisson(1, (n, t_obs, n_in)).astype(np.float16),
        "train_spikes_heldout": rng.poisson(1, (n, t_obs, n_out)).astype(np.float16),
        "train_spikes_heldin_forward": rng.poisson(1, (n, t_fwd, n_in)).astype(np.float16),
        "train_spikes_heldout_forward": rng.poisson(1, (n, t_fwd, n_out)).astype(np.float16),
    }
    ev = {
        "eval_spikes_heldin": rng.poisson(1, (5, t_obs, n_in)).astype(np.float16),
        "eval_spikes_heldout": rng.poisson(1, (5, t_obs, n_out)).astype(np.float16),
    }
    return train, ev


def test_layout_matches_the_tutorial():
    train, ev = _inputs()
    d = format_lfads_data(train, ev)
    expected = np.hstack(
        [
            np.dstack([train["train_spikes_heldin"], train["train_spikes_heldout"]]),
            np.dstack(
                [train["train_spikes_heldin_forward"], train["train_spikes_heldout_forward"]]
            ),
        ]
    )
    np.testing.assert_array_equal(d.train_data, expected)
    assert d.train_data.dtype == np.float32
    assert (d.n_heldin, d.n_heldout, d.t_obs, d.t_fwd) == (4, 3, 6, 2)
    # eval: held-in observed spikes, zeros where held-out neurons and forward bins are unknown
    assert d.eval_data.shape == (5, 8, 7)
    np.testing.assert_array_equal(d.eval_data[:, :6, :4], ev["eval_spikes_heldin"])
    assert not d.eval_data[:, 6:, :].any() and not d.eval_data[:, :, 4:].any()
    # every 5th trial validates
    assert d.valid_inds.tolist() == [0, 5] and len(d.train) == 8 and len(d.valid) == 2
    assert sorted([*d.train_inds, *d.valid_inds]) == list(range(10))


def test_without_forward_bins_and_eval():
    train, _ = _inputs()
    del train["train_spikes_heldin_forward"], train["train_spikes_heldout_forward"]
    d = format_lfads_data(train)
    assert d.t_fwd == 0 and d.eval_data is None and d.train_data.shape == (10, 6, 7)


def test_split_indices():
    tr, va = split_indices(12, 0.25)
    assert va.tolist() == [0, 4, 8] and len(tr) == 9
    with pytest.raises(DataError, match="too few"):
        split_indices(1)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda t, e: t.pop("train_spikes_heldout"), "lacks the key 'train_spikes_heldout'"),
        (lambda t, e: t.pop("train_spikes_heldout_forward"), "both train_spikes_heldin_forward"),
        (
            lambda t, e: t.update(train_spikes_heldout=np.zeros((9, 6, 3))),
            "expected 10 trials x 6 bins",
        ),
        (
            lambda t, e: t.update(train_spikes_heldin_forward=np.zeros((10, 2, 5))),
            "forward tensors",
        ),
        (lambda t, e: t["train_spikes_heldin"].__setitem__((0, 0, 0), np.nan), "NaN/inf"),
        (lambda t, e: t["train_spikes_heldin"].__setitem__((0, 0, 0), -1), "negative"),
        (lambda t, e: t.update(train_spikes_heldin=np.zeros((10, 6))), "3-D"),
        (
            lambda t, e: e.update(eval_spikes_heldin=np.zeros((5, 7, 4))),
            "eval_spikes_heldin has shape",
        ),
    ],
)
def test_bad_inputs_raise_data_error(mutate, match):
    train, ev = _inputs()
    mutate(train, ev)
    with pytest.raises(DataError, match=match):
        format_lfads_data(train, ev)


def test_nan_in_eval_inputs_warns_and_reads_zero():
    train, ev = _inputs()
    ev["eval_spikes_heldin"][1, 2, 3] = np.nan
    with pytest.warns(UserWarning, match="NaN"):
        d = format_lfads_data(train, ev)
    assert d.eval_data[1, 2, 3] == 0
