"""Search-space generators: the same networks as `aiop zoo`, and specs rebuilt anywhere."""

from __future__ import annotations

import pytest
from conftest import cli

import aiop

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_nb201_equals_the_cli(tmp_path):
    cli("zoo", "nb201", ARCH, "-o", tmp_path / "cell.onnx")
    assert aiop.zoo.nb201_onnx(ARCH) == (tmp_path / "cell.onnx").read_bytes()
    cli("zoo", "nb201", ARCH, "-o", tmp_path / "c100.onnx", "--classes", "100")
    assert aiop.zoo.nb201_onnx(ARCH, classes=100) == (tmp_path / "c100.onnx").read_bytes()
    [cg] = aiop.zoo.generate(["nb201:" + ARCH])
    assert cg.name == "nb201:" + ARCH
    assert cg.macs == aiop.convert(tmp_path / "cell.onnx").macs


def test_nb201_sample_is_seeded_and_distinct():
    a = aiop.zoo.nb201_sample(300, seed=1)
    assert len(set(a)) == 300 and a == aiop.zoo.nb201_sample(300, seed=1)
    assert a != aiop.zoo.nb201_sample(300, seed=2)
    assert len(aiop.zoo.nb201_sample(10**6)) == 15_625
    assert aiop.zoo.nb201_specs(2, seed=1) == ["nb201:" + x for x in a[:2]]


def test_ofa_equals_the_cli(tmp_path):
    cli("zoo", "ofa", "--family", "mbv3", "--head", "pose", "--seed", "3", "--count", "4", "-o", tmp_path)
    files = sorted(tmp_path.glob("*.onnx"), key=lambda p: p.stat().st_mtime_ns)
    by_name = {p.name: p.read_bytes() for p in files}
    specs = aiop.zoo.ofa_specs("mbv3", "pose", 4, seed=3)
    for i, spec in enumerate(specs):
        name, data = aiop.zoo.ofa_onnx("mbv3", "pose", seed=3, index=i)
        assert by_name[name + ".onnx"] == data
        [cg] = aiop.zoo.generate([spec])
        assert cg.macs == aiop.convert(data).macs and cg.name == spec
    assert len(by_name) == 4


def test_bad_specs():
    for spec in (
        "nb201:|bogus~0|",
        "ofa:mbv3:pose:64:0",
        "ofa:cnn:pose:64:0:1",
        "ofa:mbv3:pose:63:0:1",
        "resnet:1",
        "ofa:mbv3:pose:64:0:99999999999",
    ):
        with pytest.raises(aiop.BadInputError):
            aiop.zoo.generate([spec])
    assert aiop.zoo.is_spec("nb201:x") and not aiop.zoo.is_spec("model.onnx")
