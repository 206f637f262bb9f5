//! Weight arithmetic for edits, on the file's own encoding (raw little-endian bytes or the typed
//! repeated fields): keep some indices of one axis, crop or zero-pad the two spatial axes of a
//! kernel, the L1 norm of each output channel. In a weight-stripped file only the declared
//! dims change.

use aiop_converter::onnx::proto::{GraphProto, TensorProto};

use super::graph::{Weight, set_input_dims, weight_dims};

/// Bytes per element of an ONNX element type stored as raw data.
fn element_size(data_type: i32) -> Option<usize> {
    Some(match data_type {
        2 | 3 | 9 => 1,       // uint8, int8, bool
        4 | 5 | 10 | 16 => 2, // uint16, int16, float16, bfloat16
        1 | 6 | 12 => 4,      // float, int32, uint32
        7 | 11 | 13 => 8,     // int64, double, uint64
        _ => return None,
    })
}

fn usize_dims(dims: &[i64]) -> Result<Vec<usize>, String> {
    dims.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dim {d}")))
        .collect()
}

/// The elements of `data` (`outer × n × inner` units) with only the `keep` indices of the
/// middle axis.
fn pick<T: Copy>(data: &[T], outer: usize, n: usize, inner: usize, keep: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(outer * keep.len() * inner);
    for o in 0..outer {
        for &k in keep {
            let start = (o * n + k) * inner;
            out.extend_from_slice(&data[start..start + inner]);
        }
    }
    out
}

/// Applies `f` (a rewrite of `outer × n × inner` elements, with the element count `numel`) to
/// the tensor's values, whichever field holds them.
fn rewrite_values(
    t: &mut TensorProto,
    numel: usize,
    f: &dyn Fn(&[u8], usize) -> Vec<u8>,
    g32: &dyn Fn(&[f32]) -> Vec<f32>,
    gi64: &dyn Fn(&[i64]) -> Vec<i64>,
    gi32: &dyn Fn(&[i32]) -> Vec<i32>,
) -> Result<(), String> {
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(format!(
            "weight `{}` is stored outside the file (external data)",
            t.name
        ));
    }
    if !t.raw_data.is_empty() {
        let size = element_size(t.data_type)
            .ok_or_else(|| format!("weight `{}`: element type {}", t.name, t.data_type))?;
        if t.raw_data.len() != numel * size {
            return Err(format!("weight `{}`: data and dims disagree", t.name));
        }
        t.raw_data = f(&t.raw_data, size).into();
    } else if !t.float_data.is_empty() && t.float_data.len() == numel {
        t.float_data = g32(&t.float_data);
    } else if !t.int64_data.is_empty() && t.int64_data.len() == numel {
        t.int64_data = gi64(&t.int64_data);
    } else if !t.int32_data.is_empty() && t.int32_data.len() == numel {
        t.int32_data = gi32(&t.int32_data);
    } else if numel != 0 {
        return Err(format!(
            "weight `{}`: no data in a form edits handle",
            t.name
        ));
    }
    Ok(())
}

/// Keeps the `keep` indices (ascending, in range) of `axis` of a weight.
pub fn slice(graph: &mut GraphProto, w: Weight, axis: usize, keep: &[usize]) -> Result<(), String> {
    let dims = weight_dims(graph, w).ok_or("a weight with open dims")?;
    let d = usize_dims(&dims)?;
    if axis >= d.len() || keep.iter().any(|&k| k >= d[axis]) {
        return Err("a slice outside the weight".into());
    }
    let mut new_dims = dims.clone();
    new_dims[axis] = keep.len() as i64;
    match w {
        Weight::Input(i) => set_input_dims(graph, i, &new_dims),
        Weight::Initializer(i) => {
            let (outer, n, inner) = (
                d[..axis].iter().product::<usize>(),
                d[axis],
                d[axis + 1..].iter().product::<usize>(),
            );
            let numel = outer * n * inner;
            let t = &mut graph.initializer[i];
            rewrite_values(
                t,
                numel,
                &|bytes, size| pick(bytes, outer, n, inner * size, keep),
                &|v| pick(v, outer, n, inner, keep),
                &|v| pick(v, outer, n, inner, keep),
                &|v| pick(v, outer, n, inner, keep),
            )?;
            t.dims = new_dims;
        }
    }
    Ok(())
}

