//! `aiop heads`: the shared task heads that give pseudo-labels (paper, "Training K-Adapters
//! based on Latent Sampling"): a preview of the synthetic scenes, and the experiment that
//! compares body swapping and latent sampling with individually trained ground truth.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;

use aiop_converter::files::Limit;
use aiop_datasets::{Record, Writer};
use aiop_heads::experiment::{self, ExperimentConfig, ExperimentReport, Phase};
use aiop_heads::synthetic::SyntheticSet;
use anyhow::{Context, Result};

use super::{emit, write_atomic};

/// Arguments of `aiop heads`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Write a picture of synthetic scenes with their masks and keypoints.
    Scenes {
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value_t = 16)]
        count: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 64)]
        resolution: usize,
    },
    /// Ground truth vs body-swap and latent-sampling pseudo-labels for one family and task;
    /// writes report.json, report.md and the labelled CGs as <task>.aiopds into OUTDIR.
    Experiment {
        /// Output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// `mbv3` or `resnet` (default: the config's, else mbv3).
        #[arg(long)]
        family: Option<String>,
        /// `pose` or `segmentation` (default: the config's, else pose).
        #[arg(long)]
        task: Option<String>,
        /// A TOML file with any [`ExperimentConfig`] field (flags given on the command line win).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A few steps of everything (a smoke run of a minute).
        #[arg(long)]
        quick: bool,
        #[arg(long)]
        seed: Option<u64>,
    },
}

