//! Converts model files and prints their totals and warnings (a quick check without the CLI):
//! `cargo run --release -p aiop-converter --example probe -- MODEL.onnx...`.

fn main() {
    for path in std::env::args().skip(1) {
        let start = std::time::Instant::now();
        match aiop_converter::convert_file(path.as_ref(), &Default::default()) {
            Ok(cg) => {
                println!(
                    "{path}: nodes {} edges {} macs {} params {} unknown {} bounded {} in {:?}",
                    cg.node_count(),
                    cg.edge_count(),
                    cg.macs(),
                    cg.params(),
                    cg.unknown_shapes(),
                    cg.bounded_shapes(),
                    start.elapsed()
                );
                for w in &cg.warnings {
                    println!("  warning: {w}");
                }
            }
            Err(e) => println!("{path}: error: {e}"),
        }
    }
}
