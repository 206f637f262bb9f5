#!/usr/bin/env python3
"""One small model per operator schema of the standard ONNX domain, with reference shapes.

For every `ai.onnx` schema the installed onnx package knows (each operator at each version it
changed in), writes OUT/<Op>_<version>.onnx: one node of that operator, its inputs as graph
inputs (constant operands that decide shapes - a Reshape's shape, a Slice's starts - as
initializers), at opset <version>. onnx's own strict shape inference (with data propagation) is
the reference: OUT/reference.json maps each file to its output shapes (one list of dimensions
per output), and the graph's outputs keep no type or shape, so that a converter cannot read the
answer off the file.

Inputs are tried from the operator's recipe (RECIPES, for operators that need particular
shapes, types, constants or attributes), then generic guesses (every input [2, 3, 4, 5], then
[3, 4], [4], a scalar) in the first type each constraint allows (float preferred); the first
that onnx's strict inference accepts with every output shape known is kept. Schemas no attempt
fits are listed in OUT/skipped.json with onnx's last error.

    export_operators.py --out /tmp/ops && tar -C /tmp/ops -cJf tests/fixtures/operators.tar.xz .
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, defs, helper, numpy_helper, shape_inference

X4 = [2, 3, 4, 5]
NCHW = [1, 3, 8, 8]

# Preferred element types, first allowed wins.
PREFERENCE = ["tensor(float)", "tensor(int64)", "tensor(int32)", "tensor(bool)", "tensor(uint8)",
              "tensor(double)", "tensor(float16)", "tensor(string)"]
TYPES = {"tensor(float)": TensorProto.FLOAT, "tensor(int64)": TensorProto.INT64,
         "tensor(int32)": TensorProto.INT32, "tensor(bool)": TensorProto.BOOL,
         "tensor(uint8)": TensorProto.UINT8, "tensor(double)": TensorProto.DOUBLE,
         "tensor(float16)": TensorProto.FLOAT16, "tensor(string)": TensorProto.STRING,
         "tensor(int8)": TensorProto.INT8, "tensor(bfloat16)": TensorProto.BFLOAT16}


def f(shape):
    """A float data input."""
    return ("input", TensorProto.FLOAT, shape)


def i64(values, shape=None):
    """An int64 constant."""
    return ("const", TensorProto.INT64, values, shape)


def fc(values, shape=None):
    """A float constant."""
    return ("const", TensorProto.FLOAT, values, shape)


def typed(elem, shape):
    return ("input", elem, shape)


NONE = ("none",)


def outer(elem, shape):
    """A graph input that only a subgraph reads (not an input of the node)."""
    return ("outer", elem, shape)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def branch(op: str) -> onnx.GraphProto:
    """An If branch: `op(in1)` of the enclosing graph's input `in1`."""
    return helper.make_graph([helper.make_node(op, ["in1"], ["y"])], op,
                             [], [vi("y", TensorProto.FLOAT, [2, 3])])


LOOP_BODY = helper.make_graph(
    [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
     helper.make_node("Add", ["v_in", "v_in"], ["v_out"])],
    "body", [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
             vi("v_in", TensorProto.FLOAT, [2, 3])],
    [vi("cond_out", TensorProto.BOOL, []), vi("v_out", TensorProto.FLOAT, [2, 3])])

SCAN_BODY = helper.make_graph(
    [helper.make_node("Add", ["s_in", "x_in"], ["s_out"]),
     helper.make_node("Identity", ["s_out"], ["y_out"])],
    "body", [vi("s_in", TensorProto.FLOAT, [2]), vi("x_in", TensorProto.FLOAT, [2])],
    [vi("s_out", TensorProto.FLOAT, [2]), vi("y_out", TensorProto.FLOAT, [2])])

