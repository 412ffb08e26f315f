"""Area 2 bump task (Area2_Bump): active reaches and passive bumps.

Each trial starts with a center hold; in half of the trials (``ctr_hold_bump``)
a force bump during the hold moves the hand passively (a damped 4 Hz
oscillation of about 2 cm), then a target appears and the monkey reaches to
it (bell-shaped velocity, 10 cm) and returns. Area 2 is somatosensory, so its
latent state (D = 8) follows the movement, 20 ms behind it: two dimensions are
the hand velocity itself (so ``hand_vel(t) = W z(t - lag)`` with lag = -20 ms),
two respond only to passive motion (different tuning for bumps), one to
speed, one to the bump force, one is an efference-like transient before
active reaches, and one a slow drift. Trials with ``result != 'R'`` have split
``none``; aborted/incomplete ones have no movement onset.
"""

from __future__ import annotations

import numpy as np

from .dynamics import (
    LATENT_DTYPE,
    Behavior,
    Session,
    TrialColumn,
    alpha_response,
    layout_blocks,
    lowpass,
    ou_noise,
    smooth_noise,
)

__all__ = ["DIM_GAIN", "LATENT_DIM", "simulate_area2", "simulate_area2_pair"]

#: weight of each latent dimension in the neurons' readout (the drift counts less)
DIM_GAIN = np.array([1.0] * 7 + [0.3])
LATENT_DIM = 8
#: log-rate span of the neurons: movement-driven latents are silent between movements,
#: so a narrower span than the motor-cortex presets keeps the rates realistic
LOG_RANGE = (1.5, 3.0)
_VSCALE = 30.0  # cm/s per latent unit
_REACH_CM, _REACH_MS = 10.0, 400
_JOINTS = (
    "shoulder_adduction",
    "shoulder_rotation",
    "shoulder_flexion",
    "elbow_flexion",
    "radial_pronation",
    "wrist_flexion",
    "wrist_abduction",
)
_MUSCLES = (
    "deltoid_ant",
    "deltoid_post",
    "pectoralis",
    "biceps",
    "triceps_lat",
    "brachialis",
    "flexor_carpi",
    "extensor_carpi",
)


def _bell(n: int) -> np.ndarray:
    """Minimum-jerk speed profile over n ms, integrating to 1 (per s)."""
    s = (np.arange(n) + 0.5) / n
    return 30 * s**2 * (1 - s) ** 2 / (n / 1000.0)


def _bump_kernel(n: int = 600) -> np.ndarray:
    """Velocity (cm/s per unit) of a passive bump: damped 4 Hz oscillation, ~2 cm out."""
    t = np.arange(n)
    return 60.0 * np.exp(-t / 90.0) * np.sin(2 * np.pi * 4.0 * t / 1000.0)


