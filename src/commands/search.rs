//! `aiop search`: cheaper networks that keep their predicted score — a seeded mutation search
//! (aiop_search) from a start network (an ONNX file, or a NAS-Bench-201 cell) with a predictor
//! as the fitness; writes the chosen network as ONNX, the Pareto front as JSON and SVG.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use aiop_converter::files::Limit;
use aiop_datasets::spaces::nb201::Cell;
use aiop_datasets::spaces::ofa::onnx::Head;
use aiop_search::benchmark::{self, Protocol, mean_std};
use aiop_search::evolution::{Choice, choose};
use aiop_search::evolution::{DEFAULT_BUDGET, DEFAULT_MAX_DROP, DEFAULT_POPULATION};
use aiop_search::scorers::{MacsProxy, Predicted};
use aiop_search::spaces::nb201::Nb201;
use aiop_search::spaces::ofa::{Ofa, Subnet};
use aiop_search::spaces::onnx::OnnxEdits;
use aiop_search::{Candidate, Scorer, Settings, Space, Strategy, front, search};
use anyhow::{Context, Result, bail};

use super::predict::PredictorArgs;
use super::{emit, progress_bar, write_atomic};

/// The spaces searched.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SpaceArg {
    /// Edits of the start ONNX file: channel pruning (a convolution or a whole residual stage),
    /// residual-block removal, kernel-size changes, depthwise-separable convolutions, input
    /// resolution.
    Onnx,
    /// Once-for-all subnets (`aiop zoo ofa`) with a task head (`--head`); one edit changes one
    /// elastic choice or the resolution. The start is a family, from its largest subnet:
    /// `mbv3`, `resnet`, optionally at a resolution (`mbv3@192`).
    Ofa,
    /// NAS-Bench-201 cells in the benchmark's CIFAR-10 network; one edit changes one edge's
    /// operation. The start is an architecture string.
    Nb201,
}

/// How candidates are proposed and judged.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum StrategyArg {
    /// Mutations of the best networks so far (NSGA-II), scored by the predictor.
    Evolution,
    /// Random networks of the space, scored by the predictor (a baseline).
    Random,
    /// Mutations judged by MACs alone, bigger taken for better (a baseline: no predictor).
    Flops,
}

/// Arguments of `aiop search`.
#[derive(clap::Args)]
pub struct Args {
    /// The start network: an ONNX file (weights inside or weight-stripped), or for `--space
    /// nb201` an architecture string such as
    /// `|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|`.
    #[arg(required_unless_present = "benchmark")]
    start: Option<String>,
    #[arg(long, value_enum, default_value = "onnx")]
    space: SpaceArg,
    /// With `--space ofa`: the task head on the subnets (classification, pose, segmentation).
    #[arg(long, default_value = "classification")]
    head: String,
    /// The predictor's task to keep.
    #[arg(long)]
    task: String,
    #[command(flatten)]
    predictor: PredictorArgs,
    /// The largest drop of the predicted score accepted, in the task's metric.
    #[arg(long, default_value_t = DEFAULT_MAX_DROP)]
    max_drop: f64,
    /// Choose the network predicted best among those at least this much cheaper (a fraction
    /// of the start's MACs) and within `--max-drop`, instead of the cheapest within it.
    #[arg(long)]
    target_reduction: Option<f64>,
    /// Choose only among networks at most this many edits from the start (the predictor ranks
    /// close neighbours of a network better than far ones: docs/search.md).
    #[arg(long)]
    max_edits: Option<usize>,
    /// Score each network by the ensemble members' mean less this many standard deviations
    /// of theirs (a lower confidence bound; native backend, docs/search.md). 0: the mean.
    #[arg(long, default_value_t = 0.0)]
    caution: f64,
    /// Networks evaluated in all, the start included.
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    budget: usize,
    /// Networks kept per generation.
    #[arg(long, default_value_t = DEFAULT_POPULATION)]
    population: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value = "evolution")]
    strategy: StrategyArg,
    /// Output folder: `chosen.onnx`, `front.json`, `front.svg` (with `--benchmark`:
    /// `benchmark.json` and `benchmark.md`).
    #[arg(short, long)]
    output: PathBuf,
    /// Instead of one search, judge the methods against true accuracies: a labelled NB-201
    /// dataset (`aiop dataset build nb201`), its `--task` labels the truth
    /// (aiop_search::benchmark: 20 starts among the best 10 %, `--seeds` seeds each).
    #[arg(long)]
    benchmark: Option<PathBuf>,
    /// Search seeds per start with `--benchmark`.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// With `--benchmark`: skip this many starts of the draw (20: starts the reported table
    /// does not use, to try a method on before running it on the table's).
    #[arg(long, default_value_t = 0)]
    skip_starts: usize,
}

