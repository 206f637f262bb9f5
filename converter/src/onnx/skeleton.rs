//! The skeleton of an ONNX file: the same protobuf without the payload of large tensors, read
//! through a [`Source`] that need not be in memory. The converter reads the values of small
//! tensors only (at most [`crate::value::FOLD_LIMIT`] elements); a weight's bytes are never
//! looked at, so the skeleton converts to the same CG. Where the file's bytes live outside the
//! process's memory — a JavaScript buffer, for the browser page — this reads the few kilobytes
//! of structure instead of copying a 100 MB file in.
//!
//! Only the wire format is walked: `ModelProto.graph` (field 7), `GraphProto.initializer` (5)
//! and each `TensorProto`'s data fields (4, 5, 7, 9, 10, 11); everything else is copied as it
//! is. Subgraphs (If/Loop bodies) keep their tensors.

use prost::encoding::{decode_varint, encode_varint};

use crate::error::{ConvertError, Result};
use crate::value::FOLD_LIMIT;

/// Tensor data fields longer than this many bytes are left out (8 bytes per element of the
/// largest tensor whose values the converter folds).
pub const KEEP_BYTES: usize = FOLD_LIMIT * 8;

/// Bytes that can be read by range.
pub trait Source {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `out` with the bytes at `offset..offset + out.len()` (always in range).
    fn read(&self, offset: usize, out: &mut [u8]);
}

impl Source for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self[offset..offset + out.len()]);
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        (**self).read(offset, out);
    }
}

/// A [`Source`] whose reads cost a call each (a JavaScript buffer: every read crosses into
/// JavaScript) read ahead in windows of [`Buffered::WINDOW`] bytes: the skeleton walk reads a
/// few bytes at a time, mostly forwards, thousands of times for a large network's structure.
pub struct Buffered<S> {
    source: S,
    /// The bytes at `start..start + bytes.len()` of the source.
    window: std::cell::RefCell<(usize, Vec<u8>)>,
}

impl<S: Source> Buffered<S> {
    /// Bytes read ahead at a time (reads at least this long go to the source directly).
    pub const WINDOW: usize = 64 * 1024;

    pub fn new(source: S) -> Buffered<S> {
        Buffered {
            source,
            window: std::cell::RefCell::new((0, Vec::new())),
        }
    }
}

impl<S: Source> Source for Buffered<S> {
    fn len(&self) -> usize {
        self.source.len()
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        if out.len() >= Self::WINDOW {
            return self.source.read(offset, out);
        }
        let mut window = self.window.borrow_mut();
        let (start, bytes) = &mut *window;
        let end = offset + out.len();
        if offset < *start || end > *start + bytes.len() {
            let take = Self::WINDOW.min(self.source.len() - offset);
            bytes.resize(take, 0);
            self.source.read(offset, bytes);
            *start = offset;
        }
        out.copy_from_slice(&bytes[offset - *start..end - *start]);
    }
}

/// What a message's fields become.
#[derive(Clone, Copy)]
enum Message {
    Model,
    Graph,
    Tensor,
}

/// The skeleton of the ONNX model in `source`; the size of the source's payload left out is
/// returned beside it.
pub fn skeleton<S: Source + ?Sized>(source: &S) -> Result<(Vec<u8>, usize)> {
    let mut walk = Walk {
        source,
        left_out: 0,
    };
    let out = walk.message(Message::Model, 0, source.len())?;
    Ok((out, walk.left_out))
}

struct Walk<'a, S: ?Sized> {
    source: &'a S,
    left_out: usize,
}

fn truncated() -> ConvertError {
    ConvertError::Decode("truncated or malformed protobuf".into())
}

