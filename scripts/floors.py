"""Print the declared minimum of every runtime dependency as exact pins, one per line.

The floors come from ``[project].dependencies`` in pyproject.toml, the single source of truth:
``torch>=2.1`` prints ``torch==2.1``. A dependency without a ``>=`` floor is an error, so nothing
can be declared that scripts/check-floors.sh does not test.

    python3 scripts/floors.py [pyproject.toml]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*([0-9][A-Za-z0-9.]*)\s*$")


def floors(pyproject: Path) -> list[str]:
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = []
    for dep in deps:
        m = FLOOR.match(dep)
        if m is None:
            raise SystemExit(f"floors: {dep!r} in {pyproject} is not of the form 'name>=version': "
                             "every runtime dependency needs a floor that CI installs and tests")
        pins.append(f"{m.group(1)}=={m.group(2)}")
    return pins


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "pyproject.toml"
    print("\n".join(floors(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
