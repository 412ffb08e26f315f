"""A diagram of LFADS drawn with matplotlib patches.

No library draws model diagrams from matplotlib primitives the way the book
needs (one call, no Graphviz binary, same fonts and colours as the other
figures), so boxes and arrows are placed by hand on a 100 x 64 canvas.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from nlbtut.plotting._common import OKABE_ITO, Axes, Figure, new_figure, styled

__all__ = ["plot_lfads_architecture"]

# (fill, edge) per kind of block
_KINDS = {
    "data": ("#EFEFEF", "#555555"),
    "encoder": ("#DCEBF7", OKABE_ITO["blue"]),
    "latent": ("#FDEBC8", "#B87D00"),
    "generator": ("#D3F0E5", OKABE_ITO["bluish_green"]),
    "output": ("#F9DFCF", OKABE_ITO["vermillion"]),
    "prior": ("#FFFFFF", OKABE_ITO["reddish_purple"]),
}
_MASK = "#F2C886"  # coordinated-dropout masked bins
_KEY = (
    ("data", "data"),
    ("encoder", "encoder (bidirectional GRU)"),
    ("latent", "latent variable (sampled)"),
    ("generator", "generator and readout"),
    ("output", "output"),
    ("prior", "prior (KL penalty)"),
)


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    title: str,
    sub: str,
    kind: str,
    *,
    title_dy: float = 0.0,
) -> None:
    fill, edge = _KINDS[kind]
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.0,rounding_size=1.3",
            facecolor=fill,
            edgecolor=edge,
            lw=1.8 if kind != "prior" else 1.5,
            ls="-" if kind != "prior" else (0, (4, 2)),
            zorder=2,
        )
    )
    ax.text(
        x + w / 2,
        y + h - 2.6 + title_dy,
        title,
        ha="center",
        va="center",
        fontsize=10.5,
        fontweight="bold",
        zorder=3,
    )
    if sub:
        ax.text(
            x + w / 2,
            y + (h - 3.6 + title_dy) / 2,
            sub,
            ha="center",
            va="center",
            fontsize=8.6,
            color="#333333",
            linespacing=1.35,
            zorder=3,
        )


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    color: str = "#333333",
    dashed: bool = False,
    both: bool = False,
    rad: float = 0.0,
    lw: float = 1.5,
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="<|-|>" if both else "-|>",
            mutation_scale=13,
            color=color,
            lw=lw,
            ls=(0, (3, 2)) if dashed else "-",
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=0,
            shrinkB=0,
            zorder=1,
        )
    )


def _polyline_arrow(
    ax: Axes, pts: list[tuple[float, float]], color: str, lw: float = 1.4, dashed: bool = True
) -> None:
    codes = [Path.MOVETO] + [Path.LINETO] * (len(pts) - 1)
    ax.add_patch(
        FancyArrowPatch(
            path=Path(pts, codes),
            arrowstyle="-|>",
            mutation_scale=13,
            color=color,
            lw=lw,
            ls=(0, (3, 2)) if dashed else "-",
            zorder=1,
        )
    )


def _label(ax: Axes, x: float, y: float, text: str, **kw) -> None:
    opts = {"ha": "center", "va": "center", "fontsize": 8.6, "color": "#333333", "zorder": 4}
    opts.update(kw)
    ax.text(x, y, text, **opts)


def _mini_raster(ax: Axes, x: float, y: float, w: float, h: float) -> None:
    """A small spike raster with a few coordinated-dropout masked cells."""
    rng = np.random.default_rng(3)
    n_rows, n_cols = 7, 10
    cw, rh = w / n_cols, h / n_rows
    masked = rng.random((n_rows, n_cols)) < 0.28
    for i in range(n_rows):
        for j in range(n_cols):
            cx, cy = x + j * cw, y + i * rh
            if masked[i, j]:
                ax.add_patch(
                    Rectangle((cx, cy), cw, rh, facecolor=_MASK, edgecolor="none", zorder=3)
                )
            elif rng.random() < 0.35:
                ax.plot(
                    [cx + cw / 2] * 2,
                    [cy + 0.15 * rh, cy + 0.85 * rh],
                    color="#222222",
                    lw=1.3,
                    zorder=4,
                )
    ax.add_patch(Rectangle((x, y), w, h, facecolor="none", edgecolor="#999999", lw=0.6, zorder=4))


@styled
def plot_lfads_architecture(ax: Axes | None = None, *, show_controller: bool = True) -> Figure:
    """Diagram of LFADS: encoders, initial condition, controller, generator, readout.

    Held-in spikes enter two bidirectional GRU encoders. The IC encoder gives
    the posterior of the generator's initial condition :math:`g_0` (a sample is
    drawn); the controller encoder feeds, with a one-bin lag, a controller GRU
    that also sees the previous factors and emits inferred inputs :math:`u_t`.
    The generator GRU turns :math:`g_0` and :math:`u_t` into factors
    :math:`f_t` and Poisson rates for held-in *and* held-out neurons over the
    observed *and* forward-prediction bins. KL penalties tie :math:`g_0` to a
    Gaussian prior and :math:`u_t` to an AR(1) prior; coordinated dropout masks
    input bins during training.

    Parameters
    ----------
    ax : Axes, optional
        Draw into this axes (about 10 x 6.4 inches looks right).
    show_controller : bool
        Draw the controller path (controller encoder, controller GRU, inferred
        inputs and their AR(1) prior). False shows the autonomous model.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nlbtut.plotting import plot_lfads_architecture
    >>> fig = plot_lfads_architecture(show_controller=False)
    """
    y_lo = -3.5 if show_controller else 13.0
    y_hi = 60.5
    key_y = 58.6
    height = y_hi - y_lo
    if ax is None:
        fig, ax = new_figure(None, figsize=(10.0, 10.0 * height / 100.0))
        ax.set_position((0, 0, 1, 1))
    else:
        fig, ax = new_figure(ax, figsize=(1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal")
    ax.axis("off")

    H = 12.0  # box height
    top, mid, bot = 41.0, 23.0, 5.0  # row bottoms
    c1, c2, c3, c4 = 18.0, 39.0, 60.0, 80.5  # column lefts
    w1, w2, w3, w4 = 17.0, 17.0, 17.0, 16.5

    # colour key (text widths measured, so the row never overflows)
    renderer = fig.canvas.get_renderer()
    to_data = ax.transData.inverted()
    kx = 1.0
    for kind, text in _KEY:
        if kind == "prior" and not show_controller:
            text = "prior"
        fill, edge = _KINDS[kind]
        ax.add_patch(
            FancyBboxPatch(
                (kx, key_y - 1.0),
                2.6,
                2.0,
                boxstyle="round,pad=0,rounding_size=0.5",
                facecolor=fill,
                edgecolor=edge,
                lw=1.3,
                ls="-" if kind != "prior" else (0, (3, 1.5)),
            )
        )
        t = ax.text(kx + 3.4, key_y, text, va="center", fontsize=8.6, color="#333333")
        bb = t.get_window_extent(renderer=renderer)
        width = to_data.transform((bb.x1, 0))[0] - to_data.transform((bb.x0, 0))[0]
        kx += 3.4 + width + 2.6

    # input spikes with coordinated dropout
    in_x, in_w = 1.0, 13.5
    in_y, in_h = (17.0, 26.0) if show_controller else (21.0, 22.0)
    _box(ax, in_x, in_y, in_w, in_h, "spikes $x_t$", "", "data")
    _mini_raster(ax, in_x + 1.5, in_y + 8.6, in_w - 3.0, in_h - 13.2)
    _label(ax, in_x + in_w / 2, in_y + 4.3, "held-in neurons,\nobserved bins", fontsize=8.3)
    cd_y = 5.0 if show_controller else 14.0
    cd_h = 10.0 if show_controller else 5.6
    ax.add_patch(
        FancyBboxPatch(
            (in_x, cd_y),
            in_w,
            cd_h,
            boxstyle="round,pad=0,rounding_size=1.0",
            facecolor="#FCF0DA",
            edgecolor="#B87D00",
            lw=1.0,
            ls=(0, (2, 1.5)),
        )
    )
    _label(
        ax,
        in_x + in_w / 2,
        cd_y + cd_h - 1.9,
        "coordinated dropout",
        fontsize=8.0,
        color="#6B4900",
        fontweight="bold",
    )
    sw_y = cd_y + cd_h - 5.0 if show_controller else cd_y + 0.9
    ax.add_patch(
        Rectangle(
            (in_x + 1.4, sw_y), 1.6, 1.6, facecolor=_MASK, edgecolor="#B87D00", lw=0.6, zorder=3
        )
    )
    _label(ax, in_x + 3.6, sw_y + 0.8, "masked bins", ha="left", fontsize=7.8, color="#6B4900")
    if show_controller:
        _label(
            ax,
            in_x + in_w / 2,
            cd_y + 2.2,
            "(training only;\ngradient only there)",
            fontsize=7.4,
            color="#6B4900",
            linespacing=1.2,
        )

    # IC path (top row)
    _box(ax, c1, top, w1, H, "IC encoder", "bidirectional GRU\n(final states)", "encoder")
    _box(
        ax,
        c2,
        top,
        w2,
        H,
        "initial cond. $g_0$",
        "$q(g_0\\,|\\,x)=\\mathcal{N}(\\mu,\\sigma^2)$\nsample",
        "latent",
    )
    _box(ax, c3, top, w3, H, "IC prior", "$p(g_0)=\\mathcal{N}(\\mu_0,\\,0.1)$", "prior")
    _box(
        ax,
        c4 - 0.5,
        top,
        w4 + 1.5,
        H,
        "rates $r_t$",
        "$r_t=\\exp(W f_t+b)$, Poisson\nheld-in + held-out neurons\nobserved + forward bins",
        "output",
        title_dy=0.4,
    )
    _arrow(ax, (in_x + in_w, in_y + in_h - 4.0), (c1, top + H / 2), rad=-0.15)
    _arrow(ax, (c1 + w1, top + H / 2), (c2, top + H / 2))
    _arrow(
        ax,
        (c2 + w2, top + H / 2),
        (c3, top + H / 2),
        dashed=True,
        both=True,
        color=OKABE_ITO["reddish_purple"],
    )
    _label(
        ax,
        (c2 + w2 + c3) / 2,
        top + H / 2 + 1.8,
        "KL",
        color=OKABE_ITO["reddish_purple"],
        fontweight="bold",
    )

    # generator row (middle)
    gen_sub = (
        "$g_t=\\mathrm{GRU}(g_{t-1},\\,u_t)$"
        if show_controller
        else "$g_t=\\mathrm{GRU}(g_{t-1})$\nautonomous"
    )
    _box(ax, c3, mid, w3, H, "generator GRU", gen_sub, "generator")
    _box(ax, c4, mid, w4, H, "factors $f_t$", "$f_t=W_f\\,g_t$\n(low-dimensional)", "generator")
    # g0 -> generator initial state (down, then right)
    corner = [(c2 + w2 / 2, top), (c2 + w2 / 2, mid + H / 2), (c3, mid + H / 2)]
    _polyline_arrow(ax, corner, "#333333", lw=1.5, dashed=False)
    _label(ax, c2 + w2 / 2 + 0.8, mid + H / 2 + 2.2, "initial state", ha="left")
    _arrow(ax, (c3 + w3, mid + H / 2), (c4, mid + H / 2))
    _arrow(ax, (c4 + w4 / 2, mid + H), (c4 + w4 / 2, top))

    if show_controller:
        _box(
            ax,
            c1,
            bot,
            w1,
            H,
            "controller encoder",
            "bidirectional GRU\n(every step, lag 1)",
            "encoder",
            title_dy=0.2,
        )
        _box(ax, c2, bot, w2, H, "controller GRU", "$c_t$ from $e_t$ and $f_{t-1}$", "encoder")
        _box(
            ax,
            c3,
            bot,
            w3,
            H,
            "inferred inputs $u_t$",
            "$q(u_t)=\\mathcal{N}(\\mu_t,\\sigma_t^2)$\nsample",
            "latent",
        )
        _box(
            ax,
            c4,
            bot,
            w4,
            H,
            "AR(1) prior",
            "$p(u_t\\,|\\,u_{t-1})$\nlearned $\\tau$, variance",
            "prior",
        )
        _arrow(ax, (in_x + in_w, in_y + 4.0), (c1, bot + H / 2), rad=0.15)
        _arrow(ax, (c1 + w1, bot + H / 2), (c2, bot + H / 2))
        _label(ax, (c1 + w1 + c2) / 2, bot + H / 2 + 1.8, "$e_t$")
        _arrow(ax, (c2 + w2, bot + H / 2), (c3, bot + H / 2))
        _arrow(ax, (c3 + w3 / 2, bot + H), (c3 + w3 / 2, mid))
        _label(ax, c3 + w3 / 2 + 1.0, (bot + H + mid) / 2, "$u_t$", ha="left")
        _arrow(
            ax,
            (c3 + w3, bot + H / 2),
            (c4, bot + H / 2),
            dashed=True,
            both=True,
            color=OKABE_ITO["reddish_purple"],
        )
        _label(
            ax,
            (c3 + w3 + c4) / 2,
            bot + H / 2 + 1.8,
            "KL",
            color=OKABE_ITO["reddish_purple"],
            fontweight="bold",
        )
        # factor feedback f_{t-1} -> controller (around the right and bottom edges)
        fx = c4 + w4 + 1.6
        _polyline_arrow(
            ax,
            [
                (c4 + w4, mid + H / 2),
                (fx, mid + H / 2),
                (fx, bot - 3.0),
                (c2 + w2 / 2, bot - 3.0),
                (c2 + w2 / 2, bot),
            ],
            "#555555",
        )
        _label(ax, (c2 + w2 / 2 + fx) / 2, bot - 4.6, "factor feedback $f_{t-1}$", color="#555555")
    return fig
