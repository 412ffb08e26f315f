"""``run_autolfads``: a synchronous LFADS population on Ray Tune, and the export of its best model.

Pieces, all public Ray Tune API:

* ``tune.Tuner`` runs ``workers`` trials of :class:`~nlbtut.autolfads.trainable.LFADSWorker`,
  each with ``{"cpu": cpus_per_worker, "gpu": gpus_per_worker}``
  (``tune.with_resources``); actors are reused so the traced TensorFlow graph survives;
* ``PopulationBasedTraining(synch=True)`` pauses every worker after each
  generation and decides only once the whole population has reported;
* **exploit** = PBT quantiles: the bottom ``quantile_fraction`` of the population
  (default 25 %) copies the weights and optimiser state of a random member of
  the top ``quantile_fraction``. AutoLFADS used a binary tournament instead (each
  worker meets a random other one; the loser copies the winner, so about half
  the population moves). A tournament cannot be written on Ray's public
  scheduler API: it needs overrides of private ``PopulationBasedTraining``
  methods (``_quantiles``, ``_checkpoint_or_exploit``, ``_exploit``) whose
  signatures changed across Ray releases, which is what broke lfads-torch's
  ``BinaryTournamentPBT`` (lfads-spec 4.3). Quantile selection is the
  "truncation selection" of the PBT paper; ``quantile_fraction=0.5`` replaces
  half the population each generation, like a tournament on average. A
  diverged worker reports ``metric = inf`` and so always lands in the bottom
  quantile;
* **explore** = the AutoLFADS multiplicative perturbation within bounds
  (:meth:`SearchSpace.perturb`), given to Ray as ``custom_explore_fn``;
* **stop** = :class:`~nlbtut.autolfads.stopping.ImprovementRatioStopper`
  (generation limit + improvement-ratio rule);
* **history** = :class:`~nlbtut.autolfads.history.PopulationHistory`
  (CSV + progress table).

The same call works on a laptop (a local Ray started with ``num_cpus``) and on
a cluster node (``address="auto"`` or the ``RAY_ADDRESS`` environment
variable); see ``docs/cluster.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import ray
from ray import tune
from ray.tune.schedulers import PopulationBasedTraining

from nlbtut.autolfads.history import PopulationHistory
from nlbtut.autolfads.search_space import SearchSpace, load_search_space
from nlbtut.autolfads.stopping import ImprovementRatioStopper
from nlbtut.autolfads.trainable import (
    CKPT_SUBDIR,
    LFADSWorker,
    WorkerSettings,
    find_checkpoint,
)
from nlbtut.errors import ConfigError, DataError, NLBTutError

__all__ = ["run_autolfads", "AutoLFADSResult", "AutoLFADSError", "Explorer", "pbt_config"]


class AutoLFADSError(NLBTutError, RuntimeError):
    """A population run failed (a worker crashed, or no worker produced a model)."""


@dataclass(frozen=True)
class AutoLFADSResult:
    """What :func:`run_autolfads` returns.

    Attributes
    ----------
    best_run_dir : Path
        The best worker's model as an ordinary LFADS run directory
        (``nlbtut.lfads.load_model``, ``nlbtut infer``, ``nlbtut run --model``).
    best_trial_id : str
        Tune id of the best worker.
    best_metric : float
        Its smoothed validation NLL (per bin and neuron) at the last generation.
    best_hparams : dict
        Its hyperparameters during the last generation.
    history : pandas.DataFrame
        ``generation, trial_id, metric, <hparams...>, exploited_from, epoch``.
    diagnostics : pandas.DataFrame
        Per row: ``member``, ``lr_in_optimizer`` (read back from the optimiser),
        ``weights_start``/``weights_end`` (weight fingerprints), ``seconds``, ``pid``.
    history_csv : Path
        Where ``history`` is saved (``diagnostics`` is next to it).
    generations : int
        Completed generations.
    stop_reason : str
        ``"max_generations"`` or ``"improvement_ratio"``.
    experiment_path : str
        Ray Tune's experiment folder (checkpoints of every worker).
    best_generation : int
        The generation whose checkpoint was exported: the last one, unless Ray Tune
        ended the best worker before its last checkpoint reached storage (then the
        best checkpoint that exists is exported, with a warning).
    """

    best_run_dir: Path
    best_trial_id: str
    best_metric: float
    best_hparams: dict[str, float]
    history: pd.DataFrame
    diagnostics: pd.DataFrame
    history_csv: Path
    generations: int
    stop_reason: str
    experiment_path: str
    best_generation: int = 0


class Explorer:
    """``custom_explore_fn`` for Ray's PBT: perturb ``config["hparams"]`` with a seeded RNG."""

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.rng = random.Random(seed)

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        config["hparams"] = self.space.perturb(config["hparams"], self.rng)
        return config


