"""``nlbtut datasets`` and ``nlbtut download``: the registry and the DANDI download.

``nlbtut datasets`` prints the seven NLB'21 datasets (``--json`` for a machine-readable list);
``nlbtut download mc_maze_small [--cache-dir DIR] [--force]`` fetches a dataset's two NWB files
and prints the folder that holds them.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``datasets`` and ``download`` sub-commands."""
    p = subparsers.add_parser(
        "datasets",
        help="list the NLB'21 datasets",
        description="List the seven NLB'21 datasets: DANDI set, subject, neurons, trials, size.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_datasets)

    p = subparsers.add_parser(
        "download",
        help="download a dataset from DANDI",
        description=(
            "Download a dataset's train and test NWB files from the DANDI archive into "
            "<cache>/<dandiset>/sub-<Subject>/ (cache: --cache-dir, else $NLBTUT_DATA_DIR, "
            "else ~/.cache/nlbtut) and print that folder. Verified files are not downloaded "
            "again."
        ),
    )
    p.add_argument("dataset", help="dataset name, e.g. mc_maze_small (see `nlbtut datasets`)")
    p.add_argument("--cache-dir", default=None, help="download root (default: see above)")
    p.add_argument("--force", action="store_true", help="download even if the files are there")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_download)


def dataset_rows() -> list[dict]:
    """One dict per dataset with the columns of ``nlbtut datasets``."""
    from nlbtut.datasets import DATASETS

    rows = []
    for info in DATASETS.values():
        rows.append(
            {
                "name": info.name,
                "dandiset": f"{info.dandiset_id}/{info.dandiset_version}",
                "subject": info.subject,
                "heldin": info.n_heldin,
                "heldout": info.n_heldout,
                "train": info.n_train,
                "val": info.n_val,
                "test": info.n_test,
                "size_mb": round(info.dandiset_bytes / 1e6, 1),
                "prefix": info.prefix,
            }
        )
    return rows


def cmd_datasets(args: argparse.Namespace) -> int:
    rows = dataset_rows()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    header = ["dataset", "dandiset", "subject", "held-in/out", "train/val/test", "size MB"]
    table = [
        [
            r["name"],
            r["dandiset"],
            r["subject"],
            f"{r['heldin']}/{r['heldout']}",
            f"{r['train']}/{r['val']}/{r['test']}",
            f"{r['size_mb']:.1f}",
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    right = {3, 4, 5}

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    print(fmt(header))
    print(fmt(["-" * w for w in widths]))
    for row in table:
        print(fmt(row))
    print("\nsize: both NWB files of the dandiset. Download with `nlbtut download <dataset>`.")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from nlbtut.download import download_dataset

    folder = download_dataset(
        args.dataset, args.cache_dir, force=args.force, progress=not args.quiet
    )
    print(folder)
    return 0
