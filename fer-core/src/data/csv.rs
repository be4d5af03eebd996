//! The original `fer2013.csv`: a header `emotion,pixels,Usage`, then one row per face with the
//! label (0-6), 2,304 space-separated pixel values (0-255, row-major) and the challenge split.
//!
//! Columns are found by name (any case, surrounding spaces ignored), so the variants with
//! another column order load too. Line numbers in errors count the header as line 1, as an
//! editor shows them, for LF, CRLF or mixed line ends, with or without a UTF-8 byte order mark
//! (counted by [`LineCounting`], not by the csv crate, whose count is wrong after CRLF).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use csv::{ByteRecord, Reader, ReaderBuilder, StringRecord};
use rayon::prelude::*;

use crate::data::csv_lines::LineCounting;
use crate::data::dataset::{Dataset, Face, Origin, Usage, IMAGE_PIXELS};
use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// Rows parsed in parallel at a time: large enough to keep both cores busy, small enough that
/// the raw text of only one batch (about 30 MB) is held at once.
const ROWS_PER_BATCH: usize = 4096;

/// One parsed row.
struct Row {
    face: Face,
    label: Emotion,
    usage: Usage,
    line: u64,
}

/// The positions of the three columns in the header.
struct Columns {
    emotion: usize,
    pixels: usize,
    usage: usize,
}

/// Reads a `fer2013.csv`: the `Training` rows, then the `PublicTest` and `PrivateTest` rows (as
/// Kaggle's `test/` merges them), each in file order. Fails on the first bad row, naming its line
/// and what was expected, or if either part is empty.
pub fn read_csv(path: &Path) -> Result<(Dataset, Dataset)> {
    let file = File::open(path).map_err(|e| FerError::io(path, e))?;
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .from_reader(LineCounting::new(BufReader::new(file)));
    let header = match reader.headers() {
        Ok(header) => header.clone(),
        Err(e) => return Err(csv_error(path, e, &mut reader)),
    };
    let columns = find_columns(path, &header)?;

    let mut train = Dataset::new();
    let mut test = Dataset::new();
    let mut batch: Vec<(ByteRecord, u64)> = Vec::with_capacity(ROWS_PER_BATCH);
    loop {
        batch.clear();
        for _ in 0..ROWS_PER_BATCH {
            let mut record = ByteRecord::new();
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(path, e, &mut reader)),
            }
            let byte = record.position().map_or(0, |p| p.byte());
            let line = reader.get_mut().line_of(byte);
            batch.push((record, line));
        }
        if batch.is_empty() {
            break;
        }
        let rows: Vec<Result<Row>> = batch
            .par_iter()
            .map(|(record, line)| parse_row(path, &columns, record, *line))
            .collect();
        // In file order, so the error reported is the first bad line.
        for row in rows {
            let row = row?;
            let part = if row.usage == Usage::Training {
                &mut train
            } else {
                &mut test
            };
            part.push(&row.face, row.label, row.usage, Origin::CsvLine(row.line));
        }
    }
    if train.is_empty() && test.is_empty() {
        return Err(FerError::EmptyDataset(format!(
            "{}: no rows after the header",
            path.display()
        )));
    }
    if train.is_empty() {
        return Err(FerError::EmptyDataset(format!(
            "{}: no Training rows",
            path.display()
        )));
    }
    if test.is_empty() {
        return Err(FerError::EmptyDataset(format!(
            "{}: no PublicTest or PrivateTest rows",
            path.display()
        )));
    }
    Ok((train, test))
}

fn find_columns(path: &Path, header: &StringRecord) -> Result<Columns> {
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| FerError::Csv {
                path: path.to_path_buf(),
                line: 1,
                message: format!(
                    "no {name:?} column in the header {:?}; expected emotion,pixels,Usage",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            })
    };
    Ok(Columns {
        emotion: find("emotion")?,
        pixels: find("pixels")?,
        usage: find("usage")?,
    })
}

