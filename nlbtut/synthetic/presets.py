"""Presets of the synthetic NLB-format datasets.

One frozen :class:`SyntheticPreset` per preset. A preset names the NLB'21
dataset whose file names and benchmark parameters apply
(``SYNTHETIC_PRESETS[name].dataset``), its task family (which latent dynamics
and trial structure generate it), and its size: held-in / held-out neurons and
trials per split, matching the real dataset for the full-size presets.

The ``tiny*`` presets are small versions for unit tests; they generate in about
a second and use the file names and parameters of ``mc_maze_small``,
``mc_rtt``, ``area2_bump`` and ``dmfc_rsg``.

Example
-------
>>> from nlbtut.synthetic import SYNTHETIC_PRESETS
>>> p = SYNTHETIC_PRESETS["mc_maze_small"]
>>> p.dataset, p.n_heldin, p.n_heldout, p.n_conditions
('mc_maze_small', 107, 35, 27)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from nlbtut.datasets import get_dataset_info
from nlbtut.errors import DataError

__all__ = ["FAMILIES", "SYNTHETIC_PRESETS", "SyntheticPreset", "get_preset"]

#: task families, one latent-dynamics model and trial structure each
FAMILIES = ("maze", "rtt", "area2", "dmfc")


@dataclass(frozen=True)
class SyntheticPreset:
    """Size and structure of one synthetic dataset.

    Attributes
    ----------
    name : str
        Preset name (``"mc_maze_small"``, ``"tiny"``, ...).
    dataset : str
        NLB'21 dataset whose file names, DANDI layout and benchmark parameters apply.
    family : str
        Task family: ``"maze"``, ``"rtt"``, ``"area2"`` or ``"dmfc"``.
    n_heldin, n_heldout : int
        Neurons in the test file (held-in) and only in the train file (held-out).
    n_train, n_val, n_test : int
        Trials with split ``train`` / ``val`` (train file) and ``test`` (test file).
    n_none : int
        Extra trials with split ``none`` in the train file (failed / unused trials).
    n_conditions : int
        Maze: ``trial_type`` x ``trial_version`` conditions (a multiple of 3).
        Area2: reach/bump directions per movement type. Unused otherwise.
    n_blocks : int
        Continuous families: recording blocks (``obs_intervals`` per unit).
    latent_dim : int
        Dimension of the latent state driving the rates.
    mean_rate_hz : float
        Median baseline firing rate of the neurons (spikes/s).
    """

    name: str
    dataset: str
    family: str
    n_heldin: int
    n_heldout: int
    n_train: int
    n_val: int
    n_test: int
    n_none: int = 0
    n_conditions: int = 0
    n_blocks: int = 1
    latent_dim: int = 8
    mean_rate_hz: float = 8.0
    description: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        get_dataset_info(self.dataset)  # raises for an unknown dataset
        if self.family == "maze" and self.n_conditions % 3:
            raise ValueError("maze presets need a multiple of 3 conditions (3 trial versions)")

    @property
    def n_neurons(self) -> int:
        """Held-in plus held-out neurons."""
        return self.n_heldin + self.n_heldout

    @property
    def n_train_file_trials(self) -> int:
        """Trials in the train file (train + val + none)."""
        return self.n_train + self.n_val + self.n_none


def _real(name: str, family: str, **kw) -> SyntheticPreset:
    info = get_dataset_info(name)
    return SyntheticPreset(
        name=name,
        dataset=name,
        family=family,
        n_heldin=info.n_heldin,
        n_heldout=info.n_heldout,
        n_train=info.n_train,
        n_val=info.n_val,
        n_test=info.n_test,
        description=f"Synthetic {name}: sizes, splits and trial structure of the real dataset.",
        **kw,
    )


SYNTHETIC_PRESETS: dict[str, SyntheticPreset] = {
    "mc_maze": _real("mc_maze", "maze", n_conditions=108),
    "mc_maze_large": _real("mc_maze_large", "maze", n_conditions=27),
    "mc_maze_medium": _real("mc_maze_medium", "maze", n_conditions=27),
    "mc_maze_small": _real("mc_maze_small", "maze", n_conditions=27),
    "mc_rtt": _real("mc_rtt", "rtt", n_blocks=4, latent_dim=8),
    # real file: 826 trials, the failed ones with split 'none'
    "area2_bump": _real(
        "area2_bump", "area2", n_none=826 - 272 - 92, n_conditions=8, n_blocks=4, latent_dim=8
    ),
    # real file: 1160 trials, outliers / failed with split 'none'
    "dmfc_rsg": _real("dmfc_rsg", "dmfc", n_none=1160 - 741 - 248, n_blocks=6, latent_dim=6),
    "tiny": SyntheticPreset(
        name="tiny",
        dataset="mc_maze_small",
        family="maze",
        n_heldin=30,
        n_heldout=10,
        n_train=24,
        n_val=8,
        n_test=8,
        n_conditions=6,
        description="Tiny maze dataset for unit tests (mc_maze_small names and parameters).",
    ),
    "tiny_rtt": SyntheticPreset(
        name="tiny_rtt",
        dataset="mc_rtt",
        family="rtt",
        n_heldin=24,
        n_heldout=8,
        n_train=30,
        n_val=10,
        n_test=10,
        n_blocks=2,
        description="Tiny random-target dataset for unit tests (mc_rtt names and parameters).",
    ),
    "tiny_area2_bump": SyntheticPreset(
        name="tiny_area2_bump",
        dataset="area2_bump",
        family="area2",
        n_heldin=20,
        n_heldout=6,
        n_train=32,
        n_val=12,
        n_test=10,
        n_none=6,
        n_conditions=4,
        n_blocks=2,
        description="Tiny area2 bump dataset for unit tests (area2_bump names and parameters).",
    ),
    "tiny_dmfc_rsg": SyntheticPreset(
        name="tiny_dmfc_rsg",
        dataset="dmfc_rsg",
        family="dmfc",
        n_heldin=20,
        n_heldout=6,
        n_train=40,
        n_val=32,
        n_test=12,
        n_none=4,
        n_blocks=2,
        latent_dim=6,
        description="Tiny ready-set-go dataset for unit tests (dmfc_rsg names and parameters).",
    ),
}


def get_preset(name: str) -> SyntheticPreset:
    """Return the preset called ``name``; raise :class:`DataError` naming the valid ones."""
    if isinstance(name, SyntheticPreset):
        return name
    if not isinstance(name, str):
        raise DataError(f"preset must be a preset name (str), got {type(name).__name__}")
    key = name.strip().lower()
    if key in SYNTHETIC_PRESETS:
        return SYNTHETIC_PRESETS[key]
    close = difflib.get_close_matches(key, SYNTHETIC_PRESETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DataError(
        f"Unknown synthetic preset {name!r}.{hint} Expected one of: {', '.join(SYNTHETIC_PRESETS)}."
    )
