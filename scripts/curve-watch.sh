#!/usr/bin/env bash
# Learning curve of a training run: as each kept checkpoint appears, export it and evaluate it on
# mini-LAPE valid splits only (scripts/eval-curve.sh with --valid-only), pausing the run meanwhile.
#
#   bash scripts/curve-watch.sh RUN EVAL_ROOT TRAIN_PID STEP...
set -euo pipefail
RUN=$1; EVAL=$2; PID=$3; shift 3
for step in "$@"; do
  ck=$(printf "%s/checkpoints/step_%08d.pt" "$RUN" "$step")
  model=$(printf "%s/curve/step_%08d" "$RUN" "$step")
  while [[ ! -f "$ck" ]]; do
    kill -0 "$PID" 2>/dev/null || { echo "training process $PID ended before step $step"; exit 1; }
    sleep 20
  done
  [[ -f "$model/model.safetensors" ]] || slicer-embed export "$ck" "$model"
  EXTRA="--valid-only" PAUSE_PID=$PID bash scripts/eval-curve.sh "$EVAL" "$model"
done