/// A convolution kernel `[O, I, k, k]` resized to `[O, I, size, size]` about its centre:
/// cropped when smaller, zero-padded when larger (odd sizes).
pub fn resize_kernel(graph: &mut GraphProto, w: Weight, size: usize) -> Result<(), String> {
    let dims = weight_dims(graph, w).ok_or("a kernel with open dims")?;
    let d = usize_dims(&dims)?;
    if d.len() != 4 || d[2] != d[3] {
        return Err("not a square 2-D kernel".into());
    }
    let (planes, k) = (d[0] * d[1], d[2]);
    let mut new_dims = dims.clone();
    new_dims[2] = size as i64;
    new_dims[3] = size as i64;
    match w {
        Weight::Input(i) => set_input_dims(graph, i, &new_dims),
        Weight::Initializer(i) => {
            // element (y, x) of the new kernel is (y + shift, x + shift) of the old one
            let shift = (k as isize - size as isize) / 2;
            let resize = |data: &[u8], unit: usize| {
                let mut out = vec![0u8; planes * size * size * unit];
                for p in 0..planes {
                    for y in 0..size {
                        for x in 0..size {
                            let (sy, sx) = (y as isize + shift, x as isize + shift);
                            if (0..k as isize).contains(&sy) && (0..k as isize).contains(&sx) {
                                let from = ((p * k + sy as usize) * k + sx as usize) * unit;
                                let to = ((p * size + y) * size + x) * unit;
                                out[to..to + unit].copy_from_slice(&data[from..from + unit]);
                            }
                        }
                    }
                }
                out
            };
            let t = &mut graph.initializer[i];
            if t.data_type != 1 {
                return Err(format!("kernel `{}`: not float32", t.name));
            }
            let floats = |v: &[f32]| {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                resize(&bytes, 4)
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            };
            rewrite_values(
                t,
                planes * k * k,
                &resize,
                &floats,
                &|_| Vec::new(),
                &|_| Vec::new(),
            )?;
            t.dims = new_dims;
        }
    }
    Ok(())
}

/// The values of a float32 weight, when the file holds them.
pub fn floats(graph: &GraphProto, w: Weight) -> Option<Vec<f32>> {
    let Weight::Initializer(i) = w else {
        return None;
    };
    let t = &graph.initializer[i];
    if t.data_type != 1 || t.data_location == 1 {
        return None;
    }
    if !t.raw_data.is_empty() {
        return Some(
            t.raw_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        );
    }
    (!t.float_data.is_empty()).then(|| t.float_data.clone())
}

/// The L1 norm of each slice along axis 0 of a float weight (`None` without values).
pub fn l1_per_output(graph: &GraphProto, w: Weight) -> Option<Vec<f64>> {
    let values = floats(graph, w)?;
    let n = *weight_dims(graph, w)?.first()? as usize;
    if n == 0 || values.len() % n != 0 {
        return None;
    }
    let per = values.len() / n;
    Some(
        values
            .chunks_exact(per)
            .map(|c| c.iter().map(|v| v.abs() as f64).sum())
            .collect(),
    )
}

/// A float32 initializer.
pub fn float_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        raw_data: values
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
            .into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_with(t: TensorProto) -> GraphProto {
        GraphProto {
            initializer: vec![t],
            ..Default::default()
        }
    }

    #[test]
    fn slices_keep_the_chosen_indices_of_one_axis() {
        // [2, 3] = [[0, 1, 2], [3, 4, 5]]
        let values: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let mut g = graph_with(float_tensor("w", &[2, 3], &values));
        slice(&mut g, Weight::Initializer(0), 1, &[0, 2]).unwrap();
        assert_eq!(g.initializer[0].dims, [2, 2]);
        assert_eq!(
            floats(&g, Weight::Initializer(0)).unwrap(),
            [0.0, 2.0, 3.0, 5.0]
        );
        // the typed field too
        let mut t = float_tensor("w", &[2, 3], &[]);
        t.raw_data = Default::default();
        t.float_data = values;
        let mut g = graph_with(t);
        slice(&mut g, Weight::Initializer(0), 0, &[1]).unwrap();
        assert_eq!(g.initializer[0].float_data, [3.0, 4.0, 5.0]);
        assert!(slice(&mut g, Weight::Initializer(0), 0, &[3]).is_err());
    }

    #[test]
    fn kernels_crop_and_pad_about_their_centre() {
        // one 3×3 plane 0..9
        let values: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut g = graph_with(float_tensor("k", &[1, 1, 3, 3], &values));
        resize_kernel(&mut g, Weight::Initializer(0), 1).unwrap();
        assert_eq!(floats(&g, Weight::Initializer(0)).unwrap(), [4.0]);
        resize_kernel(&mut g, Weight::Initializer(0), 3).unwrap();
        let grown = floats(&g, Weight::Initializer(0)).unwrap();
        assert_eq!(grown, [0.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(g.initializer[0].dims, [1, 1, 3, 3]);
    }

    #[test]
    fn l1_norms_per_output_channel() {
        let g = graph_with(float_tensor("w", &[2, 2], &[1.0, -2.0, 0.5, 0.5]));
        assert_eq!(
            l1_per_output(&g, Weight::Initializer(0)).unwrap(),
            [3.0, 1.0]
        );
    }
}
