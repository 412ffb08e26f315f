"""``generate_dataset``: write a synthetic dataset in the DANDI layout of an NLB dataset.

The output folder looks like a DANDI download (``<out>/<dandiset>/sub-<Subject>/``
with the real file names), so everything that reads the real data reads it
unchanged; ``ground_truth.h5`` next to the NWB files holds the true rates
(see :mod:`nlbtut.synthetic.truth`).
"""

from __future__ import annotations

import datetime as _dt
import zlib
from pathlib import Path

import numpy as np

from nlbtut.datasets import get_dataset_info
from nlbtut.errors import DataError

from .dynamics import Session, make_units, poisson_spike_times
from .nwbwriter import ElectrodeGroupSpec, FileMeta, write_nwb
from .presets import SyntheticPreset, get_preset
from .truth import GROUND_TRUTH_FILE, write_ground_truth

__all__ = ["generate_dataset"]

_SESSION_DATES = {
    "mc_maze": (2009, 9, 25),
    "mc_maze_large": (2009, 10, 6),
    "mc_maze_medium": (2009, 9, 29),
    "mc_maze_small": (2009, 9, 28),
    "mc_rtt": (2017, 2, 2),
    "area2_bump": (2017, 12, 7),
    "dmfc_rsg": (2016, 12, 11),
}

_ELECTRODES = {
    "maze": [
        ElectrodeGroupSpec(
            "electrode_group_PMd", "electrode_array_PMd", "96-electrode Utah array", "PMd", 96
        ),
        ElectrodeGroupSpec(
            "electrode_group_M1", "electrode_array_M1", "96-electrode Utah array", "M1", 96
        ),
    ],
    "rtt": [
        ElectrodeGroupSpec(
            "electrode_group_M1", "electrode_array_M1", "96-electrode Utah array", "M1", 96
        )
    ],
    "area2": [
        ElectrodeGroupSpec(
            "electrode_group_area2",
            "electrode_array_area2",
            "96-electrode Utah array",
            "area 2",
            96,
        )
    ],
    "dmfc": [
        ElectrodeGroupSpec(
            f"electrode_group_probe{i}", f"probe{i}", "24-channel V-probe", "DMFC", 24
        )
        for i in (1, 2, 3)
    ],
}
_ID_SCHEME = {"maze": "maze", "rtt": "channel", "area2": "channel", "dmfc": "probe"}


def _simulate(preset: SyntheticPreset, rng_struct, rng_train, rng_test, lag: int):
    """Family dispatch: (train session, test session)."""
    fam = preset.family
    if fam == "maze":
        from .maze import maze_conditions, simulate_maze

        cond = maze_conditions(rng_struct, preset.n_conditions)
        n_tr = preset.n_train_file_trials
        splits = np.array(
            ["train"] * preset.n_train + ["val"] * preset.n_val + ["none"] * preset.n_none
        )
        splits = splits[rng_struct.permutation(n_tr)]
        ci_tr = rng_struct.permutation(np.resize(np.arange(preset.n_conditions), n_tr))
        ci_te = rng_struct.permutation(np.resize(np.arange(preset.n_conditions), preset.n_test))
        train = simulate_maze(rng_train, cond, ci_tr, splits, lag, test_file=False)
        test = simulate_maze(
            rng_test, cond, ci_te, np.array(["test"] * preset.n_test), lag, test_file=True
        )
        return train, test
    if fam == "rtt":
        from .rtt import simulate_rtt_pair

        return simulate_rtt_pair(preset, rng_struct, rng_train, rng_test, lag)
    if fam == "area2":
        from .area2 import simulate_area2_pair

        return simulate_area2_pair(preset, rng_struct, rng_train, rng_test, lag)
    from .dmfc import simulate_dmfc_pair

    return simulate_dmfc_pair(preset, rng_struct, rng_train, rng_test)


def _family_readout(family: str) -> dict:
    """Readout settings of a family: ``dim_gain`` and ``log_range`` (module constants)."""
    import importlib

    mod = importlib.import_module(f"nlbtut.synthetic.{family}")
    return {"dim_gain": mod.DIM_GAIN, "log_range": getattr(mod, "LOG_RANGE", (2.5, 5.0))}


def _obs_intervals(session: Session) -> np.ndarray:
    return np.stack([session.block_start_ms, session.block_stop_ms], axis=1) / 1000.0


