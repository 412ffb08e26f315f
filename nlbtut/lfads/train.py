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

Robustness: every epoch ends with an atomic "last" checkpoint (weights, Adam
state, random-generator states, trainer state, history), so a killed run resumes
where it stopped; a non-finite loss skips the update, restores the state of the
start of the epoch and lowers the learning rate, and stops with
:class:`TrainingDivergedError` after ``nan_retries`` such events.
"""

from __future__ import annotations

import math
import os
import platform
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from nlbtut.errors import ConfigError, DataError, NLBTutError
from nlbtut.lfads.checkpoints import (
    TF_PREFIX,
    atomic_write_text,
    find_dir,
    read_json,
    write_dir_atomically,
    write_json,
)
from nlbtut.lfads.config import LFADSConfig, load_config
from nlbtut.lfads.data import LFADSData
from nlbtut.lfads.model import LFADS
from nlbtut.lfads.optim import Adam
from nlbtut.lfads.priors import poisson_nll

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


def ramp(epoch: int, start: int, increase: int) -> float:
    """Ramp weight at a 1-based ``epoch``: ``clip((epoch - start) / (increase + 1), 0, 1)``."""
    return float(min(max((epoch - start) / (increase + 1), 0.0), 1.0))


def _bits_per_spike(logrates: np.ndarray, spikes: np.ndarray) -> float:
    """Bits/spike of predicted log-rates vs a per-neuron mean-rate null (NLB definition)."""
    if spikes.size == 0 or spikes.sum() == 0:
        return float("nan")
    null = spikes.mean(axis=(0, 1), keepdims=True)
    null = np.where(null == 0, 1e-9, null)
    nll_model = np.sum(np.exp(logrates) - spikes * logrates)
    nll_null = np.sum(null - spikes * np.log(null))
    return float((nll_null - nll_model) / spikes.sum() / _LN2)


def _device_name() -> str:
    gpus = tf.config.list_logical_devices("GPU")
    return f"GPU ({len(gpus)})" if gpus else f"CPU ({platform.processor() or platform.machine()})"


def _resolve_jit(setting: str | bool) -> bool:
    """``jit_compile='auto'``: XLA on a GPU, off on a CPU (measured: bench/LFADS.md)."""
    if setting == "auto":
        return bool(tf.config.list_logical_devices("GPU"))
    return bool(setting)


class LFADSTrainer:
    """Trains one LFADS model in a run directory, with checkpoints and resume.

    Parameters
    ----------
    config : LFADSConfig
        Model, training and inference settings (and the seed).
    data : LFADSData
        Training data from :func:`nlbtut.lfads.format_lfads_data`.
    run_dir : path
        Where config, history, checkpoints and the final model go.
    resume : bool
        If ``run_dir`` already holds checkpoints of the same model, continue from
        the last one (default). With ``resume=False`` such a directory is an error.
    progress : bool
        Show a tqdm progress bar with the current losses.

    Example
    -------
    >>> trainer = LFADSTrainer(load_config("tiny"), data, "runs/tiny")  # doctest: +SKIP
    >>> trainer.train_epochs(5)                                         # doctest: +SKIP
    >>> trainer.set_hparams(lr=1e-3, cd_rate=0.2)                       # doctest: +SKIP
    >>> trainer.history.tail()                                          # doctest: +SKIP
    """

    def __init__(
        self,
        config: LFADSConfig,
        data: LFADSData,
        run_dir: str | os.PathLike,
        *,
        resume: bool = True,
        progress: bool = True,
    ) -> None:
        if not isinstance(config, LFADSConfig):
            raise ConfigError(
                f"config must be an LFADSConfig (see load_config), got {type(config).__name__}"
            )
        if not isinstance(data, LFADSData):
            raise DataError(
                f"data must be an LFADSData (see format_lfads_data), got {type(data).__name__}"
            )
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.progress = progress
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
        n_train = len(data.train_inds)
        self.batch_size = min(tc.batch_size, n_train)
        if n_train < 1 or len(data.valid_inds) < 1:
            raise DataError("LFADS needs at least one training and one validation trial")
        self._setup_run_dir(resume)

    # ------------------------------------------------------------ run directory
    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def _setup_run_dir(self, resume: bool) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        last = find_dir(self.checkpoint_dir / "last")
        cfg_path = self.run_dir / "config.yaml"
        self.resumed_from: int | None = None
        if last is not None:
            if not resume:
                raise ConfigError(
                    f"{self.run_dir} already holds a training run; pass resume=True to continue it "
                    "or choose another run directory"
                )
            if cfg_path.is_file():
                old = load_config(cfg_path)
                if old.model != self.config.model or old.seed != self.config.seed:
                    raise ConfigError(
                        f"{self.run_dir} holds a run with a different model or seed; "
                        "use another run directory or the same config to resume"
                    )
            info = (
                read_json(self.run_dir / "run.json")
                if (self.run_dir / "run.json").is_file()
                else {}
            )
            if info.get("data_dims") not in (None, self.data.dims):
                raise DataError(
                    f"{self.run_dir} was trained on data of dimensions {info.get('data_dims')}, "
                    f"not {self.data.dims}; use another run directory"
                )
            self.restore_checkpoint(last)
            self.resumed_from = self.epoch
        self.config.to_yaml(cfg_path)
        info = {
            "nlbtut_version": _package_version(),
            "tensorflow_version": tf.__version__,
            "numpy_version": np.__version__,
            "python": platform.python_version(),
            "seed": self.config.seed,
            "config_name": self.config.name,
            "data_dims": self.data.dims,
            "n_train_trials": int(len(self.data.train_inds)),
            "n_valid_trials": int(len(self.data.valid_inds)),
            "device": _device_name(),
            "jit_compile": self.jit_compile,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if (self.run_dir / "run.json").is_file():
            old_info = read_json(self.run_dir / "run.json")
            info["created"] = old_info.get("created", info["created"])
            info["resumed_at_epochs"] = old_info.get("resumed_at_epochs", [])
        if self.resumed_from is not None:
            info.setdefault("resumed_at_epochs", []).append(self.resumed_from)
        self._run_info = info
        write_json(self.run_dir / "run.json", info)

    def _update_run_info(self, **kw: Any) -> None:
        self._run_info.update(kw)
        write_json(self.run_dir / "run.json", self._run_info)

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
        tc = self.config.train
        return (
            ramp(epoch, tc.kl_start_epoch, tc.kl_increase_epochs),
            ramp(epoch, tc.l2_start_epoch, tc.l2_increase_epochs),
        )

    @property
    def last_ramp_epoch(self) -> int:
        tc = self.config.train
        return (
            max(
                tc.kl_start_epoch + tc.kl_increase_epochs, tc.l2_start_epoch + tc.l2_increase_epochs
            )
            + 1
        )

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
        snap = self._snapshot()
        while True:
            metrics = self._run_train_epoch()
            if metrics is not None:
                break
            self.nan_events += 1
            self._restore_snapshot(snap)
            if self.nan_events > tc.nan_retries:
                self._update_run_info(status="diverged")
                raise TrainingDivergedError(
                    f"LFADS training diverged: the loss was NaN/inf in epoch {epoch} after "
                    f"{tc.nan_retries} restarts with lower learning rates (now {self.hparams['lr']:.3g}). "
                    f"Try a lower lr_init, a larger batch_size or more dropout. "
                    f"The last good checkpoint is in {self.checkpoint_dir / 'last'}."
                )
            new_lr = self.hparams["lr"] * tc.nan_lr_factor
            warnings.warn(
                f"non-finite LFADS loss in epoch {epoch}: restored the state of the epoch start and "
                f"lowered the learning rate to {new_lr:.3g} ({self.nan_events}/{tc.nan_retries})",
                RuntimeWarning,
                stacklevel=2,
            )
            self._hp["lr"].assign(new_lr)
        val = self._validate()
        l2 = metrics["l2"]
        hp = self.hparams
        val["val_loss"] = (
            val["val_nll"]
            + l2_r * l2
            + kl_r * (hp["kl_ic_weight"] * val["val_kl_ic"] + hp["kl_co_weight"] * val["val_kl_co"])
        )
        prev = self.smth_val_nll
        self.smth_val_nll = (
            val["val_nll"]
            if prev is None or not math.isfinite(prev)
            else 0.3 * prev + 0.7 * val["val_nll"]
        )
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
        improved = False
        if kl_r >= 1.0 and l2_r >= 1.0 and math.isfinite(self.smth_val_nll):
            if self.best_val is None or self.smth_val_nll < self.best_val:
                self.best_val, self.best_epoch, improved = self.smth_val_nll, epoch, True
        self._maybe_decay_lr(epoch)
        self._write_history()
        if improved:
            self.save_checkpoint(self.checkpoint_dir / "best")
        if epoch % tc.checkpoint_every == 0 or improved:
            self.save_checkpoint(self.checkpoint_dir / "last")
        return row

    def _maybe_decay_lr(self, epoch: int) -> None:
        tc = self.config.train
        p = tc.lr_patience
        if (
            tc.lr_decay >= 1.0
            or epoch <= self.last_ramp_epoch + p
            or epoch - self.last_decay_epoch < p
        ):
            return
        losses = [r["val_loss"] for r in self._rows[-(p + 1) :]]
        if len(losses) == p + 1 and losses[-1] > max(losses[:-1]):
            self._hp["lr"].assign(max(self.hparams["lr"] * tc.lr_decay, tc.lr_stop))
            self.last_decay_epoch = epoch

    def should_stop(self) -> str | None:
        """Why training should stop now (None to continue)."""
        tc = self.config.train
        if self.epoch >= tc.max_epochs:
            return f"reached max_epochs={tc.max_epochs}"
        if tc.lr_decay < 1.0 and self.hparams["lr"] <= tc.lr_stop * (1 + 1e-6):
            return f"learning rate decayed to lr_stop={tc.lr_stop}"
        if self.best_epoch is not None and self.epoch - self.best_epoch >= tc.patience:
            return f"no new best smoothed validation NLL for {tc.patience} epochs (early stopping)"
        if tc.max_train_seconds is not None and self.train_seconds >= tc.max_train_seconds:
            return f"reached max_train_seconds={tc.max_train_seconds:g}"
        return None

    def train_epochs(self, n: int) -> pd.DataFrame:
        """Train up to ``n`` more epochs (fewer if a stopping rule fires); returns their history rows."""
        if int(n) != n or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        start = len(self._rows)
        bar = self._bar(total=n)
        try:
            for _ in range(int(n)):
                reason = self.should_stop()
                if reason is not None:
                    self.stop_reason = reason
                    break
                row = self.train_epoch()
                self._bar_update(bar, row)
        finally:
            if bar is not None:
                bar.close()
        return self.history.iloc[start:]

    def train(self) -> pd.DataFrame:
        """Train until a stopping rule fires, restore the best weights and save the final model."""
        tc = self.config.train
        bar = self._bar(total=tc.max_epochs, initial=self.epoch)
        try:
            while True:
                reason = self.should_stop()
                if reason is not None:
                    self.stop_reason = reason
                    break
                row = self.train_epoch()
                self._bar_update(bar, row)
        finally:
            if bar is not None:
                bar.close()
        self.finish()
        return self.history

    def finish(self) -> None:
        """Restore the best (post-ramp) weights, if any, and write ``run_dir/model``."""
        best = find_dir(self.checkpoint_dir / "best")
        if best is not None:
            tf.train.Checkpoint(model=self.model).read(str(best / TF_PREFIX)).expect_partial()
        else:
            warnings.warn(
                "no post-ramp epoch was reached, so no best model exists; keeping the last weights "
                f"(ramps end at epoch {self.last_ramp_epoch}, trained {self.epoch})",
                stacklevel=2,
            )

        def fill(tmp: Path) -> None:
            tf.train.Checkpoint(model=self.model).write(str(tmp / TF_PREFIX))
            write_json(
                tmp / "model.json",
                {"data_dims": self.data.dims, "epoch": self.best_epoch or self.epoch},
            )

        write_dir_atomically(self.run_dir / "model", fill)
        self._update_run_info(
            status="finished",
            stop_reason=self.stop_reason,
            epochs=self.epoch,
            best_epoch=self.best_epoch,
            best_val_nll_smth=self.best_val,
            train_seconds=round(self.train_seconds, 2),
        )

    # ------------------------------------------------------------ checkpoints
    def _state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "train_seconds": self.train_seconds,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "smth_val_nll": self.smth_val_nll,
            "last_decay_epoch": self.last_decay_epoch,
            "nan_events": self.nan_events,
            "hparams": self.hparams,
            "np_rng": self.np_rng.bit_generator.state,
        }

    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Write weights, Adam state, RNG states, trainer state and history to folder ``path`` (atomically)."""
        path = Path(path)
        state = self._state()
        history = self.history.to_csv(index=False)

        def fill(tmp: Path) -> None:
            self._ckpt.write(str(tmp / TF_PREFIX))
            write_json(tmp / "state.json", state)
            atomic_write_text(tmp / "history.csv", history)

        write_dir_atomically(path, fill)
        return path

    def restore_checkpoint(self, path: str | os.PathLike, *, restore_hparams: bool = True) -> None:
        """Restore a folder written by :meth:`save_checkpoint` (weights, optimiser, RNG, state, history).

        With ``restore_hparams=False`` the current hyperparameters are kept (for
        population-based training, which sets new ones after copying a winner).
        """
        path = Path(path)
        found = find_dir(path)
        if found is None or not (found / "state.json").is_file():
            raise DataError(f"{path} is not an LFADS checkpoint folder (no state.json)")
        keep = self.hparams
        self._ckpt.read(str(found / TF_PREFIX)).assert_existing_objects_matched()
        state = read_json(found / "state.json")
        self.epoch = int(state["epoch"])
        self.train_seconds = float(state["train_seconds"])
        self.best_val = state["best_val"]
        self.best_epoch = state["best_epoch"]
        self.smth_val_nll = state["smth_val_nll"]
        self.last_decay_epoch = int(state["last_decay_epoch"])
        self.nan_events = int(state["nan_events"])
        self.np_rng.bit_generator.state = state["np_rng"]
        hist = found / "history.csv"
        text = hist.read_text() if hist.is_file() else ""
        self._rows = pd.read_csv(hist).to_dict("records") if text.strip() else []
        for name, value in (state["hparams"] if restore_hparams else keep).items():
            self._hp[name].assign(value)

    def _write_history(self) -> None:
        atomic_write_text(self.run_dir / "history.csv", self.history.to_csv(index=False))

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


def _package_version() -> str:
    try:
        from nlbtut import __version__

        return __version__
    except Exception:  # pragma: no cover
        return "unknown"


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
