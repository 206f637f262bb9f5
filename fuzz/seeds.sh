#!/usr/bin/env bash
# Recreates the seed corpus of the `onnx_import` fuzz target from the zoo cache
# (weight-stripped ONNX exports made by tools/zoo). Usage: fuzz/seeds.sh [ZOO_DIR]
set -euo pipefail
zoo="${1:-${AIOP_ZOO:-$HOME/.cache/aiop/zoo}}"
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/corpus/onnx_import"
mkdir -p "$out"
seeds=(
  torchvision/resnet18.onnx
  torchvision/mobilenet_v3_small.onnx
  torchvision/squeezenet1_0.onnx
  torchvision/shufflenet_v2_x0_5.onnx
  torchvision/alexnet.onnx
  torchvision/deeplabv3_mobilenet_v3_large.onnx
  timm/resnet14t.onnx
  timm/test_byobnet.onnx
  timm/mnasnet_100.onnx
  timm/convnext_pico_ols.onnx
  timm/deit_tiny_distilled_patch16_224.onnx
)
copied=0
for s in "${seeds[@]}"; do
  if [[ -f "$zoo/$s" ]]; then
    cp "$zoo/$s" "$out/seed_$(basename "$(dirname "$s")")_$(basename "$s")"
    copied=$((copied + 1))
  else
    echo "missing $zoo/$s (skipped)" >&2
  fi
done
echo "$copied zoo seeds in $out"
