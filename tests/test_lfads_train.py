"""LFADS training: CD gradient masking, repeatability, checkpoints, resume after kill, NaN guard."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import nlbtut  # noqa: E402
from nlbtut.errors import ConfigError, DataError  # noqa: E402
from nlbtut.lfads import (  # noqa: E402
    LFADSTrainer,
    TrainingDivergedError,
    load_config,
    load_model,
    sample_posterior,
    train_lfads,
)
from nlbtut.lfads.checkpoints import RUN_FORMAT  # noqa: E402

TOY_SRC = """
import numpy as np
from nlbtut.lfads import format_lfads_data

def toy_data(n=40, t_obs=12, t_fwd=3, n_in=8, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    lat = np.cumsum(rng.normal(0, 0.3, (n, t_obs + t_fwd, 2)), axis=1)
    rates = np.exp(lat @ rng.normal(0, 0.6, (2, n_in + n_out)) - 0.5)
    spk = rng.poisson(rates).astype(np.float32)
    train = {
        "train_spikes_heldin": spk[:, :t_obs, :n_in],
        "train_spikes_heldout": spk[:, :t_obs, n_in:],
        "train_spikes_heldin_forward": spk[:, t_obs:, :n_in],
        "train_spikes_heldout_forward": spk[:, t_obs:, n_in:],
    }
    return format_lfads_data(train, {"eval_spikes_heldin": spk[:7, :t_obs, :n_in]})
"""
_ns: dict = {}
exec(TOY_SRC, _ns)
toy_data = _ns["toy_data"]

TIME_COLS = ("epoch_seconds", "train_seconds")


def _same_history(a, b) -> None:
    cols = [c for c in a.columns if c not in TIME_COLS]
    assert list(a.columns) == list(b.columns)
    np.testing.assert_array_equal(a[cols].to_numpy(float), b[cols].to_numpy(float))


@pytest.fixture(scope="module")
def data():
    return toy_data()


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """One tiny model trained to completion (shared by the read-only tests)."""
    run_dir = tmp_path_factory.mktemp("lfads") / "run"
    trainer = train_lfads("tiny", data, run_dir, progress=False, max_epochs=8, lr_init=0.02)
    return trainer


def test_run_directory_records_everything(trained):
    run_dir = trained.run_dir
    for name in (
        "config.yaml",
        "run.json",
        "history.csv",
        "model",
        "checkpoints/last",
        "checkpoints/best",
    ):
        assert (run_dir / name).exists(), name
    info = json.loads((run_dir / "run.json").read_text())
    assert info["seed"] == 0 and info["status"] == "finished"
    assert info["nlbtut_version"] == nlbtut.__version__ and info["run_format"] == RUN_FORMAT
    assert info["data_dims"] == {"n_heldin": 8, "n_heldout": 3, "t_obs": 12, "t_fwd": 3}
    assert load_config(run_dir / "config.yaml") == trained.config
    hist = trained.history
    assert hist["epoch"].tolist() == list(range(1, 9))
    assert np.isfinite(hist[["loss", "nll", "val_nll", "val_nll_smth"]].to_numpy()).all()
    # KL ramp with increase 2: epochs 1, 2, 3 -> 1/3, 2/3, 1
    np.testing.assert_allclose(hist["kl_ramp"].to_numpy()[:4], [1 / 3, 2 / 3, 1, 1])
    on_disk = __import__("pandas").read_csv(run_dir / "history.csv")
    assert len(on_disk) == 8
    assert trained.best_epoch is not None and trained.best_epoch >= 3  # only post-ramp epochs count
    assert trained.stop_reason == "reached max_epochs=8"
    # it learns: the reconstruction NLL falls
    assert hist["nll"].iloc[-3:].mean() < hist["nll"].iloc[:2].mean()


def test_coordinated_dropout_masks_encoder_input_and_gradients(data, tmp_path):
    cfg = load_config("tiny", cd_rate=0.5, dropout_rate=0.0)
    trainer = LFADSTrainer(cfg, data, tmp_path / "r", progress=False)
    batch = tf.constant(data.train[:6] + 1.0)  # no zeros, so dropped inputs are recognisable
    x_enc = trainer.model.encoder_input(batch)
    x_in, grad_mask = trainer._cd_masks(x_enc)
    x_in, gm = x_in.numpy(), grad_mask.numpy()
    d = data
    enc_gm = gm[:, : d.t_obs, : d.n_heldin]
    dropped = x_in == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_array_equal(enc_gm, dropped.astype(np.float32))  # gradient only where dropped
    np.testing.assert_allclose(
        x_in[~dropped], x_enc.numpy()[~dropped] / 0.5, rtol=1e-6
    )  # kept are scaled
    assert (gm[:, d.t_obs :, :] == 1).all() and (
        gm[:, :, d.n_heldin :] == 1
    ).all()  # lfads-torch choice
    # the masked NLL has the plain NLL's value but zero gradient at kept encoder elements
    logrates = tf.Variable(tf.random.normal(batch.shape, seed=1) * 0.3)
    with tf.GradientTape() as tape:
        loss = trainer.masked_nll(batch, logrates, grad_mask)
    grad = tape.gradient(loss, logrates).numpy()
    plain = tf.reduce_mean(tf.nn.log_poisson_loss(batch, logrates, compute_full_loss=True))
    assert float(loss) == pytest.approx(float(plain), rel=1e-6)
    expected = gm * (np.exp(logrates.numpy()) - batch.numpy()) / batch.numpy().size
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-9)
    assert np.abs(grad[:, : d.t_obs, : d.n_heldin][~dropped]).max() == 0.0


def test_cd_rate_zero_passes_all_gradients(data, tmp_path):
    trainer = LFADSTrainer(load_config("tiny", cd_rate=0.0), data, tmp_path / "r", progress=False)
    x_enc = trainer.model.encoder_input(tf.constant(data.train[:4]))
    x_in, gm = trainer._cd_masks(x_enc)
    np.testing.assert_array_equal(x_in.numpy(), x_enc.numpy())
    assert (gm.numpy() == 1).all()


def test_same_seed_repeats_and_resume_continues_identically(data, tmp_path):
    cfg = load_config("tiny", max_epochs=4)
    straight = LFADSTrainer(cfg, data, tmp_path / "a", progress=False)
    straight.train_epochs(4)
    again = LFADSTrainer(cfg, data, tmp_path / "b", progress=False)
    again.train_epochs(2)
    del again
    resumed = LFADSTrainer(cfg, data, tmp_path / "b", progress=False)
    assert resumed.epoch == 2 and resumed.resumed_from == 2
    resumed.train_epochs(2)
    _same_history(straight.history, resumed.history)
    for a, b in zip(straight.model.trainable_variables, resumed.model.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other_seed = LFADSTrainer(cfg.replace(seed=1), data, tmp_path / "c", progress=False)
    assert not np.array_equal(other_seed.variables[0].numpy(), straight.variables[0].numpy())


def test_resume_refuses_other_model_or_disabled(trained, data):
    with pytest.raises(ConfigError, match="different model.*model.gen_dim: 16 in the run, 12 req"):
        LFADSTrainer(trained.config.replace(gen_dim=12), data, trained.run_dir, progress=False)
    with pytest.raises(ConfigError, match="seed: 0 in the run, 3 requested"):
        LFADSTrainer(trained.config.replace(seed=3), data, trained.run_dir, progress=False)
    other_split = dataclasses.replace(
        data,
        train_inds=data.train_inds[2:],
        valid_inds=np.concatenate([data.valid_inds, data.train_inds[:2]]),
    )
    with pytest.raises(DataError, match="32 training and 8 validation trials, not 30 and 10"):
        LFADSTrainer(trained.config, other_split, trained.run_dir, progress=False)
    with pytest.raises(ConfigError, match="resume=True"):
        LFADSTrainer(trained.config, data, trained.run_dir, progress=False, resume=False)
    with pytest.raises(Exception, match="dimensions"):
        LFADSTrainer(trained.config, toy_data(n_out=2), trained.run_dir, progress=False)


def test_a_run_keeps_its_own_config_when_other_settings_are_requested(trained, data, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(trained.run_dir, run_dir)
    before = (run_dir / "config.yaml").read_bytes()
    with pytest.warns(UserWarning, match=r"train\.max_epochs: 8 in the run, 20 requested.*keeping"):
        again = train_lfads(trained.config.replace(max_epochs=20), data, run_dir, progress=False)
    assert (run_dir / "config.yaml").read_bytes() == before  # not overwritten
    assert again.config == trained.config and again.ignored_settings == {
        "train.max_epochs": (8, 20)
    }
    assert again.resumed_from == 8 and again.epoch == 8  # finished: reused, not trained further
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same config: no warning
        same = LFADSTrainer(trained.config, data, run_dir, progress=False)
    assert same.ignored_settings == {} and same.resumed_from == 8


def test_runs_this_version_cannot_read_fail_with_advice(trained, data, tmp_path):
    def copy(name):
        shutil.copytree(trained.run_dir, tmp_path / name)
        return tmp_path / name

    newer = copy("newer")
    info = json.loads((newer / "run.json").read_text())
    (newer / "run.json").write_text(json.dumps({**info, "run_format": 99}))
    for attempt in (
        lambda: load_model(newer),
        lambda: LFADSTrainer(trained.config, data, newer, progress=False),
    ):
        with pytest.raises(ConfigError, match=r"format 99; nlbtut .* reads format 1\. Delete"):
            attempt()
    # weights that do not fit the model config.yaml describes: a DataError, not a TF error
    changed = copy("changed")
    load_config(changed / "config.yaml", fac_dim=5).to_yaml(changed / "config.yaml")
    with pytest.raises(DataError, match="do not fit the model.*Delete"):
        load_model(changed)
    # a config.yaml with a key this version does not know
    unknown = copy("unknown")
    with open(unknown / "config.yaml", "a") as fh:
        fh.write("future_key: 1\n")
    with pytest.raises(ConfigError, match="future_key.*Delete"):
        load_model(unknown)


def test_autosave_off_writes_nothing_and_export_writes_a_resumable_run(data, tmp_path):
    with pytest.raises(ConfigError, match="run_dir is required"):
        LFADSTrainer(load_config("tiny"), data, None, progress=False)
    cfg = load_config("tiny", max_epochs=5, lr_init=0.02)
    trainer = LFADSTrainer(cfg, data, tmp_path / "never", progress=False, autosave=False)
    trainer.train_epochs(5)
    assert not (tmp_path / "never").exists()
    assert trainer.best_epoch is not None and trainer.best_epoch >= 3
    best = [w.copy() for w in trainer._best_weights]
    last = [v.numpy() for v in trainer.model.variables]
    out = trainer.export_model(tmp_path / "exp", restore_best=True, info={"note": "x"})
    names = {"config.yaml", "run.json", "history.csv", "checkpoints", "model"}
    assert {p.name for p in out.iterdir()} == names
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "finished" and info["note"] == "x" and info["run_format"] == RUN_FORMAT
    assert json.loads((out / "model" / "model.json").read_text())["epoch"] == trainer.best_epoch
    for which in ("final", "best"):
        loaded = load_model(out, which=which)
        for a, b in zip(best, loaded.variables):
            np.testing.assert_array_equal(a, b.numpy())
    if trainer.best_epoch != 5:
        assert not all(np.array_equal(a, b) for a, b in zip(best, last))
    # checkpoints/last holds the last epoch: training resumes there without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed = LFADSTrainer(cfg, data, out, progress=False)
    assert resumed.epoch == 5 and len(resumed.history) == 5
    with pytest.raises(ConfigError, match="own run directory"):
        resumed.export_model(out)


@pytest.mark.timeout(240)
def test_resume_after_kill(data, tmp_path):
    """Kill a training process mid-run; a new run in the same folder continues from its checkpoint."""
    run_dir = tmp_path / "killed"
    script = tmp_path / "train_forever.py"
    script.write_text(
        TOY_SRC
        + textwrap.dedent(
            f"""
            from nlbtut.lfads import train_lfads
            train_lfads("tiny", toy_data(), {str(run_dir)!r}, progress=False, max_epochs=100000)
            """
        )
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE)
    state = run_dir / "checkpoints" / "last" / "state.json"
    deadline = time.time() + 180
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"training process ended early: {proc.stderr.read().decode()[-2000:]}")
            try:
                if json.loads(state.read_text())["epoch"] >= 3:
                    break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                pass  # a reader may race the rename; retry
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint with 3 epochs appeared within 180 s")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    trainer = LFADSTrainer(load_config("tiny", max_epochs=100000), data, run_dir, progress=False)
    start = trainer.epoch
    assert start >= 3 and trainer.resumed_from == start
    assert trainer.history["epoch"].tolist() == list(range(1, start + 1))
    trainer.train_epochs(2)
    assert trainer.history["epoch"].tolist() == list(range(1, start + 3))
    info = json.loads((run_dir / "run.json").read_text())
    assert info["resumed_at_epochs"] == [start]


def test_nan_loss_restores_state_and_lowers_lr(data, tmp_path):
    cfg = load_config("tiny", max_epochs=3, lr_init=0.01, nan_lr_factor=0.5)
    trainer = LFADSTrainer(cfg, data, tmp_path / "r", progress=False)
    real_step = trainer._train_step
    calls = {"n": 0}

    def step_with_one_nan(batch):
        calls["n"] += 1
        if calls["n"] == 3:  # poison one batch of epoch 1 (it has 2 steps)
            batch = tf.fill(tf.shape(batch), np.nan)
        return real_step(batch)

    trainer._train_step = step_with_one_nan
    with pytest.warns(RuntimeWarning, match="non-finite LFADS loss"):
        hist = trainer.train_epochs(3)
    assert hist["epoch"].tolist() == [1, 2, 3]
    assert trainer.nan_events == 1
    lrs = hist["hp_lr"].to_numpy()
    assert lrs[0] == pytest.approx(0.01) and lrs[1] == pytest.approx(0.005)
    assert all(np.isfinite(v.numpy()).all() for v in trainer.model.trainable_variables)
    assert np.isfinite(hist["loss"]).all()


def test_persistent_nan_stops_with_clear_error(data, tmp_path):
    trainer = LFADSTrainer(load_config("tiny", nan_retries=2), data, tmp_path / "r", progress=False)
    real_step = trainer._train_step
    trainer._train_step = lambda batch: real_step(tf.fill(tf.shape(batch), np.inf))
    before = [v.numpy() for v in trainer.model.trainable_variables]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(TrainingDivergedError, match="diverged.*2 restarts"):
            trainer.train_epochs(1)
    for a, v in zip(before, trainer.model.trainable_variables):
        np.testing.assert_array_equal(a, v.numpy())  # no poisoned update was applied


def test_set_hparams_takes_effect_without_retracing(data, tmp_path):
    trainer = LFADSTrainer(load_config("tiny", lr_stop=1e-12), data, tmp_path / "r", progress=False)
    trainer.train_epochs(1)
    traces = trainer._train_step.experimental_get_tracing_count()
    before = [v.numpy() for v in trainer.model.trainable_variables]
    trainer.set_hparams(lr=1e-9, cd_rate=0.2, dropout_rate=0.1, kl_ic_weight=1e-3, l2_gen_scale=0.5)
    trainer.train_epochs(1)
    assert trainer.epoch == 2
    assert trainer._train_step.experimental_get_tracing_count() == traces
    change = max(
        np.abs(a - v.numpy()).max() for a, v in zip(before, trainer.model.trainable_variables)
    )
    assert change < 1e-7  # Adam steps are about lr in size
    row = trainer.history.iloc[-1]
    assert row["hp_cd_rate"] == pytest.approx(0.2) and row["hp_dropout_rate"] == pytest.approx(0.1)
    assert trainer.config.model.cd_rate == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        trainer.set_hparams(momentum=0.9)
    with pytest.raises(ConfigError, match="cd_rate"):
        trainer.set_hparams(cd_rate=1.5)


def test_checkpoint_round_trip_between_trainers(trained, data, tmp_path):
    trained.save_checkpoint(tmp_path / "snap")
    b = LFADSTrainer(load_config("tiny", seed=5), data, tmp_path / "b", progress=False)
    b.set_hparams(lr=1e-3)
    b.restore_checkpoint(tmp_path / "snap", restore_hparams=False)
    assert b.epoch == trained.epoch and b.hparams["lr"] == pytest.approx(1e-3)
    for x, y in zip(trained._ckpt_variables(), b._ckpt_variables()):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    _same_history(trained.history, b.history)
    b.restore_checkpoint(tmp_path / "snap")
    assert b.hparams["lr"] == pytest.approx(trained.hparams["lr"])


def test_save_load_gives_identical_posterior_samples(trained, data):
    loaded = load_model(trained.run_dir)
    p1 = sample_posterior(trained.model, data, n_samples=4, seed=3, progress=False)
    p2 = sample_posterior(loaded, data, n_samples=4, seed=3, progress=False)
    for split in ("train", "eval"):
        for key, arr in p1[split].to_dict().items():
            np.testing.assert_array_equal(arr, getattr(p2[split], key), err_msg=f"{split}.{key}")
    p3 = sample_posterior(loaded, data, n_samples=4, seed=4, progress=False)
    assert not np.array_equal(p1["train"].rates, p3["train"].rates)


def test_posterior_shapes_order_and_batching(trained, data):
    post = sample_posterior(trained.model, data, n_samples=3, seed=0, progress=False)
    T, N = data.t_obs + data.t_fwd, data.n_heldin + data.n_heldout
    assert post["train"].rates.shape == (len(data.train_data), T, N)
    assert post["eval"].rates.shape == (7, T, N)
    assert post["train"].gen_inputs.shape[:2] == (len(data.train_data), T)
    assert (post["train"].rates > 0).all()
    # encoder outputs are deterministic, so IC means do not depend on the batching
    small = sample_posterior(
        trained.model, data.train_data, n_samples=3, max_sequences=3, progress=False
    )
    np.testing.assert_allclose(small.ic_mean, post["train"].ic_mean, rtol=1e-5, atol=1e-6)


def test_posterior_averaging_reduces_sampling_noise(trained, data):
    def spread(n_samples):
        a, b = (
            sample_posterior(
                trained.model, data.eval_data, n_samples=n_samples, seed=s, progress=False
            ).rates
            for s in (1, 2)
        )
        return np.mean((a - b) ** 2)

    assert spread(16) < spread(1) / 4  # the mean of 16 samples varies ~16x less


def test_load_model_errors(tmp_path):
    from nlbtut.errors import DataFileNotFoundError

    with pytest.raises(DataFileNotFoundError, match="not an LFADS run directory"):
        load_model(tmp_path)


def test_ramp_lr_plateau_rule_and_early_stopping(data, tmp_path):
    from nlbtut.lfads.train import ramp

    assert [ramp(e, 0, 80) for e in (1, 81, 200)] == [1 / 81, 1.0, 1.0]
    assert ramp(5, 10, 4) == 0.0
    cfg = load_config(
        "tiny", kl_increase_epochs=2, l2_increase_epochs=2, lr_patience=2, patience=3, max_epochs=99
    )
    trainer = LFADSTrainer(cfg, data, tmp_path / "r", progress=False)  # no training: no tracing
    assert trainer.last_ramp_epoch == 3
    lr0 = trainer.hparams["lr"]
    # val_loss of epochs 1..6; epoch 6 is above the max of epochs 4-5 -> decay (epoch > 3 + 2)
    trainer._rows = [{"val_loss": v} for v in (5.0, 4.0, 3.0, 2.0, 2.5, 2.6)]
    trainer._maybe_decay_lr(6)
    assert trainer.hparams["lr"] == pytest.approx(lr0 * cfg.train.lr_decay)
    trainer._rows.append({"val_loss": 9.0})
    trainer._maybe_decay_lr(7)  # at most once every lr_patience epochs
    assert trainer.hparams["lr"] == pytest.approx(lr0 * cfg.train.lr_decay)
    trainer._rows = trainer._rows[:5] + [{"val_loss": 2.4}]
    trainer.last_decay_epoch = 0
    trainer._hp["lr"].assign(lr0)
    trainer._maybe_decay_lr(6)  # 2.4 < max(2.0, 2.5): no decay
    assert trainer.hparams["lr"] == pytest.approx(lr0)
    trainer.epoch, trainer.best_epoch = 10, 7
    assert "early stopping" in trainer.should_stop()
    trainer.best_epoch = 8
    assert trainer.should_stop() is None
    trainer._hp["lr"].assign(cfg.train.lr_stop)
    assert "lr_stop" in trainer.should_stop()
