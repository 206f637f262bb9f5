#!/usr/bin/env bash
# Epoch time of aiop's predictor training vs the PyTorch Geometric reference
# (tools/reference/pyg_kgnn.py), same network, same data, same run:
# all 15,625 NAS-Bench-201 graphs, task cifar10-top1, batch 32, Adam lr 3e-3.
#
#   tools/reference/bench_epoch.sh     # ~10 minutes on a 2-core CPU (3 epochs each)
#
# Expects a built `target/release/aiop` (cargo build --release); builds nothing itself.
# Environment:
#   AIOP     the aiop binary                      (default target/release/aiop)
#   PYTHON   Python with torch + torch-geometric  (default ~/.cache/aiop/venv/bin/python)
#   OUT      dataset, tensors and raw results     (default target/reference-bench)
#   EPOCHS   epochs of each implementation        (default 3)
#   THREADS  torch threads of both (OMP_NUM_THREADS and --threads; default: torch's default)
# The means skip epoch 1 (warm-up: allocator, lazy initialisation) and average epochs 2..N.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
AIOP=${AIOP:-$ROOT/target/release/aiop}
PYTHON=${PYTHON:-$HOME/.cache/aiop/venv/bin/python}
OUT=${OUT:-$ROOT/target/reference-bench}
EPOCHS=${EPOCHS:-3}
TASK=cifar10-top1

[[ -x $AIOP ]] || { echo "no aiop binary at $AIOP (cargo build --release)" >&2; exit 1; }
"$PYTHON" -c 'import torch_geometric, safetensors' ||
    { echo "$PYTHON lacks torch-geometric/safetensors (pip install -r tools/reference/requirements.txt)" >&2; exit 1; }
(( EPOCHS >= 2 )) || { echo "EPOCHS must be at least 2 (epoch 1 is not counted)" >&2; exit 1; }

PYG_ARGS=()
if [[ -n ${THREADS:-} ]]; then
    export OMP_NUM_THREADS=$THREADS  # libtorch's default thread count, for aiop
    PYG_ARGS+=(--threads "$THREADS")
fi

mkdir -p "$OUT"
DATASET=$OUT/nb201.aiopds
TENSORS=$OUT/nb201-$TASK.safetensors
if [[ ! -f $DATASET ]]; then
    echo "building $DATASET" >&2
    "$AIOP" dataset build nb201 -o "$DATASET"
fi
if [[ ! -f $TENSORS || $TENSORS -ot $DATASET ]]; then
    "$AIOP" dataset tensors "$DATASET" --task "$TASK" -o "$TENSORS"
fi

echo "aiop: $EPOCHS epochs" >&2
"$AIOP" train "$DATASET" --task "$TASK" --train-fraction 1 --epochs "$EPOCHS" --json \
    > "$OUT/aiop.json"
echo "pyg: $EPOCHS epochs" >&2
# aiop train decays the rate by a half cosine: the reference does the same here
"$PYTHON" tools/reference/pyg_kgnn.py "$TENSORS" --epochs "$EPOCHS" --schedule cosine \
    "${PYG_ARGS[@]}" | tail -n 1 > "$OUT/pyg.json"

"$PYTHON" - "$OUT/aiop.json" "$OUT/pyg.json" <<'EOF'
import json, sys

aiop = json.load(open(sys.argv[1]))
pyg = json.loads(open(sys.argv[2]).read())
runs = {
    "aiop": [e["seconds"] for e in aiop["history"]],
    "pyg": pyg["epoch_seconds"],
}
print(f"graphs: aiop {aiop['train']}, pyg {pyg['graphs']}; "
      f"torch {pyg['torch']}, torch_geometric {pyg['torch_geometric']}, "
      f"{pyg['threads']} threads (pyg); aiop device {aiop['device']}")
mean = {}
for name, seconds in runs.items():
    mean[name] = sum(seconds[1:]) / len(seconds[1:])  # epochs 2..N
    per_epoch = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"{name:5} epochs [{per_epoch}] s  mean of epochs 2..{len(seconds)}: {mean[name]:.2f} s")
print(f"ratio pyg/aiop: {mean['pyg'] / mean['aiop']:.2f} (above 1: aiop is faster)")
EOF
