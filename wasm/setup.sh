#!/usr/bin/env bash
# Installs the WebAssembly toolchain (see docs/toolchain.md): rustup has no wasm32 std
# here, so Debian's rustc-web builds std from source (-Z build-std); wasm-bindgen-cli matching
# the crate's wasm-bindgen; Chromium for the browser test. Needs apt (root). Re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")"
need=()
[ -x /usr/bin/rustc ] && /usr/bin/rustc --version | grep -q "1\.9[6-9]\|1\.1[0-9][0-9]" || need+=(rustc-web cargo-web rust-web-src)
[ -x /usr/lib/llvm-22/bin/wasm-ld ] || need+=(lld-22)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (apt)…" >&2
    sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    $sudo_ apt-get update -qq
    $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
version=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
root="$HOME/.cache/aiop/wasm-bindgen-$version"
if [ ! -x "$root/bin/wasm-bindgen" ]; then
    echo "installing wasm-bindgen-cli $version (≈4 min)…" >&2
    cargo install -q wasm-bindgen-cli --version "$version" --no-default-features --root "$root"
fi
if [ ! -d tests/node_modules/playwright-core ]; then
    (cd tests && npm ci --silent --no-audit --no-fund)
fi
