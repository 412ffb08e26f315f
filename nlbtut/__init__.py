"""nlbtut: evaluate LFADS on the Neural Latents Benchmark '21.

A flat public API. Names are imported lazily on first use, so ``import nlbtut``
is fast and loading data or scoring a submission never imports TensorFlow or Ray.

>>> from nlbtut import NWBDataset, make_train_input_tensors, evaluate  # doctest: +SKIP

The names of the official ``nlb_tools`` (``NWBDataset``, ``make_train_input_tensors``,
``make_eval_input_tensors``, ``make_eval_target_tensors``, ``save_to_h5``,
``h5_to_dict``, ``combine_h5``, ``evaluate``) are kept, so code written for it
runs after changing its imports.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> sub-module that defines it
_LAZY: dict[str, str] = {
    # registry and errors
    "DATASETS": "datasets",
    "DATASET_NAMES": "datasets",
    "DatasetInfo": "datasets",
    "get_dataset_info": "datasets",
    "group_name": "datasets",
    "NLBTutError": "errors",
    "DataError": "errors",
    "DownloadError": "errors",
    "SubmissionError": "errors",
    "ConfigError": "errors",
    # data layer
    "download_dataset": "download",
    "default_cache_dir": "download",
    "NWBDataset": "nwb",
    "PARAMS": "tensors",
    "make_train_input_tensors": "tensors",
    "make_eval_input_tensors": "tensors",
    "make_eval_target_tensors": "tensors",
    "save_to_h5": "h5io",
    "h5_to_dict": "h5io",
    "combine_h5": "h5io",
    # synthetic data
    "SYNTHETIC_PRESETS": "synthetic",
    "generate_dataset": "synthetic",
    "load_ground_truth": "synthetic",
    "oracle_submission": "synthetic",
    "prepare_data": "data",
    # evaluation, submissions, baselines
    "evaluate": "evaluation",
    "neg_log_likelihood": "evaluation",
    "bits_per_spike": "evaluation",
    "velocity_decoding": "evaluation",
    "eval_psth": "evaluation",
    "speed_tp_correlation": "evaluation",
    "results_table": "evaluation",
    "make_submission": "submission",
    "combine_submissions": "submission",
    "validate_submission": "submission",
    "save_submission": "submission",
    "load_h5": "submission",
    "SubmissionWarning": "submission",
    "smoothing_baseline": "baselines",
    "factor_analysis_baseline": "baselines",
    # LFADS (imports TensorFlow)
    "LFADSConfig": "lfads",
    "load_config": "lfads",
    "LFADS": "lfads",
    "train_lfads": "lfads",
    "load_model": "lfads",
    "sample_posterior": "lfads",
    "format_lfads_data": "lfads",
    "posterior_to_submission": "lfads",
    "run_dir_for": "lfads",
    # AutoLFADS (imports Ray)
    "run_autolfads": "autolfads",
    # the whole pipeline
    "run_pipeline": "pipeline",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nlbtut' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nlbtut.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
