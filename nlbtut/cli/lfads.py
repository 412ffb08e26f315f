"""``nlbtut run``, ``nlbtut train`` and ``nlbtut infer``: LFADS on an NLB dataset.

``nlbtut run --data-dir DIR --dataset NAME [--phase val|test] [--preset cpu] --out OUT [--model RUN]``
trains LFADS (or reuses ``--model``), writes ``OUT/submission.h5`` and, for ``val``,
``OUT/metrics.json``. ``nlbtut train`` only trains (into ``--out``, a run directory
that resumes if interrupted); ``nlbtut infer --model RUN`` only samples and writes
the submission. ``--set key=value`` overrides any config value (repeatable).
"""

from __future__ import annotations

import argparse
from typing import Any

from nlbtut.cli._common import add_data_args, add_overrides_arg, add_quiet_arg, parse_overrides

__all__ = ["register", "parse_overrides", "cmd_run", "cmd_infer", "cmd_train"]


def _common(p: argparse.ArgumentParser, *, preset: bool = True) -> None:
    add_data_args(p)
    if preset:
        p.add_argument(
            "--preset", default="cpu", help="LFADS preset name or YAML file (default: cpu)"
        )
    p.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    add_overrides_arg(p)
    add_quiet_arg(p)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run``, ``train`` and ``infer`` sub-commands."""
    p = subparsers.add_parser(
        "run",
        help="train LFADS on a dataset and write its submission (and scores for val)",
        description=(
            "Load an NLB dataset, train LFADS with a preset (or reuse --model), sample the "
            "posterior, write OUT/submission.h5 and, in the val phase, OUT/metrics.json."
        ),
    )
    _common(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--model", default=None, help="a trained run directory to reuse instead of training"
    )
    p.add_argument("--n-samples", type=int, default=None, help="posterior samples (default 50)")
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser(
        "train",
        help="train LFADS on a dataset (resumes an interrupted run in the same folder)",
        description=(
            "Load an NLB dataset and train LFADS into the run directory --out (config.yaml, "
            "run.json, history.csv, checkpoints/, model/). Running it again on the same folder "
            "continues from the last checkpoint with the run's own config.yaml: a different "
            "model or seed is refused, other changed settings are ignored with a warning."
        ),
    )
    _common(p)
    p.add_argument("--out", required=True, help="run directory")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser(
        "infer",
        help="sample a trained LFADS model's posterior and write the submission",
        description=(
            "Posterior sample-and-average of a trained run directory on a dataset; writes "
            "OUT/submission.h5 and, in the val phase, OUT/metrics.json."
        ),
    )
    _common(p, preset=False)
    p.add_argument("--model", required=True, help="trained run directory")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n-samples", type=int, default=None, help="posterior samples (default 50)")
    p.set_defaults(func=cmd_infer)


def _print_result(result: dict[str, Any]) -> None:
    print(f"wrote {result['submission']}")
    if result["metrics"]:
        print("metrics (val phase):")
        for k, v in result["metrics"].items():
            print(f"  {k:10s} {v:.4f}")
        print(f"saved to {result['out'] / 'metrics.json'}")


def cmd_run(args: argparse.Namespace) -> int:
    """``nlbtut run`` and ``nlbtut infer`` (which has ``--model`` and no ``--preset``)."""
    from nlbtut.pipeline import run_pipeline

    result = run_pipeline(
        args.data_dir,
        args.dataset,
        phase=args.phase,
        preset=getattr(args, "preset", "cpu"),
        out=args.out,
        model=args.model,
        bin_width=args.bin_width,
        seed=args.seed,
        overrides=parse_overrides(args.overrides),
        n_samples=args.n_samples,
        progress=not args.quiet,
    )
    _print_result(result)
    return 0


cmd_infer = cmd_run


def cmd_train(args: argparse.Namespace) -> int:
    from nlbtut.lfads import format_lfads_data, load_config, train_lfads
    from nlbtut.pipeline import load_nlb_tensors

    over = parse_overrides(args.overrides)
    if args.seed is not None:
        over["seed"] = args.seed
    config = load_config(args.preset, **over)
    _, train_input, eval_input = load_nlb_tensors(
        args.data_dir, args.dataset, args.phase, args.bin_width
    )
    data = format_lfads_data(train_input, eval_input, valid_ratio=config.train.valid_ratio)
    trainer = train_lfads(config, data, args.out, progress=not args.quiet)
    print(
        f"trained {trainer.epoch} epochs ({trainer.stop_reason}); best epoch {trainer.best_epoch}"
    )
    print(f"run directory: {trainer.run_dir}")
    return 0
