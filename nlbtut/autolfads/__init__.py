"""AutoLFADS: population-based training of LFADS on Ray Tune.

Ray is an optional dependency (``pip install 'nlbtut[autolfads]'``); the rest of
nlbtut imports without it. Importing this package without Ray raises an
:class:`ImportError` that says how to install it.

* :func:`run_autolfads`: train a population, save its history, export the best
  model as an LFADS run directory;
* :class:`SearchSpace`, :class:`HyperParam`, :func:`load_search_space`: what is
  searched and how it is explored;
* :class:`ImprovementRatioStopper`: when a population stops.

Modules: ``search_space`` (no Ray), ``stopping``, ``history``, ``trainable``,
``export``, ``run``.

Example
-------
>>> from nlbtut.autolfads import run_autolfads                           # doctest: +SKIP
>>> res = run_autolfads(train_dict, eval_dict, config="cpu", workers=4,
...                     generations=10, epochs_per_generation=20)         # doctest: +SKIP
>>> res.best_run_dir, res.history_csv                                     # doctest: +SKIP
"""

from __future__ import annotations

from nlbtut.errors import NLBTutError


class MissingDependencyError(NLBTutError, ImportError):
    """An optional dependency (here Ray Tune) is not installed."""


try:
    import ray  # noqa: F401
    from ray import tune  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError(
        "nlbtut.autolfads needs Ray Tune, which is not installed "
        f"({_exc}). Install it with: pip install 'nlbtut[autolfads]' "
        "(or pip install 'ray[tune]>=2.40')."
    ) from _exc

from nlbtut.autolfads.run import AutoLFADSError, AutoLFADSResult, run_autolfads  # noqa: E402
from nlbtut.autolfads.search_space import (  # noqa: E402
    TUNABLE_HPARAMS,
    HyperParam,
    SearchSpace,
    list_search_spaces,
    load_search_space,
)
from nlbtut.autolfads.stopping import ImprovementRatioStopper  # noqa: E402

__all__ = [
    "run_autolfads",
    "AutoLFADSResult",
    "AutoLFADSError",
    "MissingDependencyError",
    "HyperParam",
    "SearchSpace",
    "TUNABLE_HPARAMS",
    "load_search_space",
    "list_search_spaces",
    "ImprovementRatioStopper",
]