def simulate_area2(rng, trials: dict, n_blocks: int, lag: int, *, test_file: bool) -> Session:
    """One file of the bump task; ``trials`` holds per-trial design (see the pair function)."""
    n = len(trials["split"])
    bump = trials["bump"]
    bump_t = np.where(bump, rng.integers(200, 400, n), -1)
    ctr_hold = np.where(bump, bump_t + 700 + rng.integers(0, 300, n), rng.integers(400, 1000, n))
    t_tgt = ctr_hold
    t_go = t_tgt + rng.integers(50, 200, n)
    rt = rng.integers(150, 300, n)
    reach = t_go + rt
    moves = trials["result"] != "A"
    moves &= trials["result"] != "I"
    length = reach + 1100
    gaps = rng.integers(200, 500, n)

    block_of, starts_rel, block_len, block_start = layout_blocks(
        rng, length, gaps, n_blocks, lead_ms=300, tail_ms=300
    )
    n_blocks = len(block_len)
    trial_start = block_start[block_of] + starts_rel

    latents, beh_blocks = [], []
    for b in range(n_blocks):
        idx = np.flatnonzero(block_of == b)
        z, beh = _block(
            rng, int(block_len[b]), starts_rel[idx], trials, idx, bump_t, reach, moves, lag
        )
        latents.append(z)
        beh_blocks.append(beh)

    s = lambda ms: (trial_start + ms) / 1000.0  # noqa: E731
    move_onset = np.where(bump, s(bump_t + 10), np.where(moves, s(reach), np.nan))
    cols = [
        TrialColumn("start_time", trial_start / 1000.0, "Start time of trial, in seconds"),
        TrialColumn("stop_time", (trial_start + length) / 1000.0, "Stop time of trial, in seconds"),
    ]
    if test_file:
        cols += [
            TrialColumn("move_onset_time", move_onset, "Time of movement onset, in seconds"),
            TrialColumn("split", trials["split"], "Data split the trial belongs to"),
        ]
    else:
        cond_dir = np.where(bump, trials["bump_dir"], trials["target_dir"])
        cols += [
            TrialColumn(
                "result", trials["result"], "Outcome: R reward, A abort, F fail, I incomplete"
            ),
            TrialColumn("ctr_hold", ctr_hold / 1000.0, "Center hold time, in seconds"),
            TrialColumn("ctr_hold_bump", bump, "Whether a bump occurred during center hold"),
            TrialColumn(
                "bump_dir",
                np.where(bump, trials["bump_dir"], np.nan),
                "Direction of the bump, in degrees (NaN without bump)",
            ),
            TrialColumn("target_on_time", s(t_tgt), "Time the target appeared, in seconds"),
            TrialColumn("target_dir", trials["target_dir"], "Direction of the target, in degrees"),
            TrialColumn("go_cue_time", s(t_go), "Time of the go cue, in seconds"),
            TrialColumn(
                "bump_time", np.where(bump, s(bump_t), np.nan), "Time of the bump, in seconds"
            ),
            TrialColumn("move_onset_time", move_onset, "Time of movement onset, in seconds"),
            TrialColumn(
                "cond_dir",
                cond_dir,
                "Condition direction: bump_dir for bump trials, else target_dir",
            ),
            TrialColumn("split", trials["split"], "Data split the trial belongs to"),
        ]
    session = Session(block_start_ms=block_start.astype(np.int64), latents=latents, trials=cols)
    if not test_file:
        session.behavior = _behavior(rng, block_start, block_len, beh_blocks)
    return session


def _block(rng, length, starts, trials, idx, bump_t, reach, moves, lag):
    vel_active = np.zeros((length, 2))
    vel_passive = np.zeros((length, 2))
    force = np.zeros((length, 2))
    efference = np.zeros(length)
    bell, kern = _bell(_REACH_MS), _bump_kernel()
    for j, i in enumerate(idx):
        t0 = starts[j]
        if trials["bump"][i]:
            a = np.deg2rad(trials["bump_dir"][i])
            u = np.array([np.cos(a), np.sin(a)])
            b0 = t0 + bump_t[i]
            seg = slice(b0, min(b0 + len(kern), length))
            vel_passive[seg] += kern[: seg.stop - seg.start, None] * u
            force[b0 : b0 + 125] += 2.0 * u
        if moves[i]:
            a = np.deg2rad(trials["target_dir"][i])
            u = np.array([np.cos(a), np.sin(a)]) * _REACH_CM * (1 + 0.08 * rng.standard_normal())
            r0 = t0 + reach[i]
            vel_active[r0 : r0 + _REACH_MS] += bell[:, None] * u
            vel_active[r0 + 750 : r0 + 750 + _REACH_MS] -= bell[:, None] * u  # return
            efference[max(r0 - 100, 0)] += 1.0
    vel = vel_active + vel_passive
    # neural state lags behaviour by -lag ms: z(t) = v(t + lag)
    shift = np.clip(np.arange(length) + lag, 0, length - 1)
    z = np.empty((length, LATENT_DIM))
    z[:, 0:2] = vel[shift] / _VSCALE
    z[:, 2:4] = lowpass(vel_passive[shift] / _VSCALE, 15.0)
    z[:, 4] = lowpass(np.linalg.norm(vel[shift], axis=1) / _VSCALE, 30.0)
    z[:, 5] = lowpass(np.linalg.norm(force[shift], axis=1), 40.0)
    z[:, 6] = 1.5 * alpha_response(efference, 100.0)
    z[:, 7] = smooth_noise(rng, (length,), tau_ms=500.0, std=0.5)
    z[:, 2:7] += 0.03 * smooth_noise(rng, (length, 5), tau_ms=50.0, std=1.0, axis=0)
    z = z.astype(LATENT_DTYPE)
    src = np.clip(np.arange(length) - lag, 0, length - 1)
    v = _VSCALE * z[src, 0:2].astype(np.float64)
    v += ou_noise(rng, (length, 2), tau_ms=20.0, std=0.5, axis=0)
    pos = np.cumsum(v, axis=0) / 1000.0
    f = np.concatenate(
        [force + 0.05 * rng.standard_normal((length, 2)), 0.05 * rng.standard_normal((length, 4))],
        axis=1,
    )
    return z, {"hand_pos": pos, "hand_vel": v, "force": f}


