#!/usr/bin/env python3
"""Throughput of the Python package against the command line, in one run (issue 21).

    python tools/bench/python_throughput.py [--count 10000] [--repeat 3] [--aiop target/release/aiop]

Run with the Python that has the package installed (`pip install ./python`, plus
`dask[distributed]`). Measures, for `--count` NAS-Bench-201 cells (seed 0), build + convert +
predict of one task, in CGs/s (median of `--repeat` runs):

- from specs (no files): Python in one process (`aiop.zoo.generate` + `Predictor.predict`),
  and a Dask LocalCluster of 2 single-threaded worker processes (`aiop.dask.score`);
- from ONNX files in a folder: `aiop.rank(folder)`, `aiop.dask.rank(paths)` and the command
  line `aiop rank folder` (whole process);

then the per-call overhead of the binding: `Predictor.predict([cg], task=…)` on one 1,000-node
CG (torchvision EfficientNet-B7, 980 nodes) against the Rust API's call timed inside Rust on the same CG.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import lzma
import os
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import aiop
import aiop.dask

REPO = Path(__file__).resolve().parents[2]
TASK = "imagenet-top1"


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--aiop", default=os.environ.get("AIOP_BIN", str(REPO / "target" / "release" / "aiop")))
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    specs = aiop.zoo.nb201_specs(args.count, seed=0)
    predictor = aiop.Predictor.default()
    rows = []

    def python_specs():
        predictor.predict(aiop.zoo.generate(specs), task=TASK)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cells"
        folder.mkdir()
        for i, spec in enumerate(specs):
            (folder / f"cell{i:05d}.onnx").write_bytes(aiop.zoo.nb201_onnx(spec[len("nb201:") :]))
        paths = sorted(str(p) for p in folder.glob("*.onnx"))

        rows.append(("Python, one process", "specs", median_seconds(python_specs, args.repeat)))
        rows.append(("Python, one process", "files", median_seconds(lambda: aiop.rank(folder, TASK), args.repeat)))
        cli = [args.aiop, "rank", str(folder), "--task", TASK, "--json"]
        rows.append(
            (
                "CLI `aiop rank`",
                "files",
                median_seconds(lambda: subprocess.run(cli, check=True, capture_output=True), args.repeat),
            )
        )
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            aiop.dask.score(specs[:100], TASK, client)  # workers import aiop and load the predictor
            rows.append(
                (
                    "Dask LocalCluster, 2 workers",
                    "specs",
                    median_seconds(lambda: aiop.dask.score(specs, TASK, client, chunk_size=500), args.repeat),
                )
            )
            rows.append(
                (
                    "Dask LocalCluster, 2 workers",
                    "files",
                    median_seconds(lambda: aiop.dask.rank(paths, TASK, client, chunk_size=500), args.repeat),
                )
            )

    print(
        f"{args.count} NAS-Bench-201 cells, build/convert + predict `{TASK}`, median of {args.repeat}, "
        f"{os.cpu_count()} cores\n"
    )
    print("| runner | input | seconds | CGs/s |\n|---|---|---|---|")
    for runner, source, seconds in rows:
        print(f"| {runner} | {source} | {seconds:.2f} | {args.count / seconds:,.0f} |")

    with lzma.open(REPO / "tests" / "fixtures" / "torchvision.tar.xz") as xz, tarfile.open(fileobj=xz) as tar:
        data = tar.extractfile("./efficientnet_b7.onnx").read()
    cg = aiop.convert(data, name="efficientnet_b7.onnx")
    predictor.predict([cg], task=TASK)  # encodes once (cached on the CG), as the Rust timing assumes
    calls = 2000
    python_times, rust_times = [], []
    # interleaved, so that both see the same machine
    for _ in range(calls):
        start = time.perf_counter()
        predictor.predict([cg], task=TASK)
        python_times.append(time.perf_counter() - start)
        rust_times.extend(predictor._inner._time_rust(cg, TASK, 1))
    py_ms, rust_ms = statistics.median(python_times) * 1e3, statistics.median(rust_times) * 1e3
    print(
        f"\nOne {cg.num_nodes}-node CG (EfficientNet-B7), one task, {calls} calls each, interleaved, medians: "
        f"Python `Predictor.predict` {py_ms:.3f} ms, Rust API {rust_ms:.3f} ms, "
        f"binding overhead {100 * (py_ms - rust_ms) / rust_ms:+.1f} %"
    )


if __name__ == "__main__":
    main()
