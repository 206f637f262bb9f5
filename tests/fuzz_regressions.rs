//! Inputs the fuzzer found (`fuzz/regressions/`): each must convert or fail cleanly, quickly and
//! in little memory, through both the byte and the file entry points.

use aiop_converter::{ConvertOptions, convert_file, convert_onnx_bytes};

#[test]
fn fuzzer_findings_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "onnx") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let from_bytes = convert_onnx_bytes(bytes.into(), "fuzz", &ConvertOptions::default());
        let from_file = convert_file(&path, &ConvertOptions::default());
        assert_eq!(from_bytes.is_ok(), from_file.is_ok(), "{}", path.display());
        if let Ok(cg) = from_file {
            let _ = aiop_converter::render::to_svg(&cg, &Default::default());
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "no regression inputs found in {}",
        dir.display()
    );
}
