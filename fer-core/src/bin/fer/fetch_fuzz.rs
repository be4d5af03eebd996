//! Fuzzing the zip unpacking of `fer fetch`: random and mutated archives (zip-slip names such
//! as `../x` or absolute ones, huge declared sizes, broken directories) unpack or give an
//! error, never a panic, and never write outside the unpacking folder. Bound: 4 MiB (the
//! inflater's window and buffers) + 64 bytes per input byte held at once.

use std::io::{Cursor, Write};
use std::path::Path;

use fer_core::Emotion;
use zip::write::SimpleFileOptions;

use super::{check_layout, unpack, PARTS};
use crate::fuzz::harness::{fuzz, inputs, Outcome};

/// A zip of `names`, each holding a few bytes, deflated or stored.
fn zip_of(names: &[String], stored: bool) -> Vec<u8> {
    let method = if stored {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let options = SimpleFileOptions::default().compression_method(method);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for name in names {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(b"pixels pixels pixels").unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Every file and folder under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            e.path().strip_prefix(dir).unwrap().display().to_string()
        })
        .collect()
}

#[test]
fn random_and_mutated_archives_unpack_inside_the_folder_or_give_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Deep, so that a name climbing out of it by a few `..` lands where tree() sees it.
    let stage = dir.path().join("a/b/c/stage");
    let kaggle: Vec<String> = PARTS
        .iter()
        .flat_map(|part| Emotion::ALL.map(|e| format!("{part}/{}/im0.png", e.name())))
        .collect();
    let valid = zip_of(&kaggle, false);
    let mut escaping = kaggle[..2].to_vec();
    escaping.extend(
        [
            "train/../../x.png",
            "train/happy/../../../../y.png",
            "../train/z.png",
            "/train/happy/abs.png",
            "train\\..\\..\\w.png",
        ]
        .map(String::from),
    );
    // A stored entry whose sizes claim 4 GB, in the local header and the central directory.
    let mut huge = zip_of(&kaggle[..1], true);
    for at in [18, 22] {
        huge[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    }
    let central = huge.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    for at in [central + 20, central + 24] {
        huge[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    }
    let seeds = vec![
        valid,
        zip_of(&escaping, false),
        zip_of(&escaping, true),
        huge,
    ];
    fuzz("fetch zip", 300, inputs(seeds, 512), 4 << 20, 64, |bytes| {
        if stage.exists() {
            std::fs::remove_dir_all(&stage).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir_all(&stage).map_err(|e| e.to_string())?;
        let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
            return Ok(Outcome::Error);
        };
        // As `fer fetch` does: check, then unpack; and unpack what the check refused too,
        // so that unpack's own guard (zip's enclosed_name) is tried on every name.
        let fetched = check_layout(&zip, "u").and_then(|l| unpack(&mut zip, &l.prefix, &stage));
        let _ = unpack(&mut zip, "", &stage);
        let outside: Vec<String> = tree(dir.path())
            .into_iter()
            .filter(|p| !["a", "a/b", "a/b/c", "a/b/c/stage"].contains(&p.as_str()))
            .filter(|p| !p.starts_with("a/b/c/stage/train/") && !p.starts_with("a/b/c/stage/test/"))
            .filter(|p| p != "a/b/c/stage/train" && p != "a/b/c/stage/test")
            .collect();
        if !outside.is_empty() {
            return Err(format!("written outside train/ and test/: {outside:?}"));
        }
        Ok(Outcome::of(&fetched))
    });
}
