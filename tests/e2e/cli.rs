//! The command line as a whole: `--version`, `--help` on every subcommand, unknown input.

use super::common::{assert_fails_with, fer};

/// Every subcommand, as `fer --help` should list it.
const SUBCOMMANDS: [&[&str]; 10] = [
    &["bench"],
    &["evaluate"],
    &["fetch"],
    &["predict"],
    &["report"],
    &["run"],
    &["stats"],
    &["train"],
    &["train", "baseline"],
    &["train", "cnn"],
];

#[test]
fn version_and_help_on_every_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let version = fer(tmp.path(), &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("fer {}", env!("CARGO_PKG_VERSION"))
    );

    let help = fer(tmp.path(), &["--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for sub in SUBCOMMANDS.iter().filter(|s| s.len() == 1) {
        assert!(
            help.contains(&format!("  {}", sub[0])),
            "{} not in: {help}",
            sub[0]
        );
    }
    for sub in SUBCOMMANDS {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = fer(tmp.path(), &args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: fer"), "{args:?}: {text}");
    }
}

#[test]
fn unknown_subcommands_and_flags_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    assert_fails_with(&fer(tmp.path(), &["frobnicate"]), &["frobnicate"]);
    assert_fails_with(&fer(tmp.path(), &["--bogus"]), &["--bogus"]);
    assert_fails_with(&fer(tmp.path(), &["stats", "--bogus"]), &["--bogus"]);
    // A value that is not one of the choices names the value.
    assert_fails_with(
        &fer(tmp.path(), &["evaluate", "--model", "x", "--split", "nope"]),
        &["nope"],
    );
}
