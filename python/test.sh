#!/usr/bin/env bash
# The Python package's tests: a venv under ~/.cache/aiop (made once), the package installed with
# the README's command (`pip install ./python`), then pytest against the command line (built by
# the README's commands; built here if missing).
#
# Environment: AIOP_PYTHON_VENV (default ~/.cache/aiop/venv-python); AIOP_PYTHON_NO_TORCH=1 skips
# installing PyTorch (the `from_torch` tests then report themselves skipped); pytest arguments
# pass through (`python/test.sh -k dask`).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${AIOP_PYTHON_VENV:-$HOME/.cache/aiop/venv-python}"
python="$venv/bin/python"
if [ ! -x "$python" ]; then
    python3 -m venv "$venv"
fi
requirements=python/requirements-test.txt
if [ "${AIOP_PYTHON_NO_TORCH:-}" = 1 ]; then
    requirements=<(grep -v -E '^(torch|torchvision|onnx)[=>]' python/requirements-test.txt)
fi
"$python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
"$python" -m pip install --quiet --disable-pip-version-check ./python
cargo build --release --locked --quiet --bin aiop
target="${CARGO_TARGET_DIR:-target}"
AIOP_BIN="$(cd "$target" && pwd)/release/aiop" "$python" -m pytest python/tests -q -rs "$@"
