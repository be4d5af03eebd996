//! `fer stats`: what a FER2013 copy holds, per class and split.

use std::io::Write;
use std::path::PathBuf;

use fer_core::data::{self, DatasetStats};
use fer_core::Emotion;

/// Arguments of `fer stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data set: a folder in Kaggle's layout (train/ and test/), a fer2013.csv, or a folder
    /// holding one. Default: $FER2013_DIR, else data/fer2013.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,

    /// Decode the images even if a cached copy exists, and do not write one.
    #[arg(long)]
    no_cache: bool,
}

/// Loads the data set and prints its counts.
pub fn run(args: Args) -> anyhow::Result<()> {
    let path = data::resolve_data_path(args.data.as_deref());
    let fer = if args.no_cache {
        data::load_uncached(&path)?
    } else {
        crate::load::load(&path)?
    };
    let stats = data::stats(&fer);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &stats)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &path, &stats)?;
    }
    Ok(())
}

fn write_table(
    out: &mut impl Write,
    path: &std::path::Path,
    stats: &DatasetStats,
) -> anyhow::Result<()> {
    writeln!(out, "FER2013 at {}", path.display())?;
    writeln!(out, "{:<10} {:>8} {:>8}", "emotion", "train", "test")?;
    for emotion in Emotion::ALL {
        writeln!(
            out,
            "{:<10} {:>8} {:>8}",
            emotion.name(),
            stats.train.per_class.get(emotion),
            stats.test.per_class.get(emotion)
        )?;
    }
    writeln!(
        out,
        "{:<10} {:>8} {:>8}",
        "total", stats.train.total, stats.test.total
    )?;
    let usage = &stats.usage;
    writeln!(
        out,
        "usage: Training {}, PublicTest {}, PrivateTest {}",
        usage.training, usage.public_test, usage.private_test
    )?;
    match stats.train.per_class.imbalance_ratio() {
        Some(ratio) => writeln!(
            out,
            "imbalance (largest / smallest train class): {ratio:.1}"
        )?,
        None => writeln!(out, "imbalance: a class has no training faces")?,
    }
    writeln!(out, "skipped files (not data): {}", stats.skipped_files)?;
    Ok(())
}
