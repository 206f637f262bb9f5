#!/usr/bin/env python3
"""Export keras.applications models (random weights, no downloads) as a frozen TensorFlow
GraphDef (``.pb``), a TF2 SavedModel and ONNX, for the TF importer's tests (issue 4).

Keras 3 builds the same architecture on either backend, so the two files of one model have the
same layers and parameter counts; the weights differ (random) and do not matter. Run the script
once per backend, each with its own Python environment:

    KERAS_BACKEND=tensorflow ~/.cache/aiop/venv-tf/bin/python export_keras_tf.py --format pb   --out DIR
    KERAS_BACKEND=tensorflow ~/.cache/aiop/venv-tf/bin/python export_keras_tf.py --format savedmodel --out DIR
    KERAS_BACKEND=torch      ~/.cache/aiop/venv/bin/python    export_keras_tf.py --format onnx --out DIR

(``requirements-keras-tf.txt`` pins the TensorFlow environment; the torch one is
``requirements.txt`` plus keras.) Files are weight-stripped by default: in the ``.pb`` every
constant larger than 64 elements keeps its dtype and shape but loses its values; in the ONNX
file such initializers become graph inputs (as torch's ``export_params=False``).
``--with-weights`` keeps them. A SavedModel (``<name>.savedmodel/``, Keras's
``model.export(format="tf_saved_model")``: the network inside TF2 functions, an open batch
dimension) keeps only ``saved_model.pb`` unless ``--with-weights``: the importer reads variable
shapes from the graph, never the ``variables/`` files. ``<name>.keras.json`` records Keras's own parameter count. Besides the applications, ``deeplab_mobilenetv2`` is a
DeepLab-v3+-style segmenter built here: a MobileNetV2 backbone, ASPP (1×1 and three atrous 3×3
branches and image pooling) and a decoder with a low-level skip, upsampled bilinearly.

Each model runs in its own subprocess with a timeout; ``<out>/manifest-<format>.json`` records
every result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MODELS = {
    # name: (keras.applications constructor, input size)
    "resnet50": ("ResNet50", 224),
    "resnet101": ("ResNet101", 224),
    "resnet50v2": ("ResNet50V2", 224),
    "resnet101v2": ("ResNet101V2", 224),
    "mobilenet": ("MobileNet", 224),
    "mobilenetv2": ("MobileNetV2", 224),
    "mobilenetv3small": ("MobileNetV3Small", 224),
    "mobilenetv3large": ("MobileNetV3Large", 224),
    "efficientnetb0": ("EfficientNetB0", 224),
    "efficientnetb1": ("EfficientNetB1", 240),
    "efficientnetb2": ("EfficientNetB2", 260),
    "efficientnetb3": ("EfficientNetB3", 300),
    "inceptionv3": ("InceptionV3", 299),
    "xception": ("Xception", 299),
    "densenet121": ("DenseNet121", 224),
    # .pb only: Keras 3 has no NASNet on the torch backend; its Cropping2D slices with bounds
    # computed from Shape
    "nasnetmobile": ("NASNetMobile", 224),
    "deeplab_mobilenetv2": (None, 512),
}
# The networks of tests/fixtures/keras.tar.xz.
FIXTURE = set(MODELS)
# The rest of keras.applications at their default input sizes (`--models all-applications`),
# for the importer's coverage measurement (issue 18).
APPLICATIONS = {
    "ConvNeXtTiny": 224, "ConvNeXtSmall": 224, "ConvNeXtBase": 224, "ConvNeXtLarge": 224,
    "ConvNeXtXLarge": 224, "DenseNet121": 224, "DenseNet169": 224, "DenseNet201": 224,
    "EfficientNetB0": 224, "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300,
    "EfficientNetB4": 380, "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600,
    "EfficientNetV2B0": 224, "EfficientNetV2B1": 240, "EfficientNetV2B2": 260,
    "EfficientNetV2B3": 300, "EfficientNetV2S": 384, "EfficientNetV2M": 480,
    "EfficientNetV2L": 480, "InceptionResNetV2": 299, "InceptionV3": 299, "MobileNet": 224,
    "MobileNetV2": 224, "MobileNetV3Small": 224, "MobileNetV3Large": 224, "NASNetMobile": 224,
    "NASNetLarge": 331, "ResNet50": 224, "ResNet101": 224, "ResNet152": 224, "ResNet50V2": 224,
    "ResNet101V2": 224, "ResNet152V2": 224, "VGG16": 224, "VGG19": 224, "Xception": 299,
}
for _constructor, _size in APPLICATIONS.items():
    MODELS.setdefault(_constructor.lower(), (_constructor, _size))
STRIP_ABOVE = 64


def build(name: str):
    import keras
    import numpy as np

    constructor, size = MODELS[name]
    if constructor is not None:
        model = getattr(keras.applications, constructor)(weights=None, input_shape=(size, size, 3))
    else:
        model = deeplab(size)
    # distinct random values in every weight: torch's ONNX exporter merges identical tensors
    # (fresh BatchNorm statistics are all zeros and ones), which would hide parameters
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.uniform(0.5, 1.5, size=tuple(w.shape)).astype(w.dtype))
    return model, size


def deeplab(size: int, classes: int = 21):
    """DeepLab-v3+-style segmenter on a MobileNetV2 backbone (output stride 16)."""
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel=1, rate=1, name=""):
        x = layers.Conv2D(filters, kernel, padding="same", dilation_rate=rate, use_bias=False, name=name)(x)
        x = layers.BatchNormalization(name=name + "_bn")(x)
        return layers.ReLU(name=name + "_relu")(x)

    inputs = keras.Input((size, size, 3))
    backbone = keras.applications.MobileNetV2(weights=None, include_top=False, input_tensor=inputs)
    high = backbone.get_layer("block_13_expand_relu").output  # stride 16
    low = backbone.get_layer("block_3_expand_relu").output  # stride 4
    branches = [conv_bn(high, 256, 1, name="aspp0")]
    for i, rate in enumerate((6, 12, 18), 1):
        branches.append(conv_bn(high, 256, 3, rate, name=f"aspp{i}"))
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name="image_pool")(high)
    pooled = conv_bn(pooled, 256, 1, name="image_pool_conv")
    pooled = layers.UpSampling2D(size // 16, interpolation="bilinear", name="image_pool_up")(pooled)
    x = layers.Concatenate(name="aspp_concat")(branches + [pooled])
    x = conv_bn(x, 256, 1, name="aspp_project")
    x = layers.UpSampling2D(4, interpolation="bilinear", name="decoder_up")(x)
    skip = conv_bn(low, 48, 1, name="decoder_skip")
    x = layers.Concatenate(name="decoder_concat")([x, skip])
    x = conv_bn(x, 256, 3, name="decoder_conv0")
    x = conv_bn(x, 256, 3, name="decoder_conv1")
    x = layers.Conv2D(classes, 1, name="logits")(x)
    x = layers.UpSampling2D(4, interpolation="bilinear", name="logits_up")(x)
    return keras.Model(inputs, x, name="deeplab_mobilenetv2")


def export_pb(name: str, path: Path, with_weights: bool) -> None:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    model, size = build(name)
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec([1, size, size, 3], tf.float32, name="input"))
    graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    if not with_weights:
        for node in graph_def.node:
            if node.op != "Const":
                continue
            tensor = node.attr["value"].tensor
            count = 1
            for d in tensor.tensor_shape.dim:
                count *= max(d.size, 0)
            if count > STRIP_ABOVE and tensor.dtype == tf.float32.as_datatype_enum:
                tensor.ClearField("tensor_content")
                tensor.ClearField("float_val")
    path.write_bytes(graph_def.SerializeToString())


def export_savedmodel(name: str, path: Path, with_weights: bool) -> None:
    import shutil

    model, _ = build(name)
    model.export(str(path), format="tf_saved_model", verbose=False)
    if not with_weights:
        for extra in ("variables", "assets", "fingerprint.pb"):
            target = path / extra
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()


def export_onnx(name: str, path: Path, with_weights: bool) -> None:
    import numpy as np
    import onnx

    model, size = build(name)
    model(np.zeros((1, size, size, 3), dtype="float32"))
    model.export(str(path), format="onnx", verbose=False)
    if not with_weights:
        m = onnx.load(str(path))
        keep = []
        for init in m.graph.initializer:
            if int(np.prod(init.dims)) > STRIP_ABOVE and init.data_type == onnx.TensorProto.FLOAT:
                m.graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
            else:
                keep.append(init)
        del m.graph.initializer[:]
        m.graph.initializer.extend(keep)
        onnx.save(m, str(path))


def run_one(name: str, fmt: str, out: Path, with_weights: bool) -> None:
    path = out / f"{name}.{fmt}"
    exporters = {"pb": export_pb, "savedmodel": export_savedmodel, "onnx": export_onnx}
    exporters[fmt](name, path, with_weights)
    if fmt == "pb":
        # Keras's own parameter count, the reference the importers are checked against
        model, size = build(name)
        info = {"name": name, "input_size": size, "keras_params": int(model.count_params())}
        (out / f"{name}.keras.json").write_text(json.dumps(info) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--format", choices=("pb", "savedmodel", "onnx"), required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--models", default=",".join(m for m in MODELS if m in FIXTURE),
                   help="comma-separated, or all-applications (default: the test fixture's)")
    p.add_argument("--with-weights", action="store_true")
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    backend = os.environ.get("KERAS_BACKEND")
    wanted = "torch" if args.format == "onnx" else "tensorflow"
    if backend != wanted:
        print(f"set KERAS_BACKEND={wanted} for --format {args.format}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.one:
        run_one(args.one, args.format, args.out, args.with_weights)
        return 0
    manifest = []
    names = list(MODELS) if args.models == "all-applications" else args.models.split(",")
    for name in names:
        if name not in MODELS:
            print(f"unknown model {name}", file=sys.stderr)
            return 2
        target = args.out / f"{name}.{args.format}"
        entry = {"name": name, "file": target.name, "input_size": MODELS[name][1]}
        start = time.time()
        if target.exists():
            entry["status"] = "exists"
        else:
            cmd = [sys.executable, __file__, "--format", args.format, "--out", str(args.out), "--one", name]
            if args.with_weights:
                cmd.append("--with-weights")
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                entry["status"] = "ok" if r.returncode == 0 else "error"
                if r.returncode != 0:
                    entry["error"] = r.stderr.strip().splitlines()[-1:] or ["?"]
            except subprocess.TimeoutExpired:
                entry["status"] = "timeout"
        entry["seconds"] = round(time.time() - start, 1)
        print(json.dumps(entry), flush=True)
        manifest.append(entry)
    (args.out / f"manifest-{args.format}.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
