#!/usr/bin/env bash
# Builds the WASM module into wasm/www/pkg (wasm-bindgen --target web). Needs wasm/setup.sh.
# First build ≈15 min on 2 cores (tract), then seconds. Prints the .wasm size, raw and gzipped.
# 128-bit SIMD (simd128, in every current browser): matrixmultiply's wasm sgemm kernel, which the
# native predictor's dense layers run on, exists only with it; LLVM vectorises the rest.
# The module is optimised for size (opt-level s) but for the crates a prediction runs through
# (converter, predictor, matrixmultiply: opt-level 3): ResNet-50 convert + predict 6.7 -> 5.3 ms
# warm in Chromium for 0.14 MB more gzipped (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")"
version=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
bindgen="$HOME/.cache/aiop/wasm-bindgen-$version/bin/wasm-bindgen"
target="${CARGO_TARGET_DIR:-$HOME/.cache/aiop/target}-wasm"
# Debian's rustc-web and its std sources; rustup's proxies come first on PATH, hence the paths
PATH=/usr/lib/llvm-22/bin:/usr/bin:/bin RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld \
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=true \
CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_DEBUG=false \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    /usr/bin/cargo build --release --locked -p aiop-wasm --target wasm32-unknown-unknown \
    -Z build-std=std,panic_abort --target-dir "$target" \
    --config 'profile.release.package.aiop-converter.opt-level=3' \
    --config 'profile.release.package.aiop-predictor.opt-level=3' \
    --config 'profile.release.package.matrixmultiply.opt-level=3'
rm -rf www/pkg
"$bindgen" --target web --no-typescript --remove-name-section --remove-producers-section --out-dir www/pkg \
    "$target/wasm32-unknown-unknown/release/aiop_wasm.wasm"
wasm=www/pkg/aiop_wasm_bg.wasm
echo "$wasm: $(stat -c %s "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped" >&2
