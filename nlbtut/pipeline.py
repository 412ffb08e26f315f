"""The whole NLB pipeline with LFADS: NWB files -> tensors -> model -> submission -> scores.

This is the one module that knows every layer: it loads the NLB files with
:class:`nlbtut.nwb.NWBDataset`, builds the benchmark tensors with
:mod:`nlbtut.tensors`, formats them for LFADS, trains a model (or loads one),
samples the posterior, writes ``submission.h5`` and, in the validation phase,
scores it against ``make_eval_target_tensors`` targets with
:func:`nlbtut.evaluation.evaluate` and writes ``metrics.json``.

The command ``nlbtut run`` calls :func:`run_pipeline`.

Output folder::

    out/
      submission.h5   the NLB submission (spikes/bin)
      metrics.json    val phase: the official metrics
      pipeline.json   what ran: dataset, phase, preset, model, bin width, timings
      lfads/          the training run directory (when a model was trained here)

Example
-------
>>> from nlbtut import run_pipeline
>>> result = run_pipeline("data/synthetic", "mc_maze_small", preset="cpu", out="runs/small")  # doctest: +SKIP
>>> result["metrics"]["co-bps"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from nlbtut.datasets import DatasetInfo, get_dataset_info
from nlbtut.errors import DataError, DataFileNotFoundError

__all__ = [
    "run_pipeline",
    "load_nlb_tensors",
    "make_nlb_targets",
    "dataset_folder",
    "split_names",
]


def dataset_folder(data_dir: str | os.PathLike, info: DatasetInfo) -> Path:
    """The folder with the NWB files: ``data_dir`` itself or ``data_dir/<dandiset>/sub-<Subject>``."""
    data_dir = Path(data_dir)
    nested = data_dir / info.relative_dir
    if nested.is_dir():
        return nested
    if data_dir.is_dir():
        return data_dir
    raise DataFileNotFoundError(
        f"data directory {str(data_dir)!r} does not exist (expected the folder of the {info.name} NWB "
        f"files, or a download root holding {info.relative_dir})"
    )


def split_names(phase: str) -> tuple[str | list[str], str]:
    """Training and evaluation trial splits of a phase: val -> (train, val), test -> ([train, val], test)."""
    if phase == "val":
        return "train", "val"
    if phase == "test":
        return ["train", "val"], "test"
    raise DataError(f"phase must be 'val' or 'test', got {phase!r}")


def _info(dataset: str) -> DatasetInfo:
    try:
        return get_dataset_info(dataset)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def load_nlb_tensors(
    data_dir: str | os.PathLike, dataset: str, phase: str = "val", bin_width: int = 5
) -> tuple[Any, dict, dict]:
    """Load a dataset's NWB files and build its NLB input tensors.

    Returns ``(nwb_dataset, train_input, eval_input)``: the resampled
    :class:`nlbtut.nwb.NWBDataset` and the dicts of
    ``make_train_input_tensors(..., include_forward_pred=True)`` and
    ``make_eval_input_tensors`` (trials x time x neurons, spikes/bin).
    """
    from nlbtut.nwb import NWBDataset
    from nlbtut.tensors import make_eval_input_tensors, make_train_input_tensors

    info = _info(dataset)
    if bin_width not in (5, 20):
        raise DataError(f"bin_width must be 5 or 20 ms, got {bin_width!r}")
    folder = dataset_folder(data_dir, info)
    train_split, eval_split = split_names(phase)
    ds = NWBDataset(str(folder), prefix=info.prefix)
    ds.resample(bin_width)
    common = {"save_file": False, "return_dict": True}
    train_input = make_train_input_tensors(
        ds, info.name, trial_split=train_split, include_forward_pred=True, **common
    )
    eval_input = make_eval_input_tensors(ds, info.name, trial_split=eval_split, **common)
    return ds, train_input, eval_input


def make_nlb_targets(nwb_dataset: Any, dataset: str, phase: str = "val") -> dict:
    """The evaluation targets of a phase, from the dataset :func:`load_nlb_tensors` returned.

    The dict of ``make_eval_target_tensors(..., include_psth=True)``: held-out
    spikes of the evaluation trials (trials x time x neurons, spikes/bin),
    behaviour and PSTHs, for :func:`nlbtut.evaluation.evaluate`. Only the
    ``val`` phase has local targets (the test-phase targets are not in the NWB
    files), so ``phase="test"`` is a :class:`DataError`.

    Example
    -------
    >>> ds, train_input, eval_input = load_nlb_tensors(folder, "mc_maze_small")  # doctest: +SKIP
    >>> targets = make_nlb_targets(ds, "mc_maze_small")  # doctest: +SKIP
    """
    from nlbtut.tensors import make_eval_target_tensors

    info = _info(dataset)
    if phase != "val":
        raise DataError(
            f"local eval targets exist only for the val phase, got phase={phase!r} (score "
            "test-phase submissions with the public eval_data_test.h5 or on EvalAI)"
        )
    train_split, eval_split = split_names(phase)
    return make_eval_target_tensors(
        nwb_dataset,
        info.name,
        train_split,
        eval_split,
        include_psth=True,
        save_file=False,
        return_dict=True,
    )


def _flat_metrics(results: list[dict[str, dict[str, float]]], dataset: str) -> dict[str, float]:
    """This dataset's metrics from ``evaluate``'s list, with any ``[500] `` scaling prefix removed."""
    from nlbtut.datasets import SCALING_DATASETS

    prefix = SCALING_DATASETS.get(dataset)
    out: dict[str, float] = {}
    for entry in results:
        for _, metrics in entry.items():
            for key, value in metrics.items():
                if prefix is not None:
                    if not key.startswith(prefix + " "):
                        continue
                    key = key[len(prefix) + 1 :]
                out[key] = float(value)
    return out


def run_pipeline(
    data_dir: str | os.PathLike,
    dataset: str,
    phase: str = "val",
    preset: str = "cpu",
    out: str | os.PathLike | None = None,
    model: str | os.PathLike | None = None,
    bin_width: int = 5,
    *,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    n_samples: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or reuse) LFADS on an NLB dataset, write its submission and, for ``val``, its scores.

    Parameters
    ----------
    data_dir : path
        The dataset's NWB folder (``.../sub-<Subject>``) or a download root that holds it.
    dataset : str
        NLB dataset name (``mc_maze``, ``mc_maze_small``, ``mc_rtt``, ...).
    phase : {"val", "test"}
        ``val``: train on the train split, predict the val split, score locally.
        ``test``: train on train+val, predict the test split (score on EvalAI or
        with the public test targets).
    preset : str
        LFADS preset name or YAML path (see :func:`nlbtut.lfads.load_config`).
    out : path, optional
        Output folder (default ``runs/<dataset>-<phase>``).
    model : path, optional
        A trained run directory to reuse instead of training.
    bin_width : int
        5 or 20 ms.
    seed : int, optional
        Overrides the preset's seed (training and posterior sampling).
    overrides : dict, optional
        Config overrides, e.g. ``{"max_epochs": 50}``.
    n_samples : int, optional
        Posterior samples (default: the config's, 50).
    progress : bool
        Progress bars.

    Returns
    -------
    dict
        ``out``, ``submission`` (path), ``run_dir``, ``metrics`` (flat dict of
        this dataset's scores, val only, else None), ``results`` (``evaluate``'s
        list), ``timings`` (seconds per stage).
    """
    from nlbtut.lfads import (
        format_lfads_data,
        load_config,
        load_model,
        posterior_to_submission,
        sample_posterior,
        train_lfads,
    )
    from nlbtut.lfads.checkpoints import write_json
    from nlbtut.submission import save_submission

    info = _info(dataset)
    split_names(phase)  # validate early
    out_dir = Path(out) if out is not None else Path("runs") / f"{info.name}-{phase}"
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ds, train_input, eval_input = load_nlb_tensors(data_dir, info.name, phase, bin_width)
    timings["load"] = time.perf_counter() - t0

    over = dict(overrides or {})
    if seed is not None:
        over["seed"] = seed
    if model is None:
        config = load_config(preset, **over)
    else:
        run_dir_in = Path(model)
        config = (
            load_config(run_dir_in / "config.yaml", **over)
            if (run_dir_in / "config.yaml").is_file()
            else None
        )
        if config is None:
            raise DataFileNotFoundError(
                f"--model {run_dir_in} is not an LFADS run directory (no config.yaml)"
            )
    data = format_lfads_data(train_input, eval_input, valid_ratio=config.train.valid_ratio)

    t0 = time.perf_counter()
    if model is None:
        run_dir = out_dir / "lfads"
        trainer = train_lfads(config, data, run_dir, progress=progress)
        lfads_model = trainer.model
    else:
        run_dir = Path(model)
        lfads_model = load_model(run_dir)
        if lfads_model.dims != data.dims:
            raise DataError(
                f"the model in {run_dir} was trained on data of dimensions {lfads_model.dims}, but "
                f"{info.name} at {bin_width} ms gives {data.dims}"
            )
    timings["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    posterior = sample_posterior(
        lfads_model,
        data,
        n_samples=n_samples or config.inference.n_samples,
        seed=config.seed,
        max_sequences=config.inference.max_sequences,
        progress=progress,
    )
    submission = posterior_to_submission(posterior, data, info.name, bin_width=bin_width)
    sub_path = save_submission(submission, out_dir / "submission.h5")
    timings["inference"] = time.perf_counter() - t0

    results = metrics = None
    if phase == "val":
        from nlbtut.evaluation import evaluate

        t0 = time.perf_counter()
        targets = make_nlb_targets(ds, info.name, phase)
        results = evaluate(targets, submission)
        metrics = _flat_metrics(results, info.name)
        write_json(out_dir / "metrics.json", {"dataset": info.name, "phase": phase, "bin_width": bin_width,
                                              "metrics": metrics, "results": results})  # fmt: skip
        timings["evaluate"] = time.perf_counter() - t0
    summary = {
        "dataset": info.name,
        "phase": phase,
        "bin_width": bin_width,
        "preset": str(preset) if model is None else None,
        "model": str(run_dir),
        "trained_here": model is None,
        "seed": config.seed,
        "n_samples": n_samples or config.inference.n_samples,
        "data": repr(data),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "metrics": metrics,
    }
    write_json(out_dir / "pipeline.json", summary)
    return {
        "out": out_dir,
        "submission": Path(sub_path),
        "run_dir": run_dir,
        "metrics": metrics,
        "results": results,
        "timings": timings,
    }
