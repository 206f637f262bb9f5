//! The operation vocabulary of the CG (version [`VOCAB_VERSION`]): a closed set of categories
//! with an explicit [`OpCategory::Other`] bucket. Every node also keeps its original op type.
//!
//! The order of the variants is the one-hot index used by predictors: append new categories at
//! the end (before `Other` is fine only with a version bump) and bump the version.

use serde::{Deserialize, Serialize};

/// Version of the category list; written into every CG and predictor.
pub const VOCAB_VERSION: u32 = 1;

macro_rules! categories {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Operation category of a CG node.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum OpCategory {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl OpCategory {
            /// All categories in one-hot order.
            pub const ALL: &'static [OpCategory] = &[$(OpCategory::$variant,)*];

            /// The category's stable name (as in JSON).
            pub fn name(self) -> &'static str {
                match self {
                    $(OpCategory::$variant => $name,)*
                }
            }
        }
    };
}

categories! {
    /// A data input of the network (the image).
    Input = "input",
    /// A network output.
    Output = "output",
    /// Dense or grouped convolution.
    Conv = "conv",
    /// Depthwise convolution (groups = input channels = output channels).
    DepthwiseConv = "depthwise_conv",
    /// Transposed convolution (deconvolution).
    ConvTranspose = "conv_transpose",
    /// Matrix product with a weight operand (Gemm, MatMul by a parameter).
    Linear = "linear",
    /// Matrix product of two activations (attention scores, …).
    MatMul = "matmul",
    BatchNorm = "batch_norm",
    LayerNorm = "layer_norm",
    GroupNorm = "group_norm",
    InstanceNorm = "instance_norm",
    /// LRN, Lp/RMS/mean-variance normalisation.
    OtherNorm = "other_norm",
    Relu = "relu",
    /// Clip (ReLU6 and other bounded activations).
    Clip = "clip",
    /// LeakyReLU and PReLU.
    LeakyRelu = "leaky_relu",
    /// ELU, SELU, CELU.
    Elu = "elu",
    Gelu = "gelu",
    Sigmoid = "sigmoid",
    HardSigmoid = "hard_sigmoid",
    HardSwish = "hard_swish",
    Tanh = "tanh",
    /// Softplus, Mish, Softsign and other smooth activations.
    OtherActivation = "other_activation",
    /// Softmax, LogSoftmax, Hardmax.
    Softmax = "softmax",
    MaxPool = "max_pool",
    /// Average and Lp pooling.
    AvgPool = "avg_pool",
    GlobalMaxPool = "global_max_pool",
    GlobalAvgPool = "global_avg_pool",
    Add = "add",
    Sub = "sub",
    Mul = "mul",
    Div = "div",
    Pow = "pow",
    /// Element-wise Max/Min/Mean/Sum of tensors.
    MinMax = "min_max",
    /// Unary math: Sqrt, Exp, Log, Erf, Neg, Abs, Reciprocal, rounding, trigonometry.
    UnaryMath = "unary_math",
    /// ReduceMean/Sum/Max/…
    Reduce = "reduce",
    /// ArgMax/ArgMin.
    ArgReduce = "arg_reduce",
    Concat = "concat",
    Split = "split",
    Slice = "slice",
    /// Gather, GatherElements, GatherND, Scatter*.
    Gather = "gather",
    Pad = "pad",
    /// Resize and Upsample.
    Resize = "resize",
    /// Reshape, Flatten, Squeeze, Unsqueeze.
    Reshape = "reshape",
    Transpose = "transpose",
    /// Expand and Tile.
    Expand = "expand",
    /// DepthToSpace and SpaceToDepth.
    SpaceDepth = "space_depth",
    Cast = "cast",
    /// Comparisons, logic and Where.
    Logic = "logic",
    TopK = "topk",
    /// NonMaxSuppression.
    Nms = "nms",
    /// RoiAlign and MaxRoiPool.
    RoiPool = "roi_pool",
    /// NonZero, Unique, Compress.
    DataDependent = "data_dependent",
    /// Shape-only results computed from data: Shape, Size, ConstantOfShape, Range, …
    ShapeOp = "shape_op",
    /// If, Loop, Scan (the subgraph is not expanded).
    ControlFlow = "control_flow",
    /// Anything else; the node's `op_type` keeps the original name.
    Other = "other",
}

