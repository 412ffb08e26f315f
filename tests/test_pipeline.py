"""``nlbtut run`` / ``infer`` end to end on the tiny synthetic dataset."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from nlbtut.cli import main  # noqa: E402
from nlbtut.synthetic import SYNTHETIC_PRESETS  # noqa: E402


def test_run_then_infer_end_to_end(synthetic_dataset, tmp_path, capsys):
    data_dir = synthetic_dataset("tiny")
    out = tmp_path / "run"
    rc = main(
        ["run", "--data-dir", str(data_dir), "--dataset", "mc_maze_small", "--phase", "val",
         "--preset", "tiny", "--out", str(out), "--set", "max_epochs=4", "--n-samples", "4", "--quiet"]
    )  # fmt: skip
    assert rc == 0
    assert "co-bps" in capsys.readouterr().out
    info = SYNTHETIC_PRESETS["tiny"]
    with h5py.File(out / "submission.h5", "r") as f:
        group = f["mc_maze_small"]
        keys = set(group)
        train_in = group["train_rates_heldin"][()]
        eval_out_fwd = group["eval_rates_heldout_forward"][()]
    assert keys == {
        "train_rates_heldin", "train_rates_heldout", "eval_rates_heldin", "eval_rates_heldout",
        "eval_rates_heldin_forward", "eval_rates_heldout_forward",
    }  # fmt: skip
    assert train_in.shape[1:] == (140, info.n_heldin) and eval_out_fwd.shape[1:] == (
        40,
        info.n_heldout,
    )
    assert np.isfinite(train_in).all() and (train_in > 0).all()
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert {"co-bps", "vel R2", "psth R2", "fp-bps"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    run_dir = out / "lfads"
    assert (run_dir / "model").is_dir() and (run_dir / "history.csv").is_file()
    assert json.loads((out / "pipeline.json").read_text())["trained_here"] is True

    # reuse the trained model: same seed and samples -> the same submission
    out2 = tmp_path / "infer"
    rc = main(
        ["infer", "--data-dir", str(data_dir), "--dataset", "mc_maze_small", "--model", str(run_dir),
         "--out", str(out2), "--n-samples", "4", "--quiet"]
    )  # fmt: skip
    assert rc == 0
    with h5py.File(out2 / "submission.h5", "r") as f:
        np.testing.assert_array_equal(f["mc_maze_small/train_rates_heldin"][()], train_in)
    assert json.loads((out2 / "metrics.json").read_text())["metrics"] == metrics


def test_run_reports_user_errors(tmp_path, capsys):
    rc = main(
        [
            "run",
            "--data-dir",
            str(tmp_path / "nope"),
            "--dataset",
            "mc_maze_small",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 1
    assert "does not exist" in capsys.readouterr().err
    rc = main(["run", "--data-dir", str(tmp_path), "--dataset", "mc_mazee", "--out", str(tmp_path)])
    assert rc == 1
    assert "Did you mean 'mc_maze'" in capsys.readouterr().err
    rc = main(
        [
            "run",
            "--data-dir",
            str(tmp_path),
            "--dataset",
            "mc_maze",
            "--out",
            str(tmp_path),
            "--set",
            "x",
        ]
    )
    assert rc == 1