# op -> list of (inputs, attributes) to try before the generic guesses.
RECIPES: dict[str, list] = {
    "Conv": [([f(NCHW), f([4, 3, 3, 3]), f([4])], {"pads": [1, 1, 1, 1], "strides": [2, 2]})],
    "ConvTranspose": [([f(NCHW), f([3, 4, 3, 3]), f([4])], {"strides": [2, 2]})],
    "ConvInteger": [([typed(TensorProto.UINT8, NCHW), typed(TensorProto.UINT8, [4, 3, 3, 3])], {})],
    "QLinearConv": [([typed(TensorProto.UINT8, NCHW), fc([0.1]), ("const", TensorProto.UINT8, [0], None),
                      typed(TensorProto.UINT8, [4, 3, 3, 3]), fc([0.1]), ("const", TensorProto.UINT8, [0], None),
                      fc([0.1]), ("const", TensorProto.UINT8, [0], None)], {})],
    "DeformConv": [([f(NCHW), f([4, 3, 3, 3]), f([1, 18, 6, 6])], {})],
    "MaxPool": [([f(NCHW)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})],
    "AveragePool": [([f(NCHW)], {"kernel_shape": [3, 3], "strides": [2, 2]})],
    "LpPool": [([f(NCHW)], {"kernel_shape": [2, 2], "strides": [2, 2]})],
    "MaxRoiPool": [([f(NCHW), fc([0, 0, 0, 4, 4], [1, 5])], {"pooled_shape": [2, 2]})],
    "MaxUnpool": [([f([1, 3, 4, 4]), i64(list(range(48)), [1, 3, 4, 4])], {"kernel_shape": [2, 2], "strides": [2, 2]})],
    "GlobalAveragePool": [([f(NCHW)], {})],
    "GlobalMaxPool": [([f(NCHW)], {})],
    "GlobalLpPool": [([f(NCHW)], {})],
    "BatchNormalization": [([f(NCHW), f([3]), f([3]), f([3]), f([3])], {}),
                           ([f(NCHW), f([3]), f([3]), f([3]), f([3])], {"consumed_inputs": [0, 0, 0, 1, 1]})],
    "InstanceNormalization": [([f(NCHW), f([3]), f([3])], {})],
    "GroupNormalization": [([f(NCHW), f([3]), f([3])], {"num_groups": 3}),
                           ([f(NCHW), f([1]), f([1])], {"num_groups": 1})],
    "LayerNormalization": [([f(X4), f([5]), f([5])], {})],
    "RMSNormalization": [([f(X4), f([5])], {})],
    "LRN": [([f(NCHW)], {"size": 3})],
    "Gemm": [([f([3, 4]), f([4, 5]), f([5])], {})],
    "MatMul": [([f([2, 3, 4]), f([4, 5])], {})],
    "MatMulInteger": [([typed(TensorProto.UINT8, [3, 4]), typed(TensorProto.UINT8, [4, 5])], {})],
    "QLinearMatMul": [([typed(TensorProto.UINT8, [3, 4]), fc([0.1]), ("const", TensorProto.UINT8, [0], None),
                        typed(TensorProto.UINT8, [4, 5]), fc([0.1]), ("const", TensorProto.UINT8, [0], None),
                        fc([0.1]), ("const", TensorProto.UINT8, [0], None)], {})],
    "Einsum": [([f([2, 3, 4]), f([2, 4, 5])], {"equation": "bij,bjk->bik"})],
    "Reshape": [([f(X4), i64([6, -1])], {}), ([f(X4)], {"shape": [6, 20]})],
    "Expand": [([f([3, 1]), i64([2, 3, 4])], {})],
    "Tile": [([f([2, 3]), i64([2, 2])], {})],
    "Slice": [([f(X4), i64([0, 1]), i64([2, 3]), i64([1, 2]), i64([1, 1])], {}),
              ([f(X4)], {"starts": [0, 1], "ends": [2, 3], "axes": [1, 2]})],
    "Pad": [([f(NCHW), i64([0, 0, 1, 1, 0, 0, 1, 1])], {}), ([f(NCHW)], {"pads": [0, 0, 1, 1, 0, 0, 1, 1]}),
            ([f(NCHW)], {"paddings": [0, 0, 1, 1, 0, 0, 1, 1]})],
    "Squeeze": [([f([2, 1, 4]), i64([1])], {}), ([f([2, 1, 4])], {"axes": [1]})],
    "Unsqueeze": [([f([2, 4]), i64([1])], {}), ([f([2, 4])], {"axes": [1]})],
    "Concat": [([f([2, 3]), f([2, 4])], {"axis": 1})],
    "Split": [([f([2, 6]), i64([2, 4])], {"axis": 1}), ([f([2, 6])], {"axis": 1, "split": [2, 4]}),
              ([f([2, 6])], {"axis": 1, "num_outputs": 2})],
    "Gather": [([f([5, 4]), i64([0, 2, 1], [3])], {})],
    "GatherElements": [([f([3, 4]), typed(TensorProto.INT64, [3, 2])], {"axis": 1})],
    "GatherND": [([f([3, 4]), typed(TensorProto.INT64, [2, 1])], {})],
    "ScatterElements": [([f([3, 4]), typed(TensorProto.INT64, [3, 2]), f([3, 2])], {"axis": 1})],
    "Scatter": [([f([3, 4]), typed(TensorProto.INT64, [3, 2]), f([3, 2])], {"axis": 1})],
    "ScatterND": [([f([3, 4]), typed(TensorProto.INT64, [2, 1]), f([2, 4])], {})],
    "TensorScatter": [([f([2, 3, 8, 4]), f([2, 3, 1, 4]), typed(TensorProto.INT64, [2])], {})],
    "OneHot": [([typed(TensorProto.INT64, [3]), i64([5], []), fc([0, 1])], {})],
    "TopK": [([f([3, 7]), i64([2], [1])], {}), ([f([3, 7])], {"k": 2})],
    "Cast": [([f(X4)], {"to": TensorProto.INT64})],
    "CastLike": [([f(X4), typed(TensorProto.INT64, [1])], {})],
    "BitCast": [([f(X4)], {"to": TensorProto.INT32})],
    "Constant": [([], {"value": numpy_helper.from_array(np.zeros((2, 3), np.float32))})],
    "ConstantOfShape": [([i64([2, 3])], {})],
    "EyeLike": [([f([3, 4])], {})],
    "Range": [([fc([0], []), fc([10], []), fc([2], [])], {})],
    "RandomNormal": [([], {"shape": [2, 3]})],
    "RandomUniform": [([], {"shape": [2, 3]})],
    "DepthToSpace": [([f([1, 8, 2, 2])], {"blocksize": 2})],
    "SpaceToDepth": [([f([1, 2, 4, 4])], {"blocksize": 2})],
    "Upsample": [([f(NCHW), fc([1, 1, 2, 2])], {}), ([f(NCHW)], {"scales": [1.0, 1.0, 2.0, 2.0]}),
                 ([f(NCHW)], {"height_scale": 2.0, "width_scale": 2.0})],
    "Resize": [([f(NCHW), NONE, fc([1, 1, 2, 2])], {}), ([f(NCHW), fc([]), fc([1, 1, 2, 2])], {}),
               ([f(NCHW), fc([1, 1, 2, 2])], {})],
    "GridSample": [([f(NCHW), f([1, 6, 6, 2])], {})],
    "AffineGrid": [([f([1, 2, 3]), i64([1, 3, 6, 6])], {})],
    "RoiAlign": [([f(NCHW), f([2, 4]), typed(TensorProto.INT64, [2])], {})],
    "NonMaxSuppression": [([f([1, 6, 4]), f([1, 1, 6]), i64([3], [1])], {})],
    "Compress": [([f([3, 4]), typed(TensorProto.BOOL, [4])], {"axis": 1})],
    "CumSum": [([f([3, 4]), i64([1], [])], {})],
    "CumProd": [([f([3, 4]), i64([1], [])], {})],
    "ReverseSequence": [([f([4, 3]), i64([2, 3, 1], [3])], {})],
    "Trilu": [([f([3, 4])], {})],
    "DFT": [([f([1, 8, 1])], {}), ([f([1, 8, 1]), i64([8], [])], {})],
    "STFT": [([f([1, 64, 1]), i64([8], []), NONE, i64([16], [])], {})],
    "HannWindow": [([i64([8], [])], {})], "HammingWindow": [([i64([8], [])], {})],
    "BlackmanWindow": [([i64([8], [])], {})],
    "MelWeightMatrix": [([i64([8], []), i64([16], []), i64([8000], []), fc([0], []), fc([4000], [])], {})],
    "Col2Im": [([f([1, 12, 9]), i64([4, 4]), i64([2, 2])], {})],
    "CenterCropPad": [([f([4, 6, 3]), i64([3, 3], [2])], {"axes": [0, 1]})],
    "Det": [([f([2, 3, 3])], {})],
    "LpNormalization": [([f([3, 4])], {})],
    "MeanVarianceNormalization": [([f(NCHW)], {})],
    "Softmax": [([f([3, 4])], {})], "LogSoftmax": [([f([3, 4])], {})], "Hardmax": [([f([3, 4])], {})],
    "ArgMax": [([f([3, 4])], {"axis": 1})], "ArgMin": [([f([3, 4])], {"axis": 1})],
    "Flatten": [([f(X4)], {"axis": 2})],
    "Transpose": [([f(X4)], {"perm": [0, 2, 3, 1]})],
    "Shape": [([f(X4)], {})], "Size": [([f(X4)], {})],
    "NonZero": [([f([3, 4])], {})],
    "Unique": [([f([6])], {})],
    "Where": [([typed(TensorProto.BOOL, [3, 1]), f([3, 4]), f([1, 4])], {})],
    "BitShift": [([typed(TensorProto.UINT8, [3]), typed(TensorProto.UINT8, [3])], {"direction": "LEFT"})],
    "Dropout": [([f(X4)], {})],
    "PRelu": [([f(NCHW), f([3, 1, 1])], {})],
    "Clip": [([f(X4), fc([0], []), fc([6], [])], {}), ([f(X4)], {"min": 0.0, "max": 6.0})],
    "QuantizeLinear": [([f(X4), fc([0.1], []), ("const", TensorProto.UINT8, [0], [])], {})],
    "DequantizeLinear": [([typed(TensorProto.UINT8, X4), fc([0.1], []), ("const", TensorProto.UINT8, [0], [])], {})],
    "DynamicQuantizeLinear": [([f(X4)], {})],
    "GRU": [([f([5, 2, 3]), f([1, 12, 3]), f([1, 12, 4])], {"hidden_size": 4})],
    "RNN": [([f([5, 2, 3]), f([1, 4, 3]), f([1, 4, 4])], {"hidden_size": 4})],
    "LSTM": [([f([5, 2, 3]), f([1, 16, 3]), f([1, 16, 4])], {"hidden_size": 4})],
    "Attention": [([f([2, 4, 8, 16]), f([2, 4, 6, 16]), f([2, 4, 6, 16])], {})],
    "RotaryEmbedding": [([f([2, 4, 3, 8]), f([2, 3, 4]), f([2, 3, 4])], {})],
    "Multinomial": [([f([3, 5])], {"sample_size": 4})],
    "Bernoulli": [([f([3, 5])], {})],
    "NegativeLogLikelihoodLoss": [([f([3, 5]), typed(TensorProto.INT64, [3])], {"reduction": "none"})],
    "SoftmaxCrossEntropyLoss": [([f([3, 5]), typed(TensorProto.INT64, [3])], {"reduction": "none"})],
    "Mod": [([typed(TensorProto.INT64, X4), typed(TensorProto.INT64, X4)], {})],
    "ImageDecoder": [([typed(TensorProto.UINT8, [100])], {})],
    "If": [([("const", TensorProto.BOOL, [True], []), outer(TensorProto.FLOAT, [2, 3])],
            {"then_branch": branch("Relu"), "else_branch": branch("Neg")})],
    "Loop": [([i64([3], []), ("const", TensorProto.BOOL, [True], []), f([2, 3])],
              {"body": LOOP_BODY})],
    "Scan": [([f([2]), f([5, 2])], {"body": SCAN_BODY, "num_scan_inputs": 1})],
}
for reduce in ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
               "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]:
    RECIPES[reduce] = [([f(X4), i64([2, 3])], {"keepdims": 1}), ([f(X4)], {"axes": [2, 3], "keepdims": 1})]


