"""Formatting NLB tensors for LFADS, exactly as the original NLB tutorial does.

The NLB tensors (``make_train_input_tensors(..., include_forward_pred=True)`` and
``make_eval_input_tensors``) become one array per split in the LFADS layout
``[trials, t_obs + t_fwd, n_heldin + n_heldout]`` (lfads-spec 1.8):

* **training trials** carry everything as reconstruction targets:
  ``hstack([dstack([heldin, heldout]), dstack([heldin_fwd, heldout_fwd])])``;
* **evaluation trials** have their held-in spikes over the observed window and
  **zeros** where held-out neurons and forward bins are unknown; the encoder only
  reads ``[:, :t_obs, :n_heldin]``, so those zeros are never seen;
* every 5th training trial (``valid_ratio = 0.2``) is a validation trial.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> train = {"train_spikes_heldin": rng.poisson(1, (10, 8, 4)),
...          "train_spikes_heldout": rng.poisson(1, (10, 8, 2)),
...          "train_spikes_heldin_forward": rng.poisson(1, (10, 3, 4)),
...          "train_spikes_heldout_forward": rng.poisson(1, (10, 3, 2))}
>>> data = format_lfads_data(train, {"eval_spikes_heldin": rng.poisson(1, (5, 8, 4))})
>>> data.train_data.shape, data.eval_data.shape, data.valid_inds.tolist()
((10, 11, 6), (5, 11, 6), [0, 5])
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nlbtut.errors import DataError

__all__ = ["LFADSData", "format_lfads_data", "split_indices", "DIM_NAMES", "dims_of"]

#: the data dimensions a model is built for (recorded in a run directory's run.json)
DIM_NAMES = ("n_heldin", "n_heldout", "t_obs", "t_fwd")


def dims_of(obj: object) -> dict[str, int]:
    """The :data:`DIM_NAMES` attributes of an :class:`LFADSData` or an ``LFADS`` model, as a dict."""
    return {name: int(getattr(obj, name)) for name in DIM_NAMES}


@dataclass(frozen=True, eq=False)
class LFADSData:
    """NLB data in the LFADS layout.

    Attributes
    ----------
    train_data : ndarray, float32, trials x (t_obs + t_fwd) x (n_heldin + n_heldout)
        All training trials in their original order, spike counts per bin.
    eval_data : ndarray or None, float32, trials x (t_obs + t_fwd) x (n_heldin + n_heldout)
        Evaluation trials: held-in observed spikes, zeros elsewhere.
    train_inds, valid_inds : ndarray of int
        Rows of ``train_data`` used for training and for validation.
    n_heldin, n_heldout, t_obs, t_fwd : int
        Neurons (held-in first) and bins (observed first).
    """

    train_data: np.ndarray
    eval_data: np.ndarray | None
    train_inds: np.ndarray
    valid_inds: np.ndarray
    n_heldin: int
    n_heldout: int
    t_obs: int
    t_fwd: int

    @property
    def train(self) -> np.ndarray:
        """Training-split trials ``[n_train, T, N]``."""
        return self.train_data[self.train_inds]

    @property
    def valid(self) -> np.ndarray:
        """Validation-split trials ``[n_valid, T, N]``."""
        return self.train_data[self.valid_inds]

    @property
    def dims(self) -> dict[str, int]:
        """``{"n_heldin", "n_heldout", "t_obs", "t_fwd"}``: what a model must be built for."""
        return dims_of(self)

    def __repr__(self) -> str:
        n_eval = 0 if self.eval_data is None else len(self.eval_data)
        return (
            f"LFADSData(train={len(self.train_inds)}, valid={len(self.valid_inds)}, eval={n_eval} trials; "
            f"{self.n_heldin}+{self.n_heldout} neurons; {self.t_obs}+{self.t_fwd} bins)"
        )


def split_indices(n_trials: int, valid_ratio: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Train/valid row indices: every ``round(1/valid_ratio)``-th trial (from 0) is a validation trial."""
    if not 0.0 < valid_ratio < 1.0:
        raise DataError(f"valid_ratio must be in (0, 1), got {valid_ratio!r}")
    step = max(2, round(1.0 / valid_ratio))
    idx = np.arange(n_trials)
    valid = idx[idx % step == 0]
    train = idx[idx % step != 0]
    if len(train) == 0 or len(valid) == 0:
        raise DataError(
            f"{n_trials} trials are too few to split into training and validation trials"
        )
    return train, valid


def _array(d: Mapping, key: str, where: str) -> np.ndarray:
    if key not in d:
        raise DataError(
            f"{where} lacks the key {key!r} (has: {', '.join(map(str, d)) or 'nothing'})"
        )
    arr = np.asarray(d[key])
    if arr.ndim != 3:
        raise DataError(
            f"{where}[{key!r}] must be trials x time x neurons (3-D), got shape {arr.shape}"
        )
    return arr.astype(np.float32)


