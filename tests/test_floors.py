"""The dependency floors CI tests are the ones pyproject.toml declares (scripts/check-floors.sh).

pyproject's ``[project].dependencies`` is the single source: every runtime dependency has a ``>=``
floor, and the floor environment installs exactly those versions, nothing newer.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def declared_floors(pyproject: Path) -> dict[str, str]:
    floors = {}
    for dep in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        req = Requirement(dep)
        specs = list(req.specifier)
        assert [s.operator for s in specs] == [">="], f"{dep}: a runtime dependency needs exactly one '>=' floor"
        floors[canonicalize_name(req.name)] = specs[0].version
    return floors


def test_check_floors_installs_the_declared_floors_exactly():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "check-floors.sh"), "--print"], capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    pins = {}
    for line in out:
        req = Requirement(line)
        if canonicalize_name(req.name) in {"pytest", "setuptools", "wheel"}:
            continue  # the test runner and the build backend, not runtime dependencies
        (spec,) = req.specifier
        assert spec.operator == "==", line
        pins[canonicalize_name(req.name)] = spec.version
    assert pins == declared_floors(ROOT / "pyproject.toml")


def test_a_dependency_without_a_floor_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["torch>=2.4", "numpy"]\n')
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "floors.py"), str(tmp_path / "pyproject.toml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "'numpy'" in r.stderr and "name>=version" in r.stderr


@pytest.mark.parametrize("dep", ["numpy<3,>=1.24", "numpy~=1.24"])
def test_a_floor_with_other_clauses_is_refused(tmp_path, dep):
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\ndependencies = ["{dep}"]\n')
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "floors.py"), str(tmp_path / "pyproject.toml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
