"""Ready-set-go timing task (DMFC_RSG): interval reproduction.

Each trial: fixation, a target left or right (``theta`` 0/180) for an eye or
hand response (``is_eye``), then *ready* and *set* flashes separated by the
sample interval ``ts`` (short prior 480-800 ms, long prior 800-1200 ms); the
monkey responds at *go*, ``tp`` ms after set. Latent state (D = 6) at 1 ms:
effector and direction offsets, a measurement ramp between ready and set, and
a production trajectory along a half circle between set and go traversed in
exactly ``tp`` ms (so faster neural dynamics come with shorter produced
intervals, the negative speed-``tp`` correlation of the benchmark), then a
return to rest; a slow drift. The whole path is low-pass filtered (25 ms).
Trials follow each other inside a few continuous blocks. Failed trials (early
responses) have split ``none``; a few trials with extreme ``tp`` are marked
``is_outlier``.
"""

from __future__ import annotations

import numpy as np

from .dynamics import LATENT_DTYPE, Session, TrialColumn, layout_blocks, lowpass, smooth_noise

__all__ = ["DIM_GAIN", "LATENT_DIM", "simulate_dmfc", "simulate_dmfc_pair"]

#: weight of each latent dimension in the neurons' readout: the measurement ramp and the
#: drift count less, so the production trajectory's speed sets the neural speed
DIM_GAIN = np.array([1.0, 1.0, 0.3, 1.0, 1.0, 0.2])
LATENT_DIM = 6
_TS = {True: np.array([480, 560, 640, 720, 800]), False: np.array([800, 900, 1000, 1100, 1200])}
_A = 1.2


def _design(rng, n: int, splits: np.ndarray) -> dict:
    """Per-trial design. The 8 (is_eye, theta, is_short) conditions are balanced within
    each split, and outliers never leave a condition of a split with fewer than 2
    regular trials (the speed-tp correlation needs 2 per condition)."""
    cond = np.zeros(n, dtype=np.int64)
    for sp in np.unique(splits):
        idx = np.flatnonzero(splits == sp)
        cond[idx] = rng.permutation(np.resize(np.arange(8), len(idx)))
    is_eye, is_right, is_short = (cond & 1) > 0, (cond & 2) > 0, (cond & 4) > 0
    ts = np.where(is_short, _TS[True][rng.integers(0, 5, n)], _TS[False][rng.integers(0, 5, n)])
    prior_mean = np.where(is_short, 640.0, 1000.0)
    tp = np.round(0.75 * ts + 0.25 * prior_mean + 0.1 * ts * rng.standard_normal(n))
    outlier = (rng.random(n) < 0.03) & (splits != "none")
    for sp in np.unique(splits):
        for c in range(8):
            grp = np.flatnonzero((splits == sp) & (cond == c))
            bad = grp[outlier[grp]]
            excess = len(bad) - max(len(grp) - 2, 0)
            if excess > 0:
                outlier[bad[:excess]] = False
    tp = np.where(outlier, np.round(ts * rng.uniform(1.8, 2.4, n)), tp)
    failed = splits == "none"
    tp = np.where(failed, -rng.integers(50, 250, n).astype(float), tp)
    return {
        "split": splits,
        "is_short": is_short,
        "is_eye": is_eye,
        "theta": np.where(is_right, 0.0, 180.0),
        "ts": ts.astype(float),
        "tp": tp,
        "is_outlier": outlier,
        "failed": failed,
    }


