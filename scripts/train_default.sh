#!/usr/bin/env bash
# Continue training the bundled default model on the shared data sets (CPU is fine, bf16 is
# used where the CPU has native bf16 units; CUDA when present): one more *leg*, starting from
# the committed weights with a fresh warm-up + cosine schedule (--init), as the model card's
# legs were trained.
#
#   scripts/train_default.sh [DATA_ROOT] [OUTPUT]
#
# DATA_ROOT defaults to ../shared/data beside the checkout; OUTPUT to runs/default/model.safetensors.
# TIME_BUDGET (minutes, default 110) ends the run on time whatever the machine's speed: the
# learning-rate schedule follows steps or wall time, whichever is further along.
# FROM_SCRATCH=1 starts from random weights instead of the bundled model.
# Progress goes to stderr and runs/default/train.log; a checkpoint is written every epoch and an
# interrupted run continues with:  RESUME=1 scripts/train_default.sh [DATA_ROOT] [OUTPUT]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_ROOT="${1:-../shared/data}"
OUTPUT="${2:-runs/default/model.safetensors}"
BUNDLED=resources/models/unet_gis_roads_vehicles_0.3m.safetensors
mkdir -p "$(dirname "$OUTPUT")"
if [ -n "${RESUME:-}" ]; then
    START=(--resume "$OUTPUT")
elif [ -n "${FROM_SCRATCH:-}" ]; then
    START=()
else
    START=(--init "$BUNDLED")
fi
exec unet-gis train configs/default.toml --data-root "$DATA_ROOT" -o "$OUTPUT" \
    --time-budget "${TIME_BUDGET:-110}" --log "$(dirname "$OUTPUT")/train.log" "${START[@]}"
