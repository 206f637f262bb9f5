//! Zero-cost proxies as ranking baselines: NASLib's `zc_nasbench201.json` (SNIP, GraSP,
//! synflow, jacov, …, computed at initialisation on a minibatch), keyed here by the
//! NAS-Bench-201 architecture string that names aiop's records.

use std::collections::BTreeMap;
use std::path::Path;

use aiop_datasets::spaces::nb201::Cell;

use crate::TrainError;

/// Proxy name → (architecture → score).
pub type ProxyScores = BTreeMap<String, BTreeMap<String, f64>>;

/// Entries of each cell that are not zero-cost proxies: costs and the label itself.
const NOT_PROXIES: [&str; 3] = ["flops", "params", "val_accuracy"];

/// The proxies of `dataset` (`cifar10`, `cifar100` or `ImageNet16-120`) in NASLib's
/// NAS-Bench-201 file.
pub fn read_naslib_nb201(path: &Path, dataset: &str) -> Result<ProxyScores, TrainError> {
    let invalid = |why: String| TrainError::Invalid(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path)?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let cells = json
        .get("nasbench201")
        .and_then(|space| space.get(dataset))
        .and_then(|cells| cells.as_object())
        .ok_or_else(|| invalid(format!("no `nasbench201.{dataset}` entry")))?;
    let mut out = ProxyScores::new();
    for (key, values) in cells {
        let indices: Vec<usize> = key
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        let Some(cell) = <[usize; 6]>::try_from(indices)
            .ok()
            .and_then(Cell::from_naslib)
        else {
            return Err(invalid(format!("`{key}` is not a NASLib cell")));
        };
        let arch = cell.to_string();
        for (proxy, score) in values.as_object().into_iter().flatten() {
            if let (false, Some(score)) = (NOT_PROXIES.contains(&proxy.as_str()), score.as_f64()) {
                out.entry(proxy.clone())
                    .or_default()
                    .insert(arch.clone(), score);
            }
        }
    }
    Ok(out)
}
