"""Two classic NLB'21 baselines that produce real submissions: spike smoothing and factor analysis.

Both take the official input tensors and return a submission dict (see
:mod:`nlbtut.submission`) that :func:`nlbtut.evaluation.evaluate` scores.

* :func:`smoothing_baseline` is the NLB reference baseline (``basic_example``
  notebook and ``examples/baselines/smoothing``): held-in spikes smoothed with a
  Gaussian kernel (per-dataset width, ``nlbtut.datasets`` ``smoothing_kern_sd``)
  are the held-in rates; a Poisson GLM per held-out neuron
  (``sklearn.linear_model.PoissonRegressor``, ``alpha = smoothing_alpha``) maps the
  log smoothed held-in rates (``log(x + 1e-4)``) to the held-out spikes.
* :func:`factor_analysis_baseline`: factor analysis (``sklearn.decomposition.FactorAnalysis``)
  of the smoothed held-in spikes, then a Poisson GLM readout from the factors to
  every held-in and held-out neuron. (The NLB team's latent baseline was GPFA via
  ``elephant``; that optional extra is not installed here, so FA - GPFA without the
  temporal prior - stands in for it. GPFA is future work.)

**Forward prediction.** The NLB smoothing example submits no forward rates. Here
both baselines predict them the same simple way, documented so it can be judged:
for each neuron a one-input Poisson GLM maps the log of the neuron's own
predicted rate at the *last* bin of the trial window (smoothed held-in spikes or
the held-out GLM output; the FA readout) to its mean count per forward bin, and
that per-trial level is multiplied by the neuron's mean temporal profile over
the forward bins on the training trials (smoothed over bins with the kernel width) (``rate[n, k, j] = level[n, j] *
profile[k, j]``). One input per neuron keeps this from over-fitting the few
hundred training trials.

Only numpy, scipy and scikit-learn are used; the GLM fit loop mirrors the NLB
example (``max_iter=500``, refit with 5x the iterations while it has not
converged, up to 10000), with scikit-learn's Newton-Cholesky solver (same
objective as the example's lbfgs, far fewer iterations) and BLAS held to one
thread while the many small GLMs are fitted.

Example
-------
>>> from nlbtut.baselines import smoothing_baseline                          # doctest: +SKIP
>>> sub = smoothing_baseline(train_input, eval_input, "mc_maze_small")      # doctest: +SKIP
>>> evaluate(targets, sub)                                                  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from nlbtut.datasets import get_dataset_info
from nlbtut.errors import DataError
from nlbtut.submission import make_submission

__all__ = ["smooth_spikes", "smoothing_baseline", "factor_analysis_baseline"]

LOG_OFFSET = 1e-4
# Newton-Cholesky minimises the same objective as the example's lbfgs, in a few iterations
SOLVER = "newton-cholesky"
# factor analysis is fitted on at most this many (evenly spaced) time bins
FA_MAX_SAMPLES = 20_000


def smooth_spikes(spikes: np.ndarray, kern_sd: float, bin_width: int = 5) -> np.ndarray:
    """Gaussian-smooth binned spikes along time, as the NLB examples do.

    The kernel is ``scipy.signal.windows.gaussian(6*sd, sd)`` normalised to sum
    1, with ``sd = round(kern_sd / bin_width)`` bins (at least 1), applied with
    zero padding ('same' convolution). NaN bins count as 0.

    Parameters
    ----------
    spikes : ndarray
        trials x time x neurons, spikes/bin.
    kern_sd : float
        Kernel standard deviation in ms.
    bin_width : int
        Bin width in ms.

    Returns
    -------
    ndarray
        float64, same shape, spikes/bin, >= 0.

    Example
    -------
    >>> import numpy as np
    >>> float(smooth_spikes(np.ones((1, 200, 2)), 50, 5)[0, 100, 0].round(6))  # constant stays
    1.0
    """
    from scipy import signal

    if kern_sd <= 0:
        raise DataError(f"kern_sd must be > 0 ms, got {kern_sd!r}")
    sd = max(1, int(round(kern_sd / bin_width)))
    window = signal.windows.gaussian(6 * sd, sd, sym=True)
    window /= window.sum()
    x = np.nan_to_num(np.asarray(spikes, dtype=np.float64))
    out = signal.convolve(x, window[None, :, None], mode="same")
    return np.clip(out, 0.0, None)  # FFT round-off can give -1e-17


def _fit_poisson(
    train_x: np.ndarray,
    train_y: np.ndarray,
    eval_xs: list[np.ndarray],
    alpha: float,
    *,
    desc: str = "GLMs",
    progress: bool = True,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One ``PoissonRegressor`` per column of ``train_y``; predictions on train and each eval x."""
    from threadpoolctl import threadpool_limits

    train_pred = np.empty((train_x.shape[0], train_y.shape[1]))
    eval_preds = [np.empty((x.shape[0], train_y.shape[1])) for x in eval_xs]
    with threadpool_limits(limits=1):  # many small solves: BLAS threads only oversubscribe
        _fit_columns(train_x, train_y, eval_xs, alpha, train_pred, eval_preds, desc, progress)
    return train_pred, eval_preds


