"""``nlbtut datasets`` and ``nlbtut download`` through ``nlbtut.cli.main``."""

from __future__ import annotations

import json

import nlbtut.download as dl
from nlbtut.cli import main
from nlbtut.datasets import DATASETS


def test_datasets_table(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["dataset", "dandiset", "subject"]
    for info in DATASETS.values():
        row = next(line for line in lines if line.startswith(info.name + " "))
        assert f"{info.dandiset_id}/{info.dandiset_version}" in row
        assert f"{info.n_heldin}/{info.n_heldout}" in row
        assert f"{info.n_train}/{info.n_val}/{info.n_test}" in row
        assert f"{info.dandiset_bytes / 1e6:.1f}" in row


def test_datasets_json(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(DATASETS)
    small = next(r for r in rows if r["name"] == "mc_maze_small")
    assert small["dandiset"] == "000140/0.220113.0408" and small["heldin"] == 107
    assert small["size_mb"] == round(DATASETS["mc_maze_small"].dandiset_bytes / 1e6, 1)


def test_download_unknown_dataset(capsys):
    assert main(["download", "mc_maze_smal"]) == 1
    err = capsys.readouterr().err
    assert "Did you mean 'mc_maze_small'" in err


def test_download_offline_message(monkeypatch, tmp_path, capsys):
    def no_network(url):
        raise ConnectionError("offline")

    monkeypatch.setattr(dl, "_probe", no_network)
    assert main(["download", "dmfc_rsg", "--cache-dir", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "dandi download DANDI:000130/0.220113.0407" in err
    assert "nlbtut synth --preset dmfc_rsg" in err


def test_download_prints_folder(monkeypatch, tmp_path, capsys):
    info = DATASETS["mc_maze_small"]
    monkeypatch.setattr(dl, "_probe", lambda url: None)
    data = {info.train_file: b"a" * 10, info.test_file: b"b" * 20}

    def remote(info_, files, api_url):
        return [dl.RemoteFile(f, len(data[f]), None, lambda f=f: iter([data[f]])) for f in files]

    monkeypatch.setattr(dl, "_remote_files", remote)
    assert main(["download", "mc_maze_small", "--cache-dir", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(tmp_path / "000140" / "sub-Jenkins")
    assert (tmp_path / "000140" / "sub-Jenkins" / info.test_file).read_bytes() == b"b" * 20
