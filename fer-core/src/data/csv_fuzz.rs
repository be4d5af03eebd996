//! Fuzzing the `fer2013.csv` reader: random and mutated files give rows or an error, never a
//! panic. Bound: 4 MiB + 64 bytes per input byte held at once on the calling thread.

use super::csv::read_csv;
use crate::fuzz::harness::{fuzz, inputs, Outcome};

#[test]
fn random_and_mutated_csv_files_give_rows_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fer2013.csv");
    let pixels = vec!["7"; crate::data::IMAGE_PIXELS].join(" ");
    let valid =
        format!("emotion,pixels,Usage\r\n3,{pixels},Training\n\"6\",\"{pixels}\",PublicTest\r\n");
    let seeds = vec![
        valid.clone().into_bytes(),
        format!("\u{feff}{valid}").into_bytes(),
    ];
    fuzz("csv", 300, inputs(seeds, 512), 4 << 20, 64, |bytes| {
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        Ok(Outcome::of(&read_csv(&path)))
    });
}
