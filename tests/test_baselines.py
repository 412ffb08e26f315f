"""nlbtut.baselines on tiny Poisson data with latent structure.

Both baselines must return valid submissions for the input tensors, and on data
whose neurons share low-dimensional latents they must beat the mean-rate
predictor on co-bps (held-out neurons) and on fp-bps.
"""

from __future__ import annotations

import numpy as np
import pytest

from nlbtut.baselines import factor_analysis_baseline, smooth_spikes, smoothing_baseline
from nlbtut.errors import DataError
from nlbtut.evaluation import bits_per_spike
from nlbtut.submission import validate_submission

N_TRAIN, N_EVAL, N_IN, N_OUT, T, FP = 40, 16, 20, 8, 140, 40  # mc_maze_small window at 5 ms


def _tiny_data(seed: int = 0, structured: bool = True):
    """Input tensors and eval held-out targets; rates driven by 3 smooth latents per trial."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_EVAL
    t = np.linspace(0, 1, T + FP)[None, :, None]
    lat = np.sin(2 * np.pi * rng.uniform(0.5, 2, (n, 1, 3)) * t + rng.uniform(0, 6, (n, 1, 3)))
    w = rng.normal(0, 1.0 if structured else 0.0, (3, N_IN + N_OUT))
    rates = np.exp(lat @ w + np.log(0.08))
    spikes = rng.poisson(rates).astype(np.float16)
    tr, ev = slice(0, N_TRAIN), slice(N_TRAIN, n)
    train_input = {
        "train_spikes_heldin": spikes[tr, :T, :N_IN],
        "train_spikes_heldout": spikes[tr, :T, N_IN:],
        "train_spikes_heldin_forward": spikes[tr, T:, :N_IN],
        "train_spikes_heldout_forward": spikes[tr, T:, N_IN:],
    }
    eval_input = {"eval_spikes_heldin": spikes[ev, :T, :N_IN]}
    targets = {
        "eval_spikes_heldout": spikes[ev, :T, N_IN:].astype(float),
        "eval_spikes_forward": spikes[ev, T:].astype(float),
    }
    return train_input, eval_input, targets


def _mean_rate_bps(train_input, targets):
    """co-bps / fp-bps of predicting each neuron's mean training rate everywhere."""
    mean_out = train_input["train_spikes_heldout"].astype(float).mean(axis=(0, 1))
    co = bits_per_spike(np.broadcast_to(mean_out, targets["eval_spikes_heldout"].shape).copy(),
                        targets["eval_spikes_heldout"])  # fmt: skip
    fwd = np.concatenate(
        [train_input["train_spikes_heldin_forward"], train_input["train_spikes_heldout_forward"]],
        axis=-1,
    ).astype(float)
    fp = bits_per_spike(
        np.broadcast_to(fwd.mean(axis=(0, 1)), targets["eval_spikes_forward"].shape).copy(),
        targets["eval_spikes_forward"],
    )
    return co, fp


def _scores(sub, targets):
    g = sub["mc_maze_small"]
    co = bits_per_spike(g["eval_rates_heldout"], targets["eval_spikes_heldout"])
    fwd = np.concatenate([g["eval_rates_heldin_forward"], g["eval_rates_heldout_forward"]], -1)
    return co, bits_per_spike(fwd, targets["eval_spikes_forward"])


@pytest.fixture(scope="module")
def data():
    return _tiny_data(seed=0)


@pytest.mark.parametrize("baseline", [smoothing_baseline, factor_analysis_baseline])
def test_baseline_is_valid_and_beats_mean_rate(data, baseline):
    train_input, eval_input, targets = data
    sub = baseline(train_input, eval_input, "mc_maze_small", progress=False)
    assert list(sub) == ["mc_maze_small"]
    validate_submission(sub, {**train_input, **eval_input})
    co, fp = _scores(sub, targets)
    co_mean, fp_mean = _mean_rate_bps(train_input, targets)
    assert co > co_mean + 0.05, (co, co_mean)
    assert fp > fp_mean, (fp, fp_mean)


