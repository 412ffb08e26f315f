"""Export a population member's checkpoint as an ordinary LFADS run directory.

The result has the layout :func:`nlbtut.lfads.load_model`, ``nlbtut infer`` and
``nlbtut run --model`` read (see :mod:`nlbtut.lfads.checkpoints`)::

    best_model/
      config.yaml        the LFADS config with the worker's final hyperparameters
      run.json           versions, data dimensions, status, and which worker/generation won
      history.csv        the epoch history of the winner's lineage (copies included)
      checkpoints/last/  weights + Adam state + trainer state (training can resume)
      model/             the weights at the end of the last generation

The exported weights are those PBT ranked (the worker's state at the end of the
last generation), not an earlier "best epoch": that is the model the population
metric describes. :meth:`nlbtut.lfads.LFADSTrainer.export_model`, the one
writer of the run-directory format, builds the folder next to its final place
and renames it into place, so an interrupted export never leaves a
half-written run directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["export_run_dir"]


def export_run_dir(
    checkpoint_dir: str | os.PathLike,
    run_dir: str | os.PathLike,
    config: Any,
    data: Any,
    hparams: Mapping[str, float],
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Write the LFADS checkpoint ``checkpoint_dir`` as the run directory ``run_dir``.

    Parameters
    ----------
    checkpoint_dir : path
        A folder written by ``LFADSTrainer.save_checkpoint``.
    run_dir : path
        Destination (replaced if it exists).
    config : LFADSConfig
        The config the population trained with.
    data : LFADSData
        The training data (for its dimensions).
    hparams : dict
        The worker's searched hyperparameters (LFADS config field names).
    info : dict, optional
        Extra entries for ``run.json``.

    Returns
    -------
    Path
        ``run_dir``.
    """
    from nlbtut.lfads import LFADSTrainer

    cfg = config.replace(**{k: float(v) for k, v in hparams.items()})
    trainer = LFADSTrainer(cfg, data, None, resume=False, progress=False, autosave=False)
    trainer.restore_checkpoint(checkpoint_dir, restore_hparams=False)
    trainer.set_hparams(**{("lr" if k == "lr_init" else k): float(v) for k, v in hparams.items()})
    return trainer.export_model(run_dir, stop_reason="autolfads", info=info)
