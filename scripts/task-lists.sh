# Sourced by compare-recipes.sh, long-run.sh and test-once.sh: the task folders they evaluate, as comma
# lists for `slicer-embed eval --tasks`. BTASKS: the out-of-domain benchmark under $BENCH; MTASKS: mini-LAPE
# under $ML. A task whose manifest.csv is missing is left out (a partial build evaluates what it has).
task_list() { local root=$1; shift; local out=(); for t in "$@"; do [[ -f $root/$t/manifest.csv ]] && out+=("$root/$t"); done
              (IFS=,; echo "${out[*]}"); }
BTASKS=$(task_list "$BENCH" kws speaker instrument pitch chord drums sfx broad)
MTASKS=$(task_list "$ML" kws speaker language instrument expression bird pitch)