def pbt_config(config: Any) -> Any:
    """The LFADS config a population trains with: PBT, not the trainer, moves the LR.

    LR decay, early stopping, the epoch/time limits and per-epoch "last"
    checkpoints are turned off (the NLB AutoLFADS settings, lfads-spec 2.4).
    """
    return config.replace(
        lr_decay=1.0,
        lr_stop=1e-10,
        patience=10**9,
        max_epochs=10**9,
        max_train_seconds=None,
        checkpoint_every=10**9,
    )


def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_resources(cpus: Any, gpus: Any) -> tuple[float, float]:
    for name, val, low in (("cpus_per_worker", cpus, 0.0), ("gpus_per_worker", gpus, 0.0)):
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val):
            raise ConfigError(f"{name} must be a number, got {val!r}")
        if val < low:
            raise ConfigError(f"{name} must be >= {low}, got {val!r}")
    if cpus <= 0:
        raise ConfigError(
            f"cpus_per_worker must be > 0 (a fraction like 0.5 is fine), got {cpus!r}"
        )
    if gpus > 1 and not float(gpus).is_integer():
        raise ConfigError(f"gpus_per_worker above 1 must be a whole number, got {gpus!r}")
    return float(cpus), float(gpus)


@contextlib.contextmanager
def _quiet_ray() -> Iterator[None]:
    """Silence Ray Tune's own console output and per-trial loggers while a run lasts."""
    env = {
        "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter honours verbose=0 entirely
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # our history replaces result.json/CSV/TB
        "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    }
    old_env = {k: os.environ.get(k) for k in env}
    loggers = [logging.getLogger(n) for n in ("ray", "ray.tune", "ray.train", "ray.air")]
    old_levels = [lg.level for lg in loggers]
    os.environ.update(env)
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"ray(\.|$)")
            yield
    finally:
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for lg, level in zip(loggers, old_levels):
            lg.setLevel(level)


