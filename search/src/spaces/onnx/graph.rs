//! What an edit needs to know about an ONNX graph: who produces and who consumes each tensor,
//! which tensors are weights (initializers, or graph inputs in weight-stripped files), and the
//! small helpers that read node attributes and rewrite the graph after an edit (dead-code
//! removal, unique names).

use std::collections::{HashMap, HashSet};

use aiop_converter::onnx::proto::{
    AttributeProto, GraphProto, NodeProto, ValueInfoProto, attribute_type as at,
};

/// Producers and consumers of every tensor of one graph (rebuilt after each edit).
pub struct Index {
    producer: HashMap<String, usize>,
    consumers: HashMap<String, Vec<usize>>,
    outputs: HashSet<String>,
}

impl Index {
    pub fn new(graph: &GraphProto) -> Index {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for output in node.output.iter().filter(|o| !o.is_empty()) {
                producer.insert(output.clone(), i);
            }
            for input in node.input.iter().filter(|t| !t.is_empty()) {
                let list = consumers.entry(input.clone()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        Index {
            producer,
            consumers,
            outputs: graph.output.iter().map(|o| o.name.clone()).collect(),
        }
    }

    /// The node computing `tensor` (`None` for inputs and initializers).
    pub fn producer(&self, tensor: &str) -> Option<usize> {
        self.producer.get(tensor).copied()
    }

    /// The nodes reading `tensor`, each once, in graph order.
    pub fn consumers(&self, tensor: &str) -> &[usize] {
        self.consumers.get(tensor).map_or(&[], Vec::as_slice)
    }

    /// Whether `tensor` is an output of the graph.
    pub fn is_output(&self, tensor: &str) -> bool {
        self.outputs.contains(tensor)
    }
}

/// Where a weight lives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Weight {
    /// `graph.initializer[i]`: the file holds its values.
    Initializer(usize),
    /// `graph.input[i]`: a weight-stripped file declares it as an input.
    Input(usize),
}

/// The weight called `name`, if it is one (an initializer, or a graph input that is not data).
pub fn weight(graph: &GraphProto, data: &HashSet<String>, name: &str) -> Option<Weight> {
    if let Some(i) = graph.initializer.iter().position(|t| t.name == name) {
        return Some(Weight::Initializer(i));
    }
    if data.contains(name) {
        return None;
    }
    graph
        .input
        .iter()
        .position(|t| t.name == name)
        .map(Weight::Input)
}

/// The dims of a weight (`None` when a stripped file leaves one open).
pub fn weight_dims(graph: &GraphProto, w: Weight) -> Option<Vec<i64>> {
    match w {
        Weight::Initializer(i) => Some(graph.initializer[i].dims.clone()),
        Weight::Input(i) => declared_dims(&graph.input[i]),
    }
}

/// The dims a tensor declaration gives (`None` when one is open).
pub fn declared_dims(v: &ValueInfoProto) -> Option<Vec<i64>> {
    let shape = v.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?;
    shape
        .dim
        .iter()
        .map(|d| d.dim_value.filter(|v| *v >= 0))
        .collect()
}

/// Sets the declared dims of a weight input.
pub fn set_input_dims(graph: &mut GraphProto, i: usize, dims: &[i64]) {
    let declared = graph.input[i]
        .r#type
        .as_mut()
        .and_then(|t| t.tensor_type.as_mut())
        .and_then(|t| t.shape.as_mut());
    if let Some(shape) = declared {
        for (d, &v) in shape.dim.iter_mut().zip(dims) {
            d.dim_value = Some(v);
            d.dim_param = None;
        }
    }
}

/// Whether `tensor` is a constant of the graph: a weight or a `Constant` node's output.
pub fn is_constant(
    graph: &GraphProto,
    index: &Index,
    data: &HashSet<String>,
    tensor: &str,
) -> bool {
    weight(graph, data, tensor).is_some()
        || index
            .producer(tensor)
            .is_some_and(|n| graph.node[n].op_type == "Constant")
}

/// The dims of a constant tensor (a weight, or a `Constant` node's `value`).
pub fn constant_dims(
    graph: &GraphProto,
    index: &Index,
    data: &HashSet<String>,
    tensor: &str,
) -> Option<Vec<i64>> {
    if let Some(w) = weight(graph, data, tensor) {
        return weight_dims(graph, w);
    }
    let node = &graph.node[index.producer(tensor)?];
    let value = node.attribute.iter().find(|a| a.name == "value")?;
    value.t.as_ref().map(|t| t.dims.clone())
}

/// An integer attribute of a node.
pub fn int_attr(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == at::INT)
        .map(|a| a.i)
}

/// An integer-list attribute of a node.
pub fn ints_attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == at::INTS)
        .map(|a| a.ints.as_slice())
}

/// A string attribute of a node.
pub fn string_attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [u8]> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == at::STRING)
        .map(|a| &a.s[..])
}

/// Sets (or adds) an integer attribute.
pub fn set_int(node: &mut NodeProto, name: &str, value: i64) {
    node.attribute.retain(|a| a.name != name);
    node.attribute.push(AttributeProto {
        name: name.into(),
        r#type: at::INT,
        i: value,
        ..Default::default()
    });
}

/// Sets (or adds) an integer-list attribute.
pub fn set_ints(node: &mut NodeProto, name: &str, values: Vec<i64>) {
    node.attribute.retain(|a| a.name != name);
    node.attribute.push(AttributeProto {
        name: name.into(),
        r#type: at::INTS,
        ints: values,
        ..Default::default()
    });
}

/// Gives every node a unique, non-empty name (edits name their targets by node name).
pub fn name_nodes(graph: &mut GraphProto) {
    let mut seen = HashSet::new();
    for (i, node) in graph.node.iter_mut().enumerate() {
        if node.name.is_empty() || seen.contains(&node.name) {
            node.name = format!("{}_{i}", node.op_type);
            while seen.contains(&node.name) {
                node.name.push('_');
            }
        }
        seen.insert(node.name.clone());
    }
}

/// Removes the nodes whose outputs nobody reads (repeatedly), then the weights no node reads.
/// Data inputs and graph outputs stay.
pub fn remove_dead(graph: &mut GraphProto, data: &HashSet<String>) {
    loop {
        let mut read: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
        for node in &graph.node {
            read.extend(node.input.iter().map(String::as_str));
            for a in &node.attribute {
                // tensors read by subgraphs (If/Loop bodies) by name
                if let Some(g) = &a.g {
                    read_by_subgraph(g, &mut read);
                }
                for g in &a.graphs {
                    read_by_subgraph(g, &mut read);
                }
            }
        }
        let dead: Vec<usize> = (0..graph.node.len())
            .filter(|&i| {
                graph.node[i]
                    .output
                    .iter()
                    .all(|o| o.is_empty() || !read.contains(o.as_str()))
            })
            .collect();
        if dead.is_empty() {
            let read: HashSet<String> = read.into_iter().map(str::to_string).collect();
            graph.initializer.retain(|t| read.contains(&t.name));
            graph
                .input
                .retain(|t| data.contains(&t.name) || read.contains(&t.name));
            return;
        }
        let mut i = 0;
        graph.node.retain(|_| {
            let keep = dead.binary_search(&i).is_err();
            i += 1;
            keep
        });
    }
}

fn read_by_subgraph<'a>(graph: &'a GraphProto, read: &mut HashSet<&'a str>) {
    for node in &graph.node {
        read.extend(node.input.iter().map(String::as_str));
        for a in &node.attribute {
            if let Some(g) = &a.g {
                read_by_subgraph(g, read);
            }
        }
    }
}
