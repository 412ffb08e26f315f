"""Priors and likelihood of LFADS, in plain TensorFlow math.

The reference TF2 LFADS used TensorFlow Probability (``tfb.Affine``, gone from
current TFP) for the AR(1) prior; the closed forms are short, so they are written
here directly (no TFP dependency, lfads-spec section 7):

* :class:`GaussianICPrior`: diagonal Gaussian with a trainable mean and a fixed
  variance; :func:`gaussian_kl` is the analytic KL to it.
* :class:`AutoregressivePrior`: an AR(1) process per inferred-input dimension
  with trainable time constant and noise variance; the KL of the inferred inputs
  is a one-sample Monte-Carlo estimate ``log q(u) - log p(u)``, vectorised over time.
* :func:`poisson_nll`: the Poisson negative log-likelihood with the Stirling
  term, as ``tf.nn.log_poisson_loss(..., compute_full_loss=True)``.

Shapes: batch ``B``, time ``T``, dimension ``D``.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

__all__ = [
    "GaussianICPrior",
    "AutoregressivePrior",
    "gaussian_kl",
    "diag_normal_log_prob",
    "poisson_nll",
]

_LOG_2PI = math.log(2.0 * math.pi)


def diag_normal_log_prob(x: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """Elementwise ``log N(x; mean, exp(logvar))``."""
    return -0.5 * (_LOG_2PI + logvar + tf.square(x - mean) * tf.exp(-logvar))


def gaussian_kl(
    q_mean: tf.Tensor, q_var: tf.Tensor, p_mean: tf.Tensor, p_var: tf.Tensor
) -> tf.Tensor:
    """``KL(N(q_mean, q_var) || N(p_mean, p_var))`` summed over the last axis: ``[B]``.

    ``q_* [B, D]``, ``p_* [D]`` (or broadcastable). LFADS averages it over the batch.
    """
    kl = 0.5 * (
        tf.math.log(p_var) - tf.math.log(q_var) + (q_var + tf.square(q_mean - p_mean)) / p_var - 1.0
    )
    return tf.reduce_sum(kl, axis=-1)


class GaussianICPrior(tf.Module):
    """Prior of the initial condition: ``N(mean, var)`` with trainable mean (init 0), fixed var."""

    def __init__(self, dim: int, var: float) -> None:
        super().__init__(name="ic_prior")
        self.mean = tf.Variable(np.zeros(dim, np.float32), name="mean")
        self.logvar = tf.constant(np.full(dim, np.log(var), np.float32))

    def kl(self, q_mean: tf.Tensor, q_std: tf.Tensor) -> tf.Tensor:
        """Analytic KL of the posterior ``N(q_mean, q_std^2)`` ``[B, D]`` to this prior, per trial ``[B]``."""
        return gaussian_kl(q_mean, tf.square(q_std), self.mean, tf.exp(self.logvar))


class AutoregressivePrior(tf.Module):
    """AR(1) prior on the inferred inputs, independent per dimension.

    ``u_0 ~ N(0, nvar / (1 - a^2))`` (stationary), ``u_t ~ N(a u_{t-1}, nvar)``,
    ``a = exp(-1 / tau)``. ``log tau`` and ``log nvar`` are trainable.
    """

    def __init__(self, dim: int, tau: float, nvar: float) -> None:
        super().__init__(name="co_prior")
        self.logtaus = tf.Variable(np.full(dim, np.log(tau), np.float32), name="logtaus")
        self.lognvars = tf.Variable(np.full(dim, np.log(nvar), np.float32), name="lognvars")

    def log_prob(self, u: tf.Tensor) -> tf.Tensor:
        """``log p(u)`` of sequences ``u [B, T, D]``, summed over time and dims: ``[B]``."""
        alpha = tf.exp(-1.0 / tf.exp(self.logtaus))
        nvar = tf.exp(self.lognvars)
        logvar0 = tf.math.log(nvar / (1.0 - tf.square(alpha)))
        lp0 = diag_normal_log_prob(u[:, 0], 0.0, logvar0)  # [B, D]
        lp_rest = diag_normal_log_prob(u[:, 1:], alpha * u[:, :-1], self.lognvars)  # [B, T-1, D]
        return tf.reduce_sum(lp0, axis=-1) + tf.reduce_sum(lp_rest, axis=[1, 2])

    def kl(self, u: tf.Tensor, q_mean: tf.Tensor, q_logvar: tf.Tensor) -> tf.Tensor:
        """One-sample KL estimate ``sum_{T,D} [log q(u) - log p(u)]`` per trial ``[B]``."""
        log_q = tf.reduce_sum(diag_normal_log_prob(u, q_mean, q_logvar), axis=[1, 2])
        return log_q - self.log_prob(u)


def poisson_nll(counts: tf.Tensor, logrates: tf.Tensor) -> tf.Tensor:
    """Elementwise Poisson NLL ``exp(l) - k*l + log k!`` with ``log k!`` by Stirling for ``k > 1``.

    Identical to ``tf.nn.log_poisson_loss(counts, logrates, compute_full_loss=True)``:
    the Stirling term ``k log k - k + 0.5 log(2 pi k)`` is added where ``k > 1``.
    """
    return tf.nn.log_poisson_loss(counts, logrates, compute_full_loss=True)
