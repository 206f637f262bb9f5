//! SVG plots: of training runs (the loss and validation SRCC per epoch, predictions against
//! the true labels) and of searches (the Pareto front of predicted score against MACs).

use std::path::Path;

#[cfg(feature = "train")]
use aiop_trainer::train::EpochReport;
use anyhow::{Result, anyhow};
use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 480);

/// `[min, max]` of `values`, widened when they are all equal.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

fn drawing_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw the plot: {e}")
}

/// Training loss (log scale, left axis) and validation SRCC (right axis) per epoch.
#[cfg(feature = "train")]
pub fn training_curves(history: &[EpochReport], title: &str, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing_error)?;
    let epochs = history.len().max(1) as f64;
    let losses = history
        .iter()
        .map(|r| r.loss)
        .filter(|l| l.is_finite() && *l > 0.0);
    let lo = losses.clone().fold(f64::INFINITY, f64::min).min(1.0) * 0.8;
    let hi = losses.fold(0f64, f64::max).max(lo * 10.0) * 1.25;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .right_y_label_area_size(56)
        .build_cartesian_2d(0f64..epochs, (lo..hi).log_scale())
        .map_err(drawing_error)?
        .set_secondary_coord(0f64..epochs, 0f64..1f64);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("training loss (MSE)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(drawing_error)?;
    chart
        .configure_secondary_axes()
        .y_desc("validation SRCC")
        .draw()
        .map_err(drawing_error)?;
    chart
        .draw_series(LineSeries::new(
            history
                .iter()
                .map(|r| (r.epoch as f64, r.loss.clamp(lo, hi))),
            &BLUE,
        ))
        .map_err(drawing_error)?
        .label("loss")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE));
    let validated: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|r| Some((r.epoch as f64, r.validation_srcc?.max(0.0))))
        .collect();
    chart
        .draw_secondary_series(LineSeries::new(validated.iter().copied(), &RED))
        .map_err(drawing_error)?
        .label("validation SRCC")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED));
    chart
        .draw_secondary_series(validated.iter().map(|&p| Circle::new(p, 2, RED.filled())))
        .map_err(drawing_error)?;
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(drawing_error)?;
    root.present().map_err(drawing_error)
}

/// Predicted against true values, with the diagonal.
#[cfg(feature = "train")]
pub fn scatter(
    truth: &[f64],
    predicted: &[f64],
    title: &str,
    metric: &str,
    path: &Path,
) -> Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing_error)?;
    let (lo, hi) = range(truth.iter().chain(predicted).copied());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_desc(format!("true {metric}"))
        .y_desc(format!("predicted {metric}"))
        .draw()
        .map_err(drawing_error)?;
    chart
        .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.4)))
        .map_err(drawing_error)?;
    chart
        .draw_series(
            truth
                .iter()
                .zip(predicted)
                .map(|(&t, &p)| Circle::new((t, p), 2, BLUE.mix(0.35).filled())),
        )
        .map_err(drawing_error)?;
    root.present().map_err(drawing_error)
}

/// A search's networks: every one evaluated (grey), the Pareto front (blue line), the start
/// (red) and the one chosen (green), predicted score against GMACs.
pub fn front(
    all: &[(f64, f64)],
    front: &[(f64, f64)],
    start: (f64, f64),
    chosen: Option<(f64, f64)>,
    metric: &str,
    path: &Path,
) -> Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(drawing_error)?;
    let (x0, x1) = range(all.iter().map(|p| p.0));
    let (y0, y1) = range(all.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(&root)
        .caption("search: predicted score vs MACs", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_desc("GMACs")
        .y_desc(format!("predicted {metric}"))
        .draw()
        .map_err(drawing_error)?;
    chart
        .draw_series(
            all.iter()
                .map(|&p| Circle::new(p, 2, BLACK.mix(0.25).filled())),
        )
        .map_err(drawing_error)?;
    chart
        .draw_series(LineSeries::new(front.iter().copied(), BLUE.stroke_width(2)))
        .map_err(drawing_error)?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE));
    chart
        .draw_series([Circle::new(start, 5, RED.filled())])
        .map_err(drawing_error)?
        .label("start")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, RED.filled()));
    if let Some(c) = chosen {
        chart
            .draw_series([Circle::new(c, 5, GREEN.filled())])
            .map_err(drawing_error)?
            .label("chosen")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, GREEN.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(drawing_error)?;
    root.present().map_err(drawing_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_front() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("front.svg");
        let all = [(1.0, 90.0), (0.8, 89.5), (0.5, 88.0), (0.9, 88.5)];
        front(&all, &all[..3], all[0], Some(all[1]), "top-1 (%)", &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("Pareto front") && text.contains("chosen")
        );
    }

    #[cfg(feature = "train")]
    #[test]
    fn writes_both_plots() {
        let dir = tempfile::tempdir().unwrap();
        let history: Vec<EpochReport> = (1..=20)
            .map(|e| EpochReport {
                epoch: e,
                loss: 1.0 / e as f64,
                lr: 1e-3,
                seconds: 0.1,
                validation_srcc: (e % 5 == 0).then_some(e as f64 / 25.0),
            })
            .collect();
        let curves = dir.path().join("curves.svg");
        training_curves(&history, "run", &curves).unwrap();
        let text = std::fs::read_to_string(&curves).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("validation SRCC"),
            "{}",
            &text[..200]
        );

        let points = dir.path().join("scatter.svg");
        scatter(
            &[1.0, 2.0, 3.0],
            &[1.1, 1.9, 3.2],
            "test",
            "top-1 (%)",
            &points,
        )
        .unwrap();
        let text = std::fs::read_to_string(&points).unwrap();
        assert_eq!(text.matches("<circle").count(), 3, "one dot per network");
    }
}
