#!/usr/bin/env bash
# The one command of a lent GPU slot (device tool, carry: [".whl", ".gpu_data"]): install the staged wheels,
# train the zoo inside BUDGET seconds, and leave at most 8 small files in OUT (zoo.json, zoo.md, logs.tar.gz,
# the fp16 weights of networks small enough to bring back).
# Prepare here first: bash ../shared/gpu/stage.sh && python benchmarks/gpu_slot_data.py --cuhk ... --photos ...
# && python benchmarks/gpu_slot_tree.py park (the tree must fit 64 MiB); `gpu_slot_tree.py restore` after the call.
# Usage: benchmarks/gpu_slot.sh OUT BUDGET [gpu_train_zoo.py args, e.g. --models fpn_resnet10t cenet]
set -euo pipefail
out=${1:?usage: benchmarks/gpu_slot.sh OUT BUDGET [args]}
budget=${2:?usage: benchmarks/gpu_slot.sh OUT BUDGET [args]}
shift 2
cd "$(dirname "$0")/.."
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1 || true
python3 benchmarks/gpu_train_zoo.py --budget-s "$budget" --cuhk-dir .gpu_data/cuhk --photos-dir .gpu_data/photos \
  --out /tmp/zoo "$@" 2>&1 | tee /tmp/zoo-console.log || true
cp /tmp/zoo/zoo.json /tmp/zoo/zoo.md /tmp/zoo/logs.tar.gz "$out/" 2>/dev/null || true
cp /tmp/zoo-console.log "$out/console.log"
# weights under the 16 MiB transfer limit come back (fpn_resnet10t); the others stay listed with SHA-256 in zoo.json
for w in /tmp/zoo/weights/*.safetensors; do
  [ -f "$w" ] && [ "$(stat -c %s "$w")" -lt 16000000 ] && cp "$w" "$out/" || true
done
ls -la "$out"
