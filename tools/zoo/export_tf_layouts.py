#!/usr/bin/env python3
"""Write one small network twice as a frozen TensorFlow graph, once channels-last (NHWC) and
once channels-first (NCHW), for the TF importer's layout test (issue 4). Built from raw TF ops
in graph mode, so every layout-sensitive op appears with its `data_format`: Conv2D, BiasAdd,
FusedBatchNormV3, MaxPool, AvgPool, DepthwiseConv2dNative, Conv2DBackpropInput (a transposed
convolution), ConcatV2 on channels, Mean over the spatial axes, Reshape and MatMul. Weights are
random; nothing is downloaded. The graphs are only built, never run (TensorFlow's CPU kernels do
not all support NCHW).

    ~/.cache/aiop/venv-tf/bin/python export_tf_layouts.py --out DIR

writes layouts_nhwc.pb, layouts_nchw.pb, and tf1_savedmodel/: a TF1-style SavedModel (graph-mode
variables, `simple_save`, an open batch) of conv → bias → relu → mean → matmul, whose
`variables/` folder is dropped (the importer reads variable shapes from the graph).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build(data_format: str):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    nchw = data_format == "NCHW"
    channels_axis = 1 if nchw else 3

    def const(*shape):
        return tf.constant(rng.uniform(-1, 1, size=shape).astype("float32"))

    def window(k):
        return [1, 1, k, k] if nchw else [1, k, k, 1]

    graph = tf.Graph()
    with graph.as_default():
        shape = [1, 3, 64, 64] if nchw else [1, 64, 64, 3]
        x = tf.compat.v1.placeholder(tf.float32, shape, name="image")
        y = tf.nn.conv2d(x, const(3, 3, 3, 16), window(2), "SAME", data_format=data_format)
        y = tf.nn.bias_add(y, const(16), data_format=data_format)
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            y, const(16), const(16), const(16), tf.abs(const(16)), is_training=False, data_format=data_format
        )
        y = tf.nn.relu6(y)
        y = tf.nn.max_pool2d(y, window(3), window(2), "SAME", data_format=data_format)
        d = tf.nn.depthwise_conv2d(y, const(3, 3, 16, 1), window(1), "SAME", data_format=data_format)
        p = tf.nn.conv2d(y, const(1, 1, 16, 8), window(1), "VALID", data_format=data_format)
        y = tf.concat([d, p], axis=channels_axis)
        up_shape = [1, 12, 32, 32] if nchw else [1, 32, 32, 12]
        up = tf.nn.conv2d_transpose(y, const(2, 2, 12, 24), up_shape, window(2), "SAME", data_format=data_format)
        up = tf.nn.avg_pool2d(up, window(2), window(2), "VALID", data_format=data_format)
        y = tf.reduce_mean(up, axis=[2, 3] if nchw else [1, 2])
        y = tf.matmul(tf.reshape(y, [1, 12]), const(12, 10))
        tf.nn.softmax(y, name="probabilities")
    return graph.as_graph_def()


def save_tf1(path: Path) -> None:
    import shutil

    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3], name="image")
        w = tf.compat.v1.get_variable("w", [3, 3, 3, 16])
        b = tf.compat.v1.get_variable("b", [16])
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME"), b))
        y = tf.reduce_mean(y, axis=[1, 2])
        logits = tf.identity(tf.matmul(y, tf.compat.v1.get_variable("dense", [16, 10])), name="logits")
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.saved_model.simple_save(session, str(path), {"image": x}, {"logits": logits})
    shutil.rmtree(path / "variables", ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for data_format in ("NHWC", "NCHW"):
        path = args.out / f"layouts_{data_format.lower()}.pb"
        path.write_bytes(build(data_format).SerializeToString())
        print(path)
    if (args.out / "tf1_savedmodel").exists():
        import shutil

        shutil.rmtree(args.out / "tf1_savedmodel")
    save_tf1(args.out / "tf1_savedmodel")
    print(args.out / "tf1_savedmodel")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
