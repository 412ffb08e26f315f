"""The LFADS model (lfads-spec section 1), as a ``tf.Module``.

Data flow for a batch ``data [B, T, N]`` in the NLB layout (``T = t_obs + t_fwd``
bins, ``N = n_heldin + n_heldout`` neurons; held-out neurons are the last
columns, forward-prediction bins the last rows):

1. the encoders read only ``data[:, :t_obs, :n_heldin]`` (held-in neurons over the
   observed window), after input dropout;
2. the IC encoder's final states give the IC posterior ``N(ic_mean, ic_std^2)``,
   ``ic_std = sqrt(exp(logvar) + ic_post_var_min)``; the CI encoder gives the
   controller input sequence, zero-padded over the forward bins;
3. the decoder steps for all ``T`` bins: controller -> inferred input ``u_t``
   (sampled from its posterior) -> generator -> unit-norm factors;
4. a Poisson readout maps factors to log-rates of **all** ``N`` neurons.

Randomness (posterior samples, dropout masks) comes from a ``tf.random.Generator``
passed in by the caller, so training and inference each control their own seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from nlbtut.lfads.config import ModelConfig
from nlbtut.lfads.data import dims_of
from nlbtut.lfads.layers import BidirectionalEncoders, ClippedGRUCell, Dense, KernelNormalizedDense
from nlbtut.lfads.priors import AutoregressivePrior, GaussianICPrior

__all__ = ["LFADS"]


def _dropout_mask(rng: tf.random.Generator, shape: Any, rate: tf.Variable) -> tf.Tensor:
    """Inverted-dropout mask: 0 with probability ``rate``, else ``1 / (1 - rate)``."""
    keep = 1.0 - rate
    return tf.cast(rng.uniform(shape) < keep, tf.float32) / keep


class LFADS(tf.Module):
    """Latent Factor Analysis via Dynamical Systems.

    Parameters
    ----------
    config : ModelConfig
        Sizes, priors and dropout rates.
    n_heldin, n_heldout : int
        Neurons the encoder sees, and neurons only reconstructed (last columns).
    t_obs, t_fwd : int
        Observed bins (encoder input) and forward-prediction bins (last rows), in bins.
    seed : int
        Seed of the weight initialisation.

    Example
    -------
    >>> import numpy as np
    >>> from nlbtut.lfads import LFADS, load_config
    >>> model = LFADS(load_config("tiny").model, n_heldin=6, n_heldout=2, t_obs=10, t_fwd=2)
    >>> out = model(np.zeros((3, 12, 8), np.float32), sample=False)
    >>> out["rates"].shape
    TensorShape([3, 12, 8])
    """

    def __init__(
        self,
        config: ModelConfig,
        n_heldin: int,
        n_heldout: int,
        t_obs: int,
        t_fwd: int,
        *,
        seed: int = 0,
    ) -> None:
        super().__init__(name="lfads")
        for label, value, low in (("n_heldin", n_heldin, 1), ("n_heldout", n_heldout, 0),
                                  ("t_obs", t_obs, 2), ("t_fwd", t_fwd, 0)):  # fmt: skip
            if int(value) != value or value < low:
                raise ValueError(f"LFADS: {label} must be an integer >= {low}, got {value!r}")
        self.config = config
        self.n_heldin, self.n_heldout = int(n_heldin), int(n_heldout)
        self.t_obs, self.t_fwd = int(t_obs), int(t_fwd)
        self.n_neurons = self.n_heldin + self.n_heldout
        self.n_time = self.t_obs + self.t_fwd
        self.seed = int(seed)
        c = config
        rng = np.random.default_rng(seed)
        self.use_controller = c.use_controller
        self.dropout_rate = tf.Variable(float(c.dropout_rate), trainable=False, name="dropout_rate")
        self.encoders = BidirectionalEncoders(
            self.n_heldin,
            c.ic_enc_dim,
            c.ci_enc_dim if self.use_controller else 0,
            rng,
            clip=c.cell_clip,
            ci_lag=c.ci_lag,
        )
        self.ic_mean_layer = Dense(2 * c.ic_enc_dim, c.ic_dim, rng, name="ic_mean")
        self.ic_logvar_layer = Dense(2 * c.ic_enc_dim, c.ic_dim, rng, name="ic_logvar")
        self.ic_prior = GaussianICPrior(c.ic_dim, c.ic_prior_var)
        self.ic_post_var_min = float(c.ic_post_var_min)
        co_dim = c.co_dim if self.use_controller else 0
        self.co_dim = co_dim
        if self.use_controller:
            self.controller = ClippedGRUCell(
                2 * c.ci_enc_dim + c.fac_dim, c.con_dim, rng, clip=c.cell_clip, name="con"
            )
            self.con_h0 = tf.Variable(np.zeros((1, c.con_dim), np.float32), name="con_h0")
            self.co_layer = Dense(c.con_dim, 2 * co_dim, rng, name="co_mean_logvar")
            self.co_prior = AutoregressivePrior(co_dim, c.co_prior_tau, c.co_prior_nvar)
        self.gen_init = Dense(c.ic_dim, c.gen_dim, rng, name="gen_init")
        self.generator = ClippedGRUCell(co_dim, c.gen_dim, rng, clip=c.cell_clip, name="gen")
        self.factor_layer = KernelNormalizedDense(c.gen_dim, c.fac_dim, rng, name="factors")
        self.readout = Dense(c.fac_dim, self.n_neurons, rng, name="readout")

    # ------------------------------------------------------------------ parts
    @property
    def dims(self) -> dict[str, int]:
        """The data dimensions the model was built for."""
        return dims_of(self)

    def encoder_input(self, data: tf.Tensor) -> tf.Tensor:
        """What the encoders may read: ``data[:, :t_obs, :n_heldin]``."""
        return data[:, : self.t_obs, : self.n_heldin]

    def l2_kernels(self) -> dict[str, list[tf.Variable]]:
        """Recurrent kernels penalised by the L2 term, by group (``ic_enc``, ``ci_enc``, ``gen``, ``con``)."""
        groups = {
            "ic_enc": [
                self.encoders.ic_fwd.recurrent_kernel,
                self.encoders.ic_bwd.recurrent_kernel,
            ],
            "gen": [self.generator.recurrent_kernel],
        }
        if self.use_controller:
            groups["ci_enc"] = [
                self.encoders.ci_fwd.recurrent_kernel,
                self.encoders.ci_bwd.recurrent_kernel,
            ]
            groups["con"] = [self.controller.recurrent_kernel]
        return groups

    def encode(
        self, x_enc: tf.Tensor, *, training: bool = False, rng: tf.random.Generator | None = None
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """Encode held-in observed spikes ``x_enc [B, t_obs, n_heldin]``.

        Returns ``ic_mean [B, ic_dim]``, ``ic_std [B, ic_dim]`` and the lagged
        controller input ``ci [B, t_obs, 2*ci_enc_dim]`` (None without controller).
        """
        x_enc = tf.convert_to_tensor(x_enc, tf.float32)
        if training:
            x_enc = x_enc * _dropout_mask(rng, tf.shape(x_enc), self.dropout_rate)
        ic_final, ci = self.encoders(x_enc)
        if training:
            ic_final = ic_final * _dropout_mask(rng, tf.shape(ic_final), self.dropout_rate)
        ic_mean = self.ic_mean_layer(ic_final)
        ic_logvar = self.ic_logvar_layer(ic_final)
        ic_std = tf.sqrt(tf.exp(ic_logvar) + self.ic_post_var_min)
        return ic_mean, ic_std, ci

    def decode(
        self,
        ic_mean: tf.Tensor,
        ic_std: tf.Tensor,
        ci: tf.Tensor | None,
        *,
        training: bool = False,
        sample: bool = True,
        rng: tf.random.Generator | None = None,
    ) -> dict[str, tf.Tensor]:
        """Run the generator (and controller) for ``t_obs + t_fwd`` bins.

        Returns a dict of ``logrates``/``rates [B, T, N]`` (spikes/bin),
        ``factors [B, T, fac_dim]``, ``gen_states [B, T, gen_dim]``,
        ``gen_inputs [B, T, co_dim]`` (the inferred inputs), ``co_means``,
        ``co_logvars [B, T, co_dim]``, ``gen_init [B, gen_dim]``, ``ic_sample``.
        """
        if (sample or training) and rng is None:
            raise ValueError("LFADS.decode: a tf.random.Generator is needed to sample or drop out")
        c = self.config
        batch = tf.shape(ic_mean)[0]
        n_t = self.n_time
        ic = ic_mean + ic_std * rng.normal(tf.shape(ic_mean)) if sample else ic_mean
        g0 = self.gen_init(ic)
        fac_kernel = self.factor_layer.normalized_kernel()
        g0_in = g0 * _dropout_mask(rng, tf.shape(g0), self.dropout_rate) if training else g0
        f0 = g0_in @ fac_kernel

        def gen_mask(dim: int) -> tf.Tensor:
            if training:
                return _dropout_mask(rng, [n_t, batch, dim], self.dropout_rate)
            return tf.ones([n_t, batch, dim])

        mask_g = gen_mask(c.gen_dim)
        gen = self.generator
        if self.use_controller:
            ci = tf.pad(ci, [[0, 0], [0, self.t_fwd], [0, 0]])  # zeros over forward bins
            ci_w = 2 * c.ci_enc_dim
            con = self.controller
            if training:
                ci = ci * _dropout_mask(rng, tf.shape(ci), self.dropout_rate)
            ci_proj = tf.transpose(
                tf.tensordot(ci, con.kernel[:ci_w], axes=1) + con.bias, [1, 0, 2]
            )
            n_con = c.con_dim
            cip_zr, cip_h = ci_proj[..., : 2 * n_con], ci_proj[..., 2 * n_con :]
            w_f = con.kernel[ci_w:]
            w_f_zr, w_f_h = w_f[:, : 2 * n_con], w_f[:, 2 * n_con :]
            con_kernels = con.split_recurrent()
            gen_kernels = gen.split_recurrent()
            n_gen = c.gen_dim
            gen_w_zr, gen_w_h = gen.kernel[:, : 2 * n_gen], gen.kernel[:, 2 * n_gen :]
            gen_b_zr, gen_b_h = gen.bias[: 2 * n_gen], gen.bias[2 * n_gen :]
            co_w_mean, co_w_logvar = (
                self.co_layer.kernel[:, : self.co_dim],
                self.co_layer.kernel[:, self.co_dim :],
            )
            co_b_mean, co_b_logvar = (
                self.co_layer.bias[: self.co_dim],
                self.co_layer.bias[self.co_dim :],
            )
            mask_f = gen_mask(c.fac_dim)
            if sample:
                eps = rng.normal([n_t, batch, self.co_dim])
            else:
                eps = tf.zeros([n_t, batch, self.co_dim])
            co_dim = self.co_dim

            def step(state, elems):
                c_prev, g_prev, f_prev = state[0], state[1], state[2]
                zr_in, h_in, e, mf, mg = elems
                fm = f_prev * mf
                c_new = con.step(zr_in + fm @ w_f_zr, c_prev, con_kernels, h_in + fm @ w_f_h)
                co_mean = c_new @ co_w_mean + co_b_mean
                co_logvar = c_new @ co_w_logvar + co_b_logvar
                u = co_mean + tf.exp(0.5 * co_logvar) * e
                g_new = gen.step(
                    u @ gen_w_zr + gen_b_zr, g_prev, gen_kernels, u @ gen_w_h + gen_b_h
                )
                f_new = (g_new * mg) @ fac_kernel
                return (c_new, g_new, f_new, u, co_mean, co_logvar)

            zeros_co = tf.zeros([batch, co_dim])
            init = (tf.tile(self.con_h0, [batch, 1]), g0, f0, zeros_co, zeros_co, zeros_co)
            seq = tf.scan(step, (cip_zr, cip_h, eps, mask_f, mask_g), initializer=init)
            _, gens, facs, us, co_means, co_logvars = (tf.transpose(s, [1, 0, 2]) for s in seq)
        else:
            gen_bias = tf.tile(gen.bias[None], [batch, 1])
            gen_kernels = gen.split_recurrent()

            def step(state, mg):
                g_new = gen.step(gen_bias, state[0], gen_kernels)
                return (g_new, (g_new * mg) @ fac_kernel)

            seq = tf.scan(step, mask_g, initializer=(g0, f0))
            gens, facs = (tf.transpose(s, [1, 0, 2]) for s in seq)
            us = co_means = co_logvars = tf.zeros([batch, n_t, 0])
        logrates = self.readout(facs)
        return {
            "logrates": logrates,
            "rates": tf.exp(logrates),
            "factors": facs,
            "gen_states": gens,
            "gen_inputs": us,
            "co_means": co_means,
            "co_logvars": co_logvars,
            "gen_init": g0,
            "ic_sample": ic,
        }

    def __call__(
        self,
        data: Any,
        *,
        training: bool = False,
        sample: bool = True,
        rng: tf.random.Generator | None = None,
    ) -> dict[str, tf.Tensor]:
        """Full forward pass on ``data [B, T, N]`` (or just its encoder part ``[B, t_obs, n_heldin]``).

        Only ``data[:, :t_obs, :n_heldin]`` is read. With ``sample=True`` (the
        default) the IC and inferred inputs are posterior samples drawn with
        ``rng`` (a fresh seeded generator if None); ``training=True`` turns dropout on.
        Returns :meth:`decode`'s dict plus ``ic_mean``, ``ic_std`` and ``ci``.
        """
        if rng is None and (sample or training):
            rng = tf.random.Generator.from_seed(self.seed)
        x = tf.convert_to_tensor(data, tf.float32)
        ic_mean, ic_std, ci = self.encode(self.encoder_input(x), training=training, rng=rng)
        out = self.decode(ic_mean, ic_std, ci, training=training, sample=sample, rng=rng)
        out.update(ic_mean=ic_mean, ic_std=ic_std, ci=ci if ci is not None else tf.zeros([0]))
        return out

    def kl_per_trial(self, out: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """``(kl_ic [B], kl_co [B])``: each summed over dims (and time) for every trial."""
        kl_ic = self.ic_prior.kl(out["ic_mean"], out["ic_std"])
        if self.use_controller:
            kl_co = self.co_prior.kl(out["gen_inputs"], out["co_means"], out["co_logvars"])
        else:
            kl_co = tf.zeros_like(kl_ic)
        return kl_ic, kl_co

    def kl_terms(self, out: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """``(kl_ic, kl_co)``: each summed over dims (and time), averaged over the batch."""
        kl_ic, kl_co = self.kl_per_trial(out)
        return tf.reduce_mean(kl_ic), tf.reduce_mean(kl_co)
