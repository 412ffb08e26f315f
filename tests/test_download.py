"""Tests of ``nlbtut.download``: cache location, offline error, skip-if-present, atomic writes.

DANDI is replaced by fakes (``RemoteFile`` objects whose chunks come from memory), so the tests
are deterministic and need no network; one test calls the real archive when it is unreachable
(the offline path) and one ``network`` test downloads mc_maze_small's test file for real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import nlbtut.download as dl
from nlbtut.datasets import get_dataset_info
from nlbtut.errors import DataError, DownloadError

INFO = get_dataset_info("mc_maze_small")


def _dandi_reachable() -> bool:
    try:
        dl._probe(dl.DANDI_API_URL)
        return True
    except Exception:
        return False


def _etag(data: bytes, tmp_path: Path) -> str:
    p = tmp_path / "etag-src.bin"
    p.write_bytes(data)
    return dl._etag(p)


class FakeArchive:
    """Stands in for DANDI: serves given bytes per file name and counts downloads."""

    def __init__(
        self,
        contents: dict[str, bytes],
        tmp_path: Path,
        *,
        fail_after=None,
        interrupt=False,
        wrong_etag=False,
    ):
        self.contents = contents
        self.downloads: list[str] = []
        self.fail_after = fail_after
        self.interrupt = interrupt
        self.etags = {k: _etag(v, tmp_path) for k, v in contents.items()}
        if wrong_etag:
            self.etags = {k: "0" * 32 + "-1" for k in contents}

    def remote_files(self, info, files, api_url):
        out = []
        for name in files:
            data = self.contents[name]

            def chunks(name=name, data=data):
                self.downloads.append(name)
                for i in range(0, len(data), 1000):
                    if self.fail_after is not None and i >= self.fail_after:
                        if self.interrupt:
                            raise KeyboardInterrupt
                        raise ConnectionError("connection reset by peer")
                    yield data[i : i + 1000]

            out.append(dl.RemoteFile(name, len(data), self.etags[name], chunks))
        return out


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setattr(dl, "_probe", lambda url: None)


def _contents():
    return {INFO.train_file: b"train-bytes" * 500, INFO.test_file: b"test-bytes" * 300}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*part*"))


# -------------------------------------------------------------------------------------------------
def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NLBTUT_DATA_DIR", str(tmp_path / "data"))
    assert dl.default_cache_dir() == tmp_path / "data"
    monkeypatch.delenv("NLBTUT_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert dl.default_cache_dir() == tmp_path / ".cache" / "nlbtut"
    monkeypatch.setenv("NLBTUT_DATA_DIR", "")  # empty: not the working directory
    assert dl.default_cache_dir() == tmp_path / ".cache" / "nlbtut"
    assert dl.dataset_dir("mc_maze_small") == tmp_path / ".cache/nlbtut/000140/sub-Jenkins"


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(DataError, match="Did you mean 'mc_maze_small'"):
        dl.download_dataset("mc_maze_smal", tmp_path)
    with pytest.raises(DataError, match="parts"):
        dl.download_dataset("mc_maze_small", tmp_path, parts=("validation",))


def test_offline_error_simulated(monkeypatch, tmp_path):
    def no_network(url):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(dl, "_probe", no_network)
    with pytest.raises(DownloadError) as err:
        dl.download_dataset("mc_maze_small", tmp_path, progress=False)
    msg = str(err.value)
    assert "dandi download DANDI:000140/0.220113.0408" in msg
    assert "https://dandiarchive.org/dandiset/000140/0.220113.0408" in msg
    assert "nlbtut synth --preset mc_maze_small" in msg
    assert str(tmp_path / "000140" / "sub-Jenkins") in msg
    assert not (tmp_path / "000140").exists()  # nothing created when nothing was fetched


@pytest.mark.skipif(_dandi_reachable(), reason="DANDI is reachable: the offline path cannot run")
def test_offline_error_real_archive_fails_fast(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="Cannot reach the DANDI archive"):
        dl.download_dataset("mc_rtt", tmp_path, progress=False)
    assert time.monotonic() - t0 < 30


def test_download_then_skip_if_present(monkeypatch, tmp_path, online):
    fake = FakeArchive(_contents(), tmp_path)
    monkeypatch.setattr(dl, "_remote_files", fake.remote_files)
    folder = dl.download_dataset("mc_maze_small", tmp_path / "cache", progress=False)
    assert folder == tmp_path / "cache" / "000140" / "sub-Jenkins"
    for name, data in _contents().items():
        assert (folder / name).read_bytes() == data
    manifest = json.loads((folder / dl.MANIFEST).read_text())
    assert manifest[INFO.test_file]["size"] == len(_contents()[INFO.test_file])
    assert sorted(fake.downloads) == sorted(_contents())
    assert _leftovers(folder) == []

    # second call: verified files, no network needed at all
    def must_not_probe(url):
        raise AssertionError("probed DANDI although the files are verified")

    monkeypatch.setattr(dl, "_probe", must_not_probe)
    assert dl.download_dataset("mc_maze_small", tmp_path / "cache", progress=False) == folder
    assert len(fake.downloads) == 2

    # force: downloads again
    monkeypatch.setattr(dl, "_probe", lambda url: None)
    dl.download_dataset("mc_maze_small", tmp_path / "cache", force=True, progress=False)
    assert len(fake.downloads) == 4


def test_hand_placed_files_are_verified_not_redownloaded(monkeypatch, tmp_path, online):
    fake = FakeArchive(_contents(), tmp_path)
    monkeypatch.setattr(dl, "_remote_files", fake.remote_files)
    folder = dl.dataset_dir("mc_maze_small", tmp_path)
    folder.mkdir(parents=True)
    (folder / INFO.test_file).write_bytes(_contents()[INFO.test_file])  # good copy
    (folder / INFO.train_file).write_bytes(b"truncated")  # bad copy
    dl.download_dataset("mc_maze_small", tmp_path, progress=False)
    assert fake.downloads == [INFO.train_file]
    assert (folder / INFO.train_file).read_bytes() == _contents()[INFO.train_file]


def test_present_unverified_files_used_offline_with_warning(monkeypatch, tmp_path):
    folder = dl.dataset_dir("mc_maze_small", tmp_path)
    folder.mkdir(parents=True)
    for name, data in _contents().items():
        (folder / name).write_bytes(data)
    monkeypatch.setattr(dl, "_probe", lambda url: (_ for _ in ()).throw(ConnectionError("x")))
    with pytest.warns(UserWarning, match="without verifying"):
        assert dl.download_dataset("mc_maze_small", tmp_path, progress=False) == folder
    with pytest.raises(DownloadError):  # force needs the archive
        dl.download_dataset("mc_maze_small", tmp_path, force=True, progress=False)


def test_failed_download_leaves_no_partial_file(monkeypatch, tmp_path, online):
    fake = FakeArchive(_contents(), tmp_path, fail_after=2000)
    monkeypatch.setattr(dl, "_remote_files", fake.remote_files)
    with pytest.raises(DownloadError, match="connection reset by peer"):
        dl.download_dataset("mc_maze_small", tmp_path, progress=False)
    folder = dl.dataset_dir("mc_maze_small", tmp_path)
    assert not (folder / INFO.train_file).exists()
    assert _leftovers(folder) == []


def test_interrupted_download_leaves_no_partial_file(monkeypatch, tmp_path, online):
    fake = FakeArchive(_contents(), tmp_path, fail_after=2000, interrupt=True)
    monkeypatch.setattr(dl, "_remote_files", fake.remote_files)
    with pytest.raises(KeyboardInterrupt):
        dl.download_dataset("mc_maze_small", tmp_path, progress=False)
    folder = dl.dataset_dir("mc_maze_small", tmp_path)
    assert list(folder.glob("*.nwb")) == [] and _leftovers(folder) == []


def test_digest_mismatch_is_rejected(monkeypatch, tmp_path, online):
    fake = FakeArchive(_contents(), tmp_path, wrong_etag=True)
    monkeypatch.setattr(dl, "_remote_files", fake.remote_files)
    with pytest.raises(DownloadError, match="does not match the archive.*etag"):
        dl.download_dataset("mc_maze_small", tmp_path, progress=False, parts=("test",))
    folder = dl.dataset_dir("mc_maze_small", tmp_path)
    assert not (folder / INFO.test_file).exists() and _leftovers(folder) == []


def test_lookup_failure_is_download_error(monkeypatch, tmp_path, online):
    def broken(info, files, api_url):
        raise RuntimeError("asset not found")

    monkeypatch.setattr(dl, "_remote_files", broken)
    with pytest.raises(DownloadError, match="Could not look up mc_maze_small.*asset not found"):
        dl.download_dataset("mc_maze_small", tmp_path, progress=False)


@pytest.mark.network
def test_real_download_of_mc_maze_small_test_file(tmp_path):
    if not _dandi_reachable():
        pytest.skip("DANDI is unreachable")
    folder = dl.download_dataset("mc_maze_small", tmp_path, parts=("test",), progress=False)
    path = folder / INFO.test_file
    assert path.is_file() and path.stat().st_size > 1_000_000
    from nlbtut.nwb import NWBDataset

    ds = NWBDataset(path)
    assert ds.data["spikes"].shape[1] == INFO.n_heldin
    assert (ds.trial_info.split == "test").all() and len(ds.trial_info) == INFO.n_test
