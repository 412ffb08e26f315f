"""Shared pieces of the synthetic generators: units, readouts, spikes, noise.

A synthetic recording is a list of *blocks*: observed stretches of time
(one per trial for the maze task, a few long ones for the continuous tasks).
Each block holds a low-dimensional latent state ``z`` at 1 ms resolution
(``L x D``). Every neuron's firing rate is log-linear in it,

    rate_n(t) [spikes/ms] = exp(w_n . z(t) + b_n),

and spikes are Poisson draws per 1 ms bin. The latents are stored as float16
and the rates are always computed from the stored (rounded) values, so the
ground truth saved next to the files is exactly what generated the spikes.

Hand-written rather than taken from a library: nothing packaged simulates
NLB-shaped data (pynwb only writes it, numpy draws the random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Behavior",
    "Session",
    "TrialColumn",
    "Units",
    "log_rates",
    "make_units",
    "ou_noise",
    "poisson_counts",
    "poisson_spike_times",
    "rotation_block",
    "smooth_noise",
]

LATENT_DTYPE = np.float16


@dataclass
class Behavior:
    """One behavioural series written to ``processing/behavior``.

    ``data`` is (samples x columns); ``timestamps`` in s, or None for a regular
    1 kHz series starting at t = 0 (``starting_time`` + ``rate``).
    """

    name: str
    data: np.ndarray
    columns: tuple[str, ...]
    unit: str
    description: str
    spatial: bool = False
    timestamps: np.ndarray | None = None
    conversion: float = 1.0


@dataclass
class TrialColumn:
    """One column of the trials table (``ragged`` columns get an index)."""

    name: str
    data: list | np.ndarray
    description: str
    ragged: bool = False


def layout_blocks(
    rng: np.random.Generator,
    durations: np.ndarray,
    gaps: np.ndarray,
    n_blocks: int,
    *,
    lead_ms: int,
    tail_ms: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lay ``n`` trials out in ``n_blocks`` recording blocks (integer ms).

    Trials are split into consecutive, equal-sized blocks; inside a block trial
    ``i`` starts ``lead_ms`` after the block start plus the durations and gaps of
    the trials before it, and a block ends ``tail_ms`` after its last trial.
    Blocks are separated by 2-4 s of unrecorded time (drawn from ``rng``).

    Returns ``block_of`` (n,), ``rel`` (n, start relative to its block),
    ``block_len`` (B,) and ``block_start`` (B,), all int64.
    """
    n = len(durations)
    n_blocks = max(1, min(n_blocks, n))
    block_of = np.minimum(np.arange(n) * n_blocks // n, n_blocks - 1)
    rel = np.zeros(n, dtype=np.int64)
    block_len = np.zeros(n_blocks, dtype=np.int64)
    for b in range(n_blocks):
        idx = np.flatnonzero(block_of == b)
        offs = lead_ms + np.concatenate([[0], np.cumsum(durations[idx] + gaps[idx])[:-1]])
        rel[idx] = offs
        block_len[b] = offs[-1] + durations[idx[-1]] + tail_ms
    block_start = np.concatenate(
        [[0], np.cumsum(block_len + rng.integers(2000, 4000, n_blocks))[:-1]]
    ).astype(np.int64)
    return block_of, rel, block_len, block_start


@dataclass
class Session:
    """Everything one NWB file holds, plus the latents that generated it.

    Times are integer ms from the start of the file.
    """

    block_start_ms: np.ndarray  # (B,) int64
    latents: list[np.ndarray]  # B arrays (L_b x D), float16
    trials: list[TrialColumn]
    behavior: list[Behavior] = field(default_factory=list)

    @property
    def block_stop_ms(self) -> np.ndarray:
        lengths = np.array([len(z) for z in self.latents], dtype=np.int64)
        return self.block_start_ms + lengths

    @property
    def duration_ms(self) -> int:
        return int(self.block_stop_ms.max())


@dataclass
class Units:
    """Neurons of a dataset: ids, held-out flags, electrodes and rate readout.

    ``weights`` (N x D) and ``bias`` (N,) map latents to log spikes/ms.
    """

    ids: np.ndarray
    heldout: np.ndarray
    electrode: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    def subset(self, mask: np.ndarray) -> Units:
        return Units(
            self.ids[mask],
            self.heldout[mask],
            self.electrode[mask],
            self.weights[mask],
            self.bias[mask],
        )


def make_units(
    rng: np.random.Generator,
    n_heldin: int,
    n_heldout: int,
    latent_sample: np.ndarray,
    *,
    id_scheme: str,
    n_electrodes: int,
    mean_rate_hz: float,
    log_range: tuple[float, float] = (2.5, 5.0),
    dim_gain: np.ndarray | None = None,
) -> Units:
    """Draw neurons: ids like the real files, a random held-out set, and the readout.

    Each neuron reads a random direction of the latent space. Its weights are
    scaled so that its log rate spans ``log_range`` (drawn uniformly per neuron;
    the 0.5-99.5 percentile range over ``latent_sample``, time x D), i.e. rates
    vary by a factor ``e**2.5`` to ``e**5`` over the task; the bias makes its
    mean rate a log-normal draw around ``mean_rate_hz`` (spikes/s).
    ``dim_gain`` (D,) weighs the latent dimensions (each is first scaled to unit
    spread); a small gain makes a dimension, e.g. a trial-specific drift, matter less.
    """
    n = n_heldin + n_heldout
    ids, electrode = _unit_ids(rng, n, id_scheme, n_electrodes)
    heldout = np.zeros(n, dtype=bool)
    heldout[rng.choice(n, size=n_heldout, replace=False)] = True
    z = np.asarray(latent_sample, dtype=np.float64)
    d = z.shape[1]
    scale = np.maximum(z.std(axis=0), 1e-6)
    gain = np.ones(d) if dim_gain is None else np.asarray(dim_gain, dtype=np.float64)
    w = rng.standard_normal((n, d)) * gain / scale
    proj = z @ w.T
    lo, hi = np.percentile(proj, [0.5, 99.5], axis=0)
    target = rng.uniform(*log_range, size=n)
    w *= (target / np.maximum(hi - lo, 1e-9))[:, None]
    proj = z @ w.T
    base_hz = mean_rate_hz * np.exp(0.5 * rng.standard_normal(n))
    bias = np.log(base_hz / 1000.0) - np.log(np.mean(np.exp(proj), axis=0))
    return Units(ids, heldout, electrode, w.astype(np.float32), bias.astype(np.float32))


def _unit_ids(
    rng: np.random.Generator, n: int, scheme: str, n_electrodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unit ids and electrode rows following the real files' numbering.

    ``maze``: area*1000 + electrode*10 + unit (1 = PMd rows 0-95, 2 = M1 rows 96-191);
    ``channel``: electrode*100 + unit (RTT, Area2); ``probe``: probe*1000 + channel*10 + unit.
    """
    per = {"maze": 9, "channel": 3, "probe": 5}[scheme]
    slots = rng.choice(n_electrodes * per, size=n, replace=False)
    elec, unit = np.divmod(slots, per)
    unit = unit + 1
    if scheme == "maze":
        half = n_electrodes // 2
        area, e = np.divmod(elec, half)
        ids = (area + 1) * 1000 + (e + 1) * 10 + unit
    elif scheme == "channel":
        ids = (elec + 1) * 100 + unit
    else:
        probe, ch = np.divmod(elec, n_electrodes // 3)
        ids = (probe + 1) * 1000 + ch * 10 + unit
    order = np.argsort(ids)
    return ids[order].astype(np.int64), elec[order].astype(np.int64)


def log_rates(latents: np.ndarray, units: Units) -> np.ndarray:
    """Log firing rates (log spikes/ms), time x neurons, from (time x D) latents."""
    out = latents.astype(np.float32) @ np.ascontiguousarray(units.weights.T)
    out += units.bias
    return out


def poisson_counts(rng: np.random.Generator, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse Poisson counts by inversion of the CDF, one random draw per element.

    Returns ``(flat_index, count)`` of the non-zero elements of a Poisson draw
    with means ``lam``. With ``E ~ Exp(1)`` and ``v = exp(-E)`` (uniform), the
    count is the smallest ``k`` with ``v <= P(X <= k)``; ``k = 0`` exactly when
    ``E >= lam``, so the bulk of the 1 ms bins needs one float32 comparison and
    no transcendental function, and only the few bins with a spike continue in
    float64. Exact for any rate and ~10x faster than ``Generator.poisson`` here.
    """
    lam = np.asarray(lam)
    e = rng.standard_exponential(lam.shape, dtype=np.float32).ravel()
    idx = np.flatnonzero(e < lam.astype(np.float32, copy=False).ravel())
    lam_r = lam.ravel()[idx].astype(np.float64)
    v = np.exp(-e[idx].astype(np.float64))
    pmf = np.exp(-lam_r)
    cdf = pmf.copy()
    counts = np.zeros(idx.size, dtype=np.int64)
    live = np.arange(idx.size)
    k = 0
    while live.size:
        counts[live] += 1
        k += 1
        pmf = pmf * lam_r[live] / k
        cdf = cdf + pmf
        more = (v[live] > cdf) & (pmf > 0)
        live, pmf, cdf = live[more], pmf[more], cdf[more]
    return idx, counts


def poisson_spike_times(
    rng: np.random.Generator,
    session: Session,
    units: Units,
    chunk_ms: int = 100_000,
) -> list[np.ndarray]:
    """Poisson spikes at 1 ms from the session's latents; spike times per unit (s).

    Spikes in bin ``k`` (``[k, k+1)`` ms) get times ``(k + u) / 1000`` with
    ``u ~ U(0.1, 0.9)``, so the NLB loader's flooring puts each one back in ``k``.
    """
    n = len(units.ids)
    lat = np.concatenate(session.latents, axis=0)
    ms_of_row = np.concatenate(
        [
            t0 + np.arange(len(z), dtype=np.int64)
            for t0, z in zip(session.block_start_ms, session.latents)
        ]
    )
    ms_parts: list[np.ndarray] = []
    unit_parts: list[np.ndarray] = []
    for s in range(0, len(lat), chunk_ms):
        lam = np.exp(log_rates(lat[s : s + chunk_ms], units))
        flat, c = poisson_counts(rng, lam)
        t_idx, u_idx = np.divmod(flat, n)
        ms_parts.append(np.repeat(ms_of_row[s + t_idx], c))
        unit_parts.append(np.repeat(u_idx, c))
    all_ms = np.concatenate(ms_parts) if ms_parts else np.zeros(0, np.int64)
    all_units = np.concatenate(unit_parts) if unit_parts else np.zeros(0, np.int64)
    times = (all_ms + rng.uniform(0.1, 0.9, size=all_ms.shape)) / 1000.0
    order = np.lexsort((times, all_units))
    times, all_units = times[order], all_units[order]
    edges = np.searchsorted(all_units, np.arange(n + 1))
    return [times[edges[i] : edges[i + 1]] for i in range(n)]


def rotation_block(freqs_hz: np.ndarray, tau_ms: float) -> np.ndarray:
    """1 ms transition matrix of damped 2-D rotations, one plane per frequency.

    Returns a (2P x 2P) block-diagonal matrix acting on column vectors.
    """
    p = len(freqs_hz)
    m = np.zeros((2 * p, 2 * p))
    decay = np.exp(-1.0 / tau_ms)
    for j, f in enumerate(freqs_hz):
        w = 2 * np.pi * f / 1000.0
        c, s = np.cos(w), np.sin(w)
        m[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = decay * np.array([[c, -s], [s, c]])
    return m


def ou_noise(
    rng: np.random.Generator, shape: tuple[int, ...], tau_ms: float, std: float, axis: int = -1
) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck noise at 1 ms along ``axis`` (std ``std``)."""
    from scipy.signal import lfilter

    a = np.exp(-1.0 / tau_ms)
    zi_shape = list(shape)
    zi_shape[axis] = 1
    x0 = rng.standard_normal(zi_shape) * std
    xi = rng.standard_normal(shape)
    out = lfilter([std * np.sqrt(1 - a * a)], [1.0, -a], xi, axis=axis, zi=a * x0)[0]
    return out


def damped_rotation(impulses: np.ndarray, freq_hz: float, tau_ms: float) -> np.ndarray:
    """Response of one damped rotational plane to complex impulses, at 1 ms.

    A plane ``(x, y)`` with ``w = x + iy`` evolves as ``w[t+1] = lam * w[t] + u[t+1]``
    with ``lam = exp(-1/tau) * exp(2i pi f / 1000)``; returns ``w`` (complex, same
    shape as ``impulses``, time on axis 0). An impulse ``i * y0`` makes
    ``x(t) = -y0 exp(-t/tau) sin(2 pi f t)``, a single velocity-like hump.
    """
    from scipy.signal import lfilter

    lam = np.exp(-1.0 / tau_ms) * np.exp(2j * np.pi * freq_hz / 1000.0)
    return lfilter([1.0], [1.0, -lam], impulses, axis=0)


def alpha_response(impulses: np.ndarray, tau_ms: float) -> np.ndarray:
    """Impulses convolved with ``(t/tau) exp(1 - t/tau)`` (peak 1 at ``t = tau``), axis 0."""
    from scipy.signal import lfilter

    a = np.exp(-1.0 / tau_ms)
    return lfilter([0.0, a * np.e / tau_ms], [1.0, -2 * a, a * a], impulses, axis=0)


def lowpass(x: np.ndarray, tau_ms: float, axis: int = 0) -> np.ndarray:
    """First-order low-pass filter (time constant ``tau_ms``) along ``axis``, unit gain."""
    from scipy.signal import lfilter

    a = np.exp(-1.0 / tau_ms)
    x = np.asarray(x, dtype=np.float64)
    zi = np.take(x, [0], axis=axis) * a
    return lfilter([1 - a], [1.0, -a], x, axis=axis, zi=zi)[0]


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], tau_ms: float, std: float, axis: int = -1
) -> np.ndarray:
    """Smooth stationary noise: OU (``tau_ms``) low-passed at ``tau_ms / 2``, std ``std``.

    Unlike plain OU noise its increments over a few ms are small, so it adds
    slow trial-to-trial variability without roughening the rates.
    """
    tau2 = tau_ms / 2.0
    x = lowpass(ou_noise(rng, shape, tau_ms, 1.0, axis=axis), tau2, axis=axis)
    return x * std * np.sqrt((tau_ms + tau2) / tau_ms)


def reach_gain(freq_hz: float, tau_ms: float) -> float:
    """mm/s of velocity per latent unit so that one unit of plane amplitude moves 100 mm."""
    w = 2 * np.pi * freq_hz / 1000.0
    integral_s = w / (w * w + 1.0 / tau_ms**2) / 1000.0  # of e^{-t/tau} sin(wt), in s
    return 100.0 / integral_s
