"""`aiop.rank`: the command line's ranking and scores, from folders, files and CGs."""

from __future__ import annotations

import shutil

import pytest
from conftest import cli_json

import aiop


def test_rank_equals_the_cli(torchvision_dir, classifier_labels):
    want = cli_json("rank", torchvision_dir, "--task", "imagenet-top1", "--labels", classifier_labels)
    got = aiop.rank(torchvision_dir, "imagenet-top1", labels=classifier_labels)
    assert len(got) == len(want["ranking"]) == 98
    for g, w in zip(got.rows, want["ranking"]):
        assert (g["rank"], g["name"], g["file"], g["value"], g["macs"], g["params"]) == (
            w["rank"],
            w["name"],
            w["file"],
            w["value"],
            w["macs"],
            w["params"],
        )
        assert abs(g["prediction"] - w["prediction"]) <= 1e-6
    for key in ("n", "srcc", "kendall", "mae", "flops_srcc"):
        assert getattr(got, key) == pytest.approx(want[key], abs=1e-9), key
    assert got.n > 50 and got.srcc > got.flops_srcc
    assert set(got.to_dict()) == set(want)


def test_rank_of_cgs_with_dict_labels_and_frame(torchvision_dir):
    cgs = [aiop.convert(torchvision_dir / f"{n}.onnx") for n in ("resnet18", "resnet50", "resnet152")]
    r = aiop.rank(cgs, "imagenet-top1", labels={"resnet18": 69.76, "resnet50": 76.13, "resnet152": 78.31})
    predictions = [row["prediction"] for row in r.rows]
    assert predictions == sorted(predictions, reverse=True)
    assert sorted(row["name"] for row in r.rows) == sorted(c.name for c in cgs)
    assert r.n == 3
    frame = r.frame
    assert list(frame.index) == [1, 2, 3] and list(frame["name"]) == [row["name"] for row in r.rows]
    unlabelled = aiop.rank(cgs, "imagenet-top1")
    assert unlabelled.srcc is None and "srcc" not in unlabelled.to_dict()


def test_bad_networks_raise_or_are_skipped(torchvision_dir, tmp_path):
    folder = tmp_path / "zoo"
    folder.mkdir()
    shutil.copy(torchvision_dir / "resnet18.onnx", folder)
    (folder / "broken.onnx").write_bytes(b"\x0a\x05junk!")
    with pytest.raises(aiop.BadInputError, match="broken.onnx"):
        aiop.rank(folder, "imagenet-top1")
    with pytest.warns(UserWarning, match="broken.onnx"):
        r = aiop.rank(folder, "imagenet-top1", errors="skip")
    assert [row["name"] for row in r.rows] == ["resnet18"]
    assert r.skipped[0][0].endswith("broken.onnx")
    with pytest.raises(aiop.UnknownTaskError):
        aiop.rank(folder, "no-such-task")
    bad_labels = tmp_path / "labels.csv"
    bad_labels.write_text("name,value\nresnet18,nan\n")
    with pytest.raises(aiop.BadInputError, match="labels.csv"):
        aiop.rank(folder, "imagenet-top1", labels=bad_labels, errors="skip")