def _latent_sample(session: Session, n: int = 20_000) -> np.ndarray:
    """Evenly spaced 1 ms latent samples of a session (time x D), to calibrate the readout."""
    z = np.concatenate(session.latents)
    step = max(1, len(z) // n)
    return z[::step].astype(np.float64)


def generate_dataset(
    preset: str,
    out_dir,
    seed: int = 0,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate a synthetic NLB-format dataset with known firing rates.

    Parameters
    ----------
    preset : str
        A name in :data:`SYNTHETIC_PRESETS` (``"mc_maze_small"``, ``"tiny"``, ...).
    out_dir : str or Path
        Root folder; the files go to ``out_dir/<dandiset_id>/sub-<Subject>/``
        with the real DANDI file names of ``SYNTHETIC_PRESETS[preset].dataset``.
    seed : int
        Seed of the random generator; the same seed gives the same data.
    overwrite : bool
        Replace an existing dataset made with another preset or seed. An
        existing dataset of the same preset and seed is reused without it.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        The ``sub-<Subject>`` folder holding the train and test NWB files and
        ``ground_truth.h5``.

    Example
    -------
    >>> folder = generate_dataset("tiny", "/tmp/nlb", seed=0)  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())  # doctest: +SKIP
    ['ground_truth.h5', 'sub-Jenkins_ses-small_desc-test_ecephys.nwb',
     'sub-Jenkins_ses-small_desc-train_behavior+ecephys.nwb']
    """
    p = get_preset(preset)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    info = get_dataset_info(p.dataset)
    folder = Path(out_dir).expanduser() / info.relative_dir
    files = [folder / info.train_file, folder / info.test_file, folder / GROUND_TRUTH_FILE]
    if any(f.exists() for f in files):
        same = all(f.exists() for f in files) and _made_by(folder / GROUND_TRUTH_FILE) == (
            p.name,
            seed,
        )
        if same and not overwrite:
            return folder
        if not overwrite:
            raise DataError(
                f"{folder} already holds a dataset of another preset or seed (or a partial one); "
                "pass overwrite=True (`nlbtut synth --overwrite`) to replace it, or choose another out_dir"
            )
        for f in files:
            if f.exists():
                f.unlink()

    from tqdm.auto import tqdm

    steps = ["simulate", "spikes", "train file", "test file", "ground truth"]
    bar = tqdm(total=len(steps), desc=f"synthetic {p.name}", disable=not progress, leave=False)

    def step(i):
        bar.set_postfix_str(steps[i])

    root = np.random.SeedSequence([seed, _stable_hash(p.name)])
    rng_struct, rng_train, rng_test, rng_units, rng_spk = (
        np.random.default_rng(s) for s in root.spawn(5)
    )
    lag = info.lag if info.behavior_source == "data" else 0
    step(0)
    train, test = _simulate(p, rng_struct, rng_train, rng_test, lag)
    units = make_units(
        rng_units,
        p.n_heldin,
        p.n_heldout,
        _latent_sample(train),
        id_scheme=_ID_SCHEME[p.family],
        n_electrodes=sum(g.n_electrodes for g in _ELECTRODES[p.family]),
        mean_rate_hz=p.mean_rate_hz,
        **_family_readout(p.family),
    )
    bar.update()
    step(1)
    spikes_train = poisson_spike_times(rng_spk, train, units)
    heldin = units.subset(~units.heldout)
    spikes_test = poisson_spike_times(rng_spk, test, heldin)
    bar.update()
    date = _dt.datetime(*_SESSION_DATES[info.name], tzinfo=_dt.timezone.utc)
    folder.mkdir(parents=True, exist_ok=True)
    for key, sess, us, spk, fname in (
        ("train", train, units, spikes_train, info.train_file),
        ("test", test, heldin, spikes_test, info.test_file),
    ):
        step(2 if key == "train" else 3)
        meta = FileMeta(
            identifier=f"nlbtut-synthetic-{p.name}-seed{seed}-{key}",
            session_description=(
                f"nlbtut synthetic {info.name} ({key} file), preset {p.name}, "
                f"seed {seed}: Poisson spikes from known latent dynamics"
            ),
            session_start=date,
            subject=info.subject,
        )
        write_nwb(folder / fname, meta, sess, us, spk, _ELECTRODES[p.family], _obs_intervals(sess))
        bar.update()
    step(4)
    write_ground_truth(
        folder / GROUND_TRUTH_FILE,
        {"preset": p.name, "dataset": info.name, "family": p.family, "seed": seed},
        units,
        {"train": train, "test": test},
        {"train": info.train_file, "test": info.test_file},
        lag,
    )
    bar.update()
    bar.close()
    return folder


def _stable_hash(name: str) -> int:
    """A process-independent integer from a preset name (``hash()`` is salted)."""
    return zlib.crc32(name.encode())


def _made_by(truth_file: Path) -> tuple[str, int] | None:
    """(preset, seed) recorded in a ground-truth file, or None if unreadable."""
    import h5py

    try:
        with h5py.File(truth_file, "r") as f:
            return str(f.attrs["preset"]), int(f.attrs["seed"])
    except (OSError, KeyError, ValueError):
        return None
