#!/usr/bin/env bash
# Behaviour-unchanged check for restructurings: runs the same commands with two builds of
# `aiop` (e.g. the commit before and after) on the weight-stripped torchvision fixtures and
# compares every output byte for byte (paths that name the run's own folder normalised).
# Usage: tools/refactor/compare_outputs.sh OLD_AIOP NEW_AIOP   (run from the repository root)
set -euo pipefail
old="$1" new="$2"
root="$(pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/tv"
tar -xJf "$root/tests/fixtures/torchvision.tar.xz" -C "$work/tv"
# TensorFlow exports (frozen graphs, SavedModels, both layouts): the TF lowering's outputs
tf_sets="keras keras-savedmodel tf-layouts"
for set in $tf_sets; do
  mkdir "$work/$set"
  tar -xJf "$root/tests/fixtures/$set.tar.xz" -C "$work/$set"
done
for side in old new; do
  bin="${!side}" d="$work/$side"
  mkdir "$d"
  "$bin" predict "$work"/tv/*.onnx --json >"$d/predict.json" 2>/dev/null || true
  "$bin" rank "$work/tv" --task imagenet-top1 --json >"$d/rank.json" 2>/dev/null || true
  "$bin" convert "$work/tv" -o "$d/cgs" >/dev/null 2>&1 || true
  "$bin" dataset build models "$work/tv" -o "$d/tv.aiopds" --labels torchvision >/dev/null 2>&1
  "$bin" dataset stats "$d/tv.aiopds" --json >"$d/stats.json"
  "$bin" dataset split "$d/tv.aiopds" -o "$d/split" >/dev/null
  "$bin" dataset export "$d/tv.aiopds" --task imagenet-top1 -o "$d/export" --held-out >/dev/null
  "$bin" rank "$d/export" --task imagenet-top1 --labels "$d/export/labels.csv" --json \
    >"$d/rank-labels.json" 2>/dev/null || true
  "$bin" inspect "$work/tv/resnet18.onnx" >"$d/inspect.txt"
  "$bin" render "$work/tv/resnet18.onnx" -o "$d/resnet18.svg" >/dev/null
  for set in $tf_sets; do
    "$bin" convert "$work/$set" -o "$d/cgs-$set" >/dev/null 2>&1 || true
    sed -i '/"millis"/d' "$d/cgs-$set/report.json"
  done
  # the run's own folder appears in report.json and rank outputs: normalise it
  find "$d" -name '*.json' -exec sed -i "s#$d/#OUT/#g" {} +
  sed -i '/"millis"/d' "$d/cgs/report.json"
  find "$d" -name '*.json' -exec sed -i "s#$work/#IN/#g" {} +
done
if diff -r "$work/old" "$work/new"; then
  echo "identical: $(find "$work/new" -type f | wc -l) files (predict, rank, convert DIR of ONNX and TF exports, dataset build/stats/split/export, inspect, render)"
else
  echo "outputs differ" >&2
  exit 1
fi
