#!/usr/bin/env python3
"""Hostile inputs of issue 19, generated small, each run through `aiop` under `/usr/bin/time`:
prints a Markdown table (input class, case, exit status, first line of stderr, wall time and
peak memory) for docs/reliability.md.

    tools/reliability/measure.py [--aiop target/release/aiop] [--work DIR]

Needs the `onnx` Python package (the exporters' venv has it), `zstd` and GNU time."""
import argparse
import os
import pathlib
import struct
import subprocess
import tempfile

import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np


def save(model, path):
    onnx.save(model, str(path))
    return path


def fan_in(path, n):
    """n ReLUs of one input, all summed by one n-input Sum (nodes × in-degree = n²)."""
    nodes = [helper.make_node("Relu", ["x"], [f"r{i}"]) for i in range(n)]
    nodes.append(helper.make_node("Sum", [f"r{i}" for i in range(n)], ["y"]))
    g = helper.make_graph(nodes, "fan", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def expand(path, dims):
    shape = numpy_helper.from_array(np.array(dims, dtype=np.int64), "shape")
    g = helper.make_graph([helper.make_node("Expand", ["x", "shape"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
                          "expand", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [shape])
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def loop(path, trips):
    """A Loop of `trips` iterations whose body scans out a 1×8 tensor each time."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Relu", ["x"], ["scan"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("scan", TensorProto.FLOAT, [1, 8])])
    inits = [numpy_helper.from_array(np.array(trips, dtype=np.int64), "trips"),
             numpy_helper.from_array(np.array(True), "cond")]
    g = helper.make_graph([helper.make_node("Loop", ["trips", "cond"], ["out"], body=body)], "loop",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    return save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def packed_zeros(folder, count):
    """A model whose one tensor packs `count` zero varints (int64_data): 8 × count bytes once
    decoded, from a sparse file of `count` bytes."""
    def varint(v):
        out = b""
        while v >= 0x80:
            out += bytes([(v & 0x7F) | 0x80])
            v >>= 7
        return out + bytes([v])
    tensor = b"\x3a" + varint(count)
    graph = b"\x2a" + varint(len(tensor) + count)
    model = b"\x3a" + varint(len(graph) + len(tensor) + count)
    folder.mkdir(exist_ok=True)
    with open(folder / "packed.onnx", "wb") as f:
        f.write(model + graph + tensor)
        f.truncate(len(model + graph + tensor) + count)
    return folder


def costly_predictor(bundled, path):
    m = onnx.load(str(bundled))
    m.graph.initializer.append(numpy_helper.from_array(np.array([28000, 28000], dtype=np.int64), "huge_shape"))
    m.graph.node.append(helper.make_node("ConstantOfShape", ["huge_shape"], ["huge"]))
    m.graph.output.append(helper.make_tensor_value_info("huge", TensorProto.FLOAT, None))
    return save(m, path)


def dataset_bomb(source, path, copies):
    """The header and first record of a real dataset, the record repeated `copies` times
    (compressed as it is written: the file stays small)."""
    raw = subprocess.run(["zstd", "-dc"], input=source.read_bytes()[8:], capture_output=True, check=True).stdout
    (header_len,) = struct.unpack("<I", raw[:4])
    header = raw[: 4 + header_len]
    (record_len,) = struct.unpack("<I", raw[4 + header_len: 8 + header_len])
    record = raw[4 + header_len: 8 + header_len + record_len]
    with open(path, "wb") as out:
        out.write(source.read_bytes()[:8])
        out.flush()
        z = subprocess.Popen(["zstd", "-19", "-c"], stdin=subprocess.PIPE, stdout=out)
        z.stdin.write(header)
        chunk = record * 1000
        for _ in range(copies // 1000):
            z.stdin.write(chunk)
        z.stdin.close()
        z.wait()
    return path


def run(aiop, args):
    with tempfile.NamedTemporaryFile("r") as stats:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", stats.name, aiop, *args],
                           capture_output=True, text=True, timeout=600)
        seconds, kib = stats.read().split()[-2:]
    first = (p.stderr.strip().splitlines() or [""])[-1][:110].replace("|", "/")
    return p.returncode, first, float(seconds), int(kib) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--aiop", default="target/release/aiop")
    ap.add_argument("--work", type=pathlib.Path, default=None)
    a = ap.parse_args()
    repo = pathlib.Path(__file__).resolve().parents[2]
    work = a.work or pathlib.Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    sample = repo / "models/samples/resnet18.onnx"
    bundled = repo / "models/predictor/aiop-default.onnx"
    sparse = work / "sparse.onnx"
    with open(sparse, "wb") as f:
        f.truncate(2 << 30)
    fifo = work / "pipe"
    if not fifo.exists():
        os.mkfifo(fifo)
    cases = [
        ("model", "4,000 ReLUs into one Sum (`predict`)", ["predict", str(fan_in(work / "fan4k.onnx", 4000))]),
        ("model", "200,000 ReLUs into one Sum (`predict`)", ["predict", str(fan_in(work / "fan200k.onnx", 200_000))]),
        ("model", "Expand to 2^31 × 2^31 (`inspect`)", ["inspect", str(expand(work / "expand.onnx", [1 << 31, 1 << 31]))]),
        ("model", "Loop of 2^60 iterations (`inspect`)", ["inspect", str(loop(work / "loop.onnx", 1 << 60))]),
        ("model", "600 M packed zero varints in one tensor (`convert DIR`, worker limit 8 GiB)",
         ["convert", str(packed_zeros(work / "packed", 600 << 20)), "-o", str(work / "packed-out")]),
        ("model", "a FIFO named as the model", ["inspect", str(fifo)]),
        ("model", "/dev/zero as the model", ["inspect", "/dev/zero"]),
        ("predictor", "bundled + ConstantOfShape 28,000² (`predict`)",
         ["predict", "--predictor", str(costly_predictor(bundled, work / "costly.onnx")), str(sample)]),
        ("predictor", "2 GiB sparse file", ["predict", "--predictor", str(sparse), str(sample)]),
        ("predictor", "/dev/zero", ["predict", "--predictor", "/dev/zero", str(sample)]),
        ("dataset", "one NB-201 record × 2,000,000 (`dataset stats`)",
         ["dataset", "stats", str(dataset_bomb(repo / "models/datasets/nb201.aiopds", work / "bomb.aiopds", 2_000_000))]),
        ("dataset", "the same, `dataset split`", ["dataset", "split", str(work / "bomb.aiopds"), "-o", str(work / "split")]),
        ("labels", "/dev/zero as `--labels` (`rank`)", ["rank", str(sample), "--task", "imagenet-top1", "--labels", "/dev/zero"]),
    ]
    print("| input | case | exit | message (last line) | wall s | peak MB |")
    print("|---|---|---|---|---|---|")
    for kind, what, args in cases:
        code, message, seconds, mb = run(a.aiop, args)
        print(f"| {kind} | {what} | {code} | {message} | {seconds:.2f} | {mb:.0f} |", flush=True)


if __name__ == "__main__":
    main()