def format_lfads_data(
    train_input: Mapping[str, np.ndarray],
    eval_input: Mapping[str, np.ndarray] | None = None,
    *,
    valid_ratio: float = 0.2,
) -> LFADSData:
    """Build LFADS input/target arrays from NLB tensor dicts.

    Parameters
    ----------
    train_input : dict
        From ``make_train_input_tensors(..., include_forward_pred=True)``:
        ``train_spikes_heldin [n, t_obs, n_in]``, ``train_spikes_heldout
        [n, t_obs, n_out]`` and, optionally (both or neither),
        ``train_spikes_heldin_forward [n, t_fwd, n_in]`` and
        ``train_spikes_heldout_forward [n, t_fwd, n_out]``; counts per bin.
    eval_input : dict, optional
        From ``make_eval_input_tensors``: ``eval_spikes_heldin [m, t_obs, n_in]``.
        Other keys (``eval_spikes_heldout`` in the val phase) are ignored: the
        model must not see them.
    valid_ratio : float
        Fraction of training trials used for validation (every 5th for 0.2).

    Returns
    -------
    LFADSData

    Raises
    ------
    DataError
        Missing keys, inconsistent shapes, or NaN/inf/negative training counts.
    """
    if not isinstance(train_input, Mapping):
        raise DataError(f"train_input must be a dict of arrays, got {type(train_input).__name__}")
    hi = _array(train_input, "train_spikes_heldin", "train_input")
    ho = _array(train_input, "train_spikes_heldout", "train_input")
    has_fi = "train_spikes_heldin_forward" in train_input
    has_fo = "train_spikes_heldout_forward" in train_input
    if has_fi != has_fo:
        raise DataError(
            "train_input must hold both train_spikes_heldin_forward and train_spikes_heldout_forward, or neither"
        )
    n, t_obs, n_in = hi.shape
    if ho.shape[:2] != (n, t_obs):
        raise DataError(
            f"train_spikes_heldout has shape {ho.shape}; expected {n} trials x {t_obs} bins like train_spikes_heldin"
        )
    n_out = ho.shape[2]
    if has_fi:
        fi = _array(train_input, "train_spikes_heldin_forward", "train_input")
        fo = _array(train_input, "train_spikes_heldout_forward", "train_input")
        t_fwd = fi.shape[1]
        if fi.shape != (n, t_fwd, n_in) or fo.shape != (n, t_fwd, n_out):
            raise DataError(
                f"forward tensors have shapes {fi.shape} and {fo.shape}; expected ({n}, t_fwd, {n_in}) "
                f"and ({n}, t_fwd, {n_out})"
            )
        train = np.concatenate([np.concatenate([hi, ho], 2), np.concatenate([fi, fo], 2)], 1)
    else:
        t_fwd = 0
        train = np.concatenate([hi, ho], 2)
    if not np.all(np.isfinite(train)):
        bad = int((~np.isfinite(train)).sum())
        raise DataError(
            f"train_input holds {bad} NaN/inf values; LFADS needs complete training trials"
        )
    if (train < 0).any():
        raise DataError("train_input holds negative values; expected spike counts")
    if t_obs < 2:
        raise DataError(f"trials must have at least 2 observed bins, got {t_obs}")
    eval_data = None
    if eval_input is not None:
        if not isinstance(eval_input, Mapping):
            raise DataError(f"eval_input must be a dict of arrays, got {type(eval_input).__name__}")
        ei = _array(eval_input, "eval_spikes_heldin", "eval_input")
        if ei.shape[1:] != (t_obs, n_in):
            raise DataError(
                f"eval_spikes_heldin has shape {ei.shape}; expected (trials, {t_obs}, {n_in}) like the training data"
            )
        if not np.all(np.isfinite(ei)):
            warnings.warn(
                f"eval_spikes_heldin holds {int((~np.isfinite(ei)).sum())} NaN values; they are read as 0",
                stacklevel=2,
            )
            ei = np.nan_to_num(ei, nan=0.0, posinf=0.0, neginf=0.0)
        eval_data = np.zeros((len(ei), t_obs + t_fwd, n_in + n_out), np.float32)
        eval_data[:, :t_obs, :n_in] = ei
    train_inds, valid_inds = split_indices(n, valid_ratio)
    return LFADSData(
        train_data=np.ascontiguousarray(train, dtype=np.float32),
        eval_data=eval_data,
        train_inds=train_inds,
        valid_inds=valid_inds,
        n_heldin=n_in,
        n_heldout=n_out,
        t_obs=t_obs,
        t_fwd=t_fwd,
    )