def _fit_columns(train_x, train_y, eval_xs, alpha, train_pred, eval_preds, desc, progress):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import PoissonRegressor
    from tqdm.auto import tqdm

    for j in tqdm(range(train_y.shape[1]), desc=desc, disable=not progress, leave=False):
        y = train_y[:, j]
        if not np.any(y > 0):  # a silent neuron: half a spike over the training samples
            train_pred[:, j] = 0.5 / len(y)
            for p in eval_preds:
                p[:, j] = 0.5 / len(y)
            continue
        max_iter = 500
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                glm = PoissonRegressor(alpha=alpha, max_iter=max_iter, solver=SOLVER)
                glm.fit(train_x, y)
            if glm.n_iter_ < max_iter or max_iter >= 10000:
                break
            max_iter *= 5
        train_pred[:, j] = glm.predict(train_x)
        for p, x in zip(eval_preds, eval_xs):
            p[:, j] = glm.predict(x)


def _forward(
    train_last: np.ndarray,
    eval_last: np.ndarray,
    train_fwd: np.ndarray,
    alpha: float,
    progress: bool,
    profile_sd: float,
) -> np.ndarray:
    """Forward rates (n_eval, n_fp, C) from each neuron's own predicted rate at the window end.

    ``train_last`` / ``eval_last`` (n, C) are the model's rates at the last window
    bin. Per neuron, a one-input Poisson GLM maps ``log(rate + 1e-4)`` to the mean
    count per forward bin (a per-trial level); the level is multiplied by the
    neuron's mean forward profile on the training trials.
    """
    from scipy.ndimage import gaussian_filter1d
    from tqdm.auto import tqdm

    level_target = train_fwd.mean(axis=1)  # (n_train, C) mean count per forward bin
    x_tr, x_ev = np.log(train_last + LOG_OFFSET), np.log(eval_last + LOG_OFFSET)
    level = np.empty((eval_last.shape[0], train_fwd.shape[2]))
    for j in tqdm(range(train_fwd.shape[2]), desc="forward GLMs", disable=not progress,
                  leave=False):  # fmt: skip
        _, (pred,) = _fit_poisson(
            x_tr[:, j : j + 1], level_target[:, j : j + 1], [x_ev[:, j : j + 1]], alpha,
            progress=False,
        )  # fmt: skip
        level[:, j] = pred[:, 0]
    # mean forward profile, smoothed over bins (few trials leave many empty bins)
    mean_k = gaussian_filter1d(train_fwd.mean(axis=0), profile_sd, axis=0, mode="nearest")
    overall = mean_k.mean(axis=0, keepdims=True)
    profile = np.divide(mean_k, overall, out=np.ones_like(mean_k), where=overall > 0)
    return level[:, None, :] * profile[None, :, :]


def _get(d: Mapping[str, Any], key: str, what: str) -> np.ndarray:
    if not isinstance(d, Mapping) or key not in d:
        have = sorted(d) if isinstance(d, Mapping) else type(d).__name__
        raise DataError(f"{what} needs {key!r} (got {have})")
    arr = np.asarray(d[key], dtype=np.float64)
    if arr.ndim != 3:
        raise DataError(f"{what}: {key} must be trials x time x neurons, got shape {arr.shape}")
    return arr


