#!/usr/bin/env bash
# The dependency floors, tested: build a virtual environment with the declared minimum of every runtime
# dependency (pyproject.toml [project].dependencies, read by scripts/floors.py: "torch>=2.4" installs
# torch==2.4), install this checkout into it without touching those pins, and run the inference tests
# plus a short --preset cpu training run there. CI runs it after the main suite (.ci/run).
#
#   bash scripts/check-floors.sh              # build (first time: ~2.5 GB of wheels, ~5 min) and test
#   bash scripts/check-floors.sh -x -q        # extra arguments go to pytest
#   bash scripts/check-floors.sh --print      # only print the requirements it installs, one a line
#
# The environment is kept in $SLICER_EMBED_FLOOR_VENV (default ~/.cache/slicer-embed/floor-venv) and
# rebuilt only when the floors change. On x86_64 Linux, PyPI's torch wheels are the CUDA build: the
# environment takes about 5 GB on disk even on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${SLICER_EMBED_FLOOR_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/slicer-embed/floor-venv}
FLOORS=$("$PY" scripts/floors.py)
# The inference tests that need only the runtime dependencies (plus pytest), and one training run.
TESTS=(
    tests/test_embed.py tests/test_default_model.py tests/test_hub.py tests/test_io.py tests/test_streaming.py
    tests/test_extract_outputs.py tests/test_extract_resume.py tests/test_extract_sources.py
    tests/test_extract_pooling.py tests/test_extract_precision.py tests/test_runtime.py tests/test_boundary.py
    tests/test_encoder.py tests/test_hear.py tests/test_kernels.py tests/test_cli_export.py tests/test_cli_info.py
    tests/test_cli_startup.py tests/test_train_cpu_preset.py
)
REQUIREMENTS=($FLOORS "pytest>=7.3" "setuptools>=68" wheel)
if [ "${1:-}" = "--print" ]; then
    printf '%s\n' "${REQUIREMENTS[@]}"
    exit 0
fi
STAMP="$VENV/.slicer-embed-floors"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$FLOORS" ]; then
    echo "check-floors: building $VENV with" $FLOORS >&2
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${REQUIREMENTS[@]}"
    echo "$FLOORS" > "$STAMP"
fi
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
# What was installed must be exactly the floors (a resolver that moved a pin would test something else).
"$VENV/bin/python" - "$FLOORS" <<'PY'
import sys
from importlib.metadata import version
from packaging.version import Version
pins = [pin.split("==") for pin in sys.argv[1].split()]
bad = [f"{name} {version(name)} (floor {want})" for name, want in pins if Version(version(name)) != Version(want)]
sys.exit("check-floors: installed versions are not the floors: " + ", ".join(bad) if bad else 0)
PY
"$VENV/bin/python" -c "import torch, numpy; print(f'check-floors: torch {torch.__version__}, numpy {numpy.__version__}')"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "${TESTS[@]}" "$@"
