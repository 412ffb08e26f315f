"""Pictures of what a model infers: latent trajectories and firing rates.

The PCA is scikit-learn's; NaN time bins are left out of the fit and stay NaN
in the projection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nlbtut.errors import DataError
from nlbtut.plotting._common import (
    TRUTH_COLOR,
    Axes,
    Figure,
    angle_colors,
    as_array,
    check_indices,
    condition_colors,
    far_angles,
    labels_from_cond_idx,
    mapping_or_single,
    method_colors,
    new_figure,
    plt,
    styled,
    time_axis,
    to_hz,
)

__all__ = ["plot_latents", "plot_rates_comparison"]


def _pca_project(x: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Project the last axis of ``x`` on its first PCs; returns (projection, var ratio)."""
    from sklearn.decomposition import PCA

    flat = x.reshape(-1, x.shape[-1])
    ok = np.all(np.isfinite(flat), axis=1)
    if ok.sum() <= n_components:
        raise DataError(
            f"factors have only {int(ok.sum())} time bins without NaN; need more than "
            f"n_components={n_components} for PCA"
        )
    pca = PCA(n_components=n_components).fit(flat[ok])
    proj = (flat - pca.mean_) @ pca.components_.T
    return proj.reshape(*x.shape[:-1], n_components), pca.explained_variance_ratio_


