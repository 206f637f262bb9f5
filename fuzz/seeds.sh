#!/usr/bin/env bash
# Recreates the seed corpus of every fuzz target (fuzz/corpus/<target>) from files in this
# repository: weight-stripped exports of tests/fixtures, the shipped datasets, the vendored
# result CSVs and the bundled predictor; ONNX seeds also from the zoo cache when it exists.
# CG seeds are written by the release binary (AIOP, default: the one `cargo build --release`
# puts in $CARGO_TARGET_DIR or target/). Usage: fuzz/seeds.sh [ZOO_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
zoo="${1:-${AIOP_ZOO:-$HOME/.cache/aiop/zoo}}"
aiop="${AIOP:-${CARGO_TARGET_DIR:-$root/target}/release/aiop}"
corpus="$here/corpus"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$corpus"/{onnx_import,tf_import,cg_file,dataset,labels,predictor}

# ONNX: small torchvision and timm exports (fixtures), plus zoo-cache ones when present
tar -xJf "$root/tests/fixtures/torchvision.tar.xz" -C "$tmp" \
  ./alexnet.onnx ./resnet18.onnx ./squeezenet1_0.onnx ./mobilenet_v3_small.onnx
tar -xJf "$root/tests/fixtures/timm.tar.xz" -C "$tmp" ./test_resnet.onnx ./test_byobnet.onnx
for f in "$tmp"/*.onnx; do cp "$f" "$corpus/onnx_import/seed_$(basename "$f")"; done
for s in timm/mnasnet_100.onnx timm/convnext_pico_ols.onnx timm/deit_tiny_distilled_patch16_224.onnx; do
  [[ -f "$zoo/$s" ]] && cp "$zoo/$s" "$corpus/onnx_import/seed_zoo_$(basename "$s")"
done

# TensorFlow: frozen Keras graphs
tar -xJf "$root/tests/fixtures/keras.tar.xz" -C "$tmp" ./vgg16.pb ./mobilenet.pb
cp "$tmp/vgg16.pb" "$tmp/mobilenet.pb" "$corpus/tf_import/"

# CG files, binary and JSON, of three exports
if [[ -x "$aiop" ]]; then
  for m in alexnet squeezenet1_0 test_resnet; do
    "$aiop" convert "$tmp/$m.onnx" -o "$corpus/cg_file/$m.cg" >/dev/null
    "$aiop" convert "$tmp/$m.onnx" -o "$corpus/cg_file/$m.cg.json" >/dev/null
  done
else
  echo "no aiop binary at $aiop: cg_file seeds skipped (cargo build --release first)" >&2
fi

# datasets: small ones built from three exports (a shipped dataset of thousands of records
# makes every run slow), labelled with torchvision's results
if [[ -x "$aiop" ]]; then
  mkdir "$tmp/three"
  cp "$tmp/alexnet.onnx" "$tmp/resnet18.onnx" "$tmp/squeezenet1_0.onnx" "$tmp/three/"
  "$aiop" dataset build models "$tmp/three" -o "$corpus/dataset/three.aiopds" \
    --labels torchvision --data-dir "$root/data" >/dev/null
  "$aiop" dataset split "$corpus/dataset/three.aiopds" -o "$tmp/split" --train-count 1 >/dev/null
  cp "$tmp/split/train.aiopds" "$corpus/dataset/one.aiopds"
else
  echo "no aiop binary at $aiop: dataset seeds skipped" >&2
fi

# label CSVs: the head of each vendored result file, and a name,value file
for f in timm/timm_imagenet_flat.csv torchvision/torchvision_weights_meta.csv \
  mmseg/mmseg_results.csv mmdet/mmdet_results.csv mmpose/mmpose_results.csv; do
  head -n 20 "$root/data/$f" >"$corpus/labels/$(basename "$f")"
done
printf 'name,value\nresnet18,69.758\nalexnet,56.522\n' >"$corpus/labels/values.csv"

# predictors: the bundled file
cp "$root/models/predictor/aiop-default.onnx" "$corpus/predictor/"

for t in "$corpus"/*; do echo "$(ls "$t" | wc -l) seeds in $t"; done
