"""When an AutoLFADS population stops: a generation limit and the improvement-ratio rule.

:class:`ImprovementRatioStopper` is a Ray Tune :class:`~ray.tune.Stopper`
(public API). It collects every worker's metric per generation; once a
generation is complete it appends the best metric of the population to a
list, and it stops the whole experiment when either

* ``max_generations`` generations have run, or
* over the last ``patience`` completed generations the best metric improved
  by at most ``min_improvement_ratio`` of its typical size:
  ``(best[0] - best_of(window)) / mean(|window|) <= min_improvement_ratio``
  for ``mode="min"`` (lfads-torch ``ImprovementRatioStopper``; lfads-spec 4.2).

Ray ships a ``TrialPlateauStopper`` and an ``ExperimentPlateauStopper``, but
neither compares the *population's best per generation* against a relative
threshold, so this rule is written here (about 50 lines).

Example
-------
>>> stop = ImprovementRatioStopper(num_workers=2, max_generations=10, patience=2)
>>> for g, (a, b) in enumerate([(1.0, 2.0), (0.9, 1.0), (0.9, 0.95), (0.9, 0.95)], 1):
...     _ = stop("t0", {"generation": g, "metric": a}), stop("t1", {"generation": g, "metric": b})
>>> stop.best_per_generation
[1.0, 0.9, 0.9, 0.9]
>>> stop.stop_all(), stop.reason
(True, 'improvement_ratio')
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune import Stopper

from nlbtut.errors import ConfigError

__all__ = ["ImprovementRatioStopper"]


class ImprovementRatioStopper(Stopper):
    """Stop a synchronous population at a generation limit or when it stops improving.

    Parameters
    ----------
    num_workers : int
        Population size: a generation is complete once this many workers
        reported it.
    max_generations : int
        Hard limit on generations.
    patience : int
        Window of completed generations of the improvement rule (at least 2);
        0 turns the rule off.
    min_improvement_ratio : float
        Relative improvement below which the population is considered converged.
    metric, mode : str
        Result key of the score and whether lower (``"min"``) or higher is better.
    generation_key : str
        Result key holding the 1-based generation number.
    """

    def __init__(
        self,
        num_workers: int,
        max_generations: int,
        *,
        patience: int = 4,
        min_improvement_ratio: float = 5e-4,
        metric: str = "metric",
        mode: str = "min",
        generation_key: str = "generation",
    ) -> None:
        if num_workers < 1 or max_generations < 1 or patience < 0 or patience == 1:
            raise ConfigError(
                "ImprovementRatioStopper needs num_workers >= 1, max_generations >= 1 and "
                f"patience 0 (off) or >= 2; got {num_workers}, {max_generations}, {patience}"
            )
        if mode not in ("min", "max"):
            raise ConfigError(f"mode must be 'min' or 'max', got {mode!r}")
        self.num_workers = int(num_workers)
        self.max_generations = int(max_generations)
        self.patience = int(patience)
        self.min_improvement_ratio = float(min_improvement_ratio)
        self.metric, self.mode, self.generation_key = metric, mode, generation_key
        self._scores: dict[int, dict[str, float]] = {}
        self._completed: set[int] = set()
        self.best_per_generation: list[float] = []
        self.reason: str | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        gen = result.get(self.generation_key)
        score = result.get(self.metric)
        if gen is None or score is None:
            return False
        gen = int(gen)
        self._scores.setdefault(gen, {})[trial_id] = float(score)
        self._check_generation(gen)
        # Stopping the worker that completed the last generation keeps the scheduler
        # from exploiting once more (the others are paused and end with stop_all).
        return gen >= self.max_generations or self.reason == "improvement_ratio"

    def _check_generation(self, gen: int) -> None:
        scores = self._scores[gen]
        if gen in self._completed or len(scores) < self.num_workers:
            return
        self._completed.add(gen)
        finite = [s for s in scores.values() if math.isfinite(s)]
        best = (min if self.mode == "min" else max)(finite) if finite else math.nan
        self.best_per_generation.append(best)
        if gen >= self.max_generations:
            self.reason = "max_generations"
        elif self.patience and self.improvement_ratio() is not None:
            if self.improvement_ratio() <= self.min_improvement_ratio:
                self.reason = "improvement_ratio"

    def improvement_ratio(self) -> float | None:
        """Relative improvement over the last ``patience`` generations (None: too few yet)."""
        if not self.patience or len(self.best_per_generation) < self.patience:
            return None
        window = self.best_per_generation[-self.patience :]
        if not all(math.isfinite(b) for b in window):
            return None
        scale = sum(abs(b) for b in window) / len(window)
        if scale == 0:
            return 0.0
        gain = window[0] - min(window) if self.mode == "min" else max(window) - window[0]
        return gain / scale

    def stop_all(self) -> bool:
        return self.reason == "improvement_ratio"
