#!/usr/bin/env bash
# Evaluate models on the six mini-LAPE tasks (LAPE linear protocol, 3 probe seeds), one after another.
#
#   bash scripts/eval-curve.sh OUT_ROOT MODEL...     # MODEL: folder, logmel or random -> OUT_ROOT/<tag>/
#
# EXTRA="--valid-only" scores the valid splits only (model selection; the test splits stay unread).
# PAUSE_PID=PID stops that process (a training run) during each evaluation and continues it after:
# two jobs on two cores with OpenMP threads each run ~5x slower than one after the other.
set -euo pipefail
OUT=$1; shift
M=${MINILAPE:-data/minilape}
TASKS=$M/kws,$M/speaker,$M/language,$M/instrument,$M/expression,$M/bird
resume() { [[ -n "${PAUSE_PID:-}" ]] && kill -CONT "$PAUSE_PID" 2>/dev/null || true; }
trap resume EXIT
for m in "$@"; do
  tag=$(basename "$m"); [[ "$tag" == model ]] && tag=$(basename "$(dirname "$m")")
  [[ -f "$OUT/$tag/results.json" ]] && { echo "skip $tag (done)"; continue; }
  [[ -n "${PAUSE_PID:-}" ]] && kill -STOP "$PAUSE_PID" 2>/dev/null || true
  SLICER_EMBED_PRECISION=float32 slicer-embed eval --model "$m" --tasks "$TASKS" \
    --out "$OUT/$tag" --seeds 3 --no-progress ${EXTRA:-}
  resume
done