@styled
def plot_latents(
    factors: Any,
    cond_idx: Any = None,
    *,
    n_components: int = 3,
    bin_width: float = 5,
    ax: Axes | None = None,
    average: bool = True,
    max_trials: int = 100,
    cond_labels: Sequence[Any] | None = None,
    title: str | None = None,
) -> Figure:
    """Latent factors as 2-D or 3-D PCA trajectories coloured by condition.

    Parameters
    ----------
    factors : array (trials x time x factors)
        Model factors (or any latent states). NaN bins are skipped.
    cond_idx : optional
        Conditions: one label per trial, or the NLB form (a list with one array of
        trial indices per condition). Without it, single trials are drawn,
        coloured by the direction of their PC1-PC2 endpoint.
    n_components : {2, 3}
        Number of principal components to show.
    bin_width : float
        Bin width in ms; the legend gives the time span from the start (open
        dot) to the end (filled dot) of the trajectories.
    ax : Axes, optional
        Draw into this axes (a ``projection="3d"`` axes for 3 components).
    average : bool
        With ``cond_idx``: fit the PCA on and draw the condition averages
        (True), or draw single trials coloured by condition (False).
    max_trials : int
        Draw at most this many single trials.
    cond_labels : sequence, optional
        Legend names of the conditions (legend shown for at most 8).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from nlbtut.plotting import plot_latents
    >>> factors = np.random.default_rng(0).normal(size=(40, 140, 20))
    >>> fig = plot_latents(factors, cond_idx=np.arange(40) % 4)
    """
    if n_components not in (2, 3):
        raise DataError(f"n_components must be 2 or 3; got {n_components!r}")
    arr = as_array(factors, "factors", 3, "trials x time x factors")
    n_tr, n_t, n_f = arr.shape
    if n_f < n_components:
        raise DataError(
            f"factors have {n_f} dimensions on their last axis; need at least "
            f"n_components={n_components} (shape {arr.shape})"
        )
    labels = None if cond_idx is None else labels_from_cond_idx(cond_idx, n_tr)
    if labels is not None and average:
        conds = [c for c in np.unique(labels) if c >= 0]
        traj = np.stack([np.nanmean(arr[labels == c], axis=0) for c in conds])
        proj, ratio = _pca_project(traj, n_components)
        traj_labels = np.asarray(conds)
    else:
        keep = np.arange(min(n_tr, int(max_trials)))
        proj_all, ratio = _pca_project(arr, n_components)
        proj = proj_all[keep]
        traj_labels = labels[keep] if labels is not None else None
        conds = [c for c in np.unique(labels) if c >= 0] if labels is not None else []

    if traj_labels is not None:
        if len(conds) <= 8:
            cmap = dict(zip(conds, condition_colors(len(conds))))
        else:
            means = np.stack([np.nanmean(proj[traj_labels == c], axis=0) for c in conds])
            cmap = dict(zip(conds, angle_colors(far_angles(means))))
        colors = [cmap[c] if c >= 0 else (0.5, 0.5, 0.5, 1.0) for c in traj_labels]
    else:
        colors = list(angle_colors(far_angles(proj)))

    span_ms = float(time_axis(n_t, bin_width)[-1])  # also checks bin_width
    three_d = n_components == 3
    own = ax is None
    if own:
        fig = plt.figure(figsize=(7.6, 5.6) if three_d else (7.2, 5.0))
        if three_d:
            ax = fig.add_axes((0.0, 0.02, 0.72, 0.9), projection="3d")
        else:
            ax = fig.add_subplot(111)
    else:
        fig, ax = new_figure(ax, figsize=(1, 1))
        if three_d and getattr(ax, "name", "") != "3d":
            raise DataError("n_components=3 needs a 3-D axes: fig.add_subplot(projection='3d')")
    single = proj.shape[0] > 30
    lw, alpha = (0.9, 0.6) if single else (1.8, 1.0)
    for p, color in zip(proj, colors):
        ax.plot(*p.T, color=color, lw=lw, alpha=alpha)
        ok = np.all(np.isfinite(p), axis=1)
        if ok.any():
            ax.plot(*p[ok][0], "o", color=color, ms=3.0 if single else 4.5, mfc="white", mew=1.2)
            ax.plot(*p[ok][-1], "o", color=color, ms=2.5 if single else 4.0)
    names = [f"PC{i + 1} ({100 * r:.0f}% var.)" for i, r in enumerate(ratio)]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if three_d:
        ax.set_zlabel(names[2])
        ax.xaxis.labelpad = ax.yaxis.labelpad = ax.zaxis.labelpad = 2
        ax.tick_params(labelsize=8, pad=0)
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.pane.set_alpha(0.0)
            axis._axinfo["grid"]["color"] = "#E5E5E5"
        ax.view_init(elev=22, azim=-60)
    what = "condition averages" if (labels is not None and average) else "single trials"
    ax.set_title(title or f"Latent factors, PCA of {what}", loc="left")
    if traj_labels is not None and len(conds) <= 8:
        from matplotlib.lines import Line2D

        if cond_labels is not None:
            if len(cond_labels) != len(conds):
                raise DataError(
                    f"cond_labels must name each of the {len(conds)} conditions; "
                    f"got {len(cond_labels)}"
                )
            names_c = [str(n) for n in cond_labels]
        else:
            names_c = [f"condition {c}" for c in conds]
        handles = [Line2D([], [], color=cmap[c], lw=2, label=n) for c, n in zip(conds, names_c)]
        handles.append(
            Line2D([], [], ls="", marker="o", mfc="white", mec="#444444", label="start (0 ms)")
        )
        handles.append(
            Line2D([], [], ls="", marker="o", color="#444444", label=f"end ({span_ms:g} ms)")
        )
        if own:
            fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.76, 0.5))
        else:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    else:
        note = (
            "colour = direction (PC1-PC2) of the point farthest from the start; "
            f"open dot = start, filled dot = {span_ms:g} ms"
        )
        if three_d:
            ax.text2D(0.0, 0.0, note, transform=ax.transAxes, fontsize=8.5, color="#555555")
        else:
            ax.text(0.0, -0.14, note, transform=ax.transAxes, fontsize=8.5, color="#555555")
    if not three_d:
        ax.set_aspect("equal", adjustable="datalim")
        if own:
            fig.tight_layout()
    return fig


