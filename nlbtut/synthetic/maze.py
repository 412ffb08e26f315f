"""Maze reaching task (MC_Maze and its scaling sets): trials, latents, behaviour.

Latent state (D = 10) of each trial, at 1 ms:

* dims 0-7: four damped rotational planes (1 Hz for x and y, 2 Hz for the
  curvature in x and y, decay 200 ms). During the delay the planes relax to a
  condition-dependent *preparatory state* that is output-null (zero velocity
  readout); about 150 ms before movement onset the rotation is released and the
  preparatory state becomes the initial condition of the movement dynamics;
* dim 8: a condition-independent signal rising at the same time;
* dim 9: a slow trial-specific drift (Ornstein-Uhlenbeck, 400 ms).

Single trials differ through the initial state, a gain on the preparatory
state, process noise, the drift, and jittered delays and reaction times.
Hand velocity is a lagged linear readout of the planes' first coordinates plus
smooth noise (``hand_vel(t) = W z(t - lag)``), hand position its integral.
"""

from __future__ import annotations

import numpy as np

from .dynamics import (
    LATENT_DTYPE,
    Behavior,
    Session,
    TrialColumn,
    ou_noise,
    rotation_block,
    smooth_noise,
)

__all__ = ["DIM_GAIN", "LATENT_DIM", "maze_conditions", "simulate_maze"]

#: weight of each latent dimension in the neurons' readout (the drift counts less)
DIM_GAIN = np.array([1.0] * 8 + [1.0, 0.3])
LATENT_DIM = 10
_FREQS = np.array([1.0, 1.0, 2.0, 2.0])
_TAU_ROT = 200.0
_TAU_PREP = 60.0
_ROT_LEAD = 150  # ms between the release of the rotation and movement onset
_SIGMA = 0.008  # process noise of the planes per ms (single-trial variability)


def _reach_gain() -> float:
    """mm/s of hand velocity per latent unit: a unit amplitude reaches 100 mm."""
    w = 2 * np.pi * _FREQS[0] / 1000.0
    integral_s = w / (w * w + 1.0 / _TAU_ROT**2) / 1000.0  # of e^{-t/tau} sin(wt), in s
    return 100.0 / integral_s


def maze_conditions(rng: np.random.Generator, n_conditions: int) -> dict[str, np.ndarray | list]:
    """Conditions = ``trial_type`` (maze) x ``trial_version`` (0, 1, 2).

    Version 0: one target, no barrier; 1: one target and barriers (curved reach);
    2: three targets and barriers. Returns per-condition arrays and the
    preparatory state (``prep``, n_conditions x 8).
    """
    n_types = n_conditions // 3
    ttype = np.repeat(np.arange(1, n_types + 1), 3)
    version = np.tile(np.arange(3), n_types)
    angle = np.repeat(2 * np.pi * np.arange(n_types) / n_types, 3)
    angle = angle + rng.uniform(-0.25, 0.25, n_conditions)
    dist = rng.uniform(80.0, 140.0, n_conditions)
    curv = np.where(
        version == 0,
        0.0,
        rng.choice([-1.0, 1.0], n_conditions) * rng.uniform(0.25, 0.55, n_conditions),
    )
    maze_id = rng.choice(np.arange(1, 10 * n_conditions + 1), n_conditions, replace=False)
    n_targets = np.where(version == 2, 3, 1)
    n_barriers = np.where(version == 0, 0, rng.integers(1, 5, n_conditions))
    target_pos, barrier_pos, active = [], [], []
    for c in range(n_conditions):
        tgt = np.round(dist[c] * np.array([np.cos(angle[c]), np.sin(angle[c])]))
        tgts = [tgt]
        for _ in range(n_targets[c] - 1):
            a = rng.uniform(0, 2 * np.pi)
            tgts.append(np.round(rng.uniform(60, 140) * np.array([np.cos(a), np.sin(a)])))
        order = rng.permutation(len(tgts))
        target_pos.append(np.array(tgts, dtype=np.int64)[order])
        active.append(int(np.argmin(order)))
        bars = []
        for _ in range(n_barriers[c]):
            frac = rng.uniform(0.3, 0.7)
            side = rng.uniform(-20, 20)
            centre = frac * tgt + side * np.array([-np.sin(angle[c]), np.cos(angle[c])])
            bars.append([*np.round(centre), rng.integers(3, 8), rng.integers(10, 40)])
        barrier_pos.append(np.array(bars, dtype=np.int64).reshape(-1, 4))
    a1 = dist / 100.0
    normal = np.stack([-np.sin(angle), np.cos(angle)], axis=1)
    prep = np.zeros((n_conditions, 8))
    prep[:, 1] = -a1 * np.cos(angle)
    prep[:, 3] = -a1 * np.sin(angle)
    prep[:, 5] = -curv * normal[:, 0]
    prep[:, 7] = -curv * normal[:, 1]
    return {
        "trial_type": ttype,
        "trial_version": version,
        "maze_id": maze_id,
        "num_targets": n_targets,
        "num_barriers": n_barriers,
        "target_pos": target_pos,
        "barrier_pos": barrier_pos,
        "active_target": np.array(active),
        "prep": prep,
    }


