"""Shared fixtures: the repository's files, the `aiop` command line to compare against, and the
torchvision fixture exports (unpacked once per session)."""

from __future__ import annotations

import json
import lzma
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "models" / "samples" / "resnet18.onnx"


def cli_path() -> str:
    """The `aiop` binary: $AIOP_BIN (python/test.sh sets it), else `aiop` on the PATH."""
    path = os.environ.get("AIOP_BIN") or shutil.which("aiop")
    if not path:
        pytest.fail("set AIOP_BIN to the aiop binary (python/test.sh does): the tests compare with it")
    return path


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the command line; returns the completed process (text)."""
    done = subprocess.run([cli_path(), *map(str, args)], check=False, capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"aiop {' '.join(map(str, args))} exited {done.returncode}: {done.stderr}")
    return done


def cli_json(*args: str):
    return json.loads(cli(*args, "--json").stdout)


@pytest.fixture(scope="session")
def torchvision_dir(tmp_path_factory) -> Path:
    """The weight-stripped torchvision exports of tests/fixtures (98 files)."""
    out = tmp_path_factory.mktemp("torchvision")
    with lzma.open(REPO / "tests" / "fixtures" / "torchvision.tar.xz") as xz, tarfile.open(fileobj=xz) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(out, filter="data")
        else:  # Python < 3.11.4: the fixture is ours, and small
            tar.extractall(out)
    return out


@pytest.fixture(scope="session")
def classifier_labels(tmp_path_factory) -> Path:
    """Published ImageNet top-1 of torchvision's classifiers, as a name,value CSV."""
    import csv

    out = tmp_path_factory.mktemp("labels") / "top1.csv"
    rows = []
    with open(REPO / "data" / "torchvision" / "torchvision_weights_meta.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["module"] == "classification" and row["weights"].endswith("IMAGENET1K_V1"):
                top1 = json.loads(row["metrics"])["ImageNet-1K"]["acc@1"]
                rows.append(f"{row['model']},{top1}")
    out.write_text("name,value\n" + "\n".join(rows) + "\n")
    return out
