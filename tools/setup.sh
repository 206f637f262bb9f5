#!/usr/bin/env bash
# Sets up aiop on a fresh machine: checks the Rust toolchain, installs libtorch for the trainer
# (tools/install_libtorch.sh, once) and ONNX Runtime (tools/install_onnxruntime.sh, once), and builds
# the CLI (release).
# Re-running is cheap: cargo only rebuilds what changed. Set CARGO_TARGET_DIR to share builds.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install Rust (https://rustup.rs) first" >&2
    exit 1
fi
./tools/install_libtorch.sh
# ONNX Runtime (17 MB from PyPI): the `ort` backend and the test that runs edited files in it
./tools/install_onnxruntime.sh
cargo build --release --locked --bin aiop
