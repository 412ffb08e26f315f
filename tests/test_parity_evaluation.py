"""Parity of ``nlbtut.evaluate`` with the official ``nlb_tools.evaluation.evaluate``.

Random but realistic targets (official ``make_eval_target_tensors`` layout) and
submissions are built for all seven datasets at 5 and 20 ms: latent-driven
Poisson spikes, velocity with NaN gaps, area2 decode masks, PSTHs with NaN
padding and an empty condition, DMFC NaN-padded held-out spikes with jitter and
outlier rows, forward-prediction spikes. They are saved to HDF5 the way
``save_to_h5`` does, the official package scores them in its own environment
(one subprocess for every case), and every number must agree to 1e-9,
including the combined ``mc_maze_scaling`` groups.

``make_eval_case`` is reused by the other evaluation tests and by
``bench/bench_evaluate.py``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nlbtut.datasets import DATASETS, get_dataset_info, group_name
from nlbtut.evaluation import evaluate
from nlbtut.submission import save_submission

TOL = 1e-9


def _smooth_latents(rng: np.random.Generator, n_cond: int, n_bins: int, n_lat: int) -> np.ndarray:
    """Condition-specific smooth latent trajectories, (n_cond, n_bins, n_lat)."""
    t = np.linspace(0, 1, n_bins)[None, :, None]
    freq = rng.uniform(0.5, 2.5, size=(n_cond, 1, n_lat))
    phase = rng.uniform(0, 2 * np.pi, size=(n_cond, 1, n_lat))
    return np.sin(2 * np.pi * freq * t + phase)


def make_eval_case(
    dataset: str,
    bin_width: int = 5,
    *,
    n_train: int = 30,
    n_eval: int = 14,
    n_heldin: int | None = None,
    n_heldout: int | None = None,
    n_cond: int = 6,
    seed: int = 0,
    forward: bool = True,
    noise: float = 0.3,
) -> tuple[dict, dict]:
    """``(targets, submission)`` for one group, both ``{group: {...}}``.

    Shapes follow the registry (bins per window, forward bins, neuron counts)
    unless ``n_heldin`` / ``n_heldout`` are given; trial counts are small.
    The submission is the true rates times log-normal noise of sd ``noise``.
    """
    info = get_dataset_info(dataset)
    rng = np.random.default_rng(seed)
    group = group_name(dataset, bin_width)
    n_in = info.n_heldin if n_heldin is None else n_heldin
    n_out = info.n_heldout if n_heldout is None else n_heldout
    n_all = n_in + n_out
    n_bins, n_fp = info.n_bins(bin_width), info.n_fp_bins(bin_width)
    n_lat = 4
    is_dmfc = dataset == "dmfc_rsg"
    if is_dmfc:
        n_cond = 4  # (is_eye, theta) x ts below
    # per-trial conditions (train then eval), latent trajectories incl. the forward bins
    cond = np.concatenate(
        [rng.permutation(np.arange(n_train) % n_cond), rng.permutation(np.arange(n_eval) % n_cond)]
    )
    lat = _smooth_latents(rng, n_cond, n_bins + n_fp, n_lat)[cond]
    lat = lat + 0.3 * rng.standard_normal(lat.shape[:1] + (1, n_lat))
    w = rng.normal(0, 0.6, size=(n_lat, n_all))
    base = np.log(rng.uniform(5, 30, size=n_all) * bin_width / 1000.0)
    rates = np.exp(lat @ w + base)  # (trials, bins+fp, neurons), spikes/bin
    spikes = rng.poisson(rates).astype(np.float64)
    tr, ev = slice(0, n_train), slice(n_train, n_train + n_eval)
    win = slice(0, n_bins)
    fwd = slice(n_bins, n_bins + n_fp)

    tgt: dict[str, object] = {
        "eval_spikes_heldout": spikes[ev, win, n_in:].copy(),
        "eval_spikes_heldin_forward": spikes[ev, fwd, :n_in].copy(),
        "eval_spikes_heldout_forward": spikes[ev, fwd, n_in:].copy(),
    }
    if is_dmfc:
        # behaviour rows [is_eye, theta, is_short, ts, tp] (ms); tp ~ ts; outliers NaN
        n = n_train + n_eval
        is_eye = (cond % 2).astype(float)
        theta = np.where(cond // 2 == 0, 0.0, 180.0)
        is_short = np.zeros(n)
        ts = rng.choice([480.0, 640.0, 800.0], size=n)
        tp = ts * rng.uniform(0.8, 1.2, size=n)
        beh = np.stack([is_eye, theta, is_short, ts, tp], axis=1)
        outlier = rng.random(n) < 0.1
        outlier[n_train:] = False
        # one eval outlier, in the largest condition: every condition keeps >= 2 eval trials
        outlier[n_train + int(np.argmax(cond[ev] == np.bincount(cond[ev]).argmax()))] = True
        beh[outlier] = np.nan
        tgt["train_behavior"] = beh[tr]
        tgt["eval_behavior"] = beh[ev]
        # set->go segment of tp ms, ending jit bins before the window end, NaN elsewhere
        max_jit = 300 // bin_width
        jit = rng.integers(0, max_jit + 1, size=n)
        seg_len = np.clip(np.round(ts * rng.uniform(0.8, 1.2, size=n) / bin_width), 3, None)
        held = np.full((n_eval, n_bins, n_out), np.nan)
        for i in range(n_eval):
            k = n_train + i
            stop = n_bins - jit[k]
            start = int(stop - seg_len[k])
            held[i, start:stop] = spikes[k, start:stop, n_in:]
        tgt["eval_spikes_heldout"] = held
        tgt["eval_jitter"] = jit[ev].astype(np.int64)
        tgt["train_jitter"] = jit[tr].astype(np.int64)
    else:
        vel = lat[..., :2] @ rng.normal(0, 1, size=(2, 2)) + 0.5 * lat[..., 2:4]
        vel = vel + 0.3 * rng.standard_normal(vel.shape)
        vel = vel[:, win].copy()
        gaps = rng.random(len(vel)) < 0.3
        vel[gaps, -max(1, n_bins // 10) :] = np.nan  # behaviour missing at the end
        tgt["train_behavior"] = vel[tr]
        tgt["eval_behavior"] = vel[ev]
    if info.has_decode_masks:
        bump = rng.random(n_train + n_eval) < 0.5
        bump[[0, 1, n_train, n_train + 1]] = [True, False, True, False]
        mask = np.stack([~bump, bump], axis=1)
        tgt["train_decode_mask"] = mask[tr]
        tgt["eval_decode_mask"] = mask[ev]
    if info.psth_cond_fields:
        n_psth = n_cond + 1  # the last condition has no eval trial
        psth = np.full((n_psth, n_bins, n_all), np.nan)
        idx = []
        for c in range(n_psth):
            members = np.flatnonzero(cond == c)
            mean = rates[members][:, win].mean(axis=0) if members.size else rates[0, win]
            length = n_bins - int(rng.integers(0, n_bins // 8))  # shortest trial of the condition
            if is_dmfc:
                length = int(min(seg_len[members].min(), n_bins) if members.size else 10)
                psth[c, n_bins - length :] = mean[n_bins - length :]  # pad front
            else:
                psth[c, :length] = mean[:length]  # pad back
            idx.append(np.flatnonzero(cond[ev] == c).astype(np.int64))
        tgt["psth"] = psth
        cond_idx = np.empty(n_psth, dtype=object)
        cond_idx[:] = idx
        tgt["eval_cond_idx"] = cond_idx
        train_idx = np.empty(n_psth, dtype=object)
        train_idx[:] = [np.flatnonzero(cond[tr] == c).astype(np.int64) for c in range(n_psth)]
        tgt["train_cond_idx"] = train_idx

    pred = rates * np.exp(noise * rng.standard_normal(rates.shape))
    sub = {
        "train_rates_heldin": pred[tr, win, :n_in],
        "train_rates_heldout": pred[tr, win, n_in:],
        "eval_rates_heldin": pred[ev, win, :n_in],
        "eval_rates_heldout": pred[ev, win, n_in:].copy(),
    }
    # a few exact zeros where nothing fired: the official replaces them with 1e-9
    held_sp = np.nan_to_num(tgt["eval_spikes_heldout"], nan=1.0)
    zero_at = np.argwhere(held_sp == 0)[:3]
    sub["eval_rates_heldout"][tuple(zero_at.T)] = 0.0
    if forward:
        sub["eval_rates_heldin_forward"] = pred[ev, fwd, :n_in]
        sub["eval_rates_heldout_forward"] = pred[ev, fwd, n_in:]
    return {group: tgt}, {group: sub}


def all_groups_case(seed: int = 0, **kw) -> tuple[dict, dict]:
    """Targets and submission for every dataset at 5 and 20 ms (14 groups)."""
    targets: dict = {}
    subs: dict = {}
    for i, name in enumerate(DATASETS):
        for j, bw in enumerate((5, 20)):
            t, s = make_eval_case(name, bw, seed=seed + 10 * i + j, **kw)
            targets.update(t)
            subs.update(s)
    return targets, subs


def _compare(ours: list, ref: list, label: str) -> list[str]:
    errors = []
    ours_d = {k: v for entry in ours for k, v in entry.items()}
    ref_d = {k: v for entry in ref for k, v in entry.items()}
    if [next(iter(e)) for e in ours] != [next(iter(e)) for e in ref]:
        errors.append(f"{label}: group order {list(ours_d)} != {list(ref_d)}")
    for split, metrics in ref_d.items():
        got = ours_d.get(split, {})
        if list(got) != list(metrics):
            errors.append(f"{label}: {split}: metric keys {list(got)} != {list(metrics)}")
        for key, val in metrics.items():
            mine = got.get(key)
            if mine is None or not math.isclose(mine, val, rel_tol=0, abs_tol=TOL):
                errors.append(f"{label}: {split}: {key}: nlbtut {mine!r} != official {val!r}")
    return errors


@pytest.mark.reference
def test_evaluate_matches_official(tmp_path, ref_python, reference):
    cases = {}
    targets, subs = all_groups_case(seed=0)
    cases["all_groups"] = (targets, subs)
    # a partial submission: two groups only, one without forward rates
    t1, s1 = make_eval_case("mc_maze_medium", 20, seed=101, forward=False)
    t2, s2 = make_eval_case("area2_bump", 5, seed=102)
    cases["partial"] = ({**targets, **t1, **t2}, {**s1, **s2})
    # a poor submission (very noisy rates): negative co-bps, low R2
    t3, s3 = make_eval_case("mc_maze", 5, seed=103, noise=1.5)
    t4, s4 = make_eval_case("dmfc_rsg", 20, seed=104, noise=1.5)
    cases["noisy"] = ({**t3, **t4}, {**s3, **s4})

    manifest = []
    for label, (tgt, sub) in cases.items():
        tpath = save_submission(tgt, tmp_path / f"{label}_targets.h5")
        spath = save_submission(sub, tmp_path / f"{label}_submission.h5")
        manifest.append({"label": label, "targets": str(tpath), "submission": str(spath)})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    out = reference(ref_python, "ref_evaluate.py", tmp_path / "manifest.json")
    ref_results = json.loads(out.strip().splitlines()[-1])

    errors = []
    for item in manifest:
        label = item["label"]
        ours = evaluate(item["targets"], item["submission"])
        errors += _compare(ours, ref_results[label], label)
    assert not errors, "\n".join(errors)
    # the comparison covered every metric kind and the combined scaling groups
    splits = {k for entry in ref_results["all_groups"] for k in entry}
    assert {"mc_maze_scaling_split", "mc_maze_scaling_20_split", "dmfc_rsg_20_split"} <= splits
    scaling = next(e for e in ref_results["all_groups"] if "mc_maze_scaling_split" in e)
    assert {"[500] co-bps", "[250] vel R2", "[100] psth R2", "[100] fp-bps"} <= set(
        scaling["mc_maze_scaling_split"]
    )
