"""LFADS configuration: frozen dataclasses and YAML presets.

A configuration has four parts, each a frozen dataclass:

* :class:`ModelConfig`: network sizes, priors, dropout and coordinated dropout;
* :class:`TrainConfig`: optimiser, loss weights and their ramps, stopping rules;
* :class:`InferenceConfig`: posterior sample-and-average;
* :class:`LFADSConfig`: the three above plus a name and the seed.

Presets are YAML files shipped in ``nlbtut/presets/`` (one per NLB dataset, a
``cpu`` preset for laptops and a ``tiny`` one for tests). :func:`load_config`
reads a preset by name, or any YAML file by path, and applies overrides. Field
names are unique across the sections, so an override is just ``lr_init=1e-3``;
a whole section can also be passed as a dict (``train={"lr_init": 1e-3}``).

Example
-------
>>> from nlbtut.lfads.config import load_config
>>> cfg = load_config("tiny", lr_init=0.01, seed=3)
>>> cfg.train.lr_init, cfg.seed
(0.01, 3)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tempfile
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nlbtut.errors import ConfigError

__all__ = [
    "ModelConfig",
    "TrainConfig",
    "InferenceConfig",
    "LFADSConfig",
    "load_config",
    "list_presets",
    "config_differences",
    "PRESET_NAMES",
]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one LFADS model (lfads-spec section 1).

    Dimensions are numbers of units; ``co_dim = 0`` (or ``con_dim``/``ci_enc_dim``
    = 0) turns the controller off.
    """

    ic_enc_dim: int = 100  #: IC encoder GRU units per direction
    ci_enc_dim: int = 80  #: controller-input encoder GRU units per direction
    ic_dim: int = 100  #: initial-condition dimension
    con_dim: int = 80  #: controller GRU units
    co_dim: int = 4  #: inferred inputs (controller outputs)
    gen_dim: int = 100  #: generator GRU units
    fac_dim: int = 40  #: factors
    ci_lag: int = 1  #: bins between the controller input and the spikes it reports
    cell_clip: float = 5.0  #: GRU state clip
    ic_prior_var: float = 0.1  #: fixed variance of the IC prior
    ic_post_var_min: float = 1e-4  #: variance floor of the IC posterior
    co_prior_tau: float = 10.0  #: initial AR(1) time constant of the inferred-input prior (bins)
    co_prior_nvar: float = 0.1  #: initial AR(1) noise variance of the inferred-input prior
    dropout_rate: float = 0.05  #: dropout rate (shared by every dropout site)
    cd_rate: float = 0.3  #: coordinated-dropout rate (fraction of encoder inputs dropped)
    cd_pass_rate: float = 0.0  #: extra fraction of kept inputs whose gradient passes anyway
    init_readout_bias: bool = (
        True  #: start the readout bias at log(mean count per bin) of each neuron
    )

    @property
    def use_controller(self) -> bool:
        """Whether the controller (and inferred inputs) is part of the model."""
        return self.ci_enc_dim > 0 and self.con_dim > 0 and self.co_dim > 0


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, loss weights, ramps and stopping rules (lfads-spec section 2)."""

    batch_size: int = 100  #: trials per step (clamped to the number of training trials)
    max_epochs: int = 1000  #: hard limit on epochs
    max_train_seconds: float | None = None  #: stop after this much training time (None: no limit)
    lr_init: float = 4e-3  #: initial Adam learning rate
    lr_decay: float = 0.95  #: factor of a plateau decay (1.0 disables it)
    lr_patience: int = 6  #: epochs of the plateau rule
    lr_stop: float = 1e-5  #: training stops once the learning rate falls to this
    adam_epsilon: float = 1e-8  #: Adam epsilon
    max_grad_norm: float = 200.0  #: global-norm clip of the loss-scaled gradients
    loss_scale: float = 1e4  #: the loss (and its gradient) is multiplied by this
    kl_ic_weight: float = 1e-6  #: weight of the IC KL term (post-ramp)
    kl_co_weight: float = 1e-6  #: weight of the inferred-input KL term (post-ramp)
    l2_gen_scale: float = 1e-3  #: L2 scale of the generator recurrent kernel
    l2_con_scale: float = 1e-3  #: L2 scale of the controller recurrent kernel
    l2_ic_enc_scale: float = 0.0  #: L2 scale of the IC encoder recurrent kernels
    l2_ci_enc_scale: float = 0.0  #: L2 scale of the CI encoder recurrent kernels
    kl_start_epoch: int = 0  #: KL ramp starts after this epoch
    kl_increase_epochs: int = 80  #: KL ramp length
    l2_start_epoch: int = 0  #: L2 ramp starts after this epoch
    l2_increase_epochs: int = 80  #: L2 ramp length
    patience: int = 200  #: early stopping: post-ramp epochs without a new best smoothed val NLL
    valid_ratio: float = 0.2  #: fraction of training trials held out for validation
    checkpoint_every: int = 1  #: epochs between "most recent" checkpoints
    nan_retries: int = 3  #: how often a non-finite loss is answered by restore + lower LR
    nan_lr_factor: float = 0.5  #: LR factor applied after a non-finite loss
    jit_compile: str | bool = "auto"  #: XLA for the training step: True, False or "auto"


@dataclass(frozen=True)
class InferenceConfig:
    """Posterior sample-and-average (lfads-spec section 3)."""

    n_samples: int = 50  #: posterior samples averaged per trial
    max_sequences: int = 1024  #: decoder sequences per inference batch (bounds memory)


@dataclass(frozen=True)
class LFADSConfig:
    """A complete LFADS configuration: model, training and inference settings plus the seed."""

    name: str = "custom"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain-Python dict (YAML-ready)."""
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """YAML text of the config; also written (atomically) to ``path`` if given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            _atomic_write_text(Path(path), text)
        return text

    def replace(self, **overrides: Any) -> LFADSConfig:
        """A copy with overrides applied (flat field names or section dicts)."""
        return _apply_overrides(self, overrides)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> LFADSConfig:
        """Build and validate a config from a nested dict (as read from YAML)."""
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: expected a mapping at top level, got {type(data).__name__}"
            )
        return _apply_overrides(cls(), data, source=source)


_SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "train": TrainConfig,
    "inference": InferenceConfig,
}
_TOP_FIELDS = ("name", "seed")
# flat field name -> section
_FIELD_SECTION: dict[str, str] = {
    f.name: sec for sec, klass in _SECTIONS.items() for f in fields(klass)
}
assert len(_FIELD_SECTION) == sum(len(fields(k)) for k in _SECTIONS.values()), (
    "names must be unique"
)
_ALIASES = {"learning_rate": "lr_init", "lr": "lr_init", "epochs": "max_epochs"}


def _check_value(section: str, name: str, value: Any, source: str) -> Any:
    """Type-check and range-check one field value; return it converted."""
    where = f"{source}: {section}.{name}"
    klass = _SECTIONS[section]
    ftype = {f.name: f.type for f in fields(klass)}[name]
    if name == "jit_compile":
        if value in (True, False, "auto"):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "auto"):
            return {"true": True, "false": False, "auto": "auto"}[value.lower()]
        raise ConfigError(f"{where} must be true, false or 'auto', got {value!r}")
    if ftype in ("bool", bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if name == "max_train_seconds" and value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number, got the boolean {value!r}")
    if ftype in ("int", int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
    else:
        if isinstance(value, str):
            try:
                value = float(value)  # YAML reads "1e-4" (no dot) as a string
            except ValueError:
                raise ConfigError(f"{where} must be a number, got {value!r}") from None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        value = float(value)
    _check_range(where, name, value)
    return value


_POSITIVE = {
    "ic_enc_dim", "ic_dim", "gen_dim", "fac_dim", "cell_clip", "ic_prior_var",
    "ic_post_var_min", "co_prior_tau", "co_prior_nvar", "batch_size", "max_epochs",
    "max_train_seconds", "lr_init", "lr_decay", "lr_patience", "adam_epsilon",
    "max_grad_norm", "loss_scale", "nan_lr_factor", "n_samples", "max_sequences",
    "checkpoint_every",
}  # fmt: skip
_UNIT_RATES = {"dropout_rate", "cd_rate", "cd_pass_rate"}  # in [0, 1)


def _check_range(where: str, name: str, value: float) -> None:
    if name in _POSITIVE and not value > 0:
        raise ConfigError(f"{where} must be > 0, got {value!r}")
    if name in _UNIT_RATES and not 0.0 <= value < 1.0:
        raise ConfigError(f"{where} must be in [0, 1), got {value!r}")
    if name == "valid_ratio" and not 0.0 < value < 1.0:
        raise ConfigError(f"{where} must be in (0, 1), got {value!r}")
    if name in ("lr_decay", "nan_lr_factor") and value > 1.0:
        raise ConfigError(f"{where} must be <= 1, got {value!r}")
    if not value >= 0:
        raise ConfigError(f"{where} must be >= 0, got {value!r}")


def _unknown(name: str, choices: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"{where}: unknown config key {name!r}.{hint} Valid keys: {', '.join(choices)}."
    )


def _apply_overrides(
    cfg: LFADSConfig, overrides: dict[str, Any], *, source: str = "overrides"
) -> LFADSConfig:
    top: dict[str, Any] = {}
    sec_updates: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for key, value in overrides.items():
        key = _ALIASES.get(key, key)
        if key in _SECTIONS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: section {key!r} must be a mapping, got {value!r}")
            valid = [f.name for f in fields(_SECTIONS[key])]
            for sub, subval in value.items():
                sub = _ALIASES.get(sub, sub)
                if sub not in valid:
                    raise _unknown(sub, valid, f"{source}: section {key!r}")
                sec_updates[key][sub] = subval
        elif key in _TOP_FIELDS:
            top[key] = value
        elif key in _FIELD_SECTION:
            sec_updates[_FIELD_SECTION[key]][key] = value
        else:
            raise _unknown(key, [*_TOP_FIELDS, *_SECTIONS, *_FIELD_SECTION], source)
    new_sections = {}
    for sec, upd in sec_updates.items():
        checked = {k: _check_value(sec, k, v, source) for k, v in upd.items()}
        new_sections[sec] = dataclasses.replace(getattr(cfg, sec), **checked)
    if "seed" in top:
        seed = top["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"{source}: seed must be a non-negative integer, got {seed!r}")
    if "name" in top and not isinstance(top["name"], str):
        raise ConfigError(f"{source}: name must be a string, got {top['name']!r}")
    out = dataclasses.replace(cfg, **top, **new_sections)
    _check_consistency(out, source)
    return out


def _check_consistency(cfg: LFADSConfig, source: str) -> None:
    m, t = cfg.model, cfg.train
    if m.cd_rate + m.cd_pass_rate > 1.0:
        raise ConfigError(
            f"{source}: cd_rate + cd_pass_rate must be <= 1, got {m.cd_rate} + {m.cd_pass_rate}"
        )
    if t.lr_stop >= t.lr_init:
        raise ConfigError(f"{source}: lr_stop ({t.lr_stop}) must be below lr_init ({t.lr_init})")


def config_differences(a: LFADSConfig, b: LFADSConfig) -> dict[str, tuple[Any, Any]]:
    """The fields whose values differ: ``"section.field"`` (or ``"name"``, ``"seed"``) -> (a's, b's).

    Example
    -------
    >>> config_differences(load_config("tiny"), load_config("tiny", max_epochs=3, seed=2))
    {'seed': (0, 2), 'train.max_epochs': (6, 3)}
    """
    da, db = a.to_dict(), b.to_dict()
    out: dict[str, tuple[Any, Any]] = {}
    for key, va in da.items():
        vb = db[key]
        if isinstance(va, dict):
            out.update({f"{key}.{k}": (va[k], vb[k]) for k in va if va[k] != vb[k]})
        elif va != vb:
            out[key] = (va, vb)
    return out


def _preset_dir() -> Path:
    return Path(str(resources.files("nlbtut") / "presets"))


def list_presets() -> list[str]:
    """Names of the shipped LFADS presets (``nlbtut/presets/*.yaml``, minus ``autolfads_*`` search spaces)."""
    return sorted(
        p.stem for p in _preset_dir().glob("*.yaml") if not p.stem.startswith("autolfads")
    )


PRESET_NAMES = (
    "mc_maze",
    "mc_maze_large",
    "mc_maze_medium",
    "mc_maze_small",
    "mc_rtt",
    "area2_bump",
    "dmfc_rsg",
    "cpu",
    "tiny",
)


def load_config(
    name_or_path: str | os.PathLike | LFADSConfig = "cpu", **overrides: Any
) -> LFADSConfig:
    """Load a preset by name (or a YAML file by path) and apply overrides.

    Parameters
    ----------
    name_or_path : str, path or LFADSConfig
        A preset name (``mc_maze``, ``mc_maze_large``, ``mc_maze_medium``,
        ``mc_maze_small``, ``mc_rtt``, ``area2_bump``, ``dmfc_rsg``, ``cpu``,
        ``tiny``), the path of a YAML file with the same layout (a run
        directory's ``config.yaml`` works), or a config to copy.
    **overrides
        Field values to change, by flat name (``lr_init=1e-3``, ``seed=1``) or
        by section (``train={"batch_size": 32}``).

    Returns
    -------
    LFADSConfig

    Raises
    ------
    ConfigError
        Unknown preset, unreadable file, unknown key or out-of-range value; the
        message names the key and what was expected.

    Example
    -------
    >>> cfg = load_config("cpu", max_epochs=10)
    >>> cfg.train.max_epochs
    10
    """
    if isinstance(name_or_path, LFADSConfig):
        return name_or_path.replace(**overrides)
    text_name = str(name_or_path)
    path = Path(text_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        source = str(path)
    else:
        presets = list_presets()
        if text_name not in presets:
            close = difflib.get_close_matches(text_name, presets, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown LFADS preset {text_name!r}.{hint} "
                f"Expected one of {', '.join(presets)} or the path of a YAML file."
            )
        path = _preset_dir() / f"{text_name}.yaml"
        source = f"preset {text_name!r}"
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    cfg = LFADSConfig.from_dict(data or {}, source=source)
    return cfg.replace(**overrides) if overrides else cfg


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
