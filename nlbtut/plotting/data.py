"""Pictures of the data: spike rasters, PSTHs, hand trajectories.

All inputs are plain numpy arrays (or the pandas objects that
:class:`nlbtut.nwb.NWBDataset` holds); rates and counts are in spikes/bin and are
shown in spikes/s, times in ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from nlbtut.errors import DataError
from nlbtut.plotting._common import (
    HELDIN_COLOR,
    HELDOUT_COLOR,
    OKABE_ITO,
    Axes,
    Figure,
    angle_colors,
    as_array,
    check_indices,
    condition_colors,
    far_angles,
    labels_from_cond_idx,
    new_figure,
    styled,
    time_axis,
    to_hz,
)

__all__ = ["plot_raster", "plot_psth", "plot_hand_trajectories"]

_NAN_CMAP = ListedColormap(["#E6E6E6"])


# --------------------------------------------------------------------------- raster
def _frame_to_array(df: pd.DataFrame) -> tuple[np.ndarray, float | None, float | None]:
    """Values, bin width (ms) and first time (ms) of a time-indexed DataFrame."""
    values = df.to_numpy(dtype=float)
    bw = t0 = None
    idx = df.index
    if isinstance(idx, pd.MultiIndex):
        idx = idx.get_level_values(-1)
    if isinstance(idx, pd.TimedeltaIndex) and len(idx) > 0:
        ms = idx.total_seconds().to_numpy() * 1000.0
        t0 = float(ms[0])
        if len(ms) > 1:
            bw = float(np.median(np.diff(ms)))
    return values, bw, t0


def _split_raster_input(
    spikes: Any, heldout: Any
) -> tuple[np.ndarray, np.ndarray, float | None, float | None]:
    """(counts time x all neurons, held-out mask, bin width from index, t0 from index)."""
    bw = t0 = None
    if isinstance(spikes, pd.DataFrame):
        cols = spikes.columns
        if isinstance(cols, pd.MultiIndex):
            top = cols.get_level_values(0)
            if "spikes" not in set(top):
                raise DataError(
                    "spikes DataFrame has MultiIndex columns without a 'spikes' group; pass "
                    "dataset.data['spikes'] or dataset.data[['spikes', 'heldout_spikes']]"
                )
            if heldout is None and "heldout_spikes" in set(top):
                heldout = spikes["heldout_spikes"]
            spikes = spikes["spikes"]
        arr, bw, t0 = _frame_to_array(spikes)
    else:
        arr = as_array(spikes, "spikes", 2, "time x neurons")
    if arr.ndim != 2:
        raise DataError(f"spikes must be a 2-D array (time x neurons); got shape {arr.shape}")
    n = arr.shape[1]
    mask = np.zeros(n, dtype=bool)
    if heldout is None:
        return arr, mask, bw, t0
    if isinstance(heldout, pd.DataFrame):
        held, _, _ = _frame_to_array(heldout)
    else:
        held_raw = np.asarray(heldout)
        if held_raw.ndim == 1:
            if held_raw.shape[0] != n:
                raise DataError(
                    f"heldout as a mask must have one entry per neuron ({n}); got shape "
                    f"{held_raw.shape}"
                )
            return arr, held_raw.astype(bool), bw, t0
        held = as_array(held_raw, "heldout", 2, "time x held-out neurons")
    if held.shape[0] != arr.shape[0]:
        raise DataError(
            f"heldout spikes must have the same number of time bins as spikes "
            f"({arr.shape[0]}); got shape {held.shape}"
        )
    full = np.concatenate([arr, held], axis=1)
    mask = np.concatenate([mask, np.ones(held.shape[1], dtype=bool)])
    return full, mask, bw, t0


@styled
def plot_raster(
    spikes: Any,
    *,
    bin_width: float | None = None,
    heldout: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
    t0_ms: float | None = None,
    kind: str = "ticks",
    align_label: str | None = None,
) -> Figure:
    """Spike raster of one trial, held-in and held-out neurons told apart.

    Parameters
    ----------
    spikes : array (time x neurons) or pandas.DataFrame
        Spike counts per bin (0/1 at 1 ms, counts at coarser bins); NaN marks bins
        without data and is drawn as a grey background. A slice of
        ``NWBDataset.data['spikes']`` (timedelta index) works as is, and so does
        ``dataset.data[['spikes', 'heldout_spikes']]`` (both groups drawn).
    bin_width : float, optional
        Bin width in ms. Default: taken from the DataFrame index, else 1 ms.
    heldout : array, optional
        Either a boolean mask with one entry per neuron of ``spikes`` (True =
        held-out), or a second count array (time x held-out neurons) /
        DataFrame drawn above the held-in neurons.
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.
    title : str, optional
        Axes title.
    t0_ms : float, optional
        Time of the first bin in ms. Default 0 (for a DataFrame: the start of the
        slice, whose session time is given in the axis label).
    kind : {"ticks", "image"}
        ``"ticks"`` draws one tick per non-empty bin; ``"image"`` shows counts as
        a heat map (better for 5 ms or 20 ms bins).
    align_label : str, optional
        If given and 0 ms is in the window, a dashed line at 0 labelled with it.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from nlbtut.plotting import plot_raster
    >>> spikes = np.random.default_rng(0).poisson(0.02, size=(700, 40))
    >>> fig = plot_raster(spikes, heldout=np.arange(40) >= 30)
    """
    if kind not in ("ticks", "image"):
        raise DataError(f"kind must be 'ticks' or 'image'; got {kind!r}")
    counts, is_out, bw_idx, t0_idx = _split_raster_input(spikes, heldout)
    bw = float(bin_width if bin_width is not None else (bw_idx or 1.0))
    t0 = float(t0_ms) if t0_ms is not None else 0.0
    xlabel = "time (ms)"
    if t0_ms is None and t0_idx is not None:  # session clock: show ms from the slice start
        xlabel = f"time from {t0_idx / 1000:.3f} s (ms)"
    n_t, n_n = counts.shape
    times = time_axis(n_t, bw, t0)
    # held-in neurons at the bottom, held-out above
    order = np.concatenate([np.flatnonzero(~is_out), np.flatnonzero(is_out)])
    counts = counts[:, order]
    is_out = is_out[order]
    n_in = int((~is_out).sum())

    own = ax is None
    fig, ax = new_figure(ax, figsize=(9, 4.2))
    extent = (times[0], times[-1] + bw, -0.5, n_n - 0.5)
    nan = np.isnan(counts)
    if kind == "image":
        img = ax.imshow(
            np.ma.masked_invalid(counts.T),
            aspect="auto",
            origin="lower",
            extent=extent,
            cmap="Greys",
            interpolation="nearest",
            vmin=0,
        )
        cbar = fig.colorbar(img, ax=ax, pad=0.08, fraction=0.04)
        cbar.set_label(f"spikes/bin ({bw:g} ms)")
    else:
        for group, color in ((~is_out, HELDIN_COLOR), (is_out, HELDOUT_COLOR)):
            tt, nn = np.nonzero(np.nan_to_num(counts[:, group]) > 0)
            rows = np.flatnonzero(group)[nn]
            x = times[tt] + bw / 2
            segs = np.stack(
                [np.stack([x, rows - 0.42], axis=1), np.stack([x, rows + 0.42], axis=1)], axis=1
            )
            lw = 1.0 if n_n <= 60 else 0.7
            ax.add_collection(LineCollection(segs, colors=color, linewidths=lw))
    if nan.any():
        ax.imshow(
            np.where(nan, 1.0, np.nan).T,
            aspect="auto",
            origin="lower",
            extent=extent,
            cmap=_NAN_CMAP,
            interpolation="nearest",
            zorder=0,
        )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(-0.5, n_n - 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("neuron")
    if is_out.any():
        ax.axhline(n_in - 0.5, color="#888888", lw=0.8, ls="--")
        tr = blended_transform_factory(ax.transAxes, ax.transData)
        for lo, hi, text, color in (
            (0, n_in, f"held-in ({n_in})", HELDIN_COLOR),
            (n_in, n_n, f"held-out ({n_n - n_in})", HELDOUT_COLOR),
        ):
            if hi > lo:
                ax.text(
                    1.01,
                    (lo + hi - 1) / 2,
                    text,
                    transform=tr,
                    rotation=90,
                    va="center",
                    ha="left",
                    color=color,
                    fontsize=9.5,
                    clip_on=False,
                )
    if align_label and extent[0] <= 0 <= extent[1]:
        ax.axvline(0, color=OKABE_ITO["blue"], lw=1.0, ls="--")
        ax.text(0, n_n - 0.5, f" {align_label}", color=OKABE_ITO["blue"], va="bottom", fontsize=9)
    if nan.any():
        ax.legend(
            handles=[Patch(facecolor="#E6E6E6", label="no data (NaN)")],
            loc="upper right",
            bbox_to_anchor=(1.0, 1.12),
            fontsize=8.5,
        )
    if title:
        ax.set_title(title, loc="left")
    if own:
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- PSTH
def _cond_names(cond_labels: Sequence[Any] | None, n: int) -> list[str]:
    if cond_labels is None:
        return [f"condition {i}" for i in range(n)]
    labels = list(cond_labels)
    if len(labels) != n:
        raise DataError(f"cond_labels must name each of the {n} conditions; got {len(labels)}")
    out = []
    for lab in labels:
        if isinstance(lab, (tuple, list, np.ndarray)):
            out.append(", ".join(str(v) for v in lab))
        else:
            out.append(str(lab))
    return out


def _grid(n: int) -> tuple[int, int]:
    if n <= 3:
        return 1, n
    if n == 4:
        return 2, 2
    return int(np.ceil(n / 3)), 3


@styled
def plot_psth(
    psth: Any,
    cond_labels: Sequence[Any] | None = None,
    *,
    neurons: Sequence[int] = (0, 1, 2, 3),
    bin_width: float = 5,
    align_offset_ms: float = -250,
    ax: Any = None,
    conditions: Sequence[int] | None = None,
    align_label: str = "movement onset",
    neuron_labels: Sequence[str] | None = None,
) -> Figure:
    """Peri-stimulus time histograms by condition for a few neurons.

    Parameters
    ----------
    psth : array (conditions x time x neurons)
        Trial-averaged rates in spikes/bin (e.g. the ``psth`` of
        ``make_eval_target_tensors``); shown in spikes/s. NaN leaves gaps.
    cond_labels : sequence, optional
        One label per condition (tuples such as ``(trial_type, trial_version)``
        are joined). Shown in a legend when there are at most 8 conditions.
    neurons : sequence of int
        Indices of the neurons to show, one panel each.
    bin_width : float
        Bin width in ms.
    align_offset_ms : float
        Time of the first bin relative to the alignment event (ms), e.g. -250
        for the maze window that starts 250 ms before movement onset.
    ax : Axes or sequence of Axes, optional
        One axes per neuron.
    conditions : sequence of int, optional
        Only these conditions (default all).
    align_label : str
        Name of the alignment event, marked at 0 ms.
    neuron_labels : sequence of str, optional
        Panel titles (default ``"neuron <index>"``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from nlbtut.plotting import plot_psth
    >>> psth = np.random.default_rng(0).gamma(2.0, 0.05, size=(4, 140, 10))
    >>> fig = plot_psth(psth, ["left", "right", "up", "down"], neurons=(0, 3))
    """
    arr = as_array(psth, "psth", 3, "conditions x time x neurons")
    n_c, n_t, n_n = arr.shape
    names = _cond_names(cond_labels, n_c)
    neurons = check_indices(neurons, n_n, "neurons", "neurons")
    conds = (
        list(range(n_c))
        if conditions is None
        else check_indices(conditions, n_c, "conditions", "conditions")
    )
    if neuron_labels is not None and len(neuron_labels) != len(neurons):
        raise DataError(
            f"neuron_labels must have one label per shown neuron ({len(neurons)}); "
            f"got {len(neuron_labels)}"
        )
    times = time_axis(n_t, bin_width, align_offset_ms) + bin_width / 2
    nrows, ncols = _grid(len(neurons))
    if ax is None:
        fig, axes = new_figure(
            None, nrows, ncols, figsize=(3.3 * ncols + 1.6, 2.7 * nrows + 0.4), squeeze=False
        )
        axes = axes.ravel()
        for extra in axes[len(neurons) :]:
            extra.set_visible(False)
    else:
        fig, axes = new_figure(ax, figsize=(1, 1))
        axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
        if len(axes) != len(neurons):
            raise DataError(f"ax must hold one Axes per neuron ({len(neurons)}); got {len(axes)}")
    colors = condition_colors(len(conds))
    hz = to_hz(arr, bin_width)
    for k, (a, i) in enumerate(zip(axes, neurons)):
        for color, c in zip(colors, conds):
            a.plot(times, hz[c, :, i], color=color, lw=1.5, label=names[c])
        if times[0] <= 0 <= times[-1]:
            a.axvline(0, color="#999999", lw=0.8, ls="--", zorder=0)
        a.set_title(neuron_labels[k] if neuron_labels is not None else f"neuron {i}")
        a.set_ylim(bottom=0)
        a.set_xlim(times[0] - bin_width / 2, times[-1] + bin_width / 2)
    if ax is None:
        grid = axes[: len(neurons)].reshape(-1) if len(neurons) else axes
        for k, a in enumerate(grid):
            row, col = divmod(k, ncols)
            if col == 0:
                a.set_ylabel("rate (spikes/s)")
            if row == nrows - 1 or k + ncols >= len(neurons):
                a.set_xlabel(f"time from {align_label} (ms)")
    else:
        for a in axes:
            a.set_ylabel("rate (spikes/s)")
            a.set_xlabel(f"time from {align_label} (ms)")
    if len(conds) <= 8:
        handles = [Line2D([], [], color=c, lw=2, label=names[k]) for k, c in zip(conds, colors)]
        fig.legend(
            handles=handles,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            title="condition",
        )
    else:
        fig.text(
            0.99,
            0.01,
            f"{len(conds)} conditions, one colour each",
            ha="right",
            va="bottom",
            fontsize=9,
            color="#555555",
        )
    if ax is None:
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- hand
def _integrate_velocity(vel: np.ndarray, bin_width: float) -> np.ndarray:
    """Positions (mm) from velocities (mm/s) in bins of ``bin_width`` ms; NaN kept."""
    steps = np.nan_to_num(vel) * (bin_width / 1000.0)
    pos = np.cumsum(steps, axis=1)
    pos[np.isnan(vel)] = np.nan
    return pos


@styled
def plot_hand_trajectories(
    data: Any,
    cond_idx: Any = None,
    *,
    kind: str = "position",
    bin_width: float = 5,
    ax: Axes | None = None,
    average: bool = False,
    cond_labels: Sequence[Any] | None = None,
    align_offset_ms: float = -250,
    align_label: str = "movement onset",
    title: str | None = None,
) -> Figure:
    """Reaches coloured by condition.

    Parameters
    ----------
    data : array (trials x time x 2)
        Hand position in mm (``kind="position"``) or hand velocity in mm/s
        (``kind="velocity"`` or ``"speed"``), e.g. ``train_behavior`` of the
        NLB tensors. NaN bins are left out.
    cond_idx : optional
        Conditions: one label per trial, or the NLB form (a list with an array of
        trial indices per condition, ``train_cond_idx``). Without it, each trial
        is coloured by its reach direction on a cyclic colour map.
    kind : {"position", "velocity", "speed"}
        ``"position"``: x-y paths. ``"velocity"``: x-y paths integrated from the
        velocity (relative to the start, mm). ``"speed"``: hand speed (mm/s)
        against time.
    bin_width : float
        Bin width in ms (integration step and time axis).
    ax : Axes, optional
        Draw into this axes.
    average : bool
        Plot one average per condition instead of every trial (needs ``cond_idx``).
    cond_labels : sequence, optional
        Condition names for the legend (at most 8 conditions get a legend).
    align_offset_ms : float
        Time of the first bin relative to the alignment event (``kind="speed"``).
    align_label : str
        Name of the alignment event (``kind="speed"`` x label).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from nlbtut.plotting import plot_hand_trajectories
    >>> t = np.linspace(0, 1, 140)[None, :, None]
    >>> ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)[:, None]
    >>> pos = 100 * t * np.stack([np.cos(ang), np.sin(ang)], -1)
    >>> fig = plot_hand_trajectories(pos, cond_idx=np.arange(8))
    """
    if kind not in ("position", "velocity", "speed"):
        raise DataError(f"kind must be 'position', 'velocity' or 'speed'; got {kind!r}")
    layout = "trials x time x 2 (x, y)"
    arr = as_array(data, "data", 3, layout, last=2)
    n_tr, n_t, _ = arr.shape
    paths = arr if kind == "position" else _integrate_velocity(arr, bin_width)
    labels = None if cond_idx is None else labels_from_cond_idx(cond_idx, n_tr)
    if average and labels is None:
        raise DataError("average=True needs cond_idx (which trials belong to which condition)")
    unit = "mm" if kind == "position" else "mm/s"

    own = ax is None
    fig, ax = new_figure(ax, figsize=(5.6, 5.0) if kind != "speed" else (7.5, 4.0))
    if labels is not None:
        conds = [c for c in np.unique(labels) if c >= 0]
        if cond_labels is not None:
            names = _cond_names(cond_labels, len(conds))
        else:
            names = [f"condition {c}" for c in conds]
        if len(conds) <= 8:
            cmap = dict(zip(conds, condition_colors(len(conds))))
        else:  # many conditions: hue = mean reach direction of the condition
            mean_paths = np.stack([np.nanmean(paths[labels == c], axis=0) for c in conds])
            cmap = dict(zip(conds, angle_colors(far_angles(mean_paths))))
        if average:
            items = [(np.nanmean(arr[labels == c], axis=0), cmap[c], c) for c in conds]
        else:
            items = [(arr[k], cmap[labels[k]], labels[k]) for k in range(n_tr) if labels[k] >= 0]
    else:
        conds, names = [], []
        cols = angle_colors(far_angles(paths))
        items = [(arr[k], cols[k], None) for k in range(n_tr)]

    lw = 1.8 if average or len(items) <= 30 else 1.0
    alpha = 1.0 if average or len(items) <= 30 else 0.7
    for series, color, _ in items:
        if kind == "speed":
            t = time_axis(n_t, bin_width, align_offset_ms) + bin_width / 2
            ax.plot(t, np.hypot(series[:, 0], series[:, 1]), color=color, lw=lw, alpha=alpha)
        else:
            p = series if kind == "position" else _integrate_velocity(series[None], bin_width)[0]
            ax.plot(p[:, 0], p[:, 1], color=color, lw=lw, alpha=alpha)
            ok = np.all(np.isfinite(p), axis=1)
            if ok.any():
                ax.plot(*p[ok][-1], "o", color=color, ms=3.5, alpha=alpha)
    if kind == "speed":
        ax.set_xlabel(f"time from {align_label} (ms)" if align_label else "time (ms)")
        ax.set_ylabel(f"hand speed ({unit})")
        ax.set_ylim(bottom=0)
    else:
        suffix = "" if kind == "position" else ", integrated from velocity"
        ax.set_xlabel(f"x (mm{suffix})")
        ax.set_ylabel("y (mm)")
        ax.set_aspect("equal", adjustable="datalim")
    if labels is not None and len(conds) <= 8:
        handles = [Line2D([], [], color=cmap[c], lw=2, label=n) for c, n in zip(conds, names)]
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5))
    elif labels is None or len(conds) > 8:
        ax.text(
            1.0,
            1.0,
            "colour = reach direction",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8.5,
            color="#555555",
        )
    if title:
        ax.set_title(title, loc="left")
    if own:
        fig.tight_layout()
    return fig