def test_fa_options_and_20ms_group(data):
    train_input, eval_input, _ = data
    # 20 ms shapes: sum 4 bins of 5 ms
    re = lambda x: x.reshape(x.shape[0], -1, 4, x.shape[2]).sum(axis=2)  # noqa: E731
    tr20 = {k: re(v) for k, v in train_input.items()}
    ev20 = {k: re(v) for k, v in eval_input.items()}
    sub = factor_analysis_baseline(
        tr20, ev20, "mc_maze_small", bin_width=20, n_factors=3, progress=False
    )
    assert list(sub) == ["mc_maze_small_20"]
    assert sub["mc_maze_small_20"]["eval_rates_heldout"].shape == (N_EVAL, T // 4, N_OUT)
    assert sub["mc_maze_small_20"]["eval_rates_heldin_forward"].shape == (N_EVAL, FP // 4, N_IN)


def test_without_forward_inputs_no_forward_rates(data):
    train_input, eval_input, _ = data
    no_fwd = {k: v for k, v in train_input.items() if "forward" not in k}
    sub = smoothing_baseline(no_fwd, eval_input, "mc_maze_small", kern_sd=30, progress=False)
    assert sorted(sub["mc_maze_small"]) == [
        "eval_rates_heldin",
        "eval_rates_heldout",
        "train_rates_heldin",
        "train_rates_heldout",
    ]


def test_smooth_spikes_matches_numpy_convolve():
    from scipy import signal

    x = np.random.default_rng(3).poisson(0.5, size=(2, 60, 3)).astype(float)
    w = signal.windows.gaussian(60, 10, sym=True)
    w /= w.sum()
    want = np.apply_along_axis(lambda v: np.convolve(v, w, "same"), 1, x)
    np.testing.assert_allclose(smooth_spikes(x, 50, 5), want, atol=1e-12)
    with pytest.raises(DataError, match="kern_sd must be > 0"):
        smooth_spikes(x, 0)


def test_bad_inputs_are_clear(data):
    train_input, eval_input, _ = data
    with pytest.raises(DataError, match="train_input needs 'train_spikes_heldout'"):
        smoothing_baseline({"train_spikes_heldin": train_input["train_spikes_heldin"]},
                           eval_input, "mc_maze_small")  # fmt: skip
    bad_eval = {"eval_spikes_heldin": eval_input["eval_spikes_heldin"][:, :, :5]}
    with pytest.raises(DataError, match=r"eval_spikes_heldin has shape \(16, 140, 5\)"):
        smoothing_baseline(train_input, bad_eval, "mc_maze_small")


# --------------------------------------------------------------------------- command line


def test_cli_baseline_on_synthetic_nwb(synthetic_dataset, tmp_path, capsys):
    """``nlbtut baseline`` end to end: NWB files -> tensors -> baseline -> file (+ scores)."""
    import json

    from nlbtut.cli import main
    from nlbtut.nwb import NWBDataset
    from nlbtut.submission import load_h5
    from nlbtut.tensors import make_eval_input_tensors

    folder = synthetic_dataset("tiny")  # mc_maze_small layout and parameters
    out = tmp_path / "smoothing.h5"
    argv = ["baseline", "smoothing", "--data-dir", str(folder), "--dataset", "mc_maze_small"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "co-bps" in printed and "mc_maze_small" in printed
    scores = json.loads(out.with_name("smoothing.scores.json").read_text())
    assert list(scores[0]) == ["mc_maze_scaling_split"]
    assert {"[100] co-bps", "[100] vel R2", "[100] psth R2", "[100] fp-bps"} == set(
        scores[0]["mc_maze_scaling_split"]
    )
    assert set(load_h5(out)) == {"mc_maze_small"}

    # test phase at 20 ms from the download root: rates for the test trials
    out20 = tmp_path / "fa20.h5"
    argv = ["baseline", "fa", "--data-dir", str(folder.parents[1]), "--dataset", "mc_maze_small"]
    assert main([*argv, "--phase", "test", "--bin-width", "20", "--out", str(out20)]) == 0
    assert "eval_data_test.h5" in capsys.readouterr().out
    sub = load_h5(out20)
    ds = NWBDataset(str(folder), prefix="*small")
    ds.resample(20)
    test_in = make_eval_input_tensors(ds, "mc_maze_small", "test", save_file=False)
    n_test = test_in["eval_spikes_heldin"].shape[0]
    assert sub["mc_maze_small_20"]["eval_rates_heldout"].shape[:2] == (n_test, 35)
    assert not out20.with_name("fa20.scores.json").exists()


def test_cli_baseline_errors(tmp_path, capsys):
    from nlbtut.cli import main

    argv = ["baseline", "smoothing", "--data-dir", str(tmp_path / "nope"), "--out", "x.h5"]
    assert main([*argv, "--dataset", "mc_maze_small"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main([*argv, "--dataset", "mc_mzae"]) == 1
    assert "Did you mean 'mc_maze'" in capsys.readouterr().err