impl<S: Source + ?Sized> Walk<'_, S> {
    /// A varint at `at` (before `end`): its value and the position after it.
    fn varint(&self, at: usize, end: usize) -> Result<(u64, usize)> {
        let mut buf = [0u8; 10];
        let n = buf.len().min(end - at);
        self.source.read(at, &mut buf[..n]);
        let mut rest = &buf[..n];
        let value = decode_varint(&mut rest).map_err(|_| truncated())?;
        Ok((value, at + n - rest.len()))
    }

    fn copy(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + (to - from), 0);
        self.source.read(from, &mut out[start..]);
    }

    /// The fields of the message at `start..end`, rewritten as its kind asks.
    fn message(&mut self, kind: Message, start: usize, end: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let (key, value_at) = self.varint(at, end)?;
            let (field, wire) = (key >> 3, key & 7);
            let next = match wire {
                0 => self.varint(value_at, end)?.1,
                1 => value_at + 8,
                5 => value_at + 4,
                2 => {
                    let (len, data_at) = self.varint(value_at, end)?;
                    let len = usize::try_from(len).map_err(|_| truncated())?;
                    let data_end = data_at.checked_add(len).ok_or_else(truncated)?;
                    if data_end > end {
                        return Err(truncated());
                    }
                    let inner = match (kind, field) {
                        (Message::Model, 7) => Some(Message::Graph),
                        (Message::Graph, 5) => Some(Message::Tensor),
                        _ => None,
                    };
                    let is_data =
                        matches!(kind, Message::Tensor) && matches!(field, 4 | 5 | 7 | 9 | 10 | 11);
                    if let Some(inner) = inner {
                        let body = self.message(inner, data_at, data_end)?;
                        encode_varint(key, &mut out);
                        encode_varint(body.len() as u64, &mut out);
                        out.extend_from_slice(&body);
                    } else if is_data && len > KEEP_BYTES {
                        self.left_out += len;
                    } else {
                        self.copy(at, data_end, &mut out);
                    }
                    at = data_end;
                    continue;
                }
                _ => return Err(truncated()),
            };
            if next > end {
                return Err(truncated());
            }
            self.copy(at, next, &mut out);
            at = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{ModelProto, TensorProto};
    use crate::onnx::writer::ModelBuilder;
    use crate::value::DType;
    use prost::Message as _;

    fn model() -> Vec<u8> {
        let mut m = ModelBuilder::new(17);
        m.input("x", DType::F32, &[1, 64, 8, 8])
            .weight("w", &[64, 64, 3, 3])
            .ints("shape", &[1, -1])
            .node("Conv", &["x", "w"], &["y"], vec![])
            .node("Reshape", &["y", "shape"], &["z"], vec![])
            .output("z");
        let mut proto = m.build();
        // a big typed payload too
        proto.graph.as_mut().unwrap().initializer.push(TensorProto {
            name: "big".into(),
            dims: vec![10_000],
            data_type: 1,
            float_data: vec![1.0; 10_000],
            ..Default::default()
        });
        proto.encode_to_vec()
    }

    /// The skeleton leaves out the large payloads only, and converts to the same CG.
    #[test]
    fn skeletons_keep_everything_but_large_payloads() {
        let bytes = model();
        let (skeleton, left_out) = skeleton(bytes.as_slice()).unwrap();
        assert_eq!(left_out, 64 * 64 * 9 * 4 + 40_000);
        assert!(skeleton.len() < 1_000, "{}", skeleton.len());
        let full = ModelProto::decode(bytes.as_slice()).unwrap();
        let skel = ModelProto::decode(skeleton.as_slice()).unwrap();
        let (g, s) = (full.graph.unwrap(), skel.graph.unwrap());
        assert_eq!(g.node, s.node);
        assert_eq!(g.input, s.input);
        assert_eq!(s.initializer[0].dims, [64, 64, 3, 3]);
        assert!(s.initializer[0].raw_data.is_empty() && s.initializer[2].float_data.is_empty());
        assert_eq!(s.initializer[1], g.initializer[1]);
        let convert = |b: Vec<u8>| crate::convert_onnx_bytes(b.into(), "m", &Default::default());
        let (a, b) = (convert(bytes.clone()).unwrap(), convert(skeleton).unwrap());
        assert_eq!(
            (a.macs(), a.params(), a.node_count()),
            (b.macs(), b.params(), b.node_count())
        );
    }

    /// Counts its reads, to show that a buffered walk makes few.
    struct Counted<'a>(&'a [u8], std::cell::Cell<usize>);

    impl Source for Counted<'_> {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn read(&self, offset: usize, out: &mut [u8]) {
            self.1.set(self.1.get() + 1);
            self.0.read(offset, out);
        }
    }

    #[test]
    fn buffered_reads_give_the_same_skeleton_in_fewer_calls() {
        let bytes = model();
        let direct = Counted(&bytes, Default::default());
        let expected = skeleton(&direct).unwrap();
        let buffered = Buffered::new(Counted(&bytes, Default::default()));
        assert_eq!(skeleton(&buffered).unwrap(), expected);
        let calls = buffered.source.1.get();
        assert!(calls * 4 < direct.1.get(), "{calls} vs {}", direct.1.get());
        // every range reads what the source holds, across and beyond windows
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let b = Buffered::new(&data[..]);
        for (offset, len) in [
            (0, 10),
            (65_530, 12),
            (5, 3),
            (100_000, 70_000),
            (199_990, 10),
        ] {
            let mut out = vec![0; len];
            b.read(offset, &mut out);
            assert_eq!(out, data[offset..offset + len], "{offset}+{len}");
        }
    }

    /// Truncated or garbled files are errors, never panics or reads past the end.
    #[test]
    fn truncated_files_are_errors() {
        let bytes = model();
        for cut in [1, 7, 100, bytes.len() / 2, bytes.len() - 1] {
            let _ = skeleton(&bytes[..cut]);
        }
        assert!(skeleton(&bytes[..bytes.len() / 2]).is_err());
        assert!(skeleton([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f].as_slice()).is_err());
    }
}
