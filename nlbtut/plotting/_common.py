"""Shared style, palette and input checks of :mod:`nlbtut.plotting`.

Every figure of the book is drawn inside :func:`styled` (an ``rc_context``), so
fonts, line widths and spines are the same on every page without changing the
reader's global matplotlib settings.

Colours come from the Okabe-Ito palette (Okabe & Ito 2008), which stays
distinguishable for the common forms of colour blindness. Methods keep one
colour across the whole book (:func:`method_color`); conditions use the palette
when there are at most 8 of them and otherwise a cyclic map built from the same
colours (:func:`condition_colors`), because reach conditions are directions.
matplotlib has no colour-blind-safe cyclic map, which is why one is built here.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import matplotlib
import numpy as np

from nlbtut.errors import DataError


def _ensure_headless_backend() -> None:
    """Use Agg when there is no display and nobody chose a backend yet."""
    if "matplotlib.pyplot" in sys.modules or os.environ.get("MPLBACKEND"):
        return
    if "ipykernel" in sys.modules:
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        matplotlib.use("Agg")


_ensure_headless_backend()

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap, to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = [
    "OKABE_ITO",
    "HELDIN_COLOR",
    "HELDOUT_COLOR",
    "TRUTH_COLOR",
    "CYCLIC_CMAP",
    "RC",
    "styled",
    "method_color",
    "method_colors",
    "condition_colors",
    "angle_colors",
    "as_array",
    "new_figure",
    "plt",
    "Axes",
    "Figure",
]

#: The Okabe-Ito colour-blind-safe palette.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#7F7F7F",
}

HELDIN_COLOR = "#222222"
HELDOUT_COLOR = OKABE_ITO["vermillion"]
TRUTH_COLOR = OKABE_ITO["black"]

# order used for conditions: strong colours first, yellow (weak on white) last
_CONDITION_ORDER = (
    "blue",
    "orange",
    "bluish_green",
    "vermillion",
    "sky_blue",
    "reddish_purple",
    "black",
    "yellow",
)

#: A cyclic map through the Okabe-Ito hues (yellow left out: too pale on white).
CYCLIC_CMAP = LinearSegmentedColormap.from_list(
    "okabe_ito_cyclic",
    [
        OKABE_ITO[c]
        for c in ("blue", "sky_blue", "bluish_green", "orange", "vermillion", "reddish_purple")
    ]
    + [OKABE_ITO["blue"]],
    N=256,
)

#: rcParams of every book figure.
RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10.5,
    "axes.titlesize": 11.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "axes.grid": False,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "lines.solid_capstyle": "round",
    "axes.prop_cycle": matplotlib.cycler(color=[OKABE_ITO[c] for c in _CONDITION_ORDER]),
    "image.cmap": "viridis",
    "mathtext.fontset": "dejavusans",
    "figure.constrained_layout.use": False,
}

F = TypeVar("F", bound=Callable[..., Any])


def styled(func: F) -> F:
    """Decorator: run a plotting function inside the book's ``rc_context``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Resolve pyplot's backend *before* entering the context: if the first figure of a
        # notebook kernel were created inside ``rc_context``, leaving the context would reset
        # ``interactive`` and later figures would not be displayed inline.
        import matplotlib.pyplot as plt

        plt.get_backend()
        interactive = matplotlib.rcParams["interactive"]
        try:
            with matplotlib.rc_context(RC):
                return func(*args, **kwargs)
        finally:
            matplotlib.rcParams["interactive"] = interactive

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- colours
_METHOD_COLORS: dict[str, str] = {
    "true": OKABE_ITO["black"],
    "truth": OKABE_ITO["black"],
    "ground truth": OKABE_ITO["black"],
    "oracle": OKABE_ITO["black"],
    "spikes": OKABE_ITO["grey"],
    "smoothing": OKABE_ITO["grey"],
    "spike smoothing": OKABE_ITO["grey"],
    "gpfa": OKABE_ITO["bluish_green"],
    "fa": OKABE_ITO["sky_blue"],
    "factor analysis": OKABE_ITO["sky_blue"],
    "slds": OKABE_ITO["orange"],
    "ndt": OKABE_ITO["reddish_purple"],
    "lfads": OKABE_ITO["blue"],
    "autolfads": OKABE_ITO["vermillion"],
}
_FALLBACK_METHOD_COLORS = [
    OKABE_ITO[c] for c in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple")
] + [OKABE_ITO["sky_blue"], "#555555", OKABE_ITO["yellow"]]


