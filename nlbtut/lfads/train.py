"""Training LFADS: the loss, the compiled step, ramps, LR decay, early stopping, checkpoints.

:class:`LFADSTrainer` owns a model, its Adam optimiser, the random generators and
a run directory. Its hyperparameters (learning rate, dropout, coordinated dropout,
KL and L2 weights, loss scale, gradient clip) live in ``tf.Variable``s, so
:meth:`LFADSTrainer.set_hparams` changes them inside the compiled step without
retracing; population-based training builds on ``train_epochs`` /
``save_checkpoint`` / ``restore_checkpoint`` / ``set_hparams``.

Loss (lfads-spec 2.1)::

    loss = loss_scale * (NLL + r_l2 * L2 + r_kl * (w_ic KL_ic + w_co KL_co))

with NLL the Poisson NLL averaged over every element of the reconstruction
(held-in and held-out neurons, observed and forward bins), L2 the scaled squared
norms of the recurrent kernels divided by their sizes, and ramps
``r(epoch) = clip((epoch - start) / (increase + 1), 0, 1)`` (1-based epochs).

Coordinated dropout follows lfads-torch: the keep-mask is drawn over what the
encoder sees (held-in neurons, observed bins) only; the loss gradient flows only
through the dropped elements there, and always through held-out neurons and
forward bins (the TF2 reference also thins those; lfads-spec 1.7). The loss value
is unchanged.

The epoch-level rules (ramps, smoothed NLL, best epoch, LR plateau, stopping) are
pure functions in :mod:`nlbtut.lfads.schedule`; reading and writing the run
directory (resume, provenance, checkpoints, final model, export) is
:class:`nlbtut.lfads.rundir.RunDirMixin`.

Robustness: every epoch ends with an atomic "last" checkpoint (weights, Adam
state, random-generator states, trainer state, history), so a killed run resumes
where it stopped; a non-finite loss skips the update, restores the state of the
start of the epoch and lowers the learning rate, and stops with
:class:`TrainingDivergedError` after ``nan_retries`` such events.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from nlbtut.errors import ConfigError, DataError, NLBTutError
from nlbtut.lfads.config import LFADSConfig, load_config
from nlbtut.lfads.data import LFADSData
from nlbtut.lfads.model import LFADS
from nlbtut.lfads.optim import Adam
from nlbtut.lfads.priors import poisson_nll
from nlbtut.lfads.rundir import RunDirMixin
from nlbtut.lfads.schedule import (
    is_new_best,
    last_ramp_epoch,
    plateau_decay_due,
    ramp,
    ramp_weights,
    smooth_nll,
    stop_reason,
)

__all__ = ["LFADSTrainer", "train_lfads", "TrainingDivergedError", "HPARAM_NAMES", "ramp"]


class TrainingDivergedError(NLBTutError, RuntimeError):
    """The loss stayed NaN/inf after the allowed restarts with lower learning rates."""


# hyperparameters held in tf.Variables (name -> section of the config it comes from)
HPARAM_NAMES = (
    "lr",
    "dropout_rate",
    "cd_rate",
    "cd_pass_rate",
    "kl_ic_weight",
    "kl_co_weight",
    "l2_gen_scale",
    "l2_con_scale",
    "l2_ic_enc_scale",
    "l2_ci_enc_scale",
    "loss_scale",
    "max_grad_norm",
)
_HP_ALIASES = {"learning_rate": "lr", "lr_init": "lr"}
_L2_GROUP_SCALE = {
    "ic_enc": "l2_ic_enc_scale",
    "ci_enc": "l2_ci_enc_scale",
    "gen": "l2_gen_scale",
    "con": "l2_con_scale",
}
_LN2 = math.log(2.0)


def _bits_per_spike(logrates: np.ndarray, spikes: np.ndarray) -> float:
    """Bits/spike of predicted log-rates vs a per-neuron mean-rate null (NLB definition)."""
    if spikes.size == 0 or spikes.sum() == 0:
        return float("nan")
    null = spikes.mean(axis=(0, 1), keepdims=True)
    null = np.where(null == 0, 1e-9, null)
    nll_model = np.sum(np.exp(logrates) - spikes * logrates)
    nll_null = np.sum(null - spikes * np.log(null))
    return float((nll_null - nll_model) / spikes.sum() / _LN2)


def _resolve_jit(setting: str | bool) -> bool:
    """``jit_compile='auto'``: XLA on a GPU, off on a CPU (measured: bench/LFADS.md)."""
    if setting == "auto":
        return bool(tf.config.list_logical_devices("GPU"))
    return bool(setting)


class LFADSTrainer(RunDirMixin):
    """Trains one LFADS model in a run directory, with checkpoints and resume.

    Parameters
    ----------
    config : LFADSConfig
        Model, training and inference settings (and the seed).
    data : LFADSData
        Training data from :func:`nlbtut.lfads.format_lfads_data`.
    run_dir : path or None
        Where config, history, checkpoints and the final model go. ``None`` only
        with ``autosave=False``.
    resume : bool
        If ``run_dir`` already holds checkpoints of the same model, continue from
        the last one (default), with the run's own ``config.yaml``: a different
        model or seed is a :class:`ConfigError` naming the differing keys; other
        differing settings (training, inference, name) are ignored with a warning
        naming them (see :attr:`ignored_settings`). With ``resume=False`` such a
        directory is an error.
    progress : bool
        Show a tqdm progress bar with the current losses.
    autosave : bool
        Write ``config.yaml`` and ``run.json`` at the start and ``history.csv`` and
        checkpoints after every epoch (default). With ``False`` the trainer neither
        reads nor writes ``run_dir`` on its own (no resume; the best weights are
        kept in memory): population-based training saves explicitly with
        :meth:`save_checkpoint` and :meth:`export_model`.

    Example
    -------
    >>> trainer = LFADSTrainer(load_config("tiny"), data, "runs/tiny")  # doctest: +SKIP
    >>> trainer.train_epochs(5)                                         # doctest: +SKIP
    >>> trainer.set_hparams(lr=1e-3, cd_rate=0.2)                       # doctest: +SKIP
    >>> trainer.history.tail()                                          # doctest: +SKIP
    >>> trainer.export_model("runs/tiny_copy")                          # doctest: +SKIP
    """

    def __init__(
        self,
        config: LFADSConfig,
        data: LFADSData,
        run_dir: str | os.PathLike | None,
        *,
        resume: bool = True,
        progress: bool = True,
        autosave: bool = True,
    ) -> None:
        if not isinstance(config, LFADSConfig):
            raise ConfigError(
                f"config must be an LFADSConfig (see load_config), got {type(config).__name__}"
            )
        if not isinstance(data, LFADSData):
            raise DataError(
                f"data must be an LFADSData (see format_lfads_data), got {type(data).__name__}"
            )
        if run_dir is None and autosave:
            raise ConfigError("run_dir is required (it may be None only with autosave=False)")
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.autosave = bool(autosave)
        self.resumed_from: int | None = None
        #: settings requested but ignored because the run directory's own config was kept:
        #: ``"section.field" -> (run's value, requested value)``
        self.ignored_settings: dict[str, tuple[Any, Any]] = {}
        n_train = len(data.train_inds)
        if n_train < 1 or len(data.valid_inds) < 1:
            raise DataError("LFADS needs at least one training and one validation trial")
        last = self._check_existing_run(resume) if self.autosave else None
        config = self.config  # the run's own config when resuming
        tc = config.train
        self.model = LFADS(
            config.model, data.n_heldin, data.n_heldout, data.t_obs, data.t_fwd, seed=config.seed
        )
        if config.model.init_readout_bias:
            # log of each neuron's mean count per bin (training trials), so early epochs need not
            # learn firing rates from exp(0) = 1 spike/bin; restored checkpoints overwrite it
            mean_counts = data.train.mean(axis=(0, 1))
            self.model.readout.bias.assign(np.log(np.maximum(mean_counts, 1e-3)).astype(np.float32))
        self.variables = list(self.model.trainable_variables)
        self.optimizer = Adam(self.variables, tc.lr_init, epsilon=tc.adam_epsilon)
        self.rng = tf.random.Generator.from_seed(config.seed)
        self.np_rng = np.random.default_rng([config.seed, 1])
        m = config.model
        self._hp: dict[str, tf.Variable] = {
            "lr": self.optimizer.lr,
            "dropout_rate": self.model.dropout_rate,
        }
        for name in HPARAM_NAMES[2:]:
            value = getattr(m, name) if hasattr(m, name) else getattr(tc, name)
            self._hp[name] = tf.Variable(float(value), trainable=False, name=name)
        self.kl_ramp = tf.Variable(0.0, trainable=False, name="kl_ramp")
        self.l2_ramp = tf.Variable(0.0, trainable=False, name="l2_ramp")
        self._l2_groups = self.model.l2_kernels()
        self._ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, rng=self.rng)
        self.jit_compile = _resolve_jit(tc.jit_compile)
        self._train_step = tf.function(
            self._train_step_impl,
            jit_compile=self.jit_compile,
            reduce_retracing=True,
            autograph=False,
        )
        self._valid_step = tf.function(
            self._valid_step_impl,
            jit_compile=self.jit_compile,
            reduce_retracing=True,
            autograph=False,
        )
        # trainer state (persisted in checkpoints)
        self.epoch = 0
        self.train_seconds = 0.0
        self.best_val: float | None = None
        self.best_epoch: int | None = None
        self.smth_val_nll: float | None = None
        self.last_decay_epoch = 0
        self.nan_events = 0
        self.stop_reason: str | None = None
        self._rows: list[dict[str, Any]] = []
        self._best_weights: list[np.ndarray] | None = None  # autosave=False: best in memory
        self._last_saved_epoch: int | None = None
        self.batch_size = min(tc.batch_size, n_train)
        self._run_info = self._base_run_info()
        if self.autosave:
            self._open_run_dir(last)

    # ------------------------------------------------------------ hyperparameters
    @property
    def hparams(self) -> dict[str, float]:
        """Current values of the variable-held hyperparameters."""
        return {k: float(v.numpy()) for k, v in self._hp.items()}

    def set_hparams(self, **kw: float) -> None:
        """Re-assign hyperparameters in place (no retracing).

        Names: ``lr`` (alias ``learning_rate``/``lr_init``), ``dropout_rate``, ``cd_rate``,
        ``cd_pass_rate``, ``kl_ic_weight``, ``kl_co_weight``, ``l2_gen_scale``,
        ``l2_con_scale``, ``l2_ic_enc_scale``, ``l2_ci_enc_scale``, ``loss_scale``,
        ``max_grad_norm``. Values are range-checked like config values.
        """
        updates: dict[str, float] = {}
        for key, value in kw.items():
            name = _HP_ALIASES.get(key, key)
            if name not in self._hp:
                raise ConfigError(
                    f"unknown hyperparameter {key!r}; expected one of {', '.join(HPARAM_NAMES)}"
                )
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float, np.floating))
                or not math.isfinite(value)
            ):
                raise ConfigError(f"hyperparameter {name} must be a finite number, got {value!r}")
            updates[name] = float(value)
        if "lr" in updates and not updates["lr"] > 0:
            raise ConfigError(f"hyperparameter lr must be > 0, got {updates['lr']!r}")
        cfg_updates = {k: v for k, v in updates.items() if k != "lr"}
        if cfg_updates:
            # validates ranges (rates in [0, 1), weights >= 0, ...)
            self.config = self.config.replace(**cfg_updates)
        for name, value in updates.items():
            self._hp[name].assign(value)

    # ------------------------------------------------------------ compiled steps
    def _l2_term(self) -> tf.Tensor:
        total = tf.constant(0.0)
        size = tf.constant(0.0)
        for group, kernels in self._l2_groups.items():
            scale = self._hp[_L2_GROUP_SCALE[group]]
            for k in kernels:
                total += scale * 0.5 * tf.reduce_sum(tf.square(k))
                size += tf.where(scale > 0, float(np.prod(k.shape)), 0.0)
        return total / tf.maximum(size, 1.0)

    def _cd_masks(self, x_enc: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Coordinated dropout: the encoder input and the gradient mask over the full output."""
        cd = self._hp["cd_rate"]
        keep = tf.cast(self.rng.uniform(tf.shape(x_enc)) >= cd, tf.float32)
        x_in = x_enc * keep / (1.0 - cd)
        passed = tf.cast(self.rng.uniform(tf.shape(x_enc)) < self._hp["cd_pass_rate"], tf.float32)
        grad_enc = tf.maximum(1.0 - keep, passed)
        m = self.model
        grad_mask = tf.pad(grad_enc, [[0, 0], [0, m.t_fwd], [0, m.n_heldout]], constant_values=1.0)
        use_cd = cd > 0
        return tf.where(use_cd, x_in, x_enc), tf.where(use_cd, grad_mask, tf.ones_like(grad_mask))

    @staticmethod
    def masked_nll(batch: tf.Tensor, logrates: tf.Tensor, grad_mask: tf.Tensor) -> tf.Tensor:
        """Mean Poisson NLL whose gradient flows only where ``grad_mask`` is 1 (value unchanged)."""
        lr_cd = tf.stop_gradient(logrates * (1.0 - grad_mask)) + logrates * grad_mask
        return tf.reduce_mean(poisson_nll(batch, lr_cd))

    def _train_step_impl(self, batch: tf.Tensor) -> dict[str, tf.Tensor]:
        model = self.model
        x_enc = model.encoder_input(batch)
        x_in, grad_mask = self._cd_masks(x_enc)
        with tf.GradientTape() as tape:
            ic_mean, ic_std, ci = model.encode(x_in, training=True, rng=self.rng)
            out = model.decode(ic_mean, ic_std, ci, training=True, sample=True, rng=self.rng)
            out.update(ic_mean=ic_mean, ic_std=ic_std)
            nll = self.masked_nll(batch, out["logrates"], grad_mask)
            kl_ic, kl_co = model.kl_terms(out)
            l2 = self._l2_term()
            hp = self._hp
            loss = (
                nll
                + self.l2_ramp * l2
                + self.kl_ramp * (hp["kl_ic_weight"] * kl_ic + hp["kl_co_weight"] * kl_co)
            )
            scaled = hp["loss_scale"] * loss
        grads = tape.gradient(scaled, self.variables)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, self.variables)]
        gnorm = tf.linalg.global_norm(grads)
        finite = tf.math.is_finite(scaled) & tf.math.is_finite(gnorm)
        clipped, _ = tf.clip_by_global_norm(grads, hp["max_grad_norm"], use_norm=gnorm)

        def apply() -> tf.Tensor:
            self.optimizer.apply(clipped, self.variables)
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        return {
            "loss": loss,
            "nll": nll,
            "kl_ic": kl_ic,
            "kl_co": kl_co,
            "l2": l2,
            "grad_norm": gnorm,
            "finite": finite,
        }

    def _valid_step_impl(self, batch: tf.Tensor) -> dict[str, tf.Tensor]:
        out = self.model(batch, training=False, sample=True, rng=self.rng)
        kl_ic, kl_co = self.model.kl_per_trial(out)
        return {"logrates": out["logrates"], "kl_ic": kl_ic, "kl_co": kl_co}

    # ------------------------------------------------------------ epochs
    def _ramps(self, epoch: int) -> tuple[float, float]:
        return ramp_weights(epoch, self.config.train)

    @property
    def last_ramp_epoch(self) -> int:
        """The first epoch at which the KL and L2 ramps are complete."""
        return last_ramp_epoch(self.config.train)

    def _snapshot(self) -> list[np.ndarray]:
        return [v.numpy() for v in self._ckpt_variables()]

    def _ckpt_variables(self) -> list[tf.Variable]:
        opt = self.optimizer
        return [*self.variables, *opt.m, *opt.v, opt.iterations]

    def _restore_snapshot(self, snap: list[np.ndarray]) -> None:
        for var, value in zip(self._ckpt_variables(), snap):
            var.assign(value)

    def _run_train_epoch(self) -> dict[str, float] | None:
        """One pass over the training trials; None if a non-finite loss occurred."""
        train = self.data.train
        perm = self.np_rng.permutation(len(train))
        bs = self.batch_size
        sums: dict[str, float] = {}
        n_steps = len(train) // bs
        for s in range(n_steps):
            batch = tf.constant(train[perm[s * bs : (s + 1) * bs]])
            res = self._train_step(batch)
            if not bool(res["finite"]):
                return None
            for k, v in res.items():
                if k != "finite":
                    sums[k] = sums.get(k, 0.0) + float(v)
        return {k: v / n_steps for k, v in sums.items()}

    def _validate(self) -> dict[str, float]:
        valid = self.data.valid
        bs = self.batch_size
        logrates, kl_ic, kl_co = [], [], []
        for s in range(0, len(valid), bs):
            batch = valid[s : s + bs]
            n_real = len(batch)
            if n_real < bs:  # one batch shape: no retracing (no second XLA compile)
                batch = np.concatenate(
                    [batch, np.zeros((bs - n_real, *batch.shape[1:]), np.float32)]
                )
            res = self._valid_step(tf.constant(batch))
            logrates.append(res["logrates"].numpy()[:n_real])
            kl_ic.append(res["kl_ic"].numpy()[:n_real])
            kl_co.append(res["kl_co"].numpy()[:n_real])
        lr_ = np.concatenate(logrates).astype(np.float64)
        spikes = valid.astype(np.float64)
        nll = float(
            tf.reduce_mean(
                poisson_nll(tf.constant(spikes, tf.float32), tf.constant(lr_, tf.float32))
            ).numpy()
        )
        d = self.data
        return {
            "val_nll": nll,
            "val_kl_ic": float(np.concatenate(kl_ic).mean()),
            "val_kl_co": float(np.concatenate(kl_co).mean()),
            "val_co_bps": _bits_per_spike(
                lr_[:, : d.t_obs, d.n_heldin :], spikes[:, : d.t_obs, d.n_heldin :]
            ),
            "val_fp_bps": _bits_per_spike(lr_[:, d.t_obs :], spikes[:, d.t_obs :]),
        }

    def _train_with_nan_guard(self, epoch: int) -> dict[str, float]:
        """One training pass; a non-finite loss restores the epoch start, lowers the LR and retries.

        After ``nan_retries`` such events, :class:`TrainingDivergedError`.
        """
        tc = self.config.train
        snap = self._snapshot()
        while True:
            metrics = self._run_train_epoch()
            if metrics is not None:
                break
            self.nan_events += 1
            self._restore_snapshot(snap)
            if self.nan_events > tc.nan_retries:
                self._update_run_info(status="diverged")
                where = (
                    f" The last good checkpoint is in {self.checkpoint_dir / 'last'}."
                    if self.autosave
                    else ""
                )
                raise TrainingDivergedError(
                    f"LFADS training diverged: the loss was NaN/inf in epoch {epoch} after "
                    f"{tc.nan_retries} restarts with lower learning rates (now {self.hparams['lr']:.3g}). "
                    f"Try a lower lr_init, a larger batch_size or more dropout.{where}"
                )
            new_lr = self.hparams["lr"] * tc.nan_lr_factor
            warnings.warn(
                f"non-finite LFADS loss in epoch {epoch}: restored the state of the epoch start and "
                f"lowered the learning rate to {new_lr:.3g} ({self.nan_events}/{tc.nan_retries})",
                RuntimeWarning,
                stacklevel=3,  # the caller of train_epoch
            )
            self._hp["lr"].assign(new_lr)
        return metrics

    def train_epoch(self) -> dict[str, Any]:
        """Train one epoch, validate, update schedules, write history and checkpoints.

        Returns the history row of the epoch.
        """
        tc = self.config.train
        epoch = self.epoch + 1
        kl_r, l2_r = self._ramps(epoch)
        self.kl_ramp.assign(kl_r)
        self.l2_ramp.assign(l2_r)
        t0 = time.perf_counter()
        metrics = self._train_with_nan_guard(epoch)
        val = self._validate()
        l2 = metrics["l2"]
        hp = self.hparams
        val["val_loss"] = (
            val["val_nll"]
            + l2_r * l2
            + kl_r * (hp["kl_ic_weight"] * val["val_kl_ic"] + hp["kl_co_weight"] * val["val_kl_co"])
        )
        self.smth_val_nll = smooth_nll(self.smth_val_nll, val["val_nll"])
        elapsed = time.perf_counter() - t0
        self.train_seconds += elapsed
        self.epoch = epoch
        row: dict[str, Any] = {"epoch": epoch, **metrics, **val, "val_nll_smth": self.smth_val_nll}
        row.update({f"hp_{k}": v for k, v in hp.items()})
        row.update(
            kl_ramp=kl_r,
            l2_ramp=l2_r,
            nan_events=self.nan_events,
            epoch_seconds=elapsed,
            train_seconds=self.train_seconds,
        )
        self._rows.append(row)
        # best model (only among post-ramp epochs)
        improved = is_new_best(kl_r, l2_r, self.smth_val_nll, self.best_val)
        if improved:
            self.best_val, self.best_epoch = self.smth_val_nll, epoch
        self._maybe_decay_lr(epoch)
        if not self.autosave:
            if improved:
                self._best_weights = [v.numpy() for v in self.model.variables]
            return row
        self._write_history()
        if improved:
            self.save_checkpoint(self.checkpoint_dir / "best")
        if epoch % tc.checkpoint_every == 0 or improved:
            self._save_last()
        return row

    def _maybe_decay_lr(self, epoch: int) -> None:
        tc = self.config.train
        losses = [r["val_loss"] for r in self._rows[-(tc.lr_patience + 1) :]]
        if plateau_decay_due(losses, epoch, tc, self.last_decay_epoch):
            self._hp["lr"].assign(max(self.hparams["lr"] * tc.lr_decay, tc.lr_stop))
            self.last_decay_epoch = epoch

    def should_stop(self) -> str | None:
        """Why training should stop now (None to continue); see :func:`nlbtut.lfads.schedule.stop_reason`."""
        return stop_reason(
            self.config.train,
            epoch=self.epoch,
            lr=self.hparams["lr"],
            best_epoch=self.best_epoch,
            train_seconds=self.train_seconds,
        )

    def _run_epochs(self, n: int | None, bar: Any) -> None:
        """Train up to ``n`` epochs (``None``: no limit) until a stopping rule fires."""
        done = 0
        try:
            while n is None or done < n:
                reason = self.should_stop()
                if reason is not None:
                    self.stop_reason = reason
                    break
                row = self.train_epoch()
                self._bar_update(bar, row)
                done += 1
        finally:
            if bar is not None:
                bar.close()

    def train_epochs(self, n: int) -> pd.DataFrame:
        """Train up to ``n`` more epochs (fewer if a stopping rule fires); returns their history rows."""
        if int(n) != n or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        start = len(self._rows)
        self._run_epochs(int(n), self._bar(total=n))
        return self.history.iloc[start:]

    def train(self) -> pd.DataFrame:
        """Train until a stopping rule fires, restore the best weights and save the final model."""
        self._run_epochs(None, self._bar(total=self.config.train.max_epochs, initial=self.epoch))
        self.finish()
        return self.history

    @property
    def history(self) -> pd.DataFrame:
        """One row per trained epoch: losses, validation metrics, hyperparameters, timing."""
        return pd.DataFrame(self._rows)

    # ------------------------------------------------------------ progress
    def _bar(self, total: int, initial: int = 0):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=f"LFADS {self.config.name}", unit="epoch")

    @staticmethod
    def _bar_update(bar, row: dict[str, Any]) -> None:
        if bar is None:
            return
        bar.update(1)
        bar.set_postfix(
            nll=f"{row['nll']:.4f}",
            val_nll=f"{row['val_nll']:.4f}",
            co_bps=f"{row['val_co_bps']:.3f}",
            lr=f"{row['hp_lr']:.2g}",
            refresh=False,
        )


