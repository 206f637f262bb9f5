#!/usr/bin/env bash
# The browser test: installs the toolchain (setup.sh), builds the module (build.sh) and the
# native CLI, then drives the page in headless Chromium with real models (the sample, a few
# torchvision exports and two frozen TensorFlow graphs from tests/fixtures) and compares what it shows with the CLI.
# Screenshot and measurements: wasm/tests/output/.
set -euo pipefail
cd "$(dirname "$0")/.."
./wasm/setup.sh
./wasm/build.sh
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -q --no-default-features --bin aiop --target-dir "$target"
models="$(mktemp -d)"
trap 'rm -rf "$models"' EXIT
tar -xJf tests/fixtures/torchvision.tar.xz -C "$models" \
    ./mobilenet_v3_small.onnx ./efficientnet_b0.onnx ./densenet121.onnx \
    ./deeplabv3_mobilenet_v3_large.onnx ./convnext_tiny.onnx
tar -xJf tests/fixtures/keras.tar.xz -C "$models" ./mobilenetv3small.pb ./deeplab_mobilenetv2.pb
AIOP_BIN="$target/release/aiop" node wasm/tests/browser.mjs models/samples/resnet18.onnx "$models"/*.onnx "$models"/*.pb
