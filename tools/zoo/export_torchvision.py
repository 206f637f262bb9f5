#!/usr/bin/env python3
"""Export torchvision models (random weights, no downloads) to ONNX.

By default the exports are *weight-stripped*: ``export_params=False``, so every
parameter / buffer becomes an extra graph input instead of an initializer and
the files stay small. ``--with-weights`` keeps the parameters (used for the
ResNet-50 benchmark file).

Examples:
    export_torchvision.py --out ~/.cache/aiop/zoo/torchvision
    export_torchvision.py --out /tmp/tv --tasks classification --models resnet18,vit_b_16
    export_torchvision.py --out ~/.cache/aiop/zoo/bench --models resnet50 --with-weights --suffix _weights

Each model runs in its own subprocess with a timeout (``--timeout``, 600 s);
existing files are skipped; ``<out>/manifest.json`` records the result of every
model (name, task, file, input_shape, status, error, seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo_runner  # noqa: E402

TASKS = ("classification", "segmentation", "detection", "keypoint")
DEFAULT_OPSET = 17
SEG_SIZE = 520
DET_SIZE = 800
# detection models whose natural input size differs from 800x800
DET_NATURAL_SIZE = {
    "ssd300_vgg16": 300,
    "ssdlite320_mobilenet_v3_large": 320,
    "fasterrcnn_mobilenet_v3_large_320_fpn": 320,
}


def classification_size(name: str) -> int:
    """Native crop size of the model's DEFAULT weights (read from metadata, nothing downloaded)."""
    import torchvision

    try:
        w = torchvision.models.get_model_weights(name).DEFAULT
    except Exception:  # noqa: BLE001 - no weights enum: fall back to 224
        return 224
    try:
        crop = w.transforms().crop_size
        return int(crop[0] if isinstance(crop, (list, tuple)) else crop)
    except Exception:  # noqa: BLE001
        return 224


def plan(args) -> list[dict]:
    import torchvision.models as M

    tasks = zoo_runner.split_list(args.tasks)
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        sys.exit(f"unknown task(s) {bad}; choose from {','.join(TASKS)}")
    wanted = set(zoo_runner.split_list(args.models))
    jobs = []

    def add(name, task, h, w=None):
        if wanted and name not in wanted:
            return
        # the builder's module (torchvision.models.detection.faster_rcnn → faster_rcnn) is
        # the family used by leave-family-out splits
        family = M.get_model_builder(name).__module__.rsplit(".", 1)[-1]
        jobs.append({"name": name, "task": task, "file": f"{name}{args.suffix}.onnx",
                     "input_shape": [1, 3, h, w or h], "family": family})

    if "classification" in tasks:
        for n in M.list_models(module=M):
            add(n, "classification", classification_size(n))
    if "segmentation" in tasks:
        for n in M.list_models(module=M.segmentation):
            add(n, "segmentation", SEG_SIZE)
    det = M.list_models(module=M.detection)
    if "detection" in tasks:
        for n in det:
            if not n.startswith("keypointrcnn"):
                add(n, "detection", DET_NATURAL_SIZE.get(n, DET_SIZE))
    if "keypoint" in tasks:
        for n in det:
            if n.startswith("keypointrcnn"):
                add(n, "keypoint", DET_SIZE)
    if wanted:
        missing = wanted - {j["name"] for j in jobs}
        if missing:
            print(f"warning: no such model in the selected tasks: {sorted(missing)}", file=sys.stderr)
    return jobs


def build(job: dict):
    import inspect

    import torchvision

    name, task = job["name"], job["task"]
    kwargs: dict = {"weights": None}
    if task in ("segmentation", "detection", "keypoint"):
        kwargs["weights_backbone"] = None
    if task == "classification":
        builder = torchvision.models.get_model_builder(name)
        params = inspect.signature(builder).parameters
        # ViT: build the architecture of the DEFAULT weights (e.g. vit_h_14 SWAG at 518)
        if "image_size" in params or name.startswith("vit_"):
            kwargs["image_size"] = job["input_shape"][2]
    return torchvision.models.get_model(name, **kwargs)


def export(job: dict, tmp_path: str, args) -> dict:
    import torch

    torch.manual_seed(0)
    # nn.MultiheadAttention's inference fast path (aten::_native_multi_head_attention)
    # has no ONNX symbolic; export the plain math path instead.
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    model = build(job).eval()
    if args.with_weights:
        zoo_runner.perturb_weights(model)
    x = torch.rand(*job["input_shape"])
    task = job["task"]
    with torch.no_grad():
        if task in ("detection", "keypoint"):
            out = model([x[0]])
            output_names = list(out[0].keys())
            inputs = ([x[0]],)
            input_names = ["images"]
        elif task == "segmentation":
            out = model(x)
            output_names = list(out.keys())
            inputs = (x,)
            input_names = ["input"]
        else:
            inputs = (x,)
            input_names = ["input"]
            output_names = ["logits"]
        zoo_runner.onnx_export(model, inputs, tmp_path, args, input_names, output_names, DEFAULT_OPSET)
    return {"input_shape": list(x.shape), "with_weights": bool(args.with_weights)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    zoo_runner.add_common_args(p)
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {','.join(TASKS)}")
    p.add_argument("--suffix", default="", help="file name suffix, e.g. _weights -> resnet50_weights.onnx")
    args = p.parse_args(argv)
    if args.worker:
        return zoo_runner.run_worker(args, export)
    return zoo_runner.run_driver(os.path.abspath(__file__), plan(args), args)


if __name__ == "__main__":
    sys.exit(main())
