"""Random target task (MC_RTT): continuous reaching, trials = 600 ms chunks.

The monkey reaches from target to target on an 8 x 8 grid, self-paced. Each
reach releases a damped rotation (1 Hz, 200 ms decay) in two planes whose
first coordinates read out the finger velocity (``finger_vel(t) = W z(t - lag)``),
with an impulse set by the reach vector; a preparatory pair of dimensions
tracks the upcoming reach vector from target appearance on; a
condition-independent transient follows each reach; a slow drift adds
trial-to-trial variability. Latent dimension 8. The recording has a few
observed blocks; the trials are consecutive 600 ms chunks inside them, with
enough data after each chunk for the 200 ms forward prediction.
"""

from __future__ import annotations

import numpy as np

from .dynamics import (
    LATENT_DTYPE,
    Behavior,
    Session,
    TrialColumn,
    alpha_response,
    damped_rotation,
    lowpass,
    ou_noise,
    reach_gain,
    smooth_noise,
)

__all__ = ["DIM_GAIN", "LATENT_DIM", "simulate_rtt", "simulate_rtt_pair"]

#: weight of each latent dimension in the neurons' readout (the drift counts less)
DIM_GAIN = np.array([1.0] * 7 + [0.3])
LATENT_DIM = 8
CHUNK_MS = 600
_HEAD_MS, _TAIL_MS = 300, 500
_FREQ, _TAU = 1.0, 200.0
_GRID = (np.arange(8) - 3.5) * 20.0  # mm


def _block_lengths(n_chunks: int, n_blocks: int) -> np.ndarray:
    per = np.full(n_blocks, n_chunks // n_blocks)
    per[: n_chunks % n_blocks] += 1
    return per


def simulate_rtt(
    rng: np.random.Generator, splits: np.ndarray, n_blocks: int, lag: int, *, test_file: bool
) -> Session:
    """One file of the random target task; ``splits`` gives each chunk's split."""
    n_chunks = len(splits)
    n_blocks = max(1, min(n_blocks, n_chunks))
    per = _block_lengths(n_chunks, n_blocks)
    lengths = _HEAD_MS + per * CHUNK_MS + _TAIL_MS
    gaps = rng.integers(2000, 5000, n_blocks)
    starts = np.concatenate([[0], np.cumsum(lengths + gaps)[:-1]]).astype(np.int64)
    latents, beh_blocks = [], []
    for b in range(n_blocks):
        z, beh = _block(rng, int(lengths[b]), lag)
        latents.append(z)
        beh_blocks.append(beh)
    chunk_start = np.concatenate(
        [starts[b] + _HEAD_MS + CHUNK_MS * np.arange(per[b]) for b in range(n_blocks)]
    )
    trials = [
        TrialColumn("start_time", chunk_start / 1000.0, "Start time of trial, in seconds"),
        TrialColumn(
            "stop_time", (chunk_start + CHUNK_MS) / 1000.0, "Stop time of trial, in seconds"
        ),
        TrialColumn("split", np.asarray(splits), "Data split the trial belongs to"),
    ]
    session = Session(block_start_ms=starts, latents=latents, trials=trials)
    if not test_file:
        session.behavior = _continuous_behavior(starts, lengths, beh_blocks)
    return session


def _block(rng: np.random.Generator, length: int, lag: int):
    # reach schedule: neural release times, target appearance ~300 ms earlier
    onsets = [int(rng.integers(100, 400))]
    while onsets[-1] < length:
        onsets.append(onsets[-1] + int(rng.integers(700, 1200)))
    onsets = np.array(onsets[:-1])
    k = len(onsets)
    cells = rng.integers(0, 8, size=(k + 1, 2))
    targets = _GRID[cells]
    vec = np.diff(targets, axis=0)  # reach k goes from target k to k+1
    amp = vec / 100.0
    imp = np.zeros((length, 2), dtype=complex)
    imp[onsets, 0] = -1j * -amp[:, 0]
    imp[onsets, 1] = -1j * -amp[:, 1]
    planes = damped_rotation(imp, _FREQ, _TAU)
    prep_step = np.zeros((length, 2))
    appear = np.maximum(onsets - rng.integers(200, 350, k), 0)
    for i in range(k):
        prep_step[appear[i] : onsets[i] + 150] = amp[i]
    prep = lowpass(prep_step, 60.0)
    kick = np.zeros(length)
    kick[onsets] = 1.0 + 0.1 * rng.standard_normal(k)
    cis = 1.5 * alpha_response(kick, 120.0)
    z = np.empty((length, LATENT_DIM))
    z[:, 0], z[:, 1] = planes[:, 0].real, planes[:, 0].imag
    z[:, 2], z[:, 3] = planes[:, 1].real, planes[:, 1].imag
    z[:, 4:6] = prep
    z[:, 6] = cis
    z[:, 7] = smooth_noise(rng, (length,), tau_ms=500.0, std=0.5)
    z[:, :6] += 0.03 * smooth_noise(rng, (length, 6), tau_ms=50.0, std=1.0, axis=0)
    z = z.astype(LATENT_DTYPE)
    # behaviour: finger velocity = lagged readout of the planes' first coordinates
    src = np.clip(np.arange(length) - lag, 0, length - 1)
    zf = z.astype(np.float64)
    vel = reach_gain(_FREQ, _TAU) * zf[src][:, [0, 2]]
    vel += ou_noise(rng, (length, 2), tau_ms=20.0, std=10.0, axis=0)
    pos = targets[0] + np.cumsum(vel, axis=0) / 1000.0
    depth = 30.0 + ou_noise(rng, (length, 1), tau_ms=300.0, std=1.0, axis=0)
    tgt_idx = np.searchsorted(appear, np.arange(length), side="right")
    target_pos = targets[tgt_idx]
    return z, {
        "finger_pos": np.concatenate([pos, depth], axis=1),
        "finger_vel": vel,
        "cursor_pos": pos + 0.1 * rng.standard_normal((length, 2)),
        "target_pos": target_pos,
    }


def _continuous_behavior(starts, lengths, blocks) -> list[Behavior]:
    total = int(starts[-1] + lengths[-1])
    spec = [
        ("cursor_pos", ("x", "y"), "mm", "Cursor position", True),
        ("finger_pos", ("x", "y", "z"), "mm", "Finger position", True),
        ("finger_vel", ("x", "y"), "mm/s", "Finger velocity", False),
        ("target_pos", ("x", "y"), "mm", "Position of the current target", True),
    ]
    out = []
    for name, cols, unit, desc, spatial in spec:
        arr = np.full((total, len(cols)), np.nan, dtype=np.float32)
        for s, n, blk in zip(starts, lengths, blocks):
            arr[s : s + n] = blk[name]
        out.append(Behavior(name, arr, cols, unit, desc, spatial))
    return out


def simulate_rtt_pair(preset, rng_struct, rng_train, rng_test, lag):
    """(train session, test session) of an RTT preset."""
    n = preset.n_train + preset.n_val
    splits = np.array(["train"] * preset.n_train + ["val"] * preset.n_val)
    splits = splits[rng_struct.permutation(n)]
    train = simulate_rtt(rng_train, splits, preset.n_blocks, lag, test_file=False)
    test_blocks = max(1, round(preset.n_blocks * preset.n_test / max(n, 1)))
    test = simulate_rtt(
        rng_test, np.array(["test"] * preset.n_test), test_blocks, lag, test_file=True
    )
    return train, test
