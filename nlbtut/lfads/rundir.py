"""The run directory of an LFADS training run: resume, provenance, checkpoints, final model, export.

:class:`RunDirMixin` holds the part of :class:`nlbtut.lfads.LFADSTrainer` that
reads and writes the run directory (layout in :mod:`nlbtut.lfads.checkpoints`):

* on start, :meth:`~RunDirMixin._check_existing_run` decides whether a folder
  may be resumed and with which config (its own: a different model or seed is
  refused, other changed settings are ignored with a warning), before the model
  is built; ``config.yaml`` and ``run.json`` (provenance: run format, versions,
  data dimensions, device) are written after;
* after every epoch ``history.csv`` and the ``last`` / ``best`` checkpoints
  (full state: weights, Adam, random generators, trainer state, history);
* :meth:`~RunDirMixin.finish` writes the final ``model/`` (best weights), and
  :meth:`~RunDirMixin.export_model` writes a complete run directory elsewhere:
  the one writer of the format, also used by AutoLFADS.

With ``autosave=False`` none of this happens on its own (population-based
training saves explicitly). The mixin uses the trainer's ``config``, ``data``,
``model``, ``_ckpt``, ``_hp``, ``hparams``, ``history`` and epoch bookkeeping.
"""

from __future__ import annotations

import os
import platform
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from nlbtut.errors import ConfigError, DataError
from nlbtut.lfads.checkpoints import (
    RUN_FORMAT,
    TF_PREFIX,
    atomic_write_text,
    find_dir,
    load_run_config,
    package_version,
    read_json,
    read_run_info,
    read_weights,
    write_dir_atomically,
    write_json,
)
from nlbtut.lfads.config import LFADSConfig, config_differences

__all__ = ["RunDirMixin", "reconcile_config"]


