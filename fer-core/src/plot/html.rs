//! Saving a figure as one standalone HTML file.

use std::path::Path;

use plotly::Plot;

use crate::error::Result;
use crate::fs::write_atomically;

/// Writes `plot` to `path` as a standalone HTML page, atomically. plotly.js is embedded (the
/// workspace enables plotly's `plotly_embed_js`), so the file opens offline; expect about
/// 7 MB per file (plotly.js and MathJax).
pub fn save_html(plot: &Plot, path: &Path) -> Result<()> {
    let html = plot.to_html();
    write_atomically(path, |w| w.write_all(html.as_bytes()))
}

/// `text` with the characters HTML gives meaning to escaped, for reports and notebook tables.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::Emotion::*;
    use crate::eval::ConfusionMatrix;
    use crate::plot::confusion_heatmap;

    #[test]
    fn writes_a_standalone_page_with_plotly_js_and_the_data() {
        let cm = ConfusionMatrix::new(&[Happy, Sad, Sad], &[Happy, Sad, Happy]).unwrap();
        let figure = confusion_heatmap(&cm, "standalone check");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("figures/confusion.html");
        save_html(figure.plot(), &path).unwrap();
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(html.starts_with("<!doctype html>") || html.starts_with("<!DOCTYPE html>"));
        // plotly.js itself is inlined (no CDN script tag), so the page works offline.
        assert!(
            !html.contains("<script src="),
            "page loads a script from the network"
        );
        assert!(
            html.len() > 1_000_000,
            "plotly.js not embedded: {} bytes",
            html.len()
        );
        assert!(html.contains("standalone check"));
        assert!(html.contains("\"type\":\"heatmap\""));
        // Only the page remains: the temporary file was renamed.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
