//! `fer bench`: speed measurements of the hot paths.

use std::io::Write;

use fer_core::cnn::bench::{
    combined_gflops, conv_shapes, gemm_roofline, infer_layer_times, infer_throughput,
    time_conv_layers, train_step_throughput, TrainStepReport,
};

/// Arguments of `fer bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: Bench,
}

#[derive(Debug, clap::Subcommand)]
enum Bench {
    /// Training throughput of a CNN, with the sgemm roofline and the convolutions' GFLOP/s
    /// measured in the same run.
    TrainStep(TrainStepArgs),
    /// Inference speed of a CNN: faces per second in batches and the time of one face alone,
    /// through the same path as `fer predict` and `fer evaluate`.
    Infer(InferArgs),
}

/// The architectures `fer bench train-step` knows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Arch {
    /// The seed's Keras CNN (4.5M parameters).
    Seed,
    /// Our VGG-style network.
    Best,
}

impl From<Arch> for fer_core::cnn::Arch {
    fn from(arch: Arch) -> Self {
        match arch {
            Arch::Seed => fer_core::cnn::Arch::Seed,
            Arch::Best => fer_core::cnn::Arch::Best,
        }
    }
}

/// Arguments of `fer bench train-step`.
#[derive(Debug, clap::Args)]
struct TrainStepArgs {
    /// The network to train.
    #[arg(long, value_enum, default_value = "seed")]
    arch: Arch,

    /// Images per training step.
    #[arg(long, default_value_t = 64)]
    batch: usize,

    /// Timed training steps (after two warm-up steps).
    #[arg(long, default_value_t = 10)]
    steps: usize,

    /// Repetitions of the sgemm and convolution timings (the best is kept).
    #[arg(long, default_value_t = 3)]
    repeats: usize,

    /// Side of the square sgemm that measures the roofline.
    #[arg(long, default_value_t = 2048)]
    gemm_size: usize,

    /// Seed of the model's initialisation and the random batch.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Print one JSON object: {"images_per_s", "gemm_gflops", "conv_gflops"}.
    #[arg(long)]
    json: bool,
}

/// Arguments of `fer bench infer`.
#[derive(Debug, clap::Args)]
struct InferArgs {
    /// The network.
    #[arg(long, value_enum, default_value = "best")]
    arch: Arch,

    /// Faces per batch.
    #[arg(long, default_value_t = 256)]
    batch: usize,

    /// Timed batches (after one warm-up), and ten times as many one-face calls; the medians
    /// are reported.
    #[arg(long, default_value_t = 5)]
    batches: usize,

    /// Test-time augmentation: each face and its mirror image (2 views).
    #[arg(long)]
    tta: bool,

    /// Crop test-time augmentation, shifted by PIXELS (default 3): 10 views per face.
    #[arg(long, value_name = "PIXELS", num_args = 0..=1)]
    tta_crops: Option<Option<usize>>,

    /// Seed of the model's initialisation and the random faces.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Also time each step of the best network's inference (a convolution with its fused
    /// ReLU or ReLU and pooling, and the head), in batches and for one face: JSON fields
    /// "layers" and "one_face_layers", milliseconds.
    #[arg(long)]
    layers: bool,

    /// Print one JSON object: {"faces_per_s", "batch", "one_face_ms", "views"}.
    #[arg(long)]
    json: bool,
}

/// Runs the chosen benchmark and prints its figures.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        Bench::TrainStep(args) => train_step(args),
        Bench::Infer(args) => infer(args),
    }
}

fn infer(args: InferArgs) -> anyhow::Result<()> {
    let tta = crate::evaluate::tta_from_args(args.tta, args.tta_crops)?;
    let report = infer_throughput(args.arch.into(), args.batch, args.batches, tta, args.seed)?;
    let layers = if args.layers {
        if !matches!(args.arch, Arch::Best) {
            anyhow::bail!("--layers times the best network's folded inference: use --arch best");
        }
        let runs = 10 * args.batches;
        Some((
            infer_layer_times(args.batch, args.batches, args.seed)?,
            infer_layer_times(1, runs, args.seed)?,
        ))
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(report)?;
        if let Some((batch, one)) = &layers {
            value["layers"] = serde_json::to_value(batch)?;
            value["one_face_layers"] = serde_json::to_value(one)?;
        }
        serde_json::to_writer(&mut out, &value)?;
    } else {
        if let Some((batch, one)) = &layers {
            writeln!(
                out,
                "{:<28} {:>12} {:>12}",
                "step", "batch ms", "one face ms"
            )?;
            for (b, o) in batch.iter().zip(one) {
                writeln!(out, "{:<28} {:>12.3} {:>12.3}", b.layer, b.ms, o.ms)?;
            }
        }
        write!(
            out,
            "{:?} inference on {} threads, TTA {} ({} view(s) per face): {:.1} faces/s in batches \
             of {}; one face alone {:.2} ms",
            args.arch,
            rayon::current_num_threads(),
            tta.describe(),
            report.views,
            report.faces_per_s,
            report.batch,
            report.one_face_ms
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn train_step(args: TrainStepArgs) -> anyhow::Result<()> {
    if args.repeats == 0 {
        anyhow::bail!("invalid parameter `repeats`: must be at least 1");
    }
    if args.gemm_size == 0 {
        anyhow::bail!("invalid parameter `gemm-size`: must be at least 1");
    }
    let gemm_gflops = gemm_roofline(args.gemm_size, args.repeats);
    let timings = time_conv_layers(&conv_shapes(args.arch.into(), args.batch)?, args.repeats);
    let conv_gflops = combined_gflops(&timings);
    let (best_images_per_s, images_per_s) =
        train_step_throughput(args.arch.into(), args.batch, args.steps, args.seed)?;
    let report = TrainStepReport {
        images_per_s,
        gemm_gflops,
        conv_gflops,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "sgemm {0}x{0}x{0} on {1} threads: {2:.1} GFLOP/s (roofline)",
        args.gemm_size,
        rayon::current_num_threads(),
        gemm_gflops
    )?;
    writeln!(
        out,
        "{:<28} {:>10} {:>10} {:>10} {:>9}",
        "conv layer", "fwd ms", "bwd ms", "GFLOP/s", "roofline"
    )?;
    for t in &timings {
        let g = t.shape.geometry;
        let name = format!(
            "{}->{} {}x{} k{} @ {}x{}",
            g.channels, t.shape.out_channels, g.height, g.width, g.kernel, args.batch, 1
        );
        writeln!(
            out,
            "{:<28} {:>10.1} {:>10.1} {:>10.1} {:>8.0}%",
            name,
            t.forward_s * 1e3,
            t.backward_s * 1e3,
            t.gflops(),
            100.0 * t.gflops() / gemm_gflops
        )?;
    }
    writeln!(
        out,
        "all {:?} convolutions, forward+backward: {:.1} GFLOP/s = {:.0}% of the roofline",
        args.arch,
        conv_gflops,
        100.0 * conv_gflops / gemm_gflops
    )?;
    writeln!(
        out,
        "{:?} training step, batch {}: {:.1} images/s (mean of {} steps; best step {:.1})",
        args.arch, args.batch, images_per_s, args.steps, best_images_per_s
    )?;
    Ok(())
}
