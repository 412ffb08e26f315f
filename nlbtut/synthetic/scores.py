"""Ceiling and floor of a synthetic dataset: the oracle's and the smoothing baseline's scores.

The oracle submission (true rates) gives the best scores a model can expect;
the NLB spike-smoothing baseline gives the floor a latent-variable model must
beat. Both are scored with :func:`nlbtut.evaluation.evaluate` on the
validation phase, through the same loader and tensor code a model's
submission goes through.
"""

from __future__ import annotations

from pathlib import Path

from nlbtut.datasets import get_dataset_info, group_name

__all__ = ["reference_scores"]


def reference_scores(
    folder, dataset: str | None = None, *, bin_width: int = 5, progress: bool = False
) -> dict[str, dict[str, float]]:
    """Validation-phase scores of the oracle and of the smoothing baseline.

    Parameters
    ----------
    folder : str or Path
        Folder returned by :func:`generate_dataset`.
    dataset : str, optional
        NLB dataset name; default the one recorded in the ground truth.
    bin_width : int
        5 or 20 ms.

    Returns
    -------
    dict
        ``{"oracle": {metric: value}, "smoothing": {metric: value}}`` with the
        metrics of :func:`nlbtut.evaluation.evaluate` (co-bps, vel R2 or tp corr,
        psth R2, fp-bps), scaling-set prefixes removed.

    Example
    -------
    >>> reference_scores(folder)["oracle"]["co-bps"]  # doctest: +SKIP
    0.42
    """
    from nlbtut.baselines import smoothing_baseline
    from nlbtut.evaluation import evaluate
    from nlbtut.nwb import NWBDataset
    from nlbtut.tensors import (
        make_eval_input_tensors,
        make_eval_target_tensors,
        make_train_input_tensors,
    )

    from .truth import load_ground_truth, oracle_submission

    folder = Path(folder)
    truth = load_ground_truth(folder)
    name = dataset or truth["dataset"]
    info = get_dataset_info(name)
    skip = ["joint_ang", "joint_vel", "muscle_len", "muscle_vel"] if name == "area2_bump" else []
    ds = NWBDataset(Path(truth["path"]).parent, info.prefix, skip_fields=skip)
    ds.resample(bin_width)
    train = make_train_input_tensors(ds, name, "train", save_file=False, include_forward_pred=True)
    evl = make_eval_input_tensors(ds, name, "val", save_file=False)
    targets = make_eval_target_tensors(
        ds, name, "train", "val", save_file=False, include_psth=name != "mc_rtt"
    )
    subs = {
        "oracle": oracle_submission(folder, "val", bin_width),
        "smoothing": smoothing_baseline(train, evl, name, bin_width=bin_width, progress=progress),
    }
    group = group_name(name, bin_width)
    out = {}
    for label, sub in subs.items():
        res = evaluate(targets, {group: sub[group]})
        metrics = next(iter(res[0].values()))
        out[label] = {k.split("] ")[-1]: float(v) for k, v in metrics.items()}
    return out
