//! TF2 graphs keep the network inside functions: a SavedModel's graph holds placeholders,
//! variable handles and a `StatefulPartitionedCall` of the serving function, whose body calls
//! the model's function. Inlining copies every called body into the graph (names prefixed with
//! the call's name), so the lowering sees one flat graph of ordinary ops. The graph is then
//! pruned to what the chosen outputs need and put in topological order.

use std::collections::{HashMap, HashSet, VecDeque};

use prost::Message;

use super::proto::{FunctionDef, GraphDef, NodeDef, attr_value};
use crate::error::{ConvertError, Result};

/// Deepest chain of nested calls inlined.
const MAX_DEPTH: usize = 64;
/// Most nodes the flattened graph may hold (a bound on what a malicious library can expand to).
const MAX_NODES: usize = 500_000;
/// Most bytes of function bodies (with their prefixed names) copied in by inlining, beyond the
/// file's own size.
const MAX_INLINED_BYTES: usize = 256 << 20;

/// Output arguments of the multi-output ops a function body may reference as `node:arg:index`;
/// any other op's outputs are numbered by `index` alone.
const OUTPUT_ARGS: &[(&str, &[&str])] = &[
    ("FusedBatchNorm", BATCH_NORM_OUTPUTS),
    ("FusedBatchNormV2", BATCH_NORM_OUTPUTS),
    ("FusedBatchNormV3", BATCH_NORM_OUTPUTS),
    ("TopKV2", &["values", "indices"]),
    ("Unique", &["y", "idx"]),
    ("Switch", &["output_false", "output_true"]),
    ("Merge", &["output", "value_index"]),
];
const BATCH_NORM_OUTPUTS: &[&str] = &[
    "y",
    "batch_mean",
    "batch_variance",
    "reserve_space_1",
    "reserve_space_2",
    "reserve_space_3",
];

/// Inlines every function call of `graph`, keeps the nodes `outputs` (tensor names, `node:k`)
/// depend on (all nodes when empty) and sorts them topologically.
pub(super) fn flatten(mut graph: GraphDef, outputs: &[String]) -> Result<GraphDef> {
    let library = graph.library.take().unwrap_or_default();
    let functions: HashMap<&str, &FunctionDef> = library
        .function
        .iter()
        .filter_map(|f| Some((f.signature.as_ref()?.name.as_str(), f)))
        .collect();
    let nodes = prune(std::mem::take(&mut graph.node), outputs);
    let mut queue: VecDeque<(NodeDef, usize)> = nodes.into_iter().map(|n| (n, 0)).collect();
    let mut flat = Vec::with_capacity(queue.len());
    // each body copied costs its encoded size: a small library cannot expand without bound
    let budget = MAX_INLINED_BYTES.saturating_add(library.encoded_len());
    let mut copied = 0usize;
    while let Some((node, depth)) = queue.pop_front() {
        let Some(function) = called_function(&node, &functions)? else {
            flat.push(node);
            continue;
        };
        if depth >= MAX_DEPTH {
            return Err(ConvertError::Invalid(format!(
                "function calls nested deeper than {MAX_DEPTH} at `{}`",
                node.name
            )));
        }
        // the body's bytes plus the call's name prefixed to every name and input it holds:
        // nested calls with long names grow the names, not the bodies
        let prefixes = function
            .node_def
            .iter()
            .map(|n| 1 + n.input.len())
            .sum::<usize>()
            .saturating_add(1)
            .saturating_mul(node.name.len() + 1);
        copied = copied
            .saturating_add(function.encoded_len())
            .saturating_add(prefixes);
        if copied > budget || flat.len() + queue.len() + function.node_def.len() > MAX_NODES {
            return Err(ConvertError::Invalid(format!(
                "inlining `{}` would make the graph larger than {MAX_NODES} nodes or {budget} bytes",
                node.name
            )));
        }
        let body = inline_call(&node, function)?;
        queue.extend(body.into_iter().map(|n| (n, depth + 1)));
    }
    graph.node = topological(prune(flat, outputs));
    Ok(graph)
}

