"""The official NLB'21 metrics: co-bps, vel R2, psth R2, fp-bps and tp corr.

:func:`evaluate` gives the numbers and the output structure of
``nlb_tools.evaluation.evaluate`` (checked to 1e-9 against the official package
in ``tests/test_parity_evaluation.py``). The metric functions keep their
official names and meanings. Differences, all on purpose:

* the submission is validated first (:func:`nlbtut.submission.validate_submission`),
  so a malformed file gives one readable error listing every problem instead of
  an ``AssertionError`` / ``KeyError`` deep inside a metric;
* ``str``, :class:`pathlib.Path`, open ``h5py.File`` objects and dicts are all
  accepted (the official function breaks on a ``Path``);
* the caller's arrays are never modified (the official ``neg_log_likelihood``
  writes 1e-9 over zero rates in place);
* every value is a plain ``float`` (the official returns ``np.float64`` for
  ``vel R2`` and ``tp corr``; the values are the same);
* the velocity decoder's grid search is computed in closed form. The official
  runs ``GridSearchCV(Ridge(), {"alpha": logspace(-4, 0, 9)})`` (5-fold
  ``KFold`` without shuffling, R² scoring, refit on all samples), i.e. 46 ridge
  fits, each forming ``XᵀX`` again. Here the Gram matrix of each fold is formed
  once and the nine ridge systems are solved from it, which gives the same
  alpha choice and the same R² (to ~1e-12) several times faster. scikit-learn
  has no such multi-fold shortcut (``RidgeCV`` does leave-one-out, not 5-fold),
  hence the hand-written :func:`_ridge_grid_search`.

Example
-------
>>> from nlbtut.evaluation import evaluate, results_table        # doctest: +SKIP
>>> results = evaluate("eval_data_test.h5", "submission.h5")     # doctest: +SKIP
>>> print(results_table(results))                                # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import gammaln
from threadpoolctl import threadpool_limits

from nlbtut.datasets import SCALING_DATASETS
from nlbtut.errors import DataError, DataFileNotFoundError, SubmissionError

__all__ = [
    "evaluate",
    "neg_log_likelihood",
    "bits_per_spike",
    "fit_and_eval_decoder",
    "velocity_decoding",
    "eval_psth",
    "speed_tp_correlation",
    "results_table",
    "EVAL_DATASETS",
    "METRICS",
]

logger = logging.getLogger(__name__)

# the official evaluation order
EVAL_DATASETS: tuple[str, ...] = (
    "mc_maze",
    "mc_rtt",
    "area2_bump",
    "dmfc_rsg",
    "mc_maze_large",
    "mc_maze_medium",
    "mc_maze_small",
)
METRICS: tuple[str, ...] = ("co-bps", "vel R2", "psth R2", "fp-bps", "tp corr")
RIDGE_ALPHAS = np.logspace(-4, 0, 9)
N_FOLDS = 5


# --------------------------------------------------------------------------- metrics


def neg_log_likelihood(rates: np.ndarray, spikes: np.ndarray, zero_warning: bool = True) -> float:
    """Poisson negative log-likelihood ``Σ r − n·ln r + ln n!``.

    Parameters
    ----------
    rates : ndarray
        Predicted rates, any shape (usually trials x time x neurons), spikes/bin.
    spikes : ndarray
        Spike counts of the same shape; NaN entries (and the rates there) are ignored.
    zero_warning : bool
        Log a warning when zero rates are replaced by 1e-9.

    Returns
    -------
    float
        The summed NLL in nats.

    Raises
    ------
    SubmissionError
        On a shape mismatch, NaN rates where spikes are observed, or negative rates.

    Example
    -------
    >>> import numpy as np
    >>> round(neg_log_likelihood(np.array([1.0]), np.array([1.0])), 6)
    1.0
    """
    rates = np.asarray(rates)
    spikes = np.asarray(spikes)
    if spikes.shape != rates.shape:
        raise SubmissionError(
            "neg_log_likelihood: rates and spikes should be of the same shape. "
            f"spikes: {spikes.shape}, rates: {rates.shape}"
        )
    if np.any(np.isnan(spikes)):
        keep = ~np.isnan(spikes)
        rates = rates[keep]
        spikes = spikes[keep]
    if np.any(np.isnan(rates)):
        raise SubmissionError("neg_log_likelihood: NaN rate predictions found")
    if not np.all(rates >= 0):
        raise SubmissionError("neg_log_likelihood: negative rate predictions found")
    zeros = rates == 0
    if np.any(zeros):
        if zero_warning:
            logger.warning(
                "neg_log_likelihood: Zero rate predictions found. Replacing zeros with 1e-9"
            )
        rates = np.where(zeros, 1e-9, rates)  # a copy: the caller's array is untouched
    result = rates - spikes * np.log(rates) + gammaln(spikes + 1.0)
    return float(np.sum(result))


def bits_per_spike(rates: np.ndarray, spikes: np.ndarray) -> float:
    """Bits per spike of rate predictions against a per-neuron mean-rate model.

    ``(NLL(λ0) − NLL(rates)) / Σ spikes / ln 2``, where ``λ0`` is each neuron's
    mean count over all trials and bins of ``spikes`` (NaN ignored).

    Parameters
    ----------
    rates, spikes : ndarray
        trials x time x neurons, spikes/bin; NaN spikes are ignored.

    Returns
    -------
    float
        co-bps when given the held-out neurons, fp-bps for the forward bins.

    Example
    -------
    >>> import numpy as np
    >>> s = np.array([[[0.0], [2.0]]])
    >>> bits_per_spike(s + 1e-12, s) > 0
    True
    """
    rates = np.asarray(rates, dtype=np.float64)
    spikes = np.asarray(spikes, dtype=np.float64)
    nll_model = neg_log_likelihood(rates, spikes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neuron: null rate NaN
        null_rates = np.tile(
            np.nanmean(spikes, axis=tuple(range(spikes.ndim - 1)), keepdims=True),
            spikes.shape[:-1] + (1,),
        )
    nll_null = neg_log_likelihood(null_rates, spikes, zero_warning=False)
    return float((nll_null - nll_model) / np.nansum(spikes) / np.log(2))


def _kfold_bounds(n: int, n_splits: int = N_FOLDS) -> list[tuple[int, int]]:
    """Test-fold [start, stop) of ``sklearn.model_selection.KFold(n_splits)`` (no shuffle)."""
    sizes = np.full(n_splits, n // n_splits, dtype=int)
    sizes[: n % n_splits] += 1
    stops = np.cumsum(sizes)
    return [(int(b - s), int(b)) for s, b in zip(sizes, stops)]


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """``sklearn.metrics.r2_score(y, pred)`` with ``multioutput='uniform_average'``."""
    num = ((y - pred) ** 2).sum(axis=0, dtype=np.float64)
    den = ((y - np.average(y, axis=0)) ** 2).sum(axis=0, dtype=np.float64)
    scores = np.ones(y.shape[1])
    ok = den != 0
    scores[ok] = 1 - num[ok] / den[ok]
    scores[(num != 0) & ~ok] = 0.0
    return float(np.average(scores))


def _ridge_solve(gram: np.ndarray, xty: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge coefficients from the centred Gram matrix, like sklearn's cholesky solver."""
    from scipy import linalg

    a = gram.copy()
    a.flat[:: a.shape[0] + 1] += alpha
    try:
        return linalg.solve(a, xty, assume_a="pos", overwrite_a=True)
    except linalg.LinAlgError:  # singular: sklearn falls back to least squares
        return linalg.lstsq(gram + alpha * np.eye(gram.shape[0]), xty)[0]


