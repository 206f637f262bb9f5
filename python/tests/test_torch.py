"""`aiop.from_torch`: a torchvision ResNet-18 exported in memory converts to the same CG as the
shipped export of it."""

from __future__ import annotations

import pytest

import aiop

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch torchvision)")
torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed")


def test_resnet18_equals_the_exported_file(torchvision_dir):
    model = torchvision.models.resnet18(weights=None).eval()
    cg = aiop.from_torch(model, torch.randn(1, 3, 224, 224), output_names=["logits"])
    want = aiop.convert(torchvision_dir / "resnet18.onnx")
    assert cg.name == "ResNet"
    assert (cg.macs, cg.params, cg.num_nodes, cg.num_edges, cg.ops) == (
        want.macs,
        want.params,
        want.num_nodes,
        want.num_edges,
        want.ops,
    )
    p = aiop.Predictor.default()
    assert (p.predict([cg]) == p.predict([want])).all()
    assert not model.training, "left in the mode it was given"
    model.train()
    aiop.from_torch(model, torch.randn(1, 3, 224, 224))
    assert model.training


def test_export_options_pass_through():
    model = torchvision.models.mobilenet_v3_small(weights=None)
    plain = aiop.from_torch(model, torch.randn(1, 3, 224, 224), name="mbv3s")
    # the exporter's own defaults (weights kept, BatchNorm folded into the convolutions)
    folded = aiop.from_torch(
        model,
        torch.randn(1, 3, 224, 224),
        export_params=True,
        keep_initializers_as_inputs=False,
        do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    assert plain.name == "mbv3s"
    assert plain.ops.get("batch_norm", 0) > 0 == folded.ops.get("batch_norm", 0)
    assert folded.params < plain.params  # BatchNorm's scale and shift are folded away
