#!/usr/bin/env bash
# Renderer ablation on the real CUHK-TR-1 val split (docs/benchmarks.md "Renderer ablation"): the same short
# synthetic-only training (fpn_resnet10t, 300 steps at 96², batch 8) with the renderer's realism features
# switched on one at a time, each scored on the 80 val images at native size. Not a test; ~10 CPU minutes.
#   bash benchmarks/renderer_ablation.sh ../shared/data/photos ../shared/data/cuhk-tr1 ~/runs/ablation
set -euo pipefail
PHOTOS=${1:?photo folder}; CUHK=${2:?CUHK root}; OUT=${3:?output folder}
PY=${PYTHON:-python}
COMMON=(experiment=fpn_resnet10t_synthetic "paths.photos_dir=$PHOTOS" trainer.max_steps=300 trainer.val_every=100000
        data.train.size=96 data.val.size=96 data.val.length=8 validate_at_end=false logger.tensorboard=false)
row() {  # texture_dir psf highlights focus_background camera max_sigma
  echo "data.train.texture_dir=$1 data.train.psf=$2 data.train.highlights=$3 data.train.focus_background=$4 data.train.camera=$5 data.train.max_sigma=$6"
}
declare -A ROWS=(
  [1_landed]="$(row null gaussian 0 0 null '[2.0,6.0]')"
  [2_sigma8]="$(row null gaussian 0 0 null '[2.0,8.0]')"
  [3_photos]="$(row "$PHOTOS" gaussian 0 0 null '[2.0,8.0]')"
  [4_camera]="$(row "$PHOTOS" gaussian 0 0 '{prob:0.9}' '[2.0,8.0]')"
  [5_aperture]="$(row "$PHOTOS" '[gaussian,disc,polygon]' 0.3 0 '{prob:0.9}' '[2.0,8.0]')"
  [6_full]="$(row "$PHOTOS" '[gaussian,disc,polygon]' 0.3 0.15 '{prob:0.9}' '[2.0,8.0]')"
)
refs=()
for row in $(printf '%s\n' "${!ROWS[@]}" | sort); do
  if [ ! -f "$OUT/$row/checkpoints/last.safetensors" ]; then
    # shellcheck disable=SC2086
    $PY train.py "${COMMON[@]}" ${ROWS[$row]} "hydra.run.dir=$OUT/$row" > "$OUT/$row.log" 2>&1
  fi
  refs+=("$OUT/$row/checkpoints/last.safetensors")
done
$PY benchmarks/val_table.py --root "$CUHK" "${refs[@]}" --json "$OUT/val.json"
