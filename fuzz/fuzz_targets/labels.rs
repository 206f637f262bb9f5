//! Fuzzes the label CSV readers: the same bytes read as a `name,value` file (`rank --labels`) and
//! as each zoo's result file. Errors name the file; nothing may panic, and no label read may
//! be NaN or infinite. Seeds: the first lines of each vendored result file (`fuzz/seeds.sh`).

#![no_main]

use aiop_datasets::labels::{Zoo, read_values};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = read_values(std::io::Cursor::new(data.to_vec()), "fuzz.csv") {
        assert!(values.values().all(|v| v.is_finite()));
    }
    for zoo in Zoo::ALL {
        if let Ok(table) = zoo.parse(std::io::Cursor::new(data.to_vec()), "fuzz.csv") {
            for name in table.names() {
                let labels = table.labels_for(name, 224);
                assert!(labels.values().all(|v| v.is_finite()));
            }
        }
    }
});
