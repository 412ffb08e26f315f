"""Ground truth of a synthetic dataset: storage, loading, and the oracle submission.

File layout of ``<dataset folder>/ground_truth.h5`` (next to the NWB files)::

    /                       attrs: format = "nlbtut-synthetic-ground-truth",
                            format_version, preset, dataset, family, seed,
                            rate_unit = "spikes/ms", nlbtut_version
    /units/ids              (N,) int64    unit ids, the train file's unit order
    /units/heldout          (N,) bool
    /units/weights          (N, D) float32  readout of the latents
    /units/bias             (N,) float32
    /<file>/block_start_ms  (B,) int64    start of each observed block, ms from
                                          the start of that NWB file
    /<file>/block_length_ms (B,) int64
    /<file>/latents         (sum L, D) float16, the blocks' latents at 1 ms, stacked
      (<file> is "train" or "test"; attrs: nwb_file = the NWB file's name)
    /behavior               attrs: lag_ms and a description of the readout

The true firing rate of unit n at ms t of block b (spikes/ms) is
``exp(latents[offset_b + t - block_start_ms[b]] @ weights[n] + bias[n])``; the
spikes in the NWB files are Poisson draws of exactly these rates. Storing the
low-dimensional latents instead of the rates keeps the file small.

:func:`oracle_submission` turns the true rates into a submission: expected
spikes per bin (the sum of the 1 ms rates in each bin) for the same trials, in
the same order and over the same windows (trial window and forward-prediction
bins) as ``make_train_input_tensors`` / ``make_eval_input_tensors`` produce, so
its scores are the ceiling a perfect model could reach. The windows are
computed from the trial tables with the rules of ``nlb_tools.make_tensors``
(bins whose left edge lies in ``[align + a, align + b)``, the DMFC jitter drawn
from the legacy global NumPy generator seeded like the official code); the
tests check them against the tensors of both loaders.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nlbtut.datasets import get_dataset_info, group_name
from nlbtut.errors import DataError, DataFileNotFoundError

__all__ = [
    "GROUND_TRUTH_FILE",
    "TrialWindows",
    "load_ground_truth",
    "oracle_submission",
    "trial_windows",
    "true_rates",
    "write_ground_truth",
]

GROUND_TRUTH_FILE = "ground_truth.h5"
FORMAT = "nlbtut-synthetic-ground-truth"
FORMAT_VERSION = 1


def write_ground_truth(
    path: Path,
    attrs: dict,
    units,
    sessions: dict,
    nwb_files: dict[str, str],
    lag_ms: int,
) -> Path:
    """Write ``ground_truth.h5`` atomically (layout in the module docstring)."""
    import h5py

    from nlbtut import __version__

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["rate_unit"] = "spikes/ms"
            f.attrs["nlbtut_version"] = __version__
            for k, v in attrs.items():
                f.attrs[k] = v
            g = f.create_group("units")
            g["ids"] = units.ids
            g["heldout"] = units.heldout
            g["weights"] = units.weights
            g["bias"] = units.bias
            for key, sess in sessions.items():
                g = f.create_group(key)
                g.attrs["nwb_file"] = nwb_files[key]
                g["block_start_ms"] = sess.block_start_ms.astype(np.int64)
                g["block_length_ms"] = np.array([len(z) for z in sess.latents], dtype=np.int64)
                lat = np.concatenate(sess.latents, axis=0)
                g.create_dataset(
                    "latents",
                    data=lat,
                    compression="gzip",
                    shuffle=True,
                    chunks=(min(len(lat), 65536), lat.shape[1]),
                )
            b = f.create_group("behavior")
            b.attrs["lag_ms"] = lag_ms
            b.attrs["description"] = (
                "behaviour velocity at time t + lag_ms is a linear readout of the latents at t"
            )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _find_truth(dataset_dir) -> Path:
    d = Path(dataset_dir)
    if d.is_file() and d.suffix == ".h5":
        return d
    if not d.exists():
        raise DataFileNotFoundError(f"dataset folder {str(d)!r} does not exist")
    cand = d / GROUND_TRUTH_FILE
    if cand.exists():
        return cand
    found = sorted(d.glob(f"*/sub-*/{GROUND_TRUTH_FILE}")) + sorted(
        d.glob(f"sub-*/{GROUND_TRUTH_FILE}")
    )
    if len(found) == 1:
        return found[0]
    raise DataFileNotFoundError(
        f"no {GROUND_TRUTH_FILE} in {str(d)!r}: expected the folder returned by "
        "nlbtut.synthetic.generate_dataset (real DANDI data has no ground truth)"
    )


def load_ground_truth(dataset_dir) -> dict:
    """Load the ground truth stored next to a synthetic dataset's NWB files.

    Parameters
    ----------
    dataset_dir : str or Path
        The folder :func:`generate_dataset` returned (``.../sub-<Subject>``), or
        the ``ground_truth.h5`` file itself.

    Returns
    -------
    dict
        ``preset``, ``dataset``, ``family``, ``seed``, ``lag_ms``, ``path``;
        ``units``: ``ids`` (N,), ``heldout`` (N,), ``weights`` (N x D),
        ``bias`` (N,); and for ``"train"`` and ``"test"``: ``nwb_file``,
        ``block_start_ms`` (B,), ``block_length_ms`` (B,), ``latents``
        (sum of block lengths x D, float16, 1 ms). Rates in spikes/ms are
        ``exp(latents @ weights.T + bias)`` (see :func:`true_rates`).

    Example
    -------
    >>> gt = load_ground_truth(folder)  # doctest: +SKIP
    >>> gt["units"]["weights"].shape  # doctest: +SKIP
    (40, 10)
    """
    import h5py

    path = _find_truth(dataset_dir)
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise DataError(f"{path} is not an nlbtut ground-truth file")
        out: dict = {k: _plain(v) for k, v in f.attrs.items()}
        out["path"] = path
        out["lag_ms"] = int(f["behavior"].attrs["lag_ms"])
        out["units"] = {k: f["units"][k][()] for k in ("ids", "heldout", "weights", "bias")}
        for key in ("train", "test"):
            g = f[key]
            out[key] = {
                "nwb_file": _plain(g.attrs["nwb_file"]),
                "block_start_ms": g["block_start_ms"][()],
                "block_length_ms": g["block_length_ms"][()],
                "latents": g["latents"][()],
            }
    return out


def _plain(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def true_rates(
    truth: dict, key: str, start_ms: np.ndarray, n_ms: int, unit_mask: np.ndarray | None = None
) -> np.ndarray:
    """True rates (spikes/ms) over ``[start_ms[i], start_ms[i] + n_ms)`` of file ``key``.

    Returns trials x n_ms x neurons (float64). Every window must lie inside one
    observed block; otherwise :class:`DataError`.
    """
    f = truth[key]
    starts, lengths = f["block_start_ms"], f["block_length_ms"]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    start_ms = np.asarray(start_ms, dtype=np.int64)
    b = np.searchsorted(starts, start_ms, side="right") - 1
    bad = (b < 0) | (start_ms + n_ms > starts[np.maximum(b, 0)] + lengths[np.maximum(b, 0)])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"window starting at {start_ms[i]} ms ({n_ms} ms long) of the {key} file is not "
            "inside an observed block of the ground truth"
        )
    w = truth["units"]["weights"].astype(np.float64)
    bias = truth["units"]["bias"].astype(np.float64)
    if unit_mask is not None:
        w, bias = w[unit_mask], bias[unit_mask]
    rows = offsets[b][:, None] + (start_ms - starts[b])[:, None] + np.arange(n_ms)[None, :]
    z = f["latents"][rows].astype(np.float64)
    return np.exp(z @ w.T + bias)


# --------------------------------------------------------------------------- windows


class TrialWindows:
    """Bins of one set of trials: ``file`` key, first-bin start (ms, file clock), bin count."""

    def __init__(self, key: str, trial_index: np.ndarray, start_ms: np.ndarray, n_bins: int):
        self.key = key
        self.trial_index = trial_index
        self.start_ms = start_ms
        self.n_bins = n_bins

    def __len__(self) -> int:
        return len(self.start_ms)


def _read_trials(nwb_path: Path) -> dict[str, np.ndarray]:
    """The trials table of an NWB file (scalar columns only; ``*_time`` in ms)."""
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(nwb_path, "r") as f:
        g = f["intervals/trials"]
        for name in g:
            if name == "id" or name.endswith("_index") or f"{name}_index" in g:
                continue
            arr = g[name][()]
            if arr.dtype.kind in "SO":
                arr = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in arr])
            elif name.endswith("_time"):
                ms = arr * 1000.0
                fin = np.isfinite(ms)
                if np.any(np.abs(ms[fin] - np.round(ms[fin])) > 1e-6):
                    raise DataError(f"{nwb_path.name}: {name} is not on the 1 ms grid")
                arr = np.round(ms)
            out[name] = arr
    return out


def _dmfc_jitter(tp: np.ndarray, split: np.ndarray, bw: int, seed: int) -> np.ndarray:
    """Jitter (ms) of ``make_tensors._prep_jitter`` for DMFC, legacy-seeded like the official."""
    hi = np.where(split == "test", 0.0, np.clip(1500.0 - tp, 0.0, 300.0))
    lo = np.zeros_like(hi)
    lo_b = np.floor(np.round(lo / bw, 4))
    hi_b = np.floor(np.round(hi / bw, 4))
    rs = np.random.RandomState(seed)
    vals = np.array([np.round(rs.random_sample() * (h - a) + a) for a, h in zip(lo_b, hi_b)])
    return vals * bw


def trial_windows(dataset_dir, phase: str = "val", bin_width: int = 5, seed: int = 0) -> dict:
    """Windows of the benchmark tensors of a synthetic (or any NLB-layout) dataset.

    Returns ``{"train": TrialWindows, "eval": TrialWindows, "eval_forward": TrialWindows,
    "train_forward": TrialWindows}`` in the trial order of ``make_train_input_tensors``
    (``train``) and ``make_eval_input_tensors`` (``eval``) for ``phase``.
    """
    truth = load_ground_truth(dataset_dir)
    folder = Path(truth["path"]).parent
    info = get_dataset_info(truth["dataset"])
    if phase not in ("val", "test"):
        raise DataError(f"phase must be 'val' or 'test', got {phase!r}")
    if not isinstance(bin_width, (int, np.integer)) or bin_width <= 0 or 100 % bin_width:
        raise DataError(f"bin_width must be a divisor of 100 ms (e.g. 5 or 20), got {bin_width!r}")
    tables = {k: _read_trials(folder / truth[k]["nwb_file"]) for k in ("train", "test")}
    a, b = info.align_range
    fp_bins = info.fp_len // bin_width
    train_key = "train"
    train_splits = ("train",) if phase == "val" else ("train", "val")
    eval_key, eval_split = ("train", "val") if phase == "val" else ("test", "test")

    def make(key, splits, rng_a, rng_b):
        t = tables[key]
        mask = np.isin(t["split"], splits)
        align = t[info.align_field].astype(float)
        if info.has_jitter:
            jit = np.full(len(align), np.nan)
            tp = t["tp"] if "tp" in t else np.full(len(align), np.nan)
            jit[mask] = _dmfc_jitter(tp[mask], t["split"][mask], bin_width, seed)
            align = align + jit
        keep = mask & np.isfinite(align)
        idx = np.flatnonzero(keep)
        first = np.ceil((align[idx] + rng_a) / bin_width) * bin_width
        last = np.ceil((align[idx] + rng_b) / bin_width) * bin_width
        n = np.unique(((last - first) / bin_width).astype(np.int64))
        if len(n) > 1:
            raise DataError(f"windows of unequal length in the {key} file: {n}")
        return TrialWindows(key, idx, first.astype(np.int64), int(n[0]) if len(n) else 0)

    return {
        "train": make(train_key, train_splits, a, b),
        "train_forward": make(train_key, train_splits, b, b + info.fp_len),
        "eval": make(eval_key, (eval_split,), a, b),
        "eval_forward": make(eval_key, (eval_split,), b, b + info.fp_len),
        "fp_bins": fp_bins,
    }


def _binned(truth, win: TrialWindows, bw: int, unit_mask, chunk: int = 64) -> np.ndarray:
    n_units = int(unit_mask.sum())
    out = np.zeros((len(win), win.n_bins, n_units), dtype=np.float32)
    for s in range(0, len(win), chunk):
        r = true_rates(truth, win.key, win.start_ms[s : s + chunk], win.n_bins * bw, unit_mask)
        out[s : s + chunk] = r.reshape(len(r), win.n_bins, bw, n_units).sum(axis=2)
    return out


def oracle_submission(dataset_dir, phase: str = "val", bin_width: int = 5) -> dict:
    """Submission built from the true rates: the ceiling of every metric.

    Parameters
    ----------
    dataset_dir : str or Path
        Folder returned by :func:`generate_dataset`.
    phase : {"val", "test"}
        ``val``: train trials = split ``train``, eval = ``val``; ``test``: train =
        ``train`` + ``val``, eval = ``test`` (the test file).
    bin_width : int
        Bin width in ms (5 or 20 for NLB scoring).

    Returns
    -------
    dict
        ``{group: {"train_rates_heldin", "train_rates_heldout", "eval_rates_heldin",
        "eval_rates_heldout", "eval_rates_heldin_forward", "eval_rates_heldout_forward"}}``,
        arrays trials x time x neurons in expected spikes per bin (float32), the
        trials in the order of the benchmark tensors.

    Example
    -------
    >>> sub = oracle_submission(folder, "val", 5)  # doctest: +SKIP
    >>> sub["mc_maze_small"]["eval_rates_heldout"].shape  # doctest: +SKIP
    (8, 140, 10)
    """
    truth = load_ground_truth(dataset_dir)
    group = (
        group_name(truth["dataset"], bin_width)
        if bin_width in (5, 20)
        else (f"{truth['dataset']}_{bin_width}")
    )
    wins = trial_windows(truth["path"], phase, bin_width)
    heldout = truth["units"]["heldout"].astype(bool)
    out = {}
    for name, win in (
        ("train_rates", wins["train"]),
        ("eval_rates", wins["eval"]),
        ("eval_rates_forward", wins["eval_forward"]),
    ):
        for tag, mask in (("heldin", ~heldout), ("heldout", heldout)):
            key = name.replace("_rates", f"_rates_{tag}")
            out[key] = _binned(truth, win, bin_width, mask)
    return {group: out}
