"""Score HDF5 targets/submissions with the official nlb_tools (reference env, Python 3.9).

Usage: ``ref_evaluate.py MANIFEST.json`` where the manifest is a list of
``{"label", "targets", "submission"}`` (HDF5 paths). Prints one JSON line:
``{label: <output of nlb_tools.evaluation.evaluate>}``. The official function
is called with ``str`` paths, exactly as EvalAI did.
"""

import json
import logging
import sys

from nlb_tools.evaluation import evaluate

logging.disable(logging.WARNING)


def main(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    out = {}
    for item in manifest:
        results = evaluate(str(item["targets"]), str(item["submission"]))
        out[item["label"]] = [
            {split: {k: float(v) for k, v in metrics.items()}}
            for entry in results
            for split, metrics in entry.items()
        ]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
