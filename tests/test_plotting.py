"""Tests of nlbtut.plotting: what each figure contains, and how bad input fails."""

from __future__ import annotations

import doctest
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Rectangle  # noqa: E402

import nlbtut.plotting as P  # noqa: E402
from nlbtut.errors import DataError, DataFileNotFoundError  # noqa: E402

BW = 5


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _data_lines(ax, n_points):
    """Lines of an axes that carry data (not axvline/axhline helpers)."""
    return [ln for ln in ax.lines if len(ln.get_xdata()) == n_points]


def _visible_axes(fig):
    return [a for a in fig.axes if a.get_visible()]


# --------------------------------------------------------------------------- raster
def test_raster_ticks_match_spikes_and_heldout_colour(rng):
    spikes = (rng.random((200, 12)) < 0.05).astype(float)
    heldout = np.zeros(12, dtype=bool)
    heldout[[2, 7]] = True
    fig = P.plot_raster(spikes, heldout=heldout, title="t")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    cols = [c for c in ax.collections if isinstance(c, LineCollection)]
    n_in = sum(len(c.get_segments()) for c in cols if c.get_color()[0][0] < 0.5)
    n_out = sum(
        len(c.get_segments()) for c in cols if np.allclose(c.get_color()[0], to_rgba("#D55E00"))
    )
    assert n_out == int(spikes[:, heldout].sum())
    assert n_in == int(spikes[:, ~heldout].sum())
    # held-out neurons are drawn above the held-in ones
    out_rows = [
        s[0][1]
        for c in cols
        for s in c.get_segments()
        if np.allclose(c.get_color()[0], to_rgba("#D55E00"))
    ]
    assert min(out_rows) > 10 - 0.5


def test_raster_second_array_dataframe_and_nan(rng):
    held_in = rng.poisson(0.05, size=(100, 6)).astype(float)
    held_in[80:] = np.nan
    held_out = rng.poisson(0.05, size=(100, 3)).astype(float)
    idx = pd.timedelta_range("10s", periods=100, freq="1ms")
    df = pd.concat(
        {
            "spikes": pd.DataFrame(held_in, index=idx),
            "heldout_spikes": pd.DataFrame(held_out, index=idx),
        },
        axis=1,
    )
    fig = P.plot_raster(df)
    ax = fig.axes[0]
    assert ax.get_ylim() == (-0.5, 8.5)  # 6 held-in + 3 held-out rows
    assert ax.get_xlim() == (0.0, 100.0)  # ms from the slice start, 1 ms bins from the index
    assert "10.000 s" in ax.get_xlabel()
    assert any(isinstance(im, AxesImage) for im in ax.images)  # NaN shading
    fig2 = P.plot_raster(held_in, heldout=held_out, kind="image", bin_width=5, t0_ms=-250)
    assert fig2.axes[0].get_xlim() == (-250.0, 250.0)
    assert len(fig2.axes) == 2  # image + colour bar


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spikes": np.zeros((3, 4, 5))}, r"spikes must be a 2-D array.*\(3, 4, 5\)"),
        (
            {"spikes": np.zeros((10, 4)), "heldout": np.zeros(3, bool)},
            r"heldout.*one entry per neuron \(4\).*\(3,\)",
        ),
        (
            {"spikes": np.zeros((10, 4)), "heldout": np.zeros((9, 2))},
            r"heldout.*same number of time bins.*\(10\).*\(9, 2\)",
        ),
        ({"spikes": np.zeros((10, 4)), "kind": "dots"}, "kind must be"),
        ({"spikes": np.zeros((10, 4)), "bin_width": 0}, "bin_width must be a positive"),
    ],
)
def test_raster_rejects_bad_input(kwargs, match):
    spikes = kwargs.pop("spikes")
    with pytest.raises(DataError, match=match):
        P.plot_raster(spikes, **kwargs)