def _known_color(name: str) -> str | None:
    key = name.strip().lower()
    if key in _METHOD_COLORS:
        return _METHOD_COLORS[key]
    for sep in (" (", " [", "(", " ", "-"):
        head = key.split(sep)[0]
        if head in _METHOD_COLORS:
            return _METHOD_COLORS[head]
    return None


def method_color(name: str, index: int = 0) -> str:
    """Colour of a method, the same on every page of the book.

    Known names (case-insensitive; "LFADS (CPU)" counts as "LFADS"): truth/oracle
    black, smoothing grey, GPFA green, FA sky blue, SLDS orange, NDT purple,
    LFADS blue, AutoLFADS vermillion. Other names get the ``index``-th colour of
    the palette.

    Examples
    --------
    >>> method_color("AutoLFADS")
    '#D55E00'
    """
    known = _known_color(name)
    if known is not None:
        return known
    return _FALLBACK_METHOD_COLORS[index % len(_FALLBACK_METHOD_COLORS)]


def method_colors(names: Sequence[str]) -> list[str]:
    """Colours of several methods: known names keep theirs, others take unused ones."""
    known = [_known_color(n) for n in names]
    used = {c for c in known if c is not None}
    spare = [c for c in _FALLBACK_METHOD_COLORS if c not in used] or _FALLBACK_METHOD_COLORS
    out, k = [], 0
    for c in known:
        if c is None:
            c = spare[k % len(spare)]
            k += 1
        out.append(c)
    return out


