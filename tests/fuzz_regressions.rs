//! Inputs the fuzzers found (`fuzz/regressions/`): each must load or fail cleanly, quickly and in
//! little memory, through both the byte and the file entry points — models (`.onnx`) converted,
//! CG files (`.cg`) read, and what loads rendered and made canonical.

use aiop_converter::ConvertOptions;
use aiop_converter::load::{load_bytes, load_file};

#[test]
fn fuzzer_findings_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "onnx" && e != "cg") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let from_bytes = load_bytes(bytes, &name, &ConvertOptions::default());
        let from_file = load_file(&path, &ConvertOptions::default());
        assert_eq!(from_bytes.is_ok(), from_file.is_ok(), "{}", path.display());
        if let Ok(cg) = from_file {
            let _ = aiop_converter::render::to_svg(&cg, &Default::default());
            let _ = aiop_converter::cg::canonicalize(&cg);
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "no regression inputs found in {}",
        dir.display()
    );
}
