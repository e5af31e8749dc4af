# Sourced by benchmarks/gpu_slot.sh and gpu_suite.sh: the environment of a bare GPU machine (device tool).
# Its python3 has torch but not Hydra or albumentations; the wheels staged in .whl/ (../shared/gpu/README.md)
# are installed once into /tmp/site (no index, no network) and put on PYTHONPATH with the checkout. Where
# Hydra and albumentations already import (a prepared box, this machine), nothing is installed.
# The data a slot carries (.gpu_data/, benchmarks/gpu_slot_data.py) is the default for CUHK_DIR and PHOTOS_DIR.
export NO_ALBUMENTATIONS_UPDATE=${NO_ALBUMENTATIONS_UPDATE:-1} PYTHONUNBUFFERED=1
if ! python3 -c 'import hydra, albumentations' 2>/dev/null; then
  if [[ ! -d /tmp/site/hydra ]] && compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  fi
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
if [[ -d .gpu_data/cuhk && -d .gpu_data/photos ]]; then
  export CUHK_DIR=${CUHK_DIR:-.gpu_data/cuhk} PHOTOS_DIR=${PHOTOS_DIR:-.gpu_data/photos}
fi
