#!/usr/bin/env bash
# Issue 22, item 4: three recipes x two training seeds at equal crops on the every-kind corpus, each
# scored on the out-of-domain benchmark's VALID splits (the choice) and on mini-LAPE's valid splits
# (the in-domain view), 3 probe seeds. No test split is read here. Resumable: re-running continues
# every unfinished run from its last checkpoint and skips finished evaluations.
#
#   slicer-embed data corpus data/corpus2 && slicer-embed data benchmark data/benchmark
#   slicer-embed data minilape data/minilape
#   STEPS=1200 nohup nice -n 5 bash scripts/compare-recipes.sh > runs/recipes.log 2>&1 &
#
# Recipes (all: --preset cpu, the new corpus with one third of each pass's crops per domain):
#   today   BYOL-A's random resize crop stretching frequency in both views (the shipped recipe)
#   freq1   the frequency stretch in view 1 only: view 2 keeps every partial in its band
#   nofreq  no frequency stretch (time crop and stretch only)
#   nofreq_sp2  nofreq with twice the speech crops (speech=2,music=1,env=1: half of a pass is speech);
#           its --domain-weights comes after $WEIGHTS on the command line, and the last one counts
#   nofreq_env2  nofreq with twice the effects crops (speech=1,music=1,env=2), the lever for sfx
set -euo pipefail
STEPS=${STEPS:-1200}
SEEDS=${SEEDS:-"0 1"}
NAMES=${NAMES:-"today freq1 nofreq"}
DATA=${DATA:-data/corpus2/manifest.csv}
BENCH=${BENCH:-data/benchmark}
ML=${MINILAPE:-data/minilape}
RUNS=${RUNS:-runs/recipes}
WEIGHTS=${WEIGHTS:-speech=1,music=1,env=1}
BASELINES=${BASELINES-random logmel}  # BASELINES= leaves them to another instance (NAMES/SEEDS split the runs)
declare -A RECIPES=([today]="" [freq1]="--rrc-freq-views 1" [nofreq]="--rrc-freq-views 0"
  [nofreq_sp2]="--rrc-freq-views 0 --domain-weights speech=2,music=1,env=1"
  [nofreq_env2]="--rrc-freq-views 0 --domain-weights speech=1,music=1,env=2")
source "$(dirname "$0")/task-lists.sh"  # BTASKS, MTASKS
evaluate() {  # model tag
  for which in bench minilape; do
    tasks=$BTASKS; [[ $which == minilape ]] && tasks=$MTASKS
    [[ -z $tasks || -f $RUNS/eval-$which/$2/results.json ]] && continue
    SLICER_EMBED_PRECISION=float32 slicer-embed eval --model "$1" --tasks "$tasks" --out "$RUNS/eval-$which/$2" \
      --seeds 3 --valid-only --no-progress
  done
}
mkdir -p "$RUNS"
for seed in $SEEDS; do
  for name in $NAMES; do
    out=$RUNS/$name-s$seed
    if [[ ! -f $out/model/model.safetensors ]]; then
      resume=()
      if compgen -G "$out/checkpoints/*.pt" > /dev/null; then resume=(--resume)
      elif [[ -d $out ]]; then resume=(--overwrite); fi  # stopped before its first checkpoint: start it again
      # shellcheck disable=SC2086
      slicer-embed train --data "$DATA" --out "$out" --preset cpu --domain-weights "$WEIGHTS" --max-steps "$STEPS" \
        --checkpoint-every 200 --keep-checkpoints 2 --progress false --seed "$seed" ${RECIPES[$name]} "${resume[@]}" \
        >> "$out.log" 2>&1
    fi
    evaluate "$out/model" "$name-s$seed"
  done
done
for m in $BASELINES; do evaluate "$m" "$m"; done