def simulate_dmfc(rng, d: dict, n_blocks: int, *, test_file: bool) -> Session:
    """One file of the RSG task from the per-trial design ``d``."""
    n = len(d["split"])
    fix_on = rng.integers(0, 100, n)
    fix = fix_on + rng.integers(200, 500, n)
    tgt = fix + rng.integers(300, 600, n)
    ready = tgt + rng.integers(400, 800, n)
    setp = ready + d["ts"].astype(np.int64)
    go = setp + d["tp"].astype(np.int64)
    acq = go + np.where(d["is_eye"], rng.integers(150, 250, n), rng.integers(300, 450, n))
    reward = acq + rng.integers(50, 100, n)
    reward_dur = rng.integers(50, 150, n)
    stop = np.where(d["failed"], setp + 300, reward + reward_dur)
    iti = np.where(d["is_short"], 500, 1220)

    block_of, rel, block_len, block_start = layout_blocks(
        rng, stop, iti, n_blocks, lead_ms=500, tail_ms=800
    )
    n_blocks = len(block_len)
    latents = []
    for b in range(n_blocks):
        idx = np.flatnonzero(block_of == b)
        ev = {
            k: rel[idx] + v[idx]
            for k, v in (("tgt", tgt), ("ready", ready), ("set", setp), ("go", go), ("stop", stop))
        }
        latents.append(_block(rng, int(block_len[b]), ev, {k: d[k][idx] for k in d}))

    t0 = block_start[block_of] + rel
    s = lambda ms: (t0 + ms) / 1000.0  # noqa: E731
    nan = np.full(n, np.nan)
    cols = [
        TrialColumn("start_time", s(0 * fix_on), "Start time of trial, in seconds"),
        TrialColumn("stop_time", s(stop), "Stop time of trial, in seconds"),
    ]
    if test_file:
        return Session(
            block_start,
            latents,
            cols
            + [
                TrialColumn("go_time", s(go), "Time of the response (go), in seconds"),
                TrialColumn("split", d["split"], "Data split the trial belongs to"),
            ],
        )
    failed = d["failed"]
    cols += [
        TrialColumn("fix_on_time", s(fix_on), "Time the fixation point appeared, in seconds"),
        TrialColumn("fix_time", s(fix), "Time fixation was acquired, in seconds"),
        TrialColumn("target_on_time", s(tgt), "Time the target appeared, in seconds"),
        TrialColumn("ready_time", s(ready), "Time of the ready flash, in seconds"),
        TrialColumn("set_time", s(setp), "Time of the set flash, in seconds"),
        TrialColumn("go_time", s(go), "Time of the response (go), in seconds"),
        TrialColumn(
            "target_acq_time",
            np.where(failed, nan, s(acq)),
            "Time the target was acquired, in seconds",
        ),
        TrialColumn(
            "reward_time", np.where(failed, nan, s(reward)), "Time of the reward, in seconds"
        ),
        TrialColumn(
            "bad_time", np.where(failed, s(go), nan), "Time the trial was aborted, in seconds"
        ),
        TrialColumn("is_short", d["is_short"], "Whether the short prior was used"),
        TrialColumn("is_eye", d["is_eye"], "Whether the response was a saccade (else hand)"),
        TrialColumn("theta", d["theta"], "Target direction, in degrees"),
        TrialColumn("ts", d["ts"], "Sample interval (ready to set), in ms"),
        TrialColumn("tp", d["tp"], "Produced interval (set to go), in ms"),
        TrialColumn("fix_time_dur", (fix - fix_on).astype(float), "Fixation duration, in ms"),
        TrialColumn(
            "target_time_dur", (ready - tgt).astype(float), "Target to ready duration, in ms"
        ),
        TrialColumn("iti", iti.astype(float), "Inter-trial interval, in ms"),
        TrialColumn(
            "reward_dur", np.where(failed, 0, reward_dur).astype(float), "Reward duration, in ms"
        ),
        TrialColumn("is_outlier", d["is_outlier"], "Whether tp is an outlier"),
        TrialColumn("split", d["split"], "Data split the trial belongs to"),
    ]
    return Session(block_start, latents, cols)


def _block(rng, length: int, ev: dict, d: dict) -> np.ndarray:
    t = np.arange(length)
    k = np.clip(np.searchsorted(ev["tgt"], t, side="right") - 1, 0, None)
    started = t >= ev["tgt"][0]
    eff = np.where(started, np.where(d["is_eye"][k], 0.8, -0.8), 0.0)
    dirn = np.where(started, np.where(d["theta"][k] == 0, 0.8, -0.8), 0.0)
    ready, setp, go = ev["ready"][k], ev["set"][k], ev["go"][k]
    prior = np.where(d["is_short"][k], 640.0, 1000.0)
    meas = np.where((t >= ready) & (t < setp), 1.2 * (t - ready) / prior, 0.0)
    tp = np.maximum(go - setp, 1)
    phase = np.clip((t - setp) / tp, 0.0, 1.0)
    # the measured interval is read out while producing: it runs down to 0 at the response
    meas = np.where(
        (t >= setp) & (t < go) & ~d["failed"][k], 1.2 * d["ts"][k] / prior * (1.0 - phase), meas
    )
    producing = (t >= setp) & (t < go)
    after = (t >= go) & (t < go + 400)
    ang = np.where(producing, np.pi * phase, np.where(after, np.pi, 0.0))
    z = np.empty((length, LATENT_DIM))
    z[:, 0], z[:, 1], z[:, 2] = eff, dirn, meas
    z[:, 3], z[:, 4] = _A * np.cos(ang), _A * np.sin(ang)
    z[:, :5] = lowpass(z[:, :5], 25.0)
    z[:, :5] += 0.008 * smooth_noise(rng, (length, 5), tau_ms=50.0, std=1.0, axis=0)
    z[:, 5] = smooth_noise(rng, (length,), tau_ms=500.0, std=0.5)
    return z.astype(LATENT_DTYPE)


def simulate_dmfc_pair(preset, rng_struct, rng_train, rng_test):
    """(train session, test session) of a DMFC preset."""
    n = preset.n_train_file_trials
    splits = np.array(
        ["train"] * preset.n_train + ["val"] * preset.n_val + ["none"] * preset.n_none
    )[rng_struct.permutation(n)]
    train = simulate_dmfc(
        rng_train, _design(rng_struct, n, splits), preset.n_blocks, test_file=False
    )
    test_split = np.array(["test"] * preset.n_test)
    test_blocks = max(1, round(preset.n_blocks * preset.n_test / max(n, 1)))
    test = simulate_dmfc(
        rng_test, _design(rng_struct, preset.n_test, test_split), test_blocks, test_file=True
    )
    return train, test
