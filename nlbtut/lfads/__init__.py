"""LFADS in TensorFlow 2: model, training, posterior sampling, NLB formatting.

Importing this package imports TensorFlow. It knows nothing about NWB files:
:mod:`nlbtut.pipeline` connects it to the data modules.

* :func:`load_config` / :class:`LFADSConfig`: presets and overrides;
* :func:`format_lfads_data`: NLB tensor dicts -> :class:`LFADSData`;
* :class:`LFADS`: the model; :class:`LFADSTrainer` / :func:`train_lfads`: training;
* :func:`load_model`, :func:`sample_posterior`, :func:`posterior_to_submission`;
* :func:`run_dir_for`: the cache folder of a run (same settings, same folder).

Example
-------
>>> from nlbtut.lfads import load_config, format_lfads_data, train_lfads  # doctest: +SKIP
>>> data = format_lfads_data(train_dict, eval_dict)                         # doctest: +SKIP
>>> trainer = train_lfads(load_config("cpu"), data, "runs/demo")            # doctest: +SKIP
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nlbtut.lfads.checkpoints import load_model, run_dir_for  # noqa: E402
from nlbtut.lfads.config import (  # noqa: E402
    InferenceConfig,
    LFADSConfig,
    ModelConfig,
    TrainConfig,
    list_presets,
    load_config,
)
from nlbtut.lfads.data import LFADSData, format_lfads_data  # noqa: E402
from nlbtut.lfads.inference import PosteriorOutput, posterior_to_submission, sample_posterior  # noqa: E402
from nlbtut.lfads.model import LFADS  # noqa: E402
from nlbtut.lfads.train import LFADSTrainer, TrainingDivergedError, train_lfads  # noqa: E402

__all__ = [
    "LFADS",
    "LFADSConfig",
    "ModelConfig",
    "TrainConfig",
    "InferenceConfig",
    "LFADSData",
    "LFADSTrainer",
    "PosteriorOutput",
    "TrainingDivergedError",
    "format_lfads_data",
    "list_presets",
    "load_config",
    "load_model",
    "posterior_to_submission",
    "run_dir_for",
    "sample_posterior",
    "train_lfads",
]
