"""The fast encoder's CPU kernels (training/speed/kernels.cpp) as torch ops, built with torch's extension mechanism.

``ops()`` returns ``torch.ops.slicer_embed_train`` (block1_forward, block1_backward, block1_moments,
pool_relu_forward, pool_relu_backward), compiling ``kernels.cpp`` with ``torch.utils.cpp_extension.load``
on first use: once per machine, torch version and compiler, cached under ``TORCH_EXTENSIONS_DIR``
(default ``~/.cache/torch_extensions``), about a minute on a 2-core machine; later processes load the
cached library in well under a second. It returns None where the kernels cannot be used: not built
(no C++ compiler, no ninja, a failed build) or disabled by ``SLICER_EMBED_NO_KERNEL=1``; the fast
encoder then runs the same maths with torch ops, which is slower and not the same bits. That is
announced once per process (a ``RuntimeWarning`` with the reason and the cost), never silently.

``build_info()`` is what a run records in its checkpoints and exported config (which path made the
weights, the torch version and the compiler): bit-exact resume holds on the same machine, torch and
build.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import torch

NAME = "slicer_embed_train"
SOURCE = Path(__file__).with_name("kernels.cpp")
# -ffp-contract=off: no FMA contraction (the kernels' rounding is written out, so that a build's results
# do not depend on the compiler or the instruction set: the same bits with and without -march=native,
# checked against the previous plain-C build); -march=native for speed only (block 1 forward + backward
# ~2.5x faster than the baseline x86-64 build; hence one build per CPU); -fopenmp: at::parallel_for's
# OpenMP backend is inline in torch's headers (the library binds to the libgomp torch already loaded)
CFLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-trapping-math", "-fopenmp"]
LDFLAGS = ["-fopenmp"]
# What a step costs without the kernels (docs/performance.md, "Training kernels"): told with the warning
COST = "slower: a --preset cpu step takes about 1.3x as long, docs/performance.md"

_lock = threading.Lock()
_state: dict[str, Any] = {"ops": None, "tried": False, "error": None, "announced": False}


def disabled() -> bool:
    """``SLICER_EMBED_NO_KERNEL`` set to anything but '' or '0'."""
    return os.environ.get("SLICER_EMBED_NO_KERNEL", "") not in ("", "0")


def ops() -> Any | None:
    """``torch.ops.slicer_embed_train``, built on first use; None where the kernels cannot be used here
    (announced once per process; ``error()`` says why)."""
    if disabled():
        _announce("disabled by SLICER_EMBED_NO_KERNEL")
        return None
    with _lock:
        if not _state["tried"]:
            _state["tried"] = True
            try:
                _state["ops"] = _load()
            except Exception as e:  # noqa: BLE001 - any build failure means: use the torch ops, and say so
                _state["error"] = f"{type(e).__name__}: {str(e).strip()[-800:]}"
    if _state["ops"] is None:
        _announce(_state["error"])
    return _state["ops"]


def error() -> str | None:
    """Why ``ops()`` returned None, if it did."""
    return "disabled by SLICER_EMBED_NO_KERNEL" if disabled() else _state["error"]


def _announce(reason: str | None) -> None:
    if _state["announced"]:
        return
    _state["announced"] = True
    warnings.warn(f"slicer-embed training kernels unavailable ({reason}): the fast encoder runs block 1 and the "
                  f"pools with torch ops instead (the same maths, not the same bits; {COST}). The run records "
                  f"this in its checkpoints and exported config (provenance 'builds').",
                  RuntimeWarning, stacklevel=3)


def compiler() -> str:
    """The C++ compiler cpp_extension uses (``$CXX`` or ``c++``) and its version line, '' if none."""
    return _compiler_line(os.environ.get("CXX", "c++"))


@functools.lru_cache(maxsize=None)
def _compiler_line(cxx: str) -> str:
    path = shutil.which(cxx)
    if path is None:
        return ""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return path
    return out.splitlines()[0].strip() if out else path


def build_root() -> Path:
    """``$TORCH_EXTENSIONS_DIR``, else ``torch_extensions`` in the user's cache (``$XDG_CACHE_HOME`` or ~/.cache)."""
    if os.environ.get("TORCH_EXTENSIONS_DIR"):
        return Path(os.environ["TORCH_EXTENSIONS_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "torch_extensions"


def _machine() -> str:
    """What -march=native depends on: the machine and the CPU's flags."""
    import platform

    from slicer_embed.runtime import cpu_flags
    return platform.machine() + " " + (" ".join(sorted(cpu_flags())) or platform.processor())


def _build_name() -> str:
    """One build per source, flags, torch version, compiler and CPU (the cache may be shared across them)."""
    key = "\n".join([SOURCE.read_text(encoding="utf-8"), " ".join(CFLAGS + LDFLAGS), torch.__version__, compiler(),
                     _machine()])
    return f"{NAME}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _load() -> Any:
    from torch.utils import cpp_extension

    if not compiler():
        raise RuntimeError(f"no C++ compiler ({os.environ.get('CXX', 'c++')}) on PATH")
    name = _build_name()
    folder = build_root() / name
    if not (folder / f"{name}.so").is_file():
        print(f"slicer-embed: building the training kernels ({SOURCE.name}, once per machine and torch version; "
              f"about a minute) in {folder}", file=sys.stderr, flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    cpp_extension.load(name=name, sources=[str(SOURCE)], extra_cflags=CFLAGS, extra_ldflags=LDFLAGS,
                       build_directory=str(folder), is_python_module=False, verbose=False)
    return torch.ops.slicer_embed_train


def build_info(fast_encoder: bool, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Which encoder path makes a run's weights, with what: for checkpoints and the exported provenance.

    ``encoder_path``: "module" (the plain nn.Module forward), "torch ops" (the fast encoder without the
    kernels) or "kernels" (the fast encoder with this build); ``torch``: its version; ``compiler``: the
    kernels' compiler (only when they are used)."""
    info: dict[str, Any] = {"torch": str(torch.__version__)}  # a plain str: checkpoints load weights_only
    if not fast_encoder:
        return {"encoder_path": "module", **info}
    if torch.device(device).type != "cpu" or ops() is None:
        return {"encoder_path": "torch ops", **info}
    return {"encoder_path": "kernels", **info, "compiler": compiler(), "flags": " ".join(CFLAGS)}