def _fold_scores(
    xc: np.ndarray,
    yc: np.ndarray,
    bounds: list[tuple[int, int]],
    fold_gram: list[np.ndarray],
    fold_xty: list[np.ndarray],
    fold_sx: list[np.ndarray],
    fold_sy: list[np.ndarray],
    alphas: np.ndarray,
    scores: np.ndarray,
) -> None:
    """R² of every alpha on every test fold, from the per-fold Gram blocks (fills ``scores``)."""
    n, n_out = xc.shape[0], yc.shape[1]
    gram_all, xty_all = sum(fold_gram), sum(fold_xty)
    sx_all, sy_all = sum(fold_sx), sum(fold_sy)
    for f, (a, b) in enumerate(bounds):
        # the training part of fold f: all blocks minus block f, centred on its own mean
        n_tr = n - (b - a)
        mx = (sx_all - fold_sx[f]) / n_tr
        my = (sy_all - fold_sy[f]) / n_tr
        gram = gram_all - fold_gram[f] - n_tr * np.outer(mx, mx)
        xty = xty_all - fold_xty[f] - n_tr * np.outer(mx, my)
        coefs = np.hstack([_ridge_solve(gram, xty, alpha) for alpha in alphas])
        preds = (xc[a:b] - mx) @ coefs  # all alphas at once: (n_test, n_alphas * n_outputs)
        for k in range(len(alphas)):
            scores[f, k] = _r2(yc[a:b], preds[:, k * n_out : (k + 1) * n_out] + my)


