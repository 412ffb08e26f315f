"""``nlbtut datasets`` and ``nlbtut download`` through ``nlbtut.cli.main``."""

from __future__ import annotations

import json

import pytest

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


def test_commands_that_load_nlb_data_share_the_same_options(capsys):
    from nlbtut.cli import build_parser

    parser = build_parser()
    data = ["--data-dir", "d", "--dataset", "mc_maze_small"]
    commands = {
        "baseline": ["baseline", "fa", *data, "--out", "s.h5"],
        "run": ["run", *data, "--out", "o"],
        "train": ["train", *data, "--out", "o"],
        "infer": ["infer", *data, "--out", "o", "--model", "m"],
        "autolfads": ["autolfads", *data, "--out", "o"],
    }
    for argv in commands.values():
        args = parser.parse_args(argv)
        assert (args.data_dir, args.dataset, args.phase, args.bin_width) == (
            "d", "mc_maze_small", "val", 5,
        )  # fmt: skip
        args = parser.parse_args([*argv, "--phase", "test", "--bin-width", "20", "--quiet"])
        assert (args.phase, args.bin_width, args.quiet) == ("test", 20, True)
        with pytest.raises(SystemExit):
            parser.parse_args([*argv, "--bin-width", "7"])
        assert "invalid choice: 7" in capsys.readouterr().err
    for name in ("run", "train", "infer", "autolfads"):
        args = parser.parse_args([*commands[name], "--set", "a=1", "--set", "b=x"])
        assert args.overrides == ["a=1", "b=x"]
