"""Conversion from Python: the same CG as the command line, every input form, files out, and
bad inputs raising typed exceptions with the command line's message."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE, cli, cli_json

import aiop

# the sample, a TensorFlow graph, and torchvision exports of several kinds
TORCHVISION = ["mobilenet_v3_small", "swin_t", "fcn_resnet50", "ssdlite320_mobilenet_v3_large", "efficientnet_b0"]


def same_as_inspect(cg: aiop.CG, path: Path, *flags: str) -> None:
    want = cli_json("inspect", path, *flags)
    got = cg.summary()
    for key in (
        "name",
        "nodes",
        "edges",
        "macs",
        "flops",
        "params",
        "unknown_shapes",
        "ops",
        "op_types",
        "stages",
        "warnings",
    ):
        assert got[key] == want[key], (path, key)
    assert (cg.macs, cg.params, cg.num_nodes, cg.num_edges, cg.ops) == (
        want["macs"],
        want["params"],
        want["nodes"],
        want["edges"],
        want["ops"],
    )


def test_conversion_equals_inspect(torchvision_dir):
    same_as_inspect(aiop.convert(SAMPLE), SAMPLE)
    for name in TORCHVISION:
        path = torchvision_dir / f"{name}.onnx"
        same_as_inspect(aiop.convert(path), path)
        same_as_inspect(aiop.convert(str(path), canonical=True), path, "--canonical")


def test_tensorflow_graph_equals_inspect(tmp_path):
    import lzma
    import tarfile

    with lzma.open(REPO / "tests" / "fixtures" / "keras.tar.xz") as xz, tarfile.open(fileobj=xz) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".pb"))
        (tmp_path / "net.pb").write_bytes(tar.extractfile(member).read())
    path = tmp_path / "net.pb"
    same_as_inspect(aiop.convert(path), path)
    # bytes named *.pb are TensorFlow too
    assert aiop.convert(path.read_bytes(), name="net.pb").summary()["macs"] == aiop.convert(path).macs


def test_bytes_and_options():
    from_bytes = aiop.convert(SAMPLE.read_bytes())
    assert from_bytes.name == "model"
    assert (from_bytes.macs, from_bytes.num_nodes) == (aiop.convert(SAMPLE).macs, aiop.convert(SAMPLE).num_nodes)
    assert aiop.convert(bytearray(SAMPLE.read_bytes()), name="r18.onnx").name == "r18"
    # input shapes: a dict, a CLI string or a list of them; resolution for open dimensions
    want = cli_json("inspect", SAMPLE, "--input-shape", "input=1,3,320,320")
    for spec in ({"input": [1, 3, 320, 320]}, "input=1,3,320,320", ["input=1,3,320,320"]):
        assert aiop.convert(SAMPLE, input_shape=spec).macs == want["macs"]
    with pytest.raises(ValueError, match="dimensions must be non-negative integers"):
        aiop.convert(SAMPLE, input_shape="input=1,3,x")
    with pytest.raises(TypeError):
        aiop.convert(SAMPLE, input_shape=42)


def test_save_load_and_pickle(tmp_path):
    cg = aiop.convert(SAMPLE)
    for name in ("r18.json", "r18.cg"):
        cg.save(tmp_path / name)
        back = aiop.load_cg(tmp_path / name)
        assert back.to_dict() == cg.to_dict()
    # the files are the command line's
    cli("convert", SAMPLE, "-o", tmp_path / "cli.json")
    assert aiop.load_cg(tmp_path / "cli.json").to_dict() == cg.to_dict()
    assert (tmp_path / "r18.cg").read_bytes() == cg.to_bytes()
    assert oct(os.stat(tmp_path / "r18.cg").st_mode & 0o777) == "0o644"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left"
    assert pickle.loads(pickle.dumps(cg)).to_dict() == cg.to_dict()
    assert "resnet18" in repr(cg) and "GMACs" in repr(cg)
    assert cg.to_dict()["format"] == "aiop-cg"


def test_convert_all_in_parallel(torchvision_dir, tmp_path):
    paths = [torchvision_dir / f"{n}.onnx" for n in TORCHVISION]
    many = aiop.convert_all(paths)
    assert [c.macs for c in many] == [aiop.convert(p).macs for p in paths]
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07junk")
    mixed = aiop.convert_all([paths[0], junk], errors="return")
    assert isinstance(mixed[0], aiop.CG) and isinstance(mixed[1], aiop.BadInputError)
    with pytest.raises(aiop.BadInputError, match="junk.onnx"):
        aiop.convert_all([paths[0], junk])


def cli_error(*args) -> str:
    """The command line's one-line error, without its `error: ` prefix (exit status 2)."""
    done = cli(*args, check=False)
    assert done.returncode == 2, done
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    return line[len("error: ") :]


def test_bad_inputs_raise_typed_errors_with_the_cli_message(tmp_path):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(SAMPLE.read_bytes()[:5000])
    random = tmp_path / "random.onnx"
    random.write_bytes(os.urandom(4096))
    bad_cg = tmp_path / "bad.json"
    bad_cg.write_text('{"format": "aiop-cg", "version": 99}')
    for path in (truncated, random, bad_cg):
        with pytest.raises(aiop.BadInputError) as e:
            aiop.convert(path)
        assert str(e.value) == cli_error("inspect", path), path
        assert isinstance(e.value, ValueError) and str(path) in str(e.value)
    missing = tmp_path / "missing.onnx"
    with pytest.raises(aiop.MissingFileError) as e:
        aiop.convert(missing)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, aiop.BadInputError)
    assert str(e.value) == cli_error("inspect", missing)
    with pytest.raises(aiop.BadInputError, match="not a CG file"):
        aiop.load_cg(SAMPLE)
    with pytest.raises(aiop.MissingFileError):
        aiop.load_cg(missing)
    with pytest.raises(aiop.BadInputError, match="model.onnx"):
        aiop.convert(b"\x00\x01garbage")
    # a hostile name is reported on one line
    hostile = tmp_path / "a\nb.onnx"
    hostile.write_bytes(b"junk")
    with pytest.raises(aiop.BadInputError) as e:
        aiop.convert(hostile)
    assert "\n" not in str(e.value) and "a\\nb.onnx" in str(e.value)
