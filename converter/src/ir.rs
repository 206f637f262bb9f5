//! The importer-neutral operator graph that shape inference runs on.
//!
//! Front ends (ONNX today) lower their files to this form: ONNX operator names and semantics,
//! tensors referred to by name, constant tensors with their shapes (and their values when they
//! are small enough to matter for shape arithmetic).

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use crate::value::{DType, Precision, Value};

/// A dimension as declared in a file: a number, a symbolic name, or nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum DeclaredDim {
    Fixed(u64),
    Symbol(String),
    Unknown,
}

/// A declared tensor: graph input, output or annotated intermediate value.
#[derive(Clone, Debug)]
pub struct TensorDecl {
    pub name: String,
    pub dtype: DType,
    /// `None` when the file gives no shape at all (not even the rank).
    pub shape: Option<Vec<DeclaredDim>>,
}

/// A constant tensor (initializer or `Constant` value).
#[derive(Clone, Debug)]
pub struct ConstTensor {
    pub dtype: DType,
    pub dims: Vec<u64>,
    /// The elements, decoded when the tensor is small enough to take part in shape arithmetic.
    pub value: Option<Arc<Value>>,
}

impl ConstTensor {
    /// Number of elements (saturating).
    pub fn numel(&self) -> u64 {
        self.dims.iter().fold(1u64, |a, d| a.saturating_mul(*d))
    }
}

/// An attribute value.
#[derive(Clone, Debug)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    String(String),
    Strings(Vec<String>),
    Tensor(ConstTensor),
    Graph(Arc<Graph>),
    Graphs(Vec<Arc<Graph>>),
}

/// One operator application.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    /// Input tensor names; an empty name is an omitted optional input.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(String, Attr)>,
    /// The numeric format of a quantized operator that [`crate::rewrite`] turned into its float
    /// equivalent (`None`: 32-bit float, or not known).
    pub precision: Option<Precision>,
}

impl Node {
    /// The attribute called `name`.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// An integer attribute.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.attr(name)? {
            Attr::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A float attribute.
    pub fn float(&self, name: &str) -> Option<f32> {
        match self.attr(name)? {
            Attr::Float(f) => Some(*f),
            Attr::Int(i) => Some(*i as f32),
            _ => None,
        }
    }

    /// An integer-list attribute.
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.attr(name)? {
            Attr::Ints(v) => Some(v),
            _ => None,
        }
    }

    /// A float-list attribute.
    pub fn floats(&self, name: &str) -> Option<&[f32]> {
        match self.attr(name)? {
            Attr::Floats(v) => Some(v),
            _ => None,
        }
    }

    /// A string attribute.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.attr(name)? {
            Attr::String(s) => Some(s),
            _ => None,
        }
    }

    /// A subgraph attribute.
    pub fn graph(&self, name: &str) -> Option<&Arc<Graph>> {
        match self.attr(name)? {
            Attr::Graph(g) => Some(g),
            _ => None,
        }
    }

    /// All subgraphs held by this node's attributes (If branches, Loop/Scan bodies).
    pub fn subgraphs(&self) -> impl Iterator<Item = &Arc<Graph>> {
        self.attrs.iter().flat_map(|(_, a)| match a {
            Attr::Graph(g) => std::slice::from_ref(g).iter(),
            Attr::Graphs(gs) => gs.iter(),
            _ => [].iter(),
        })
    }

    /// A short label for messages: the node name, or its op type and first output.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!(
                "{} -> {}",
                self.op_type,
                self.outputs.first().map_or("?", |s| s)
            )
        } else {
            format!("{} ({})", self.name, self.op_type)
        }
    }
}

/// A graph (the main graph or an If/Loop body).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub inputs: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
    pub initializers: HashMap<String, ConstTensor>,
    /// Intermediate shapes annotated in the file, used only where inference cannot tell.
    pub value_info: HashMap<String, TensorDecl>,
}

/// A whole model: the main graph plus where it came from.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub graph: Graph,
    /// Default-domain opset version.
    pub opset: i64,
    pub producer: String,
    /// Problems met while reading the file that did not stop the import.
    pub warnings: Vec<String>,
}
