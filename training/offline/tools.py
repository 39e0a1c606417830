"""External programs the builders call (sox-free: only synthesis and rendering tools)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Sequence

INSTALL_HINT = "run scripts/install-audio-tools.sh as root (or: slicer-embed data install-tools)"


class ToolMissingError(RuntimeError):
    """A required external program is not on PATH."""


def require_tools(*names: str) -> None:
    """Raise ToolMissingError naming every missing program and how to install it."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise ToolMissingError(f"missing program(s): {', '.join(missing)}; {INSTALL_HINT}")


def run(cmd: Sequence[str], *, input: bytes | None = None, timeout: float = 120.0) -> bytes:
    """Run ``cmd``, return stdout; raise RuntimeError with the command and its stderr on failure."""
    try:
        p = subprocess.run(list(cmd), input=input, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as e:
        raise ToolMissingError(f"{cmd[0]} not found; {INSTALL_HINT}") from e
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()[-500:]
        raise RuntimeError(f"command failed ({p.returncode}): {' '.join(cmd)}\n{err}")
    return p.stdout