def simulate_maze(
    rng: np.random.Generator,
    cond: dict,
    cond_idx: np.ndarray,
    splits: np.ndarray,
    lag: int,
    *,
    test_file: bool,
) -> Session:
    """Simulate one file's worth of maze trials (latents, trial table, behaviour).

    Parameters
    ----------
    cond : dict
        Output of :func:`maze_conditions`.
    cond_idx : ndarray of int, (n_trials,)
        Condition of each trial, in time order.
    splits : ndarray of str, (n_trials,)
        ``train``/``val``/``test`` of each trial.
    lag : int
        Behaviour lag in ms (velocity at t + lag is read out of the latents at t).
    test_file : bool
        Write only start/stop/split/move_onset_time and no behaviour.
    """
    n = len(cond_idx)
    t_tgt = rng.integers(150, 300, n)
    delay = rng.integers(250, 750, n)
    rt = np.clip(np.round(rng.normal(320, 40, n)), 220, 450).astype(np.int64)
    t_go = t_tgt + delay
    t_move = t_go + rt
    t_rot = t_move - _ROT_LEAD
    length = t_move + 650 + rng.integers(150, 350, n)
    gaps = rng.integers(100, 400, n)
    start = 200 + np.concatenate([[0], np.cumsum(length + gaps)[:-1]])
    lmax = int(length.max())

    # rotational planes: relax to the preparatory state, then rotate
    rot = rotation_block(_FREQS, _TAU_ROT).T
    prep = cond["prep"][cond_idx] * (1 + 0.08 * rng.standard_normal((n, 1)))
    s = 0.25 * rng.standard_normal((n, 8))
    sigma = _SIGMA
    z = np.empty((n, lmax, LATENT_DIM), dtype=np.float32)
    for t in range(lmax):
        goal = np.where((t >= t_tgt)[:, None], prep, 0.0)
        relaxed = s + (goal - s) / _TAU_PREP
        s = np.where((t >= t_rot)[:, None], s @ rot, relaxed)
        s += sigma * rng.standard_normal((n, 8))
        z[:, t, :8] = s
    u = np.arange(lmax)[None, :] - t_rot[:, None]
    tau_c = 120.0
    cis = np.where(u >= 0, 1.5 * (u / tau_c) * np.exp(1 - np.maximum(u, 0) / tau_c), 0.0)
    z[:, :, 8] = cis + 0.05 * rng.standard_normal((n, 1))
    z[:, :, 9] = smooth_noise(rng, (n, lmax), tau_ms=400.0, std=0.5, axis=1)
    z = z.astype(LATENT_DTYPE)
    latents = [z[i, : length[i]] for i in range(n)]

    trials = _trial_columns(
        cond, cond_idx, splits, start, length, t_tgt, t_go, t_move, rt, delay, test_file
    )
    behavior = [] if test_file else _behavior(rng, cond, cond_idx, z, start, length, t_tgt, lag)
    return Session(
        block_start_ms=start.astype(np.int64), latents=latents, trials=trials, behavior=behavior
    )