impl Args {
    /// How the chosen network is picked.
    fn choice(&self) -> Choice {
        Choice {
            max_drop: self.max_drop,
            target: self.target_reduction,
            max_edits: self.max_edits,
        }
    }
}

/// A network of the report.
#[derive(serde::Serialize)]
struct Entry {
    key: String,
    macs: u64,
    params: u64,
    predicted: f64,
    edits: Vec<String>,
}

impl<P> From<&Candidate<P>> for Entry {
    fn from(c: &Candidate<P>) -> Entry {
        Entry {
            key: c.key.clone(),
            macs: c.macs,
            params: c.params,
            predicted: c.score,
            edits: c.edits.clone(),
        }
    }
}

/// `front.json`.
#[derive(serde::Serialize)]
struct Report {
    space: String,
    task: String,
    strategy: String,
    seed: u64,
    budget: usize,
    evaluated: usize,
    seconds: f64,
    max_drop: f64,
    target_reduction: Option<f64>,
    max_edits: Option<usize>,
    start: Entry,
    /// The network chosen (`--max-drop`, `--target-reduction`, `--max-edits`).
    chosen: Option<Entry>,
    /// `1 − chosen MACs / start MACs`.
    reduction: Option<f64>,
    front: Vec<Entry>,
}

/// Runs `aiop search`.
pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.max_drop >= 0.0 && args.max_drop.is_finite()) {
        bail!("--max-drop must be a non-negative number");
    }
    if args
        .target_reduction
        .is_some_and(|r| !(0.0..1.0).contains(&r))
    {
        bail!("--target-reduction is a fraction in [0, 1)");
    }
    if !(args.caution >= 0.0 && args.caution.is_finite()) {
        bail!("--caution is a number of standard deviations, 0 or more");
    }
    if args.budget < 2 || args.population < 2 {
        bail!("--budget and --population must be at least 2");
    }
    let predictor = args.predictor.load()?;
    let column = predictor.meta.columns(Some(&args.task))?[0];
    let predicted = Predicted {
        predictor: &predictor,
        column,
        caution: args.caution,
    };
    let start = args.start.as_deref().unwrap_or_default();
    if args.benchmark.is_some() && !matches!(args.space, SpaceArg::Nb201) {
        bail!("--benchmark judges searches of NAS-Bench-201: add --space nb201");
    }
    match args.space {
        SpaceArg::Nb201 => {
            if let Some(dataset) = &args.benchmark {
                return run_benchmark(&args, dataset, &predicted);
            }
            let cell: Cell = start.parse()?;
            run_search(&args, &Nb201::default(), cell, &predicted)
        }
        SpaceArg::Ofa => {
            let head = Head::from_name(&args.head).ok_or_else(|| {
                anyhow::anyhow!("--head {}: classification, pose or segmentation", args.head)
            })?;
            let subnet: Subnet = start.parse().map_err(anyhow::Error::msg)?;
            let space = Ofa {
                family: subnet.body.family(),
                head,
            };
            run_search(&args, &space, subnet, &predicted)
        }
        SpaceArg::Onnx => {
            let path = Path::new(start);
            let bytes = aiop_converter::files::read_capped(path, Limit::Model.bytes())
                .with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_stem()
                .map_or_else(|| start.to_string(), |s| s.to_string_lossy().into_owned());
            let space =
                OnnxEdits::new(bytes.into(), &name).with_context(|| path.display().to_string())?;
            run_search(&args, &space, Vec::new(), &predicted)
        }
    }
}

