"""``nlbtut evaluate`` and ``nlbtut baseline``: score a submission, run a baseline.

``nlbtut evaluate TARGETS.h5 SUBMISSION.h5 [--json]`` prints the official
metrics (a table, or the ``evaluate`` output as JSON). TARGETS can be a
``make_eval_target_tensors`` file or the public test-phase ``eval_data_test.h5``.

``nlbtut baseline {smoothing,fa} --data-dir DIR --dataset NAME [--phase val|test]
[--bin-width 5] --out submission.h5`` loads the NWB files, builds the tensors,
runs the baseline and writes the submission; in the val phase it also builds
the eval targets and prints (and saves next to the submission) the scores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nlbtut.cli._common import add_data_args, add_quiet_arg

BASELINES = {"smoothing": "smoothing_baseline", "fa": "factor_analysis_baseline"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``baseline`` sub-commands."""
    p = subparsers.add_parser(
        "evaluate",
        help="score a submission with the official NLB metrics",
        description=(
            "Score a submission HDF5 file against eval targets (a make_eval_target_tensors "
            "file, or the public test-phase eval_data_test.h5 from the nlb_tools repository) "
            "with the official NLB'21 metrics: co-bps, vel R2, psth R2, fp-bps, tp corr."
        ),
    )
    p.add_argument("targets", help="eval targets HDF5 file")
    p.add_argument("submission", help="submission HDF5 file")
    p.add_argument("--json", action="store_true", help="print the evaluate() output as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser(
        "baseline",
        help="run the smoothing or factor-analysis baseline on NWB files",
        description=(
            "Load a dataset's NWB files, build the benchmark tensors, run a baseline and write "
            "its submission. In the val phase the eval targets are built too and the scores "
            "are printed and saved as <out>.scores.json."
        ),
    )
    p.add_argument("method", choices=sorted(BASELINES), help="smoothing or fa (factor analysis)")
    add_data_args(p)
    p.add_argument("--out", required=True, help="submission HDF5 file to write")
    p.add_argument("--kern-sd", type=float, default=None, help="smoothing kernel sd in ms")
    p.add_argument("--alpha", type=float, default=None, help="GLM L2 penalty")
    p.add_argument("--n-factors", type=int, default=None, help="factors (fa only)")
    add_quiet_arg(p)
    p.set_defaults(func=cmd_baseline)


def format_results(results: list) -> str:
    """The evaluate() output as an aligned text table."""
    from nlbtut.evaluation import results_table

    table = results_table(results)
    if table.empty:
        return "no group of the submission could be scored"
    return table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nlbtut.evaluation import evaluate

    results = evaluate(Path(args.targets), Path(args.submission))
    print(json.dumps(results, indent=1) if args.json else format_results(results))
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from nlbtut import baselines
    from nlbtut.datasets import get_dataset_info
    from nlbtut.pipeline import load_nlb_tensors, make_nlb_targets
    from nlbtut.submission import save_submission

    ds, train_input, eval_input = load_nlb_tensors(
        args.data_dir, args.dataset, args.phase, args.bin_width
    )
    kwargs = {"bin_width": args.bin_width, "kern_sd": args.kern_sd, "alpha": args.alpha,
              "progress": not args.quiet}  # fmt: skip
    if args.method == "fa":
        kwargs["n_factors"] = args.n_factors
    dataset = get_dataset_info(args.dataset).name  # the canonical name (validated above)
    sub = getattr(baselines, BASELINES[args.method])(train_input, eval_input, dataset, **kwargs)
    out = save_submission(sub, args.out)
    print(f"wrote {out}")
    if args.phase == "val":
        from nlbtut.evaluation import evaluate

        targets = make_nlb_targets(ds, dataset, args.phase)
        results = evaluate(targets, sub)
        scores = out.with_name(out.stem + ".scores.json")
        tmp = scores.with_name(scores.name + ".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(scores)
        print(format_results(results))
        print(f"scores saved to {scores}")
    else:
        print(
            "test phase: score it with `nlbtut evaluate eval_data_test.h5 "
            f"{out}` (eval_data_test.h5: the public test targets in the nlb_tools repository)"
        )
    return 0
