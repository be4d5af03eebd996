//! Showing a PNG image inline: as an HTML `<img>` tag and in an evcxr notebook.

use base64::Engine;

/// `png` as an `<img>` tag with the image inline (a base64 data URI), for HTML reports.
pub(crate) fn img_tag(png: &[u8], alt: &str) -> String {
    format!(
        "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
        alt.replace('"', "&quot;"),
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// Prints `png` with evcxr's `EVCXR_BEGIN_CONTENT image/png` protocol, so a notebook cell
/// shows it (PNG renders in every viewer, unlike plotly.js figures).
pub(crate) fn evcxr_print(png: &[u8]) {
    println!(
        "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_escapes_quotes_and_carries_the_bytes() {
        let tag = img_tag(&[0x89, b'P', b'N', b'G'], "say \"hi\"");
        assert_eq!(
            tag,
            "<img alt=\"say &quot;hi&quot;\" src=\"data:image/png;base64,iVBORw==\">"
        );
    }
}
