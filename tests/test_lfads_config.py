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
