"""``prepare_data``: source selection (auto / dandi / synthetic, env override), caching."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nlbtut.data import DataPath, prepare_data, resolve_source
from nlbtut.errors import DataError, DownloadError


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("NLBTUT_DATA_SOURCE", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def test_resolve_source(monkeypatch):
    assert resolve_source("auto") == "synthetic"
    assert resolve_source("dandi") == "dandi"
    assert resolve_source(" Synthetic ") == "synthetic"
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert resolve_source("auto") == "dandi"
    assert resolve_source("synthetic") == "synthetic"
    monkeypatch.setenv("NLBTUT_DATA_SOURCE", "synthetic")
    assert resolve_source("auto") == "synthetic"  # the variable decides for "auto" ...
    assert resolve_source("dandi") == "dandi"  # ... but never overrides an explicit source
    monkeypatch.setenv("NLBTUT_DATA_SOURCE", "dandi")
    monkeypatch.delitem(sys.modules, "google.colab")
    assert resolve_source("auto") == "dandi"


def test_bad_source_and_dataset(monkeypatch, tmp_path):
    with pytest.raises(DataError, match="source must be one of"):
        prepare_data("mc_maze_small", source="s3", data_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown NLB dataset"):
        prepare_data("mc_maze_tiny", data_dir=tmp_path)
    monkeypatch.setenv("NLBTUT_DATA_SOURCE", "ftp")
    with pytest.raises(DataError, match="NLBTUT_DATA_SOURCE"):
        prepare_data("mc_maze_small", data_dir=tmp_path)


def test_dandi_source_calls_download(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_download(name, cache_dir=None, **kw):
        calls.append((name, Path(cache_dir)))
        return Path(cache_dir) / "000140" / "sub-Jenkins"

    monkeypatch.setattr("nlbtut.download.download_dataset", fake_download)
    monkeypatch.setenv("NLBTUT_DATA_SOURCE", "dandi")
    out = prepare_data("mc_maze_small", data_dir=tmp_path, progress=False)
    assert calls == [("mc_maze_small", tmp_path)]
    assert out.source == "dandi" and out.seed is None
    assert out.folder == tmp_path / "000140" / "sub-Jenkins"
    line = capsys.readouterr().out.strip().splitlines()
    assert len(line) == 1 and "real mc_maze_small data from DANDI" in line[0]


def test_dandi_offline_error_propagates(monkeypatch, tmp_path):
    def offline(name, cache_dir=None, **kw):
        raise DownloadError("DANDI is unreachable")

    monkeypatch.setattr("nlbtut.download.download_dataset", offline)
    with pytest.raises(DownloadError, match="unreachable"):
        prepare_data("mc_maze_small", source="dandi", data_dir=tmp_path)


def test_synthetic_source_generates_once(monkeypatch, tmp_path, capsys):
    import nlbtut.synthetic as synthetic

    monkeypatch.setattr("nlbtut.synthetic.generate.get_preset", _tiny_as("mc_rtt"))
    made = []
    real = synthetic.generate_dataset

    def counting(*args, **kw):
        made.append(args)
        return real(*args, **kw)

    monkeypatch.setattr("nlbtut.synthetic.generate_dataset", counting)
    monkeypatch.setenv("NLBTUT_DATA_DIR", str(tmp_path))  # the default cache
    first = prepare_data("mc_rtt", progress=False, seed=0, source="auto")
    assert isinstance(first, DataPath) and isinstance(first, Path)
    assert first.source == "synthetic" and first.dataset == "mc_rtt" and first.seed == 0
    assert first.folder == tmp_path / "synthetic" / "mc_rtt-seed0" / "000129" / "sub-Indy"
    assert (first / "sub-Indy_desc-train_behavior+ecephys.nwb").is_file()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "synthetic mc_rtt" in out[0] and str(first) in out[0]
    stamp = (first / "ground_truth.h5").stat().st_mtime_ns
    again = prepare_data("mc_rtt", progress=False, seed=0)
    assert again == first and (first / "ground_truth.h5").stat().st_mtime_ns == stamp
    assert len(made) == 2  # called twice, generated once (the second call found the files)


def test_interrupted_synthetic_cache_is_regenerated(monkeypatch, tmp_path):
    monkeypatch.setattr("nlbtut.synthetic.generate.get_preset", _tiny_as("mc_maze_small"))
    folder = prepare_data("mc_maze_small", data_dir=tmp_path, progress=False)
    (folder / "ground_truth.h5").unlink()  # as if killed before the last file
    again = prepare_data("mc_maze_small", data_dir=tmp_path, progress=False)
    assert (again / "ground_truth.h5").is_file()


def test_seed_must_be_a_non_negative_int(tmp_path):
    with pytest.raises(DataError, match="seed"):
        prepare_data("mc_maze_small", source="synthetic", data_dir=tmp_path, seed=-2)


def _tiny_as(dataset: str):
    """get_preset replacement that generates the tiny preset for ``dataset`` (fast)."""
    from nlbtut.synthetic.presets import SYNTHETIC_PRESETS, get_preset

    tiny = {p.dataset: p for k, p in SYNTHETIC_PRESETS.items() if k.startswith("tiny")}

    def fake(name):
        return tiny[dataset] if name == dataset else get_preset(name)

    return fake
