#!/usr/bin/env bash
# Installs ONNX Runtime 1.32.0's shared library for the `ort` backend (`aiop predict --backend
# ort`, feature `ort`), from PyPI's onnxruntime wheel: no Python needed at run time. ≈17 MB.
#
# Installs into $AIOP_ORT_PREFIX (default ~/.cache/aiop/onnxruntime-1.32.0) and links it as
# .onnxruntime in the checkout; point ORT_DYLIB_PATH at .onnxruntime/libonnxruntime.so.
# Re-running is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${AIOP_ORT_PREFIX:-$HOME/.cache/aiop/onnxruntime-1.32.0}"
if [ ! -f "$prefix/libonnxruntime.so" ]; then
    wheels="$(mktemp -d)"
    trap 'rm -rf "$wheels"' EXIT
    echo "downloading onnxruntime 1.32.0 (PyPI wheel)…" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" onnxruntime==1.32.0
    mkdir -p "$prefix"
    python3 - "$wheels" "$prefix" <<'PY'
import sys, zipfile, pathlib
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for wheel in wheels.glob("*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = pathlib.PurePath(info.filename).name
            if info.filename.startswith("onnxruntime/capi/") and name.startswith("libonnxruntime.so"):
                (out / "libonnxruntime.so.partial").write_bytes(z.read(info))
                (out / "libonnxruntime.so.partial").rename(out / "libonnxruntime.so")
PY
fi
test -f "$prefix/libonnxruntime.so"
ln -sfn "$prefix" .onnxruntime
echo "onnxruntime: $prefix/libonnxruntime.so" >&2