# --------------------------------------------------------------------------- PSTH
def test_psth_lines_per_condition_and_units(rng):
    psth = rng.gamma(2.0, 0.05, size=(5, 40, 8))
    fig = P.plot_psth(psth, [f"c{i}" for i in range(5)], neurons=(1, 4, 6), bin_width=BW)
    axes = _visible_axes(fig)
    assert len(axes) == 3
    lines = [ln for a in axes for ln in _data_lines(a, 40)]
    assert len(lines) == 5 * 3
    # shown in spikes/s: neuron 4, condition 2 in the second panel
    np.testing.assert_allclose(_data_lines(axes[1], 40)[2].get_ydata(), psth[2, :, 4] * 200)
    # time axis: bin centres from -250 ms
    assert _data_lines(axes[0], 40)[0].get_xdata()[0] == pytest.approx(-250 + BW / 2)
    # a condition has one colour in every panel, and conditions differ
    per_panel = [[ln.get_color() for ln in _data_lines(a, 40)] for a in axes]
    assert per_panel[0] == per_panel[1] == per_panel[2]
    assert len(set(map(str, per_panel[0]))) == 5
    assert "spikes/s" in axes[0].get_ylabel()
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [f"c{i}" for i in range(5)]


def test_psth_many_conditions_nan_and_given_axes(rng):
    psth = rng.gamma(2.0, 0.05, size=(30, 20, 3))
    psth[:, :3] = np.nan
    fig = P.plot_psth(psth, neurons=(0,))
    assert len(_data_lines(fig.axes[0], 20)) == 30
    assert not fig.legends  # 30 conditions: a note, not a legend
    fig2, axes = plt.subplots(1, 2)
    out = P.plot_psth(psth, neurons=(0, 2), ax=axes, conditions=(0, 5))
    assert out is fig2
    assert [len(_data_lines(a, 20)) for a in axes] == [2, 2]


@pytest.mark.parametrize(
    ("psth", "kwargs", "match"),
    [
        (
            np.zeros((3, 4)),
            {},
            r"psth must be a 3-D array \(conditions x time x neurons\); "
            r"got shape \(3, 4\)",
        ),
        (np.zeros((2, 5, 3)), {"neurons": (0, 3)}, r"neurons \[3\] out of range.*3 neurons"),
        (np.zeros((2, 5, 3)), {"cond_labels": ["a"]}, "cond_labels must name each of the 2"),
        (np.zeros((2, 5, 3)), {"neurons": (0,), "ax": "x"}, "ax must be a matplotlib Axes"),
    ],
)
def test_psth_rejects_bad_input(psth, kwargs, match):
    with pytest.raises(DataError, match=match):
        P.plot_psth(psth, **kwargs)


# --------------------------------------------------------------------------- hand
def _reaches(n_cond=4, per=3, n_t=30):
    ang = np.repeat(2 * np.pi * np.arange(n_cond) / n_cond, per)
    speed = np.hanning(n_t) * 500.0
    vel = speed[None, :, None] * np.stack([np.cos(ang), np.sin(ang)], -1)[:, None, :]
    return vel, np.repeat(np.arange(n_cond), per)


def test_hand_trajectories_colours_by_condition_both_forms():
    vel, cond = _reaches()
    pos = np.cumsum(vel * BW / 1000, axis=1)
    fig = P.plot_hand_trajectories(pos, cond)
    lines = _data_lines(fig.axes[0], 30)
    assert len(lines) == 12
    colors = [to_rgba(ln.get_color()) for ln in lines]
    for c in range(4):
        assert len({colors[k] for k in np.flatnonzero(cond == c)}) == 1
    assert len(set(colors)) == 4
    nlb_form = [np.flatnonzero(cond == c) for c in range(4)]
    fig2 = P.plot_hand_trajectories(pos, nlb_form)
    assert [to_rgba(ln.get_color()) for ln in _data_lines(fig2.axes[0], 30)] == colors
    assert fig.axes[0].get_xlabel() == "x (mm)"


def test_hand_velocity_is_integrated_and_speed_is_in_mm_per_s():
    vel, cond = _reaches()
    vel[0, 5] = np.nan
    fig = P.plot_hand_trajectories(vel, kind="velocity", bin_width=BW)
    first = _data_lines(fig.axes[0], 30)[1]  # trial 1 (trial 0 has a NaN bin)
    expected_end = np.nansum(vel[1], axis=0) * BW / 1000
    np.testing.assert_allclose([first.get_xdata()[-1], first.get_ydata()[-1]], expected_end)
    assert np.isnan(_data_lines(fig.axes[0], 30)[0].get_xdata()[5])
    fig2 = P.plot_hand_trajectories(vel, cond, kind="speed", average=True)
    lines = _data_lines(fig2.axes[0], 30)
    assert len(lines) == 4  # one average per condition
    np.testing.assert_allclose(np.nanmax(lines[1].get_ydata()), np.max(np.hypot(*vel[3].T)))
    assert "mm/s" in fig2.axes[0].get_ylabel()


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.zeros((4, 10, 3)), {}, r"data must have 2 entries on its last axis.*\(4, 10, 3\)"),
        (np.zeros((10, 2)), {}, r"data must be a 3-D array.*got shape \(10, 2\)"),
        (np.zeros((4, 10, 2)), {"kind": "accel"}, "kind must be"),
        (np.zeros((4, 10, 2)), {"average": True}, "average=True needs cond_idx"),
        (np.zeros((4, 10, 2)), {"cond_idx": [0, 1]}, r"one label per trial \(4\).*got 2"),
        (np.zeros((4, 10, 2)), {"cond_idx": [[0, 9]]}, r"cond_idx\[0\] holds trial index 9"),
    ],
)
def test_hand_rejects_bad_input(data, kwargs, match):
    with pytest.raises(DataError, match=match):
        P.plot_hand_trajectories(data, **kwargs)


# --------------------------------------------------------------------------- architecture
def test_architecture_boxes_and_controller_switch():
    fig = P.plot_lfads_architecture()
    texts = {t.get_text() for t in fig.axes[0].texts}
    n_full = sum(isinstance(p, FancyBboxPatch) for p in fig.axes[0].patches)
    for name in (
        "IC encoder",
        "controller encoder",
        "controller GRU",
        "generator GRU",
        "AR(1) prior",
        "IC prior",
        "coordinated dropout",
    ):
        assert name in texts
    assert any("held-out" in t for t in texts) and any("forward" in t for t in texts)
    fig2 = P.plot_lfads_architecture(show_controller=False)
    texts2 = {t.get_text() for t in fig2.axes[0].texts}
    assert "controller GRU" not in texts2 and "generator GRU" in texts2
    n_small = sum(isinstance(p, FancyBboxPatch) for p in fig2.axes[0].patches)
    assert n_full - n_small == 4  # controller encoder, controller GRU, u_t, AR(1) prior
    fig3, ax = plt.subplots()
    assert P.plot_lfads_architecture(ax) is fig3


# --------------------------------------------------------------------------- training
def _history(n=60):
    ep = np.arange(1, n + 1)
    valid = 0.12 + 0.3 / ep + 2e-4 * ep
    return pd.DataFrame(
        {
            "epoch": ep,
            "train_nll": 0.1 + 0.3 / ep,
            "valid_nll": valid,
            "kl_ic": 10 * np.exp(-ep / 10) + 1,
            "kl_co": 5 * np.exp(-ep / 10) + 0.5,
            "lr": 4e-3 * 0.9 ** (ep // 10),
            "kl_wt": np.clip(ep / 20, 0, 1),
            "note": ["x"] * n,
        }
    )


def test_training_curves_panels_best_epoch_and_csv(tmp_path):
    hist = _history()
    path = tmp_path / "train_data.csv"
    hist.to_csv(path, index=False)
    fig = P.plot_training_curves(path)
    axes = [a for a in _visible_axes(fig) if a.get_title(loc="left")]
    titles = [a.get_title(loc="left") for a in axes]
    assert titles == ["loss (NLL per bin)", "regularisers", "learning rate and ramps"]
    best = int(np.argmin(hist["valid_nll"])) + 1
    star = [ln for ln in axes[0].lines if ln.get_marker() == "*"]
    assert len(star) == 1 and star[0].get_xdata()[0] == best
    assert star[0].get_ydata()[0] == pytest.approx(hist["valid_nll"].min())
    assert axes[2].get_yscale() == "log"  # learning rate
    assert len(_data_lines(axes[0], 60)) == 2  # train + valid NLL
    assert "ramp" in fig.axes[-1].get_ylabel()  # kl_wt on its own linear axis


def test_training_curves_lenient_and_errors():
    hist = pd.DataFrame({"loss": [3.0, 2.0, 2.5], "val_loss": [3.1, 2.2, 2.1]})
    fig = P.plot_training_curves(hist, logy=False)
    (ax,) = _visible_axes(fig)
    assert list(_data_lines(ax, 3)[0].get_xdata()) == [1, 2, 3]  # epochs from row numbers
    assert [ln for ln in ax.lines if ln.get_marker() == "*"][0].get_xdata()[0] == 3
    fig2, one = plt.subplots()
    P.plot_training_curves(_history(), metrics=["train_nll", "valid_nll"], ax=one)
    assert len(_data_lines(one, 60)) == 2
    with pytest.raises(DataError, match=r"metrics \['nope'\] are not columns"):
        P.plot_training_curves(hist, metrics=["nope"])
    with pytest.raises(DataFileNotFoundError, match="does not exist"):
        P.plot_training_curves("/nonexistent/train.csv")
    with pytest.raises(DataError, match="no numeric column"):
        P.plot_training_curves(pd.DataFrame({"epoch": [1, 2], "tag": ["a", "b"]}))


def test_training_curves_on_a_trainer_style_history():
    n = 40
    ep = np.arange(1, n + 1)
    val = 0.2 + 0.5 / ep
    val[5] = 0.01  # lowest, but during the KL/L2 ramp: not a candidate for the best model
    hist = pd.DataFrame(
        {
            "epoch": ep,
            "loss": 0.3 + 0.5 / ep,
            "nll": 0.2 + 0.5 / ep,
            "kl_ic": 1.0 + 0 * ep,
            "grad_norm": 10.0 / ep,
            "finite": True,
            "val_nll": val,
            "val_co_bps": 0.2 * ep / n,
            "val_nll_smth": val,
            "hp_lr": 4e-3,
            "hp_dropout_rate": np.where(ep > 20, 0.3, 0.2),
            "kl_ramp": np.clip(ep / 10, 0, 1),
            "l2_ramp": np.clip(ep / 10, 0, 1),
            "nan_events": 0,
            "epoch_seconds": 1.0,
            "train_seconds": ep * 1.0,
        }
    )
    fig = P.plot_training_curves(hist)
    axes = [a for a in _visible_axes(fig) if a.get_title(loc="left")]
    labels = {ln.get_label() for a in fig.axes for ln in a.lines}
    assert "hp_lr" not in labels and "learning rate" not in labels  # constant: not drawn
    assert "dropout rate" in labels and "gradient norm" in labels
    assert not any("seconds" in lab or "finite" in lab or "nan" in lab for lab in labels)
    star = [ln for a in axes for ln in a.lines if ln.get_marker() == "*"][0]
    assert star.get_xdata()[0] == n  # best after the ramps, where val_nll_smth is lowest


def _pbt(n_w=4, n_g=5):
    rows = []
    for g in range(n_g):
        for w in range(n_w):
            src = None
            if g >= 1 and w == 3:
                src = 0  # worker 3 keeps copying worker 0
            rows.append(
                dict(
                    generation=g,
                    trial_id=w,
                    metric=1.0 / (g + 1) + 0.1 * w,
                    lr=1e-3 * (w + 1) * 0.9**g,
                    dropout_rate=0.1 * w,
                    exploited_from=src,
                )
            )
    return pd.DataFrame(rows)


def test_pbt_history_panels_best_and_exploits():
    df = _pbt()
    fig = P.plot_pbt_history(df)
    axes = _visible_axes(fig)
    assert len(axes) == 3  # metric, lr, dropout_rate
    assert [a.get_title(loc="left") for a in axes] == [
        "validation NLL",
        "learning rate",
        "dropout rate",
    ]
    assert axes[1].get_yscale() == "log" and axes[2].get_yscale() == "linear"
    best = [ln for ln in axes[0].lines if ln.get_marker() == "o" and ln.get_linewidth() > 2]
    np.testing.assert_allclose(best[0].get_ydata(), df.groupby("generation")["metric"].min())
    exploits = [ln for ln in axes[1].lines if ln.get_marker() == "x"]
    assert len(exploits[0].get_xdata()) == 4  # worker 3 in generations 1..4
    worker_lines = [
        ln for ln in axes[1].lines if ln.get_linewidth() < 1.0 and len(ln.get_xdata()) == 5
    ]
    assert len(worker_lines) == 4


def test_pbt_lineage_follows_exploits():
    from nlbtut.plotting.pbt import _lineage

    df = _pbt()
    df.loc[(df.generation == 4) & (df.trial_id == 2), "exploited_from"] = 1
    lin = _lineage(df, 2)
    assert list(lin["trial_id"]) == [1, 1, 1, 1, 2]
    assert list(lin["generation"]) == [0, 1, 2, 3, 4]


def test_pbt_history_from_csv_with_empty_exploits(tmp_path):
    df = _pbt()
    df["exploited_from"] = df["exploited_from"].map(lambda v: "" if v is None else v)
    df.loc[(df.generation == 4) & (df.trial_id == 2), "exploited_from"] = 1
    path = tmp_path / "pbt.csv"
    df.to_csv(path, index=False)
    for source in (df, path):
        fig = P.plot_pbt_history(source, hparams=["lr"])
        lr_ax = fig.axes[1]
        assert len([ln for ln in lr_ax.lines if ln.get_marker() == "x"][0].get_xdata()) == 5
        # final best is worker 0 (lowest metric); its ancestry is itself throughout
        anc = [ln for ln in lr_ax.lines if ln.get_linewidth() > 2][0]
        np.testing.assert_allclose(anc.get_ydata(), df[df.trial_id == 0]["lr"])


def test_pbt_rejects_bad_input():
    with pytest.raises(DataError, match=r"lacks the columns \['metric'\]"):
        P.plot_pbt_history(pd.DataFrame({"generation": [0], "trial_id": [0]}))
    with pytest.raises(DataError, match=r"hparams \['x'\] are not columns"):
        P.plot_pbt_history(_pbt(), hparams=["x"])
    with pytest.raises(DataError, match="mode must be"):
        P.plot_pbt_history(_pbt(), mode="best")


# --------------------------------------------------------------------------- latents
def test_latents_condition_averages_3d_and_2d(rng):
    factors = rng.normal(size=(12, 25, 6))
    cond = np.arange(12) % 3
    factors[cond == 1] += 2.0
    factors[0, :4] = np.nan
    fig = P.plot_latents(factors, cond)
    ax = fig.axes[0]
    assert ax.name == "3d"
    assert len(_data_lines(ax, 25)) == 3  # one trajectory per condition
    assert ax.get_xlabel().startswith("PC1 (") and "% var." in ax.get_xlabel()
    fig2 = P.plot_latents(factors, n_components=2, max_trials=5)
    assert len(_data_lines(fig2.axes[0], 25)) == 5
    fig3 = P.plot_latents(factors, cond, average=False)
    cols = [to_rgba(ln.get_color()) for ln in _data_lines(fig3.axes[0], 25)]
    assert len(set(cols)) == 3 and cols[0] == cols[3]


def test_latents_projection_matches_sklearn(rng):
    from sklearn.decomposition import PCA

    factors = rng.normal(size=(8, 10, 4))
    cond = np.arange(8) % 2
    fig = P.plot_latents(factors, cond, n_components=2)
    avg = np.stack([factors[cond == c].mean(0) for c in (0, 1)])
    ref = PCA(2).fit(avg.reshape(-1, 4))
    proj = ref.transform(avg.reshape(-1, 4)).reshape(2, 10, 2)
    line = _data_lines(fig.axes[0], 10)[1]
    # PCs are defined up to sign
    np.testing.assert_allclose(np.abs(line.get_xdata()), np.abs(proj[1, :, 0]), atol=1e-9)


@pytest.mark.parametrize(
    ("factors", "kwargs", "match"),
    [
        (np.zeros((10, 4)), {}, r"factors must be a 3-D array.*\(10, 4\)"),
        (np.zeros((3, 10, 2)), {}, r"need at least n_components=3.*\(3, 10, 2\)"),
        (np.ones((3, 10, 5)), {"n_components": 4}, "n_components must be 2 or 3"),
        (np.full((3, 10, 5), np.nan), {}, "without NaN"),
    ],
)
def test_latents_rejects_bad_input(factors, kwargs, match):
    with pytest.raises(DataError, match=match):
        P.plot_latents(factors, **kwargs)


def test_latents_needs_3d_axes(rng):
    _, ax = plt.subplots()
    with pytest.raises(DataError, match="3-D axes"):
        P.plot_latents(rng.normal(size=(3, 10, 5)), ax=ax)


# --------------------------------------------------------------------------- rates
def test_rates_comparison_lines_units_and_spikes(rng):
    truth = rng.gamma(2.0, 0.05, size=(4, 30, 6))
    spikes = rng.poisson(truth).astype(float)
    models = {"smoothing": truth * 0.8, "LFADS": truth * 1.1}
    fig = P.plot_rates_comparison(truth, models, neurons=(0, 5), trial=2, spikes=spikes)
    axes = fig.axes
    assert len(axes) == 2
    lines = _data_lines(axes[1], 30)
    assert [ln.get_label() for ln in lines] == ["true rate", "smoothing", "LFADS"]
    np.testing.assert_allclose(lines[2].get_ydata(), truth[2, :, 5] * 1.1 * 200)
    assert to_rgba(lines[2].get_color()) == to_rgba(P.method_color("LFADS"))
    ticks = [c for c in axes[1].collections if isinstance(c, LineCollection)]
    assert len(ticks[0].get_segments()) == int((spikes[2, :, 5] > 0).sum())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["true rate", "smoothing", "LFADS", "spikes"]


def test_rates_comparison_single_array_no_truth_and_errors(rng):
    inf = rng.gamma(2.0, 0.05, size=(2, 10, 3))
    fig = P.plot_rates_comparison(None, inf, neurons=(1,), labels=["NDT"])
    assert [ln.get_label() for ln in _data_lines(fig.axes[0], 10)] == ["NDT"]
    with pytest.raises(
        DataError,
        match=r"inferred\['a'\] must have the shape.*\(2, 10, 3\).*"
        r"got \(2, 9, 3\)",
    ):
        P.plot_rates_comparison(inf, {"a": inf[:, :9]})
    with pytest.raises(DataError, match=r"trial \[5\] out of range: there are 2 trials"):
        P.plot_rates_comparison(inf, inf, trial=5)
    with pytest.raises(DataError, match=r"spikes must have shape \(2, 10, 3\).*got \(2, 5, 3\)"):
        P.plot_rates_comparison(inf, inf, spikes=inf[:, :5])
    with pytest.raises(DataError, match=r"spikes must be a 3-D array.*got shape \(10, 3\)"):
        P.plot_rates_comparison(inf, inf, spikes=inf[0])


# --------------------------------------------------------------------------- metrics
RESULTS = {
    "smoothing": {"co-bps": 0.21, "vel R2": 0.62, "psth R2": 0.19, "fp-bps": -1.5},
    "LFADS": {"co-bps": 0.31, "vel R2": 0.88, "psth R2": np.nan, "fp-bps": 0.21},
    "AutoLFADS": {"co-bps": 0.34, "vel R2": 0.91, "psth R2": 0.64, "fp-bps": 0.23},
    "oracle": {"co-bps": 0.39, "vel R2": 0.93, "psth R2": 0.9, "fp-bps": 0.3},
}


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_metrics_panels_bars_and_values():
    fig = P.plot_metrics_comparison(RESULTS, reference="oracle", highlight="AutoLFADS")
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["co-bps", "vel R2", "psth R2", "fp-bps"]
    assert sum(len(_bars(a)) for a in axes) == 3 * 4  # methods x metrics (oracle = line)
    widths = [b.get_width() for b in _bars(axes[0])]
    np.testing.assert_allclose(widths, [0.21, 0.31, 0.34])
    assert [t.get_text() for t in axes[0].texts] == ["0.210", "0.310", "0.340"]
    assert "n/a" in [t.get_text() for t in axes[2].texts]
    refs = [ln for ln in axes[1].lines if ln.get_linestyle() == "--"]
    assert refs and refs[0].get_xdata()[0] == pytest.approx(0.93)
    faded = [b.get_alpha() for b in _bars(axes[0])]
    assert faded == [0.35, 0.35, 1.0]
    colors = [to_rgba(b.get_facecolor(), 1) for b in _bars(axes[0])]
    assert to_rgba(colors[2], 1) == to_rgba(P.method_color("AutoLFADS"), 1)
    assert axes[0].get_xlabel() == "bits/spike" and axes[1].get_xlabel() == "R²"


def test_metrics_accepts_frames_evaluate_output_and_one_axes():
    df = pd.DataFrame(RESULTS).T
    fig = P.plot_metrics_comparison(df, metrics=("co-bps", "vel R2"))
    assert len(fig.axes) == 2
    evaluated = {
        "A": [{"mc_maze_small_split": {"[100] co-bps": 0.2, "[100] vel R2": 0.5}}],
        "B": [{"mc_maze_small_split": {"[100] co-bps": 0.3, "[100] vel R2": 0.7}}],
    }
    fig2 = P.plot_metrics_comparison(evaluated)
    assert [a.get_title() for a in fig2.axes] == ["[100] co-bps", "[100] vel R2"]
    _, ax = plt.subplots()
    P.plot_metrics_comparison(RESULTS, ax=ax, reference={"co-bps": 0.4})
    assert len(_bars(ax)) == 4 * 4


def test_metrics_rejects_bad_input():
    with pytest.raises(DataError, match="none of the metrics"):
        P.plot_metrics_comparison({"A": {"x": 1.0}})
    with pytest.raises(DataError, match=r"highlight \['Z'\] not among the methods"):
        P.plot_metrics_comparison(RESULTS, highlight="Z")
    with pytest.raises(DataError, match="reference 'gt' is not a method"):
        P.plot_metrics_comparison(RESULTS, reference="gt")
    with pytest.raises(DataError, match=r"results\['A'\]\['co-bps'\] is not a number"):
        P.plot_metrics_comparison({"A": {"co-bps": "high"}})
    with pytest.raises(DataError, match="results must be a pandas DataFrame"):
        P.plot_metrics_comparison([1, 2])


# --------------------------------------------------------------------------- trials
def test_dataset_overview_events_and_window():
    n = 6
    start = np.arange(n) * 2.0
    ti = pd.DataFrame(
        {
            "start_time": pd.to_timedelta(start, unit="s"),
            "end_time": pd.to_timedelta(start + 1.5, unit="s"),
            "go_cue_time": pd.to_timedelta(start + 0.4, unit="s"),
            "move_onset_time": pd.to_timedelta(start + 0.7, unit="s"),
            "split": ["train", "val"] * 3,
        }
    )
    ti.loc[5, "move_onset_time"] = pd.NaT
    fig = P.plot_dataset_overview(ti, dataset="mc_maze_small", split=["train", "val"])
    ax = fig.axes[0]
    scat = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scat) == 1  # one event (go cue)
    offsets = scat[0].get_offsets()
    assert len(offsets) == 5  # the trial without movement onset is left out
    np.testing.assert_allclose(offsets[:, 0], -300.0)
    assert ax.get_xlabel() == "time from move onset (ms)"
    with pytest.raises(DataError, match="no alignment column 'go_time'"):
        P.plot_dataset_overview(ti, align_field="go_time")
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        P.plot_dataset_overview(ti.to_numpy())


# --------------------------------------------------------------------------- whole package
def test_every_figure_renders_to_a_non_blank_png(tmp_path, rng):
    vel, cond = _reaches()
    figs = {
        "raster": P.plot_raster(rng.poisson(0.05, (100, 10))),
        "psth": P.plot_psth(rng.gamma(2, 0.05, (3, 20, 4))),
        "hand": P.plot_hand_trajectories(vel, cond, kind="velocity"),
        "arch": P.plot_lfads_architecture(),
        "train": P.plot_training_curves(_history()),
        "pbt": P.plot_pbt_history(_pbt()),
        "latents": P.plot_latents(rng.normal(size=(6, 20, 5)), np.arange(6) % 2),
        "rates": P.plot_rates_comparison(
            rng.gamma(2, 0.05, (2, 20, 3)), rng.gamma(2, 0.05, (2, 20, 3))
        ),
        "metrics": P.plot_metrics_comparison(RESULTS),
    }
    for name, fig in figs.items():
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=60)
        img = plt.imread(path)
        assert img.shape[1] >= 250, name
        assert img[..., :3].std() > 0.05, f"{name} looks blank"


def test_style_does_not_leak_and_colours_are_stable():
    before = dict(matplotlib.rcParams)
    P.plot_metrics_comparison(RESULTS)
    assert matplotlib.rcParams["axes.spines.top"] == before["axes.spines.top"]
    assert matplotlib.rcParams["font.size"] == before["font.size"]
    assert P.method_color("AutoLFADS") == P.method_color("autolfads (PBT)") == "#D55E00"
    assert P.method_colors(["mine", "LFADS", "yours"]) == ["#D55E00", "#0072B2", "#009E73"]
    assert len(set(map(str, P.condition_colors(8)))) == 8
    assert len(set(map(str, P.condition_colors(27)))) == 27


def test_import_does_not_pull_tensorflow():
    code = "import sys, nlbtut.plotting; assert 'tensorflow' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "module",
    ["_common", "architecture", "data", "latents", "metrics", "pbt", "training", "trials"],
)
def test_docstring_examples_run(module):
    import importlib

    mod = importlib.import_module(f"nlbtut.plotting.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module != "_common":
        assert result.attempted > 0
