#!/usr/bin/env python3
"""Time onnx-tool's load + profile of ONNX models (the baseline for aiop's benchmark).

One repetition does what ``python -m onnx_tool -m profile`` (``onnx_tool.model_profile``) does,
minus printing the per-node table:

    model = onnx_tool.Model(path)                  # onnx.load + onnx-tool's graph build
    graph.graph_reorder_nodes()
    graph.shape_infer({input: zeros(1x3x224x224)}) # shape inference
    graph.profile(exclude_ops=onnx_tool.NoMacsOps) # MACs / params per node, totals

``--print-table`` also renders the per-node table (into a discarded buffer), as the CLI does.
Prints one JSON object per model on stdout: median/min seconds of load+profile (and of the two
halves), the repetition count, and onnx-tool's MACs/params totals.

    ~/.cache/aiop/venv/bin/python tools/bench/onnx_tool_profile.py -n 10 model.onnx [...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import onnx_tool
from onnx_tool.utils import VERSION


def parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in text.lower().replace(",", "x").split("x"))


def first_data_input(model: onnx_tool.Model) -> str:
    """The first graph input that is not an initializer (the image input of a zoo export)."""
    inits = {t.name for t in model.mproto.graph.initializer}
    for inp in model.mproto.graph.input:
        if inp.name not in inits:
            return inp.name
    raise SystemExit("model has no data input")


def profile_once(path: str, input_name: str | None, shape, print_table: bool):
    t0 = time.perf_counter()
    model = onnx_tool.Model(path, {"verbose": False})
    if not model.valid:
        raise SystemExit(f"onnx-tool could not load {path}")
    t1 = time.perf_counter()
    graph = model.graph
    graph.graph_reorder_nodes()
    name = input_name or first_data_input(model)
    graph.shape_infer({name: np.zeros(shape, dtype=np.float32)})
    graph.profile(exclude_ops=onnx_tool.NoMacsOps)
    if print_table:
        with contextlib.redirect_stdout(io.StringIO()):
            graph.print_node_map(None, exclude_ops=onnx_tool.NoMacsOps)
    t2 = time.perf_counter()
    if not graph.valid_profile:
        raise SystemExit(f"onnx-tool could not profile {path}")
    return t2 - t0, t1 - t0, t2 - t1, graph, name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="ONNX files")
    ap.add_argument("-n", "--repeat", type=int, default=10, help="timed repetitions (default 10)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed repetitions first (default 1)")
    ap.add_argument("--input-name", default=None, help="data input (default: first non-initializer input)")
    ap.add_argument("--input-shape", default="1x3x224x224", help="data input shape (default 1x3x224x224)")
    ap.add_argument("--print-table", action="store_true", help="also render the per-node table, as the CLI does")
    args = ap.parse_args()
    shape = parse_shape(args.input_shape)
    warnings.simplefilter("ignore")

    for path in args.models:
        for _ in range(args.warmup):
            profile_once(path, args.input_name, shape, args.print_table)
        total, load, prof = [], [], []
        for _ in range(max(1, args.repeat)):
            t, tl, tp, graph, name = profile_once(path, args.input_name, shape, args.print_table)
            total.append(t)
            load.append(tl)
            prof.append(tp)
        print(json.dumps({
            "tool": "onnx-tool",
            "version": VERSION,
            "file": os.path.basename(path),
            "path": path,
            "size_bytes": os.path.getsize(path),
            "input": {name: list(shape)},
            "repeat": len(total),
            "median_s": statistics.median(total),
            "min_s": min(total),
            "load_median_s": statistics.median(load),
            "profile_median_s": statistics.median(prof),
            "macs": int(round(graph.macs[0])),
            "params": int(graph.params),
            "print_table": args.print_table,
        }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
