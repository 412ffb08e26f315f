"""Building blocks of LFADS: dense layers, the clipped GRU cell and the encoders.

Written on plain ``tf.Module`` / ``tf.Variable`` rather than Keras layers on
purpose: the reference TF2 LFADS broke when Keras changed (its ``ClippedGRUCell``
cannot be cloned by Keras 3's ``Bidirectional``; lfads-spec section 7), and the
recurrences here need what Keras' ``RNN`` does not offer (a state clip, trainable
initial states, four encoder GRUs stepped in one loop, a decoder whose controller
and generator feed each other). ``tf.Module`` variables are tracked by
``tf.train.Checkpoint``, which is all the persistence we need, and nothing here
depends on the Keras version.

Weights are initialised from a NumPy generator, so a seed fixes them exactly.

Shapes: batch ``B``, time ``T``, features ``D``; GRU state ``H``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["Dense", "KernelNormalizedDense", "ClippedGRUCell", "BidirectionalEncoders"]


def _normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    return (rng.standard_normal(shape) * std).astype(np.float32)


class Dense(tf.Module):
    """Affine map ``x @ W + b`` with ``W ~ N(0, 1/fan_in)`` and ``b = 0``.

    Works on ``[..., in_dim]`` inputs.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        rng: np.random.Generator,
        *,
        use_bias: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        std = 1.0 / np.sqrt(max(in_dim, 1))
        self.kernel = tf.Variable(_normal(rng, (in_dim, out_dim), std), name="kernel")
        self.bias = tf.Variable(np.zeros(out_dim, np.float32), name="bias") if use_bias else None

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.tensordot(x, self.kernel, axes=1) if len(x.shape) > 2 else x @ self.kernel
        return y + self.bias if self.bias is not None else y


