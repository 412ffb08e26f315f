"""AutoLFADS: search space, stopping rule, CLI wiring, and one real population on local Ray.

The population test runs once per module (Ray and TensorFlow start-up are the
slow part): 2 workers of the ``tiny`` LFADS preset on small random Poisson
tensors, on a local Ray with 2 CPUs, stopped by the improvement rule after 2
generations. With 2 workers and ``quantile_fraction=0.5`` the weaker worker
copies the stronger one at every generation boundary, so exploits are certain,
not left to chance.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray")

from nlbtut.autolfads import (  # noqa: E402
    HyperParam,
    ImprovementRatioStopper,
    SearchSpace,
    list_search_spaces,
    load_search_space,
)
from nlbtut.errors import ConfigError  # noqa: E402

GENERATIONS = 2
WORKERS = 2
EPOCHS_PER_GEN = 1
BURN_IN = 1


# --------------------------------------------------------------------------- search space
def test_presets_load_and_match_the_nlb_space():
    assert {"default", "area2_bump", "dmfc_rsg"} <= set(list_search_spaces())
    space = load_search_space("default")
    assert space.names == (
        "lr_init", "dropout_rate", "cd_rate", "l2_gen_scale", "l2_con_scale", "kl_co_weight", "kl_ic_weight",
    )  # fmt: skip
    lr = space["lr_init"]
    assert (lr.low, lr.high, lr.init, lr.explore_weight, lr.enforce_bounds) == (
        1e-5,
        5e-3,
        4e-3,
        0.3,
        True,
    )
    assert (
        space["kl_ic_weight"].enforce_bounds is False
        and space["kl_ic_weight"].explore_weight == 0.8
    )
    assert load_search_space("area2_bump")["kl_ic_weight"].high == 1e-4
    assert load_search_space("dmfc_rsg")["cd_rate"].high == 0.99
    # round trip through the dict layout
    again = SearchSpace.from_dict(space.to_dict())
    assert again.to_dict() == space.to_dict()


def test_initial_values_use_init_or_sample_in_range():
    space = load_search_space("default")
    rng = random.Random(0)
    vals = [space.initial(rng) for _ in range(200)]
    assert all(v["lr_init"] == 4e-3 and v["cd_rate"] == 0.5 for v in vals)
    for name in ("dropout_rate", "l2_gen_scale", "kl_co_weight", "kl_ic_weight"):
        xs = np.array([v[name] for v in vals])
        hp = space[name]
        assert xs.min() >= hp.low and xs.max() <= hp.high
        assert len(np.unique(xs)) == len(xs)  # really sampled per worker
    # loguniform: about half the samples below the geometric mid-point
    kl = np.array([v["kl_ic_weight"] for v in vals])
    assert 0.35 < np.mean(kl < math.sqrt(1e-6 * 1e-3)) < 0.65


def test_perturbation_factor_and_bounds():
    rng = random.Random(1)
    free = HyperParam("kl_co_weight", 1e-6, 1e-4, explore_weight=0.8, enforce_bounds=False)
    ratios = np.array([free.perturb(1e-5, rng) / 1e-5 for _ in range(2000)])
    logs = np.abs(np.log(ratios))
    assert logs.min() >= math.log1p(0.002 * 0.8) - 1e-12
    assert logs.max() <= math.log1p(0.8) + 1e-12
    assert 0.4 < np.mean(ratios > 1) < 0.6  # up and down equally likely
    bounded = HyperParam("cd_rate", 0.01, 0.7, explore_weight=0.3)
    x = 0.69
    for _ in range(500):
        x = bounded.perturb(x, rng)
        assert 0.01 <= x <= 0.7
    # a value at a bound is moved back inside, not left outside
    assert 0.01 <= bounded.perturb(0.7, rng) <= 0.7
    # SearchSpace.perturb moves every hyperparameter
    space = load_search_space("default")
    before = space.initial(random.Random(2))
    after = space.perturb(before, random.Random(3))
    assert all(after[n] != before[n] for n in space.names)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="momentum", low=0.1, high=0.9), "cannot be searched"),
        (dict(name="lr_init", low=1e-3, high=1e-4), "low < high"),
        (dict(name="lr_init", low=0.0, high=1e-3), "loguniform sampling needs low > 0"),
        (dict(name="cd_rate", low=0.1, high=1.0, sampling="uniform"), "below 1"),
        (dict(name="lr_init", low=1e-4, high=1e-3, init=1e-2), "outside"),
        (dict(name="lr_init", low=1e-4, high=1e-3, explore_weight=0), "explore_weight"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        HyperParam(**kwargs)


def test_bad_search_space_inputs(tmp_path):
    with pytest.raises(ConfigError, match="unknown AutoLFADS search space 'nope'"):
        load_search_space("nope")
    bad = tmp_path / "s.yaml"
    bad.write_text("hparams:\n  lr_init: {low: 1e-5, hi: 1e-3}\n")
    with pytest.raises(ConfigError, match=r"unknown keys \['hi'\]"):
        load_search_space(bad)
    with pytest.raises(ConfigError, match="appears twice"):
        SearchSpace([HyperParam("cd_rate", 0.1, 0.5), HyperParam("cd_rate", 0.1, 0.6)])


# --------------------------------------------------------------------------- stopping rule
def _feed(stopper, table):
    for gen, scores in enumerate(table, start=1):
        for i, s in enumerate(scores):
            stopper(f"t{i}", {"generation": gen, "metric": s})


def test_improvement_ratio_stops_a_converged_population():
    stop = ImprovementRatioStopper(2, max_generations=50, patience=3, min_improvement_ratio=1e-3)
    _feed(stop, [(2.0, 3.0), (1.5, 1.6), (1.2, 1.3), (1.1, 1.3)])
    assert stop.best_per_generation == [2.0, 1.5, 1.2, 1.1]
    assert not stop.stop_all()  # still improving: (1.5 - 1.1) / 1.27 > 1e-3
    _feed_more = [(1.1, 1.2), (1.1, 1.2)]
    for gen, scores in enumerate(_feed_more, start=5):
        for i, s in enumerate(scores):
            stop(f"t{i}", {"generation": gen, "metric": s})
    assert stop.improvement_ratio() == pytest.approx(0.0)
    assert stop.stop_all() and stop.reason == "improvement_ratio"


def test_generation_limit_and_incomplete_generations():
    stop = ImprovementRatioStopper(3, max_generations=2, patience=0)
    assert stop("a", {"generation": 1, "metric": 1.0}) is False
    stop("b", {"generation": 1, "metric": float("inf")})  # a diverged worker
    assert stop.best_per_generation == []  # generation 1 not complete yet
    stop("c", {"generation": 1, "metric": 0.5})
    assert stop.best_per_generation == [0.5]  # inf ignored for the best
    assert stop("a", {"generation": 2, "metric": 0.4}) is True  # limit reached: stop this worker
    assert not stop.stop_all()  # the limit stops each worker; stop_all is the improvement rule
    with pytest.raises(ConfigError):
        ImprovementRatioStopper(0, 5)


# --------------------------------------------------------------------------- optional dependency
def test_package_imports_without_ray_and_autolfads_says_how_to_install():
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import nlbtut\n"
        "assert nlbtut.get_dataset_info('mc_maze').n_heldin == 137\n"
        "try:\n"
        "    import nlbtut.autolfads\n"
        "except ImportError as exc:\n"
        "    print('MSG', exc)\n"
        "else:\n"
        "    print('NO ERROR')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "MSG" in out.stdout and "pip install 'nlbtut[autolfads]'" in out.stdout


def test_run_autolfads_is_in_the_flat_public_api():
    import nlbtut
    from nlbtut.autolfads import run_autolfads

    assert nlbtut.run_autolfads is run_autolfads


# --------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(workers=1), "workers must be an integer >= 2"),
        (dict(cpus_per_worker=0), "cpus_per_worker must be > 0"),
        (dict(gpus_per_worker=1.5), "whole number"),
        (dict(quantile_fraction=0.75), "quantile_fraction"),
        (dict(generations=0), "generations"),
        (dict(search_space="nope"), "unknown AutoLFADS search space"),
        (dict(address="ray://head:10001"), "Ray Client addresses"),
        (dict(patience=1), "patience must be 0"),
    ],
)
def test_bad_settings_fail_before_ray_starts(kwargs, message):
    import ray

    from nlbtut.autolfads import run_autolfads

    with pytest.raises(ConfigError, match=message):
        run_autolfads({}, None, config="tiny", **kwargs)
    assert not ray.is_initialized()


def test_ray_is_started_privately_or_connected_with_a_clear_error(monkeypatch):
    """Without an address a private local Ray starts (never another process's Ray);
    a cluster that cannot be reached is a clear AutoLFADSError. ``ray.init`` is
    replaced here: connecting to a real address could find other Ray instances
    on a shared machine."""
    from nlbtut.autolfads import AutoLFADSError
    from nlbtut.autolfads import run as run_mod

    calls = []

    def fake_init(**kw):
        calls.append(kw)
        if kw["address"] != "local":
            raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(run_mod.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(run_mod.ray, "init", fake_init)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert run_mod._init_ray(None, 2, None) is True
    assert calls[-1]["address"] == "local" and calls[-1]["num_cpus"] == 2
    assert calls[-1]["include_dashboard"] is False and calls[-1]["log_to_driver"] is False
    with pytest.raises(AutoLFADSError, match="cannot connect to the Ray cluster at 'auto'"):
        run_mod._init_ray("auto", None, None)
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    with pytest.raises(AutoLFADSError, match="'10.0.0.1:6379'"):
        run_mod._init_ray(None, None, None)
    monkeypatch.setenv("RAY_ADDRESS", "ray://10.0.0.1:10001")
    with pytest.raises(ConfigError, match="Ray Client addresses"):
        run_mod._init_ray(None, None, None)


def test_export_finds_a_saved_but_unregistered_checkpoint(tmp_path):
    """When the improvement rule stops a population, Tune may end a paused worker
    before it registers the checkpoint it saved; the export must still find it."""
    import json
    from types import SimpleNamespace

    from pyarrow.fs import LocalFileSystem
    from ray.tune import Checkpoint

    from nlbtut.autolfads import AutoLFADSError
    from nlbtut.autolfads.run import _checkpoint_of

    trial = tmp_path / "LFADSWorker_x_00001"
    other = tmp_path / "LFADSWorker_x_00000" / "checkpoint_000003"
    for folder, owner, gen in [(other, "x_00000", 1), (trial / "checkpoint_000001", "x_00001", 2)]:
        folder.mkdir(parents=True)
        meta = {"trial_id": owner, "generation": gen, "hparams": {"lr_init": 1e-3}}
        (folder / "autolfads.json").write_text(json.dumps(meta))
    fs = LocalFileSystem()
    # Tune still points the worker at the checkpoint it copied from worker 00000
    result = SimpleNamespace(
        checkpoint=Checkpoint(str(other), filesystem=fs),
        best_checkpoints=[],
        filesystem=fs,
        path=str(trial),
    )
    ckpt, meta = _checkpoint_of(result, "x_00001", 2)
    assert ckpt.path == str(trial / "checkpoint_000001") and meta["generation"] == 2
    with pytest.raises(
        AutoLFADSError, match="no checkpoint of the best worker x_00001 at generation 3"
    ):
        _checkpoint_of(result, "x_00001", 3)


def _bare_worker(data, settings, hparams, iteration=0):
    """An LFADSWorker outside Tune (no actor): what Tune's restore() leaves before load_checkpoint."""
    from nlbtut.autolfads.trainable import LFADSWorker

    w = LFADSWorker.__new__(LFADSWorker)
    w._trial_info = None  # trial_id "default"
    w.config = {"member": 0, "hparams": dict(hparams)}
    w._iteration = iteration
    w.setup(w.config, data=data, settings=settings)
    return w


def test_a_worker_loads_the_generation_tune_meant_when_a_later_save_overwrote_the_folder(tmp_path):
    """Ray 2.60's synchronous PBT can save the stronger worker twice at one boundary and
    then write its next generation into the folder a weaker worker was told to copy."""
    from pyarrow.fs import LocalFileSystem

    from nlbtut.autolfads.run import pbt_config
    from nlbtut.autolfads.trainable import WorkerSettings, find_checkpoint, weights_fingerprint
    from nlbtut.lfads import format_lfads_data, load_config

    data = format_lfads_data(_poisson_tensors())
    space = load_search_space("default")
    hp = space.initial(random.Random(0))
    settings = WorkerSettings(
        config=pbt_config(load_config("tiny")),
        hparam_names=space.names,
        epochs_per_generation=1,
        burn_in_epochs=0,
        base_seed=0,
        threads=1,
    )
    owner = _bare_worker(data, settings, hp)
    trial = tmp_path / "LFADSWorker_owner"
    owner.step()
    owner.save_checkpoint(str(trial / "checkpoint_000000"))  # generation 1 ...
    after_gen1 = weights_fingerprint(owner.trainer.variables)
    owner.save_checkpoint(str(trial / "checkpoint_000001"))  # ... saved twice
    owner.step()
    owner.save_checkpoint(str(trial / "checkpoint_000001"))  # generation 2 reuses a name
    assert weights_fingerprint(owner.trainer.variables) != after_gen1

    fs = LocalFileSystem()
    found = find_checkpoint(fs, str(trial), "default", 1)
    assert found is not None and found[0].endswith("checkpoint_000000")
    assert found[1]["generation"] == 1 and found[1]["weights"] == after_gen1
    assert find_checkpoint(fs, str(trial), "default", 2)[0].endswith("checkpoint_000001")
    assert find_checkpoint(fs, str(trial), "default", 3) is None
    assert find_checkpoint(fs, str(trial), "someone_else", 1) is None

    # Tune restores the copier with the result of generation 1 but the folder of generation 2
    copier = _bare_worker(data, settings, space.perturb(hp, random.Random(1)), iteration=1)
    copier.load_checkpoint(str(trial / "checkpoint_000001"))
    assert copier.generation == 1
    assert weights_fingerprint(copier.trainer.variables) == after_gen1
    res = copier.step()
    assert res["generation"] == 2 and res["weights_start"] == after_gen1

    # where no copy of the expected generation exists, it says so and goes on from what is there
    lone = tmp_path / "LFADSWorker_lone"
    owner.save_checkpoint(str(lone / "checkpoint_000004"))
    other = _bare_worker(data, settings, hp, iteration=1)
    with pytest.warns(UserWarning, match="holds generation 2 of default, not generation 1"):
        other.load_checkpoint(str(lone / "checkpoint_000004"))
    assert other.generation == 2


# --------------------------------------------------------------------------- CLI wiring
def test_cli_loads_the_dataset_and_passes_every_option(synthetic_dataset, tmp_path, monkeypatch):
    import nlbtut.autolfads as al
    from nlbtut.cli import main

    seen = {}

    def fake_run(train, evald, **kw):
        seen.update(train=train, evald=evald, **kw)
        raise al.AutoLFADSError("stop here")  # the real run is tested below

    monkeypatch.setattr(al, "run_autolfads", fake_run)
    data_dir = synthetic_dataset("tiny")
    rc = main([
        "autolfads", "--data-dir", str(data_dir), "--dataset", "mc_maze_small", "--bin-width", "20",
        "--workers", "3", "--generations", "7", "--epochs-per-generation", "5", "--out", str(tmp_path),
        "--address", "auto", "--cpus-per-worker", "0.5", "--gpus-per-worker", "0.25", "--preset", "tiny",
        "--set", "batch_size=8", "--seed", "4", "--quiet",
    ])  # fmt: skip
    assert rc == 1  # the AutoLFADSError is reported as a user error
    train, evald = seen["train"], seen["evald"]
    assert train["train_spikes_heldin_forward"].shape[1] == 10  # 200 ms of forward bins at 20 ms
    assert evald["eval_spikes_heldin"].shape[1:] == train["train_spikes_heldin"].shape[1:]
    assert seen["workers"] == 3 and seen["generations"] == 7 and seen["epochs_per_generation"] == 5
    assert seen["address"] == "auto" and seen["cpus_per_worker"] == 0.5
    assert seen["gpus_per_worker"] == 0.25 and seen["seed"] == 4 and seen["progress"] is False
    assert seen["config"].name == "tiny" and seen["config"].train.batch_size == 8
    assert seen["out"] == str(tmp_path)


def test_cli_rejects_a_missing_folder(tmp_path, capsys):
    from nlbtut.cli import main

    rc = main(
        [
            "autolfads",
            "--data-dir",
            str(tmp_path / "nope"),
            "--dataset",
            "mc_maze_small",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 1
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- one real population
def _poisson_tensors(seed=0, n=40, t_obs=12, t_fwd=3, n_in=6, n_out=3):
    rng = np.random.default_rng(seed)
    # a little structure: rates follow a shared slow sine per trial
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    t = np.arange(t_obs + t_fwd)[None, :, None]
    gains = rng.uniform(0.5, 2.0, (1, 1, n_in + n_out))
    spikes = rng.poisson(gains * (1.2 + np.sin(0.5 * t + phase)))
    return {
        "train_spikes_heldin": spikes[:, :t_obs, :n_in],
        "train_spikes_heldout": spikes[:, :t_obs, n_in:],
        "train_spikes_heldin_forward": spikes[:, t_obs:, :n_in],
        "train_spikes_heldout_forward": spikes[:, t_obs:, n_in:],
    }


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    import ray

    from nlbtut.autolfads import run_autolfads
    from nlbtut.lfads import load_config

    out = tmp_path_factory.mktemp("autolfads")
    config = load_config("tiny", kl_increase_epochs=BURN_IN, l2_increase_epochs=BURN_IN)
    printed = io.StringIO()
    ray_address = os.environ.pop("RAY_ADDRESS", None)  # always a private local Ray here
    try:
        with contextlib.redirect_stdout(printed):
            res = run_autolfads(
                _poisson_tensors(),
                None,
                config=config,
                workers=WORKERS,
                # the improvement rule (any gain below 10x the metric counts as none)
                # ends the run after GENERATIONS; the generation limit is tested below
                generations=10,
                patience=GENERATIONS,
                min_improvement_ratio=10.0,
                epochs_per_generation=EPOCHS_PER_GEN,
                burn_in_epochs=BURN_IN,
                out=out,
                num_cpus=2,
                cpus_per_worker=1,
                quantile_fraction=0.5,
                seed=0,
                progress=True,
            )
        yield res, printed.getvalue()
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if ray_address is not None:
            os.environ["RAY_ADDRESS"] = ray_address


def _row(df, gen, trial):
    sel = df[(df["generation"] == gen) & (df["trial_id"] == trial)]
    assert len(sel) == 1, (gen, trial)
    return sel.iloc[0]


def test_every_generation_ran_and_the_history_csv_is_complete(population):
    res, _ = population
    hist = res.history
    assert res.generations == GENERATIONS and res.stop_reason == "improvement_ratio"
    assert len(hist) == WORKERS * GENERATIONS
    assert sorted(hist["generation"].unique()) == list(range(1, GENERATIONS + 1))
    assert hist.groupby("generation")["trial_id"].nunique().eq(WORKERS).all()
    # epochs: burn-in plus one generation's worth per generation, for every worker
    assert (hist["epoch"] == BURN_IN + hist["generation"] * EPOCHS_PER_GEN).all()
    assert np.isfinite(hist["metric"]).all()
    space = load_search_space("default")
    assert list(hist.columns) == [
        "generation",
        "trial_id",
        "metric",
        *space.names,
        "exploited_from",
        "epoch",
    ]
    on_disk = pd.read_csv(res.history_csv, keep_default_na=False)
    assert list(on_disk.columns) == list(hist.columns)
    assert np.allclose(on_disk["metric"], hist["metric"])
    assert (res.history_csv.parent / "pbt_history_diagnostics.csv").is_file()


def test_exploits_copied_the_winner_and_perturbed_its_hyperparameters(population):
    res, _ = population
    hist, diag = res.history, res.diagnostics
    exploits = hist[hist["exploited_from"] != ""]
    # 2 workers, bottom half copies top half: one exploit per generation after the first
    assert len(exploits) == GENERATIONS - 1
    space = load_search_space("default")
    for _, row in exploits.iterrows():
        g, me, src = row["generation"], row["trial_id"], row["exploited_from"]
        assert src != me
        # the copier was the weaker worker of the previous generation
        assert _row(hist, g - 1, me)["metric"] > _row(hist, g - 1, src)["metric"]
        # it started from exactly the winner's weights at the end of that generation ...
        assert _row(diag, g, me)["weights_start"] == _row(diag, g - 1, src)["weights_end"]
        assert _row(diag, g, me)["weights_start"] != _row(diag, g - 1, me)["weights_end"]
        # ... with the winner's hyperparameters perturbed (each one moved, within its bounds)
        for name in space.names:
            old, new = _row(hist, g - 1, src)[name], row[name]
            factor = abs(math.log(new / old))
            w = space[name].explore_weight
            assert math.log1p(0.002 * w) - 1e-9 <= factor <= math.log1p(w) + 1e-9 or new in (
                space[name].low,
                space[name].high,
            )
            if space[name].enforce_bounds:
                assert space[name].low <= new <= space[name].high
    # workers that were not replaced kept their weights and hyperparameters
    kept = hist[(hist["exploited_from"] == "") & (hist["generation"] > 1)]
    assert len(kept) == GENERATIONS - 1
    for _, row in kept.iterrows():
        g, me = row["generation"], row["trial_id"]
        assert _row(diag, g, me)["weights_start"] == _row(diag, g - 1, me)["weights_end"]
        assert all(row[n] == _row(hist, g - 1, me)[n] for n in space.names)


def test_each_worker_starts_from_fresh_weights_of_its_own_seed(population, tmp_path):
    from nlbtut.autolfads.trainable import weights_fingerprint
    from nlbtut.lfads import LFADSTrainer, format_lfads_data, load_config

    res, _ = population
    first = res.diagnostics[res.diagnostics["generation"] == 1]
    assert sorted(first["member"]) == list(range(WORKERS))
    data = format_lfads_data(_poisson_tensors())
    for _, row in first.iterrows():
        cfg = load_config("tiny", seed=int(row["member"]))  # run seed 0 + member
        fresh = LFADSTrainer(cfg, data, tmp_path / f"m{row['member']}", progress=False)
        assert row["weights_start"] == weights_fingerprint(fresh.variables)
    assert first["weights_start"].nunique() == WORKERS


def test_the_optimizer_uses_the_perturbed_learning_rate_after_a_copy(population):
    res, _ = population
    hist, diag = res.history, res.diagnostics
    for _, row in hist.iterrows():
        lr_used = _row(diag, row["generation"], row["trial_id"])["lr_in_optimizer"]
        # the LR variable the Adam update reads equals the worker's config value (float32)
        assert lr_used == pytest.approx(row["lr_init"], rel=1e-6)
        if row["exploited_from"]:
            src_lr = _row(hist, row["generation"] - 1, row["exploited_from"])["lr_init"]
            # not the LR restored with the winner's optimiser state
            assert lr_used != pytest.approx(src_lr, rel=1e-6)


def test_progress_table_has_one_line_per_generation(population):
    res, printed = population
    lines = [ln.split() for ln in printed.splitlines()]
    gen_lines = [ln for ln in lines if ln and ln[0].isdigit()]
    assert [int(ln[0]) for ln in gen_lines] == list(range(1, GENERATIONS + 1))
    last = gen_lines[-1]
    best_last = res.history[res.history["generation"] == GENERATIONS]["metric"].min()
    assert float(last[1]) == pytest.approx(best_last, abs=1e-4)
    assert res.best_trial_id in printed


def test_best_model_is_an_lfads_run_dir_that_loads_and_samples(population, tmp_path):
    from nlbtut.lfads import format_lfads_data, load_config, load_model, sample_posterior

    res, _ = population
    # the exported worker is the best of its generation: the last one, or (when Ray ended the
    # best worker before its last checkpoint reached storage) the latest one with a checkpoint
    assert 1 <= res.best_generation <= GENERATIONS
    gen = res.history[res.history["generation"] == res.best_generation]
    row = gen[gen["trial_id"] == res.best_trial_id]
    assert len(row) == 1 and res.best_metric == pytest.approx(row["metric"].iloc[0])
    best = row.iloc[0]
    if res.best_generation == GENERATIONS:
        assert res.best_metric == pytest.approx(gen["metric"].min())
    run_dir = res.best_run_dir
    assert (run_dir / "config.yaml").is_file() and (run_dir / "model").is_dir()
    cfg = load_config(run_dir / "config.yaml")
    assert cfg.train.lr_init == pytest.approx(best["lr_init"])
    assert cfg.model.cd_rate == pytest.approx(best["cd_rate"])
    exported_hist = pd.read_csv(run_dir / "history.csv")
    assert exported_hist["epoch"].max() == best["epoch"]
    model = load_model(run_dir)
    data = format_lfads_data(_poisson_tensors())
    post = sample_posterior(model, data.train_data, n_samples=3, seed=0, progress=False)
    assert post.rates.shape == data.train_data.shape
    assert np.isfinite(post.rates).all() and (post.rates > 0).all()
    # written by LFADSTrainer.export_model: the provenance of any run, and it resumes cleanly
    import json
    import shutil
    import warnings

    from nlbtut.lfads import LFADSTrainer
    from nlbtut.lfads.checkpoints import RUN_FORMAT

    info = json.loads((run_dir / "run.json").read_text())
    assert info["run_format"] == RUN_FORMAT and info["status"] == "finished"
    assert info["stop_reason"] == "autolfads" and info["autolfads_trial_id"] == res.best_trial_id
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed = LFADSTrainer(cfg, data, copy, progress=False)
    assert resumed.epoch == best["epoch"] and resumed.hparams["lr"] == pytest.approx(
        cfg.train.lr_init
    )


@pytest.mark.slow
def test_cli_end_to_end_with_more_workers_than_slots(synthetic_dataset, tmp_path, monkeypatch):
    """``nlbtut autolfads`` on a synthetic NLB dataset, then ``nlbtut run/infer --model``.

    Slow (about 3 minutes on 2 busy cores): a second Ray run, 3 workers on 2 CPU
    slots, so the third worker starts on an actor another worker used. It checks
    that such a worker still starts from fresh weights of its own seed, that the
    generation limit stops the run, and that the exported model is accepted by
    the LFADS commands.
    """
    import json

    from nlbtut.autolfads.trainable import weights_fingerprint
    from nlbtut.cli import main
    from nlbtut.lfads import LFADSTrainer, format_lfads_data, load_config
    from nlbtut.pipeline import load_nlb_tensors

    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a private local Ray
    data_dir = synthetic_dataset("tiny")
    common = ["--data-dir", str(data_dir), "--dataset", "mc_maze_small", "--bin-width", "20"]
    out = tmp_path / "pbt"
    rc = main(
        [
            "autolfads",
            *common,
            "--preset",
            "tiny",
            "--set",
            "kl_increase_epochs=1",
            "--set",
            "l2_increase_epochs=1",
            "--workers",
            "3",
            "--generations",
            "2",
            "--epochs-per-generation",
            "1",
            "--burn-in-epochs",
            "1",
            "--num-cpus",
            "2",
            "--cpus-per-worker",
            "1",
            "--quantile-fraction",
            "0.34",
            "--seed",
            "5",
            "--out",
            str(out),
            "--quiet",
        ]
    )  # fmt: skip  (ceil(3 x 0.34) = 2 > 3/2, so 1 worker is replaced per generation)
    assert rc == 0
    hist = pd.read_csv(out / "pbt_history.csv", keep_default_na=False)
    diag = pd.read_csv(out / "pbt_history_diagnostics.csv", keep_default_na=False)
    assert sorted(hist["generation"].unique()) == [1, 2]  # stopped by the generation limit
    first = diag[diag["generation"] == 1]
    assert first["pid"].nunique() < 3, "no actor was reused; the test did not exercise that path"
    _, train, _ = load_nlb_tensors(data_dir, "mc_maze_small", "val", 20)
    data = format_lfads_data(train)
    for _, row in first.iterrows():
        cfg = load_config("tiny", seed=5 + int(row["member"]))
        fresh = LFADSTrainer(cfg, data, tmp_path / f"m{row['member']}", progress=False)
        assert row["weights_start"] == weights_fingerprint(fresh.variables)
    second = hist[hist["generation"] == 2]
    assert (second["exploited_from"] != "").sum() == 1
    merged = second.merge(diag, on=["generation", "trial_id"])
    assert np.allclose(merged["lr_in_optimizer"], merged["lr_init"], rtol=1e-6)
    # the exported best model is an ordinary run directory for `nlbtut run/infer --model`
    model = str(out / "best_model")
    assert main(["run", *common, "--model", model, "--out", str(tmp_path / "run"), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert math.isfinite(metrics["metrics"]["co-bps"])  # scored (a 3-epoch model scores badly)
    assert (
        main(["infer", *common, "--model", model, "--out", str(tmp_path / "inf"), "--quiet"]) == 0
    )
    assert (tmp_path / "inf" / "submission.h5").is_file()
