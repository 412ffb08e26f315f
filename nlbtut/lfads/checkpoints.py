"""Run directories, atomic checkpoints and :func:`load_model`.

A training run directory holds::

    run_dir/
      config.yaml        the full LFADSConfig (seed included)
      run.json           package/TensorFlow versions, data dimensions, device, status
      history.csv        one row per epoch
      checkpoints/last/  most recent state: weights + optimiser + RNG + trainer state
      checkpoints/best/  state at the best smoothed validation NLL (post-ramp; in a run written
                         by ``LFADSTrainer.export_model``, the best weights only)
      model/             the final weights (best restored) that inference loads

``run.json`` records ``run_format`` (:data:`RUN_FORMAT`, the version of this
layout and of the weights' naming) and the ``nlbtut_version`` that wrote it. A
run of a format this nlbtut cannot read, or whose weights do not fit the model
its ``config.yaml`` describes, is refused with a :class:`ConfigError` /
:class:`DataError` that says to delete the folder or train again, instead of a
TensorFlow error from deep inside the checkpoint reader.

Every checkpoint folder is written to a temporary folder next to it and then
renamed into place, so an interrupted write never leaves a half-written
checkpoint (:func:`write_dir_atomically`); readers fall back to the previous
copy if a crash hit between the two renames.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tensorflow as tf

from nlbtut.errors import ConfigError, DataError, DataFileNotFoundError
from nlbtut.lfads.config import LFADSConfig, _atomic_write_text, load_config
from nlbtut.lfads.model import LFADS

__all__ = [
    "atomic_write_text",
    "write_dir_atomically",
    "find_dir",
    "read_json",
    "write_json",
    "load_model",
    "read_run_info",
    "read_weights",
    "load_run_config",
    "TF_PREFIX",
    "RUN_FORMAT",
    "run_dir_for",
    "package_version",
]

TF_PREFIX = "tf_ckpt"  # file prefix of tf.train.Checkpoint files inside a checkpoint folder

#: version of the run-directory layout written into run.json; bump it when a change makes
#: older runs unreadable (file names, weight names, model structure) and list here what each
#: version reads: 1 = the first published layout (runs written before the field existed too)
RUN_FORMAT = 1
READABLE_RUN_FORMATS = (1,)

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


def _advice(run_dir: Path) -> str:
    return (
        f"Delete {str(run_dir)!r} (or use another run directory) and train again with this "
        "version of nlbtut."
    )


def package_version() -> str:
    """The installed nlbtut version (``"unknown"`` if it cannot be read)."""
    try:
        from nlbtut import __version__

        return __version__
    except Exception:  # pragma: no cover
        return "unknown"


def read_run_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Read ``run_dir/run.json`` and check that this nlbtut can read the run's format.

    Raises
    ------
    DataFileNotFoundError
        No ``run.json``.
    ConfigError
        Unreadable JSON, or a ``run_format`` other than :data:`READABLE_RUN_FORMATS`
        (the message names both versions and says to delete the run or retrain).
    """
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.is_file():
        raise DataFileNotFoundError(f"{str(run_dir)!r} has no run.json: not an LFADS run directory")
    try:
        info = read_json(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not readable JSON ({exc}). {_advice(run_dir)}") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{path} must hold a JSON object. {_advice(run_dir)}")
    fmt = info.get("run_format", 1)
    if fmt not in READABLE_RUN_FORMATS:
        raise ConfigError(
            f"{str(run_dir)!r} was written by nlbtut {info.get('nlbtut_version', '?')} in "
            f"run-directory format {fmt!r}; nlbtut {package_version()} reads format "
            f"{', '.join(map(str, READABLE_RUN_FORMATS))}. {_advice(run_dir)}"
        )
    return info


def load_run_config(run_dir: str | os.PathLike) -> LFADSConfig:
    """The run's ``config.yaml``; a file this nlbtut cannot read is a :class:`ConfigError` with advice."""
    run_dir = Path(run_dir)
    try:
        return load_config(run_dir / "config.yaml")
    except ConfigError as exc:
        raise ConfigError(f"{str(exc).rstrip('.')}. {_advice(run_dir)}") from None