def condition_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinguishable RGBA colours for conditions.

    At most 8 conditions: the Okabe-Ito palette; more: evenly spaced on the
    cyclic Okabe-Ito map (neighbouring conditions get similar hues, which suits
    reach directions).
    """
    if n <= len(_CONDITION_ORDER):
        return [to_rgba(OKABE_ITO[c]) for c in _CONDITION_ORDER[:n]]
    return [CYCLIC_CMAP(i / n) for i in range(n)]


def angle_colors(angles_rad: np.ndarray) -> np.ndarray:
    """RGBA colours (n x 4) for directions in radians on the cyclic map."""
    frac = np.mod(np.asarray(angles_rad, dtype=float), 2 * np.pi) / (2 * np.pi)
    frac = np.nan_to_num(frac, nan=0.0)
    return CYCLIC_CMAP(frac)


def far_angles(paths: np.ndarray) -> np.ndarray:
    """Per trajectory, the PC1-PC2 direction of its point farthest from its start (rad)."""
    out = np.zeros(paths.shape[0])
    for k, p in enumerate(paths):
        ok = np.all(np.isfinite(p[:, :2]), axis=1)
        if ok.sum() < 2:
            continue
        d = p[ok, :2] - p[ok][0, :2]
        far = d[np.argmax(np.hypot(d[:, 0], d[:, 1]))]
        out[k] = np.arctan2(far[1], far[0])
    return out


# --------------------------------------------------------------------------- checks
def as_array(
    x: Any,
    name: str,
    ndim: int | tuple[int, ...],
    layout: str,
    *,
    last: int | None = None,
) -> np.ndarray:
    """``x`` as a float array of the expected number of dimensions, or a DataError.

    ``layout`` is a human-readable name of the axes, e.g. ``"trials x time x neurons"``.
    """
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError(
            f"{name} must be a numeric array ({layout}); got {type(x).__name__} that "
            f"cannot be converted to numbers: {err}"
        ) from err
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise DataError(f"{name} must be a {want} array ({layout}); got shape {arr.shape}")
    if last is not None and arr.shape[-1] != last:
        raise DataError(
            f"{name} must have {last} entries on its last axis ({layout}); got shape {arr.shape}"
        )
    if arr.size == 0:
        raise DataError(f"{name} is empty ({layout}); got shape {arr.shape}")
    return arr


def check_indices(idx: Sequence[int], n: int, name: str, what: str) -> list[int]:
    """Validate integer indices into an axis of length ``n``."""
    try:
        out = [int(i) for i in idx]
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be a sequence of integers; got {idx!r}") from err
    bad = [i for i in out if not -n <= i < n]
    if bad:
        raise DataError(f"{name} {bad} out of range: there are {n} {what} (0..{n - 1})")
    if not out:
        raise DataError(f"{name} is empty: give at least one index of the {n} {what}")
    return [i % n for i in out]


def labels_from_cond_idx(cond_idx: Any, n_trials: int, name: str = "cond_idx") -> np.ndarray:
    """Per-trial integer condition labels (0..C-1) from labels or NLB index lists.

    Accepts a length-``n_trials`` sequence of labels (ints or strings; they are
    renumbered 0..C-1 in sorted order), or the NLB ``train_cond_idx`` /
    ``eval_cond_idx`` form: a list with one array of trial indices per
    condition (condition c = position c in the list). Trials in no condition
    get label -1.
    """
    if isinstance(cond_idx, (str, bytes)) or not hasattr(cond_idx, "__len__"):
        raise DataError(
            f"{name} must be one label per trial or a list of trial-index arrays; got "
            f"{type(cond_idx).__name__}"
        )
    seq = list(cond_idx)
    if seq and all(np.ndim(s) == 1 for s in seq):  # NLB form: indices per condition
        labels = np.full(n_trials, -1, dtype=int)
        for c, members in enumerate(seq):
            members = np.asarray(members, dtype=int)
            if members.size and (members.max() >= n_trials or members.min() < 0):
                raise DataError(
                    f"{name}[{c}] holds trial index {int(members.max())} but there are "
                    f"only {n_trials} trials (0..{n_trials - 1})"
                )
            labels[members] = c
        return labels
    if any(np.ndim(s) != 0 for s in seq):
        raise DataError(
            f"{name} must be one label per trial or a list of 1-D trial-index arrays; got "
            f"entries of mixed dimensions"
        )
    if len(seq) != n_trials:
        raise DataError(
            f"{name} must have one label per trial ({n_trials}) or be a list of trial-index "
            f"arrays (one per condition); got {len(seq)} labels"
        )
    arr = np.asarray(seq)
    if arr.dtype.kind not in "iuf":
        arr = arr.astype(str)
    _, inv = np.unique(arr, return_inverse=True)
    return inv.astype(int).ravel()


def new_figure(
    ax: Any, nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kw: Any
) -> tuple[Figure, Any]:
    """A new figure and axes, or the figure of a given ``ax``."""
    if ax is not None:
        if isinstance(ax, Axes):
            return ax.figure, ax
        arr = np.asarray(ax, dtype=object)
        if arr.size and all(isinstance(a, Axes) for a in arr.ravel()):
            return arr.ravel()[0].figure, arr
        raise DataError(f"ax must be a matplotlib Axes (or array of Axes); got {type(ax).__name__}")
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, **kw)
    return fig, axes


def time_axis(n: int, bin_width: float, offset_ms: float = 0.0) -> np.ndarray:
    """Bin-centre-free time stamps (ms) of ``n`` bins starting at ``offset_ms``."""
    if not np.isfinite(bin_width) or bin_width <= 0:
        raise DataError(f"bin_width must be a positive number of ms; got {bin_width!r}")
    return offset_ms + np.arange(n) * float(bin_width)


def to_hz(x: np.ndarray, bin_width: float) -> np.ndarray:
    """Convert spikes/bin to spikes/s for ``bin_width`` in ms."""
    return x * (1000.0 / float(bin_width))


def mapping_or_single(
    x: Any, default_name: str, labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Normalise ``array`` / ``list of arrays`` / ``{name: array}`` into a dict."""
    if isinstance(x, Mapping):
        return {str(k): v for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and all(np.ndim(v) >= 2 for v in x):
        names = (
            list(labels) if labels is not None else [f"{default_name} {i}" for i in range(len(x))]
        )
        if len(names) != len(x):
            raise DataError(f"labels must name each of the {len(x)} arrays; got {len(names)}")
        return dict(zip(names, x))
    name = labels[0] if labels else default_name
    return {name: x}
