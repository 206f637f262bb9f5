#!/usr/bin/env bash
# Retrains the bundled default predictor (models/predictor/aiop-default.onnx) from the shipped
# zoo datasets and records its held-out scores (models/predictor/scores/*.json, quoted in
# models/README.md). Every stage trains on a seeded 80 % of its dataset and is scored on the
# other 20 %, which it never saw.
#   backbone + head: timm ImageNet top-1 (Eq. 4);
#   K-Adapters: Cityscapes mIoU (mmseg), COCO box AP (mmdet), COCO keypoint AP (mmpose).
# Needs libtorch (tools/install_libtorch.sh). ≈20 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
aiop="${AIOP:-target/release/aiop}"
work="${WORK:-$(mktemp -d)}"
out=models/predictor
mkdir -p "$out/scores"
d=models/datasets
"$aiop" train "$d/timm.aiopds" --task imagenet-top1 --epochs "${EPOCHS:-300}" --seed 0 \
    -o "$work/p" ${RESUME:+--resume} --json > "$out/scores/imagenet-top1.json"
"$aiop" adapt --predictor "$work/p" "$d/mmseg.aiopds" --task cityscapes-miou --seed 0 --json \
    > "$out/scores/cityscapes-miou.json"
"$aiop" adapt --predictor "$work/p" "$d/mmdet.aiopds" --task coco-box-ap --seed 0 --json \
    > "$out/scores/coco-box-ap.json"
"$aiop" adapt --predictor "$work/p" "$d/mmpose.aiopds" --task coco-kp-ap --seed 0 --json \
    > "$out/scores/coco-kp-ap.json"
# keep the score files small: drop the per-epoch history
python3 - "$out/scores" <<'PY'
import json, pathlib, sys
for f in pathlib.Path(sys.argv[1]).glob("*.json"):
    d = json.loads(f.read_text()); d.pop("history", None)
    f.write_text(json.dumps(d, indent=1) + "\n")
PY
# parity reference: libtorch's scores of 1,000 CGs (every shipped zoo network, then NB-201 cells),
# checked against tract (and ONNX Runtime when ORT_DYLIB_PATH is set); tests/predict.rs rechecks
[ -f "$d/nb201.aiopds" ] || "$aiop" dataset build nb201 -o "$d/nb201.aiopds"
"$aiop" export "$work/p" -o "$out/aiop-default.onnx" --check-count 1000 \
    --check "$d/timm.aiopds" --check "$d/torchvision.aiopds" --check "$d/mmseg.aiopds" \
    --check "$d/mmdet.aiopds" --check "$d/mmpose.aiopds" --check "$d/nb201.aiopds"
cp "$work/p/predictor.json" "$out/trainer-record.json"
echo "predictor: $out/aiop-default.onnx (training files in $work)"
