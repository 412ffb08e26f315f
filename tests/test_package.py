"""The package as a whole: public API, lazy imports, registry, CLI frame."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nlbtut
from nlbtut.datasets import DATASETS, get_dataset_info, group_name


def test_every_public_name_resolves():
    missing = []
    for name in nlbtut.__all__:
        if name in ("run_autolfads",):  # needs the optional Ray extra; tested in test_autolfads
            continue
        try:
            getattr(nlbtut, name)
        except (AttributeError, ImportError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing, "public names that do not resolve:\n" + "\n".join(missing)


def test_unknown_attribute_is_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nlbtut.nope  # noqa: B018


def test_import_does_not_pull_tensorflow_or_ray():
    code = (
        "import sys, nlbtut\n"
        "from nlbtut import NWBDataset, make_train_input_tensors, evaluate, save_to_h5\n"
        "from nlbtut import generate_dataset, validate_submission\n"
        "bad = [m for m in ('tensorflow', 'keras', 'ray') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the data/evaluation API imported {out.stdout}"


def test_registry_matches_reference_counts():
    # held-in / held-out counts of the DANDI files (nlb-data-and-results.md §1d)
    expected = {
        "mc_maze": (137, 45),
        "mc_rtt": (98, 32),
        "area2_bump": (49, 16),
        "dmfc_rsg": (40, 14),
        "mc_maze_large": (122, 40),
        "mc_maze_medium": (114, 38),
        "mc_maze_small": (107, 35),
    }
    assert {k: (v.n_heldin, v.n_heldout) for k, v in DATASETS.items()} == expected
    assert get_dataset_info("MC_Maze_Small").n_bins(5) == 140
    assert get_dataset_info("dmfc_rsg").n_bins(20) == 75
    assert get_dataset_info("mc_rtt").n_fp_bins(5) == 40


def test_unknown_dataset_error_names_choices():
    with pytest.raises(ValueError, match=r"Did you mean 'mc_maze_small'.*Expected one of"):
        get_dataset_info("mc_maze_smal")


def test_group_name():
    assert group_name("mc_maze", 5) == "mc_maze"
    assert group_name("area2_bump", 20) == "area2_bump_20"
    with pytest.raises(ValueError, match="5 ms or 20 ms"):
        group_name("mc_maze", 10)


def test_cli_version_and_help():
    from nlbtut.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = subprocess.run(
        [sys.executable, "-m", "nlbtut", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("datasets", "download", "synth", "evaluate", "run"):
        assert command in out.stdout