/// The function `node` calls, if it is a call.
fn called_function<'a>(
    node: &NodeDef,
    functions: &HashMap<&str, &'a FunctionDef>,
) -> Result<Option<&'a FunctionDef>> {
    let name = match node.op.as_str() {
        "PartitionedCall" | "StatefulPartitionedCall" => {
            match node.attr.get("f").and_then(|a| a.value.as_ref()) {
                Some(attr_value::Value::Func(f)) => f.name.as_str(),
                _ => {
                    return Err(ConvertError::Invalid(format!(
                        "call `{}` names no function",
                        node.name
                    )));
                }
            }
        }
        op => op, // a function called directly by its name
    };
    match functions.get(name) {
        Some(f) => Ok(Some(f)),
        None if node.op.ends_with("PartitionedCall") => Err(ConvertError::Invalid(format!(
            "call `{}`: function `{name}` is not in the graph's library",
            node.name
        ))),
        None => Ok(None),
    }
}

/// The body of `function` as graph nodes named `call/…`, plus an `IdentityN` named like the
/// call whose outputs are the function's results (so `call:k` still means result `k`).
fn inline_call(call: &NodeDef, function: &FunctionDef) -> Result<Vec<NodeDef>> {
    let prefix = &call.name;
    let signature = function.signature.as_ref().ok_or_else(|| {
        ConvertError::Invalid(format!("call `{prefix}`: the function has no signature"))
    })?;
    let data_inputs: Vec<&String> = call.input.iter().filter(|i| !i.starts_with('^')).collect();
    if data_inputs.len() < signature.input_arg.len() {
        return Err(ConvertError::Invalid(format!(
            "call `{prefix}` passes {} inputs to `{}`, which takes {}",
            data_inputs.len(),
            signature.name,
            signature.input_arg.len()
        )));
    }
    let args: HashMap<&str, &str> = signature
        .input_arg
        .iter()
        .zip(&data_inputs)
        .map(|(a, i)| (a.name.as_str(), i.as_str()))
        .collect();
    let ops: HashMap<&str, &str> = function
        .node_def
        .iter()
        .map(|n| (n.name.as_str(), n.op.as_str()))
        .collect();
    let rename = |reference: &str| -> Option<String> {
        if reference.starts_with('^') {
            return None; // control dependencies do not carry data
        }
        let mut parts = reference.splitn(3, ':');
        let node = parts.next().unwrap_or_default();
        Some(match (parts.next(), parts.next()) {
            (None, _) => match args.get(node) {
                Some(outer) => (*outer).to_string(),
                None => format!("{prefix}/{node}"),
            },
            (Some(k), None) => format!("{prefix}/{node}:{k}"),
            (Some(arg), Some(index)) => {
                let index: usize = index.parse().unwrap_or(0);
                let op = ops.get(node).copied().unwrap_or_default();
                format!("{prefix}/{node}:{}", output_index(op, arg, index))
            }
        })
    };
    let mut body: Vec<NodeDef> = function
        .node_def
        .iter()
        .map(|n| NodeDef {
            name: format!("{prefix}/{}", n.name),
            op: n.op.clone(),
            input: n.input.iter().filter_map(|i| rename(i)).collect(),
            attr: n.attr.clone(),
        })
        .collect();
    let results = signature
        .output_arg
        .iter()
        .map(|arg| {
            function
                .ret
                .get(&arg.name)
                .and_then(|r| rename(r))
                .ok_or_else(|| {
                    ConvertError::Invalid(format!(
                        "function `{}` does not return `{}`",
                        signature.name, arg.name
                    ))
                })
        })
        .collect::<Result<Vec<String>>>()?;
    body.push(NodeDef {
        name: prefix.clone(),
        op: "IdentityN".into(),
        input: results,
        attr: Default::default(),
    });
    Ok(body)
}

/// The flat output number of `op`'s output argument `arg`, element `index`.
fn output_index(op: &str, arg: &str, index: usize) -> usize {
    OUTPUT_ARGS
        .iter()
        .find(|(name, _)| *name == op)
        .and_then(|(_, names)| names.iter().position(|n| *n == arg))
        .map_or(index, |position| position + index)
}

/// The node a tensor reference (`node`, `node:k`, `^node`) names.
fn node_of(reference: &str) -> &str {
    let reference = reference.strip_prefix('^').unwrap_or(reference);
    reference.split(':').next().unwrap_or(reference)
}

