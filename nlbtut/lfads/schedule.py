"""The epoch-level rules of LFADS training: ramps, smoothed NLL, best epoch, LR plateau, stopping.

Pure functions of the training settings (:class:`~nlbtut.lfads.config.TrainConfig`)
and the trainer's bookkeeping, so each rule can be read and tested on its own;
:class:`nlbtut.lfads.LFADSTrainer` calls them once per epoch (lfads-spec 2.2-2.4).

* KL and L2 weights ramp up linearly: ``r(epoch) = clip((epoch - start) / (increase + 1), 0, 1)``
  (1-based epochs);
* the validation NLL is smoothed as ``0.3 * previous + 0.7 * current``; the best
  epoch is the lowest smoothed NLL among epochs where both ramps are complete;
* the learning rate decays by ``lr_decay`` when an epoch's validation loss is above
  the maximum of the ``lr_patience`` epochs before it (after the ramps, at most
  once every ``lr_patience`` epochs), never below ``lr_stop``;
* training stops at ``max_epochs``, when the learning rate reached ``lr_stop``,
  after ``patience`` epochs without a new best, or after ``max_train_seconds``.

Example
-------
>>> from nlbtut.lfads.config import load_config
>>> tc = load_config("tiny").train
>>> [ramp(e, 0, 2) for e in (1, 2, 3)], last_ramp_epoch(tc)
([0.3333333333333333, 0.6666666666666666, 1.0], 3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nlbtut.lfads.config import TrainConfig

__all__ = [
    "ramp",
    "ramp_weights",
    "last_ramp_epoch",
    "smooth_nll",
    "is_new_best",
    "plateau_decay_due",
    "stop_reason",
]


def ramp(epoch: int, start: int, increase: int) -> float:
    """Ramp weight at a 1-based ``epoch``: ``clip((epoch - start) / (increase + 1), 0, 1)``."""
    return float(min(max((epoch - start) / (increase + 1), 0.0), 1.0))


def ramp_weights(epoch: int, tc: TrainConfig) -> tuple[float, float]:
    """The (KL, L2) ramp weights at a 1-based ``epoch``."""
    return (
        ramp(epoch, tc.kl_start_epoch, tc.kl_increase_epochs),
        ramp(epoch, tc.l2_start_epoch, tc.l2_increase_epochs),
    )


def last_ramp_epoch(tc: TrainConfig) -> int:
    """The first epoch at which both ramps are complete."""
    return (
        max(tc.kl_start_epoch + tc.kl_increase_epochs, tc.l2_start_epoch + tc.l2_increase_epochs)
        + 1
    )


def smooth_nll(previous: float | None, value: float) -> float:
    """The smoothed validation NLL: ``value`` at first (or after a non-finite one), else ``0.3 prev + 0.7 value``."""
    if previous is None or not math.isfinite(previous):
        return value
    return 0.3 * previous + 0.7 * value


def is_new_best(kl_weight: float, l2_weight: float, smoothed: float, best: float | None) -> bool:
    """Whether an epoch with these ramp weights and smoothed NLL is the new best (post-ramp only)."""
    if kl_weight < 1.0 or l2_weight < 1.0 or not math.isfinite(smoothed):
        return False
    return best is None or smoothed < best


def plateau_decay_due(
    val_losses: Sequence[float], epoch: int, tc: TrainConfig, last_decay_epoch: int
) -> bool:
    """Whether the learning rate decays after ``epoch``.

    ``val_losses`` are the validation losses of all epochs so far (the last one
    is ``epoch``'s). True when decay is on, the ramps ended more than
    ``lr_patience`` epochs ago, the last decay is ``lr_patience`` epochs back or
    more, and the last loss is above the maximum of the ``lr_patience`` before it.
    """
    p = tc.lr_patience
    if tc.lr_decay >= 1.0 or epoch <= last_ramp_epoch(tc) + p or epoch - last_decay_epoch < p:
        return False
    losses = list(val_losses[-(p + 1) :])
    return len(losses) == p + 1 and losses[-1] > max(losses[:-1])


def stop_reason(
    tc: TrainConfig, *, epoch: int, lr: float, best_epoch: int | None, train_seconds: float
) -> str | None:
    """Why training should stop after ``epoch`` epochs (None to continue)."""
    if epoch >= tc.max_epochs:
        return f"reached max_epochs={tc.max_epochs}"
    if tc.lr_decay < 1.0 and lr <= tc.lr_stop * (1 + 1e-6):
        return f"learning rate decayed to lr_stop={tc.lr_stop}"
    if best_epoch is not None and epoch - best_epoch >= tc.patience:
        return f"no new best smoothed validation NLL for {tc.patience} epochs (early stopping)"
    if tc.max_train_seconds is not None and train_seconds >= tc.max_train_seconds:
        return f"reached max_train_seconds={tc.max_train_seconds:g}"
    return None
