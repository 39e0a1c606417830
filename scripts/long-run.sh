#!/usr/bin/env bash
# Issue 22, item 4: one long run of the chosen recipe on the every-kind corpus and its learning curve.
# Trains (checkpoint every ~10 minutes, curve checkpoints kept at doubling steps), then exports every
# curve checkpoint and scores it on the out-of-domain benchmark's VALID splits and on mini-LAPE's valid
# splits (3 probe seeds each). No test split is read here. Resumable at every stage: re-running the
# script continues the run from its last checkpoint and skips finished exports and evaluations.
#
#   RECIPE="--rrc-freq-views 1" EPOCHS=14 nohup nice -n 5 bash scripts/long-run.sh runs/long > runs/long.log 2>&1 &
#   python scripts/summarize_curve.py --curve runs/long/eval-bench --baselines runs/recipes/eval-bench \
#       --tasks kws,speaker,instrument,pitch,chord,drums,sfx,broad --title "out-of-domain benchmark" ...
#
# CURVE_ONLY=1 skips training (evaluates the curve points there are); TRAIN_ONLY=1 skips the evaluations.
set -euo pipefail
RUN=${1:?usage: long-run.sh RUN_FOLDER}
RECIPE=${RECIPE:-}
EPOCHS=${EPOCHS:-14}
SEED=${SEED:-0}
KEEP=${KEEP:-150,300,600,1200,2400,4800,9600}
DATA=${DATA:-data/corpus2/manifest.csv}
BENCH=${BENCH:-data/benchmark}
ML=${MINILAPE:-data/minilape}
WEIGHTS=${WEIGHTS:-speech=1,music=1,env=1}
source "$(dirname "$0")/task-lists.sh"  # BTASKS, MTASKS

if [[ -z ${CURVE_ONLY:-} && ! -f $RUN/model/model.safetensors ]]; then
  resume=()
  compgen -G "$RUN/checkpoints/*.pt" > /dev/null && resume=(--resume)
  # ~700 steps is ~10 minutes on the 2-core machine (docs/performance.md)
  # shellcheck disable=SC2086
  slicer-embed train --data "$DATA" --out "$RUN" --preset cpu --domain-weights "$WEIGHTS" --epochs "$EPOCHS" \
    --checkpoint-every 700 --keep-checkpoints 2 --keep-steps "$KEEP" --progress false --seed "$SEED" \
    $RECIPE "${resume[@]}" >> "$RUN.train.log" 2>&1
fi
[[ -n ${TRAIN_ONLY:-} ]] && exit 0
last=$(ls "$RUN"/checkpoints/step_*.pt | tail -1)
for ck in "$RUN"/checkpoints/step_*.pt; do  # the curve steps, and the final step once the run is done
  step=$(basename "$ck" .pt)
  if [[ ,$KEEP, != *,$((10#${step#step_})),* ]] && ! [[ $ck == "$last" && -f $RUN/model/model.safetensors ]]; then
    continue
  fi
  model=$RUN/curve/$step
  [[ -f $model/model.safetensors ]] || slicer-embed export "$ck" "$model"
  for which in bench minilape; do
    tasks=$BTASKS; [[ $which == minilape ]] && tasks=$MTASKS
    [[ -z $tasks || -f $RUN/eval-$which/$step/results.json ]] && continue
    SLICER_EMBED_PRECISION=float32 slicer-embed eval --model "$model" --tasks "$tasks" --out "$RUN/eval-$which/$step" \
      --seeds 3 --valid-only --no-progress
  done
done