fn parse_row(path: &Path, columns: &Columns, record: &ByteRecord, line: u64) -> Result<Row> {
    let fail = |message: String| FerError::Csv {
        path: path.to_path_buf(),
        line,
        message,
    };
    // The reader checks that every row has as many fields as the header.
    let field = |i: usize| String::from_utf8_lossy(record.get(i).unwrap_or_default());

    let emotion = field(columns.emotion);
    let label = emotion
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(Emotion::from_index)
        .ok_or_else(|| {
            fail(format!(
                "emotion {:?}; expected a label 0-6 (0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, \
                 5 Surprise, 6 Neutral)",
                emotion.trim()
            ))
        })?;

    let usage_field = field(columns.usage);
    let usage = Usage::ALL
        .into_iter()
        .find(|u| u.name().eq_ignore_ascii_case(usage_field.trim()))
        .ok_or_else(|| {
            fail(format!(
                "Usage {:?}; expected Training, PublicTest or PrivateTest",
                usage_field.trim()
            ))
        })?;

    let pixels = field(columns.pixels);
    let mut face = [0u8; IMAGE_PIXELS];
    let mut count = 0;
    for (i, value) in pixels.split_ascii_whitespace().enumerate() {
        let pixel = value
            .parse::<u8>()
            .map_err(|_| fail(format!("pixel {} is {value:?}; expected 0-255", i + 1)))?;
        if let Some(slot) = face.get_mut(i) {
            *slot = pixel;
        }
        count += 1;
    }
    if count != IMAGE_PIXELS {
        return Err(fail(format!(
            "{count} pixel values; expected {IMAGE_PIXELS} (48x48)"
        )));
    }
    Ok(Row {
        face,
        label,
        usage,
        line,
    })
}

/// The csv crate's `error` as ours, its line counted by the reader's [`LineCounting`].
fn csv_error(
    path: &Path,
    error: csv::Error,
    reader: &mut Reader<LineCounting<BufReader<File>>>,
) -> FerError {
    let line = error.position().map(|p| reader.get_mut().line_of(p.byte()));
    match (error.kind(), line) {
        (csv::ErrorKind::Io(_), _) | (_, None) => match error.into_kind() {
            csv::ErrorKind::Io(io) => FerError::io(path, io),
            other => FerError::invalid_data(path, format!("not a readable CSV file: {other:?}")),
        },
        (
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            },
            Some(line),
        ) => FerError::Csv {
            path: path.to_path_buf(),
            line,
            message: format!("{len} fields; expected {expected_len} like the header"),
        },
        (_, Some(line)) => FerError::Csv {
            path: path.to_path_buf(),
            line,
            message: error.to_string(),
        },
    }
}