def _resolve_address(address: str | None) -> str | None:
    """The cluster address to use (argument, else ``$RAY_ADDRESS``); refuses Ray Client."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address.startswith("ray://"):
        # Ray Client runs Tune's driver loop on the cluster, away from this process: the
        # history would be collected there and the export would land on the head node.
        raise ConfigError(
            f"Ray Client addresses ({address!r}) are not supported: run the command on a node "
            "of the cluster with address='auto' (--address auto), or submit it as a Ray job: "
            "ray job submit --address http://HEAD:8265 -- nlbtut autolfads ... --address auto"
        )
    return address


def _init_ray(address: str | None, num_cpus: float | None, num_gpus: int | None) -> bool:
    """Connect to (or start) Ray; True when this call started it (and must stop it)."""
    if ray.is_initialized():
        return False
    address = _resolve_address(address)
    common = dict(log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
    try:
        if address:
            ray.init(address=address, **common)
        else:
            # "local": a private instance, never another process's Ray found on this machine
            ray.init(
                address="local",
                num_cpus=num_cpus,
                num_gpus=num_gpus,
                include_dashboard=False,
                **common,
            )
    except ConnectionError as exc:
        raise AutoLFADSError(
            f"cannot connect to the Ray cluster at {address!r}: {exc}. Start one with "
            "`ray start --head` (see docs/cluster.md) or leave address unset to run locally."
        ) from None
    return True


def _as_lfads_data(train_input: Any, eval_input: Any, valid_ratio: float) -> Any:
    from nlbtut.lfads import LFADSData, format_lfads_data

    if isinstance(train_input, LFADSData):
        return train_input
    if not isinstance(train_input, Mapping):
        raise DataError(
            "train_input must be the dict of make_train_input_tensors(..., include_forward_pred=True) "
            f"or an LFADSData, got {type(train_input).__name__}"
        )
    return format_lfads_data(train_input, eval_input, valid_ratio=valid_ratio)


def run_autolfads(
    train_input: Mapping[str, Any] | Any,
    eval_input: Mapping[str, Any] | None = None,
    *,
    config: Any = "cpu",
    workers: int = 4,
    generations: int = 20,
    epochs_per_generation: int = 25,
    burn_in_epochs: int | None = None,
    out: str | os.PathLike = "autolfads",
    search_space: Any = "default",
    quantile_fraction: float = 0.25,
    patience: int = 4,
    min_improvement_ratio: float = 5e-4,
    address: str | None = None,
    num_cpus: float | None = None,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    storage_path: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> AutoLFADSResult:
    """Train an AutoLFADS population (synchronous PBT on Ray Tune) and export its best model.

    Parameters
    ----------
    train_input : dict or LFADSData
        The dict of ``make_train_input_tensors(..., include_forward_pred=True)``
        (``train_spikes_heldin [trials x time x neurons]``, ``..._heldout``,
        ``..._heldin_forward``, ``..._heldout_forward``; spikes/bin), or data
        already formatted by :func:`nlbtut.lfads.format_lfads_data`.
    eval_input : dict, optional
        The dict of ``make_eval_input_tensors``; only checked for consistency
        (PBT trains and ranks on training trials; every 5th is a validation trial).
    config : str, path or LFADSConfig
        The LFADS preset (``"cpu"``, ``"tiny"``, a dataset name), a YAML file, or
        a config. Its searched fields are overwritten by the search; LR decay and
        early stopping are turned off (:func:`pbt_config`).
    workers : int
        Population size.
    generations : int
        Maximum number of generations (the improvement rule may stop earlier).
    epochs_per_generation : int
        Epochs between two exploit/explore steps.
    burn_in_epochs : int, optional
        Extra epochs of the first generation; default: the end of the KL/L2 ramps.
    out : path
        Output folder: ``pbt_history.csv``, ``pbt_history_diagnostics.csv``,
        ``best_model/`` (an LFADS run directory) and ``ray/`` (Tune's files).
    search_space : str, path, dict or SearchSpace
        See :func:`nlbtut.autolfads.load_search_space` (``"default"``, ``"area2_bump"``, ``"dmfc_rsg"``).
    quantile_fraction : float
        Fraction of the population copied (bottom) and copied from (top), in (0, 0.5].
    patience, min_improvement_ratio : int, float
        Improvement-ratio stopping rule: stop once the best metric improved by at
        most ``min_improvement_ratio`` of its size over the last ``patience``
        generations (``patience >= 2``; 0 turns the rule off).
    address : str, optional
        Ray cluster address (``"auto"`` or ``"HEAD_IP:6379"``, run on a cluster node); default
        ``$RAY_ADDRESS``, else a private local Ray is started (and stopped at the
        end). Ignored if Ray is already initialised in this process.
    num_cpus : float, optional
        CPUs of the local Ray (default: all).
    cpus_per_worker, gpus_per_worker : float
        Resources of one worker; fractions share a device (``0.5`` GPU = two
        models per GPU).
    storage_path : str, optional
        Where Tune keeps checkpoints; on a multi-node cluster a folder every node
        sees (NFS) or a cloud URI (``s3://...``). Default ``out/ray``.
    seed : int
        Seeds the initial hyperparameters, the perturbations and (``seed + i``)
        the weights of worker ``i``. Which worker copies which is drawn by Ray
        and is not seeded.
    progress : bool
        Print one line per generation (best/median metric, best worker's hyperparameters).

    Returns
    -------
    AutoLFADSResult

    Raises
    ------
    ConfigError
        Invalid settings or search space (the message names the value).
    DataError
        Malformed input tensors.
    AutoLFADSError
        A worker failed, or Ray could not be reached.

    Example
    -------
    >>> res = run_autolfads(train_dict, eval_dict, config="cpu", workers=4,
    ...                     generations=10, epochs_per_generation=20, out="runs/pbt")  # doctest: +SKIP
    >>> res.history.groupby("generation")["metric"].min()                          # doctest: +SKIP
    >>> model = nlbtut.lfads.load_model(res.best_run_dir)                           # doctest: +SKIP
    """
    from nlbtut.lfads import LFADSConfig, load_config

    workers = _check_positive_int("workers", workers, 2)
    generations = _check_positive_int("generations", generations)
    epochs_per_generation = _check_positive_int("epochs_per_generation", epochs_per_generation)
    _check_positive_int("seed", seed, 0)
    patience = _check_positive_int("patience", patience, 0)
    if patience == 1:
        raise ConfigError("patience must be 0 (improvement rule off) or >= 2 generations, got 1")
    if not 0 < quantile_fraction <= 0.5:
        raise ConfigError(f"quantile_fraction must be in (0, 0.5], got {quantile_fraction!r}")
    cpus_per_worker, gpus_per_worker = _check_resources(cpus_per_worker, gpus_per_worker)
    _resolve_address(address)
    space = load_search_space(search_space)
    base = config if isinstance(config, LFADSConfig) else load_config(config)
    base = pbt_config(base)
    if burn_in_epochs is None:
        tc = base.train
        burn_in_epochs = max(
            tc.kl_start_epoch + tc.kl_increase_epochs, tc.l2_start_epoch + tc.l2_increase_epochs
        )
    burn_in_epochs = _check_positive_int("burn_in_epochs", burn_in_epochs, 0)
    data = _as_lfads_data(train_input, eval_input, base.train.valid_ratio)
    data = dataclasses.replace(data, eval_data=None)  # workers never need the eval trials

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if storage_path is None:
        storage = str(out / "ray")
    elif "://" in str(storage_path):
        storage = str(storage_path)  # a cloud URI (s3://, gs://, ...)
    else:
        storage = str(Path(storage_path).expanduser().resolve())
    rng = random.Random(seed)
    initial = [space.initial(rng) for _ in range(workers)]
    settings = WorkerSettings(
        config=base,
        hparam_names=space.names,
        epochs_per_generation=epochs_per_generation,
        burn_in_epochs=burn_in_epochs,
        base_seed=seed,
        threads=max(1, int(cpus_per_worker)),
    )
    history = PopulationHistory(space.names, workers, out / "pbt_history.csv", progress=progress)
    stopper = ImprovementRatioStopper(
        workers, generations, patience=patience, min_improvement_ratio=min_improvement_ratio
    )
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        metric="metric",
        mode="min",
        perturbation_interval=1,
        burn_in_period=0,
        hyperparam_mutations={},
        custom_explore_fn=Explorer(space, seed),
        quantile_fraction=quantile_fraction,
        resample_probability=0.0,
        synch=True,
        log_config=True,
    )
    trainable = tune.with_resources(
        tune.with_parameters(LFADSWorker, data=data, settings=settings),
        {"cpu": cpus_per_worker, "gpu": gpus_per_worker},
    )
    param_space = {
        "member": tune.grid_search(list(range(workers))),
        "hparams": tune.sample_from(lambda cfg: dict(initial[cfg["member"]])),
    }
    if progress:
        print(
            f"AutoLFADS: {workers} workers x up to {generations} generations of "
            f"{epochs_per_generation} epochs (first +{burn_in_epochs} burn-in); "
            f"searching {', '.join(space.names)}",
            flush=True,
        )
    with _quiet_ray():
        started = _init_ray(address, num_cpus, None)
        try:
            tuner = tune.Tuner(
                trainable,
                param_space=param_space,
                tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=1, reuse_actors=True),
                run_config=tune.RunConfig(
                    name=f"autolfads_{time.strftime('%Y%m%d-%H%M%S')}",
                    storage_path=storage,
                    stop=stopper,
                    callbacks=[history],
                    verbose=0,
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=4, checkpoint_at_end=True),
                    failure_config=tune.FailureConfig(max_failures=0, fail_fast=True),
                ),
            )
            grid = tuner.fit()
            if grid.errors:
                err = grid.errors[0]
                lines = [ln for ln in str(err).splitlines() if ln.strip()]
                raise AutoLFADSError(
                    f"an AutoLFADS worker failed: {lines[-1] if lines else type(err).__name__} "
                    f"(full traceback in the trial folders of {grid.experiment_path})"
                ) from err
            result = _export_best(grid, base, data, out / "best_model", space, stopper)
        finally:
            if started:
                ray.shutdown()
    history.save()
    hist = history.history
    return AutoLFADSResult(
        best_run_dir=result["run_dir"],
        best_trial_id=result["trial_id"],
        best_metric=result["metric"],
        best_hparams=result["hparams"],
        history=hist,
        diagnostics=history.diagnostics,
        history_csv=history.csv_path,
        generations=int(hist["generation"].max()) if len(hist) else 0,
        stop_reason=stopper.reason or "max_generations",
        experiment_path=grid.experiment_path,
        best_generation=result["generation"],
    )


def _export_best(grid, base, data, run_dir: Path, space: SearchSpace, stopper) -> dict[str, Any]:
    """Write the best worker's last checkpoint as an ordinary LFADS run directory."""
    from nlbtut.autolfads.export import export_run_dir

    candidates = []
    for res in grid:
        m = res.metrics or {}
        if "generation" not in m or "metric" not in m:
            continue
        candidates.append((int(m["generation"]), float(m["metric"]), res))
    if not candidates:
        raise AutoLFADSError("no AutoLFADS worker finished a generation with a checkpoint")
    last_gen = max(g for g, _, _ in candidates)
    finals = [(metric, res) for g, metric, res in candidates if g == last_gen]
    finite = [(metric, res) for metric, res in finals if math.isfinite(metric)]
    if not finite:
        raise AutoLFADSError(
            f"every AutoLFADS worker diverged (metric inf/NaN) in generation {last_gen}; "
            "try a lower learning-rate range or more dropout"
        )
    # Best worker of the last generation first; should Tune have ended it before its last
    # checkpoint reached storage (a race when the stopping rule ends a synchronous population),
    # fall back to the best checkpoint that exists: latest generation first, then lowest metric.
    ranked = sorted((c for c in candidates if math.isfinite(c[1])), key=lambda c: (-c[0], c[1]))
    for gen, metric, best in ranked:  # noqa: B007 (metric is used after the break)
        trial_id = best.metrics["trial_id"]
        try:
            checkpoint, meta = _checkpoint_of(best, trial_id, gen)
        except AutoLFADSError as err:
            warnings.warn(f"{err}; exporting the best checkpoint that exists instead", stacklevel=2)
            continue
        break
    else:
        raise AutoLFADSError(
            "no checkpoint of any AutoLFADS worker was found in the experiment folder; "
            "cannot export a model"
        )
    last_gen = gen
    hparams = {n: float(meta["hparams"][n]) for n in space.names}
    with checkpoint.as_directory() as ckpt:
        export_run_dir(
            Path(ckpt) / CKPT_SUBDIR,
            run_dir,
            base,
            data,
            hparams,
            info={
                "autolfads_trial_id": trial_id,
                "autolfads_generation": last_gen,
                "autolfads_metric": metric,
                "autolfads_stop_reason": stopper.reason or "max_generations",
            },
        )
    return {
        "run_dir": run_dir,
        "trial_id": trial_id,
        "metric": metric,
        "hparams": hparams,
        "generation": last_gen,
    }


def _checkpoint_of(result: Any, trial_id: str, generation: int) -> tuple[Any, dict[str, Any]]:
    """The checkpoint ``trial_id`` saved after ``generation``, and its metadata.

    Usually ``result.checkpoint``. But when the improvement rule stops the
    population, Tune may end a paused worker before it registers the checkpoint
    it saved on pausing; the folder is on storage all the same, so the worker's
    folder is searched too (through Tune's storage filesystem: local, NFS or cloud).
    """
    fs = result.filesystem
    first = [result.checkpoint] if result.checkpoint is not None else []
    first += [c for c, _ in (result.best_checkpoints or [])]
    found = find_checkpoint(fs, result.path, trial_id, generation, [c.path for c in first])
    if found is None:
        raise AutoLFADSError(
            f"no checkpoint of the best worker {trial_id} at generation {generation} was found in "
            f"{result.path}; cannot export it"
        )
    path, meta = found
    return tune.Checkpoint(path, filesystem=fs), meta
