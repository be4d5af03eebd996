//! Writes FER2013's PrivateTest faces as fer decodes them, for engines outside Rust to score
//! the same pixels (`tests/onnx_check.sh`): the `image` crate's JPEG decoder and another (Pillow's
//! libjpeg-turbo) differ by up to one grey level on every PrivateTest face, which moves a
//! face's prediction now and then.
//!
//! `cargo run --example private_test_faces -- DATA_DIR OUT_DIR` writes `OUT_DIR/pixels.u8`
//! (`[n, 48, 48]` grey levels, row-major, one byte each) and `OUT_DIR/labels.u8` (n label
//! indices 0-6, `Emotion`'s order), in the loader's order.

use std::path::PathBuf;

use fer_core::{data, Usage};

fn main() -> fer_core::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [data_dir, out_dir] = args.as_slice() else {
        return Err(fer_core::FerError::invalid_parameter(
            "arguments",
            format!("expected DATA_DIR OUT_DIR, got {} argument(s)", args.len()),
        ));
    };
    let loaded = data::load(data_dir)?;
    let mut all = loaded.train;
    all.extend(loaded.kaggle_test);
    let faces = all.with_usage(Usage::PrivateTest);
    let labels: Vec<u8> = faces.labels().iter().map(|e| e.index() as u8).collect();
    fer_core::fs::write_atomically(&out_dir.join("pixels.u8"), |w| w.write_all(faces.pixels()))?;
    fer_core::fs::write_atomically(&out_dir.join("labels.u8"), |w| w.write_all(&labels))?;
    Ok(())
}
