"""nlbtut.h5io: save_to_h5 / h5_to_dict / combine_h5 (same layout as nlb_tools, plus fixes)."""

from __future__ import annotations

import logging
import os

import h5py
import numpy as np
import pytest

from nlbtut.errors import DataError, DataFileNotFoundError
from nlbtut.h5io import combine_h5, h5_to_dict, save_to_h5


def _targets():
    rng = np.random.default_rng(0)
    idx = np.empty(3, dtype=object)
    idx[0], idx[1], idx[2] = np.array([0, 4]), np.array([1]), np.array([2, 3, 5])
    return {
        "mc_maze": {
            "eval_spikes_heldout": rng.poisson(1, (6, 10, 4)).astype(np.float16),
            "eval_behavior": rng.normal(size=(6, 10, 2)),
            "eval_cond_idx": idx,
            "eval_decode_mask": np.array([[True, False]] * 6),
            "eval_jitter": np.arange(6),
        }
    }


def test_round_trip_dtypes_and_values(tmp_path):
    path = tmp_path / "t.h5"
    d = _targets()
    save_to_h5(d, path)
    back = h5_to_dict(str(path))["mc_maze"]
    src = d["mc_maze"]
    assert back["eval_spikes_heldout"].dtype == np.float32
    assert back["eval_behavior"].dtype == np.float32
    assert back["eval_jitter"].dtype == np.int32
    assert back["eval_decode_mask"].dtype == bool
    np.testing.assert_array_equal(back["eval_spikes_heldout"], src["eval_spikes_heldout"])
    np.testing.assert_allclose(back["eval_behavior"], src["eval_behavior"], rtol=1e-7)
    assert back["eval_cond_idx"].dtype == object
    assert [list(a) for a in back["eval_cond_idx"]] == [[0, 4], [1], [2, 3, 5]]
    assert back["eval_cond_idx"][0].dtype == np.int32


def test_dlen_none_keeps_dtypes(tmp_path):
    path = tmp_path / "t.h5"
    save_to_h5({"x": np.arange(3, dtype=np.int64), "y": np.ones(2)}, path, dlen=None)
    with h5py.File(path, "r") as f:
        assert f["x"].dtype == np.int64 and f["y"].dtype == np.float64
        assert f["x"].compression == "gzip"


def test_equal_sized_conditions_are_saved(tmp_path):
    """Official bug: np.array(list of equal-length index arrays, dtype=object) is 2-D and
    nlb_tools' save_to_h5 raises TypeError (shown against the real package in
    test_parity_tensors); here it is saved as one row per condition."""
    idx = np.array([np.arange(2), np.arange(2) + 2], dtype=object)
    assert idx.ndim == 2
    path = tmp_path / "t.h5"
    save_to_h5({"eval_cond_idx": idx}, path)
    back = h5_to_dict(path)["eval_cond_idx"]
    assert [list(a) for a in back] == [[0, 1], [2, 3]]


def test_append_and_duplicates(tmp_path, caplog):
    path = tmp_path / "t.h5"
    save_to_h5({"g": {"a": np.zeros(2)}}, path)
    save_to_h5({"g": {"b": np.ones(2)}}, path)  # appends into the existing group
    assert set(h5_to_dict(path)["g"]) == {"a", "b"}
    with caplog.at_level(logging.WARNING, logger="nlbtut.h5io"):
        save_to_h5({"g": {"a": np.full(2, 7.0)}}, path)  # no overwrite: cancelled
    assert "Save to file canceled" in caplog.text
    np.testing.assert_array_equal(h5_to_dict(path)["g"]["a"], [0, 0])
    save_to_h5({"g": {"a": np.full(2, 7.0)}}, path, overwrite=True)
    np.testing.assert_array_equal(h5_to_dict(path)["g"]["a"], [7, 7])


def test_atomic_write_leaves_no_partial_file(tmp_path):
    path = tmp_path / "t.h5"
    save_to_h5({"a": np.zeros(3)}, path)
    before = path.read_bytes()
    bad = {"b": np.zeros(2), "c": np.empty((2, 2, 2), dtype=object)}  # 3-D object: refused
    with pytest.raises(DataError, match="object arrays must be 1-D"):
        save_to_h5(bad, path)
    assert path.read_bytes() == before  # the original file is untouched
    assert sorted(os.listdir(tmp_path)) == ["t.h5"]  # and no temporary is left behind


def test_combine_h5(tmp_path):
    paths = []
    for name in ("mc_maze_large", "mc_maze_medium", "mc_maze_small"):
        p = tmp_path / f"{name}.h5"
        save_to_h5({name: {"eval_rates_heldout": np.full((2, 3, 1), 0.5)}}, p)
        paths.append(p)
    out = tmp_path / "all.h5"
    combine_h5(paths, out)
    names = {"mc_maze_large", "mc_maze_medium", "mc_maze_small"}
    assert set(h5_to_dict(out)) == names
    combine_h5(paths)  # default: into the first file
    assert set(h5_to_dict(paths[0])) == names
    np.testing.assert_array_equal(h5_to_dict(paths[0])["mc_maze_small"]["eval_rates_heldout"], 0.5)


def test_errors(tmp_path):
    with pytest.raises(DataError, match="at least 2 files"):
        combine_h5([tmp_path / "a.h5"])
    with pytest.raises(DataFileNotFoundError, match="not found"):
        combine_h5([tmp_path / "a.h5", tmp_path / "b.h5"])
    with pytest.raises(DataFileNotFoundError, match="not found"):
        h5_to_dict(tmp_path / "missing.h5")
    with pytest.raises(DataError, match="dict of arrays"):
        save_to_h5([1, 2], tmp_path / "x.h5")
    with pytest.raises(DataError, match="keys must be str"):
        save_to_h5({1: np.zeros(1)}, tmp_path / "x.h5")
    with pytest.raises(DataError, match="h5py File/Group or a path"):
        h5_to_dict(42)