def _behavior(rng, starts, lengths, blocks) -> list[Behavior]:
    total = int(starts[-1] + lengths[-1])
    mix_ja = rng.normal(0, 3.0, (2, len(_JOINTS)))
    mix_ml = rng.normal(0, 0.002, (2, len(_MUSCLES)))
    for blk in blocks:
        blk["joint_ang"] = 30.0 + blk["hand_pos"] @ mix_ja
        blk["joint_vel"] = blk["hand_vel"] @ mix_ja
        blk["muscle_len"] = 0.1 + blk["hand_pos"] @ mix_ml
        blk["muscle_vel"] = blk["hand_vel"] @ mix_ml
    spec = [
        ("force", ("x", "y", "z", "xmo", "ymo", "zmo"), "N", "Force on the handle", False, 1.0),
        ("hand_pos", ("x", "y"), "cm", "Hand position", True, 0.01),
        ("hand_vel", ("x", "y"), "cm/s", "Hand velocity", False, 0.01),
        ("joint_ang", _JOINTS, "deg", "Joint angles", False, 1.0),
        ("joint_vel", _JOINTS, "deg/s", "Joint angular velocities", False, 1.0),
        ("muscle_len", _MUSCLES, "m", "Muscle lengths", False, 1.0),
        ("muscle_vel", _MUSCLES, "m/s", "Muscle velocities", False, 1.0),
    ]
    out = []
    for name, cols, unit, desc, spatial, conv in spec:
        arr = np.full((total, len(cols)), np.nan, dtype=np.float32)
        for s, n, blk in zip(starts, lengths, blocks):
            arr[s : s + n] = blk[name]
        out.append(Behavior(name, arr, cols, unit, desc, spatial, conversion=conv))
    return out


def _design(rng, n: int, n_dirs: int, splits: np.ndarray, result: np.ndarray) -> dict:
    dirs = np.arange(n_dirs) * 360.0 / n_dirs
    return {
        "split": splits,
        "result": result,
        "bump": (rng.random(n) < 0.5) & np.isin(result, ["R", "F"]),
        "bump_dir": dirs[rng.integers(0, n_dirs, n)],
        "target_dir": dirs[rng.integers(0, n_dirs, n)],
    }


def simulate_area2_pair(preset, rng_struct, rng_train, rng_test, lag):
    """(train session, test session) of an Area2 preset."""
    n = preset.n_train_file_trials
    splits = np.array(
        ["train"] * preset.n_train + ["val"] * preset.n_val + ["none"] * preset.n_none
    )
    perm = rng_struct.permutation(n)
    splits = splits[perm]
    result = np.where(splits == "none", rng_struct.choice(["A", "F", "I"], n), "R")
    train_design = _design(rng_struct, n, preset.n_conditions, splits, result)
    test_design = _design(
        rng_struct,
        preset.n_test,
        preset.n_conditions,
        np.array(["test"] * preset.n_test),
        np.array(["R"] * preset.n_test),
    )
    train = simulate_area2(rng_train, train_design, preset.n_blocks, lag, test_file=False)
    test_blocks = max(1, round(preset.n_blocks * preset.n_test / max(n, 1)))
    test = simulate_area2(rng_test, test_design, test_blocks, lag, test_file=True)
    return train, test
