"""The AutoLFADS search space and its explore step (pure Python; no Ray, no TensorFlow).

A :class:`SearchSpace` is an ordered set of :class:`HyperParam`, each naming
an LFADS config field that training can change on the fly (learning rate,
dropout and coordinated-dropout rates, KL and L2 weights; see
:data:`TUNABLE_HPARAMS`). It does two jobs:

* draw the initial value of every worker (:meth:`SearchSpace.initial`):
  the ``init`` value where one is given, else a sample from the range;
* *explore* after an exploit (:meth:`SearchSpace.perturb`): every
  hyperparameter is multiplied by ``exp(+-u)`` with
  ``u ~ U(log(1 + 0.002 w), log(1 + w))`` and ``w`` its explore weight,
  the sign drawn at random. This is the unbiased (log-space) perturbation of
  ``tune_tf2`` (lfads-spec 4.1): up- and down-moves of the same size are
  equally likely in log space, so no drift. Where bounds are enforced a move
  that leaves ``[low, high]`` is redrawn (up to 100 times) and then clipped;
  otherwise the value only has to stay positive, which a multiplicative move
  guarantees.

Ray's own ``PopulationBasedTraining`` explore (multiply by 0.8 or 1.2, or
resample with some probability) is not the AutoLFADS rule, so this module
implements the rule by hand (about 60 lines) and hands it to Ray as
``custom_explore_fn``.

Presets are YAML files ``nlbtut/presets/autolfads_<name>.yaml``: ``default``
(the NLB AutoLFADS space of ``nlb_tools``), ``area2_bump`` and ``dmfc_rsg``
(its per-dataset overrides).

Example
-------
>>> import random
>>> space = load_search_space("default")
>>> space.names[:3]
('lr_init', 'dropout_rate', 'cd_rate')
>>> values = space.initial(random.Random(0))
>>> new = space.perturb(values, random.Random(1))
>>> all(space[n].low <= new[n] <= space[n].high for n in ("lr_init", "cd_rate"))
True
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from nlbtut.errors import ConfigError

__all__ = [
    "HyperParam",
    "SearchSpace",
    "TUNABLE_HPARAMS",
    "load_search_space",
    "list_search_spaces",
]

#: LFADS config fields that can change between generations without rebuilding
#: the model (they live in ``tf.Variable`` s that are re-assigned after a copy).
TUNABLE_HPARAMS: tuple[str, ...] = (
    "lr_init",
    "dropout_rate",
    "cd_rate",
    "kl_ic_weight",
    "kl_co_weight",
    "l2_gen_scale",
    "l2_con_scale",
    "l2_ic_enc_scale",
    "l2_ci_enc_scale",
)
# rates must stay below 1 (a dropout rate of 1 drops everything)
_RATES = ("dropout_rate", "cd_rate")
_MAX_TRIES = 100  # redraws of an out-of-bounds move before clipping (as tune_tf2)


@dataclass(frozen=True)
class HyperParam:
    """One searched hyperparameter.

    Parameters
    ----------
    name : str
        LFADS config field (one of :data:`TUNABLE_HPARAMS`).
    low, high : float
        Range of the initial samples; also the hard bounds when
        ``enforce_bounds``.
    init : float, optional
        Initial value of every worker; ``None`` samples one per worker.
    sampling : {"loguniform", "uniform"}
        Distribution of the initial samples.
    explore_weight : float
        Size of the explore moves: a factor between ``1 + 0.002 w`` and
        ``1 + w`` (or its inverse).
    enforce_bounds : bool
        Keep explored values inside ``[low, high]``; otherwise only positive.
    """

    name: str
    low: float
    high: float
    init: float | None = None
    sampling: Literal["loguniform", "uniform"] = "loguniform"
    explore_weight: float = 0.3
    enforce_bounds: bool = True

    def __post_init__(self) -> None:
        where = f"hyperparameter {self.name!r}"
        if self.name not in TUNABLE_HPARAMS:
            raise ConfigError(
                f"{where} cannot be searched; expected one of {', '.join(TUNABLE_HPARAMS)}"
            )
        for key in ("low", "high", "explore_weight") + (("init",) if self.init is not None else ()):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"{where}: {key} must be finite, got {value!r}")
        if self.sampling not in ("loguniform", "uniform"):
            raise ConfigError(
                f"{where}: sampling must be 'loguniform' or 'uniform', got {self.sampling!r}"
            )
        if not 0 <= self.low < self.high:
            raise ConfigError(
                f"{where}: expected 0 <= low < high, got low={self.low}, high={self.high}"
            )
        if self.sampling == "loguniform" and self.low <= 0:
            raise ConfigError(f"{where}: loguniform sampling needs low > 0, got {self.low}")
        if self.name in _RATES and self.high >= 1:
            raise ConfigError(f"{where}: a rate must stay below 1, got high={self.high}")
        if self.explore_weight <= 0:
            raise ConfigError(f"{where}: explore_weight must be > 0, got {self.explore_weight}")
        if self.init is not None and not self.low <= self.init <= self.high:
            raise ConfigError(
                f"{where}: init={self.init} lies outside [low, high] = [{self.low}, {self.high}]"
            )

    def sample(self, rng: random.Random) -> float:
        """A value drawn from ``[low, high]`` (log-uniformly or uniformly)."""
        if self.sampling == "loguniform":
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def initial(self, rng: random.Random) -> float:
        """``init`` if given, else :meth:`sample`."""
        return float(self.init) if self.init is not None else self.sample(rng)

    def perturb(self, value: float, rng: random.Random) -> float:
        """The explore move: ``value * exp(+-u)``, ``u ~ U(log(1+0.002w), log(1+w))``.

        Out-of-bounds moves (when bounds are enforced) are redrawn up to 100
        times, then the value is clipped. Rates never reach 1.
        """
        w = self.explore_weight
        lo_u, hi_u = math.log1p(0.002 * w), math.log1p(w)
        new = value
        for _ in range(_MAX_TRIES):
            u = rng.uniform(lo_u, hi_u) * rng.choice((-1.0, 1.0))
            new = value * math.exp(u)
            if not self.enforce_bounds or self.low <= new <= self.high:
                break
        else:
            new = min(max(new, self.low), self.high)
        if self.name in _RATES:
            new = min(new, 0.999)
        return float(new)


class SearchSpace(Mapping[str, HyperParam]):
    """An ordered set of :class:`HyperParam` (a read-only mapping name -> HyperParam).

    Parameters
    ----------
    hparams : sequence of HyperParam
        The searched hyperparameters, each name at most once.
    name : str
        A label (the preset name, or ``"custom"``).
    """

    def __init__(self, hparams: Sequence[HyperParam], name: str = "custom") -> None:
        if not hparams:
            raise ConfigError("a search space needs at least one hyperparameter")
        by_name: dict[str, HyperParam] = {}
        for hp in hparams:
            if not isinstance(hp, HyperParam):
                raise ConfigError(f"search space entries must be HyperParam, got {hp!r}")
            if hp.name in by_name:
                raise ConfigError(f"hyperparameter {hp.name!r} appears twice in the search space")
            by_name[hp.name] = hp
        self._hparams = by_name
        self.name = name

    def __getitem__(self, key: str) -> HyperParam:
        return self._hparams[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._hparams)

    def __len__(self) -> int:
        return len(self._hparams)

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}: {', '.join(self._hparams)})"

    @property
    def names(self) -> tuple[str, ...]:
        """Hyperparameter names, in order."""
        return tuple(self._hparams)

    def initial(self, rng: random.Random) -> dict[str, float]:
        """Initial values of one worker."""
        return {n: hp.initial(rng) for n, hp in self._hparams.items()}

    def perturb(self, values: Mapping[str, float], rng: random.Random) -> dict[str, float]:
        """Explore: every hyperparameter of ``values`` moved by :meth:`HyperParam.perturb`."""
        missing = [n for n in self._hparams if n not in values]
        if missing:
            raise ConfigError(f"cannot perturb: values lack {missing}")
        out = dict(values)
        for n, hp in self._hparams.items():
            out[n] = hp.perturb(float(values[n]), rng)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, the layout of the YAML presets."""
        return {
            "name": self.name,
            "hparams": {
                n: {k: v for k, v in asdict(hp).items() if k != "name"}
                for n, hp in self._hparams.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "search space") -> SearchSpace:
        """Build from ``{"name": ..., "hparams": {name: {low, high, ...}}}``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("hparams"), Mapping):
            raise ConfigError(f"{source}: expected a mapping with an 'hparams' mapping")
        allowed = {"low", "high", "init", "sampling", "explore_weight", "enforce_bounds"}
        hps = []
        for n, spec in data["hparams"].items():
            if not isinstance(spec, Mapping):
                raise ConfigError(f"{source}: hparams.{n} must be a mapping, got {spec!r}")
            unknown = set(spec) - allowed
            if unknown:
                raise ConfigError(
                    f"{source}: hparams.{n} has unknown keys {sorted(unknown)}; "
                    f"expected some of {sorted(allowed)}"
                )
            spec = {k: _number(v) for k, v in spec.items()}
            try:
                hps.append(HyperParam(name=str(n), **spec))
            except TypeError as exc:  # missing low/high
                raise ConfigError(f"{source}: hparams.{n}: {exc}") from None
            except ConfigError as exc:
                raise ConfigError(f"{source}: {exc}") from None
        return cls(hps, name=str(data.get("name", "custom")))


def _number(value: Any) -> Any:
    """YAML reads ``1e-4`` (no dot) as a string; turn such strings into floats."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _preset_dir() -> Path:
    return Path(str(resources.files("nlbtut") / "presets"))


def list_search_spaces() -> list[str]:
    """Names of the shipped search spaces (``nlbtut/presets/autolfads_<name>.yaml``)."""
    return sorted(p.stem.removeprefix("autolfads_") for p in _preset_dir().glob("autolfads_*.yaml"))


def load_search_space(
    spec: str | os.PathLike | Mapping[str, Any] | SearchSpace = "default",
) -> SearchSpace:
    """A search space from a preset name, a YAML path, a dict or a SearchSpace.

    Parameters
    ----------
    spec : str, path, dict or SearchSpace
        ``"default"``, ``"area2_bump"``, ``"dmfc_rsg"`` (see
        :func:`list_search_spaces`), the path of a YAML file in the same
        layout, a dict ``{"hparams": {name: {"low": ..., "high": ..., ...}}}``
        or a ready :class:`SearchSpace`.

    Raises
    ------
    ConfigError
        Unknown preset, missing file, or an invalid entry (the message names it).
    """
    if isinstance(spec, SearchSpace):
        return spec
    if isinstance(spec, Mapping):
        return SearchSpace.from_dict(spec)
    text = str(spec)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"search-space file {text!r} does not exist")
        source = text
    else:
        path = _preset_dir() / f"autolfads_{text}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"unknown AutoLFADS search space {text!r}; expected one of "
                f"{', '.join(list_search_spaces())} or the path of a YAML file"
            )
        source = f"search space {text!r}"
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if isinstance(data, Mapping) and "name" not in data:
        data = {**data, "name": path.stem.removeprefix("autolfads_")}
    return SearchSpace.from_dict(data or {}, source=source)
