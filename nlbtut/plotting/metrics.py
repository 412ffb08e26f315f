"""The benchmark scoreboard: NLB metrics of several methods side by side.

One panel per metric (metrics have different scales, so they never share an
axis), methods as horizontal bars with their values written next to them, and
an optional reference line per metric (e.g. the oracle that knows the true
rates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nlbtut.errors import DataError
from nlbtut.plotting._common import Axes, Figure, method_colors, new_figure, styled

__all__ = ["plot_metrics_comparison", "results_frame"]

_UNITS = {"bps": "bits/spike", "r2": "R²", "corr": "Pearson r"}


def _unit(metric: str) -> str:
    m = metric.lower()
    for key, unit in _UNITS.items():
        if m.endswith(key):
            return unit
    return metric


def _flatten(value: Any, where: str) -> dict[str, float]:
    """metric -> value from a dict, an evaluate() list, or {group: {metric: value}}."""
    if isinstance(value, (list, tuple)):
        out: dict[str, float] = {}
        for item in value:
            out.update(_flatten(item, where))
        return out
    if isinstance(value, pd.Series):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise DataError(
            f"results[{where!r}] must be a dict metric -> value (or the list that "
            f"nlbtut.evaluate returns); got {type(value).__name__}"
        )
    out = {}
    for k, v in value.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, where))
        else:
            try:
                out[str(k)] = float(v)
            except (TypeError, ValueError) as err:
                raise DataError(f"results[{where!r}][{k!r}] is not a number: {v!r}") from err
    return out


def results_frame(results: Any) -> pd.DataFrame:
    """Normalise results into a DataFrame (rows = methods, columns = metrics).

    Accepts a DataFrame, a dict method -> dict metric -> value, or a dict
    method -> the list of dicts that :func:`nlbtut.evaluate` returns.
    """
    if isinstance(results, pd.DataFrame):
        df = results.apply(pd.to_numeric, errors="coerce")
        df.index = [str(i) for i in df.index]
        df.columns = [str(c) for c in df.columns]
        return df
    if isinstance(results, Mapping):
        rows = {str(name): _flatten(v, str(name)) for name, v in results.items()}
        return pd.DataFrame.from_dict(rows, orient="index")
    raise DataError(
        "results must be a pandas DataFrame (rows = methods, columns = metrics) or a dict "
        f"method -> {{metric: value}}; got {type(results).__name__}"
    )


def _select_metrics(df: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for m in metrics:
        if m in df.columns:
            chosen.append(m)
        else:  # scaling datasets prefix metrics: "[100] co-bps"
            chosen += [c for c in df.columns if c.endswith(f"] {m}") and c not in chosen]
    chosen = [c for c in chosen if df[c].notna().any()]
    if not chosen:
        raise DataError(
            f"none of the metrics {list(metrics)} has a value in results; available columns: "
            f"{list(df.columns)}"
        )
    return chosen


def _fmt(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.3f}"


@styled
def plot_metrics_comparison(
    results: Any,
    *,
    metrics: Sequence[str] = ("co-bps", "vel R2", "psth R2", "fp-bps"),
    ax: Axes | None = None,
    highlight: str | Sequence[str] | None = None,
    reference: str | Mapping[str, float] | None = None,
    reference_label: str | None = None,
    title: str | None = None,
) -> Figure:
    """Bar chart of NLB metrics for several methods.

    Parameters
    ----------
    results : pandas.DataFrame or dict
        Rows = methods, columns = metrics (e.g. ``"co-bps"``, ``"vel R2"``,
        ``"psth R2"``, ``"fp-bps"``, ``"tp corr"``); or a dict method -> dict
        metric -> value; or a dict method -> the output of
        :func:`nlbtut.evaluate`. Scaling-dataset keys such as ``"[100] co-bps"``
        are found from ``"co-bps"``.
    metrics : sequence of str
        Metrics to show, in order; metrics without any value are left out.
    ax : Axes, optional
        Draw everything into one axes as a grouped bar chart (groups = metrics).
        Default: one panel per metric, methods as horizontal bars.
    highlight : str or sequence of str, optional
        Methods drawn in full colour with bold labels; the others are faded.
    reference : str or dict, optional
        A reference line per metric: a dict metric -> value, or the name of a
        row of ``results`` (e.g. ``"oracle"``), which is then drawn as a dashed
        line instead of a bar.
    reference_label : str, optional
        Legend text of the reference line (default: the row name or "reference").
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nlbtut.plotting import plot_metrics_comparison
    >>> res = {"smoothing": {"co-bps": 0.21, "vel R2": 0.62},
    ...        "AutoLFADS": {"co-bps": 0.34, "vel R2": 0.91},
    ...        "oracle": {"co-bps": 0.39, "vel R2": 0.93}}
    >>> fig = plot_metrics_comparison(res, reference="oracle", highlight="AutoLFADS")
    """
    df = results_frame(results)
    if df.empty:
        raise DataError("results is empty: give at least one method with one metric")
    ref_values: dict[str, float] = {}
    if isinstance(reference, str):
        if reference not in df.index:
            raise DataError(f"reference {reference!r} is not a method of results: {list(df.index)}")
        ref_values = df.loc[reference].to_dict()
        reference_label = reference_label or reference
        df = df.drop(index=reference)
    elif reference is not None:
        ref_values = {str(k): float(v) for k, v in dict(reference).items()}
        reference_label = reference_label or "reference"
    cols = _select_metrics(df, metrics)
    methods = list(df.index)
    if not methods:
        raise DataError("results holds only the reference row; nothing to compare")
    hl = {highlight} if isinstance(highlight, str) else set(highlight or ())
    unknown = hl - set(methods)
    if unknown:
        raise DataError(f"highlight {sorted(unknown)} not among the methods {methods}")
    colors = method_colors(methods)
    alphas = [1.0 if (not hl or m in hl) else 0.35 for m in methods]
    values = df[cols].to_numpy(dtype=float)

    if ax is not None:
        fig, ax = new_figure(ax, figsize=(1, 1))
        _grouped(ax, methods, cols, values, colors, alphas, ref_values, reference_label)
        if title:
            ax.set_title(title, loc="left")
        return fig

    n_m, n_c = len(methods), len(cols)
    fig, axes = new_figure(
        None, 1, n_c, figsize=(2.3 * n_c + 1.6, 0.42 * n_m + 1.5), sharey=True, squeeze=False
    )
    axes = axes.ravel()
    y = np.arange(n_m)
    for j, (a, metric) in enumerate(zip(axes, cols)):
        v = values[:, j]
        bars = a.barh(y, np.nan_to_num(v), color=colors, height=0.68)
        for bar, alpha in zip(bars, alphas):
            bar.set_alpha(alpha)
        finite = v[np.isfinite(v)]
        ref = ref_values.get(metric, np.nan)
        span_vals = np.concatenate([finite, [0.0], [ref] if np.isfinite(ref) else []])
        lo, hi = float(span_vals.min()), float(span_vals.max())
        pad = 0.4 * (hi - lo if hi > lo else 1.0)
        a.set_xlim(lo - (pad if lo < 0 else 0), hi + pad)
        for yi, vi in zip(y, v):
            x = vi if np.isfinite(vi) else 0.0
            ha = "left" if x >= 0 else "right"
            off = 0.02 * (hi - lo + pad) * (1 if x >= 0 else -1)
            a.text(
                x + off,
                yi,
                _fmt(vi),
                va="center",
                ha=ha,
                fontsize=9,
                zorder=5,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.6},
            )
        a.axvline(0, color="#444444", lw=0.8)
        if np.isfinite(ref):
            a.axvline(ref, color="black", lw=1.2, ls="--", label=reference_label)
        a.set_title(metric)
        a.set_xlabel(_unit(metric))
        a.spines["left"].set_visible(False)
        a.tick_params(axis="y", length=0)
        a.grid(axis="x", alpha=0.8)
        a.set_axisbelow(True)
    axes[0].set_yticks(y, methods)
    axes[0].set_ylim(n_m - 0.5, -0.5)
    for lab in axes[0].get_yticklabels():
        if lab.get_text() in hl:
            lab.set_fontweight("bold")
    if ref_values:
        fig.legend(
            handles=[a.lines[-1] for a in axes if a.lines and a.lines[-1].get_linestyle() == "--"][
                :1
            ],
            loc="upper right",
            bbox_to_anchor=(1.0, 1.0),
        )
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.93 if (ref_values or title) else 1))
    return fig


def _grouped(
    ax: Axes,
    methods: list[str],
    cols: list[str],
    values: np.ndarray,
    colors: list[str],
    alphas: list[float],
    ref_values: dict[str, float],
    reference_label: str | None,
) -> None:
    """Grouped vertical bars on one axes: groups = metrics, bars = methods."""
    n_m, n_c = len(methods), len(cols)
    width = 0.8 / n_m
    x = np.arange(n_c)
    for i, m in enumerate(methods):
        xs = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(xs, np.nan_to_num(values[i]), width=width * 0.92, color=colors[i], label=m)
        for bar in bars:
            bar.set_alpha(alphas[i])
        for xi, vi in zip(xs, values[i]):
            y = vi if np.isfinite(vi) else 0.0
            ax.text(
                xi,
                y,
                _fmt(vi),
                ha="center",
                va="bottom" if y >= 0 else "top",
                fontsize=7.5,
                rotation=90 if n_m > 3 else 0,
                zorder=5,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.4},
            )
    labelled = False
    for j, metric in enumerate(cols):
        ref = ref_values.get(metric, np.nan)
        if np.isfinite(ref):
            ax.hlines(
                ref,
                j - 0.45,
                j + 0.45,
                color="black",
                ls="--",
                lw=1.2,
                label=None if labelled else reference_label,
            )
            labelled = True
    ax.axhline(0, color="#444444", lw=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xticks(x, cols)
    ax.set_ylabel("score")
    ax.margins(y=0.15)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
