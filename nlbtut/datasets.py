"""Registry of the seven NLB'21 datasets.

One frozen :class:`DatasetInfo` per dataset holds where the files live on DANDI,
how they are named, how many neurons and trials they have, and every benchmark
parameter the official ``nlb_tools.make_tensors.PARAMS`` defines (alignment
window, behaviour source and lag, PSTH conditions and kernel width, ...).

Everything that needs to know "what is mc_maze_small?" (download, synthetic
data, tensors, submissions, evaluation, LFADS presets) reads it from here, so a
number lives in one place.

Example
-------
>>> from nlbtut.datasets import get_dataset_info
>>> info = get_dataset_info("mc_maze_small")
>>> info.n_heldin, info.n_heldout, info.align_field
(107, 35, 'move_onset_time')
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from nlbtut.errors import DataError

__all__ = [
    "DATASET_NAMES",
    "DATASETS",
    "SCALING_DATASETS",
    "DatasetInfo",
    "get_dataset_info",
    "group_name",
]


@dataclass(frozen=True)
class DatasetInfo:
    """Facts and benchmark parameters of one NLB'21 dataset.

    Times are in ms unless the name says otherwise; counts are neurons or trials.
    """

    name: str
    dandiset_id: str
    dandiset_version: str
    subject: str
    train_file: str
    test_file: str
    prefix: str
    dandiset_bytes: int
    n_heldin: int
    n_heldout: int
    # trial counts: validation phase (train / val) and test phase (train+val / test)
    n_train: int
    n_val: int
    n_test: int
    # alignment of the benchmark window
    align_field: str
    align_range: tuple[int, int]
    allow_overlap: bool
    fp_len: int = 200
    # behaviour
    behavior_source: str = "data"  # "data" or "trial_info"
    behavior_field: str | tuple[str, ...] = "hand_vel"
    lag: int = 0
    # PSTH
    psth_cond_fields: tuple[str, ...] = ()
    psth_kern_sd: int = 0
    # DMFC-style extras
    has_behavior_file: bool = True
    has_decode_masks: bool = False
    has_jitter: bool = False
    # NLB reference smoothing baseline [kern_sd ms, GLM alpha] and GPFA latent dim
    smoothing_kern_sd: int = 50
    smoothing_alpha: float = 0.01
    gpfa_latent_dim: int = 20
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def n_neurons(self) -> int:
        """Held-in plus held-out neurons."""
        return self.n_heldin + self.n_heldout

    @property
    def window_ms(self) -> int:
        """Length of the benchmark trial window in ms."""
        return self.align_range[1] - self.align_range[0]

    def n_bins(self, bin_width: int = 5) -> int:
        """Bins per trial window at ``bin_width`` ms."""
        return self.window_ms // bin_width

    def n_fp_bins(self, bin_width: int = 5) -> int:
        """Forward-prediction bins at ``bin_width`` ms."""
        return self.fp_len // bin_width

    @property
    def dandi_url(self) -> str:
        """Landing page of the dandiset on the DANDI archive."""
        return f"https://dandiarchive.org/dandiset/{self.dandiset_id}/{self.dandiset_version}"

    @property
    def relative_dir(self) -> str:
        """Folder of the files relative to a download root (``<dandiset>/sub-<subject>``)."""
        return f"{self.dandiset_id}/sub-{self.subject}"


_MAZE_COMMON = dict(
    align_field="move_onset_time",
    align_range=(-250, 450),
    allow_overlap=False,
    behavior_source="data",
    behavior_field="hand_vel",
    psth_cond_fields=("trial_type", "trial_version"),
)


def _maze_scaling(
    name: str, size: str, dandiset: str, version: str, nbytes: int, **kw
) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        dandiset_id=dandiset,
        dandiset_version=version,
        subject="Jenkins",
        train_file=f"sub-Jenkins_ses-{size}_desc-train_behavior+ecephys.nwb",
        test_file=f"sub-Jenkins_ses-{size}_desc-test_ecephys.nwb",
        prefix=f"*{size}",
        dandiset_bytes=nbytes,
        lag=120,
        psth_kern_sd=50,
        description=f"MC_Maze_{size.capitalize()}: Jenkins, delayed center-out reaches, scaling set.",
        **_MAZE_COMMON,
        **kw,
    )


DATASETS: dict[str, DatasetInfo] = {
    "mc_maze": DatasetInfo(
        name="mc_maze",
        dandiset_id="000128",
        dandiset_version="0.220113.0400",
        subject="Jenkins",
        train_file="sub-Jenkins_ses-full_desc-train_behavior+ecephys.nwb",
        test_file="sub-Jenkins_ses-full_desc-test_ecephys.nwb",
        prefix="*full",
        dandiset_bytes=694_004_935,
        n_heldin=137,
        n_heldout=45,
        n_train=1721,
        n_val=574,
        n_test=574,
        lag=100,
        psth_kern_sd=70,
        smoothing_kern_sd=50,
        smoothing_alpha=0.01,
        gpfa_latent_dim=52,
        description="MC_Maze: Jenkins, delayed reaches through a maze, 108 conditions.",
        **_MAZE_COMMON,
    ),
    "mc_rtt": DatasetInfo(
        name="mc_rtt",
        dandiset_id="000129",
        dandiset_version="draft",
        subject="Indy",
        train_file="sub-Indy_desc-train_behavior+ecephys.nwb",
        test_file="sub-Indy_desc-test_ecephys.nwb",
        prefix="",
        dandiset_bytes=50_965_512,
        n_heldin=98,
        n_heldout=32,
        n_train=810,
        n_val=270,
        n_test=272,
        align_field="start_time",
        align_range=(0, 600),
        allow_overlap=True,
        behavior_field="finger_vel",
        lag=140,
        smoothing_kern_sd=30,
        smoothing_alpha=0.1,
        gpfa_latent_dim=36,
        description="MC_RTT: Indy, random target task, continuous recording cut in 600 ms chunks.",
    ),
    "area2_bump": DatasetInfo(
        name="area2_bump",
        dandiset_id="000127",
        dandiset_version="0.220113.0359",
        subject="Han",
        train_file="sub-Han_desc-train_behavior+ecephys.nwb",
        test_file="sub-Han_desc-test_ecephys.nwb",
        prefix="",
        dandiset_bytes=1_823_368_810,
        n_heldin=49,
        n_heldout=16,
        n_train=272,
        n_val=92,
        n_test=98,
        align_field="move_onset_time",
        align_range=(-100, 500),
        allow_overlap=False,  # eval windows allow overlap (see tensors)
        behavior_field="hand_vel",
        lag=-20,
        psth_cond_fields=("cond_dir", "ctr_hold_bump"),
        psth_kern_sd=40,
        has_decode_masks=True,
        smoothing_kern_sd=30,
        smoothing_alpha=0.01,
        gpfa_latent_dim=22,
        description="Area2_Bump: Han, somatosensory area 2, active reaches and passive bumps.",
    ),
    "dmfc_rsg": DatasetInfo(
        name="dmfc_rsg",
        dandiset_id="000130",
        dandiset_version="0.220113.0407",
        subject="Haydn",
        train_file="sub-Haydn_desc-train_ecephys.nwb",
        test_file="sub-Haydn_desc-test_ecephys.nwb",
        prefix="",
        dandiset_bytes=15_673_496,
        n_heldin=40,
        n_heldout=14,
        n_train=741,
        n_val=248,
        n_test=252,
        align_field="go_time",
        align_range=(-1500, 0),
        allow_overlap=True,
        behavior_source="trial_info",
        behavior_field=("is_eye", "theta", "is_short", "ts", "tp"),
        psth_cond_fields=("is_eye", "theta", "is_short", "ts"),
        psth_kern_sd=70,
        has_behavior_file=False,
        has_jitter=True,
        smoothing_kern_sd=60,
        smoothing_alpha=0.001,
        gpfa_latent_dim=32,
        description="DMFC_RSG: Haydn, dorsomedial frontal cortex, ready-set-go timing task.",
    ),
    "mc_maze_large": _maze_scaling(
        "mc_maze_large",
        "large",
        "000138",
        "0.220113.0407",
        149_392_888,
        n_heldin=122,
        n_heldout=40,
        n_train=375,
        n_val=125,
        n_test=100,
        smoothing_kern_sd=40,
        smoothing_alpha=0.1,
        gpfa_latent_dim=44,
    ),
    "mc_maze_medium": _maze_scaling(
        "mc_maze_medium",
        "medium",
        "000139",
        "0.220113.0408",
        77_300_692,
        n_heldin=114,
        n_heldout=38,
        n_train=188,
        n_val=62,
        n_test=100,
        smoothing_kern_sd=60,
        smoothing_alpha=0.1,
        gpfa_latent_dim=28,
    ),
    "mc_maze_small": _maze_scaling(
        "mc_maze_small",
        "small",
        "000140",
        "0.220113.0408",
        29_896_840,
        n_heldin=107,
        n_heldout=35,
        n_train=75,
        n_val=25,
        n_test=100,
        smoothing_kern_sd=60,
        smoothing_alpha=0.1,
        gpfa_latent_dim=18,
    ),
}

DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)
SCALING_DATASETS: dict[str, str] = {
    "mc_maze_large": "[500]",
    "mc_maze_medium": "[250]",
    "mc_maze_small": "[100]",
}


def get_dataset_info(name: str) -> DatasetInfo:
    """Return the registry entry of an NLB'21 dataset.

    Parameters
    ----------
    name : str
        One of ``mc_maze, mc_rtt, area2_bump, dmfc_rsg, mc_maze_large,
        mc_maze_medium, mc_maze_small`` (case-insensitive).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names and the closest match.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    if key in DATASETS:
        return DATASETS[key]
    close = difflib.get_close_matches(key, DATASETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DataError(f"Unknown NLB dataset {name!r}.{hint} Expected one of: {', '.join(DATASETS)}.")


def group_name(dataset: str, bin_width: int = 5) -> str:
    """Name of the dataset's group in an NLB submission or target file.

    ``mc_maze`` at 5 ms is ``"mc_maze"``, at 20 ms ``"mc_maze_20"``.
    """
    info = get_dataset_info(dataset)
    if bin_width not in (5, 20):
        raise DataError(f"NLB'21 is scored at 5 ms or 20 ms bins, got bin_width={bin_width!r}")
    return info.name if bin_width == 5 else f"{info.name}_20"
