//! Labelled CG datasets: a stream of records (CG + metadata + labels per task), compact and
//! versioned. Layout of a `.aiopds` file: the 8 bytes `AIOPDS\0\x01`, then one zstd stream
//! holding a header and the records, each as a little-endian `u32` length and a postcard body.
//! Readers can stream records without loading the whole file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use aiop_converter::cg::Cg;
use aiop_converter::cg::format::{self, CgRecord, FormatError};

/// First bytes of a dataset file.
pub const MAGIC: &[u8; 8] = b"AIOPDS\0\x01";
/// Version of the record layout (2: CG nodes carry their precision).
pub const VERSION: u32 = 2;
/// Largest record accepted when reading (a CG of a few hundred thousand nodes).
const MAX_RECORD_BYTES: u32 = 256 << 20;
/// Largest ratio of decompressed to compressed bytes a reader accepts (the shipped datasets
/// expand 19–47×; one record repeated two million times expands 11,807×). Overridable by the
/// environment variable `AIOP_MAX_DATASET_EXPANSION`.
pub const MAX_EXPANSION: u64 = 256;
/// Decompressed bytes always accepted, whatever the ratio (a small file of large records).
const EXPANSION_FLOOR: u64 = 64 << 20;

/// Why a dataset could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not an aiop dataset file")]
    NotDataset,
    #[error("dataset version {0} is not supported (this build reads {VERSION})")]
    Version(u32),
    #[error("corrupt dataset: {0}")]
    Corrupt(String),
    #[error(
        "dataset expands {decompressed} bytes from {compressed} compressed, more than \
         {limit}× (a decompression bomb? AIOP_MAX_DATASET_EXPANSION raises the limit)"
    )]
    Expansion {
        decompressed: u64,
        compressed: u64,
        limit: u64,
    },
    #[error(transparent)]
    Cg(#[from] FormatError),
}

/// What a dataset file says about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Header {
    pub version: u32,
    /// Free text: how the dataset was built.
    pub description: String,
}

/// One labelled architecture.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Unique name within the dataset (architecture string, model name, …).
    pub name: String,
    /// Search space or model family (`nb201`, `resnet`, …), used for leave-family-out splits.
    pub family: String,
    /// Where the network came from (file, generator).
    pub source: String,
    /// Input height/width the CG was built at.
    pub resolution: u32,
    pub macs: u64,
    pub params: u64,
    /// Task → label in the task's metric (e.g. `cifar10-top1` → 93.6).
    pub labels: BTreeMap<String, f64>,
    cg: CgRecord,
}

impl Record {
    /// A record of `cg` with no labels yet.
    pub fn new(cg: &Cg, family: &str, source: &str, resolution: u32) -> Record {
        Record {
            name: cg.name.clone(),
            family: family.into(),
            source: source.into(),
            resolution,
            macs: cg.macs(),
            params: cg.params(),
            labels: BTreeMap::new(),
            cg: format::record(cg),
        }
    }

    /// Nodes in the record's CG, without decoding it.
    pub fn node_count(&self) -> usize {
        self.cg.node_count()
    }

    /// The record's CG.
    pub fn cg(&self) -> Result<Cg, FormatError> {
        format::from_record(self.cg.clone())
    }
}

/// Writes a dataset stream.
pub struct Writer<W: Write> {
    encoder: zstd::Encoder<'static, W>,
}

impl<W: Write> Writer<W> {
    /// Starts a dataset on `out` with the given description.
    pub fn new(mut out: W, description: &str) -> Result<Self, DatasetError> {
        out.write_all(MAGIC)?;
        let mut w = Writer {
            encoder: zstd::Encoder::new(out, 9)?,
        };
        w.frame(&Header {
            version: VERSION,
            description: description.into(),
        })?;
        Ok(w)
    }

    fn frame<T: Serialize>(&mut self, value: &T) -> Result<(), DatasetError> {
        let body = postcard::to_stdvec(value).map_err(|e| DatasetError::Corrupt(e.to_string()))?;
        self.encoder.write_all(&(body.len() as u32).to_le_bytes())?;
        self.encoder.write_all(&body)?;
        Ok(())
    }

    /// Appends a record.
    pub fn write(&mut self, record: &Record) -> Result<(), DatasetError> {
        self.frame(record)
    }

    /// Ends the stream and returns the underlying writer.
    pub fn finish(self) -> Result<W, DatasetError> {
        Ok(self.encoder.finish()?)
    }
}

