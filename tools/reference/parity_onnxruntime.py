#!/usr/bin/env python3
"""Python ONNX Runtime vs libtorch on an exported aiop predictor.

Reads the encoded graphs of one dataset (`aiop dataset tensors DATASET --task T -o X`), runs
the predictor with onnxruntime (inputs built as in predictor/src/inputs.rs: padded in-neighbour
and member lists) and compares with the libtorch scores `aiop export --check` stored.

  aiop dataset tensors models/datasets/timm.aiopds --task imagenet-top1 -o /tmp/timm.safetensors
  python tools/reference/parity_onnxruntime.py /tmp/timm.safetensors timm.aiopds
"""
import argparse
import json

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file


def inputs_for(t, graphs):
    """The predictor's five inputs for the graphs `graphs` of tensors file `t`, as one batch."""
    node_off, edge_off = t["node_offsets"], t["edge_offsets"]
    ops, numeric, in_lists, members = [], [], [], []
    base = 0
    for g in graphs:
        n0, n1 = node_off[g], node_off[g + 1]
        ops.append(t["ops"][n0:n1])
        numeric.append(t["numeric"][n0:n1])
        lists = [[] for _ in range(n1 - n0)]
        for s, d in zip(t["edge_src"][edge_off[g]:edge_off[g + 1]], t["edge_dst"][edge_off[g]:edge_off[g + 1]]):
            lists[d - n0].append(s - n0 + base)
        in_lists += lists
        members.append(list(range(base, base + n1 - n0)))
        base += n1 - n0
    pad = base
    width = max(1, max(len(l) for l in in_lists))
    m = max(1, max(len(l) for l in members))
    return {
        "ops": np.concatenate(ops).astype(np.int64),
        "numeric": np.concatenate(numeric).astype(np.float32),
        "neighbours": np.array([l + [pad] * (width - len(l)) for l in in_lists], dtype=np.int64),
        "members": np.array([l + [pad] * (m - len(l)) for l in members], dtype=np.int64),
        "inv_counts": np.array([[1.0 / len(l)] for l in members], dtype=np.float32),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tensors")
    p.add_argument("dataset", help="dataset file name as in the reference (e.g. timm.aiopds)")
    p.add_argument("--predictor", default="models/predictor/aiop-default.onnx")
    p.add_argument("--reference", default="models/predictor/aiop-default.reference.json")
    args = p.parse_args()
    t = load_file(args.tensors)
    reference = [r for r in json.load(open(args.reference)) if r["dataset"] == args.dataset]
    session = ort.InferenceSession(args.predictor, providers=["CPUExecutionProvider"])
    count = min(len(reference), len(t["node_offsets"]) - 1)
    worst = 0.0
    for start in range(0, count, 64):
        graphs = list(range(start, min(count, start + 64)))
        (scores,) = session.run(["scores"], inputs_for(t, graphs))
        want = np.array([reference[g]["scores"] for g in graphs], dtype=np.float32)
        worst = max(worst, float(np.abs(scores - want).max()))
    print(json.dumps({"onnxruntime": ort.__version__, "graphs": count, "max_abs_diff": worst}))


if __name__ == "__main__":
    main()
