//! Helpers shared by the end-to-end tests: running `fer`, reading its output, and a generated
//! Kaggle-layout fixture.

use std::path::Path;
use std::process::{Command, Output};

use fer_core::data::IMAGE_SIDE;
use fer_core::{Emotion, Usage};
use image::GrayImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Runs `fer` with the cache in `cache`, so tests never touch the user's cache folder, and
/// without `FER2013_DIR`, so only `--data` decides the data set.
pub fn fer(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fer"))
        .args(args)
        .env("FER_CACHE_DIR", cache)
        .env_remove("FER2013_DIR")
        .output()
        .expect("the fer binary runs")
}

/// [`fer`] with extra environment variables set (`Some`) or removed (`None`), for commands
/// that read more of the environment (credentials, `HOME`).
pub fn fer_with_env(cache: &Path, args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fer"));
    command
        .args(args)
        .env("FER_CACHE_DIR", cache)
        .env_remove("FER2013_DIR");
    for (name, value) in env {
        match value {
            Some(v) => command.env(name, v),
            None => command.env_remove(name),
        };
    }
    command.output().expect("the fer binary runs")
}

/// Asserts a failed run: a non-zero exit, an error message (not a panic) containing every one
/// of `needles`, and nothing on stdout.
pub fn assert_fails_with(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "expected a failure; stderr: {err}");
    assert!(
        !err.contains("panicked"),
        "a panic instead of an error: {err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "no {needle:?} in: {err}");
    }
    assert!(
        out.stdout.is_empty(),
        "stdout of a failed run: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The names in `dir` (sorted), to check that a failed command left nothing behind.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Trains a one-epoch CNN checkpoint into `out` with `fer train cnn` (the only way tests get a
/// checkpoint: none is committed) and returns its `--json` summary.
pub fn train_tiny_cnn(data: &Path, cache: &Path, out: &Path) -> Value {
    let run = fer(
        cache,
        &[
            "train",
            "cnn",
            "--data",
            path_str(data),
            "--epochs",
            "1",
            "--batch",
            "16",
            "--augment",
            "none",
            "--out",
            path_str(out),
            "--json",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    json_of(&run)
}

/// What `fer` wrote to stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one JSON object a successful `--json` run prints.
pub fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "fer failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object")
}

/// A temporary path as a command-line argument.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// A Kaggle-layout fixture of PNG faces: each shows a bright horizontal band whose height
/// encodes its emotion (rows 6c..6c+6) over seeded noise, so the classes are linearly separable
/// in pixel space unless `blank_every` removes the band from some faces.
pub struct BandFixture {
    /// Training faces per emotion.
    pub train_per_class: usize,
    /// PublicTest faces, and as many PrivateTest faces, per emotion.
    pub test_per_class: usize,
    /// Emotions whose folders stay empty.
    pub without: &'static [Emotion],
    /// Every `n`-th face (i % n == 0) gets no band: pure noise, so models make mistakes.
    pub blank_every: Option<usize>,
    /// Noise amplitude: grey levels in 0..noise are added to the background and the band.
    pub noise: u8,
    /// Seed of the noise.
    pub seed: u64,
}

impl BandFixture {
    /// Writes the fixture under `root` (`train/<emotion>/`, `test/<emotion>/`).
    pub fn write(&self, root: &Path) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        for emotion in Emotion::ALL {
            for (part, usages, n) in [
                ("train", &[Usage::Training][..], self.train_per_class),
                (
                    "test",
                    &[Usage::PublicTest, Usage::PrivateTest][..],
                    self.test_per_class,
                ),
            ] {
                let dir = root.join(part).join(emotion.name());
                std::fs::create_dir_all(&dir).unwrap();
                if self.without.contains(&emotion) {
                    continue;
                }
                for usage in usages {
                    for i in 0..n {
                        let blank = self.blank_every.is_some_and(|every| i % every == 0);
                        let band_level = if blank { 50 } else { 170 };
                        let face =
                            GrayImage::from_fn(IMAGE_SIDE as u32, IMAGE_SIDE as u32, |_, y| {
                                let band = y as usize / 6 == emotion.index();
                                let level = if band { band_level } else { 50 };
                                image::Luma([level + rng.gen_range(0..self.noise)])
                            });
                        face.save(dir.join(format!("{}_{i}.png", usage.name())))
                            .unwrap();
                    }
                }
            }
        }
    }
}
