"""The pictures of the book: one call, one publication-quality figure.

Every function takes plain numpy / pandas inputs (rates and counts in
spikes/bin, times in ms), draws with matplotlib only (no TensorFlow), accepts an
optional ``ax`` and returns the matplotlib :class:`~matplotlib.figure.Figure`.
Colours follow one colour-blind-safe scheme (Okabe-Ito) across the book: a
method keeps its colour on every page (:func:`method_color`).

In a notebook, end the cell with ``;`` or assign the result (``fig = ...``) so
the figure is shown once.

>>> from nlbtut.plotting import plot_metrics_comparison
>>> fig = plot_metrics_comparison({"smoothing": {"co-bps": 0.21}, "AutoLFADS": {"co-bps": 0.34}})
"""

from __future__ import annotations

from nlbtut.plotting._common import (
    CYCLIC_CMAP,
    OKABE_ITO,
    condition_colors,
    method_color,
    method_colors,
)
from nlbtut.plotting.architecture import plot_lfads_architecture
from nlbtut.plotting.data import plot_hand_trajectories, plot_psth, plot_raster
from nlbtut.plotting.latents import plot_latents, plot_rates_comparison
from nlbtut.plotting.metrics import plot_metrics_comparison
from nlbtut.plotting.pbt import plot_pbt_history
from nlbtut.plotting.training import plot_training_curves
from nlbtut.plotting.trials import plot_dataset_overview

__all__ = [
    "CYCLIC_CMAP",
    "OKABE_ITO",
    "condition_colors",
    "method_color",
    "method_colors",
    "plot_dataset_overview",
    "plot_hand_trajectories",
    "plot_lfads_architecture",
    "plot_latents",
    "plot_metrics_comparison",
    "plot_pbt_history",
    "plot_psth",
    "plot_raster",
    "plot_rates_comparison",
    "plot_training_curves",
]
