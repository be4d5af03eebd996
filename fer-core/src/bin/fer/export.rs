//! `fer export`: a CNN checkpoint as an ONNX file for other engines (ONNX Runtime, TensorRT,
//! onnxruntime-web, ...).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use fer_core::export::{
    export_checkpoint, ExportSummary, INPUT_NAME, LOGITS_NAME, OPSET_VERSION, PROBABILITIES_NAME,
};

/// Arguments of `fer export`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The ONNX graph takes `pixels`: [N, 1, 48, 48] f32 grey levels 0-255 (any batch \
    size N), standardises them with the checkpoint's pixel statistics, and gives \
    `probabilities` and `logits`: [N, 7], columns angry, disgust, fear, happy, sad, surprise, \
    neutral. Its metadata lists the labels and the PrivateTest accuracy of the checkpoint's \
    metrics.json. Opset 17."
)]
pub struct Args {
    /// A CNN checkpoint folder (written by `fer train cnn --out DIR` or `fer run`, or the
    /// shipped data/models/fer-cnn).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// The ONNX file to write (its folder must exist; an existing file is replaced whole).
    #[arg(long, value_name = "OUT.onnx")]
    onnx: PathBuf,
    /// Print one JSON object instead of a line.
    #[arg(long)]
    json: bool,
}

/// What `fer export --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    summary: ExportSummary,
    opset: i64,
    input: &'static str,
    outputs: [&'static str; 2],
    seconds: f64,
}

/// Loads the checkpoint, writes the ONNX file and says what was written.
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let summary = export_checkpoint(&args.model, &args.onnx).with_context(|| {
        format!(
            "exporting --model {} to --onnx {}",
            args.model.display(),
            args.onnx.display()
        )
    })?;
    let report = Report {
        summary,
        opset: OPSET_VERSION,
        input: INPUT_NAME,
        outputs: [PROBABILITIES_NAME, LOGITS_NAME],
        seconds: started.elapsed().as_secs_f64(),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let s = &report.summary;
    let accuracy = match s.private_test_accuracy {
        Some(a) => format!("PrivateTest accuracy {:.2}% recorded", 100.0 * a),
        None => "no PrivateTest accuracy recorded (the checkpoint has no metrics.json)".into(),
    };
    writeln!(
        out,
        "wrote {} ({} network, {:.1} MB, {} nodes, opset {}; {accuracy}) in {:.2} s",
        s.path.display(),
        s.arch.name(),
        s.bytes as f64 / 1e6,
        s.nodes,
        report.opset,
        report.seconds
    )?;
    Ok(())
}
