"""``nlbtut autolfads``: train an AutoLFADS population on an NLB dataset folder.

The same command line runs on a laptop (a local Ray) and on a Ray cluster
(``--address auto`` on a cluster node, or ``RAY_ADDRESS``); see ``docs/cluster.md``.

Example::

    nlbtut autolfads --data-dir ~/.cache/nlbtut/000140/sub-Jenkins --dataset mc_maze_small \\
        --workers 8 --generations 20 --out runs/autolfads_small --cpus-per-worker 1
"""

from __future__ import annotations

import argparse

from nlbtut.cli._common import add_data_args, add_overrides_arg, add_quiet_arg, parse_overrides

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "autolfads",
        help="train an AutoLFADS population (PBT on Ray Tune) and export the best model",
        description=(
            "Population-based training of LFADS on Ray Tune. Runs on a local Ray unless "
            "--address (or RAY_ADDRESS) names a cluster. Writes OUT/pbt_history.csv and "
            "OUT/best_model (an LFADS run directory for `nlbtut infer` / `nlbtut run --model`)."
        ),
    )
    add_data_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", default="cpu", help="LFADS preset name or YAML file (default cpu)")
    p.add_argument(
        "--search-space", default="default", help="AutoLFADS search space name or YAML file"
    )
    p.add_argument("--workers", type=int, default=4, help="population size (default 4)")
    p.add_argument("--generations", type=int, default=20, help="maximum generations (default 20)")
    p.add_argument(
        "--epochs-per-generation", type=int, default=25, help="epochs per generation (default 25)"
    )
    p.add_argument(
        "--burn-in-epochs",
        type=int,
        default=None,
        help="extra epochs of generation 1 (default: ramp length)",
    )
    p.add_argument(
        "--quantile-fraction", type=float, default=0.25, help="fraction exploited per generation"
    )
    p.add_argument(
        "--patience", type=int, default=4, help="generations of the improvement rule (0: off)"
    )
    p.add_argument(
        "--min-improvement-ratio", type=float, default=5e-4, help="improvement-rule threshold"
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster address ('auto' on a cluster node); default $RAY_ADDRESS, else a local Ray",
    )
    p.add_argument(
        "--num-cpus", type=float, default=None, help="CPUs of a local Ray (default: all)"
    )
    p.add_argument(
        "--cpus-per-worker", type=float, default=1.0, help="CPUs per worker (fractions allowed)"
    )
    p.add_argument(
        "--gpus-per-worker", type=float, default=0.0, help="GPUs per worker (0.5 = two per GPU)"
    )
    p.add_argument(
        "--storage-path",
        default=None,
        help="checkpoint storage every node can reach (NFS path, s3://...)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_overrides_arg(p, example="batch_size=64")
    add_quiet_arg(p, help_text="no per-generation table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nlbtut.autolfads import run_autolfads
    from nlbtut.pipeline import load_nlb_tensors

    config = args.preset
    if args.overrides:
        from nlbtut.lfads import load_config

        config = load_config(args.preset, **parse_overrides(args.overrides))
    _, train, evald = load_nlb_tensors(args.data_dir, args.dataset, args.phase, args.bin_width)
    res = run_autolfads(
        train,
        evald,
        config=config,
        workers=args.workers,
        generations=args.generations,
        epochs_per_generation=args.epochs_per_generation,
        burn_in_epochs=args.burn_in_epochs,
        out=args.out,
        search_space=args.search_space,
        quantile_fraction=args.quantile_fraction,
        patience=args.patience,
        min_improvement_ratio=args.min_improvement_ratio,
        address=args.address,
        num_cpus=args.num_cpus,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        storage_path=args.storage_path,
        seed=args.seed,
        progress=not args.quiet,
    )
    print(
        f"best worker {res.best_trial_id}: smoothed val NLL {res.best_metric:.5f} after "
        f"{res.generations} generations ({res.stop_reason})"
    )
    print(f"best model: {res.best_run_dir}")
    print(f"history:    {res.history_csv}")
    print(
        f"next: nlbtut run --data-dir {args.data_dir} --dataset {args.dataset} --phase {args.phase} "
        f"--bin-width {args.bin_width} --model {res.best_run_dir} --out OUT"
    )
    return 0
