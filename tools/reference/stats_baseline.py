#!/usr/bin/env python3
"""The graph-statistics baseline of issue 25 as a reference script: scikit-learn's
GradientBoostingRegressor (200 trees of depth 3, otherwise defaults) on log MACs, log params,
log node count and log input resolution of the canonical CG, fitted on one folder of CG files
and scored on another (each folder with the `labels.csv` that `aiop dataset export` writes).
For baselines across zoos (train on timm, rank torchvision), where the trainer's built-in
regressor (`aiop_trainer::stats_regressor`) has no command of its own.

    tools/reference/stats_baseline.py TRAIN_DIR TEST_DIR [--exclude HELD_OUT_DIR] [--aiop PATH]

Needs numpy, scipy and scikit-learn."""
import argparse
import csv
import json
import math
import pathlib
import subprocess

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import GradientBoostingRegressor


def labelled(folder):
    with open(folder / "labels.csv", newline="") as f:
        return {row["name"]: float(row["value"]) for row in csv.DictReader(f)}


def features(aiop, cg):
    d = json.loads(subprocess.run([aiop, "inspect", str(cg), "--canonical", "--json"],
                                  check=True, capture_output=True, text=True).stdout)
    shape = next((i["shape"] for i in d["inputs"] if len(i.get("shape") or []) == 4), None)
    resolution = shape[2] if shape and isinstance(shape[2], int) else 0
    log = lambda v: math.log(max(v, 1))
    return [log(d["macs"]), log(d["params"]), log(d["nodes"]), log(resolution)]


def table(aiop, folder, skip=()):
    labels = labelled(folder)
    names = sorted(n for n in labels if n not in skip)
    x = np.array([features(aiop, folder / f"{n}.cg") for n in names])
    return names, x, np.array([labels[n] for n in names])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("train", type=pathlib.Path)
    p.add_argument("test", type=pathlib.Path)
    p.add_argument("--exclude", type=pathlib.Path, help="a folder whose records leave the training side")
    p.add_argument("--aiop", default="target/release/aiop")
    a = p.parse_args()
    skip = set(labelled(a.exclude)) if a.exclude else set()
    _, x, y = table(a.aiop, a.train, skip)
    _, xt, yt = table(a.aiop, a.test)
    model = GradientBoostingRegressor(n_estimators=200, max_depth=3, random_state=0).fit(x, y)
    predicted = model.predict(xt)
    print(json.dumps({"train": len(y), "n": len(yt),
                      "srcc": spearmanr(predicted, yt).correlation,
                      "mae": float(np.mean(np.abs(predicted - yt))),
                      "flops_srcc": spearmanr(np.exp(xt[:, 0]), yt).correlation}, indent=1))


if __name__ == "__main__":
    main()