/// The nodes `outputs` depend on through data inputs, in their original order; all of them
/// when `outputs` is empty.
fn prune(nodes: Vec<NodeDef>, outputs: &[String]) -> Vec<NodeDef> {
    if outputs.is_empty() {
        return nodes;
    }
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut keep = vec![false; nodes.len()];
    let mut stack: Vec<usize> = outputs
        .iter()
        .filter_map(|o| index.get(node_of(o)).copied())
        .collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut keep[i], true) {
            continue;
        }
        for input in nodes[i].input.iter().filter(|i| !i.starts_with('^')) {
            if let Some(&j) = index.get(node_of(input)) {
                stack.push(j);
            }
        }
    }
    nodes
        .into_iter()
        .zip(keep)
        .filter_map(|(n, k)| k.then_some(n))
        .collect()
}

/// The nodes in an order where every node follows the nodes it reads (Kahn's algorithm, ties
/// in file order). Nodes on a cycle (TF1 while loops) keep their file order at the end.
fn topological(nodes: Vec<NodeDef>) -> Vec<NodeDef> {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut waiting = vec![0usize; nodes.len()];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let sources: HashSet<usize> = node
            .input
            .iter()
            .filter(|r| !r.starts_with('^'))
            .filter_map(|r| index.get(node_of(r)).copied())
            .filter(|&j| j != i)
            .collect();
        waiting[i] = sources.len();
        for j in sources {
            readers[j].push(i);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..nodes.len())
        .filter(|&i| waiting[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    let mut placed = vec![false; nodes.len()];
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        placed[i] = true;
        for &r in &readers[i] {
            waiting[r] -= 1;
            if waiting[r] == 0 {
                ready.push(std::cmp::Reverse(r));
            }
        }
    }
    order.extend((0..nodes.len()).filter(|&i| !placed[i]));
    let mut slots: Vec<Option<NodeDef>> = nodes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::proto::{ArgDef, AttrValue, FunctionDefLibrary, NameAttrList, OpDef};
    use super::*;

    fn node(name: &str, op: &str, inputs: &[&str]) -> NodeDef {
        NodeDef {
            name: name.into(),
            op: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            attr: Default::default(),
        }
    }

    fn call(name: &str, function: &str, inputs: &[&str]) -> NodeDef {
        let mut n = node(name, "StatefulPartitionedCall", inputs);
        n.attr.insert(
            "f".into(),
            AttrValue {
                value: Some(attr_value::Value::Func(NameAttrList {
                    name: function.into(),
                })),
            },
        );
        n
    }

    fn function(name: &str, inputs: &[&str], body: Vec<NodeDef>, ret: &str) -> FunctionDef {
        FunctionDef {
            signature: Some(OpDef {
                name: name.into(),
                input_arg: inputs
                    .iter()
                    .map(|n| ArgDef {
                        name: n.to_string(),
                    })
                    .collect(),
                output_arg: vec![ArgDef { name: "out".into() }],
            }),
            node_def: body,
            ret: [("out".to_string(), ret.to_string())].into(),
        }
    }

    fn names(g: &GraphDef) -> Vec<(&str, &str, Vec<&str>)> {
        g.node
            .iter()
            .map(|n| {
                let inputs = n.input.iter().map(String::as_str).collect();
                (n.name.as_str(), n.op.as_str(), inputs)
            })
            .collect()
    }

    /// A graph whose input `x` feeds a call of `entry`, with `functions` as its library.
    fn calling(entry: &str, functions: Vec<FunctionDef>) -> GraphDef {
        GraphDef {
            node: vec![node("x", "Placeholder", &[]), call("c", entry, &["x"])],
            library: Some(FunctionDefLibrary {
                function: functions,
            }),
            versions: None,
        }
    }

    #[test]
    fn nested_calls_are_inlined_pruned_and_sorted() {
        // outer: x → call(f) → y;  f(a, w) = relu(bn(conv(a, read(w))).y) via inner call g
        let inner = function(
            "g",
            &["t"],
            vec![node("r", "Relu", &["t"])],
            "r:activations:0",
        );
        let outer_fn = function(
            "f",
            &["a", "w"],
            vec![
                call("inner", "g", &["bn:y:0"]),
                node("bn", "FusedBatchNormV3", &["conv:output:0"]),
                node("conv", "Conv2D", &["a", "read:value:0", "^init"]),
                node("read", "ReadVariableOp", &["w"]),
            ],
            "inner:output:0",
        );
        let graph = GraphDef {
            node: vec![
                node("x", "Placeholder", &[]),
                node("w", "VarHandleOp", &[]),
                call("serve", "f", &["x", "w"]),
                node("saver", "SaveV2", &["w"]),
            ],
            library: Some(FunctionDefLibrary {
                function: vec![inner, outer_fn],
            }),
            versions: None,
        };
        let flat = flatten(graph, &["serve:0".into()]).expect("flattens");
        assert_eq!(
            names(&flat),
            [
                ("x", "Placeholder", vec![]),
                ("w", "VarHandleOp", vec![]),
                ("serve/read", "ReadVariableOp", vec!["w"]),
                ("serve/conv", "Conv2D", vec!["x", "serve/read:0"]),
                ("serve/bn", "FusedBatchNormV3", vec!["serve/conv:0"]),
                ("serve/inner/r", "Relu", vec!["serve/bn:0"]),
                ("serve/inner", "IdentityN", vec!["serve/inner/r:0"]),
                ("serve", "IdentityN", vec!["serve/inner:0"]),
            ]
        );
    }

    #[test]
    fn batch_norm_statistics_and_recursion_are_handled() {
        assert_eq!(output_index("FusedBatchNormV3", "batch_variance", 0), 2);
        assert_eq!(output_index("Split", "output", 3), 3);
        let looping = function(
            "f",
            &["a"],
            vec![call("again", "f", &["a"])],
            "again:output:0",
        );
        let graph = calling("f", vec![looping]);
        let err = flatten(graph, &[]).expect_err("a function that calls itself");
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }

    #[test]
    fn exponential_call_trees_stop_at_the_node_budget() {
        // f_k calls f_{k+1} twice, 40 levels deep: 2^40 nodes if inlined
        let functions = (0..40)
            .map(|k| {
                let body = vec![
                    call("a", &format!("f{}", k + 1), &["x"]),
                    call("b", &format!("f{}", k + 1), &["x"]),
                ];
                function(&format!("f{k}"), &["x"], body, "a:output:0")
            })
            .chain([function(
                "f40",
                &["x"],
                vec![node("r", "Relu", &["x"])],
                "r:activations:0",
            )])
            .collect();
        let graph = calling("f0", functions);
        let err = flatten(graph, &[]).expect_err("too large");
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    /// Issue 19: 60 nested calls with 2,000-character names over a 20,000-node leaf (a
    /// 700 KB file) would inline to gigabytes of names; the budget counts them first.
    #[test]
    fn long_names_in_nested_calls_count_against_the_budget() {
        let long = |k: usize| format!("{k}{}", "n".repeat(2_000));
        let mut functions: Vec<FunctionDef> = (0..60)
            .map(|k| {
                let inner = long(k);
                let body = vec![call(&inner, &format!("f{}", k + 1), &["x"])];
                function(&format!("f{k}"), &["x"], body, &format!("{inner}:output:0"))
            })
            .collect();
        let leaf: Vec<NodeDef> = (0..20_000)
            .map(|i| {
                let input = if i == 0 {
                    "x".to_string()
                } else {
                    format!("r{}", i - 1)
                };
                node(&format!("r{i}"), "Relu", &[&input])
            })
            .collect();
        functions.push(function("f60", &["x"], leaf, "r19999:activations:0"));
        let graph = calling("f0", functions);
        let err = flatten(graph, &[]).expect_err("too large");
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn missing_functions_and_arguments_are_errors() {
        let graph = GraphDef {
            node: vec![call("c", "nowhere", &[])],
            library: None,
            versions: None,
        };
        let err = flatten(graph, &[]).expect_err("unknown function");
        assert!(
            err.to_string().contains("not in the graph's library"),
            "{err}"
        );
        let f = function("f", &["a", "b"], vec![], "a");
        let graph = GraphDef {
            node: vec![call("c", "f", &["x"])],
            library: Some(FunctionDefLibrary { function: vec![f] }),
            versions: None,
        };
        let err = flatten(graph, &[]).expect_err("too few inputs");
        assert!(err.to_string().contains("takes 2"), "{err}");
    }

    #[test]
    fn out_of_order_frozen_graphs_are_sorted_and_cycles_kept() {
        let graph = GraphDef {
            node: vec![
                node("relu", "Relu", &["conv"]),
                node("conv", "Conv2D", &["x:0", "w"]),
                node("x", "Placeholder", &[]),
                node("w", "Const", &[]),
                node("loop_a", "Merge", &["loop_b"]),
                node("loop_b", "NextIteration", &["loop_a"]),
            ],
            library: None,
            versions: None,
        };
        let flat = flatten(graph, &[]).expect("flattens");
        let order: Vec<&str> = flat.node.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(order, ["x", "w", "conv", "relu", "loop_a", "loop_b"]);
    }
}
