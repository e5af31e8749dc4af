#!/usr/bin/env bash
# The one command of a lent GPU slot (device tool: timeout_s 600, carry [".whl", ".gpu_data"]):
#   bash benchmarks/gpu_slot.sh "$OUT" 570 [gpu_train_zoo.py args, e.g. --models fpn_resnet10t cenet]
# installs the staged wheels where Hydra is missing (benchmarks/gpu_env.sh), then benchmarks/gpu_slot.py trains
# the zoo (issue 21) and runs the classical CUDA checks and the speed suite (issues 24, 20) inside BUDGET
# seconds, leaving at most 8 small files in OUT. Prepare here first (docs/benchmarks.md, "Preparing a slot"):
# bash ../shared/gpu/stage.sh && python benchmarks/gpu_slot_data.py --cuhk ... --photos ... --out .gpu_data
# && python benchmarks/gpu_slot_tree.py park (the tree must fit 64 MiB); `gpu_slot_tree.py restore` after.
set -euo pipefail
export GPU_SLOT_T0=${GPU_SLOT_T0:-$(date +%s)}  # the budget counts from here: the wheel install is part of it
out=${1:?usage: benchmarks/gpu_slot.sh OUT [BUDGET] [gpu_train_zoo.py args]}
shift
budget=570
if [[ ${1:-} =~ ^[0-9]+([.][0-9]+)?$ ]]; then  # BUDGET is optional: `OUT --models cenet` keeps 570
  budget=$1
  shift
fi
cd "$(dirname "$0")/.."
source benchmarks/gpu_env.sh
exec python3 benchmarks/gpu_slot.py "$out" --budget-s "$budget" -- "$@"