# Outputs of variadic operators, as their recipes produce them.
OUTPUTS = {"Split": 2, "Scan": 2, "If": 1, "Loop": 1}


def pick_type(constraint_types) -> int | None:
    for t in PREFERENCE:
        if t in constraint_types:
            return TYPES[t]
    for t in sorted(constraint_types):
        if t in TYPES:
            return TYPES[t]
    return None


def generic_inputs(schema, shape) -> list | None:
    """Every required (and one of each variadic) input as a data input of `shape`."""
    allowed = {c.type_param_str: list(c.allowed_type_strs) for c in schema.type_constraints}
    ins = []
    for formal in schema.inputs:
        if formal.option == defs.OpSchema.FormalParameterOption.Optional:
            break
        types = allowed.get(formal.type_str, [formal.type_str])
        elem = pick_type(types)
        if elem is None:
            return None
        ins.append(("input", elem, shape))
    return ins


def build(schema, inputs, attrs) -> onnx.ModelProto:
    names, graph_inputs, inits = [], [], []
    for k, spec in enumerate(inputs):
        name = f"in{k}"
        if spec[0] == "none":
            names.append("")
            continue
        if spec[0] == "outer":
            graph_inputs.append(helper.make_tensor_value_info(name, spec[1], spec[2]))
            continue
        names.append(name)
        if spec[0] == "input":
            graph_inputs.append(helper.make_tensor_value_info(name, spec[1], spec[2]))
        else:
            _, elem, values, shape = spec
            dtype = {TensorProto.INT64: np.int64, TensorProto.FLOAT: np.float32,
                     TensorProto.UINT8: np.uint8, TensorProto.BOOL: np.bool_}[elem]
            arr = np.array(values, dtype=dtype)
            if shape is not None:
                arr = arr.reshape(shape)
            inits.append(numpy_helper.from_array(arr, name))
    if schema.name in OUTPUTS:
        count = OUTPUTS[schema.name]
    elif schema.outputs and schema.outputs[-1].option == defs.OpSchema.FormalParameterOption.Variadic:
        count = 2
    else:
        required = [o for o in schema.outputs if o.option != defs.OpSchema.FormalParameterOption.Optional]
        count = max(1, len(required))
    outputs = [f"out{k}" for k in range(count)]
    node = helper.make_node(schema.name, names, outputs, **attrs)
    graph = helper.make_graph([node], f"{schema.name}_{schema.since_version}", graph_inputs,
                              [helper.make_empty_tensor_value_info(o) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", schema.since_version)])
    model.ir_version = min(model.ir_version, 10)
    return model


def reference(model) -> list | None:
    """Strict inference's output shapes, or None when it fails or leaves an output unknown."""
    inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    by_name = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    shapes = []
    for out in model.graph.output:
        v = by_name.get(out.name)
        if v is None or not v.type.HasField("tensor_type") or not v.type.tensor_type.HasField("shape"):
            return None
        dims = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        if any(d is None for d in dims):
            return None
        shapes.append(dims)
    return shapes


def attempts(schema):
    yield from RECIPES.get(schema.name, [])
    for shape in (X4, [3, 4], [4], []):
        ins = generic_inputs(schema, shape)
        if ins is not None:
            yield ins, {}


def export(schema, out: Path, references: dict):
    error = "no attempt"
    for inputs, attrs in attempts(schema):
        # attributes the schema version does not know are dropped
        attrs = {k: v for k, v in attrs.items() if k in schema.attributes}
        try:
            model = build(schema, inputs, attrs)
            shapes = reference(model)
        except Exception as e:  # noqa: BLE001 - onnx reports every misfit as an exception
            error = str(e).splitlines()[0][:300]
            continue
        if shapes is None:
            error = "an output shape is left unknown"
            continue
        file = f"{schema.name}_{schema.since_version}.onnx"
        onnx.save(model, str(out / file))
        references[file] = shapes
        return None
    return error


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    schemas = [s for s in defs.get_all_schemas_with_history() if s.domain == "" and not s.deprecated]
    skipped, references = {}, {}
    for s in sorted(schemas, key=lambda s: (s.name, s.since_version)):
        error = export(s, args.out, references)
        if error:
            skipped[f"{s.name}_{s.since_version}"] = error
    (args.out / "skipped.json").write_text(json.dumps(skipped, indent=1, sort_keys=True) + "\n")
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(references.items())]
    (args.out / "reference.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"onnx {onnx.__version__}: {len(schemas)} schemas, {len(schemas) - len(skipped)} written, "
          f"{len(skipped)} skipped (skipped.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
