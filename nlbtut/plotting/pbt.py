"""AutoLFADS population-based-training (PBT) histories.

One row per (generation, worker), as :mod:`nlbtut.autolfads` writes it:
``generation, trial_id, metric, <hyperparameters...>, exploited_from``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from nlbtut.errors import DataError
from nlbtut.plotting._common import Figure, new_figure, plt, styled
from nlbtut.plotting.training import _label, read_history

__all__ = ["plot_pbt_history"]

# --------------------------------------------------------------------------- PBT
_PBT_REQUIRED = ("generation", "trial_id", "metric")
_PBT_NON_HP = {
    "generation",
    "trial_id",
    "metric",
    "exploited_from",
    "epoch",
    "iteration",
    "time",
    "timestamp",
    "step",
}


def _as_id(v: Any) -> Any:
    """A trial id as a string (3 and 3.0 read from a CSV are the same worker); NaN if none."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v):
        return np.nan
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    return str(v)


# hyperparameters searched on a log scale (learning rate, KL and L2 weights)
_LOG_HINTS = ("lr", "learning_rate", "kl", "l2", "weight", "scale")


def _lineage(df: pd.DataFrame, final_id: Any) -> pd.DataFrame:
    """(generation, trial_id) of the winner's ancestors, walking exploits backwards."""
    gens = sorted(df["generation"].unique())
    rows, cur = [], final_id
    by = df.set_index(["generation", "trial_id"])
    for g in reversed(gens):
        if (g, cur) not in by.index:
            break
        rows.append((g, cur))
        src = by.loc[(g, cur), "exploited_from"] if "exploited_from" in by.columns else None
        if isinstance(src, pd.Series):
            src = src.iloc[0]
        if src is not None and not pd.isna(src):
            cur = src
    return pd.DataFrame(rows[::-1], columns=["generation", "trial_id"])


