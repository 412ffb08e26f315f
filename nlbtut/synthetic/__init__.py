"""Synthetic NLB-format datasets with known firing rates.

``generate_dataset(preset, out_dir, seed)`` writes NWB files in the exact DANDI
layout and naming of an NLB'21 dataset, driven by low-dimensional latent
dynamics with Poisson spikes, and keeps the ground truth next to them;
``oracle_submission`` scores the true rates (the ceiling a model can reach).

>>> from nlbtut.synthetic import generate_dataset, oracle_submission  # doctest: +SKIP
>>> folder = generate_dataset("mc_maze_small", "data/synthetic", seed=0)  # doctest: +SKIP
>>> sub = oracle_submission(folder, phase="val", bin_width=5)  # doctest: +SKIP
"""

from __future__ import annotations

from .generate import generate_dataset
from .presets import SYNTHETIC_PRESETS, SyntheticPreset, get_preset
from .truth import load_ground_truth, oracle_submission, trial_windows, true_rates

__all__ = [
    "SYNTHETIC_PRESETS",
    "SyntheticPreset",
    "generate_dataset",
    "get_preset",
    "load_ground_truth",
    "oracle_submission",
    "trial_windows",
    "true_rates",
]