@styled
def plot_rates_comparison(
    true_rates: Any,
    inferred: Any,
    *,
    neurons: Sequence[int] = (0, 1, 2),
    trial: int = 0,
    bin_width: float = 5,
    spikes: Any = None,
    labels: Sequence[str] | None = None,
    align_offset_ms: float = 0,
    align_label: str | None = None,
    neuron_labels: Sequence[str] | None = None,
    ax: Any = None,
) -> Figure:
    """True and inferred firing rates of a few neurons in one trial.

    Parameters
    ----------
    true_rates : array (trials x time x neurons) or None
        Ground-truth rates in spikes/bin (synthetic data), drawn in black; None
        when unknown (real data).
    inferred : array, list of arrays, or dict name -> array (trials x time x neurons)
        Inferred rates in spikes/bin, one line per model.
    neurons : sequence of int
        Neurons to show, one panel each (stacked, shared time axis).
    trial : int
        Which trial.
    bin_width : float
        Bin width in ms; rates are shown in spikes/s.
    spikes : array (trials x time x neurons), optional
        Observed counts, drawn as ticks at the bottom of each panel.
    labels : sequence of str, optional
        Model names when ``inferred`` is an array or a list of arrays.
    align_offset_ms : float
        Time of the first bin (ms), e.g. -250 for the maze window.
    align_label : str, optional
        Name of the event at 0 ms (x label "time from <align_label> (ms)").
    neuron_labels : sequence of str, optional
        Panel titles (default ``"neuron <index>"``).
    ax : sequence of Axes, optional
        One axes per neuron.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from nlbtut.plotting import plot_rates_comparison
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.gamma(2.0, 0.05, size=(5, 140, 10))
    >>> fig = plot_rates_comparison(truth, {"LFADS": truth * 1.1}, spikes=rng.poisson(truth))
    """
    models = mapping_or_single(inferred, "inferred", labels)
    arrays = {
        name: as_array(v, f"inferred[{name!r}]", 3, "trials x time x neurons")
        for name, v in models.items()
    }
    ref_shape = next(iter(arrays.values())).shape
    truth = None
    if true_rates is not None:
        truth = as_array(true_rates, "true_rates", 3, "trials x time x neurons")
        ref_shape = truth.shape
    for name, v in arrays.items():
        if v.shape != ref_shape:
            raise DataError(
                f"inferred[{name!r}] must have the shape of true_rates / the other models "
                f"{ref_shape} (trials x time x neurons); got {v.shape}"
            )
    counts = None
    if spikes is not None:
        counts = as_array(spikes, "spikes", 3, "trials x time x neurons")
        if counts.shape != ref_shape:
            raise DataError(f"spikes must have shape {ref_shape}; got {counts.shape}")
    n_tr, n_t, n_n = ref_shape
    (trial,) = check_indices([trial], n_tr, "trial", "trials")
    neurons = check_indices(neurons, n_n, "neurons", "neurons")
    times = time_axis(n_t, bin_width, align_offset_ms) + bin_width / 2

    if ax is None:
        fig, axes = new_figure(
            None,
            len(neurons),
            1,
            figsize=(8.5, 1.9 * len(neurons) + 0.9),
            sharex=True,
            squeeze=False,
        )
        axes = axes.ravel()
    else:
        fig, axes = new_figure(ax, figsize=(1, 1))
        axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
        if len(axes) != len(neurons):
            raise DataError(f"ax must hold one Axes per neuron ({len(neurons)}); got {len(axes)}")
    colors = dict(zip(arrays, method_colors(list(arrays))))
    for k, (a, i) in enumerate(zip(axes, neurons)):
        top = 0.0
        if truth is not None:
            y = to_hz(truth[trial, :, i], bin_width)
            a.plot(times, y, color=TRUTH_COLOR, lw=2.2, label="true rate", zorder=3)
            top = max(top, np.nanmax(y, initial=0))
        for name, v in arrays.items():
            y = to_hz(v[trial, :, i], bin_width)
            a.plot(times, y, color=colors[name], lw=1.7, label=name, zorder=4)
            top = max(top, np.nanmax(y, initial=0))
        top = top if top > 0 else 1.0
        if counts is not None:
            c = counts[trial, :, i]
            tt = np.flatnonzero(np.nan_to_num(c) > 0)
            base = -0.16 * top
            a.vlines(times[tt], base, base + 0.1 * top, color="#222222", lw=1.1)
            a.set_ylim(base - 0.03 * top, 1.08 * top)
            ticks = a.get_yticks()
            a.set_yticks(ticks[(ticks >= 0) & (ticks <= 1.08 * top)])
        else:
            a.set_ylim(0, 1.08 * top)
        a.set_ylabel("rate (spikes/s)")
        a.set_title(
            neuron_labels[k] if neuron_labels is not None else f"neuron {i}",
            loc="left",
            fontsize=10,
            pad=2,
        )
        a.set_xlim(times[0] - bin_width / 2, times[-1] + bin_width / 2)
    axes[-1].set_xlabel(f"time from {align_label} (ms)" if align_label else "time (ms)")
    handles, names = axes[0].get_legend_handles_labels()
    if counts is not None:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], ls="", marker="|", ms=9, mew=1.3, color="#222222"))
        names.append("spikes")
    fig.legend(handles, names, loc="upper center", ncol=len(names), bbox_to_anchor=(0.5, 1.0))
    if ax is None:
        fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig
