"""Prediction from Python: `aiop predict --json`'s numbers, every backend, typed errors, and a
predictor shared by threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import REPO, SAMPLE, cli, cli_json

import aiop

BUNDLED = REPO / "models" / "predictor" / "aiop-default.onnx"
NETS = ["resnet18", "mobilenet_v3_small", "swin_t", "densenet121", "deeplabv3_mobilenet_v3_large"]


@pytest.fixture(scope="module")
def predictor():
    return aiop.Predictor.default()


def test_predictions_equal_the_cli(predictor, torchvision_dir):
    paths = [torchvision_dir / f"{n}.onnx" for n in NETS]
    rows = cli_json("predict", *paths)
    want = {(r["file"], r["task"]): r["prediction"] for r in rows}
    got = predictor.predict([aiop.convert(p) for p in paths])
    assert got.shape == (len(paths), len(predictor.tasks)) and got.dtype == np.float64
    for i, p in enumerate(paths):
        for j, task in enumerate(predictor.tasks):
            assert abs(got[i, j] - want[(str(p), task)]) <= 1e-6, (p, task)
    # one task: a 1-D array; paths are converted first
    one = predictor.predict(paths, task="coco-box-ap")
    assert one.shape == (len(paths),)
    assert np.array_equal(one, got[:, predictor.tasks.index("coco-box-ap")])
    assert np.array_equal(
        predictor.predict(paths, task=["coco-kp-ap", "imagenet-top1"]),
        got[:, [predictor.tasks.index("coco-kp-ap"), predictor.tasks.index("imagenet-top1")]],
    )
    assert predictor.predict([], task="imagenet-top1").shape == (0,)


def test_sample_single_file_and_predictor_file():
    want = {r["task"]: r["prediction"] for r in cli_json("predict", SAMPLE)}
    from_file = aiop.Predictor(BUNDLED)
    got = from_file.predict(aiop.convert(SAMPLE))
    assert got.shape == (1, 4)
    assert np.allclose(got[0], [want[t] for t in from_file.tasks], rtol=0, atol=1e-6)
    assert from_file.tasks == ["imagenet-top1", "cityscapes-miou", "coco-box-ap", "coco-kp-ap"]
    assert from_file.info()["tasks"][0]["task"] == "imagenet-top1"


def test_tract_backend_agrees(torchvision_dir):
    cgs = [aiop.convert(torchvision_dir / f"{n}.onnx") for n in NETS]
    native = aiop.Predictor.default().predict(cgs)
    tract = aiop.Predictor.default(backend="tract")
    assert tract.backend == "tract"
    assert np.allclose(tract.predict(cgs), native, rtol=0, atol=1e-3)


def test_errors(tmp_path, predictor):
    with pytest.raises(aiop.UnknownTaskError, match="it has: imagenet-top1, cityscapes-miou"):
        predictor.predict([aiop.convert(SAMPLE)], task="cifar10-top1")
    junk = tmp_path / "junk-predictor.onnx"
    junk.write_bytes(b"not a predictor")
    with pytest.raises(aiop.BadInputError) as e:
        aiop.Predictor(junk)
    done = cli("predict", SAMPLE, "--predictor", junk, check=False)
    assert done.returncode == 2 and done.stderr.strip() == f"error: {e.value}"
    with pytest.raises(aiop.MissingFileError):
        aiop.Predictor(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="backend"):
        aiop.Predictor.default(backend="cuda")


def test_one_predictor_shared_by_threads(predictor, torchvision_dir):
    cgs = [aiop.convert(p) for p in sorted(torchvision_dir.glob("*.onnx"))[:24]]
    want = predictor.predict(cgs)
    results, failures = [], []

    def work():
        try:
            for _ in range(5):
                results.append(predictor.predict(cgs))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(results) == 40 and all(np.array_equal(r, want) for r in results)