def _inputs(train_input: Mapping[str, Any], eval_input: Mapping[str, Any]) -> dict[str, Any]:
    d = {
        "train_in": _get(train_input, "train_spikes_heldin", "train_input"),
        "train_out": _get(train_input, "train_spikes_heldout", "train_input"),
        "eval_in": _get(eval_input, "eval_spikes_heldin", "eval_input"),
    }
    has_fwd = "train_spikes_heldin_forward" in train_input
    if has_fwd:
        d["train_fwd"] = np.concatenate(
            [
                _get(train_input, "train_spikes_heldin_forward", "train_input"),
                _get(train_input, "train_spikes_heldout_forward", "train_input"),
            ],
            axis=-1,
        )
    (n, t, c_in), c_out = d["train_in"].shape, d["train_out"].shape[2]
    if d["train_out"].shape[:2] != (n, t):
        raise DataError(
            f"train_spikes_heldout has shape {d['train_out'].shape}, expected ({n}, {t}, n_heldout)"
        )
    if d["eval_in"].shape[1:] != (t, c_in):
        raise DataError(
            f"eval_spikes_heldin has shape {d['eval_in'].shape}, expected (n_eval, {t}, {c_in})"
        )
    if has_fwd and d["train_fwd"].shape[::2] != (n, c_in + c_out):
        raise DataError(
            f"forward training spikes have shape {d['train_fwd'].shape}, "
            f"expected ({n}, n_fp, {c_in + c_out})"
        )
    d["train_out"] = np.nan_to_num(d["train_out"])
    return d


def _smoothed_inputs(
    train_input: Mapping[str, Any],
    eval_input: Mapping[str, Any],
    dataset: str,
    kern_sd: float | None,
    alpha: float | None,
    bin_width: int,
) -> tuple[Any, float, float, dict[str, Any], np.ndarray, np.ndarray]:
    """What both baselines start from: the dataset's defaults, the checked inputs, smoothed spikes.

    Returns ``(info, kern_sd, alpha, inputs, train_smoothed, eval_smoothed)``, the
    smoothed held-in spikes trials x time x neurons in spikes/bin.
    """
    info = get_dataset_info(dataset)
    kern_sd = info.smoothing_kern_sd if kern_sd is None else kern_sd
    alpha = info.smoothing_alpha if alpha is None else alpha
    d = _inputs(train_input, eval_input)
    train_sm = smooth_spikes(d["train_in"], kern_sd, bin_width)
    eval_sm = smooth_spikes(d["eval_in"], kern_sd, bin_width)
    return info, kern_sd, alpha, d, train_sm, eval_sm


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1])


def smoothing_baseline(
    train_input: Mapping[str, Any],
    eval_input: Mapping[str, Any],
    dataset: str,
    *,
    bin_width: int = 5,
    kern_sd: float | None = None,
    alpha: float | None = None,
    progress: bool = True,
) -> dict[str, dict[str, np.ndarray]]:
    """The NLB spike-smoothing baseline: smoothed held-in spikes + Poisson GLM to held-out.

    Parameters
    ----------
    train_input : dict
        ``make_train_input_tensors(..., include_forward_pred=True)`` output:
        ``train_spikes_heldin`` (n_train x T x n_heldin), ``train_spikes_heldout``
        and, for forward rates, ``train_spikes_heldin_forward`` /
        ``train_spikes_heldout_forward`` (n_train x T_fp x n), spikes/bin.
    eval_input : dict
        ``make_eval_input_tensors`` output: ``eval_spikes_heldin`` (n_eval x T x n_heldin).
    dataset : str
        NLB dataset name (sets the group name and the default parameters).
    bin_width : int
        5 or 20 ms.
    kern_sd : float, optional
        Gaussian kernel sd in ms; default the dataset's ``smoothing_kern_sd``.
    alpha : float, optional
        GLM L2 penalty; default the dataset's ``smoothing_alpha``.
    progress : bool
        Show tqdm progress bars over the GLM fits.

    Returns
    -------
    dict
        A submission ``{group: {...}}`` in spikes/bin (forward rates included
        when the forward training spikes are given).

    Example
    -------
    >>> sub = smoothing_baseline(train_input, eval_input, "mc_maze_small")  # doctest: +SKIP
    """
    _, kern_sd, alpha, d, train_sm, eval_sm = _smoothed_inputs(
        train_input, eval_input, dataset, kern_sd, alpha, bin_width
    )
    n_out = d["train_out"].shape[2]
    train_log, eval_log = np.log(train_sm + LOG_OFFSET), np.log(eval_sm + LOG_OFFSET)
    train_ho, (eval_ho,) = _fit_poisson(
        _flat(train_log), _flat(d["train_out"]), [_flat(eval_log)], alpha,
        desc="held-out GLMs", progress=progress,
    )  # fmt: skip
    n_train, t = train_sm.shape[:2]
    fwd_in = fwd_out = None
    if "train_fwd" in d:
        n_in = train_sm.shape[2]
        last_tr = np.concatenate([train_sm[:, -1], train_ho.reshape(n_train, t, n_out)[:, -1]], -1)
        last_ev = np.concatenate([eval_sm[:, -1], eval_ho.reshape(-1, t, n_out)[:, -1]], -1)
        fwd = _forward(last_tr, last_ev, d["train_fwd"], alpha, progress, kern_sd / bin_width)
        fwd_in, fwd_out = fwd[..., :n_in], fwd[..., n_in:]
    return make_submission(
        dataset,
        train_sm,
        train_ho.reshape(n_train, t, n_out),
        eval_sm,
        eval_ho.reshape(eval_sm.shape[0], t, n_out),
        fwd_in,
        fwd_out,
        bin_width=bin_width,
    )


