//! Prints the inferred fact of every node output (development aid): `trace MODEL [FILTER]`.
use aiop_converter::{ConvertOptions, data_inputs, infer, onnx};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = onnx::read_onnx(args[1].as_ref()).unwrap();
    let g = &model.graph;
    let opts = ConvertOptions::default();
    let data = data_inputs(&model, &opts);
    let mut seed = rustc_hash::FxHashMap::default();
    for (n, t) in &g.initializers {
        seed.insert(
            n.clone(),
            infer::fact::Fact::fixed(t.dtype, &t.dims).with_value(t.value.clone()),
        );
    }
    for i in &g.inputs {
        if !g.initializers.contains_key(&i.name) {
            let dims: Vec<Option<u64>> = i
                .shape
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|d| match d {
                    aiop_converter::ir::DeclaredDim::Fixed(v) => Some(*v),
                    _ => {
                        if data.contains(&i.name) {
                            Some(1)
                        } else {
                            None
                        }
                    }
                })
                .collect();
            seed.insert(i.name.clone(), infer::fact::Fact::new(i.dtype, dims));
        }
    }
    let inf = infer::infer(g, seed).unwrap();
    for &i in &inf.order {
        let n = &g.nodes[i];
        if args.len() > 2 && !n.name.contains(&args[2]) {
            continue;
        }
        for o in &n.outputs {
            let f = &inf.facts[o];
            println!(
                "{} {} {:?} {:?} {:?}",
                n.op_type,
                n.name,
                f.shape,
                f.value.as_ref().map(|v| v.as_floats()),
                inf.status[i]
            );
        }
    }
}
