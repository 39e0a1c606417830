"""Packaging: every package folder is listed in pyproject.toml, and a built wheel carries what it must."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path


ROOT = Path(__file__).parent.parent


def listed_packages():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(cfg["tool"]["setuptools"]["packages"]), cfg


def test_every_package_folder_is_listed():
    listed, _ = listed_packages()
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "slicer_embed").rglob("__init__.py")}
    found |= {"slicer_embed." + ".".join(p.parent.relative_to(ROOT).parts)
              for p in (ROOT / "training").rglob("__init__.py")}
    found = {f for f in found if "__pycache__" not in f}
    assert found == listed, f"add to / remove from pyproject packages: {sorted(found ^ listed)}"


def test_runtime_dependencies_have_lower_bounds_only():
    _, cfg = listed_packages()
    for dep in cfg["project"]["dependencies"]:
        assert ">=" in dep and "==" not in dep and "<" not in dep.replace("<=", "") , dep


def test_wheel_contents(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                        str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wheel = next(tmp_path.glob("slicer_embed-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "slicer_embed/training/__init__.py" in names and not any(n.startswith("training/") for n in names)
    assert "slicer_embed/training/speed/kernels.cpp" in names  # package data: native.py compiles it on first use
    assert "slicer_embed/py.typed" in names and "slicer_embed/hear.py" in names
    bundled = ROOT / "slicer_embed" / "weights" / "model.safetensors"
    if bundled.is_file():  # the default model travels in the wheel, readable by every user
        zf = zipfile.ZipFile(wheel)
        for name in ("slicer_embed/weights/model.safetensors", "slicer_embed/weights/config.json",
                     "slicer_embed/MODEL_CARD.md"):
            assert name in names, name
            assert (zf.getinfo(name).external_attr >> 16) & 0o044 == 0o044, name
        assert zf.getinfo("slicer_embed/weights/model.safetensors").file_size == bundled.stat().st_size
