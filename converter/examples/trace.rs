//! Prints the inferred fact of every node output, for debugging shape inference:
//! `cargo run --release -p aiop-converter --example trace -- MODEL.onnx [NAME_FILTER]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or("usage: trace MODEL.onnx [NAME_FILTER]")?;
    let model = aiop_converter::onnx::read_onnx(path.as_ref())?;
    let mut warnings = Vec::new();
    let options = aiop_converter::ConvertOptions::default();
    let (seed, _) = aiop_converter::seed_facts(&model, &options, &mut warnings)?;
    let inferred = aiop_converter::infer::infer(&model.graph, seed)?;
    for &i in &inferred.order {
        let node = &model.graph.nodes[i];
        if args.get(2).is_some_and(|f| !node.name.contains(f.as_str())) {
            continue;
        }
        for output in node.outputs.iter().filter(|o| !o.is_empty()) {
            let fact = &inferred.facts[output];
            println!(
                "{} {} {:?} value={:?} {:?}",
                node.op_type,
                node.name,
                fact.shape,
                fact.value.as_ref().map(|v| v.as_floats()),
                inferred.status[i]
            );
        }
    }
    Ok(())
}
