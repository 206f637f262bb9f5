#!/usr/bin/env python3
"""Export OpenMMLab zoo networks (mmsegmentation, mmdetection, mmpose) to ONNX.

The candidates are the configs of the zoo's results file in the labelled-data folder
(``--data``, default the repository's ``data/``) that report the chosen metric on ``--dataset``:

    --zoo mmseg  --dataset Cityscapes   metric mIoU
    --zoo mmdet  --dataset COCO         metric box AP
    --zoo mmpose --dataset COCO         metric AP (Body 2D Keypoint)

Configs that build the same network (their ``model`` dicts are equal once training-only
keys — losses, init, pretrained weights, train/test settings, data preprocessing — are
dropped, e.g. a 40k and an 80k schedule) are exported once: the config with the best result
names the file and the record, so ``aiop dataset build models DIR --labels <zoo>`` labels it.

Networks are built from the config with random weights (no downloads) on CPU. Installing
``mmcv-lite`` instead of ``mmcv`` leaves out the compiled ops; a stub module raises a clear
error if one is ever called (see ``stub_missing_modules``), so networks that need them (RoI heads, deformable convs) fail
with that message in the manifest. What is exported:

- mmseg: the segmentor's ``forward(mode="tensor")`` (backbone, neck, decode head) at the
  config's crop size;
- mmdet: ``forward(mode="tensor")`` (backbone, neck, dense head; no box decoding/NMS) at the
  test resize of a 640×480 COCO image, padded as the config says; when the head needs compiled
  ops (two-stage detectors), the backbone and neck alone (``extract_feat``), noted as
  ``part: backbone+neck`` in the manifest;
- mmpose: ``forward(mode="tensor")`` at the codec's input size.

Installation (pinned in requirements-openmmlab.txt): ``pip install mmcv-lite==2.1.0 mmengine
'setuptools<80'`` then ``pip install --no-deps mmsegmentation mmdet mmpose`` and the small
runtime deps listed there.

Example:
    export_openmmlab.py --zoo mmseg --dataset Cityscapes --out ~/.cache/aiop/zoo2/mmseg --jobs 2
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo_runner  # noqa: E402

DEFAULT_OPSET = 17
DEFAULT_DATA = str(Path(__file__).resolve().parents[2] / "data")

ZOOS = {
    # zoo: (python package, results file, task column value, metric)
    "mmseg": ("mmseg", "mmseg/mmseg_results.csv", "Semantic Segmentation", "mIoU"),
    "mmdet": ("mmdet", "mmdet/mmdet_results.csv", "Object Detection", "box AP"),
    "mmpose": ("mmpose", "mmpose/mmpose_results.csv", "Body 2D Keypoint", "AP"),
}

# keys of a model dict that do not change the network run at inference
TRAINING_ONLY = ("init_cfg", "pretrained", "train_cfg", "test_cfg", "data_preprocessor",
                 "loss", "sampler", "assigner", "checkpoint", "frozen_stages", "norm_eval")


def stub_missing_modules() -> None:
    """Stand-ins for modules the networks never use but the packages import.

    mmcv-lite has no ``mmcv._ext``: a module whose ops fail when called takes its place.
    mmpose imports ``xtcocotools`` (COCO evaluation, no wheel for this numpy): pycocotools,
    which has the same API, takes its place.
    """
    if "mmcv._ext" in sys.modules:
        return
    try:
        import xtcocotools  # noqa: F401
    except ImportError:
        import pycocotools
        import pycocotools.coco
        import pycocotools.cocoeval

        sys.modules.update({"xtcocotools": pycocotools, "xtcocotools.coco": pycocotools.coco,
                            "xtcocotools.cocoeval": pycocotools.cocoeval})
    stub = types.ModuleType("mmcv._ext")
    stub.__file__ = "mmcv_ext_stub.py"

    def missing(name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def op(*_args, **_kwargs):
            raise RuntimeError(f"mmcv compiled op `{name}` is not available (mmcv-lite)")

        return op

    stub.__getattr__ = missing
    sys.modules["mmcv._ext"] = stub


def exportable_adaptive_avg_pool() -> None:
    """Lets the legacy exporter write adaptive average pooling of any output size.

    It refuses sizes that do not divide the input (PSPNet's 3×3 and 6×6 bins on a 64×128
    map). Adaptive pooling is by definition the mean over windows
    ``[floor(i·H/out), ceil((i+1)·H/out))``, so those calls are written as that: slices,
    means and concatenations, the same numbers as a graph of plain ops.
    """
    import torch
    import torch.nn.functional as F

    original = F.adaptive_avg_pool2d

    def windows(size: int, out: int) -> list[tuple[int, int]]:
        return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]

    def pool(x, output_size):
        h, w = int(x.shape[-2]), int(x.shape[-1])
        oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
        oh, ow = oh or h, ow or w
        if h % oh == 0 and w % ow == 0:
            return original(x, output_size)
        rows = [torch.cat([x[..., r0:r1, c0:c1].mean(dim=(-2, -1), keepdim=True)
                           for c0, c1 in windows(w, ow)], dim=-1)
                for r0, r1 in windows(h, oh)]
        return torch.cat(rows, dim=-2)

    F.adaptive_avg_pool2d = pool
    torch.nn.modules.pooling.F.adaptive_avg_pool2d = pool


def package_root(zoo: str) -> Path:
    import importlib

    pkg = importlib.import_module(ZOOS[zoo][0])
    return Path(pkg.__file__).resolve().parent / ".mim"


def config_path(root: Path, row: dict) -> Path | None:
    """The config file of a results row (some rows give the path without its folder)."""
    direct = root / row["config"]
    if direct.is_file():
        return direct
    metafile = row["file"].split("/.mim/", 1)[-1]
    beside = root / Path(metafile).parent / Path(row["config"]).name
    return beside if beside.is_file() else None


def network_key(model_cfg) -> str:
    """A string equal for configs that build the same inference network."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in sorted(v.items())
                    if not any(k.startswith(t) for t in TRAINING_ONLY)}
        if isinstance(v, (list, tuple)):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(model_cfg.to_dict() if hasattr(model_cfg, "to_dict") else model_cfg),
                      sort_keys=True, default=str)


