"""Plain-C training kernels: compiled once per machine with the system C compiler, loaded with ctypes.

``CLibrary(name, source, signatures).load()`` builds ``source`` with ``cc -O3 -march=native -fopenmp``
into ``~/.cache/slicer-embed/kernels/NAME-HASH.so`` (the hash covers the source, the flags, the CPU's
flags and the compiler, so a shared cache never hands an AVX-512 build to another CPU) and returns the
library, or None where it cannot be built (no compiler, a failed build; ``error()`` says why). Callers
then use their torch-ops path. ``SLICER_EMBED_NO_KERNEL=1`` disables every kernel. ctypes releases the
GIL during a call.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

# -std=c99 (not gnu99) keeps GCC from contracting a * b + c into an FMA: the kernels' rounding is
# written out, so that they reproduce torch's results bit for bit
FLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fopenmp", "-shared", "-fPIC", "-std=c99"]
# bfloat16 <-> float32 for every kernel's source (prepend it): bf16_bits rounds as c10::BFloat16 does
# (nearest even, NaN to 0x7FC0), so a kernel writing bf16 equals torch's cast of its float32 result;
# bf16_bits_finite skips the NaN test
BF16_C = r"""
#include <stdint.h>
#include <string.h>

static inline float bf16_value(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* for values that cannot be NaN: the NaN test costs a vectorised loop dearly (block 1's forward 3.0 -> 5.0 ms) */
static inline uint16_t bf16_bits_finite(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline uint16_t bf16_bits(float f) {
    return f != f ? 0x7FC0u : bf16_bits_finite(f);
}
"""
_CTYPES = {"p": ctypes.c_void_p, "i": ctypes.c_int, "l": ctypes.c_long, "f": ctypes.c_float}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "slicer-embed" / "kernels"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _build(source: str, path: Path) -> None:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler (cc, gcc or clang) on PATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        src, lib = Path(tmp) / "kernel.c", Path(tmp) / "kernel.so"
        src.write_text(source, encoding="utf-8")
        done = subprocess.run([cc, *FLAGS, str(src), "-o", str(lib)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{cc} failed: {done.stderr.strip()[-500:]}")
        os.replace(lib, path)  # atomic: a concurrent builder never loads a half-written library


@functools.cache
def _machine_key() -> str:
    """What -march=native depends on: the CPU's flags, the machine and the compiler."""
    import platform

    from slicer_embed.runtime import cpu_flags
    flags = " ".join(sorted(cpu_flags())) or platform.processor()
    cc = _compiler() or ""
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=10).stdout if cc else ""
    except (OSError, subprocess.SubprocessError):
        version = ""
    return "|".join([platform.machine(), flags, cc, version.splitlines()[0] if version else ""])


class CLibrary:
    """One C source and its functions' signatures: {"name": "p i f"} (pointer, int, long, float args;
    every function returns void). Built and loaded at the first ``load()``, once per process."""

    def __init__(self, name: str, source: str, signatures: dict[str, str]):
        self.name, self.source, self.signatures = name, source, signatures
        self._lock = threading.Lock()
        self._lib: ctypes.CDLL | None = None
        self._tried = False
        self._error: str | None = None

    def load(self) -> ctypes.CDLL | None:
        """The compiled library, or None if it cannot be built here (see ``error()``) or is disabled."""
        if os.environ.get("SLICER_EMBED_NO_KERNEL", "") not in ("", "0"):
            return None
        with self._lock:
            if self._tried:
                return self._lib
            self._tried = True
            key = hashlib.sha256((self.source + " ".join(FLAGS) + _machine_key()).encode()).hexdigest()[:16]
            path = cache_dir() / f"{self.name}-{key}.so"
            try:
                if not path.is_file():
                    _build(self.source, path)
                lib = ctypes.CDLL(str(path))
                for fn, args in self.signatures.items():
                    getattr(lib, fn).argtypes = [_CTYPES[a] for a in args.split()]
                    getattr(lib, fn).restype = None
            except (OSError, RuntimeError, subprocess.SubprocessError, AttributeError) as e:
                self._error = str(e)
                return None
            self._lib = lib
            return lib

    def error(self) -> str | None:
        """Why ``load()`` returned None, if it did."""
        return self._error
