//! `fer`: the FER2013 workflow on the command line.

use clap::{Parser, Subcommand};

/// Facial emotion recognition on FER2013: data statistics, training, evaluation and reports.
#[derive(Debug, Parser)]
#[command(name = "fer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {};
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
