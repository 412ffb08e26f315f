"""LFADS configs: presets, overrides and clear errors."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")

from nlbtut.datasets import DATASET_NAMES  # noqa: E402
from nlbtut.errors import ConfigError  # noqa: E402
from nlbtut.lfads.config import LFADSConfig, list_presets, load_config  # noqa: E402


def test_every_dataset_has_a_preset_plus_cpu_and_tiny():
    presets = set(list_presets())
    assert set(DATASET_NAMES) | {"cpu", "tiny"} <= presets
    for name in presets:
        cfg = load_config(name)
        assert cfg.name == name
        assert cfg.model.use_controller


def test_nlb_presets_follow_the_spec():
    maze = load_config("mc_maze_large")
    m, t = maze.model, maze.train
    assert (m.ic_enc_dim, m.ci_enc_dim, m.ic_dim, m.con_dim, m.co_dim, m.gen_dim, m.fac_dim) == (
        100, 80, 100, 80, 4, 100, 40,
    )  # fmt: skip
    assert (t.loss_scale, t.max_grad_norm, t.kl_increase_epochs, t.l2_increase_epochs) == (
        1e4,
        200,
        80,
        80,
    )
    assert (m.ic_prior_var, m.ic_post_var_min, m.co_prior_tau, m.co_prior_nvar, m.cell_clip) == (
        0.1, 1e-4, 10.0, 0.1, 5.0,
    )  # fmt: skip
    dmfc = load_config("dmfc_rsg")
    assert (dmfc.model.ci_enc_dim, dmfc.model.con_dim, dmfc.train.lr_init) == (64, 64, 5e-3)


def test_overrides_flat_sectioned_and_aliases():
    cfg = load_config("tiny", lr=0.5, seed=7, model={"gen_dim": 33}, train={"batch_size": 4})
    assert cfg.train.lr_init == 0.5 and cfg.seed == 7
    assert cfg.model.gen_dim == 33 and cfg.train.batch_size == 4
    assert cfg.replace(max_epochs=2).train.max_epochs == 2
    assert load_config(cfg) == cfg


def test_yaml_round_trip(tmp_path):
    cfg = load_config("cpu", cd_rate=0.25, max_train_seconds=None, jit_compile=True)
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    assert load_config(path) == cfg
    assert isinstance(LFADSConfig.from_dict(cfg.to_dict()), LFADSConfig)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gen_dims": 3}, "unknown config key 'gen_dims'.*Did you mean 'gen_dim'"),
        ({"model": {"bogus": 1}}, "unknown config key 'bogus'"),
        ({"cd_rate": 1.0}, r"cd_rate must be in \[0, 1\)"),
        ({"gen_dim": 0}, "gen_dim must be > 0"),
        ({"gen_dim": 2.5}, "gen_dim must be an integer"),
        ({"lr_init": "fast"}, "lr_init must be a number"),
        ({"lr_init": float("nan")}, "lr_init must be a finite number"),
        ({"jit_compile": "sometimes"}, "jit_compile must be true, false or 'auto'"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"lr_stop": 1.0}, "lr_stop .* must be below lr_init"),
        ({"cd_rate": 0.6, "cd_pass_rate": 0.6}, "cd_rate \\+ cd_pass_rate"),
        ({"train": 3}, "section 'train' must be a mapping"),
    ],
)
def test_bad_values_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", **kwargs)


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown LFADS preset 'mc_maz'.*Did you mean"):
        load_config("mc_maz")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_yaml_scientific_notation_without_dot_is_read_as_number(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  kl_ic_weight: 1e-4\n")  # YAML 1.1 reads this as a string
    assert load_config(path).train.kl_ic_weight == 1e-4


def test_run_dir_for_names_a_run_by_its_settings(tmp_path, monkeypatch):
    import hashlib

    from nlbtut.errors import DataError
    from nlbtut.lfads import run_dir_for

    monkeypatch.setenv("NLBTUT_DATA_DIR", str(tmp_path))
    config = load_config("cpu", max_epochs=12, kl_increase_epochs=5)
    # the name chapter 3 builds by hand
    fingerprint = hashlib.sha256(config.to_yaml().encode()).hexdigest()[:8]
    chapter3 = tmp_path / "runs" / f"mc_maze_small-synthetic-val-cpu-fast-{fingerprint}"
    assert run_dir_for(config, "mc_maze_small", tag="fast") == chapter3
    assert not chapter3.exists()  # nothing is created
    dandi = run_dir_for(config, "MC_Maze_Small", source="dandi", phase="test", root=tmp_path / "r")
    assert dandi == tmp_path / "r" / f"mc_maze_small-dandi-test-cpu-{fingerprint}"
    # any changed setting gives another folder; the same settings the same one
    assert run_dir_for(config.replace(seed=1), "mc_maze_small") != run_dir_for(
        config, "mc_maze_small"
    )
    assert run_dir_for(
        load_config("cpu", max_epochs=12, kl_increase_epochs=5), "mc_maze_small"
    ) == (run_dir_for(config, "mc_maze_small"))
    with pytest.raises(DataError, match="Did you mean 'mc_maze'"):
        run_dir_for(config, "mc_mazee")
    with pytest.raises(DataError, match="phase"):
        run_dir_for(config, "mc_maze", phase="train")
    with pytest.raises(ConfigError, match="source must be a short name"):
        run_dir_for(config, "mc_maze", source="../x")
    with pytest.raises(ConfigError, match="LFADSConfig"):
        run_dir_for("cpu", "mc_maze")


def test_schedule_rules_as_pure_functions():
    import dataclasses

    from nlbtut.lfads.schedule import (
        is_new_best,
        last_ramp_epoch,
        plateau_decay_due,
        smooth_nll,
        stop_reason,
    )

    tc = load_config(
        "tiny", kl_increase_epochs=2, l2_increase_epochs=2, lr_patience=2, patience=3, max_epochs=99
    ).train
    assert last_ramp_epoch(tc) == 3
    assert smooth_nll(None, 2.0) == 2.0 and smooth_nll(float("nan"), 2.0) == 2.0
    assert smooth_nll(1.0, 2.0) == pytest.approx(0.3 * 1.0 + 0.7 * 2.0)
    assert not is_new_best(0.5, 1.0, 0.1, None)  # during a ramp: never the best
    assert is_new_best(1.0, 1.0, 0.1, None) and not is_new_best(1.0, 1.0, 0.2, 0.1)
    losses = [5.0, 4.0, 3.0, 2.0, 2.5, 2.6]
    assert plateau_decay_due(losses, 6, tc, last_decay_epoch=0)  # 2.6 > max(2.0, 2.5)
    assert not plateau_decay_due(losses[:5] + [2.4], 6, tc, last_decay_epoch=0)
    assert not plateau_decay_due(losses, 5, tc, last_decay_epoch=0)  # within ramp + patience
    assert not plateau_decay_due(losses, 6, tc, last_decay_epoch=5)  # decayed too recently
    assert not plateau_decay_due(losses, 6, dataclasses.replace(tc, lr_decay=1.0), 0)
    kw = {"epoch": 3, "lr": 1.0, "best_epoch": None, "train_seconds": 0.0}
    assert stop_reason(tc, **kw) is None
    assert "max_epochs" in stop_reason(tc, **{**kw, "epoch": tc.max_epochs})
    assert "lr_stop" in stop_reason(tc, **{**kw, "lr": tc.lr_stop})
    assert "early stopping" in stop_reason(
        tc, **{**kw, "epoch": 10, "best_epoch": 10 - tc.patience}
    )
