"""One AutoLFADS worker: an LFADS trainer wrapped as a Ray Tune class ``Trainable``.

One Tune iteration is one PBT *generation*: ``epochs_per_generation`` epochs
of :class:`nlbtut.lfads.LFADSTrainer` (the first generation also trains the
``burn_in_epochs`` of the KL/L2 ramps). After each generation the worker is
paused and checkpointed; Ray's synchronous ``PopulationBasedTraining`` then
points the weaker workers at a stronger worker's checkpoint with perturbed
hyperparameters (see :mod:`nlbtut.autolfads.run`).

How a copy takes effect (lfads-spec 4.2, "possible bug" of lfads-torch):
Tune calls ``reset_config(new_config)`` and then ``load_checkpoint(dir)``.
:meth:`LFADSWorker.load_checkpoint` restores the winner's weights, Adam state
and trainer state, and only *then* assigns the worker's own (perturbed)
hyperparameters to the trainer's ``tf.Variable`` s, the optimiser's learning
rate included. Each result reports the learning rate read back from the
optimiser's variable at the start of the generation (``lr_in_optimizer``) and
fingerprints of the weights before and after the generation, so the copy can
be checked (and is, in the tests).

A checkpoint folder can be overwritten under a worker's feet (Ray 2.60, synchronous
PBT): when the stronger worker reported first, its pause-save is still in flight when
the scheduler asks it to save again, and a later save can then reuse the folder name
of one of the two, replacing the state a weaker worker was told to copy with the next
generation's. :meth:`LFADSWorker.load_checkpoint` therefore checks the generation
written in the checkpoint against the training iteration Tune restored with it, and
loads the copy of the right generation from the owner's other checkpoint folders
(:func:`find_checkpoint`; the duplicate save leaves one) when they differ.

Actors are reused between workers (``reuse_actors=True``), which keeps the
TensorFlow graph traced: a worker that starts on an actor used by another one
builds a fresh trainer only when there is no checkpoint to restore (its first
generation).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune

__all__ = ["LFADSWorker", "WorkerSettings", "find_checkpoint", "weights_fingerprint"]

CKPT_SUBDIR = "lfads"  # LFADSTrainer checkpoint folder inside a Tune checkpoint
META_FILE = "autolfads.json"  # who saved a Tune checkpoint, at which generation


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker shares (sent once through Ray's object store).

    Attributes
    ----------
    config : LFADSConfig
        The base LFADS config (PBT-safe: no LR decay, no early stopping).
    hparam_names : tuple of str
        The searched hyperparameters (LFADS config field names).
    epochs_per_generation : int
        Epochs between two PBT decisions.
    burn_in_epochs : int
        Extra epochs of the first generation (the KL/L2 ramps).
    base_seed : int
        Worker ``i`` initialises its model with seed ``base_seed + i``.
    threads : int
        TensorFlow intra/inter-op threads per worker.
    """

    config: Any
    hparam_names: tuple[str, ...]
    epochs_per_generation: int
    burn_in_epochs: int
    base_seed: int
    threads: int


def weights_fingerprint(variables) -> str:
    """A short hash of the values of ``variables`` (equal weights, equal fingerprint)."""
    h = hashlib.sha1()
    for v in variables:
        h.update(v.numpy().tobytes())
    return h.hexdigest()[:16]


def read_meta(fs: Any, folder: str) -> dict[str, Any] | None:
    """The :data:`META_FILE` of a checkpoint folder on ``fs`` (pyarrow), or None if unreadable."""
    try:
        with fs.open_input_stream(f"{folder}/{META_FILE}") as fh:
            return json.loads(fh.read().decode())
    except (OSError, FileNotFoundError, ValueError):
        return None


def find_checkpoint(
    fs: Any, trial_dir: str, trial_id: str, generation: int, first: Iterable[str] = ()
) -> tuple[str, dict[str, Any]] | None:
    """The checkpoint folder holding ``trial_id``'s state after ``generation``, and its metadata.

    Looks at the folders ``first`` and then at every ``checkpoint_*`` folder of
    ``trial_dir`` (newest first), on the pyarrow filesystem ``fs`` (local, NFS or
    cloud storage alike).

    Parameters
    ----------
    fs : pyarrow.fs.FileSystem
        Tune's storage filesystem.
    trial_dir : str
        The worker's trial folder on ``fs``.
    trial_id, generation : str, int
        Whose state, after which generation (as written by ``save_checkpoint``).
    first : iterable of str
        Folders to try before the trial folder's own.

    Returns
    -------
    (str, dict) or None
        The folder and its metadata, or None where no such checkpoint exists.
    """
    from pyarrow.fs import FileSelector, FileType

    try:
        infos = fs.get_file_info(FileSelector(trial_dir, recursive=False))
    except (OSError, FileNotFoundError):
        infos = []
    own = sorted(
        (
            i.path
            for i in infos
            if i.type == FileType.Directory and i.base_name.startswith("checkpoint_")
        ),
        reverse=True,
    )
    for folder in [*first, *own]:
        meta = read_meta(fs, folder)
        if (
            meta
            and meta.get("trial_id") == trial_id
            and int(meta.get("generation", -1)) == generation
        ):
            return folder, meta
    return None


def _trainer_hp_name(name: str) -> str:
    return "lr" if name == "lr_init" else name