/// Runs `aiop heads`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.action {
        Action::Scenes {
            output,
            count,
            seed,
            resolution,
        } => {
            let set = SyntheticSet::generate(seed, count.max(1), resolution)?;
            set.write_preview(&output, count.max(1))?;
            emit(&format!("{} scenes → {}\n", count, output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Experiment {
            output,
            family,
            task,
            config,
            quick,
            seed,
        } => {
            let mut cfg: ExperimentConfig = match config {
                Some(path) => toml::from_str(
                    &aiop_converter::files::read_text_capped(&path, Limit::Text.bytes())
                        .with_context(|| format!("cannot read {}", path.display()))?,
                )
                .with_context(|| format!("{}", path.display()))?,
                None if quick => quick_config(),
                None => ExperimentConfig::default(),
            };
            if let Some(family) = family {
                cfg.family = family;
            }
            if let Some(task) = task {
                cfg.task = task;
            }
            if let Some(seed) = seed {
                cfg.seed = seed;
            }
            run_experiment(&cfg, &output)
        }
    }
}

/// A smoke run: every phase, a handful of steps.
fn quick_config() -> ExperimentConfig {
    ExperimentConfig {
        test_images: 64,
        batch: 16,
        pretrain_steps: 20,
        bodies: 5,
        ground_truth_steps: 10,
        shared_steps: 10,
        finetune_steps: 5,
        ..ExperimentConfig::default()
    }
}

fn run_experiment(cfg: &ExperimentConfig, output: &std::path::Path) -> Result<ExitCode> {
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let bar = super::progress_bar(1, "{msg}");
    let current: RefCell<Option<Phase>> = RefCell::new(None);
    let started = std::time::Instant::now();
    let progress = |phase: Phase, done: usize, total: usize| {
        if *current.borrow() != Some(phase) {
            *current.borrow_mut() = Some(phase);
            bar.set_length(total as u64);
            bar.set_message(phase.name());
        }
        bar.set_position(done as u64);
        // without a terminal (a log file, CI) the bar is hidden: a line every tenth instead
        if bar.is_hidden() && (done == total || done.is_multiple_of((total / 10).max(1))) {
            eprintln!(
                "[{:>5.0} s] {}: {done}/{total}",
                started.elapsed().as_secs_f64(),
                phase.name()
            );
        }
    };
    let (report, labelled) = experiment::run(cfg, aiop_trainer::default_device(), &progress)?;
    bar.finish_and_clear();

    let json = serde_json::to_string_pretty(&report)? + "\n";
    write_atomic(&output.join("report.json"), json.as_bytes())?;
    let table = markdown(&report);
    write_atomic(&output.join("report.md"), table.as_bytes())?;
    let mut writer = Writer::new(
        Vec::new(),
        &format!(
            "aiop heads experiment: {} bodies with the {} head on synthetic scenes ({}), labels: \
             ground truth and body-swap / latent-sampling pseudo-labels",
            cfg.family, cfg.task, report.metric
        ),
    )?;
    for (cg, labels) in &labelled {
        let mut record = Record::new(
            cg,
            &format!("ofa-{}", cfg.family),
            "aiop heads",
            cfg.resolution as u32,
        );
        let key = |method: &str| format!("synthetic-{}-{method}", cfg.task);
        record
            .labels
            .insert(key("ground-truth"), labels.ground_truth);
        record.labels.insert(key("body-swap"), labels.body_swap);
        record.labels.insert(key("latent"), labels.latent_sampling);
        writer.write(&record)?;
    }
    let dataset = output.join(format!("{}.aiopds", cfg.task));
    write_atomic(&dataset, &writer.finish()?)?;
    emit(&table)?;
    emit(&format!(
        "\n→ {}/report.json, report.md, {}\n",
        output.display(),
        dataset.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The Table-1-style summary as Markdown.
fn markdown(report: &ExperimentReport) -> String {
    let c = &report.config;
    let mut s = format!(
        "# Shared heads: {} family, {} task ({} bodies, spread over {:?})\n\n\
         Supernet pretrained {} steps (largest body top-1 {:.1} %); ground truth {} steps per \
         body, {} independent run(s), the body at {} × the head's learning rate; shared heads {} \
         steps (latent set: {} bins × {}); pseudo-labels after {} fine-tune steps. SRCC \
         intervals: 95 % bootstrap over the bodies ({} resamples).\n\n\
         | method | mean {m} | std | SRCC to ground truth | 95 % interval |\n|---|---:|---:|---:|---|\n",
        c.family,
        c.task,
        report.bodies.len(),
        c.spread,
        c.pretrain_steps,
        report.pretrain_top1,
        c.ground_truth_steps,
        c.ground_truth_runs,
        c.body_rate,
        c.shared_steps,
        c.bins,
        c.per_bin,
        c.finetune_steps,
        c.bootstrap,
        m = report.metric,
    );
    let number =
        |v: Option<f64>, digits: usize| v.map_or("—".to_string(), |v| format!("{v:.digits$}"));
    let interval =
        |v: Option<[f64; 2]>| v.map_or("—".to_string(), |[lo, hi]| format!("[{lo:.2}, {hi:.2}]"));
    for m in &report.summary {
        s += &format!(
            "| {} | {} | {} | {} | {} |\n",
            m.method,
            number(m.mean, 2),
            number(m.std, 2),
            number(m.srcc, 3),
            interval(m.srcc_interval)
        );
    }
    s += "\nEvery measure of the task (higher is better): test-retest SRCC between the halves of \
          the ground-truth runs; the runs' noise (standard deviation of one body's runs) against \
          the spread of the bodies' true values, the reliability of one run they imply (ICC(1)), \
          the runs per body a ground truth of reliability 0.8 needs and the reliability of this \
          ground truth, the mean of every body's runs (Spearman–Brown); each method's SRCC to \
          the ground truth in that measure.\n\n\
          | measure | test-retest | 95 % interval | run noise | body spread | one-run ICC | runs for 0.8 | ground-truth reliability | body swap | latent sampling | MACs |\n\
          |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for m in &report.measures {
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            m.measure,
            number(m.test_retest, 3),
            interval(m.test_retest_interval),
            number(m.run_noise, 2),
            number(m.body_spread, 2),
            number(m.one_run_reliability, 2),
            number(m.runs_for_0_8, 1),
            number(m.ground_truth_reliability, 2),
            number(m.body_swap, 3),
            number(m.latent_sampling, 3),
            number(m.macs, 3)
        );
    }
    let t = &report.timings;
    s += &format!(
        "\nTimings (s): data {:.0}, pretrain {:.0}, ground truth {:.0}, body-swap head {:.0}, \
         latent head {:.0}, pseudo-labels {:.0}, total {:.0}.\n",
        t.data,
        t.pretrain,
        t.ground_truth,
        t.body_swap_head,
        t.latent_head,
        t.pseudo_labels,
        t.total
    );
    s
}