/// Reads a dataset stream record by record, in bounded memory (one record at a time) and bounded
/// work: a stream that decompresses to more than [`MAX_EXPANSION`] times the compressed bytes read
/// so far is refused.
pub struct Reader<R: Read> {
    decoder: zstd::Decoder<'static, std::io::BufReader<Counted<R>>>,
    /// Compressed bytes read so far (shared with the [`Counted`] input).
    compressed: Arc<AtomicU64>,
    /// Decompressed bytes read so far.
    decompressed: u64,
    max_expansion: u64,
    /// Set after an error: a broken stream yields nothing more.
    failed: bool,
    /// The file's header.
    pub header: Header,
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The expansion limit: `AIOP_MAX_DATASET_EXPANSION` when it is a positive number, else
/// [`MAX_EXPANSION`].
pub fn max_expansion() -> u64 {
    std::env::var("AIOP_MAX_DATASET_EXPANSION")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(MAX_EXPANSION)
}

impl<R: Read> Reader<R> {
    /// Checks the magic and version and reads the header.
    pub fn new(mut input: R) -> Result<Self, DatasetError> {
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| DatasetError::NotDataset)?;
        if &magic != MAGIC {
            return Err(DatasetError::NotDataset);
        }
        let compressed = Arc::new(AtomicU64::new(0));
        let counted = Counted {
            inner: input,
            count: compressed.clone(),
        };
        let mut reader = Reader {
            decoder: zstd::Decoder::new(counted)?,
            compressed,
            decompressed: 0,
            max_expansion: max_expansion(),
            failed: false,
            header: Header {
                version: 0,
                description: String::new(),
            },
        };
        reader.header = reader
            .frame()?
            .ok_or(DatasetError::Corrupt("no header".into()))?;
        if reader.header.version != VERSION {
            return Err(DatasetError::Version(reader.header.version));
        }
        Ok(reader)
    }

    /// The next frame: a little-endian `u32` length and a postcard body; `None` at the end.
    fn frame<T: for<'de> Deserialize<'de>>(&mut self) -> Result<Option<T>, DatasetError> {
        let mut len = [0u8; 4];
        match self.decoder.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_le_bytes(len);
        if len > MAX_RECORD_BYTES {
            return Err(DatasetError::Corrupt(format!("record of {len} bytes")));
        }
        self.account(4 + u64::from(len))?;
        let mut body = vec![0u8; len as usize];
        self.decoder
            .read_exact(&mut body)
            .map_err(|e| DatasetError::Corrupt(format!("truncated record: {e}")))?;
        postcard::from_bytes(&body)
            .map(Some)
            .map_err(|e| DatasetError::Corrupt(e.to_string()))
    }

    /// Counts `bytes` more decompressed bytes, refusing a stream that expands too much.
    fn account(&mut self, bytes: u64) -> Result<(), DatasetError> {
        self.decompressed = self.decompressed.saturating_add(bytes);
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        if self.decompressed > EXPANSION_FLOOR
            && self.decompressed > compressed.saturating_mul(self.max_expansion)
        {
            return Err(DatasetError::Expansion {
                decompressed: self.decompressed,
                compressed,
                limit: self.max_expansion,
            });
        }
        Ok(())
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.frame().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiop_converter::onnx::writer::ModelBuilder;
    use aiop_converter::value::DType;

    /// A one-ReLU network's CG.
    fn tiny_cg() -> Cg {
        let mut m = ModelBuilder::new(17);
        m.input("x", DType::F32, &[1, 3, 4, 4])
            .node("Relu", &["x"], &["y"], vec![])
            .output("y");
        aiop_converter::convert_onnx_bytes(m.to_bytes().into(), "tiny", &Default::default())
            .unwrap()
    }

    #[test]
    fn records_round_trip_and_bad_files_are_refused() {
        let cg = tiny_cg();
        let mut rec = Record::new(&cg, "toy", "test", 4);
        rec.labels.insert("task".into(), 1.5);
        let mut w = Writer::new(Vec::new(), "test set").unwrap();
        w.write(&rec).unwrap();
        w.write(&rec).unwrap();
        let bytes = w.finish().unwrap();
        let r = Reader::new(bytes.as_slice()).unwrap();
        assert_eq!(r.header.description, "test set");
        let back: Vec<Record> = r.map(Result::unwrap).collect();
        assert_eq!(back, vec![rec.clone(), rec]);
        assert_eq!(
            format::to_binary(&back[0].cg().unwrap()),
            format::to_binary(&cg)
        );
        assert!(matches!(
            Reader::new(&b"garbage!"[..]),
            Err(DatasetError::NotDataset)
        ));
        let truncated = &bytes[..bytes.len() - 10];
        let errors = Reader::new(truncated).map(|r| r.filter(Result::is_err).count());
        assert!(
            errors.is_err() || errors.unwrap() > 0,
            "truncation is noticed"
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_early() {
        // one small record repeated until it is 80 MiB decompressed: zstd packs it into a few
        // KB, far past the allowed expansion; the reader stops after the floor, once
        let cg = tiny_cg();
        let rec = Record::new(&cg, "toy", "test", 4);
        let size = postcard::to_stdvec(&rec).unwrap().len() + 4;
        let copies = (80 << 20) / size;
        let mut w = Writer::new(Vec::new(), "bomb").unwrap();
        for _ in 0..copies {
            w.write(&rec).unwrap();
        }
        let bytes = w.finish().unwrap();
        assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
        let results: Vec<_> = Reader::new(bytes.as_slice()).unwrap().collect();
        let last = results.last().unwrap();
        assert!(
            matches!(
                last,
                Err(DatasetError::Expansion {
                    limit: MAX_EXPANSION,
                    ..
                })
            ),
            "{last:?}"
        );
        assert!(results.len() < copies, "stopped early, once");
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    }
}
