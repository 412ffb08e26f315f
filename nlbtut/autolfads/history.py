"""The population history: one row per worker and generation, a CSV file and a progress table.

:class:`PopulationHistory` is a Ray Tune :class:`~ray.tune.Callback` (public
API) that runs in the driver. Every result a worker reports becomes a row:

``generation, trial_id, metric, <hyperparameters...>, exploited_from, epoch``

* ``metric``: the worker's smoothed validation NLL at the end of the generation
  (``inf`` where training diverged, so PBT always replaces that worker);
* the hyperparameters are those of the worker's config during this generation
  (``result["config"]``, filled in by the worker's actor; after an exploit
  these are the perturbed values);
* ``exploited_from``: the ``trial_id`` whose weights (and optimiser state)
  the worker copied at the start of this generation, empty when it kept its
  own; ``nlbtut.plotting.plot_pbt_history`` draws lineages from it.

Diagnostics that prove the copy took effect go to a second table
(:attr:`PopulationHistory.diagnostics`): the learning rate read back from the
optimiser's variable after the copy, fingerprints of the weights at the start
and end of the generation, the worker's index (``member``; its model was
initialised with seed ``seed + member``), the seconds the generation took and
the process that ran it.

The CSV is rewritten (through a temporary file and ``os.replace``) after every
completed generation, so a stopped run leaves a readable history. When
``progress`` is on, a line per generation is printed: best and median metric
and the hyperparameters of the best worker.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from ray.tune import Callback

__all__ = ["PopulationHistory", "DIAGNOSTIC_KEYS", "write_csv_atomic"]

#: result keys that go to the diagnostics table, not to the history
DIAGNOSTIC_KEYS = ("lr_in_optimizer", "weights_start", "weights_end", "seconds", "pid", "timestamp")


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if (abs(value) < 1e-2 or abs(value) >= 1e3) and value else f"{value:.4f}"


class PopulationHistory(Callback):
    """Collect worker results into the population history; print a line per generation.

    Parameters
    ----------
    hparam_names : sequence of str
        Hyperparameter columns, in order.
    num_workers : int
        Population size (a generation is complete once this many rows arrived).
    csv_path : path
        Where the history CSV is (re)written after each completed generation.
    mode : {"min", "max"}
        Whether a lower metric is better.
    progress : bool
        Print the per-generation table (to ``sys.stdout``).
    """

    def __init__(
        self,
        hparam_names: list[str] | tuple[str, ...],
        num_workers: int,
        csv_path: str | os.PathLike,
        *,
        mode: str = "min",
        progress: bool = True,
    ) -> None:
        self.hparam_names = list(hparam_names)
        self.num_workers = int(num_workers)
        self.csv_path = Path(csv_path)
        self.mode = mode
        self.progress = progress
        self._rows: list[dict[str, Any]] = []
        self._diag: list[dict[str, Any]] = []
        self._printed: set[int] = set()
        self._header_done = False

    # ---------------------------------------------------------------- Tune hooks
    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:  # noqa: D401
        if "generation" not in result or "metric" not in result:
            return
        row = {
            "generation": int(result["generation"]),
            "trial_id": str(trial.trial_id),
            "metric": float(result["metric"]),
        }
        config = result.get("config") or {}
        hparams = config.get("hparams", {})
        for name in self.hparam_names:
            row[name] = float(hparams.get(name, math.nan))
        row["exploited_from"] = result.get("exploited_from") or ""
        row["epoch"] = int(result.get("epoch", -1))
        self._rows.append(row)
        diag = {"generation": row["generation"], "trial_id": row["trial_id"]}
        diag.update({k: result.get(k) for k in DIAGNOSTIC_KEYS})
        diag["exploited_from"] = row["exploited_from"]
        diag["member"] = config.get("member")
        self._diag.append(diag)
        gen = row["generation"]
        if sum(r["generation"] == gen for r in self._rows) >= self.num_workers:
            self._generation_done(gen)

    def on_experiment_end(self, trials, **info) -> None:
        for gen in sorted({r["generation"] for r in self._rows} - self._printed):
            self._generation_done(gen)
        self.save()

    # ---------------------------------------------------------------- tables
    @property
    def history(self) -> pd.DataFrame:
        """The history table, sorted by generation and trial_id."""
        cols = ["generation", "trial_id", "metric", *self.hparam_names, "exploited_from", "epoch"]
        df = pd.DataFrame(self._rows, columns=cols)
        return df.sort_values(["generation", "trial_id"], kind="stable").reset_index(drop=True)

    @property
    def diagnostics(self) -> pd.DataFrame:
        """Per row: member, LR read back from the optimiser, weight fingerprints, seconds, pid."""
        cols = ["generation", "trial_id", "member", "exploited_from", *DIAGNOSTIC_KEYS]
        df = pd.DataFrame(self._diag, columns=cols)
        return df.sort_values(["generation", "trial_id"], kind="stable").reset_index(drop=True)

    def save(self) -> None:
        """(Re)write the history CSV and the diagnostics CSV next to it."""
        write_csv_atomic(self.history, self.csv_path)
        write_csv_atomic(
            self.diagnostics, self.csv_path.with_name(self.csv_path.stem + "_diagnostics.csv")
        )

    def _generation_done(self, gen: int) -> None:
        if gen in self._printed:
            return
        self._printed.add(gen)
        self.save()
        if self.progress:
            self._print_line(gen)

    def _print_line(self, gen: int) -> None:
        stream = sys.stdout
        rows = [r for r in self._rows if r["generation"] == gen]
        scores = pd.Series([r["metric"] for r in rows], dtype=float)
        finite = scores[scores.map(math.isfinite)]
        if finite.empty:
            best = None
        else:
            k = finite.idxmin() if self.mode == "min" else finite.idxmax()
            best = rows[k]
        short = {n: n.replace("_weight", "").replace("_scale", "") for n in self.hparam_names}
        if not self._header_done:
            head = f"{'gen':>4} {'best':>9} {'median':>9} {'exploits':>8}  best worker"
            print(head, file=stream, flush=True)
            self._header_done = True
        n_exp = sum(bool(r["exploited_from"]) for r in rows)
        if best is None:
            line = f"{gen:>4} {'nan':>9} {'nan':>9} {n_exp:>8}  (no finite metric)"
        else:
            hps = " ".join(f"{short[n]}={_fmt(best[n])}" for n in self.hparam_names)
            line = (
                f"{gen:>4} {_fmt(best['metric']):>9} {_fmt(float(finite.median())):>9} "
                f"{n_exp:>8}  {best['trial_id']} {hps}"
            )
        print(line, file=stream, flush=True)
