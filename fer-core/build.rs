//! Finds the face detector's model file in the `rustface` crate's package, so `fer_core::faces`
//! can embed it with `include_bytes!` (the crate reads a model from any `Read` but does not
//! expose the bytes it ships).
//!
//! The file is `model/seeta_fd_frontal_v1.0.bin` of the `rustface` package that this build
//! resolved: asked of `cargo metadata` (the same Cargo and lockfile as the build), not
//! guessed from a registry path. `FER_SEETA_MODEL=/path/to/seeta_fd_frontal_v1.0.bin` overrides
//! the search (a vendored build, say). The build fails, naming what it tried, if neither works.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The model file inside the rustface package.
const MODEL_IN_PACKAGE: &str = "model/seeta_fd_frontal_v1.0.bin";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FER_SEETA_MODEL");
    let model = match std::env::var_os("FER_SEETA_MODEL") {
        Some(path) => PathBuf::from(path),
        None => match from_cargo_metadata() {
            Ok(path) => path,
            Err(why) => panic!(
                "fer-core needs rustface's {MODEL_IN_PACKAGE}: {why}; set FER_SEETA_MODEL to \
                 the file's path"
            ),
        },
    };
    if !model.is_file() {
        panic!("face detector model {} is not a file", model.display());
    }
    println!("cargo:rerun-if-changed={}", model.display());
    println!("cargo:rustc-env=FER_SEETA_MODEL_PATH={}", model.display());
}

/// The model's path in the rustface package that `cargo metadata` resolves for this crate.
fn from_cargo_metadata() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest =
        Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").ok_or("no CARGO_MANIFEST_DIR")?)
            .join("Cargo.toml");
    // Only the packages of the platform being built: offline, cargo metadata fails on any
    // package of the lockfile not yet downloaded, and a fresh machine's build downloads only
    // this platform's (measured: android_system_properties stopped it). A fresh machine's
    // release build has not downloaded the dev-dependencies either (criterion's `anes` stopped
    // `cargo run --release`), so offline failing, it asks again with the registry allowed.
    let target = std::env::var("TARGET").map_err(|_| "no TARGET")?;
    let metadata = |offline: bool| {
        let mut command = Command::new(&cargo);
        command.args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &target,
        ]);
        if offline {
            command.arg("--offline");
        }
        command
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .map_err(|e| format!("running cargo metadata: {e}"))
    };
    let mut out = metadata(true)?;
    if !out.status.success() {
        out = metadata(false)?;
    }
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata lists no packages")?;
    let manifest_path = packages
        .iter()
        .find(|p| p["name"] == "rustface")
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("cargo metadata lists no rustface package")?;
    let path = Path::new(manifest_path)
        .parent()
        .ok_or("rustface's manifest has no folder")?
        .join(MODEL_IN_PACKAGE);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}
