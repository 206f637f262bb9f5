#!/usr/bin/env bash
# Rebuilds the labelled zoo datasets committed in models/datasets/ from zoo exports.
#
#   tools/zoo/build_datasets.sh [--export] [ZOO_DIR]     (ZOO_DIR default ~/.cache/aiop/zoo2)
#
# --export first runs the exporters (hours on 2 cores; resumable, files that exist are kept)
# with the Python environment of tools/zoo/requirements*.txt active:
#   timm         export_timm.py --labelled --max-gmacs 40 --sample 520 --seed 3
#   torchvision  export_torchvision.py (every task)
#   mmpose       export_openmmlab.py --zoo mmpose --dataset COCO --sample 100 --seed 0
#   mmseg        export_openmmlab.py --zoo mmseg --dataset Cityscapes --sample 90 --seed 0
#                export_openmmlab.py --zoo mmseg --dataset "Pascal VOC 2012 + Aug" (all 30)
#   mmdet        export_openmmlab.py --zoo mmdet --dataset COCO --sample 90 --seed 0
# Then every zoo folder present becomes models/datasets/<zoo>.aiopds, labelled from the zoo's
# results in the labelled-data folder (AIOP_DATA, default the vendored data/).
# NAS-Bench-201 needs no export: `aiop dataset build nb201 -o nb201.aiopds` (≈25 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
export_first=0
if [ "${1:-}" = "--export" ]; then export_first=1; shift; fi
zoo="${1:-$HOME/.cache/aiop/zoo2}"
data="${AIOP_DATA:-data}"
if [ "$export_first" = 1 ]; then
    common=(--jobs 2 --threads 1)
    python tools/zoo/export_timm.py --out "$zoo/timm" --labelled --max-gmacs 40 --sample 520 \
        --seed 3 "${common[@]}" --timeout 300
    python tools/zoo/export_torchvision.py --out "$zoo/torchvision" "${common[@]}"
    python tools/zoo/export_openmmlab.py --zoo mmpose --dataset COCO --out "$zoo/mmpose" \
        --sample 100 --seed 0 "${common[@]}" --timeout 300
    python tools/zoo/export_openmmlab.py --zoo mmseg --dataset Cityscapes --out "$zoo/mmseg" \
        --sample 90 --seed 0 "${common[@]}" --timeout 400
    python tools/zoo/export_openmmlab.py --zoo mmseg --dataset "Pascal VOC 2012 + Aug" \
        --out "$zoo/mmseg" "${common[@]}" --timeout 400
    python tools/zoo/export_openmmlab.py --zoo mmdet --dataset COCO --out "$zoo/mmdet" \
        --sample 90 --seed 0 "${common[@]}" --timeout 400
fi
cargo build --release --locked -q --bin aiop
aiop="${CARGO_TARGET_DIR:-target}/release/aiop"
mkdir -p models/datasets
for name in timm torchvision mmpose mmseg mmdet; do
    [ -d "$zoo/$name" ] || { echo "skip $name: no $zoo/$name" >&2; continue; }
    "$aiop" dataset build models "$zoo/$name" -o "models/datasets/$name.aiopds" \
        --labels "$name" --data-dir "$data"
done