def _trial_columns(cond, ci, splits, start, length, t_tgt, t_go, t_move, rt, delay, test_file):
    s = lambda ms: (start + ms) / 1000.0  # noqa: E731  (ms in trial -> s in file)
    cols = [
        TrialColumn("start_time", start / 1000.0, "Start time of trial, in seconds"),
        TrialColumn("stop_time", (start + length) / 1000.0, "Stop time of trial, in seconds"),
    ]
    if test_file:
        return cols + [
            TrialColumn("move_onset_time", s(t_move), "Time of movement onset, in seconds"),
            TrialColumn("split", np.asarray(splits), "Data split the trial belongs to"),
        ]
    return cols + [
        TrialColumn("trial_type", cond["trial_type"][ci], "Maze (condition) of the trial"),
        TrialColumn(
            "trial_version",
            cond["trial_version"][ci],
            "0: one target, no barrier; 1: one target and barriers; 2: three targets and barriers",
        ),
        TrialColumn("maze_id", cond["maze_id"][ci], "Identifier of the maze"),
        TrialColumn("success", np.ones(len(ci), dtype=bool), "Whether the trial succeeded"),
        TrialColumn("target_on_time", s(t_tgt), "Time the targets appeared, in seconds"),
        TrialColumn("go_cue_time", s(t_go), "Time of the go cue, in seconds"),
        TrialColumn("move_onset_time", s(t_move), "Time of movement onset, in seconds"),
        TrialColumn("rt", rt.astype(float), "Reaction time (go cue to movement onset), in ms"),
        TrialColumn("delay", delay.astype(float), "Delay (target onset to go cue), in ms"),
        TrialColumn("num_targets", cond["num_targets"][ci], "Number of targets shown"),
        TrialColumn(
            "target_pos",
            [cond["target_pos"][c] for c in ci],
            "Target positions [x, y] in mm",
            ragged=True,
        ),
        TrialColumn("num_barriers", cond["num_barriers"][ci], "Number of barriers"),
        TrialColumn(
            "barrier_pos",
            [cond["barrier_pos"][c] for c in ci],
            "Barriers [center x, center y, half width, half height] in mm",
            ragged=True,
        ),
        TrialColumn(
            "active_target", cond["active_target"][ci], "Index of the reach target in target_pos"
        ),
        TrialColumn("split", np.asarray(splits), "Data split the trial belongs to"),
    ]


def _behavior(rng, cond, ci, z, start, length, t_tgt, lag):
    n, lmax, _ = z.shape
    src = np.clip(np.arange(lmax) - lag, 0, None)
    planes = z[:, src, :8].astype(np.float64)
    vel = _reach_gain() * np.stack(
        [planes[..., 0] + planes[..., 4], planes[..., 2] + planes[..., 6]], axis=-1
    )
    vel += ou_noise(rng, (n, lmax, 2), tau_ms=15.0, std=12.0, axis=1)
    pos = 2.0 * rng.standard_normal((n, 1, 2)) + np.cumsum(vel, axis=1) / 1000.0
    tgt = np.stack([cond["target_pos"][c][cond["active_target"][c]] for c in ci]).astype(float)
    look = (np.arange(lmax)[None, :] >= (t_tgt + 200)[:, None])[..., None]
    eye = np.where(look, tgt[:, None, :], 0.0) + 4.0 * ou_noise(rng, (n, lmax, 2), 30.0, 1.0, 1)
    cursor = pos + 0.2 * rng.standard_normal((n, lmax, 2))
    valid = np.arange(lmax)[None, :] < length[:, None]
    stamps = (start[:, None] + np.arange(lmax)[None, :])[valid] / 1000.0
    xy = ("x", "y")

    def series(name, arr, unit, desc, spatial):
        return Behavior(name, arr[valid].astype(np.float32), xy, unit, desc, spatial, stamps)

    return [
        series("cursor_pos", cursor, "mm", "Cursor position on the screen", True),
        series("eye_pos", eye, "mm", "Eye position on the screen", True),
        series("hand_pos", pos, "mm", "Hand position", True),
        series("hand_vel", vel, "mm/s", "Hand velocity", False),
    ]
