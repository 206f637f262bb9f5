//! Prints totals for a model file (development aid).
fn main() {
    for path in std::env::args().skip(1) {
        let t = std::time::Instant::now();
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
                    t.elapsed()
                );
                for w in &cg.warnings {
                    println!("  warning: {w}");
                }
            }
            Err(e) => println!("{path}: error: {e}"),
        }
    }
}