def train_lfads(
    config: LFADSConfig | str,
    data: LFADSData,
    run_dir: str | os.PathLike,
    *,
    resume: bool = True,
    progress: bool = True,
    **overrides: Any,
) -> LFADSTrainer:
    """Train an LFADS model until it stops, restore its best weights and save it.

    Parameters
    ----------
    config : LFADSConfig or str
        A config, or a preset name / YAML path for :func:`load_config`.
    data : LFADSData
        From :func:`format_lfads_data`.
    run_dir : path
        Run directory (config.yaml, run.json, history.csv, checkpoints/, model/).
        If it holds an interrupted run of the same config, training resumes there.
    resume, progress : bool
        See :class:`LFADSTrainer`.
    **overrides
        Config overrides (``max_epochs=50``, ``lr_init=1e-3``, ...).

    Returns
    -------
    LFADSTrainer
        ``.model`` (best weights), ``.history`` (a DataFrame), ``.run_dir``.

    Example
    -------
    >>> trainer = train_lfads("cpu", data, "runs/maze_small")  # doctest: +SKIP
    >>> trainer.history[["epoch", "val_nll", "val_co_bps"]].tail()  # doctest: +SKIP
    """
    cfg = (
        load_config(config, **overrides)
        if not isinstance(config, LFADSConfig) or overrides
        else config
    )
    trainer = LFADSTrainer(cfg, data, run_dir, resume=resume, progress=progress)
    trainer.train()
    return trainer