class LFADSWorker(tune.Trainable):
    """Ray Tune trainable running one member of the AutoLFADS population.

    ``config`` (the trial config) holds ``member`` (the worker's index, for its
    seed) and ``hparams`` (searched name -> value). Data and settings come
    through :func:`ray.tune.with_parameters`.
    """

    def setup(
        self, config: dict[str, Any], data: Any = None, settings: WorkerSettings | None = None
    ) -> None:
        if data is None or settings is None:
            raise ValueError("LFADSWorker needs data and settings (use tune.with_parameters)")
        self.settings = settings
        self.data = data
        _configure_tensorflow(settings.threads)
        self.trainer = None
        self.generation = 0
        self._exploited_from = ""
        self._needs_fresh = True

    # ------------------------------------------------------------------ helpers
    def _build_trainer(self) -> None:
        """A new trainer with this worker's seed and hyperparameters (fresh weights)."""
        from nlbtut.lfads import LFADSTrainer

        member = int(self.config.get("member", 0))
        cfg = self.settings.config.replace(seed=self.settings.base_seed + member)
        # nothing written per epoch: Tune checkpoints the worker after each generation
        self.trainer = LFADSTrainer(
            cfg, self.data, None, resume=False, progress=False, autosave=False
        )
        self._apply_hparams()
        self.generation = 0
        self._exploited_from = ""
        self._needs_fresh = False

    def _apply_hparams(self) -> None:
        hp = self.config["hparams"]
        self.trainer.set_hparams(
            **{_trainer_hp_name(n): float(hp[n]) for n in self.settings.hparam_names}
        )

    # ------------------------------------------------------------------ Tune API
    def step(self) -> dict[str, Any]:
        if self._needs_fresh or self.trainer is None:
            self._build_trainer()
        s = self.settings
        t0 = time.perf_counter()
        # what the Adam update will read: set by _build_trainer or load_checkpoint
        lr_in_optimizer = float(self.trainer.optimizer.lr.numpy())
        start = weights_fingerprint(self.trainer.variables)
        target = s.burn_in_epochs + (self.generation + 1) * s.epochs_per_generation
        metric = math.inf
        diverged = False
        try:
            self.trainer.train_epochs(max(0, target - self.trainer.epoch))
        except Exception as exc:  # TrainingDivergedError: PBT replaces this worker
            from nlbtut.lfads import TrainingDivergedError

            if not isinstance(exc, TrainingDivergedError):
                raise
            diverged = True
        hist = self.trainer.history
        if not diverged and len(hist) and "val_nll_smth" in hist:
            value = float(hist["val_nll_smth"].iloc[-1])
            metric = value if math.isfinite(value) else math.inf
        self.generation += 1
        exploited, self._exploited_from = self._exploited_from, ""
        last = hist.iloc[-1] if len(hist) else {}
        return {
            "metric": metric,
            "generation": self.generation,
            "epoch": int(self.trainer.epoch),
            "exploited_from": exploited,
            "lr_in_optimizer": lr_in_optimizer,
            "weights_start": start,
            "weights_end": weights_fingerprint(self.trainer.variables),
            "val_nll": float(last.get("val_nll", math.nan)),
            "val_co_bps": float(last.get("val_co_bps", math.nan)),
            "diverged": diverged,
            "seconds": time.perf_counter() - t0,
        }

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        self.trainer.save_checkpoint(Path(checkpoint_dir) / CKPT_SUBDIR)
        meta = {
            "trial_id": self.trial_id,
            "generation": self.generation,
            "epoch": int(self.trainer.epoch),
            "hparams": dict(self.config["hparams"]),
            "weights": weights_fingerprint(self.trainer.variables),
        }
        tmp = Path(checkpoint_dir) / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2))
        os.replace(tmp, Path(checkpoint_dir) / META_FILE)

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        from pyarrow.fs import LocalFileSystem

        if self.trainer is None:
            self._build_trainer()
        folder = str(checkpoint_dir)
        meta = json.loads((Path(folder) / META_FILE).read_text())
        # Tune restored the training iteration of the result this checkpoint was saved
        # with; a different generation in the folder means a later save overwrote it
        expected = int(self.iteration)
        if expected and int(meta["generation"]) != expected:
            found = find_checkpoint(
                LocalFileSystem(), str(Path(folder).parent), meta["trial_id"], expected
            )
            if found is None:
                warnings.warn(
                    f"checkpoint {folder} holds generation {meta['generation']} of "
                    f"{meta['trial_id']}, not generation {expected} as Tune expected, and no "
                    "copy of that generation was found; continuing from what it holds",
                    stacklevel=2,
                )
            else:
                folder, meta = found
        # weights + Adam state + trainer state of the checkpoint's owner ...
        self.trainer.restore_checkpoint(Path(folder) / CKPT_SUBDIR, restore_hparams=False)
        # ... then this worker's (possibly perturbed) hyperparameters, LR included
        self._apply_hparams()
        self.generation = int(meta["generation"])
        self._exploited_from = meta["trial_id"] if meta["trial_id"] != self.trial_id else ""
        self._needs_fresh = False

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        # The actor now serves another worker (or this one with new hparams).
        # Tune restores a checkpoint next if the worker has one; if it does
        # not (a first generation), step() builds fresh weights.
        self._needs_fresh = True
        self._exploited_from = ""
        return True


def _configure_tensorflow(threads: int) -> None:
    """Thread pools sized to the worker's CPU share; GPU memory grown on demand."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already initialised in this process
        pass
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
