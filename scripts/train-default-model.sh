#!/usr/bin/env bash
# Train the four recipes of the 300-step comparison (docs/history.md, 2026-11-30) on the offline corpus, at equal steps, one
# CPU thread each (they run side by side on a 2-core machine). Resumable: re-running the script
# continues every unfinished run from its last checkpoint.
#
#   slicer-embed data corpus data/corpus        # ~19 h of audio, ~6 min
#   bash scripts/train-default-model.sh [STEPS]  # default 300 steps of 64 clips per recipe
#   LONG=900 bash scripts/train-default-model.sh # then one 900-step run of the full recipe (runs/slicer_long)
#   LONG=900 RECIPE=no_kmix bash scripts/train-default-model.sh   # ... of another recipe (runs/no_kmix_long)
set -euo pipefail
STEPS=${1:-300}
DATA=${DATA:-data/corpus/manifest.csv}
RUNS=${RUNS:-runs}
# Short-budget CPU recipe of that comparison (docs/history.md): the `default` preset (SLICER with the reference's
# artefacts fixed, bf16 + channels-last) with AdamW, cosine schedule, a queue sized for batch 64
# and a faster EMA, because a few hundred steps is all a CPU gives in an hour.
COMMON=(--preset default --batch-size 64 --optimizer adamw --lr 1e-3 --weight-decay 1e-4
        --lr-schedule cosine --warmup-steps 50 --queue-size 8192 --ema-momentum 0.99
        --num-workers 1 --max-steps "$STEPS" --checkpoint-every 50 --keep-checkpoints 10 --log-every 10 --progress false --seed 0)
declare -A RECIPES=(
  [slicer]=""
  [no_kmix]="--augmentations mixup,rrc"
  [no_cluster]="--cluster-weight 0"
  [mixup_rrc_instance]="--augmentations mixup,rrc --cluster-weight 0"
)
mkdir -p "$RUNS"
if [[ -n "${LONG:-}" ]]; then  # one longer run of one recipe, same settings otherwise
  name=${RECIPE:-slicer}
  resume=()
  compgen -G "$RUNS/${name}_long/checkpoints/*.pt" > /dev/null && resume=(--resume)
  COMMON=("${COMMON[@]/#$STEPS/$LONG}")
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 slicer-embed train --data "$DATA" --out "$RUNS/${name}_long" "${COMMON[@]}" ${RECIPES[$name]} \
    "${resume[@]}" > "$RUNS/${name}_long.log" 2>&1 &
  echo $! >> "$RUNS/pause.pids"
  wait
  exit 0
fi
: > "$RUNS/pause.pids"
for name in slicer no_kmix no_cluster mixup_rrc_instance; do
  resume=()
  compgen -G "$RUNS/$name/checkpoints/*.pt" > /dev/null && resume=(--resume)
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 slicer-embed train --data "$DATA" --out "$RUNS/$name" "${COMMON[@]}" ${RECIPES[$name]} "${resume[@]}" \
    > "$RUNS/$name.log" 2>&1 &
  echo $! >> "$RUNS/pause.pids"
done
wait