class RunDirMixin:
    """Run-directory methods of :class:`nlbtut.lfads.LFADSTrainer` (see the module docstring)."""

    run_dir: Path | None
    autosave: bool

    @property
    def checkpoint_dir(self) -> Path:
        if self.run_dir is None:
            raise ConfigError("this trainer has no run directory (run_dir=None)")
        return self.run_dir / "checkpoints"

    def _check_existing_run(self, resume: bool) -> Path | None:
        """Before building anything: may ``run_dir`` be used, and with which config?

        Returns the last checkpoint to resume from (None for a new run) and sets
        ``self.config`` to the run's own config when resuming.
        """
        run_dir = self.run_dir
        last = find_dir(self.checkpoint_dir / "last")
        info = read_run_info(run_dir) if (run_dir / "run.json").is_file() else {}
        if last is None:
            if find_dir(run_dir / "model") is not None:
                raise ConfigError(
                    f"{run_dir} holds a trained model but no checkpoint to continue from; load it "
                    "with load_model, or delete the folder (or use another run directory) to "
                    "train anew"
                )
            return None
        if not resume:
            raise ConfigError(
                f"{run_dir} already holds a training run; pass resume=True to continue it "
                "or choose another run directory"
            )
        if (run_dir / "config.yaml").is_file():
            self.config, self.ignored_settings = reconcile_config(
                load_run_config(run_dir), self.config, run_dir
            )
        if info.get("data_dims") not in (None, self.data.dims):
            raise DataError(
                f"{run_dir} was trained on data of dimensions {info.get('data_dims')}, "
                f"not {self.data.dims}; use another run directory"
            )
        split = (len(self.data.train_inds), len(self.data.valid_inds))
        old_split = (info.get("n_train_trials"), info.get("n_valid_trials"))
        if None not in old_split and tuple(old_split) != split:
            raise DataError(
                f"{run_dir} was trained on {old_split[0]} training and {old_split[1]} validation "
                f"trials, not {split[0]} and {split[1]} (other data or another valid_ratio); use "
                "another run directory"
            )
        return last

    def _open_run_dir(self, last: Path | None) -> None:
        """Resume from ``last`` (if any) and write ``config.yaml`` and ``run.json``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if last is not None:
            self.restore_checkpoint(last)
            self.resumed_from = self.epoch
        cfg_path = self.run_dir / "config.yaml"
        if last is None or not cfg_path.is_file():  # a resumed run keeps its own file
            self.config.to_yaml(cfg_path)
        info = self._run_info
        if (self.run_dir / "run.json").is_file():
            old_info = read_json(self.run_dir / "run.json")
            info["created"] = old_info.get("created", info["created"])
            info["resumed_at_epochs"] = old_info.get("resumed_at_epochs", [])
        if self.resumed_from is not None:
            info.setdefault("resumed_at_epochs", []).append(self.resumed_from)
        write_json(self.run_dir / "run.json", info)

    def _base_run_info(self) -> dict[str, Any]:
        """What ``run.json`` records about the run's provenance (format, versions, data, device)."""
        return {
            "run_format": RUN_FORMAT,
            "nlbtut_version": package_version(),
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

    def _final_run_info(self, stop_reason: str | None = None) -> dict[str, Any]:
        return {
            "status": "finished",
            "stop_reason": stop_reason if stop_reason is not None else self.stop_reason,
            "epochs": int(self.epoch),
            "best_epoch": self.best_epoch,
            "best_val_nll_smth": self.best_val,
            "train_seconds": round(float(self.train_seconds), 2),
        }

    def _update_run_info(self, **kw: Any) -> None:
        self._run_info.update(kw)
        if self.autosave:
            write_json(self.run_dir / "run.json", self._run_info)

    def _save_last(self) -> None:
        self.save_checkpoint(self.checkpoint_dir / "last")
        self._last_saved_epoch = self.epoch

    def restore_best_weights(self) -> bool:
        """Put the weights of the best (post-ramp) epoch back into the model; False if there is none.

        The best weights come from memory (``autosave=False``) or from
        ``checkpoints/best``. Only the model changes; the optimiser and the trainer
        state stay at the last epoch.
        """
        if self._best_weights is not None:
            for var, value in zip(self.model.variables, self._best_weights):
                var.assign(value)
            return True
        best = find_dir(self.checkpoint_dir / "best") if self.autosave else None
        if best is None:
            return False
        read_weights(tf.train.Checkpoint(model=self.model), best, self.run_dir, partial=True)
        return True

    def _restore_best_or_warn(self) -> int:
        """Restore the best weights (or warn that there are none); the epoch the weights are from."""
        if self.restore_best_weights():
            return int(self.best_epoch or self.epoch)
        self._warn_no_best()
        return int(self.epoch)

    def _warn_no_best(self) -> None:
        if self.best_epoch is None:
            why = (
                "no post-ramp epoch was reached, so no best model exists; keeping the last weights "
                f"(ramps end at epoch {self.last_ramp_epoch}, trained {self.epoch})"
            )
        else:
            why = (
                f"the weights of the best epoch ({self.best_epoch}) were not kept (a restored "
                f"checkpoint without them); keeping the weights of epoch {self.epoch}"
            )
        warnings.warn(why, stacklevel=4)

    def _write_model_dir(self, target: Path, epoch: int) -> None:
        """The final-model folder: the model's current weights and ``model.json`` (atomically)."""

        def fill(tmp: Path) -> None:
            tf.train.Checkpoint(model=self.model).write(str(tmp / TF_PREFIX))
            write_json(tmp / "model.json", {"data_dims": self.data.dims, "epoch": epoch})

        write_dir_atomically(target, fill)

    def finish(self, *, restore_best: bool = True) -> None:
        """Restore the best (post-ramp) weights, if any, and write ``run_dir/model``.

        With ``autosave=False`` and a ``run_dir``, the whole run directory is
        written by :meth:`export_model` instead (nothing else was written there).
        """
        if self.autosave and self._last_saved_epoch != self.epoch:
            self._save_last()  # the true last state, before the best weights are restored
        epoch = self._restore_best_or_warn() if restore_best else int(self.epoch)
        if not self.autosave:
            if self.run_dir is not None:
                self.export_model(self.run_dir, model_epoch=epoch)
            return
        self._write_model_dir(self.run_dir / "model", epoch)
        self._update_run_info(**self._final_run_info())

    def export_model(
        self,
        run_dir: str | os.PathLike,
        *,
        restore_best: bool = False,
        stop_reason: str | None = None,
        info: dict[str, Any] | None = None,
        model_epoch: int | None = None,
    ) -> Path:
        """Write the trainer's current state as a complete, finished run directory.

        The folder has the layout of a training run (see
        :mod:`nlbtut.lfads.checkpoints`): ``config.yaml`` (the current config,
        hyperparameters set by :meth:`set_hparams` included), ``run.json``
        (provenance, ``status: finished``), ``history.csv``,
        ``checkpoints/last`` (training can resume from it), ``checkpoints/best``
        (the best epoch's weights, when known) and ``model/``, which
        :func:`~nlbtut.lfads.load_model`, ``nlbtut infer`` and ``nlbtut run
        --model`` read. It is built next to ``run_dir`` and renamed into place
        (an existing folder is replaced), so an interrupted export leaves no
        half-written run.

        Parameters
        ----------
        run_dir : path
            Destination; not this trainer's own (autosaved) run directory, which
            :meth:`finish` completes.
        restore_best : bool
            Put the best epoch's weights into ``model/`` (as :meth:`finish` does);
            by default the current weights are exported.
        stop_reason : str, optional
            Recorded in ``run.json`` (default: the trainer's ``stop_reason``).
        info : dict, optional
            Extra ``run.json`` entries.
        model_epoch : int, optional
            The epoch ``model.json`` names (default: the best epoch with
            ``restore_best``, else the current one).

        Returns
        -------
        Path
            ``run_dir``.
        """
        run_dir = Path(run_dir)
        if self.autosave and run_dir.resolve() == self.run_dir.resolve():
            raise ConfigError(
                f"{run_dir} is this trainer's own run directory; call finish() to complete it, or "
                "export to another folder"
            )
        run_info = {**self._run_info, **self._final_run_info(stop_reason), **dict(info or {})}

        def fill(tmp: Path) -> None:
            self.config.to_yaml(tmp / "config.yaml")
            atomic_write_text(tmp / "history.csv", self.history.to_csv(index=False))
            self.save_checkpoint(tmp / "checkpoints" / "last")
            current = [v.numpy() for v in self.model.variables]
            have_best = self.restore_best_weights()
            if have_best:  # weights only: what finish() and load_model(which="best") read
                tf.train.Checkpoint(model=self.model).write(
                    str(tmp / "checkpoints" / "best" / TF_PREFIX)
                )
            if restore_best and not have_best:
                self._warn_no_best()
            if not (restore_best and have_best):
                for var, value in zip(self.model.variables, current):
                    var.assign(value)
            epoch = model_epoch
            if epoch is None:
                epoch = self.best_epoch if restore_best and have_best else self.epoch
            self._write_model_dir(tmp / "model", int(epoch))
            write_json(tmp / "run.json", run_info)

        write_dir_atomically(run_dir, fill)
        return run_dir

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
        read_weights(self._ckpt, found, self.run_dir, partial=False)
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
        self._best_weights = None  # the restored state's best is on disk, if anywhere
        self._last_saved_epoch = self.epoch

    def _write_history(self) -> None:
        if not self.autosave:
            return
        atomic_write_text(self.run_dir / "history.csv", self.history.to_csv(index=False))


def _device_name() -> str:
    gpus = tf.config.list_logical_devices("GPU")
    return f"GPU ({len(gpus)})" if gpus else f"CPU ({platform.processor() or platform.machine()})"


def reconcile_config(
    run_config: LFADSConfig, requested: LFADSConfig, run_dir: Path
) -> tuple[LFADSConfig, dict[str, tuple[Any, Any]]]:
    """The config to resume ``run_dir`` with, and the requested settings that are ignored.

    The run's own config is kept: a different model or seed is a
    :class:`ConfigError` naming the differing keys; other differences (training,
    inference, name) are returned and reported in a warning.
    """
    diffs = config_differences(run_config, requested)
    if not diffs:
        return requested, {}

    def show(items: dict[str, tuple[Any, Any]]) -> str:
        return "; ".join(f"{k}: {a!r} in the run, {b!r} requested" for k, (a, b) in items.items())

    hard = {k: v for k, v in diffs.items() if k.startswith("model.") or k == "seed"}
    if hard:
        raise ConfigError(
            f"{run_dir} holds a run with a different model or seed ({show(hard)}). Use another "
            "run directory, delete this one to train anew, or continue it with "
            f"load_config({str(run_dir / 'config.yaml')!r})"
        )
    warnings.warn(
        f"{run_dir} holds a run started with other settings ({show(diffs)}); keeping the run's "
        "own config.yaml, so the run continues (or is reused) exactly as it started. To train "
        "with the new settings, use another run directory or delete this one.",
        UserWarning,
        stacklevel=4,  # the caller that built the trainer
    )
    return run_config, diffs
