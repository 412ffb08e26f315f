"""Posterior sample-and-average and the NLB submission (lfads-spec section 3).

For each batch of trials the encoder runs once (dropout off); the IC posterior is
sampled ``n_samples`` times and the decoder runs on all samples together, also
sampling the inferred inputs at every step. Every output is averaged over the
samples; rates are the mean of ``exp(logrates)`` (the mean rate, not the rate of
the mean log-rate). Batches hold at most ``max_sequences`` decoder sequences, so
memory stays bounded however many trials there are; outputs keep the original
trial order.

Example
-------
>>> post = sample_posterior(model, data, n_samples=50, seed=0)   # doctest: +SKIP
>>> sub = posterior_to_submission(post, data, "mc_maze_small")   # doctest: +SKIP
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import tensorflow as tf

from nlbtut.errors import DataError
from nlbtut.lfads.data import LFADSData
from nlbtut.lfads.model import LFADS

__all__ = ["PosteriorOutput", "sample_posterior", "posterior_to_submission"]


@dataclass(frozen=True, eq=False)
class PosteriorOutput:
    """Posterior averages for a set of trials (original order).

    Attributes
    ----------
    rates : trials x time x neurons, spikes/bin (held-in then held-out; observed then forward bins)
    factors : trials x time x fac_dim
    gen_states : trials x time x gen_dim
    gen_inputs : trials x time x co_dim, the inferred inputs
    gen_init : trials x gen_dim, the generator's initial state
    ic_mean, ic_std : trials x ic_dim, the IC posterior
    """

    rates: np.ndarray
    factors: np.ndarray
    gen_states: np.ndarray
    gen_inputs: np.ndarray
    gen_init: np.ndarray
    ic_mean: np.ndarray
    ic_std: np.ndarray

    def __len__(self) -> int:
        return len(self.rates)

    def to_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_AVERAGED = ("rates", "factors", "gen_states", "gen_inputs", "gen_init")


def _check_input(model: LFADS, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise DataError(f"expected trials x time x neurons (3-D), got shape {x.shape}")
    if x.shape[1] < model.t_obs or x.shape[2] < model.n_heldin:
        raise DataError(
            f"data of shape {x.shape} is too small for this model: it needs at least "
            f"{model.t_obs} observed bins and {model.n_heldin} held-in neurons"
        )
    enc = x[:, : model.t_obs, : model.n_heldin]
    if not np.all(np.isfinite(enc)):
        raise DataError("the held-in observed spikes contain NaN/inf")
    return np.ascontiguousarray(enc)


# compiled sampling functions per model and (n_samples, batch): reused across calls, so repeated
# sampling (train and eval sets, several seeds) traces once
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled_sampler(model: LFADS, n_samples: int, b: int) -> tuple[Any, tf.random.Generator]:
    per_model = _COMPILED.setdefault(model, {})
    if (n_samples, b) in per_model:
        return per_model[(n_samples, b)]
    gen = tf.random.Generator.from_seed(0)
    model_ref = weakref.ref(model)  # the cache must not keep the model alive

    @tf.function(reduce_retracing=True, autograph=False)
    def run(xb: tf.Tensor) -> dict[str, tf.Tensor]:
        model = model_ref()
        ic_mean, ic_std, ci = model.encode(xb, training=False)

        def rep(t: tf.Tensor) -> tf.Tensor:
            return tf.repeat(t, n_samples, axis=0)

        out = model.decode(
            rep(ic_mean),
            rep(ic_std),
            None if ci is None else rep(ci),
            training=False,
            sample=True,
            rng=gen,
        )
        res = {}
        for k in _AVERAGED:
            t = out[k]
            t = tf.reshape(t, tf.concat([[-1, n_samples], tf.shape(t)[1:]], axis=0))
            res[k] = tf.reduce_mean(t, axis=1)
        res["ic_mean"], res["ic_std"] = ic_mean, ic_std
        return res

    per_model[(n_samples, b)] = (run, gen)
    return run, gen


def _sample_array(
    model: LFADS, enc: np.ndarray, run: Any, b: int, progress: bool, desc: str
) -> PosteriorOutput:
    n_trials = len(enc)
    chunks: dict[str, list[np.ndarray]] = {}
    starts = range(0, n_trials, b)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"posterior {desc}".strip(), unit="batch")
    for s in starts:
        xb = enc[s : s + b]
        n_real = len(xb)
        if n_real < b:  # pad to a fixed batch shape (no retracing); padded rows are dropped
            xb = np.concatenate([xb, np.zeros((b - n_real, *xb.shape[1:]), np.float32)])
        res = run(tf.constant(xb))
        for k, v in res.items():
            chunks.setdefault(k, []).append(v.numpy()[:n_real])
    return PosteriorOutput(**{k: np.concatenate(v) for k, v in chunks.items()})


def sample_posterior(
    model: LFADS,
    data: LFADSData | np.ndarray,
    *,
    n_samples: int = 50,
    seed: int = 0,
    max_sequences: int = 1024,
    progress: bool = True,
) -> PosteriorOutput | dict[str, PosteriorOutput]:
    """Posterior sample-and-average of rates, factors, generator states and inferred inputs.

    Parameters
    ----------
    model : LFADS
        A trained model (:func:`load_model` or ``train_lfads(...).model``).
    data : LFADSData or ndarray
        ``LFADSData``: all training trials (original order) and the evaluation
        trials. An array ``[trials, T, N]`` (only ``[:, :t_obs, :n_heldin]`` is
        read) gives one set.
    n_samples : int
        Posterior samples per trial (50 as in the reference).
    seed : int
        Seed of the sampling; the same model, data, seed and ``max_sequences``
        give identical output.
    max_sequences : int
        Decoder sequences per batch (trials per batch = ``max_sequences // n_samples``).
    progress : bool
        Show a tqdm bar per set.

    Returns
    -------
    PosteriorOutput, or dict ``{"train": ..., "eval": ...}`` for ``LFADSData``
    (``"eval"`` only when the data has evaluation trials). Rates are in spikes/bin.
    """
    if not isinstance(model, LFADS):
        raise TypeError(f"model must be an LFADS model, got {type(model).__name__}")
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if int(max_sequences) != max_sequences or max_sequences < 1:
        raise ValueError(f"max_sequences must be a positive integer, got {max_sequences!r}")
    if isinstance(data, LFADSData):
        if data.dims != model.dims:
            raise DataError(f"data dimensions {data.dims} differ from the model's {model.dims}")
        sets = {"train": data.train_data}
        if data.eval_data is not None:
            sets["eval"] = data.eval_data
    else:
        sets = {"": np.asarray(data)}
    encs = {k: _check_input(model, v) for k, v in sets.items()}
    b = max(1, min(int(max_sequences) // int(n_samples), max(len(v) for v in encs.values())))
    run, gen = _compiled_sampler(model, int(n_samples), b)
    gen.reset_from_seed(int(seed))
    out = {k: _sample_array(model, v, run, b, progress, k) for k, v in encs.items()}
    return out[""] if "" in out else out


def posterior_to_submission(
    posterior: Mapping[str, PosteriorOutput],
    data: LFADSData,
    dataset: str,
    *,
    bin_width: int = 5,
) -> dict[str, dict[str, np.ndarray]]:
    """Slice posterior rates into an NLB submission dict.

    ``train_rates_heldin = train[:, :t_obs, :n_heldin]``, ``..._heldout = [:, :t_obs, n_heldin:]``,
    the same for eval, and the forward keys from ``eval[:, t_obs:, ...]`` (when the
    data has forward bins). Built with :func:`nlbtut.submission.make_submission`.

    Parameters
    ----------
    posterior : dict
        ``{"train": PosteriorOutput, "eval": PosteriorOutput}`` from :func:`sample_posterior`.
    data : LFADSData
        The data the posterior was computed on (for the dimensions).
    dataset : str
        NLB dataset name (``"mc_maze_small"``, ...).
    bin_width : int
        5 or 20 ms.

    Returns
    -------
    dict
        ``{group: {"train_rates_heldin", "train_rates_heldout", "eval_rates_heldin",
        "eval_rates_heldout", ["eval_rates_heldin_forward", "eval_rates_heldout_forward"]}}``.
    """
    from nlbtut.submission import make_submission

    for key in ("train", "eval"):
        if key not in posterior:
            raise DataError(
                f"posterior lacks {key!r}; sample_posterior needs data with evaluation trials"
            )
    tr, ev = posterior["train"].rates, posterior["eval"].rates
    t, n = data.t_obs, data.n_heldin
    if (
        tr.shape[1:] != (data.t_obs + data.t_fwd, data.n_heldin + data.n_heldout)
        or ev.shape[1:] != tr.shape[1:]
    ):
        raise DataError(
            f"posterior rates of shapes {tr.shape}/{ev.shape} do not match the data {data}"
        )
    fwd_in = ev[:, t:, :n] if data.t_fwd > 0 else None
    fwd_out = ev[:, t:, n:] if data.t_fwd > 0 else None
    return make_submission(
        dataset,
        tr[:, :t, :n],
        tr[:, :t, n:],
        ev[:, :t, :n],
        ev[:, :t, n:],
        fwd_in,
        fwd_out,
        bin_width=bin_width,
    )