/// Writes faces as a `fer2013.csv` (header `emotion,pixels,Usage`), the rows of each data set in
/// turn, atomically. [`read_csv`] reads it back to the same pixels, labels and usages.
pub fn write_csv(path: &Path, parts: &[&Dataset]) -> Result<()> {
    crate::fs::write_atomically(path, |out| {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(["emotion", "pixels", "Usage"])?;
        let mut pixels = String::with_capacity(4 * IMAGE_PIXELS);
        for data in parts {
            for i in 0..data.len() {
                pixels.clear();
                for (j, p) in data.face(i).iter().enumerate() {
                    if j > 0 {
                        pixels.push(' ');
                    }
                    pixels.push_str(&p.to_string());
                }
                let label = data.labels()[i].index().to_string();
                writer.write_record([label.as_str(), &pixels, data.usages()[i].name()])?;
            }
        }
        writer.flush()?;
        let out = writer.into_inner().map_err(|e| e.into_error())?;
        out.flush()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, pixels: &str, usage: &str) -> String {
        format!("{label},{pixels},{usage}\n")
    }

    fn pixels(value: u8) -> String {
        vec![value.to_string(); IMAGE_PIXELS].join(" ")
    }

    fn write(dir: &Path, body: &str) -> std::path::PathBuf {
        let path = dir.join("fer2013.csv");
        std::fs::write(&path, format!("emotion,pixels,Usage\n{body}")).unwrap();
        path
    }

    #[test]
    fn rows_go_to_train_or_test_by_usage_with_their_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let body = [
            row("0", &pixels(1), "Training"),
            row("6", &pixels(2), "PublicTest"),
            row("3", &pixels(3), "Training"),
            row("5", &pixels(4), "PrivateTest"),
        ]
        .concat();
        let (train, test) = read_csv(&write(dir.path(), &body)).unwrap();
        assert_eq!(train.labels(), &[Emotion::Angry, Emotion::Happy]);
        assert_eq!(train.face(1)[0], 3);
        // The header is line 1, so the third data row is line 4.
        assert_eq!(train.origins()[1], Origin::CsvLine(4));
        assert_eq!(test.usages(), &[Usage::PublicTest, Usage::PrivateTest]);
        assert_eq!(test.face(1)[IMAGE_PIXELS - 1], 4);
    }

    #[test]
    fn bad_rows_name_their_line_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let good = row("0", &pixels(1), "Training");
        let cases = [
            (row("7", &pixels(1), "Training"), "emotion \"7\""),
            (row("0", &pixels(1), "Validation"), "Usage \"Validation\""),
            (
                row("0", &(pixels(1) + " 256"), "Training"),
                "pixel 2305 is \"256\"",
            ),
            (
                row("0", &vec!["1"; 2303].join(" "), "Training"),
                "2303 pixel values; expected 2304",
            ),
            (
                row("0", &pixels(1).replacen('1', "256", 1), "Training"),
                "pixel 1 is \"256\"; expected 0-255",
            ),
            ("0,1 2 3\n".to_string(), "2 fields; expected 3"),
        ];
        for (bad, expected) in cases {
            let path = write(dir.path(), &[good.clone(), good.clone(), bad].concat());
            let err = read_csv(&path).unwrap_err().to_string();
            assert!(err.contains("fer2013.csv, line 4: "), "{err}");
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
    }

    /// Line numbers as an editor shows them (the header is line 1) whatever the line ends:
    /// the csv crate alone names line 3 for the fourth line of a CRLF file (rust-csv#395).
    #[test]
    fn line_numbers_are_right_for_lf_crlf_and_a_mix_with_or_without_a_bom() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fer2013.csv");
        let lines = [
            "emotion,pixels,Usage".to_string(),
            format!("0,{},Training", pixels(1)),
            format!("6,{},PublicTest", pixels(2)),
            format!("3,{},Training", pixels(3)),
            // Line 5 is blank (the reader skips it; an editor still counts it).
            String::new(),
            format!("7,{},Training", pixels(4)),
        ];
        let ends: [(&str, [&str; 6]); 4] = [
            ("LF", ["\n"; 6]),
            ("CRLF", ["\r\n"; 6]),
            ("mixed", ["\r\n", "\n", "\r\n", "\n", "\r\n", "\n"]),
            ("CR", ["\r"; 6]),
        ];
        for (name, ends) in ends {
            for bom in ["", "\u{feff}"] {
                let mut text = bom.to_string();
                for (line, end) in lines.iter().zip(ends) {
                    text.push_str(line);
                    text.push_str(end);
                }
                std::fs::write(&path, &text).unwrap();
                let err = read_csv(&path).unwrap_err().to_string();
                assert!(
                    err.contains("fer2013.csv, line 6: emotion \"7\""),
                    "{name} (BOM {:?}): {err}",
                    !bom.is_empty()
                );
                // Without the bad row the file loads, each face with its own line.
                let good = text.rsplit_once("7,").unwrap().0;
                std::fs::write(&path, good).unwrap();
                let (train, test) = read_csv(&path)
                    .unwrap_or_else(|e| panic!("{name} (BOM {:?}): {e}", !bom.is_empty()));
                assert_eq!(
                    train.origins(),
                    &[Origin::CsvLine(2), Origin::CsvLine(4)],
                    "{name}"
                );
                assert_eq!(test.origins(), &[Origin::CsvLine(3)], "{name}");
            }
        }
        // A row with too few fields, after CRLF lines, names its own line too.
        let text = format!(
            "emotion,pixels,Usage\r\n0,{},Training\r\n0,1\r\n",
            pixels(1)
        );
        std::fs::write(&path, text).unwrap();
        let err = read_csv(&path).unwrap_err().to_string();
        assert!(err.contains("line 3: 2 fields; expected 3"), "{err}");
    }

    #[test]
    fn a_header_without_the_columns_or_a_file_without_rows_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.csv");
        std::fs::write(&path, "label,image\n0,1\n").unwrap();
        let err = read_csv(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("\"emotion\""),
            "{err}"
        );

        let err = read_csv(&write(dir.path(), "")).unwrap_err().to_string();
        assert!(
            err.contains("empty data set") && err.contains("no rows"),
            "{err}"
        );
        let only_train = row("0", &pixels(1), "Training");
        let err = read_csv(&write(dir.path(), &only_train))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no PublicTest or PrivateTest rows"), "{err}");
    }

    #[test]
    fn written_csv_reads_back_the_same_faces() {
        let dir = tempfile::tempdir().unwrap();
        let mut train = Dataset::new();
        let mut face = [0u8; IMAGE_PIXELS];
        for (i, p) in face.iter_mut().enumerate() {
            *p = (i * 7 % 256) as u8;
        }
        train.push(&face, Emotion::Fear, Usage::Training, Origin::CsvLine(9));
        let mut test = Dataset::new();
        test.push(
            &[255; IMAGE_PIXELS],
            Emotion::Sad,
            Usage::PublicTest,
            Origin::CsvLine(3),
        );
        let path = dir.path().join("out.csv");
        write_csv(&path, &[&train, &test]).unwrap();
        let (train2, test2) = read_csv(&path).unwrap();
        assert_eq!(train2.pixels(), train.pixels());
        assert_eq!(train2.labels(), train.labels());
        assert_eq!(test2.pixels(), test.pixels());
        assert_eq!(test2.usages(), test.usages());
        assert_eq!(test2.origins()[0], Origin::CsvLine(3));
    }
}
