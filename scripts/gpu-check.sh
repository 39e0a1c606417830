#!/usr/bin/env bash
# On a machine with a GPU, after the README's install command: every GPU code path in <= 8 minutes,
# one table (benchmarks/gpu_check.py). Writes logs/gpu_check.json too.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout 480 python3 benchmarks/gpu_check.py --device "${DEVICE:-cuda}" --json logs/gpu_check.json "$@"