@styled
def plot_pbt_history(
    history: Any,
    *,
    hparams: Sequence[str] | None = None,
    mode: str = "min",
    metric_label: str = "validation NLL",
    log_scale: bool | Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """AutoLFADS population history: hyperparameters per worker over generations.

    Parameters
    ----------
    history : pandas.DataFrame or path to a CSV file
        One row per (generation, worker): columns ``generation``, ``trial_id``,
        ``metric`` (the score PBT ranks on), one column per hyperparameter, and
        ``exploited_from`` (the ``trial_id`` whose weights this worker copied at
        the start of this generation; NaN/None when it kept its own).
    hparams : sequence of str, optional
        Hyperparameter columns to draw (default: every other numeric column).
    mode : {"min", "max"}
        Whether a lower or a higher ``metric`` is better.
    metric_label : str
        Y label of the metric panel.
    log_scale : bool or sequence of str, optional
        Log y axes: True/False for all, or the names of the hyperparameters to
        log-scale. Default: log where every value is positive and either the
        name marks a scale-like hyperparameter (``lr``, ``kl``, ``l2``,
        ``weight``, ``scale``) or the values span more than a decade.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Panel 1: metric of every worker (thin) and the best per generation
        (black). Other panels: one hyperparameter each; thin lines = workers,
        ``x`` = exploit (weights copied, hyperparameters perturbed), thick black
        line = the ancestry of the final best worker.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from nlbtut.plotting import plot_pbt_history
    >>> rows = [dict(generation=g, trial_id=w, metric=1 / (g + 1) + 0.01 * w,
    ...              lr=4e-3 * 0.9 ** g, exploited_from=None)
    ...         for g in range(5) for w in range(4)]
    >>> fig = plot_pbt_history(pd.DataFrame(rows))
    """
    df = read_history(history)
    missing = [c for c in _PBT_REQUIRED if c not in df.columns]
    if missing:
        raise DataError(
            f"history lacks the columns {missing}; expected generation, trial_id, metric, "
            f"<hyperparameters...>, exploited_from; got {list(df.columns)}"
        )
    if mode not in ("min", "max"):
        raise DataError(f"mode must be 'min' or 'max'; got {mode!r}")
    if df.empty:
        raise DataError("history has no rows")
    if "exploited_from" not in df.columns:
        df["exploited_from"] = np.nan
    # ids as strings; "" / None / NaN = kept its own weights
    df["trial_id"] = df["trial_id"].map(_as_id)
    df["exploited_from"] = df["exploited_from"].map(_as_id)
    if hparams is None:
        hparams = [
            c for c in df.columns if c not in _PBT_NON_HP and pd.api.types.is_numeric_dtype(df[c])
        ]
    else:
        bad = [h for h in hparams if h not in df.columns]
        if bad:
            raise DataError(f"hparams {bad} are not columns of history: {list(df.columns)}")
    hparams = list(hparams)
    df = df.sort_values(["trial_id", "generation"])
    workers = list(pd.unique(df["trial_id"]))
    last_gen = df["generation"].max()
    final = df[df["generation"] == last_gen].dropna(subset=["metric"])
    lineage = None
    if not final.empty:
        k = final["metric"].idxmin() if mode == "min" else final["metric"].idxmax()
        lineage = _lineage(df, final.loc[k, "trial_id"])

    n = 1 + len(hparams)
    ncols = 1 if n == 1 else 2
    nrows = int(np.ceil(n / ncols))
    fig, axes = new_figure(
        None, nrows, ncols, figsize=(10, 2.6 * nrows + 0.7), squeeze=False, sharex=True
    )
    axes = axes.ravel()
    for extra in axes[n:]:
        extra.set_visible(False)
    cmap = plt.get_cmap("viridis")
    wcolor = {w: cmap(0.8 * i / max(len(workers) - 1, 1)) for i, w in enumerate(workers)}
    by = df.set_index(["generation", "trial_id"])

    for a, col in zip(axes[:n], ["metric", *hparams]):
        for w in workers:
            d = df[df["trial_id"] == w]
            a.plot(d["generation"], d[col], color=wcolor[w], lw=0.9, alpha=0.55)
        ex = df[df["exploited_from"].notna()]
        a.plot(
            ex["generation"], ex[col], ls="", marker="x", ms=4, color="#444444", mew=0.9, zorder=3
        )
        if lineage is not None and col != "metric":
            vals = [by.loc[(g, t), col] for g, t in lineage.itertuples(index=False)]
            vals = [v.iloc[0] if isinstance(v, pd.Series) else v for v in vals]
            a.plot(lineage["generation"], vals, color="black", lw=2.2, zorder=4)
        vals_all = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        fin = vals_all[np.isfinite(vals_all)]
        if isinstance(log_scale, bool):
            use_log = log_scale
        elif log_scale is not None:
            use_log = col in set(log_scale)
        else:
            scale_like = any(k in col.lower() for k in _LOG_HINTS)
            use_log = (
                col != "metric"
                and fin.size > 0
                and fin.min() > 0
                and (scale_like or fin.max() / fin.min() > 10)
            )
        if use_log and fin.size and fin.min() > 0:
            a.set_yscale("log")
        a.set_title(metric_label if col == "metric" else _label(col), loc="left")
        a.grid(alpha=0.6)
    best = df.groupby("generation")["metric"].agg(mode)
    axes[0].plot(
        best.index,
        best.to_numpy(),
        color="black",
        lw=2.2,
        marker="o",
        ms=3.5,
        label=f"best per generation ({'lowest' if mode == 'min' else 'highest'})",
    )
    finite = df["metric"].to_numpy(float)
    finite = finite[np.isfinite(finite)]
    if finite.size:  # zoom on the useful range: early generations can be far off
        lo, hi = (
            np.percentile(finite, [0, 90]) if mode == "min" else np.percentile(finite, [10, 100])
        )
        pad = 0.08 * (hi - lo if hi > lo else abs(hi) or 1.0)
        axes[0].set_ylim(lo - pad, hi + pad)
    handles = [
        Line2D([], [], color=cmap(0.45), lw=1.0, label=f"worker ({len(workers)} in population)"),
        Line2D([], [], color="black", lw=2.2, marker="o", ms=3.5, label="best per generation"),
        Line2D([], [], color="#444444", ls="", marker="x", label="exploit (copy + perturb)"),
    ]
    if lineage is not None and hparams:
        handles.append(Line2D([], [], color="black", lw=2.2, label="ancestry of final best"))
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=len(handles),
        fontsize=9,
        bbox_to_anchor=(0.5, 1.0),
    )
    for i, a in enumerate(axes[:n]):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        if i + ncols >= n:
            a.set_xlabel("generation")
            a.xaxis.set_tick_params(labelbottom=True)
    if title:
        fig.suptitle(title, x=0.01, y=1.04, ha="left", fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.6 * nrows + 0.7)))
    return fig