/// One search of `space` from `start`; writes and prints what it found.
fn run_search<S: Space>(
    args: &Args,
    space: &S,
    start: S::Point,
    predicted: &Predicted,
) -> Result<ExitCode> {
    let (scorer, strategy): (&dyn Scorer, Strategy) = match args.strategy {
        StrategyArg::Evolution => (predicted, Strategy::Evolution),
        StrategyArg::Random => (predicted, Strategy::Random),
        StrategyArg::Flops => (&MacsProxy, Strategy::Evolution),
    };
    let settings = Settings {
        budget: args.budget,
        population: args.population,
        seed: args.seed,
        strategy,
        stop_at: None,
    };
    let bar = progress_bar(args.budget, "networks");
    let clock = Instant::now();
    let mut found = search(space, start, scorer, &settings, &|n| {
        bar.set_position(n as u64)
    })?;
    bar.finish_and_clear();
    let seconds = clock.elapsed().as_secs_f64();
    if !matches!(args.strategy, StrategyArg::Evolution | StrategyArg::Random) {
        // a proxy search: report the predictor's scores of what it found
        let cgs = found
            .iter()
            .map(|c| space.cg(&c.point).map_err(anyhow::Error::msg))
            .collect::<Result<Vec<_>>>()?;
        let scores = predicted.scores(&cgs).map_err(anyhow::Error::msg)?;
        for (c, s) in found.iter_mut().zip(scores) {
            c.score = s;
        }
    }
    let chosen = choose(&found, &args.choice());
    let chosen = chosen.as_ref();
    let pareto = front(&found);
    write_outputs(args, space, &found, &pareto, chosen, seconds)?;
    let start = &found[0];
    let mut text = format!(
        "start   {:>8.2} MMACs  predicted {:.3}  ({} networks evaluated in {seconds:.1} s)\n",
        start.macs as f64 / 1e6,
        start.score,
        found.len()
    );
    match chosen {
        Some(c) => {
            text += &format!(
                "chosen  {:>8.2} MMACs  predicted {:.3}  ({:.1} % fewer MACs, {:+.3}): {}\n",
                c.macs as f64 / 1e6,
                c.score,
                100.0 * (1.0 - c.macs as f64 / start.macs as f64),
                c.score - start.score,
                c.key
            );
            let edits = c.edits.join("; ");
            if edits != c.key {
                text += &format!("        edits: {edits}\n");
            }
        }
        None => {
            text += &format!(
                "no cheaper network found within {} of the start's score\n",
                args.max_drop
            )
        }
    }
    text += &format!(
        "front of {} networks → {}\n",
        pareto.len(),
        args.output.display()
    );
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `front.json`, `front.svg` and `chosen.onnx` in the output folder.
fn write_outputs<S: Space>(
    args: &Args,
    space: &S,
    found: &[Candidate<S::Point>],
    pareto: &[&Candidate<S::Point>],
    chosen: Option<&Candidate<S::Point>>,
    seconds: f64,
) -> Result<()> {
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let start = &found[0];
    let report = Report {
        space: format!("{:?}", args.space).to_lowercase(),
        task: args.task.clone(),
        strategy: format!("{:?}", args.strategy).to_lowercase(),
        seed: args.seed,
        budget: args.budget,
        evaluated: found.len(),
        seconds,
        max_drop: args.max_drop,
        target_reduction: args.target_reduction,
        max_edits: args.max_edits,
        start: start.into(),
        chosen: chosen.map(Entry::from),
        reduction: chosen.map(|c| 1.0 - c.macs as f64 / start.macs as f64),
        front: pareto.iter().map(|&c| c.into()).collect(),
    };
    write_atomic(
        &args.output.join("front.json"),
        (serde_json::to_string_pretty(&report)? + "\n").as_bytes(),
    )?;
    let point = |c: &Candidate<S::Point>| (c.macs as f64 / 1e9, c.score);
    let all: Vec<_> = found.iter().map(point).collect();
    let line: Vec<_> = pareto.iter().map(|&c| point(c)).collect();
    crate::plots::front(
        &all,
        &line,
        point(start),
        chosen.map(point),
        &args.task,
        &args.output.join("front.svg"),
    )?;
    if let Some(c) = chosen {
        let model = space.model(&c.point).map_err(anyhow::Error::msg)?;
        write_atomic(&args.output.join("chosen.onnx"), &model)?;
    }
    Ok(())
}

/// `aiop search --benchmark`: every method against NAS-Bench-201's true accuracies.
fn run_benchmark(args: &Args, dataset: &Path, predicted: &Predicted) -> Result<ExitCode> {
    let mut truth = HashMap::new();
    for record in super::dataset::open_dataset(dataset)? {
        let record = record.with_context(|| format!("{}", dataset.display()))?;
        if let Some(&v) = record.labels.get(&args.task) {
            truth.insert(record.name, v);
        }
    }
    if truth.len() < 100 {
        bail!(
            "{}: {} networks labelled with {}; the benchmark needs NAS-Bench-201 (aiop dataset build nb201)",
            dataset.display(),
            truth.len(),
            args.task
        );
    }
    let protocol = Protocol {
        seeds: args.seeds,
        budget: args.budget,
        population: args.population,
        choice: args.choice(),
        skip: args.skip_starts,
        ..Protocol::default()
    };
    let runs = 3 * protocol.starts * protocol.seeds as usize;
    let bar = progress_bar(runs, "searches");
    let clock = Instant::now();
    let results = benchmark::run(&truth, predicted, &protocol, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let seconds = clock.elapsed().as_secs_f64();
    let cell = |v: &Option<Vec<f64>>, digits: usize| match v {
        Some(v) => {
            let (m, s) = mean_std(v);
            format!("{m:.digits$} ± {s:.digits$}")
        }
        None => "–".into(),
    };
    let choice = &protocol.choice;
    let mut rule = match choice.target {
        Some(r) => format!("best predicted among ≥ {:.1} % cheaper", 100.0 * r),
        None => "cheapest".into(),
    };
    if let Some(k) = choice.max_edits {
        rule += &format!(", at most {k} edits from the start,");
    }
    let mut table = format!(
        "{} starts among the best {:.0} % of NAS-Bench-201 by true {}, {} seeds each, budget {} \
         networks per search (population {}), chosen = {rule} within {} predicted points of the \
         start; mean ± std over seeds of the mean over starts ({seconds:.0} s).\n\n\
         | method | MACs reduction (%) | true accuracy change (points) | front hypervolume | explored hypervolume |\n|---|---|---|---|---|\n",
        protocol.starts,
        100.0 * protocol.top_fraction,
        args.task,
        protocol.seeds,
        protocol.budget,
        protocol.population,
        choice.max_drop,
    );
    for r in &results {
        table += &format!(
            "| {} | {} | {} | {} | {} |\n",
            r.method,
            cell(&r.reduction, 1),
            cell(&r.accuracy_change, 2),
            cell(
                &(!r.hypervolume.is_empty()).then(|| r.hypervolume.clone()),
                3
            ),
            cell(
                &(!r.explored_hypervolume.is_empty()).then(|| r.explored_hypervolume.clone()),
                3
            )
        );
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    write_atomic(&args.output.join("benchmark.md"), table.as_bytes())?;
    write_atomic(
        &args.output.join("benchmark.json"),
        (serde_json::to_string_pretty(&results)? + "\n").as_bytes(),
    )?;
    emit(&table)?;
    Ok(ExitCode::SUCCESS)
}
