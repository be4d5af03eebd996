//! Fuzzing image decoding: [`load_face`], the data loader's, through the
//! [`load_photo`](super::load_photo) that `fer predict` decodes photos with. Random and mutated
//! JPEG, PNG and BMP files give a face or an error naming the file, never a panic.
//! Bound: 512 MiB (the `image` crate's default allocation limit, which a header claiming a
//! huge image may reach) + 64 bytes per input byte.

use super::folder::load_face;
use crate::fuzz::harness::{fuzz, inputs, Outcome};

#[test]
fn random_and_mutated_images_give_a_face_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("face.img");
    let gray = image::GrayImage::from_fn(20, 30, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
    let mut seeds = Vec::new();
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Bmp,
    ] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        gray.write_to(&mut bytes, format).unwrap();
        seeds.push(bytes.into_inner());
    }
    fuzz("image", 600, inputs(seeds, 256), 512 << 20, 64, |bytes| {
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        match load_face(&path) {
            Ok(_) => Ok(Outcome::Value),
            Err(e) if e.to_string().contains("face.img") => Ok(Outcome::Error),
            Err(e) => Err(format!("an error that does not name the file: {e}")),
        }
    });
}
