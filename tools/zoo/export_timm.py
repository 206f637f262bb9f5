#!/usr/bin/env python3
"""Export timm models (random weights, pretrained=False, no downloads) to ONNX.

Candidates are the architectures of ``timm.list_models()`` that appear in the
``arch`` column of the timm ImageNet results table (``--csv``, default
the repository's data/timm/timm_imagenet_flat.csv). Select them with
``--models a,b`` (explicit, not restricted to the CSV), ``--sample N --seed S``
(deterministic random sample of the sorted candidates) and/or ``--limit N``
(first N of the selection). The input resolution is the model's
``pretrained_cfg['input_size']`` (224 when missing); batch 1, eval mode.

``--labelled`` selects for the labelled timm dataset instead: one export per
architecture, at the resolution of the label it will get (the rule of
``aiop dataset build timm``: a row at the model's default resolution if there is
one, ImageNet-1k-only tags first, then the best top-1), skipping architectures
whose label costs more than ``--max-gmacs``; the seeded sample then keeps
architectures already exported first. The file is ``<arch>.onnx`` at the
default resolution and ``<arch>-<res>.onnx`` otherwise. Every job records the
architecture's timm module as its ``family``.

By default the exports are weight-stripped (``export_params=False``: parameters
become graph inputs); ``--with-weights`` keeps them.

Examples:
    export_timm.py --out ~/.cache/aiop/zoo/timm --sample 70 --seed 1
    export_timm.py --out /tmp/timm --models resnet50,vit_base_patch16_224

Each model runs in its own subprocess with a timeout (``--timeout``, 600 s);
existing files are skipped; ``<out>/manifest.json`` records the result of every
model (name, task, file, input_shape, status, error, seconds).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from pathlib import Path

# timm's fused attention uses F.scaled_dot_product_attention; the plain
# (unfused) path exports to ordinary MatMul/Softmax ops.
os.environ.setdefault("TIMM_FUSED_ATTN", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo_runner  # noqa: E402

DEFAULT_OPSET = 18
DEFAULT_CSV = str(Path(__file__).resolve().parents[2] / "data/timm/timm_imagenet_flat.csv")


def csv_rows(path: str) -> list[dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if "arch" not in (reader.fieldnames or []):
            sys.exit(f"{path}: no 'arch' column (header: {reader.fieldnames})")
        return [row for row in reader if row["arch"]]


def label_row(rows: list[dict], default_res: int) -> dict:
    """The row whose label an architecture gets (mirrors `aiop dataset build timm`)."""
    at_default = [r for r in rows if int(r["img_size"]) == default_res]
    pool = at_default or rows
    return max(pool, key=lambda r: (r.get("in1k_only") == "1", float(r["top1"])))


def family_of(name: str) -> str:
    from timm.models import _registry

    return _registry._model_to_module.get(name, "")


def input_size_of(cfg) -> list[int]:
    size = None
    if cfg is not None:
        size = cfg.get("input_size") if isinstance(cfg, dict) else getattr(cfg, "input_size", None)
    if not size:
        size = (3, 224, 224)
    return [1, *[int(v) for v in size]]


def plan(args) -> list[dict]:
    import timm

    if args.models:
        names = zoo_runner.split_list(args.models)
        known = set(timm.list_models())
        unknown = [n for n in names if n not in known]
        if unknown:
            print(f"warning: not in timm.list_models(): {unknown}", file=sys.stderr)
    elif args.labelled:
        return labelled_plan(args)
    else:
        names = sorted(set(timm.list_models()) & {r["arch"] for r in csv_rows(args.csv)})
        if args.sample:
            names = random.Random(args.seed).sample(names, min(args.sample, len(names)))
    if args.limit:
        names = names[: args.limit]
    jobs = []
    for n in names:
        try:
            cfg = timm.models.get_pretrained_cfg(n)
        except Exception:  # noqa: BLE001
            cfg = None
        jobs.append({"name": n, "task": "classification", "file": f"{n}{args.suffix}.onnx",
                     "input_shape": input_size_of(cfg), "family": family_of(n)})
    return jobs


def labelled_plan(args) -> list[dict]:
    import timm

    by_arch: dict[str, list[dict]] = {}
    for r in csv_rows(args.csv):
        by_arch.setdefault(r["arch"], []).append(r)
    candidates = []
    for n in sorted(set(timm.list_models()) & set(by_arch)):
        shape = input_size_of(timm.models.get_pretrained_cfg(n))
        row = label_row(by_arch[n], shape[-1])
        if float(row["gmacs"] or "inf") > args.max_gmacs:
            continue
        res = int(row["img_size"])
        file = f"{n}.onnx" if res == shape[-1] else f"{n}-{res}.onnx"
        candidates.append({"name": n, "task": "classification", "file": file,
                           "input_shape": [*shape[:-2], res, res], "family": family_of(n)})
    random.Random(args.seed).shuffle(candidates)
    candidates.sort(key=lambda j: not (args.out / j["file"]).exists())
    return candidates[: args.sample] if args.sample else candidates


def export(job: dict, tmp_path: str, args) -> dict:
    import timm
    import torch

    torch.manual_seed(0)
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    shape = job["input_shape"]
    default = input_size_of(timm.models.get_pretrained_cfg(job["name"]))
    kwargs = {}
    if shape[-2:] != default[-2:]:
        # models with a fixed-size grid (ViTs, Swin, ...) take the size at creation; the
        # others accept any input and reject the argument
        kwargs["img_size"] = shape[-1]
    try:
        model = timm.create_model(job["name"], pretrained=False, **kwargs).eval()
    except TypeError:
        model = timm.create_model(job["name"], pretrained=False).eval()
    if args.with_weights:
        zoo_runner.perturb_weights(model)
    x = torch.rand(*shape)
    with torch.no_grad():
        zoo_runner.onnx_export(model, (x,), tmp_path, args, ["input"], ["logits"], DEFAULT_OPSET)
    return {"input_shape": shape, "with_weights": bool(args.with_weights)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    zoo_runner.add_common_args(p)
    p.add_argument("--csv", default=DEFAULT_CSV, help="timm results CSV with an 'arch' column")
    p.add_argument("--sample", type=int, default=0, help="random sample of N candidate architectures")
    p.add_argument("--seed", type=int, default=0, help="seed for --sample")
    p.add_argument("--limit", type=int, default=0, help="keep only the first N selected models")
    p.add_argument("--suffix", default="", help="file name suffix")
    p.add_argument("--labelled", action="store_true",
                   help="one export per labelled architecture, at its label's resolution")
    p.add_argument("--max-gmacs", type=float, default=float("inf"),
                   help="with --labelled: skip architectures whose label costs more GMACs")
    args = p.parse_args(argv)
    if args.worker:
        return zoo_runner.run_worker(args, export)
    return zoo_runner.run_driver(os.path.abspath(__file__), plan(args), args)


if __name__ == "__main__":
    sys.exit(main())
