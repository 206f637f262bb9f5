//! Serialisation of the CG: versioned JSON for people and a compact binary form (a magic
//! header, a version, then the same record in `postcard`'s varint encoding). Both round-trip
//! exactly.

use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use super::{Cg, CgNode, VOCAB_VERSION};

/// Version of the CG file layout. 2 added each node's `precision`; JSON files of version 1
/// (no precision) are still read.
pub const FORMAT_VERSION: u32 = 2;
/// First bytes of a binary CG file.
pub const MAGIC: &[u8; 8] = b"AIOPCG\0\x01";

/// Why a CG file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not an aiop CG file")]
    NotCg,
    #[error("CG format version {found} is not supported (this build reads {FORMAT_VERSION})")]
    Version { found: u32 },
    #[error("CG vocabulary version {found} is not supported (this build knows {VOCAB_VERSION})")]
    Vocab { found: u32 },
    #[error("corrupt CG file: {0}")]
    Corrupt(String),
    #[error("edge {0}→{1} refers to a missing node")]
    Edge(u32, u32),
    #[error("the edges form a cycle (a CG is acyclic)")]
    Cyclic,
}

/// The on-disk record of a CG (also embedded in dataset records).
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct CgRecord {
    format: String,
    version: u32,
    vocab_version: u32,
    name: String,
    source: String,
    nodes: Vec<CgNode>,
    edges: Vec<[u32; 2]>,
    warnings: Vec<String>,
}

impl CgRecord {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// The record of a CG.
pub fn record(cg: &Cg) -> CgRecord {
    CgRecord {
        format: "aiop-cg".into(),
        version: FORMAT_VERSION,
        vocab_version: VOCAB_VERSION,
        name: cg.name.clone(),
        source: cg.source.clone(),
        nodes: cg.nodes().cloned().collect(),
        edges: cg.edges().map(|(a, b)| [a as u32, b as u32]).collect(),
        warnings: cg.warnings.clone(),
    }
}

/// The CG of a record, checking format, versions and edges.
pub fn from_record(r: CgRecord) -> Result<Cg, FormatError> {
    if r.format != "aiop-cg" {
        return Err(FormatError::NotCg);
    }
    if r.version != FORMAT_VERSION {
        return Err(FormatError::Version { found: r.version });
    }
    from_checked_record(r)
}

/// [`from_record`] for a record whose layout version was checked by its reader.
fn from_checked_record(r: CgRecord) -> Result<Cg, FormatError> {
    if r.vocab_version != VOCAB_VERSION {
        return Err(FormatError::Vocab {
            found: r.vocab_version,
        });
    }
    let mut graph = DiGraph::with_capacity(r.nodes.len(), r.edges.len());
    let n = r.nodes.len() as u32;
    for node in r.nodes {
        graph.add_node(node);
    }
    for [a, b] in r.edges {
        if a >= n || b >= n {
            return Err(FormatError::Edge(a, b));
        }
        graph.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), ());
    }
    if petgraph::algo::is_cyclic_directed(&graph) {
        return Err(FormatError::Cyclic);
    }
    Ok(Cg {
        name: r.name,
        source: r.source,
        graph,
        warnings: r.warnings,
    })
}

/// The CG as pretty-printed JSON.
pub fn to_json(cg: &Cg) -> String {
    serde_json::to_string_pretty(&record(cg)).expect("CG records always serialise")
}

/// Reads a CG from JSON.
pub fn from_json(text: &str) -> Result<Cg, FormatError> {
    let r: CgRecord =
        serde_json::from_str(text).map_err(|e| FormatError::Corrupt(e.to_string()))?;
    if r.version == 1 && r.format == "aiop-cg" {
        // Version 1 differs only by the missing `precision`, which JSON defaults.
        return from_checked_record(r);
    }
    from_record(r)
}

/// The CG in the compact binary form.
pub fn to_binary(cg: &Cg) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(postcard::to_stdvec(&record(cg)).expect("CG records always serialise"));
    out
}

/// Reads a CG from the compact binary form.
pub fn from_binary(bytes: &[u8]) -> Result<Cg, FormatError> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or(FormatError::NotCg)?;
    /// The leading fields, the same in every version: an older file gets a version error.
    #[derive(Deserialize)]
    struct Head {
        _format: String,
        version: u32,
    }
    if let Ok((head, _)) = postcard::take_from_bytes::<Head>(body)
        && head.version != FORMAT_VERSION
    {
        return Err(FormatError::Version {
            found: head.version,
        });
    }
    let r: CgRecord =
        postcard::from_bytes(body).map_err(|e| FormatError::Corrupt(e.to_string()))?;
    from_record(r)
}

/// The CG encoded as a file at `path` asks: JSON for `*.json`, binary otherwise.
pub fn encode_for(path: &std::path::Path, cg: &Cg) -> Vec<u8> {
    if path.extension().is_some_and(|e| e == "json") {
        to_json(cg).into_bytes()
    } else {
        to_binary(cg)
    }
}

/// True when `bytes` start like a binary CG file.
pub fn is_binary_cg(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclic_files_are_refused() {
        // issue 19: a 2-cycle (or a self-loop) in a hand-made CG file made `render` loop forever
        let mut cg = Cg::default();
        let a = cg.add_node(CgNode::new("a", crate::OpCategory::Relu, "Relu"));
        let b = cg.add_node(CgNode::new("b", crate::OpCategory::Relu, "Relu"));
        cg.graph.add_edge(a, b, ());
        assert!(from_json(&to_json(&cg)).is_ok());
        cg.graph.add_edge(b, a, ());
        assert!(matches!(from_json(&to_json(&cg)), Err(FormatError::Cyclic)));
        cg.graph.clear_edges();
        cg.graph.add_edge(a, a, ());
        assert!(matches!(
            from_binary(&to_binary(&cg)),
            Err(FormatError::Cyclic)
        ));
    }
}
