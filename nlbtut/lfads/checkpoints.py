"""Run directories, atomic checkpoints and :func:`load_model`.

A training run directory holds::

    run_dir/
      config.yaml        the full LFADSConfig (seed included)
      run.json           package/TensorFlow versions, data dimensions, device, status
      history.csv        one row per epoch
      checkpoints/last/  most recent state: weights + optimiser + RNG + trainer state
      checkpoints/best/  state at the best smoothed validation NLL (post-ramp)
      model/             the final weights (best restored) that inference loads

Every checkpoint folder is written to a temporary folder next to it and then
renamed into place, so an interrupted write never leaves a half-written
checkpoint (:func:`write_dir_atomically`); readers fall back to the previous
copy if a crash hit between the two renames.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tensorflow as tf

from nlbtut.errors import ConfigError, DataFileNotFoundError
from nlbtut.lfads.config import LFADSConfig, _atomic_write_text, load_config
from nlbtut.lfads.model import LFADS

__all__ = [
    "atomic_write_text",
    "write_dir_atomically",
    "find_dir",
    "read_json",
    "write_json",
    "load_model",
    "TF_PREFIX",
]

TF_PREFIX = "tf_ckpt"  # file prefix of tf.train.Checkpoint files inside a checkpoint folder

atomic_write_text = _atomic_write_text


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON atomically."""
    atomic_write_text(Path(path), json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_dir_atomically(final_dir: Path, fill: Callable[[Path], None]) -> None:
    """Create ``final_dir`` by filling a temporary sibling folder and renaming it into place.

    ``fill(tmp_dir)`` writes the contents. An existing ``final_dir`` is moved
    aside first and deleted afterwards; :func:`find_dir` recovers it if the
    process died in between.
    """
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=f".{final_dir.name}.tmp-"))
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final_dir.exists():
        old = final_dir.with_name(f".{final_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(final_dir, old)
        os.rename(tmp, final_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final_dir)
    for stale in final_dir.parent.glob(f".{final_dir.name}.tmp-*"):  # left by killed writers
        shutil.rmtree(stale, ignore_errors=True)


def find_dir(path: Path) -> Path | None:
    """``path`` if it exists, else the copy :func:`write_dir_atomically` moved aside, else None."""
    path = Path(path)
    if path.is_dir():
        return path
    olds = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    return olds[-1] if olds else None


def model_from_run_dir(run_dir: Path) -> tuple[LFADS, LFADSConfig]:
    """Build an (untrained) model with the config and data dimensions recorded in ``run_dir``."""
    run_dir = Path(run_dir)
    cfg_path, run_path = run_dir / "config.yaml", run_dir / "run.json"
    if not cfg_path.is_file() or not run_path.is_file():
        raise DataFileNotFoundError(
            f"{str(run_dir)!r} is not an LFADS run directory (expected config.yaml and run.json in it)"
        )
    config = load_config(cfg_path)
    info = read_json(run_path)
    try:
        dims = info["data_dims"]
        model = LFADS(
            config.model,
            dims["n_heldin"],
            dims["n_heldout"],
            dims["t_obs"],
            dims["t_fwd"],
            seed=config.seed,
        )
    except KeyError as exc:
        raise ConfigError(f"{run_path}: data_dims lacks {exc}") from None
    return model, config


def load_model(run_dir: str | os.PathLike, *, which: str = "final") -> LFADS:
    """Load a trained LFADS model from a run directory.

    Parameters
    ----------
    run_dir : path
        A directory written by :func:`nlbtut.lfads.train_lfads`.
    which : {"final", "best", "last"}
        ``final`` (default) is the model saved at the end of training (best
        weights restored). If training never finished, it falls back to the last
        checkpoint with a warning. ``best`` / ``last`` read those checkpoints.

    Returns
    -------
    LFADS

    Example
    -------
    >>> model = load_model("runs/mc_maze_small")  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    if which not in ("final", "best", "last"):
        raise ValueError(f"which must be 'final', 'best' or 'last', got {which!r}")
    model, _ = model_from_run_dir(run_dir)
    candidates = {
        "final": run_dir / "model",
        "best": run_dir / "checkpoints" / "best",
        "last": run_dir / "checkpoints" / "last",
    }
    found = find_dir(candidates[which])
    if found is None and which == "final":
        found = find_dir(candidates["last"])
        if found is not None:
            warnings.warn(
                f"{run_dir}: training did not finish (no model/ folder); loading the last checkpoint",
                stacklevel=2,
            )
    if found is None:
        raise DataFileNotFoundError(
            f"{run_dir}: no saved weights ({candidates[which].name} is missing)"
        )
    status = tf.train.Checkpoint(model=model).read(str(found / TF_PREFIX))
    status.expect_partial().assert_existing_objects_matched()
    return model
