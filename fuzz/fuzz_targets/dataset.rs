//! Fuzzes the `.aiopds` dataset reader: bytes → header → records (at most 256) → each record's
//! CG and the streamed statistics. Errors are fine; panics, hangs and unbounded memory are not
//! (the reader's expansion limit stops decompression bombs). Seeds: the first records of the
//! shipped datasets (`fuzz/seeds.sh`).

#![no_main]

use aiop_datasets::{Reader, stats::Accumulator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = Reader::new(data) else {
        return;
    };
    let mut stats = Accumulator::default();
    for record in reader.take(256) {
        let Ok(record) = record else {
            return;
        };
        stats.add(&record);
        if let Ok(cg) = record.cg() {
            let _ = aiop_predictor::encode(&cg);
        }
    }
    let _ = stats.finish().to_text();
});
