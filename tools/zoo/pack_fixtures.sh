#!/usr/bin/env bash
# Packs weight-stripped zoo exports into the committed test fixtures:
#   tests/fixtures/torchvision.tar.xz  ← every export_torchvision.py model
#   tests/fixtures/timm.tar.xz         ← the seeded timm sample (export_timm.py --sample 70 --seed 1)
#   tests/fixtures/opsets.tar.xz       ← torchvision models at opsets 7, 8, 9, 11, 13, 20
#                                        (export_torchvision.py --opset N --suffix _opsetN) and
#                                        21 (upgrade_opset.py --to 21 on the opset-20 files)
#   tests/fixtures/deploy.tar.xz       ← export_deploy.py: 5 classifiers folded, dynamo-exported,
#                                        quantized (QDQ, QOperator, dynamic), ORT-optimised
# Usage: tools/zoo/pack_fixtures.sh [ZOO_DIR] [NAME ...]   (default ~/.cache/aiop/zoo2, all four)
set -euo pipefail
cd "$(dirname "$0")/../.."
zoo="${1:-$HOME/.cache/aiop/zoo2}"
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(torchvision timm opsets deploy)
for name in "${names[@]}"; do
    src="$zoo/$name"
    [ -d "$src" ] || { echo "missing $src" >&2; exit 1; }
    (cd "$src" && tar --sort=name --owner=0 --group=0 --mtime='2026-01-01' -cf - ./*.onnx) \
        | xz -9e -T2 > "tests/fixtures/$name.tar.xz.tmp"
    mv "tests/fixtures/$name.tar.xz.tmp" "tests/fixtures/$name.tar.xz"
    echo "tests/fixtures/$name.tar.xz: $(ls "$src"/*.onnx | wc -l) models, $(du -h "tests/fixtures/$name.tar.xz" | cut -f1)"
done