def factor_analysis_baseline(
    train_input: Mapping[str, Any],
    eval_input: Mapping[str, Any],
    dataset: str,
    *,
    bin_width: int = 5,
    kern_sd: float | None = None,
    alpha: float | None = None,
    n_factors: int | None = None,
    progress: bool = True,
) -> dict[str, dict[str, np.ndarray]]:
    """A latent-factor baseline: factor analysis of smoothed held-in spikes + Poisson GLM readout.

    Parameters are those of :func:`smoothing_baseline`, plus

    n_factors : int, optional
        Number of factors; default the dataset's ``gpfa_latent_dim`` (the GPFA
        latent dimension the NLB team used), capped at the number of held-in neurons.

    Returns
    -------
    dict
        A submission ``{group: {...}}`` in spikes/bin; held-in and held-out rates
        are both GLM readouts of the factors.

    Example
    -------
    >>> sub = factor_analysis_baseline(train_input, eval_input, "mc_maze_small")  # doctest: +SKIP
    """
    from sklearn.decomposition import FactorAnalysis

    if n_factors is not None and int(n_factors) < 1:
        raise DataError(f"n_factors must be >= 1, got {n_factors}")
    info, kern_sd, alpha, d, train_sm, eval_sm = _smoothed_inputs(
        train_input, eval_input, dataset, kern_sd, alpha, bin_width
    )
    (n_train, t, n_in), n_out = d["train_in"].shape, d["train_out"].shape[2]
    n_factors = min(info.gpfa_latent_dim if n_factors is None else int(n_factors), n_in)
    from threadpoolctl import threadpool_limits

    # smoothed bins are strongly autocorrelated: fit on at most FA_MAX_SAMPLES evenly spaced bins
    flat = _flat(train_sm)
    step = -(-flat.shape[0] // FA_MAX_SAMPLES)
    fa = FactorAnalysis(n_components=n_factors, svd_method="lapack", random_state=0)
    with threadpool_limits(limits=1):  # small SVDs per iteration: threads only oversubscribe
        fa.fit(flat[::step])
    train_f = fa.transform(_flat(train_sm))
    eval_f = fa.transform(_flat(eval_sm))
    targets = np.concatenate([np.nan_to_num(d["train_in"]), d["train_out"]], axis=-1)
    train_r, (eval_r,) = _fit_poisson(
        train_f, _flat(targets), [eval_f], alpha, desc="readout GLMs", progress=progress
    )
    train_r = train_r.reshape(n_train, t, n_in + n_out)
    eval_r = eval_r.reshape(eval_sm.shape[0], t, n_in + n_out)
    fwd_in = fwd_out = None
    if "train_fwd" in d:
        fwd = _forward(
            train_r[:, -1], eval_r[:, -1], d["train_fwd"], alpha, progress, kern_sd / bin_width
        )
        fwd_in, fwd_out = fwd[..., :n_in], fwd[..., n_in:]
    return make_submission(
        dataset,
        train_r[..., :n_in],
        train_r[..., n_in:],
        eval_r[..., :n_in],
        eval_r[..., n_in:],
        fwd_in,
        fwd_out,
        bin_width=bin_width,
    )
