//! A small ONNX writer: build a model node by node and encode it with prost. Used by the
//! search-space generators and by tests that need hand-made (also deliberately broken) files.

use bytes::Bytes;
use prost::Message;

use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor,
    ValueInfoProto, attribute_type as at,
};
use crate::value::DType;

/// Builds an ONNX model.
#[derive(Clone, Debug)]
pub struct ModelBuilder {
    opset: i64,
    graph: GraphProto,
}

/// A tensor declaration: `(name, element type, dims)`; a negative dim is left symbolic.
pub fn value_info(name: &str, dtype: DType, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: dtype.to_onnx(),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .enumerate()
                        .map(|(i, d)| {
                            if *d >= 0 {
                                Dimension {
                                    dim_value: Some(*d),
                                    dim_param: None,
                                }
                            } else {
                                Dimension {
                                    dim_value: None,
                                    dim_param: Some(format!("d{i}")),
                                }
                            }
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

impl ModelBuilder {
    /// An empty model at the given default-domain opset.
    pub fn new(opset: i64) -> ModelBuilder {
        ModelBuilder {
            opset,
            graph: GraphProto {
                name: "graph".into(),
                ..Default::default()
            },
        }
    }

    /// Declares a graph input.
    pub fn input(&mut self, name: &str, dtype: DType, dims: &[i64]) -> &mut Self {
        self.graph.input.push(value_info(name, dtype, dims));
        self
    }

    /// Declares a float graph output (shape left to inference).
    pub fn output(&mut self, name: &str) -> &mut Self {
        self.output_of(name, DType::F32)
    }

    /// Declares a graph output of the given element type (shape left to inference).
    pub fn output_of(&mut self, name: &str, dtype: DType) -> &mut Self {
        self.graph.output.push(ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TypeProtoTensor {
                    elem_type: dtype.to_onnx(),
                    shape: None,
                }),
            }),
        });
        self
    }

    /// Declares a graph output with its shape (as ONNX checkers require).
    pub fn output_shaped(&mut self, name: &str, dtype: DType, dims: &[i64]) -> &mut Self {
        self.graph.output.push(value_info(name, dtype, dims));
        self
    }

    /// A float weight passed as a graph input (weight-stripped style: shape only, no data).
    pub fn weight_input(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.input(name, DType::F32, dims)
    }

    /// A float initializer of the given shape, zero-filled.
    pub fn weight(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        let n: i64 = dims.iter().product();
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DType::F32.to_onnx(),
            raw_data: Bytes::from(vec![0u8; (n.max(0) as usize) * 4]),
            ..Default::default()
        });
        self
    }

    /// An int64 initializer (shapes, axes, pads).
    pub fn ints(&mut self, name: &str, values: &[i64]) -> &mut Self {
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: vec![values.len() as i64],
            data_type: DType::I64.to_onnx(),
            int64_data: values.to_vec(),
            ..Default::default()
        });
        self
    }

    /// Any initializer, as given.
    pub fn initializer(&mut self, tensor: TensorProto) -> &mut Self {
        self.graph.initializer.push(tensor);
        self
    }

    /// Appends a node.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> &mut Self {
        let name = format!("{op}_{}", self.graph.node.len());
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name,
            op_type: op.into(),
            domain: String::new(),
            attribute: attrs,
        });
        self
    }

    /// The model protobuf.
    pub fn build(&self) -> ModelProto {
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "aiop".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(self.graph.clone()),
            metadata_props: Vec::new(),
            functions: Vec::new(),
        }
    }

    /// The graph alone, e.g. as the body of an `If` or `Loop` of another model.
    pub fn graph(&self) -> GraphProto {
        self.graph.clone()
    }

    /// The encoded `.onnx` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.build().encode_to_vec()
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::INT,
        i: v,
        ..Default::default()
    }
}

/// A float attribute.
pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::FLOAT,
        f: v,
        ..Default::default()
    }
}

/// An integer-list attribute.
pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::INTS,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A subgraph attribute (If branches, Loop body).
pub fn attr_graph(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::GRAPH,
        g: Some(Box::new(g)),
        ..Default::default()
    }
}

/// A string attribute.
pub fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::STRING,
        s: Bytes::from(v.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// A float tensor whose data lives in an external file.
pub fn external_tensor(
    name: &str,
    dims: &[i64],
    location: &str,
    offset: u64,
    length: u64,
) -> TensorProto {
    let entry = |k: &str, v: String| StringStringEntryProto {
        key: k.into(),
        value: v,
    };
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DType::F32.to_onnx(),
        data_location: 1,
        external_data: vec![
            entry("location", location.into()),
            entry("offset", offset.to_string()),
            entry("length", length.to_string()),
        ],
        ..Default::default()
    }
}
