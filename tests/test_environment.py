"""``environment.yml`` (conda) stays in step with ``pyproject.toml``.

Conda cannot run here (no conda, no conda channels), so the file is checked statically: its
Python satisfies ``requires-python``; every runtime and extra dependency of ``pyproject.toml`` is
in its pip section, with the same extras and a range that allows nothing ``pyproject.toml``
forbids, and that admits the exact version CI tests (``requirements/constraints.txt``); it names
nothing ``pyproject.toml`` does not; and it installs the package itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pyproject_requirements() -> dict[str, Requirement]:
    project = pyproject()["project"]
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    out: dict[str, Requirement] = {}
    for text in reqs:
        req = Requirement(text)
        if canonicalize_name(req.name) == "nlbtut":  # self-references between extras
            continue
        out[canonicalize_name(req.name)] = req
    return out


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def conda_and_pip(env: dict) -> tuple[list[str], list[str]]:
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
        else:
            conda.append(str(dep))
    return conda, pip


def constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            pins[canonicalize_name(m[1])] = Version(m[2])
    return pins


def _probes(*specs: SpecifierSet) -> list[Version]:
    """Versions around every bound of ``specs``: enough to tell two simple ranges apart."""
    probes = {Version("0.0.1"), Version("99999")}
    for spec in specs:
        for s in spec:
            v = Version(s.version.replace(".*", ""))
            major, minor, micro = [*v.release, 0, 0][:3]
            probes |= {v, Version(f"{major + 1}"), Version(f"{major}.{minor + 1}")}
            probes |= {Version(f"{major}.{minor}.{micro + 1}")}
            if micro:
                probes.add(Version(f"{major}.{minor}.{micro - 1}"))
            if minor:
                probes.add(Version(f"{major}.{minor - 1}.99"))
            if major:
                probes.add(Version(f"{major - 1}.99"))
    return sorted(probes)


def range_problem(env_spec: SpecifierSet, project_spec: SpecifierSet) -> str | None:
    """Why ``env_spec`` is not a non-empty sub-range of ``project_spec`` (None if it is)."""
    probes = _probes(env_spec, project_spec)
    allowed = [v for v in probes if env_spec.contains(v, prereleases=False)]
    if not allowed:
        return f"{env_spec or '(any)'} allows no version"
    wider = [v for v in allowed if not project_spec.contains(v, prereleases=False)]
    if wider:
        return f"{env_spec or '(any)'} allows {wider[0]}, which {project_spec} forbids"
    return None


def test_range_check_can_fail():
    assert range_problem(SpecifierSet(">=1.26"), SpecifierSet(">=1.26")) is None
    assert range_problem(SpecifierSet(">=2.0,<3"), SpecifierSet(">=1.26")) is None
    assert range_problem(SpecifierSet(">=1.20"), SpecifierSet(">=1.26")) is not None
    assert range_problem(SpecifierSet(">=1.0.4"), SpecifierSet(">=1.0.4,<2")) is not None
    assert range_problem(SpecifierSet(""), SpecifierSet(">=6.0")) is not None
    assert range_problem(SpecifierSet(">=3,<2"), SpecifierSet("")) is not None


def test_environment_basics():
    env = environment()
    assert env["name"] == "nlbtut"
    conda, pip = conda_and_pip(env)
    assert "pip" in conda
    assert "-e ." in pip, "environment.yml must install the package itself (`- -e .`)"


def test_python_satisfies_requires_python():
    conda, _ = conda_and_pip(environment())
    pythons = [d for d in conda if re.match(r"^python\s*[=<>]", d)]
    assert len(pythons) == 1, f"one python pin expected, got {pythons}"
    version = re.sub(r"^python\s*=*\s*", "", pythons[0]).rstrip(".*")
    assert version == "3.11", f"the book and CI use Python 3.11, environment.yml has {version}"
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    for v in (f"{version}.0", f"{version}.99"):
        assert requires.contains(v), f"requires-python {requires} excludes Python {v}"


def test_every_pyproject_dependency_is_in_environment_yml_with_a_compatible_range():
    _, pip = conda_and_pip(environment())
    env_reqs = {
        canonicalize_name(Requirement(line).name): Requirement(line)
        for line in pip
        if not line.startswith("-")
    }
    project = pyproject_requirements()
    pins = constraints()
    problems = []
    for name, req in project.items():
        env_req = env_reqs.get(name)
        if env_req is None:
            problems.append(f"{req} is missing")
            continue
        if not set(req.extras) <= set(env_req.extras):
            problems.append(f"{env_req}: lacks the extras {sorted(req.extras)}")
        why = range_problem(env_req.specifier, req.specifier)
        if why:
            problems.append(f"{env_req}: {why}")
        if name in pins and not env_req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{env_req}: excludes {pins[name]}, the version CI tests")
    for name in sorted(set(env_reqs) - set(project)):
        problems.append(f"{env_reqs[name]} is not a dependency in pyproject.toml")
    assert problems == [], "environment.yml vs pyproject.toml:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", ["numpy", "tensorflow", "jupyter-book"])
def test_known_dependencies_are_checked(name):
    """The parser really sees pyproject's dependencies (guards against an empty comparison)."""
    assert canonicalize_name(name) in pyproject_requirements()