def input_hw(zoo: str, cfg) -> list[int]:
    """Height and width of the network input for a config."""
    if zoo == "mmseg":
        crop = cfg.get("crop_size") or cfg.model.get("data_preprocessor", {}).get("size")
        return [int(crop[0]), int(crop[1])]
    if zoo == "mmpose":
        w, h = cfg.codec["input_size"] if isinstance(cfg.codec, dict) else cfg.codec[0]["input_size"]
        return [int(h), int(w)]
    # mmdet: the test Resize applied to a 640×480 image, then padding
    scale, keep_ratio = (1333, 800), True
    for step in cfg.get("test_pipeline") or cfg.test_dataloader.dataset.pipeline:
        if step.get("type") == "Resize":
            scale, keep_ratio = step.get("scale", scale), step.get("keep_ratio", False)
    w, h = 640, 480
    if keep_ratio:
        f = min(max(scale) / max(w, h), min(scale) / min(w, h))
        h, w = int(h * f + 0.5), int(w * f + 0.5)
    else:
        w, h = scale
    divisor = cfg.model.get("data_preprocessor", {}).get("pad_size_divisor", 1) or 1
    return [math.ceil(h / divisor) * divisor, math.ceil(w / divisor) * divisor]


def family_of(row: dict, name: str) -> str:
    """The results file's architecture (its last `;` part), else the config name's first word."""
    arch = row.get("arch", "").split(";")[-1].strip()
    return arch if arch and arch != "None" else name.split("_")[0]


def load_config(path: Path):
    from mmengine import Config

    return Config.fromfile(str(path))


