//! Decoding an image file (a data set's face or a user's photo) in bounded memory, with errors
//! that name the file.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{FerError, Result};

/// The largest photo decoded, in pixels (width x height): 64 megapixels (an 8000x8000 photo,
/// 192 MB as RGB), beyond what phone cameras take. A larger image is refused before decoding.
pub const MAX_PHOTO_PIXELS: u64 = 64_000_000;

/// The most memory the decoder may allocate for one photo (the `image` crate's limit).
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Decodes the image file at `path` (JPEG, PNG or BMP, the format read from the content).
/// Errors name the file: [`FerError::Io`] if it cannot be read, [`FerError::InvalidData`] if it
/// is empty or larger than [`MAX_PHOTO_PIXELS`] (with its size), [`FerError::Image`] if it
/// does not decode.
pub fn load_photo(path: &Path) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| FerError::io(path, e))?;
    decode_photo(path, &bytes)
}

/// [`load_photo`] of bytes already read; `path` names them in errors.
pub fn decode_photo(path: &Path, bytes: &[u8]) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(FerError::invalid_data(
            path,
            "empty file (0 bytes); expected a JPEG, PNG or BMP image",
        ));
    }
    let image_error = |source| FerError::Image {
        path: path.to_path_buf(),
        source,
    };
    // One parse of the header gives the size and then decodes: the data loader reads 35,887
    // files through here.
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FerError::io(path, e))?
        .into_decoder()
        .map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PHOTO_PIXELS {
        return Err(FerError::invalid_data(
            path,
            format!(
                "{width}x{height} pixels is too large to decode: at most {} megapixels",
                MAX_PHOTO_PIXELS / 1_000_000
            ),
        ));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    decoder.set_limits(limits).map_err(image_error)?;
    DynamicImage::from_decoder(decoder).map_err(image_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_bad_empty_and_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.png");
        image::RgbImage::new(30, 20).save(&good).unwrap();
        assert_eq!(load_photo(&good).unwrap().width(), 30);

        let bad = dir.path().join("bad.jpg");
        std::fs::write(&bad, "not an image").unwrap();
        let err = load_photo(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.jpg") && err.contains("not a readable image"),
            "{err}"
        );

        let empty = dir.path().join("empty.png");
        std::fs::write(&empty, "").unwrap();
        assert!(load_photo(&empty)
            .unwrap_err()
            .to_string()
            .contains("empty file"));

        let missing = dir.path().join("missing.png");
        assert!(load_photo(&missing)
            .unwrap_err()
            .to_string()
            .contains("missing.png"));

        // A BMP header claiming 20000x20000 pixels (400 megapixels): refused from its header,
        // before any pixel memory is allocated.
        let mut huge = Vec::new();
        image::codecs::bmp::BmpEncoder::new(&mut huge)
            .encode(&[0u8; 3], 1, 1, image::ExtendedColorType::Rgb8)
            .unwrap();
        huge[18..22].copy_from_slice(&20_000i32.to_le_bytes());
        huge[22..26].copy_from_slice(&20_000i32.to_le_bytes());
        let err = decode_photo(Path::new("huge.bmp"), &huge)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("huge.bmp") && err.contains("20000x20000"),
            "{err}"
        );
    }
}
