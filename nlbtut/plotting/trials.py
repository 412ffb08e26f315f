"""The trial structure of a dataset: task events and the benchmark window.

Times in ``trial_info`` are pandas Timedeltas (as :class:`nlbtut.nwb.NWBDataset`
makes them) or seconds (as stored in the NWB file); the figure shows ms
relative to the alignment event.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from nlbtut.errors import DataError
from nlbtut.plotting._common import OKABE_ITO, Axes, Figure, new_figure, styled

__all__ = ["plot_dataset_overview"]

# --------------------------------------------------------------------------- trials
_EVENT_STYLE = [
    ("o", OKABE_ITO["blue"]),
    ("s", OKABE_ITO["orange"]),
    ("D", OKABE_ITO["bluish_green"]),
    ("^", OKABE_ITO["reddish_purple"]),
    ("v", OKABE_ITO["sky_blue"]),
    ("P", OKABE_ITO["vermillion"]),
    ("X", "#555555"),
    ("*", OKABE_ITO["yellow"]),
]


def _to_ms(col: pd.Series) -> np.ndarray:
    """Times in ms from a Timedelta column or seconds (NWB convention)."""
    if pd.api.types.is_timedelta64_dtype(col):
        return col.dt.total_seconds().to_numpy(dtype=float) * 1000.0
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float) * 1000.0


@styled
def plot_dataset_overview(
    trial_info: pd.DataFrame,
    *,
    dataset: str | None = None,
    align_field: str = "move_onset_time",
    align_range: tuple[float, float] = (-250, 450),
    fp_len: float = 200,
    events: Sequence[str] | None = None,
    n_trials: int = 25,
    split: str | Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Trial structure: task events of a few trials and the benchmark window.

    Parameters
    ----------
    trial_info : pandas.DataFrame
        ``NWBDataset.trial_info``: one row per trial, ``start_time``,
        ``end_time`` (or ``stop_time``) and event columns ``*_time`` as
        Timedelta (or seconds).
    dataset : str, optional
        NLB dataset name; sets ``align_field``, ``align_range`` and ``fp_len``
        from :func:`nlbtut.datasets.get_dataset_info`.
    align_field : str
        Event every trial is aligned to (0 ms).
    align_range : (float, float)
        Benchmark window around the alignment event (ms).
    fp_len : float
        Forward-prediction window after the benchmark window (ms).
    events : sequence of str, optional
        Event columns to mark (default: every ``*_time`` column).
    n_trials : int
        How many trials (the first ones with a finite alignment time).
    split : str or sequence of str, optional
        Only trials whose ``split`` is one of these.
    ax : Axes, optional
        Draw into this axes.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from nlbtut.plotting import plot_dataset_overview
    >>> ti = pd.DataFrame({"start_time": [0.0, 1.2], "end_time": [1.1, 2.4],
    ...                    "go_cue_time": [0.5, 1.8], "move_onset_time": [0.7, 2.0]})
    >>> fig = plot_dataset_overview(ti)
    """
    if not isinstance(trial_info, pd.DataFrame):
        raise DataError(f"trial_info must be a pandas DataFrame; got {type(trial_info).__name__}")
    if dataset is not None:
        from nlbtut.datasets import get_dataset_info

        info = get_dataset_info(dataset)
        align_field, align_range, fp_len = info.align_field, info.align_range, info.fp_len
    if align_field not in trial_info.columns:
        raise DataError(
            f"trial_info has no alignment column {align_field!r}; columns: "
            f"{list(trial_info.columns)}"
        )
    ti = trial_info
    if split is not None:
        if "split" not in ti.columns:
            raise DataError("split was given but trial_info has no 'split' column")
        keep = [split] if isinstance(split, str) else list(split)
        ti = ti[ti["split"].isin(keep)]
    align = _to_ms(ti[align_field])
    ok = np.flatnonzero(np.isfinite(align))[: int(n_trials)]
    if ok.size == 0:
        raise DataError(f"no trial has a finite {align_field!r}; nothing to draw")
    ti, align = ti.iloc[ok], align[ok]
    end_col = "end_time" if "end_time" in ti.columns else "stop_time"
    skip = {"start_time", "end_time", "stop_time", align_field}
    if events is None:
        events = [c for c in ti.columns if c.endswith("_time") and c not in skip]
    missing = [e for e in events if e not in ti.columns]
    if missing:
        raise DataError(f"events {missing} are not columns of trial_info")

    own = ax is None
    fig, ax = new_figure(ax, figsize=(9, 0.18 * len(ok) + 2.2))
    rows = np.arange(len(ok))
    lo, hi = align_range
    ax.axvspan(lo, hi, color=OKABE_ITO["blue"], alpha=0.12, lw=0, label="benchmark window")
    if fp_len:
        ax.axvspan(
            hi, hi + fp_len, color=OKABE_ITO["orange"], alpha=0.15, lw=0, label="forward prediction"
        )
    if "start_time" in ti.columns and end_col in ti.columns:
        start = _to_ms(ti["start_time"]) - align
        end = _to_ms(ti[end_col]) - align
        ax.hlines(rows, start, end, color="#BBBBBB", lw=3.5, label="trial", zorder=1)
    for k, ev in enumerate(events):
        marker, color = _EVENT_STYLE[k % len(_EVENT_STYLE)]
        ax.scatter(
            _to_ms(ti[ev]) - align,
            rows,
            marker=marker,
            s=26,
            color=color,
            edgecolors="white",
            linewidths=0.4,
            zorder=3,
            label=ev.removesuffix("_time").replace("_", " "),
        )
    align_name = align_field.removesuffix("_time").replace("_", " ")
    ax.axvline(0, color="black", lw=1.0, zorder=2, label=f"{align_name} (0 ms)")
    ax.set_ylim(len(ok) - 0.5, -0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("trial")
    ax.set_xlabel(f"time from {align_name} (ms)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=1.3)
    if own:
        fig.tight_layout()
    return fig
