//! `fer`: the FER2013 workflow on the command line.
//!
//! Each subcommand lives in its own module with an `Args` struct and a `run` function; adding
//! one takes a `mod` line, an enum variant and a match arm here.

use clap::{Parser, Subcommand};

mod bench;
mod evaluate;
#[cfg(feature = "onnx")]
mod export;
mod fetch;
// The library's fuzz harness (a test-only module there), for the command's own parsers: the
// zip unpacking of `fer fetch`. Not every helper is used here.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../fuzz/mod.rs"]
mod fuzz;
mod load;
mod out_dir;
mod out_lock;
mod predict;
mod progress;
mod report;
mod run;
mod stats;
mod train;
mod tta_record;

/// Facial emotion recognition on FER2013: data statistics, training, evaluation and reports.
#[derive(Debug, Parser)]
#[command(
    name = "fer",
    version,
    about,
    long_about = None,
    after_help = "Start here: `fer fetch` downloads FER2013 into data/fer2013, `fer run --quick` \
        checks the whole workflow in a minute or two, `fer run` trains both models and writes \
        the report, `fer predict --model DIR photo.jpg` finds and classifies the faces in your photos. Each \
        subcommand has its own --help."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Speed measurements: `fer bench train-step --arch seed --batch 64 --steps 10 --json`.
    Bench(bench::Args),
    /// Score a CNN checkpoint: `fer evaluate --model DIR --split private-test --json`.
    Evaluate(evaluate::Args),
    /// A CNN checkpoint as an ONNX file: `fer export --model DIR --onnx OUT.onnx`.
    #[cfg(feature = "onnx")]
    Export(export::Args),
    /// Download FER2013 from Kaggle with your API token and unpack it: `fer fetch`.
    Fetch(fetch::Args),
    /// The faces in photos and their top three emotions: `fer predict --model DIR photo.jpg`.
    Predict(predict::Args),
    /// An HTML report with every metric and figure: `fer report --baseline run/model.json --out report`.
    Report(report::Args),
    /// The whole workflow: train the baseline and the CNN, score both on PrivateTest, write the
    /// report and print a results table: `fer run --quick`.
    Run(run::Args),
    /// Count the faces per class and split of a FER2013 copy (folders or fer2013.csv).
    Stats(stats::Args),
    /// Fit a model and score it: `fer train baseline --features hog --json`.
    Train(train::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        #[cfg(feature = "onnx")]
        Command::Export(args) => export::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Report(args) => report::run(args),
        Command::Run(args) => run::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Train(args) => train::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A Ctrl-C'd training run says where its checkpoint is and exits as shells expect.
        Err(err)
            if matches!(
                err.downcast_ref::<fer_core::FerError>(),
                Some(fer_core::FerError::Interrupted { .. })
            ) =>
        {
            eprintln!("{err:#}");
            std::process::ExitCode::from(train::INTERRUPTED_EXIT_CODE as u8)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
