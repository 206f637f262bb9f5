#!/usr/bin/env bash
# Installs libtorch 2.13.0 (CPU) for the trainer's `tch` crate, offline-friendly: the libtorch
# inside PyPI's torch wheel, plus the two small CUDA runtime libraries libtorch_cpu.so links
# at load time (see docs/toolchain.md). ≈540 MB download, ≈520 MB on disk.
#
# Installs into $AIOP_LIBTORCH_PREFIX (default ~/.cache/aiop/libtorch-2.13.0) and links it as
# .libtorch in the checkout, where .cargo/config.toml points LIBTORCH. Re-running is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${AIOP_LIBTORCH_PREFIX:-$HOME/.cache/aiop/libtorch-2.13.0}"
if [ ! -f "$prefix/.complete" ]; then
    wheels="$(mktemp -d)"
    trap 'rm -rf "$wheels"' EXIT
    echo "downloading libtorch 2.13.0 (torch wheel from PyPI, ≈540 MB)…" >&2
    # platform tags: pip picks the wheels of this machine (x86_64 Linux; the torch wheel's
    # libtorch does not depend on the Python version, any cp3x wheel works)
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" \
        torch==2.13.0 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
    rm -rf "$prefix.partial"
    mkdir -p "$prefix.partial"
    python3 - "$wheels" "$prefix.partial" <<'PY'
import sys, zipfile, pathlib
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
# CUDA-only libraries are not needed on CPU
skip = ("libtorch_cuda", "libc10_cuda", "libtorch_nvshmem", "libtorch_python", "libcaffe2_nvrtc")
keep_nvidia = ("nvidia/cu13/lib/libcudart.so.13", "nvidia/cu13/lib/libcupti.so.13")
for wheel in wheels.glob("*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = info.filename
            wanted = (name.startswith(("torch/include/", "torch/lib/"))
                      and not pathlib.PurePath(name).name.startswith(skip)) or name in keep_nvidia
            if wanted and not info.is_dir():
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
PY
    touch "$prefix.partial/.complete"
    rm -rf "$prefix"
    mv "$prefix.partial" "$prefix"
fi
ln -sfn "$prefix" .libtorch
echo "libtorch: $prefix" >&2
