#!/usr/bin/env python3
"""Export torchvision classifiers the ways deployments hold them, weight-stripped.

For each model, variants of the same network as OUT/<model>.<variant>.onnx (random weights,
no downloads):

    plain.onnx    legacy exporter (dynamo=False), export_params=False: BatchNorm kept, like the
                  training data of the bundled predictor
    folded.onnx   legacy exporter with parameters: BatchNorm folded into the convolutions
    dynamo.onnx   torch's default (dynamo) exporter
    qdq.onnx      ONNX Runtime static quantization, QDQ format (Quantize/DequantizeLinear pairs)
    qop.onnx      static quantization, QOperator format (QLinearConv, QLinearAdd, ...)
    dynamic.onnx  dynamic quantization (ConvInteger, MatMulInteger, DynamicQuantizeLinear)
    ort.onnx      ONNX Runtime's extended graph optimisations (FusedConv, FusedGemm, ...)
    ort-transformer.onnx  (transformers only) onnxruntime.transformers' optimizer
                  (Attention, SkipLayerNormalization, BiasGelu, ...)

Every variant but plain.onnx is made with weights, then stripped: each initializer larger than 64
elements becomes a graph input of the same name, type and shape, so files stay small and the
converter still sees every weight's shape and type.

Examples:
    export_deploy.py --out ~/.cache/aiop/zoo/deploy
    export_deploy.py --out /tmp/deploy --models resnet18
Pack into the test fixture with tools/zoo/pack_fixtures.sh (tests/fixtures/deploy.tar.xz).
Needs tools/zoo/requirements.txt plus onnxruntime and onnxscript.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo_runner  # noqa: E402

MODELS = ("resnet18", "mobilenet_v3_small", "efficientnet_b0", "regnet_y_400mf", "vit_b_16")
TRANSFORMERS = {"vit_b_16": ("vit", 12, 768)}
OPSET = 17
CALIBRATION_SAMPLES = 4
STRIP_ABOVE = 64


def export_torch(model, x, path: Path, params: bool, dynamo: bool) -> None:
    """Legacy exports follow the project's recipe (zoo_runner.onnx_export): without parameters
    the network as written (BatchNorm kept), with them the exporter's defaults (BatchNorm folded,
    constants folded). The dynamo export takes torch's defaults, its opset included."""
    import torch

    if dynamo:
        torch.onnx.export(model, (x,), str(path), dynamo=True, input_names=["input"],
                          output_names=["logits"])
        return
    args = argparse.Namespace(with_weights=params, fold=params, opset=None)
    zoo_runner.onnx_export(model, (x,), str(path), args, ["input"], ["logits"], OPSET)


def strip(src: Path, dst: Path) -> None:
    """Moves every initializer with more than STRIP_ABOVE elements to the graph inputs."""
    import onnx
    from onnx import helper

    m = onnx.load(str(src), load_external_data=True)
    g = m.graph
    keep, moved = [], []
    for t in g.initializer:
        n = 1
        for d in t.dims:
            n *= d
        (moved if n > STRIP_ABOVE else keep).append(t)
    del g.initializer[:]
    g.initializer.extend(keep)
    for t in moved:
        g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    onnx.save(m, str(dst))


def settle_batch_norm(model, batches: int = 4) -> None:
    """Sets every BatchNorm's running statistics to those of random images, as training would:
    activations then keep the scale and sign they have in a trained network (with the random
    init's statistics they grow layer after layer), so the quantizers calibrate realistic
    ranges (a ReLU's output clamped at zero, a convolution's signed)."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
    model.train()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for _ in range(batches):
            model(torch.rand(8, 3, 224, 224, generator=g))
    model.eval()


class Calibration:
    """Random calibration images for static quantization."""

    def __init__(self, input_name: str, shape):
        import numpy as np

        rng = np.random.default_rng(0)
        self.data = iter([{input_name: rng.random(shape).astype("float32")}
                          for _ in range(CALIBRATION_SAMPLES)])

    def get_next(self):
        return next(self.data, None)


def export(name: str, out: Path) -> None:
    import onnxruntime as ort
    import torch
    import torchvision
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    torch.manual_seed(0)
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    model = torchvision.models.get_model(name, weights=None).eval()
    # distinct weights, as a trained model has them: the exporters would share equal tensors
    zoo_runner.perturb_weights(model, centred=True)
    settle_batch_norm(model)
    x = torch.rand(1, 3, 224, 224)
    out.mkdir(parents=True, exist_ok=True)

    def file(variant: str) -> Path:
        return out / f"{name}.{variant}.onnx"

    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        tmp = Path(tmp)
        export_torch(model, x, file("plain"), params=False, dynamo=False)
        weighted = tmp / "folded.onnx"
        export_torch(model, x, weighted, params=True, dynamo=False)
        strip(weighted, file("folded"))
        export_torch(model, x, tmp / "dynamo.onnx", params=True, dynamo=True)
        strip(tmp / "dynamo.onnx", file("dynamo"))

        pre = tmp / "pre.onnx"
        quant_pre_process(str(weighted), str(pre), skip_symbolic_shape=True)
        for fmt, variant in ((QuantFormat.QDQ, "qdq"), (QuantFormat.QOperator, "qop")):
            q = tmp / f"{variant}.onnx"
            quantize_static(str(pre), str(q), Calibration("input", (1, 3, 224, 224)),
                            quant_format=fmt, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8)
            strip(q, file(variant))
        dq = tmp / "dynamic.onnx"
        quantize_dynamic(str(pre), str(dq), weight_type=QuantType.QInt8)
        strip(dq, file("dynamic"))

        opt = tmp / "ort.onnx"
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = str(opt)
        ort.InferenceSession(str(weighted), so, providers=["CPUExecutionProvider"])
        strip(opt, file("ort"))

        if name in TRANSFORMERS:
            from onnxruntime.transformers.optimizer import optimize_model

            kind, heads, hidden = TRANSFORMERS[name]
            t = optimize_model(str(weighted), model_type=kind, num_heads=heads, hidden_size=hidden)
            t.save_model_to_file(str(tmp / "tr.onnx"))
            strip(tmp / "tr.onnx", file("ort-transformer"))
    print(f"{name}: {sorted(p.name for p in out.glob(name + '.*.onnx'))}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--models", default=",".join(MODELS))
    args = p.parse_args(argv)
    for name in [m for m in args.models.split(",") if m]:
        export(name, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