def plan(args) -> list[dict]:
    package, results, task, metric = ZOOS[args.zoo]
    stub_missing_modules()
    root = package_root(args.zoo)
    best: dict[str, dict] = {}
    with open(Path(args.data) / results, newline="") as f:
        for row in csv.DictReader(f):
            if row["task"] != task or row["dataset"] != args.dataset or row["metric"] != metric:
                continue
            try:
                value = float(row["value"])
            except ValueError:
                continue
            if row["name"] not in best or value > best[row["name"]]["value"]:
                best[row["name"]] = {**row, "value": value}
    by_network: dict[str, dict] = {}
    skipped = []
    for name in sorted(best):
        row = best[name]
        path = config_path(root, row)
        if path is None:
            skipped.append(f"{name}: config {row['config']} not in the {package} wheel")
            continue
        try:
            cfg = load_config(path)
            key = network_key(cfg.model)
            shape = [1, 3, *input_hw(args.zoo, cfg)]
        except Exception as e:  # noqa: BLE001 - report and go on
            skipped.append(f"{name}: {zoo_runner.one_line(e)}")
            continue
        job = {"name": name, "task": args.zoo, "file": f"{name}.onnx", "input_shape": shape,
               "family": family_of(row, name),
               "config": str(path.relative_to(root)), "value": row["value"]}
        if key not in by_network or job["value"] > by_network[key]["value"]:
            by_network[key] = job
    for s in skipped:
        print("skip", s, file=sys.stderr)
    jobs = sorted(by_network.values(), key=lambda j: j["name"])
    for j in jobs:
        del j["value"]
    print(f"{len(best)} labelled configs, {len(jobs)} distinct networks", file=sys.stderr)
    if args.sample:
        jobs = sorted(random.Random(args.seed).sample(jobs, min(args.sample, len(jobs))),
                      key=lambda j: j["name"])
    return jobs[: args.limit] if args.limit else jobs


def export(job: dict, tmp_path: str, args) -> dict:
    import importlib

    import torch

    stub_missing_modules()
    exportable_adaptive_avg_pool()
    package = ZOOS[args.zoo][0]
    importlib.import_module(f"{package}.utils").register_all_modules()
    registry = importlib.import_module(f"{package}.registry").MODELS
    cfg = load_config(package_root(args.zoo) / job["config"])
    cfg.model.pop("pretrained", None)
    torch.manual_seed(0)
    model = registry.build(cfg.model).eval()
    x = torch.rand(*job["input_shape"])

    class Tensor(torch.nn.Module):
        """The network as a plain module: image in, tensors out."""

        def __init__(self, inner, part):
            super().__init__()
            self.inner, self.part = inner, part

        def forward(self, image):
            if self.part == "backbone+neck":
                return self.inner.extract_feat(image)
            return self.inner(image, None, mode="tensor")

    part = "full"
    with torch.no_grad():
        try:
            Tensor(model, part)(x)
        except Exception as e:  # noqa: BLE001 - a head with compiled ops
            if args.zoo != "mmdet" or not hasattr(model, "extract_feat"):
                raise
            print(f"full network failed ({zoo_runner.one_line(e)}); exporting backbone+neck")
            part = "backbone+neck"
        zoo_runner.onnx_export(Tensor(model, part), (x,), tmp_path, args, ["input"], None,
                               DEFAULT_OPSET)
    return {"part": part}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    zoo_runner.add_common_args(p)
    p.add_argument("--zoo", required=True, choices=sorted(ZOOS))
    p.add_argument("--dataset", required=True, help="dataset column value, e.g. Cityscapes, COCO")
    p.add_argument("--data", default=DEFAULT_DATA, help="labelled-data folder")
    p.add_argument("--sample", type=int, default=0, help="random sample of N distinct networks")
    p.add_argument("--seed", type=int, default=0, help="seed for --sample")
    p.add_argument("--limit", type=int, default=0, help="keep only the first N networks")
    args = p.parse_args(argv)
    if args.worker:
        return zoo_runner.run_worker(args, export)
    extra = ["--zoo", args.zoo, "--dataset", args.dataset, "--data", args.data]
    return zoo_runner.run_driver(os.path.abspath(__file__), plan(args), args, extra)


if __name__ == "__main__":
    sys.exit(main())
