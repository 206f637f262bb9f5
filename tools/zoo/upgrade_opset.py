#!/usr/bin/env python3
"""Rewrites ONNX files at a newer opset with onnx's version converter.

torch's TorchScript exporter stops at opset 20; this gives the test fixtures opset-21 files:

    upgrade_opset.py --to 21 ~/.cache/aiop/zoo2/opsets/resnet18_opset20.onnx ...

Each FILE_opsetN.onnx is written next to itself as FILE_opset21.onnx.
"""
import argparse
import os
import re

import onnx
from onnx import version_converter


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--to", type=int, required=True, help="target opset")
    p.add_argument("files", nargs="+")
    args = p.parse_args()
    for path in args.files:
        model = onnx.load(path)
        upgraded = version_converter.convert_version(model, args.to)
        onnx.checker.check_model(upgraded)
        out = re.sub(r"_opset\d+\.onnx$", f"_opset{args.to}.onnx", path)
        if out == path:
            out = path[: -len(".onnx")] + f"_opset{args.to}.onnx"
        tmp = out + ".tmp"
        onnx.save(upgraded, tmp)
        os.replace(tmp, out)
        print(f"{path} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