def read_weights(
    checkpoint: tf.train.Checkpoint, folder: Path, run_dir: Path | None = None, *, partial: bool
) -> None:
    """Read ``folder/tf_ckpt`` into ``checkpoint``; weights that do not fit are a :class:`DataError`.

    ``partial=True`` reads only what ``checkpoint`` tracks (e.g. the model of a
    full training checkpoint); otherwise every saved object must be matched.
    """
    where = run_dir if run_dir is not None else folder
    try:
        status = checkpoint.read(str(Path(folder) / TF_PREFIX))
        if partial:
            status = status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, KeyError, tf.errors.OpError) as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"the weights in {str(folder)!r} do not fit the model described by the run's config "
            f"(written by another nlbtut version, or the files were changed): {first}. "
            f"{_advice(where)}"
        ) from None


_NAME_PART = re.compile(r"[A-Za-z0-9_.]+")


def run_dir_for(
    config: LFADSConfig,
    dataset: str,
    *,
    source: str = "synthetic",
    phase: str = "val",
    tag: str | None = None,
    root: str | os.PathLike | None = None,
) -> Path:
    """The cache folder of the run that trains ``config`` on a dataset: the same settings, the same folder.

    The name is ``<dataset>-<source>-<phase>-<config.name>[-<tag>]-<fingerprint>``,
    with ``fingerprint`` the first 8 hex digits of the SHA-256 of
    ``config.to_yaml()``, so that any changed setting (seed included) gives
    another folder, and the same settings give the same one: a chapter that
    calls :func:`~nlbtut.lfads.train_lfads` there reuses a finished run and
    continues an interrupted one. Nothing is created.

    Parameters
    ----------
    config : LFADSConfig
        The full configuration the run trains with.
    dataset : str
        NLB dataset name, e.g. ``"mc_maze_small"``.
    source : str
        Where the data came from: ``"synthetic"`` or ``"dandi"`` (``DataPath.source``).
    phase : {"val", "test"}
        The benchmark phase the run trains for.
    tag : str, optional
        An extra readable label before the fingerprint (the book uses ``"fast"``).
    root : path, optional
        The folder of runs; default ``default_cache_dir() / "runs"``
        (``$NLBTUT_DATA_DIR/runs`` or ``~/.cache/nlbtut/runs``).

    Returns
    -------
    Path
        ``root / name``.

    Example
    -------
    >>> from nlbtut.lfads import load_config, run_dir_for
    >>> run_dir_for(load_config("cpu"), "mc_maze_small", tag="fast").name  # doctest: +ELLIPSIS
    'mc_maze_small-synthetic-val-cpu-fast-...'
    """
    if not isinstance(config, LFADSConfig):
        raise ConfigError(
            f"config must be an LFADSConfig (see load_config), got {type(config).__name__}"
        )
    from nlbtut.datasets import get_dataset_info

    try:
        name = get_dataset_info(dataset).name
    except (ValueError, TypeError) as exc:
        raise DataError(str(exc)) from None
    if phase not in ("val", "test"):
        raise DataError(f"phase must be 'val' or 'test', got {phase!r}")
    for what, value in (("source", source), ("tag", tag), ("config.name", config.name)):
        if value is None and what == "tag":
            continue
        if not isinstance(value, str) or not _NAME_PART.fullmatch(value):
            raise ConfigError(
                f"{what} must be a short name of letters, digits, '_' and '.', got {value!r}"
            )
    fingerprint = hashlib.sha256(config.to_yaml().encode()).hexdigest()[:8]
    label = config.name if tag is None else f"{config.name}-{tag}"
    if root is None:
        from nlbtut.download import default_cache_dir

        root = default_cache_dir() / "runs"
    return Path(root) / f"{name}-{source}-{phase}-{label}-{fingerprint}"


def model_from_run_dir(run_dir: Path) -> tuple[LFADS, LFADSConfig]:
    """Build an (untrained) model with the config and data dimensions recorded in ``run_dir``."""
    run_dir = Path(run_dir)
    cfg_path, run_path = run_dir / "config.yaml", run_dir / "run.json"
    if not cfg_path.is_file() or not run_path.is_file():
        raise DataFileNotFoundError(
            f"{str(run_dir)!r} is not an LFADS run directory (expected config.yaml and run.json in it)"
        )
    info = read_run_info(run_dir)
    config = load_run_config(run_dir)
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
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{run_path}: data_dims lacks {exc}. {_advice(run_dir)}") from None
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
    read_weights(tf.train.Checkpoint(model=model), found, run_dir, partial=True)
    return model