def _ridge_grid_search(
    x: np.ndarray,
    y: np.ndarray,
    alphas: np.ndarray = RIDGE_ALPHAS,
    n_splits: int = N_FOLDS,
    *,
    overwrite_x: bool = False,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """5-fold CV over ``alphas`` as ``GridSearchCV(Ridge(), {"alpha": alphas})`` does.

    Returns ``(best_alpha, coef, x_mean, y_mean)`` of the ridge refit on all samples
    (``pred = (X − x_mean) @ coef + y_mean``). ``overwrite_x`` centres ``x`` in place
    (saves a copy of the samples x neurons matrix).
    """
    n = x.shape[0]
    if n < n_splits:
        raise DataError(
            f"velocity decoding needs at least {n_splits} training samples with behaviour "
            f"for the {n_splits}-fold grid search, got {n}"
        )
    # shift by the global mean first (ridge with an intercept is shift invariant);
    # fold means are then small and the Gram updates below lose no precision
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    if overwrite_x:
        x -= x_mean
        xc = x
    else:
        xc = x - x_mean
    yc = y - y_mean
    bounds = _kfold_bounds(n, n_splits)
    fold_gram = [xc[a:b].T @ xc[a:b] for a, b in bounds]
    fold_xty = [xc[a:b].T @ yc[a:b] for a, b in bounds]
    fold_sx = [xc[a:b].sum(axis=0) for a, b in bounds]
    fold_sy = [yc[a:b].sum(axis=0) for a, b in bounds]
    gram_all, xty_all = sum(fold_gram), sum(fold_xty)
    sx_all, sy_all = sum(fold_sx), sum(fold_sy)
    scores = np.empty((len(bounds), len(alphas)))
    _fold_scores(xc, yc, bounds, fold_gram, fold_xty, fold_sx, fold_sy, alphas, scores)
    mean_scores = scores.mean(axis=0)
    # GridSearchCV ranks with rankdata(-mean, "min") and takes the first best; NaN ranks last
    masked = np.where(np.isnan(mean_scores), -np.inf, mean_scores)
    best = int(np.argmax(masked))
    gram = gram_all - n * np.outer(sx_all / n, sx_all / n)
    xty = xty_all - n * np.outer(sx_all / n, sy_all / n)
    coef = _ridge_solve(gram, xty, alphas[best])
    return float(alphas[best]), coef, x_mean + sx_all / n, y_mean + sy_all / n


def fit_and_eval_decoder(
    train_rates: np.ndarray,
    train_behavior: np.ndarray,
    eval_rates: np.ndarray,
    eval_behavior: np.ndarray,
    grid_search: bool = True,
) -> float:
    """Fit a ridge decoder on train samples and return its R² on eval samples.

    Parameters
    ----------
    train_rates, eval_rates : ndarray
        samples x neurons (flattened trials x time), spikes/bin.
    train_behavior, eval_behavior : ndarray
        samples x channels (e.g. x/y velocity); samples whose channel 0 is NaN are dropped.
    grid_search : bool
        Choose alpha from ``logspace(-4, 0, 9)`` by 5-fold CV (official default);
        otherwise ``alpha = 1e-2``.

    Returns
    -------
    float
        ``r2_score`` averaged uniformly over the behaviour channels.
    """
    train_rates, eval_rates = (np.asarray(a, dtype=np.float64) for a in (train_rates, eval_rates))
    train_behavior, eval_behavior = (
        np.asarray(a, dtype=np.float64) for a in (train_behavior, eval_behavior)
    )
    tr_keep = ~np.isnan(train_behavior[:, 0])
    ev_keep = ~np.isnan(eval_behavior[:, 0])
    # boolean indexing copies: the decoder may then work in place on train_rates
    train_rates, train_behavior = train_rates[tr_keep], train_behavior[tr_keep]
    eval_rates, eval_behavior = eval_rates[ev_keep], eval_behavior[ev_keep]
    if np.any(np.isnan(train_rates)) or np.any(np.isnan(eval_rates)):
        raise SubmissionError(
            "fit_and_eval_decoder: NaNs found in rate predictions within required trial times"
        )
    if len(eval_behavior) == 0:
        raise DataError("fit_and_eval_decoder: no eval sample has behaviour (all NaN)")
    if grid_search:
        # one BLAS thread: on a busy machine threaded Gram products were ~5x slower
        with threadpool_limits(limits=1):
            _, coef, x_mean, y_mean = _ridge_grid_search(
                train_rates, train_behavior, overwrite_x=True
            )
            pred = (eval_rates - x_mean) @ coef + y_mean
    else:
        from sklearn.linear_model import Ridge

        pred = Ridge(alpha=1e-2).fit(train_rates, train_behavior).predict(eval_rates)
    from sklearn.metrics import r2_score

    return float(r2_score(eval_behavior, pred))


def velocity_decoding(
    train_rates: np.ndarray,
    train_behavior: np.ndarray,
    train_decode_mask: np.ndarray,
    eval_rates: np.ndarray,
    eval_behavior: np.ndarray,
    eval_decode_mask: np.ndarray,
    grid_search: bool = True,
) -> float:
    """Velocity R²: one ridge decoder per mask column, averaged over columns.

    Parameters
    ----------
    train_rates, eval_rates : ndarray
        trials x time x neurons (held-in and held-out together), spikes/bin.
    train_behavior, eval_behavior : ndarray
        trials x time x 2 velocity, already lagged (NaN where unavailable).
    train_decode_mask, eval_decode_mask : ndarray
        trials x n_masks bool; area2_bump uses two (no bump / bump), others one all-True.
    grid_search : bool
        See :func:`fit_and_eval_decoder`.

    Returns
    -------
    float
        Mean R² over the mask columns.
    """

    def flat(x: np.ndarray) -> np.ndarray:
        return x.reshape(-1, x.shape[2]) if x.ndim > 2 else x

    train_decode_mask = np.asarray(train_decode_mask, dtype=bool)
    eval_decode_mask = np.asarray(eval_decode_mask, dtype=bool)
    r2s = []
    for i in range(train_decode_mask.shape[1]):
        tm, em = train_decode_mask[:, i], eval_decode_mask[:, i]
        if not tm.any() or not em.any():
            raise DataError(
                f"velocity_decoding: decode mask column {i} selects {int(tm.sum())} train and "
                f"{int(em.sum())} eval trials; both must be non-empty"
            )
        r2s.append(
            fit_and_eval_decoder(
                flat(train_rates[tm]),
                flat(train_behavior[tm]),
                flat(eval_rates[em]),
                flat(eval_behavior[em]),
                grid_search=grid_search,
            )
        )
    return float(np.mean(r2s))


def _jitter_shift(rates: np.ndarray, jitter: np.ndarray) -> np.ndarray:
    """Shift each trial by its jitter (bins) as the official ``jitter_trial``: NaN-filled."""
    out = np.array(rates, dtype=np.float64, copy=True)
    t = rates.shape[1]
    for i in np.flatnonzero(jitter):
        j = int(jitter[i])
        out[i] = np.nan
        if 0 < j < t:
            out[i, j:] = rates[i, : t - j]
        elif -t < j < 0:
            out[i, : t + j] = rates[i, -j:]
    return out


def eval_psth(
    psth: np.ndarray,
    eval_rates: np.ndarray,
    eval_cond_idx: Sequence[np.ndarray],
    jitter: np.ndarray | None = None,
) -> float:
    """PSTH R²: condition-averaged predicted rates against the true PSTHs.

    Parameters
    ----------
    psth : ndarray
        conditions x time x neurons (held-in then held-out), spikes/bin; NaN rows are ignored.
    eval_rates : ndarray
        eval trials x time x neurons, spikes/bin.
    eval_cond_idx : sequence of int arrays
        Eval-trial indices of each condition (empty conditions are skipped).
    jitter : ndarray, optional
        Per-trial shift in bins (DMFC); predictions are un-jittered before averaging.

    Returns
    -------
    float
        ``r2_score`` over all (condition, time) points, averaged over neurons.
    """
    from sklearn.metrics import r2_score

    eval_rates = np.asarray(eval_rates, dtype=np.float64)
    if jitter is None:
        jitter = np.zeros(eval_rates.shape[0], dtype=int)
    shifted = _jitter_shift(eval_rates, np.asarray(jitter).astype(int))
    true_list, pred_list = [], []
    for i in range(len(eval_cond_idx)):
        idx = np.asarray(eval_cond_idx[i]).astype(int)
        if idx.size == 0:
            continue
        pred = np.mean(shifted[idx], axis=0)
        keep = ~np.isnan(psth[i, :, 0])
        true_c, pred_c = psth[i][keep], pred[keep]
        if np.any(np.isnan(pred_c)):
            raise SubmissionError(
                "eval_psth: NaNs found in rate predictions within required trial times"
            )
        true_list.append(true_c)
        pred_list.append(pred_c)
    if not true_list:
        raise DataError("eval_psth: no condition has eval trials")
    return float(r2_score(np.vstack(true_list), np.vstack(pred_list)))


def speed_tp_correlation(
    eval_spikes_heldout: np.ndarray, eval_rates: np.ndarray, eval_behavior: np.ndarray
) -> float:
    """DMFC: Pearson r between neural speed and produced interval tp, mean over conditions.

    Parameters
    ----------
    eval_spikes_heldout : ndarray
        eval trials x time x held-out neurons, NaN outside the set→go period.
    eval_rates : ndarray
        eval trials x time x neurons (held-in and held-out), spikes/bin.
    eval_behavior : ndarray
        eval trials x 5: ``[is_eye, theta, is_short, ts, tp]`` (NaN rows = outliers).

    Returns
    -------
    float
        Mean over (is_eye, theta, is_short) conditions of r(speed, tp); expected negative.
    """
    from scipy.stats import pearsonr

    masks = ~np.isnan(eval_spikes_heldout[..., 0])
    speeds = np.array(
        [
            np.mean(np.linalg.norm(np.diff(trial[mask], axis=0), axis=1))
            for trial, mask in zip(eval_rates, masks)
        ]
    )
    cond_cols = [0, 1, 2]
    conds = np.unique(eval_behavior[:, cond_cols], axis=0)
    conds = conds[~np.all(np.isnan(conds), axis=1)]
    rs = []
    for cond in conds:
        cmask = np.all(eval_behavior[:, cond_cols] == cond, axis=1)
        if cmask.sum() < 2:
            raise DataError(
                f"speed_tp_correlation: condition (is_eye, theta, is_short) = {tuple(map(float, cond))} has "
                f"{int(cmask.sum())} eval trial(s); Pearson r needs at least 2"
            )
        r, _ = pearsonr(speeds[cmask], eval_behavior[cmask][:, -1])
        rs.append(r)
    return float(np.mean(rs))


# --------------------------------------------------------------------------- evaluate


@contextlib.contextmanager
def _opened(source: Any, what: str) -> Iterator[Any]:
    """A mapping view of a dict, an open h5py File/Group, or an HDF5 path (closed after)."""
    if isinstance(source, (str, os.PathLike)):
        import h5py

        path = Path(source)
        if not path.is_file():
            raise DataFileNotFoundError(f"{what} file not found: {path}")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise DataError(f"{what} file {path} is not a readable HDF5 file: {exc}") from exc
        try:
            yield f
        finally:
            f.close()
    elif isinstance(source, Mapping) or hasattr(source, "keys"):
        yield source
    else:
        raise DataError(
            f"{what}: expected a dict, an h5py File or an HDF5 path, got {type(source).__name__}"
        )


def _read(group: Any) -> dict[str, Any]:
    """Arrays of one group (h5py datasets read with ``[()]``)."""
    return {
        k: (v[()] if hasattr(v, "dtype") and not isinstance(v, np.ndarray) else v)
        for k, v in group.items()
    }


def _evaluate_group(dataset: str, tgt: Mapping[str, Any], sub: Mapping[str, Any]) -> dict:
    def f(x: Any) -> np.ndarray:
        return np.array(x, dtype=np.float64)  # always a copy

    eval_spikes_heldout = f(tgt["eval_spikes_heldout"])
    train_behavior = f(tgt["train_behavior"])
    eval_behavior = f(tgt["eval_behavior"])
    eval_rates_heldin = f(sub["eval_rates_heldin"])
    eval_rates_heldout = f(sub["eval_rates_heldout"])
    eval_rates = np.concatenate([eval_rates_heldin, eval_rates_heldout], axis=-1)
    result: dict[str, float] = {}
    result["co-bps"] = bits_per_spike(eval_rates_heldout, eval_spikes_heldout)
    if dataset == "dmfc_rsg":
        result["tp corr"] = speed_tp_correlation(eval_spikes_heldout, eval_rates, eval_behavior)
    else:
        train_rates = np.concatenate(
            [f(sub["train_rates_heldin"]), f(sub["train_rates_heldout"])], axis=-1
        )
        if "train_decode_mask" in tgt:
            train_mask = np.asarray(tgt["train_decode_mask"])
            eval_mask = np.asarray(tgt["eval_decode_mask"])
        else:
            train_mask = np.full(train_rates.shape[0], True)[:, None]
            eval_mask = np.full(eval_rates.shape[0], True)[:, None]
        result["vel R2"] = velocity_decoding(
            train_rates, train_behavior, train_mask, eval_rates, eval_behavior, eval_mask
        )
    if "psth" in tgt:
        psth = f(tgt["psth"])
        cond_idx = tgt["eval_cond_idx"]
        if "eval_jitter" in tgt:
            jitter = np.asarray(tgt["eval_jitter"])
        else:
            jitter = np.zeros(eval_rates.shape[0]).astype(int)
        result["psth R2"] = eval_psth(psth, eval_rates, cond_idx, jitter=jitter)
    if "eval_rates_heldin_forward" in sub and "eval_spikes_heldin_forward" in tgt:
        spikes_fwd = np.dstack(
            [f(tgt["eval_spikes_heldin_forward"]), f(tgt["eval_spikes_heldout_forward"])]
        )
        rates_fwd = np.dstack(
            [f(sub["eval_rates_heldin_forward"]), f(sub["eval_rates_heldout_forward"])]
        )
        result["fp-bps"] = bits_per_spike(rates_fwd, spikes_fwd)
    return result


def evaluate(
    targets: Any,
    submission: Any,
    *,
    validate: bool = True,
) -> list[dict[str, dict[str, float]]]:
    """Score a submission exactly like ``nlb_tools.evaluation.evaluate`` (and EvalAI did).

    Parameters
    ----------
    targets : dict or str or Path or h5py.File
        Eval targets in the official layout ``{group: {"eval_spikes_heldout",
        "train_behavior", "eval_behavior", "eval_spikes_heldin_forward",
        "eval_spikes_heldout_forward", ["train_decode_mask", "eval_decode_mask"],
        ["psth", "eval_cond_idx", ["eval_jitter"]]}}`` - the output of
        ``make_eval_target_tensors`` or its ``save_to_h5`` file.
    submission : dict or str or Path or h5py.File
        ``{group: {"train_rates_heldin", "train_rates_heldout", "eval_rates_heldin",
        "eval_rates_heldout", ["eval_rates_heldin_forward", "eval_rates_heldout_forward"]}}``,
        trials x time x neurons in spikes/bin (see :mod:`nlbtut.submission`).
    validate : bool
        Check the submission first with
        ``validate_submission(submission, targets, strict=False)``.

    Returns
    -------
    list of dict
        One ``{"<group>_split": {metric: value}}`` per dataset group, in the
        official order (mc_maze, mc_rtt, area2_bump, dmfc_rsg; 5 ms then 20 ms),
        followed by ``"mc_maze_scaling_split"`` / ``"mc_maze_scaling_20_split"``
        where the scaling datasets' metrics are prefixed ``"[500] "`` (large),
        ``"[250] "`` (medium), ``"[100] "`` (small). Metrics: ``co-bps``,
        ``vel R2`` (``tp corr`` for dmfc_rsg), ``psth R2`` (not mc_rtt) and,
        with forward rates, ``fp-bps``.

    Raises
    ------
    SubmissionError
        If the submission is malformed (every problem listed).

    Notes
    -----
    **Test phase.** EvalAI stopped scoring NLB'21 in January 2026 and the test
    targets are public: ``data/eval_data_test.h5`` in the ``nlb_tools`` GitHub
    repository (Git LFS, ~106 MB; the ``make_eval_target_tensors`` layout for
    every dataset and bin width). Make a test-phase submission (models trained on
    train+val trials, rates for the test trials) and score it locally with
    ``evaluate("eval_data_test.h5", "submission.h5")``; groups the submission
    lacks are skipped.

    Example
    -------
    >>> results = evaluate("eval_data_test.h5", "submission.h5")  # doctest: +SKIP
    >>> results[0]["mc_maze_split"]["co-bps"]                     # doctest: +SKIP
    0.35
    """
    logger.info("Starting evaluation")
    with _opened(targets, "targets") as tgt_data, _opened(submission, "submission") as sub_data:
        sub_groups = {g: (_read(v) if hasattr(v, "keys") else v) for g, v in sub_data.items()}
        if validate:
            from nlbtut.submission import validate_submission

            validate_submission(sub_groups, {g: tgt_data[g] for g in tgt_data.keys()}, strict=False)
        tgt_groups = {
            g: _read(tgt_data[g])
            for g in sub_groups
            if isinstance(g, str) and g in tgt_data.keys() and hasattr(tgt_data[g], "keys")
        }
        results: list[dict[str, dict[str, float]]] = []
        scaling: dict[str, dict[str, float]] = {"": {}, "_20": {}}
        for dataset in EVAL_DATASETS:
            for suf in ("", "_20"):
                group = dataset + suf
                sub = sub_groups.get(group)
                if not isinstance(sub, Mapping) or "eval_rates_heldout" not in sub:
                    continue
                tgt = tgt_groups.get(group)
                if tgt is None or "eval_spikes_heldout" not in tgt:
                    logger.warning(f"Evaluation data for {group} not found")
                    continue
                logger.info(f"Evaluating {group}")
                res = _evaluate_group(dataset, tgt, sub)
                if dataset in SCALING_DATASETS:
                    for key, val in res.items():
                        scaling[suf][f"{SCALING_DATASETS[dataset]} {key}"] = val
                else:
                    results.append({f"{group}_split": res})
    for suf in ("", "_20"):
        if scaling[suf]:
            results.append({f"mc_maze_scaling{suf}_split": scaling[suf]})
    logger.info("Completed evaluation")
    return results


def results_table(results: list[dict[str, dict[str, float]]]) -> Any:
    """The output of :func:`evaluate` as a table: one row per dataset group.

    The scaling entry is split into ``mc_maze_large``, ``mc_maze_medium`` and
    ``mc_maze_small`` rows (``_20`` for 20 ms); columns are the metrics in the
    order co-bps, vel R2, psth R2, fp-bps, tp corr (absent ones dropped).

    Returns
    -------
    pandas.DataFrame

    Example
    -------
    >>> results_table([{"mc_maze_split": {"co-bps": 0.3, "vel R2": 0.9}}])
             co-bps  vel R2
    mc_maze     0.3     0.9
    """
    import pandas as pd

    prefix_to_dataset = {v: k for k, v in SCALING_DATASETS.items()}
    rows: dict[str, dict[str, float]] = {}
    for entry in results:
        for split, metrics in entry.items():
            group = split[: -len("_split")] if split.endswith("_split") else split
            if group.startswith("mc_maze_scaling"):
                suf = group[len("mc_maze_scaling") :]
                for key, val in metrics.items():
                    prefix, _, metric = key.partition(" ")
                    name = prefix_to_dataset.get(prefix, prefix) + suf
                    rows.setdefault(name, {})[metric] = val
            else:
                rows.setdefault(group, {}).update(metrics)
    table = pd.DataFrame.from_dict(rows, orient="index")
    cols = [m for m in METRICS if m in table.columns]
    cols += [c for c in table.columns if c not in cols]
    return table.reindex(columns=cols)
