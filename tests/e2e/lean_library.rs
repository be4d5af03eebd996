//! The library a notebook links: it builds without the command's crates, and it never prints
//! (progress and warnings reach the caller as values and callbacks).

use std::path::Path;
use std::process::Command;

use crate::common::BandFixture;

/// Crates only the `fer` command needs (its `cli` feature): argument parsing, Ctrl-C, progress
/// bars, `fer fetch`'s HTTPS download (ureq, rustls, ring) and unzipping. `anyhow` is not on
/// the list: linfa-logistic's optimiser (argmin) depends on it too.
const COMMAND_ONLY: [&str; 7] = [
    "clap",
    "ctrlc",
    "indicatif",
    "ureq",
    "rustls",
    "ring",
    "zip",
];

#[test]
fn the_library_without_default_features_depends_on_no_command_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let tree = |features: &[&str]| -> Vec<String> {
        let out = Command::new(&cargo)
            .args([
                "tree", "--locked", "-e", "normal", "--prefix", "none", "-p", "fer-core",
            ])
            .args(features)
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_whitespace().next().map(str::to_string))
            .collect()
    };
    let lean = tree(&["--no-default-features"]);
    let full = tree(&[]);
    for name in COMMAND_ONLY {
        assert!(
            !lean.iter().any(|c| c == name),
            "the library alone depends on {name}"
        );
        // The list names real dependencies of the command, so the check can fail.
        assert!(
            full.iter().any(|c| c == name),
            "the command no longer uses {name}"
        );
    }
}

/// Set in the child process of [`the_library_prints_nothing_while_it_loads_fits_and_trains`].
const CHILD: &str = "FER_QUIET_CHECK_CHILD";
/// Printed by the child around the library calls, so the test harness's own lines are not
/// counted.
const BEGIN: &str = "<<library calls begin>>";
const END: &str = "<<library calls end>>";

/// Runs a load (with a cache that cannot be written: the library used to print that warning),
/// a baseline fit and a short CNN training in a child process, and checks that nothing reached
/// its stdout or stderr in between.
#[test]
fn the_library_prints_nothing_while_it_loads_fits_and_trains() {
    if let Some(dir) = std::env::var_os(CHILD) {
        library_calls(Path::new(&dir));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    BandFixture {
        train_per_class: 6,
        test_per_class: 2,
        without: &[],
        blank_every: None,
        noise: 40,
        seed: 3,
    }
    .write(&tmp.path().join("fer"));
    // A file where the cache folder should be: writing the cache fails.
    let blocked = tmp.path().join("cache");
    std::fs::write(&blocked, "not a folder").unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lean_library::the_library_prints_nothing_while_it_loads_fits_and_trains",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, tmp.path())
        .env("FER_CACHE_DIR", &blocked)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let begin = stdout.find(BEGIN).expect("the child ran the library calls");
    let end = stdout.find(END).expect("the library calls ended");
    let between = stdout[begin + BEGIN.len()..end].trim();
    assert!(
        between.is_empty(),
        "the library printed to stdout: {between:?}"
    );
    assert!(
        stderr.trim().is_empty(),
        "the library printed to stderr: {stderr:?}"
    );
}

fn library_calls(dir: &Path) {
    use fer_core::baseline::{BaselineParams, FeatureKind};
    use fer_core::cnn::{train, Arch, CheckpointOptions, Records, TrainConfig};
    println!("{BEGIN}");
    let fer = fer_core::data::load(&dir.join("fer")).unwrap();
    // The cache could not be written, and the library says so in its return value instead.
    assert!(fer.cache_warning.is_some(), "{:?}", fer.cache_warning);
    let splits = fer.paper_split();
    BaselineParams::new(FeatureKind::Hog)
        .max_iterations(5)
        .fit(&splits.train)
        .unwrap();
    let config = TrainConfig {
        epochs: 1,
        batch_size: 8,
        ..TrainConfig::new(Arch::Best)
    };
    let mut records = Records::default();
    let checkpoints = CheckpointOptions {
        dir: Some(dir.join("cnn")),
        ..CheckpointOptions::default()
    };
    train(
        &splits.train,
        &splits.validation,
        &config,
        &checkpoints,
        &mut records,
    )
    .unwrap();
    assert_eq!(records.0.len(), 1);
    println!("{END}");
}

/// The modules of fer-core in the order data flows through them, each with the modules it may
/// use (besides `emotion`, `error` and `fs`, which every module may): a module knows only the
/// rooms below it.
const LAYERS: [(&str, &[&str]); 12] = [
    ("data", &[]),
    ("ops", &[]),
    ("classifier", &["data"]),
    ("baseline", &["data", "classifier"]),
    ("cnn", &["data", "ops", "classifier"]),
    ("faces", &["data", "cnn"]),
    ("export", &["data", "ops", "cnn"]),
    ("quick", &["data", "baseline", "cnn"]),
    ("eval", &["data", "classifier", "cnn"]),
    ("plot", &["data", "classifier", "cnn", "faces", "eval"]),
    (
        "report",
        &["data", "classifier", "cnn", "faces", "eval", "plot"],
    ),
    (
        "course",
        &[
            "data",
            "classifier",
            "baseline",
            "cnn",
            "ops",
            "faces",
            "quick",
            "eval",
            "plot",
        ],
    ),
];

/// The modules every layer may use.
const SHARED: [&str; 3] = ["emotion", "error", "fs"];

#[test]
fn every_module_has_a_place_in_the_layers() {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    let declared: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';'))
        .collect();
    assert!(
        declared.len() > SHARED.len(),
        "no modules found in {}",
        lib.display()
    );
    for module in declared {
        assert!(
            SHARED.contains(&module) || LAYERS.iter().any(|(m, _)| *m == module),
            "{module} is declared in lib.rs but has no place in LAYERS"
        );
    }
}

#[test]
fn modules_use_only_the_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut violations = Vec::new();
    for (module, allowed) in LAYERS.iter() {
        let dir = src.join(module);
        let files = if dir.is_dir() {
            rust_files(&dir)
        } else {
            vec![src.join(format!("{module}.rs"))]
        };
        assert!(
            !files.is_empty() && files[0].is_file(),
            "no source for {module}"
        );
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                for used in line.split("crate::").skip(1) {
                    let name: String = used
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name != *module
                        && modules.contains(&name.as_str())
                        && !allowed.contains(&name.as_str())
                    {
                        violations.push(format!(
                            "{}:{}: {module} uses {name}",
                            file.display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}
