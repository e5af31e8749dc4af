#!/usr/bin/env bash
# One GPU, one go (well under 8 minutes): bf16 vs fp32, speed table with the fp32-eager baseline in the
# same run, a few hundred training steps per model; summary printed last, JSON/logs under OUT.
# Usage: benchmarks/gpu_suite.sh OUT [extra gpu_suite.py args]   (on CPU add --smoke)
set -euo pipefail
out=${1:?usage: benchmarks/gpu_suite.sh OUT [args]}
shift
cd "$(dirname "$0")/.."
mkdir -p "$out"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
python3 benchmarks/gpu_suite.py --out "$out" "$@" 2>&1 | tee "$out/suite.log"