class KernelNormalizedDense(tf.Module):
    """Bias-free linear map whose weight vector for each output has unit L2 norm.

    This is LFADS' factor layer: ``f = g @ (W / ||W||_columns)``, so factors
    cannot grow by scaling the weights (lfads-spec 1.5).
    """

    def __init__(
        self, in_dim: int, out_dim: int, rng: np.random.Generator, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.kernel = tf.Variable(
            _normal(rng, (in_dim, out_dim), 1.0 / np.sqrt(in_dim)), name="kernel"
        )

    def normalized_kernel(self) -> tf.Tensor:
        return tf.math.l2_normalize(self.kernel, axis=0)

    def __call__(self, x: tf.Tensor, kernel: tf.Tensor | None = None) -> tf.Tensor:
        k = self.normalized_kernel() if kernel is None else kernel
        return tf.tensordot(x, k, axes=1) if len(x.shape) > 2 else x @ k


class ClippedGRUCell(tf.Module):
    """GRU cell with the reset gate applied *before* the recurrent matmul, and a state clip.

    ``z = sig(x Wz + h Uz + bz)``, ``r = sig(x Wr + h Ur + br)``,
    ``h~ = tanh(x Wh + (r*h) Uh + bh)``, ``h' = clip(z*h + (1-z)*h~, -c, c)``.
    Gate biases start at 1, the candidate bias at 0. Kernels are ``N(0, 1/fan_in)``;
    encoder cells (``encoder=True``) use std ``1/sqrt(H + in_dim)`` for both
    kernels, as the reference does (lfads-spec 1.2).

    The input projection ``x W + b`` is separated (:meth:`project`) so callers can
    compute it for all time steps in one matmul before the recurrent loop.
    """

    def __init__(
        self,
        in_dim: int,
        units: int,
        rng: np.random.Generator,
        *,
        clip: float = 5.0,
        encoder: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.in_dim, self.units, self.clip = int(in_dim), int(units), float(clip)
        h = self.units
        if encoder:
            std_in = std_rec = 1.0 / np.sqrt(h + in_dim)
        else:
            std_in, std_rec = 1.0 / np.sqrt(max(in_dim, 1)), 1.0 / np.sqrt(h)
        self.kernel = tf.Variable(_normal(rng, (in_dim, 3 * h), std_in), name="kernel")
        self.recurrent_kernel = tf.Variable(
            _normal(rng, (h, 3 * h), std_rec), name="recurrent_kernel"
        )
        bias = np.concatenate([np.ones(2 * h), np.zeros(h)]).astype(np.float32)
        self.bias = tf.Variable(bias, name="bias")

    def project(self, x: tf.Tensor) -> tf.Tensor:
        """Input projection ``x W + b``: ``[..., in_dim] -> [..., 3H]``."""
        if len(x.shape) > 2:
            return tf.tensordot(x, self.kernel, axes=1) + self.bias
        return x @ self.kernel + self.bias

    def split_recurrent(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The recurrent kernel as ``(U_zr [H, 2H], U_h [H, H])``; slice once, outside a loop."""
        n = self.units
        return self.recurrent_kernel[:, : 2 * n], self.recurrent_kernel[:, 2 * n :]

    def step(
        self,
        xp: tf.Tensor,
        h: tf.Tensor,
        kernels: tuple[tf.Tensor, tf.Tensor] | None = None,
        xp_h: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """One step from a projected input and the state ``h [B, H]``.

        ``xp`` is ``[B, 3H]``, or ``[B, 2H]`` (gates only) with the candidate part
        in ``xp_h [B, H]``. ``kernels`` are :meth:`split_recurrent`'s output
        (recomputed if None); passing them in a loop avoids slicing (and
        back-propagating through slices of) the kernel at every step.
        """
        n = self.units
        u_zr, u_h = self.split_recurrent() if kernels is None else kernels
        if xp_h is None:
            xp, xp_h = xp[:, : 2 * n], xp[:, 2 * n :]
        zr = tf.sigmoid(xp + h @ u_zr)
        z, r = zr[:, :n], zr[:, n:]
        cand = tf.tanh(xp_h + (r * h) @ u_h)
        h_new = z * h + (1.0 - z) * cand
        return tf.clip_by_value(h_new, -self.clip, self.clip)

    def __call__(self, x: tf.Tensor, h: tf.Tensor) -> tf.Tensor:
        return self.step(self.project(x), h)


class BidirectionalEncoders(tf.Module):
    """The IC and controller-input (CI) encoders: two bidirectional clipped GRUs.

    Both read the same (dropped-out) held-in spikes ``x [B, T, N_in]``. The four
    directions are stepped together in one ``tf.scan`` (fewer loop iterations).
    Each bidirectional GRU has a trainable initial state ``[2, H]`` (zeros at start).

    Returns the concatenated final IC-encoder states ``[B, 2*H_ic]`` and the CI
    sequence ``[B, T, 2*H_ci]`` with the lag applied: step ``t`` sees the forward
    state of ``t - lag`` and the backward state of ``t + lag`` (zeros outside).
    """

    def __init__(
        self,
        in_dim: int,
        ic_enc_dim: int,
        ci_enc_dim: int,
        rng: np.random.Generator,
        *,
        clip: float = 5.0,
        ci_lag: int = 1,
    ) -> None:
        super().__init__(name="encoders")
        self.ic_fwd = ClippedGRUCell(
            in_dim, ic_enc_dim, rng, clip=clip, encoder=True, name="ic_enc_fwd"
        )
        self.ic_bwd = ClippedGRUCell(
            in_dim, ic_enc_dim, rng, clip=clip, encoder=True, name="ic_enc_bwd"
        )
        self.ic_h0 = tf.Variable(np.zeros((2, ic_enc_dim), np.float32), name="ic_enc_h0")
        self.use_ci = ci_enc_dim > 0
        self.ci_enc_dim = int(ci_enc_dim)
        self.ci_lag = int(ci_lag)
        if self.use_ci:
            self.ci_fwd = ClippedGRUCell(
                in_dim, ci_enc_dim, rng, clip=clip, encoder=True, name="ci_enc_fwd"
            )
            self.ci_bwd = ClippedGRUCell(
                in_dim, ci_enc_dim, rng, clip=clip, encoder=True, name="ci_enc_bwd"
            )
            self.ci_h0 = tf.Variable(np.zeros((2, ci_enc_dim), np.float32), name="ci_enc_h0")

    def cells(self) -> list[ClippedGRUCell]:
        cells = [self.ic_fwd, self.ic_bwd]
        if self.use_ci:
            cells += [self.ci_fwd, self.ci_bwd]
        return cells

    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        batch = tf.shape(x)[0]
        x_rev = tf.reverse(x, axis=[1])
        # input projections for all steps at once, time-major
        projs = [
            self.ic_fwd.project(x),
            self.ic_bwd.project(x_rev),
        ]
        h0s = [
            tf.tile(self.ic_h0[0:1], [batch, 1]),
            tf.tile(self.ic_h0[1:2], [batch, 1]),
        ]
        if self.use_ci:
            projs += [self.ci_fwd.project(x), self.ci_bwd.project(x_rev)]
            h0s += [tf.tile(self.ci_h0[0:1], [batch, 1]), tf.tile(self.ci_h0[1:2], [batch, 1])]
        cells = self.cells()
        # time-major, gate and candidate parts split once outside the loop
        elems = []
        for c, p in zip(cells, projs):
            p = tf.transpose(p, [1, 0, 2])
            elems += [p[..., : 2 * c.units], p[..., 2 * c.units :]]
        kernels = [c.split_recurrent() for c in cells]

        def body(states, xps):
            return tuple(
                c.step(xps[2 * i], h, kernels[i], xps[2 * i + 1])
                for i, (c, h) in enumerate(zip(cells, states))
            )

        seqs = tf.scan(body, tuple(elems), initializer=tuple(h0s))  # each [T, B, H]
        ic_final = tf.concat([seqs[0][-1], seqs[1][-1]], axis=-1)
        if not self.use_ci:
            return ic_final, None
        ci_f = tf.transpose(seqs[2], [1, 0, 2])
        ci_b = tf.reverse(tf.transpose(seqs[3], [1, 0, 2]), axis=[1])  # back to forward time
        lag = self.ci_lag
        if lag > 0:
            t = tf.shape(x)[1]
            ci_f = tf.pad(ci_f, [[0, 0], [lag, 0], [0, 0]])[:, :t]
            ci_b = tf.pad(ci_b, [[0, 0], [0, lag], [0, 0]])[:, lag:]
        return ic_final, tf.concat([ci_f, ci_b], axis=-1)
