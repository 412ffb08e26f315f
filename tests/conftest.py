"""Shared fixtures.

* ``ref_python``: the Python of the reference environment that holds the
  official ``nlb-tools==0.0.4`` (made by ``make ref-env``). Parity tests run
  scripts from ``tests/reference/`` in it as subprocesses. Missing locally, the
  parity tests are skipped; under CI (``CI=true``) a missing reference
  environment is an error, so parity can never be skipped silently there.
* ``synthetic_dataset``: a factory that generates (once per session and
  preset) an NLB-format synthetic dataset and returns its folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


def _find_ref_python() -> Path | None:
    env = os.environ.get("NLBTUT_REF_PYTHON")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT / ".venv-ref" / "bin" / "python")
    for cand in candidates:
        if cand.exists():
            return cand
    return None


@pytest.fixture(scope="session")
def ref_python() -> Path:
    """Path of the reference environment's Python (official nlb_tools inside)."""
    path = _find_ref_python()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(
                "reference environment missing: run `make ref-env` (CI must not skip parity)"
            )
        pytest.skip("reference environment missing: run `make ref-env`")
    return path


def run_reference(ref_python: Path, script: str, *args: str, timeout: float = 900) -> str:
    """Run ``tests/reference/<script>`` in the reference env and return its stdout.

    The script runs with the repository's ``tests`` folder *not* on ``sys.path``
    (the nlb-tools wheel ships a top-level ``tests`` package of its own).
    """
    cmd = [str(ref_python), str(REFERENCE_DIR / script), *map(str, args)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REFERENCE_DIR), env=env
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"reference script {script} failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


@pytest.fixture(scope="session")
def reference():
    """``reference(ref_python, script, *args)`` runs a reference script (see run_reference)."""
    return run_reference


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    """Factory: ``synthetic_dataset(preset, seed=0) -> Path`` of the dataset folder.

    Generated once per (preset, seed) per test session.
    """
    from nlbtut.synthetic import generate_dataset

    cache: dict[tuple[str, int], Path] = {}

    def make(preset: str = "tiny", seed: int = 0) -> Path:
        key = (preset, seed)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"synth-{preset}-{seed}")
            cache[key] = Path(generate_dataset(preset, out, seed=seed, progress=False))
        return cache[key]

    return make


def dump_json(obj) -> str:
    return json.dumps(obj)


PYTHON = sys.executable
