"""``nlbtut synth``: generate a synthetic NLB-format dataset and print its ceiling and floor.

``nlbtut synth --preset mc_maze_small --out data/synthetic --seed 0`` writes the
NWB files in the DANDI layout (``<out>/<dandiset>/sub-<Subject>/``) plus the
ground truth, prints the folder, then the validation-phase scores of the
oracle (true rates: the ceiling) and of the smoothing baseline (the floor);
``--no-eval`` skips the scoring.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` sub-command."""
    from nlbtut.synthetic.presets import SYNTHETIC_PRESETS

    p = subparsers.add_parser(
        "synth",
        help="generate a synthetic NLB-format dataset with known rates",
        description=(
            "Generate a synthetic dataset in the exact DANDI layout and naming of an NLB'21 "
            "dataset (spikes drawn from known latent dynamics, ground truth kept in "
            "ground_truth.h5), then print the oracle's and the smoothing baseline's scores. "
            f"Presets: {', '.join(SYNTHETIC_PRESETS)}."
        ),
    )
    p.add_argument("--preset", required=True, help="preset name, e.g. mc_maze_small or tiny")
    p.add_argument("--out", required=True, help="output root (the DANDI layout goes below it)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset of another preset/seed in the same place",
    )
    p.add_argument("--no-eval", action="store_true", help="do not score the oracle and baseline")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_synth)


def cmd_synth(args: argparse.Namespace) -> int:
    from nlbtut.synthetic import generate_dataset, get_preset

    preset = get_preset(args.preset)
    folder = generate_dataset(
        preset.name, args.out, seed=args.seed, overwrite=args.overwrite, progress=not args.quiet
    )
    print(f"synthetic {preset.name} (as {preset.dataset}, seed {args.seed}): {folder}")
    if args.no_eval:
        return 0
    from nlbtut.synthetic.scores import reference_scores

    scores = reference_scores(folder, preset.dataset, progress=not args.quiet)
    metrics = list(dict.fromkeys(k for s in scores.values() for k in s))
    print(f"validation-phase scores, 5 ms bins ({preset.dataset}):")
    print(f"  {'':10s}" + "".join(f"{m:>10s}" for m in metrics))
    for label, tag in (("oracle", "ceiling"), ("smoothing", "floor")):
        row = "".join(f"{scores[label].get(m, float('nan')):10.4f}" for m in metrics)
        print(f"  {label:10s}{row}   ({tag})")
    return 0
