"""LFADS learning curves.

Takes a pandas DataFrame (or a CSV file) and plots whatever columns are there,
so logs from our trainer, from autolfads-tf2's ``train_data.csv`` or from
lfads-torch all work.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nlbtut.errors import DataError, DataFileNotFoundError
from nlbtut.plotting._common import (
    OKABE_ITO,
    Axes,
    Figure,
    new_figure,
    styled,
)

__all__ = ["plot_training_curves", "read_history"]

# preferred validation columns for "best epoch", most specific first
_VALID_KEYS = (
    "val_nll_smth",
    "smth_val_nll_heldin",
    "valid_nll_smth",
    "valid/recon_smth",
    "val_nll_heldin",
    "valid_nll",
    "val_nll",
    "valid/recon",
    "valid_loss",
    "val_loss",
)
_GROUPS = (
    ("loss", "loss (NLL per bin)"),
    ("score", "evaluation metric"),
    ("reg", "regularisers"),
    ("sched", "learning rate and ramps"),
    ("hparam", "hyperparameters"),
    ("other", "other"),
)
# bookkeeping columns that are never plotted unless asked for
_SKIP_NAMES = ("epoch", "step", "generation", "time", "timestamp", "nan_events", "finite")
_SKIP_PARTS = ("seconds", "_time")


def read_history(history: Any, name: str = "history") -> pd.DataFrame:
    if isinstance(history, (str, os.PathLike)):
        path = os.fspath(history)
        if not os.path.exists(path):
            raise DataFileNotFoundError(f"{name} file {path!r} does not exist")
        return pd.read_csv(path)
    if isinstance(history, pd.DataFrame):
        return history.copy()
    if isinstance(history, dict):
        try:
            return pd.DataFrame(history)
        except ValueError as err:
            raise DataError(f"{name} dict columns must have equal lengths: {err}") from err
    raise DataError(
        f"{name} must be a pandas DataFrame, a dict of columns or a CSV path; got "
        f"{type(history).__name__}"
    )


def _group(col: str) -> str:
    c = col.lower().removeprefix("hp_")
    if "bps" in c or c.endswith("r2") or "corr" in c:
        return "score"
    if c in ("lr", "learning_rate") or c.startswith("lr") or "_wt" in c or "ramp" in c:
        return "sched"
    if c.endswith(("_weight", "_scale")) or "dropout" in c or "cd_rate" in c:
        return "hparam"
    if c.startswith("kl") or "_kl" in c or "l2" in c:
        return "reg"
    if "nll" in c or "loss" in c or "recon" in c:
        return "loss"
    return "other"


_NAMES = {
    "train_nll": "train NLL",
    "valid_nll": "validation NLL",
    "val_nll": "validation NLL",
    "smth_val_nll_heldin": "validation NLL (smoothed)",
    "val_nll_heldin": "validation NLL",
    "train_nll_heldin": "train NLL",
    "kl_ic": "KL, initial condition",
    "kl_co": "KL, inferred inputs",
    "l2": "L2, GRU weights",
    "lr": "learning rate",
    "learning_rate": "learning rate",
    "kl_wt": "KL weight (ramp)",
    "kl_ramp": "KL ramp",
    "l2_ramp": "L2 ramp",
    "nll": "train NLL",
    "loss": "train loss",
    "val_loss": "validation loss",
    "val_nll_smth": "validation NLL (smoothed)",
    "val_kl_ic": "validation KL, initial condition",
    "val_kl_co": "validation KL, inferred inputs",
    "val_fp_bps": "validation fp-bps",
    "grad_norm": "gradient norm",
    "l2_wt": "L2 weight (ramp)",
    "valid_co_bps": "validation co-bps",
    "val_co_bps": "validation co-bps",
}
_WORDS = {
    "nll": "NLL",
    "kl": "KL",
    "l2": "L2",
    "lr": "learning rate",
    "val": "validation",
    "valid": "validation",
    "smth": "smoothed",
    "co": "co",
    "bps": "bps",
    "ic": "IC",
}


def _label(col: str) -> str:
    """Readable legend text for a log column."""
    if col in _NAMES:
        return _NAMES[col]
    if col.startswith("hp_"):
        col = col[3:]
        if col in _NAMES:
            return _NAMES[col]
    words = col.replace("/", " ").replace("-", " ").split("_" if "_" in col else " ")
    words = [w for part in words for w in part.split()]
    return " ".join(_WORDS.get(w.lower(), w) for w in words)


def _style_for(col: str) -> dict[str, Any]:
    c = col.lower()
    valid = any(k in c for k in ("val", "valid"))
    smooth = "smth" in c or "smooth" in c
    if smooth or _group(col) == "score":
        return {"ls": "-", "lw": 2.3}
    if valid:
        return {"ls": "-", "lw": 1.3, "alpha": 0.75}
    return {"ls": "--", "lw": 1.6}


def _base(col: str) -> str:
    """The quantity a column measures, without its split and smoothing marks."""
    c = col.lower().removeprefix("hp_")
    for pre in ("smth_", "train_", "valid_", "val_", "valid/", "train/"):
        c = c.removeprefix(pre)
    for suf in ("_smth", "_smooth", "_heldin"):
        c = c.removesuffix(suf)
    return c


def _is_lr(col: str) -> bool:
    c = col.lower().removeprefix("hp_")
    return c.startswith("lr") or c == "learning_rate"


def _zoom_top(values: np.ndarray, epochs: np.ndarray) -> float | None:
    """Upper y limit that ignores the first 5 % of epochs when they dwarf the rest."""
    fin = np.isfinite(values)
    if fin.sum() < 20:
        return None
    cut = np.nanpercentile(epochs, 5)
    later = values[fin & (epochs > cut)]
    if later.size == 0:
        return None
    lo, hi, top = later.min(), later.max(), values[fin].max()
    if top - lo > 3 * (hi - lo) and hi > lo:
        return hi + 0.15 * (hi - lo)
    return None


@styled
def plot_training_curves(
    history: Any,
    *,
    metrics: Sequence[str] | None = None,
    ax: Axes | None = None,
    logy: bool | None = None,
    best: str | None = None,
    title: str | None = None,
) -> Figure:
    """LFADS learning curves: losses, regularisers, learning rate; best epoch marked.

    Parameters
    ----------
    history : pandas.DataFrame, dict of columns, or path to a CSV file
        One row per epoch. Columns such as ``epoch``, ``train_nll``,
        ``valid_nll``, ``kl_ic``, ``kl_co``, ``l2``, ``lr``, ``kl_wt``,
        ``valid_co_bps``; whatever numeric columns are present are plotted,
        grouped into panels (losses, metrics, regularisers, learning rate).
        Without an ``epoch`` column the row number + 1 is used.
    metrics : sequence of str, optional
        Only these columns (names must exist).
    ax : Axes, optional
        Put every curve into this one axes.
    logy : bool, optional
        Log y axis for losses and regularisers. Default: log where a panel's
        positive values span more than two decades. The learning rate is
        always on a log axis.
    best : str, optional
        Column whose minimum marks the best epoch (default: the first present
        of ``smth_val_nll_heldin``, ``valid_nll``, ``val_nll``, ``valid_loss``...).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from nlbtut.plotting import plot_training_curves
    >>> ep = np.arange(1, 101)
    >>> hist = pd.DataFrame({"epoch": ep, "train_nll": 0.1 + 1 / ep,
    ...                      "valid_nll": 0.12 + 1 / ep + 1e-4 * ep, "lr": 4e-3 * 0.99 ** ep})
    >>> fig = plot_training_curves(hist)
    """
    df = read_history(history)
    if df.empty:
        raise DataError("history has no rows (no epoch was logged)")
    if "epoch" in df.columns:
        epochs = pd.to_numeric(df["epoch"], errors="coerce").to_numpy(dtype=float)
    else:
        epochs = np.arange(1, len(df) + 1, dtype=float)
    numeric = [
        c
        for c in df.columns
        if c not in _SKIP_NAMES
        and not any(part in c for part in _SKIP_PARTS)
        and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
        # a hyperparameter that never changed says nothing over epochs
        and not (c.startswith("hp_") and df[c].nunique(dropna=True) <= 1)
    ]
    if metrics is not None:
        missing = [m for m in metrics if m not in df.columns]
        if missing:
            raise DataError(f"metrics {missing} are not columns of history: {list(df.columns)}")
        numeric = list(metrics)
    numeric = [c for c in numeric if df[c].notna().any()]
    if not numeric:
        raise DataError(f"history has no numeric column to plot; columns: {list(df.columns)}")
    if best is None:
        best = next((k for k in _VALID_KEYS if k in df.columns and df[k].notna().any()), None)
    elif best not in df.columns:
        raise DataError(f"best={best!r} is not a column of history: {list(df.columns)}")
    best_epoch = None
    if best is not None:
        vals = pd.to_numeric(df[best], errors="coerce").to_numpy(dtype=float)
        # like the trainer: the best model is chosen among epochs after the KL/L2 ramps
        ramps = [c for c in df.columns if _group(c) == "sched" and not _is_lr(c)]
        if ramps:
            done = np.all(df[ramps].apply(pd.to_numeric, errors="coerce").to_numpy() >= 1, axis=1)
            if done.any():
                vals = np.where(done, vals, np.nan)
        if np.isfinite(vals).any():
            k = int(np.nanargmin(vals))
            best_epoch, best_value = epochs[k], vals[k]

    groups: dict[str, list[str]] = {}
    for c in numeric:
        groups.setdefault(_group(c), []).append(c)
    order = [g for g, _ in _GROUPS if g in groups]
    titles = dict(_GROUPS)
    if ax is not None:
        fig, ax = new_figure(ax, figsize=(1, 1))
        panels = [(ax, [c for g in order for c in groups[g]], "values")]
    else:
        n = len(order)
        ncols = 1 if n == 1 else 2
        nrows = int(np.ceil(n / ncols))
        fig, axes = new_figure(
            None, nrows, ncols, figsize=(10, 3.1 * nrows + 0.5), squeeze=False, sharex=True
        )
        axes = axes.ravel()
        for extra in axes[n:]:
            extra.set_visible(False)
        panels = [(axes[i], groups[g], titles[g]) for i, g in enumerate(order)]
        for i, a in enumerate(axes[:n]):
            if i + ncols >= n:
                a.set_xlabel("epoch")
                a.xaxis.set_tick_params(labelbottom=True)

    palette = [
        OKABE_ITO[c]
        for c in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple", "sky_blue")
    ]
    for a, cols, name in panels:
        lr_cols = [c for c in cols if _is_lr(c)]
        ramp_cols = [c for c in cols if _group(c) == "sched" and not _is_lr(c)]
        # ramps (0..1 multipliers) go on a right-hand linear axis when a log LR is there
        main_cols = (
            cols
            if name == "values" or not lr_cols
            else lr_cols + [c for c in cols if c not in lr_cols and c not in ramp_cols]
        )
        twin_cols = [] if main_cols is cols else ramp_cols
        bases: list[str] = []  # train and validation of one quantity share a colour
        for c in main_cols:
            if _base(c) not in bases:
                bases.append(_base(c))
        for c in main_cols:
            y = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            color = palette[bases.index(_base(c)) % len(palette)]
            a.plot(epochs, y, color=color, label=_label(c), **_style_for(c))
        vals = np.concatenate(
            [pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in main_cols]
        )
        pos = vals[np.isfinite(vals) & (vals > 0)]
        all_pos = pos.size == np.isfinite(vals).sum() and pos.size > 0
        auto_log = all_pos and pos.max() / pos.min() > 100
        if all_pos and (
            bool(lr_cols) and name != "values" or (logy if logy is not None else auto_log)
        ):
            a.set_yscale("log")
        elif name == titles["loss"]:
            top = _zoom_top(vals, np.tile(epochs, len(main_cols)))
            if top is not None:
                a.set_ylim(top=top)
        handles, labels = a.get_legend_handles_labels()
        if twin_cols:
            tw = a.twinx()
            tw.spines["right"].set_visible(True)
            for k, c in enumerate(twin_cols, start=len(bases)):
                y = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
                tw.plot(epochs, y, color=palette[k % len(palette)], label=_label(c), ls=":", lw=2.0)
            tw.set_ylim(-0.03, 1.08)
            tw.set_ylabel("ramp weight")
            h2, l2 = tw.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
            a.set_ylabel("learning rate")
        if best_epoch is not None:
            a.axvline(best_epoch, color="#555555", ls="--", lw=1.0, zorder=0)
        if best is not None and best in main_cols and best_epoch is not None:
            (star,) = a.plot(
                [best_epoch], [best_value], marker="*", ms=13, color="black", zorder=5, ls=""
            )
            handles.append(star)
            labels.append(f"best epoch ({best_epoch:g})")
        if name != "values":
            a.set_title(_label(cols[0]) if name == "other" and len(cols) == 1 else name, loc="left")
        target = tw if twin_cols else a
        target.legend(
            handles,
            labels,
            loc="best",
            fontsize=8.5,
            frameon=bool(twin_cols),
            framealpha=0.9,
            edgecolor="none",
        )
        a.grid(alpha=0.7)
    if ax is not None:
        ax.set_xlabel("epoch")
    if best_epoch is not None and ax is None:
        fig.text(
            0.99,
            0.005,
            f"dashed line: best epoch ({best_epoch:g}, lowest {best})",
            ha="right",
            va="bottom",
            fontsize=8.5,
            color="#555555",
        )
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
    if ax is None:
        fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig
