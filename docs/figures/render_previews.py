"""Render a preview PNG of every figure in nlbtut.plotting to docs/figures/.

Run: ``.venv/bin/python docs/figures/render_previews.py``. The data are small
made-up maze-like reaches (8 directions, cosine-tuned neurons), enough to judge
how the figures look; the book draws the same figures from real runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import nlbtut.plotting as P

OUT = Path(__file__).resolve().parent
BW = 5  # ms


def maze_like(seed: int = 0, n_cond: int = 8, per_cond: int = 6, n_t: int = 140, n_n: int = 40):
    rng = np.random.default_rng(seed)
    cond = np.repeat(np.arange(n_cond), per_cond)
    ang = 2 * np.pi * cond / n_cond + rng.normal(0, 0.08, cond.size)
    t = np.arange(n_t) * BW - 250.0  # ms from movement onset
    prof = np.exp(-0.5 * ((t - 150) / 70) ** 2)  # bell speed profile
    speed = 600 * prof[None, :] * rng.uniform(0.85, 1.15, (cond.size, 1))
    vel = speed[..., None] * np.stack([np.cos(ang), np.sin(ang)], -1)[:, None, :]
    pos = np.cumsum(vel * BW / 1000, axis=1)
    pref = rng.uniform(0, 2 * np.pi, n_n)
    base = rng.uniform(5, 25, n_n)
    gain = rng.uniform(5, 40, n_n)
    lead = np.exp(-0.5 * ((t - 50) / 90) ** 2)
    rates_hz = base + gain * lead[None, :, None] * (1 + np.cos(ang[:, None, None] - pref))
    rates = rates_hz * BW / 1000  # spikes/bin
    spikes = rng.poisson(rates).astype(float)
    psth = np.stack([rates[cond == c].mean(0) for c in range(n_cond)])
    # "factors": a rotational 3-D latent + noise dims
    ph = np.linspace(0, 1.6 * np.pi, n_t)
    fac = np.stack(
        [np.cos(ph + a) * prof * 3 for a in ang]
        + [np.sin(ph + a) * (0.3 + prof) * 2 for a in ang]
        + [
            np.sin(0.5 * ph)[None].repeat(cond.size, 0).reshape(cond.size, n_t)[k]
            for k in range(cond.size)
        ],
        axis=0,
    )
    fac = fac.reshape(3, cond.size, n_t).transpose(1, 2, 0)
    fac = np.concatenate([fac, rng.normal(0, 0.03, (cond.size, n_t, 9))], axis=-1)
    fac = fac @ rng.normal(size=(12, 12))
    return dict(
        cond=cond, ang=ang, vel=vel, pos=pos, rates=rates, spikes=spikes, psth=psth, fac=fac
    )


def main() -> None:
    d = maze_like()
    rng = np.random.default_rng(1)
    saved = []

    def save(fig, name):
        path = OUT / f"{name}.png"
        fig.savefig(path, bbox_inches="tight")
        saved.append(path)
        P._common.plt.close(fig)

    # raster: 1 ms, 700 ms, 30 held-in + 10 held-out, a NaN gap
    sp = rng.random((700, 40)) < 0.02 + 0.03 * np.sin(np.linspace(0, 3, 700))[:, None] ** 2
    sp = sp.astype(float)
    sp[600:, :] = np.nan
    save(
        P.plot_raster(
            sp,
            heldout=np.arange(40) >= 30,
            t0_ms=-250,
            align_label="movement onset",
            title="One trial, 1 ms bins",
        ),
        "raster",
    )
    idx = pd.timedelta_range(start="1000s", periods=300, freq="1ms")
    df = pd.DataFrame(rng.random((300, 12)) < 0.03, index=idx, columns=range(12)).astype(float)
    save(P.plot_raster(df, kind="ticks", title="DataFrame slice"), "raster_df")
    save(
        P.plot_raster(
            d["spikes"][0], bin_width=5, t0_ms=-250, kind="image", heldout=d["spikes"][0][:, :8]
        ),
        "raster_image",
    )
    save(P.plot_psth(d["psth"], [f"{int(a)}°" for a in np.arange(8) * 45]), "psth")
    big = np.concatenate([d["psth"]] * 3) * rng.uniform(0.8, 1.2, (24, 1, 1))
    save(P.plot_psth(big, neurons=(0, 1, 2)), "psth_many")
    save(P.plot_hand_trajectories(d["pos"], d["cond"]), "hand_position")
    save(P.plot_hand_trajectories(d["vel"], kind="velocity"), "hand_velocity")
    save(P.plot_hand_trajectories(d["vel"], d["cond"], kind="speed", average=True), "hand_speed")
    save(P.plot_lfads_architecture(), "lfads_architecture")
    save(P.plot_lfads_architecture(show_controller=False), "lfads_architecture_nocon")

    ep = np.arange(1, 301)
    hist = pd.DataFrame(
        {
            "epoch": ep,
            "train_nll": 0.095 + 0.2 / ep**0.7,
            "valid_nll": 0.1 + 0.2 / ep**0.7 + 2e-5 * ep + rng.normal(0, 5e-4, ep.size),
            "smth_val_nll_heldin": 0.1 + 0.2 / ep**0.7 + 2e-5 * ep,
            "kl_ic": 50 * np.exp(-ep / 80) + 5,
            "kl_co": 30 * np.exp(-ep / 50) + 2,
            "l2": 0.3 * np.exp(-ep / 100) + 0.05,
            "lr": 4e-3 * 0.95 ** (ep // 20),
            "kl_wt": np.clip((ep - 0) / 81, 0, 1),
            "valid_co_bps": 0.3 * (1 - np.exp(-ep / 40)),
        }
    )
    save(P.plot_training_curves(hist), "training_curves")

    rows = []
    n_w, n_g = 12, 20
    lr = np.exp(rng.uniform(np.log(1e-4), np.log(5e-3), n_w))
    drop = rng.uniform(0, 0.6, n_w)
    kl = np.exp(rng.uniform(np.log(1e-6), np.log(1e-4), n_w))
    met = 0.2 + rng.uniform(0, 0.05, n_w)
    for g in range(n_g):
        src = [None] * n_w
        if g > 0:
            order = rng.permutation(n_w)
            for a, b in zip(order[: n_w // 2], order[n_w // 2 :]):
                lo, hi = (a, b) if met[a] > met[b] else (b, a)
                src[lo] = hi
                lr[lo] = lr[hi] * np.exp(rng.normal(0, 0.2))
                drop[lo] = np.clip(drop[hi] + rng.normal(0, 0.05), 0, 0.6)
                kl[lo] = kl[hi] * np.exp(rng.normal(0, 0.5))
                met[lo] = met[hi]
        met = met - 0.004 * np.exp(-g / 8) * (1 + rng.normal(0, 0.3, n_w)) + 0.02 * (lr > 3e-3)
        for w in range(n_w):
            rows.append(
                dict(
                    generation=g,
                    trial_id=f"w{w:02d}",
                    metric=met[w],
                    lr=lr[w],
                    dropout_rate=drop[w],
                    kl_ic_weight=kl[w],
                    exploited_from=(f"w{src[w]:02d}" if src[w] is not None else None),
                )
            )
    save(P.plot_pbt_history(pd.DataFrame(rows)), "pbt_history")

    save(P.plot_latents(d["fac"], d["cond"]), "latents_3d")
    save(P.plot_latents(d["fac"], n_components=2), "latents_2d_single")
    truth = d["rates"]
    inf = {
        "smoothing": truth * rng.uniform(0.6, 1.4, truth.shape),
        "AutoLFADS": truth * rng.uniform(0.9, 1.1, truth.shape),
    }
    save(
        P.plot_rates_comparison(
            truth,
            inf,
            spikes=d["spikes"],
            neurons=(0, 5, 9),
            align_offset_ms=-250,
            align_label="movement onset",
        ),
        "rates_comparison",
    )

    res = {
        "smoothing": {"co-bps": 0.2109, "vel R2": 0.6238, "psth R2": 0.1853, "fp-bps": -1.58},
        "GPFA": {"co-bps": 0.1872, "vel R2": 0.6399, "psth R2": 0.5161, "fp-bps": np.nan},
        "LFADS": {"co-bps": 0.3102, "vel R2": 0.8811, "psth R2": 0.5802, "fp-bps": 0.2103},
        "AutoLFADS": {"co-bps": 0.3364, "vel R2": 0.9097, "psth R2": 0.6360, "fp-bps": 0.2349},
        "oracle": {"co-bps": 0.3922, "vel R2": 0.93, "psth R2": 0.92, "fp-bps": 0.31},
    }
    save(P.plot_metrics_comparison(res, reference="oracle", highlight="AutoLFADS"), "metrics")
    fig, ax = P._common.plt.subplots(figsize=(8, 4))
    save(P.plot_metrics_comparison(res, ax=ax, reference="oracle"), "metrics_grouped")

    ti = pd.DataFrame(
        {
            "start_time": pd.to_timedelta(np.arange(20) * 2.0, unit="s"),
            "end_time": pd.to_timedelta(np.arange(20) * 2.0 + 1.6, unit="s"),
            "target_on_time": pd.to_timedelta(np.arange(20) * 2.0 + 0.25, unit="s"),
            "go_cue_time": pd.to_timedelta(
                np.arange(20) * 2.0 + 0.25 + rng.uniform(0.3, 0.7, 20), unit="s"
            ),
        }
    )
    ti["move_onset_time"] = ti["go_cue_time"] + pd.to_timedelta(
        rng.uniform(0.2, 0.35, 20), unit="s"
    )
    ti["split"] = ["train"] * 15 + ["val"] * 5
    save(P.plot_dataset_overview(ti, dataset="mc_maze_small"), "dataset_overview")
    print("\n".join(str(p) for p in saved))


if __name__ == "__main__":
    main()