impl OpCategory {
    /// The category of an ONNX op type. Convolutions are refined by [`OpCategory::conv`] and
    /// matrix products by whether an operand is a weight, which only the graph builder knows.
    pub fn of(op_type: &str) -> OpCategory {
        use OpCategory::*;
        match op_type {
            "Conv" | "ConvInteger" | "QLinearConv" | "FusedConv" => Conv,
            "ConvTranspose" => ConvTranspose,
            "Gemm" => Linear,
            "MatMul" | "MatMulInteger" | "QLinearMatMul" | "FusedMatMul" | "Einsum" => MatMul,
            "BatchNormalization" => BatchNorm,
            "LayerNormalization" | "SkipLayerNormalization" => LayerNorm,
            "GroupNormalization" => GroupNorm,
            "InstanceNormalization" => InstanceNorm,
            "LRN"
            | "LpNormalization"
            | "MeanVarianceNormalization"
            | "RMSNormalization"
            | "SimplifiedLayerNormalization" => OtherNorm,
            "Relu" => Relu,
            "Clip" => Clip,
            "LeakyRelu" | "PRelu" => LeakyRelu,
            "Elu" | "Selu" | "Celu" => Elu,
            "Gelu" | "FastGelu" | "BiasGelu" | "QuickGelu" => Gelu,
            "Sigmoid" => Sigmoid,
            "HardSigmoid" => HardSigmoid,
            "HardSwish" => HardSwish,
            "Tanh" => Tanh,
            "Softplus" | "Mish" | "Softsign" | "ThresholdedRelu" | "Shrink" => OtherActivation,
            "Softmax" | "LogSoftmax" | "Hardmax" => Softmax,
            "MaxPool" => MaxPool,
            "AveragePool" | "LpPool" => AvgPool,
            "GlobalMaxPool" => GlobalMaxPool,
            "GlobalAveragePool" | "GlobalLpPool" => GlobalAvgPool,
            "Add" => Add,
            "Sub" => Sub,
            "Mul" => Mul,
            "Div" => Div,
            "Pow" => Pow,
            "Max" | "Min" | "Mean" | "Sum" => MinMax,
            "Sqrt" | "Exp" | "Log" | "Erf" | "Neg" | "Abs" | "Reciprocal" | "Floor" | "Ceil"
            | "Round" | "Sign" | "Sin" | "Cos" | "Tan" | "Asin" | "Acos" | "Atan" | "Sinh"
            | "Cosh" | "Asinh" | "Acosh" | "Atanh" | "Mod" | "CumSum" | "Trilu" => UnaryMath,
            "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1"
            | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" => Reduce,
            "ArgMax" | "ArgMin" => ArgReduce,
            "Concat" => Concat,
            "Split" => Split,
            "Slice" => Slice,
            "Gather" | "GatherElements" | "GatherND" | "Scatter" | "ScatterND"
            | "ScatterElements" | "OneHot" => Gather,
            "Pad" => Pad,
            "Resize" | "Upsample" => Resize,
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => Reshape,
            "Transpose" => Transpose,
            "Expand" | "Tile" => Expand,
            "DepthToSpace" | "SpaceToDepth" => SpaceDepth,
            "Cast"
            | "CastLike"
            | "QuantizeLinear"
            | "DequantizeLinear"
            | "DynamicQuantizeLinear" => Cast,
            "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
            | "Xor" | "Not" | "Where" | "IsNaN" | "IsInf" | "BitShift" | "BitwiseAnd"
            | "BitwiseOr" | "BitwiseXor" => Logic,
            "TopK" => TopK,
            "NonMaxSuppression" => Nms,
            "RoiAlign" | "MaxRoiPool" => RoiPool,
            "NonZero" | "Unique" | "Compress" => DataDependent,
            "Shape" | "Size" | "ConstantOfShape" | "Range" | "EyeLike" => ShapeOp,
            "If" | "Loop" | "Scan" => ControlFlow,
            _ => Other,
        }
    }

    /// A convolution with `groups` groups over `in_channels` → `out_channels`.
    pub fn conv(groups: u64, in_channels: Option<u64>, out_channels: Option<u64>) -> OpCategory {
        if groups > 1
            && in_channels == Some(groups)
            && out_channels.is_some_and(|c| c % groups == 0)
        {
            OpCategory::DepthwiseConv
        } else {
            OpCategory::Conv
        }
    }

    /// One-hot index of the category.
    pub fn index(self) -> usize {
        OpCategory::ALL
            .iter()
            .position(|c| *c == self)
            .unwrap_or(OpCategory::ALL.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_other_is_last() {
        let mut names: Vec<_> = OpCategory::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(*names.last().unwrap(), "other");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OpCategory::ALL.len());
        assert_eq!(OpCategory::of("SomethingNew"), OpCategory::Other);
        assert_eq!(
            OpCategory::conv(32, Some(32), Some(32)),
            OpCategory::DepthwiseConv
        );
        assert_eq!(OpCategory::conv(2, Some(64), Some(64)), OpCategory::Conv);
    }
}
