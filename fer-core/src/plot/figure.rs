//! A chart twice over: the interactive plotly figure and a static PNG of the same chart, shown
//! together in one notebook output.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use base64::Engine;
use plotly::Plot;

use crate::error::{FerError, Result};
use crate::fs::write_atomically;
use crate::plot::bitmap::{render_png, Canvas, DrawResult};

/// Draws a chart's static copy.
type Draw = Box<dyn Fn(&Canvas) -> DrawResult + Send + Sync>;

/// A chart as a plotly [`Plot`] (interactive, for JupyterLab and the HTML report) and as a PNG
/// drawn with plotters from the same data, with the same title, axis labels and annotations
/// (for GitHub, nbviewer and HTML exports, where plotly.js does not run). The PNG is drawn on
/// first use, so code that only wants the plot does not pay for it.
///
/// ```
/// # use fer_core::plot::class_distribution;
/// let figure = class_distribution(&[("train", [3995, 436, 4097, 7215, 4830, 3171, 4965])]);
/// assert_eq!(&figure.png()?[1..4], b"PNG");
/// let plot = figure.plot(); // the plotly figure, e.g. for an HTML page
/// # Ok::<(), fer_core::FerError>(())
/// ```
pub struct Figure {
    plot: Plot,
    name: String,
    size: (u32, u32),
    draw: Draw,
    // The error as text: FerError is not Clone, and every later call reports the same failure.
    png: OnceLock<std::result::Result<Vec<u8>, String>>,
}

impl Figure {
    /// `plot` with a static copy of `size` pixels drawn by `draw`; `name` names the chart in
    /// error messages.
    pub(crate) fn new(
        plot: Plot,
        name: &str,
        size: (u32, u32),
        draw: impl Fn(&Canvas) -> DrawResult + Send + Sync + 'static,
    ) -> Figure {
        Figure {
            plot,
            name: name.to_string(),
            size,
            draw: Box::new(draw),
            png: OnceLock::new(),
        }
    }

    /// The interactive plotly figure.
    pub fn plot(&self) -> &Plot {
        &self.plot
    }

    /// The interactive plotly figure, dropping the static copy.
    pub fn into_plot(self) -> Plot {
        self.plot
    }

    /// The static copy's size in pixels (width, height).
    pub fn png_size(&self) -> (u32, u32) {
        self.size
    }

    /// The static copy as PNG bytes, drawn on the first call.
    pub fn png(&self) -> Result<&[u8]> {
        self.png
            .get_or_init(|| {
                render_png(&self.name, self.size, &*self.draw).map_err(|e| e.to_string())
            })
            .as_deref()
            .map_err(|message| FerError::invalid_data(format!("<{} PNG>", self.name), message))
    }

    /// Writes the static copy as a PNG file, atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let png = self.png()?;
        write_atomically(path, |w| w.write_all(png))
    }

    /// What [`Figure::evcxr_display`] prints: the plotly JSON and the PNG as two
    /// `EVCXR_BEGIN_CONTENT` blocks. evcxr (0.22) gathers every block a cell prints into one
    /// output with one entry per MIME type, so JupyterLab shows the interactive chart and
    /// static viewers the picture. A PNG that cannot be drawn is replaced by a `text/plain`
    /// line saying why.
    pub fn evcxr_output(&self) -> String {
        let mut out = format!(
            "EVCXR_BEGIN_CONTENT application/vnd.plotly.v1+json\n{}\nEVCXR_END_CONTENT\n",
            self.plot.to_json()
        );
        match self.png() {
            Ok(png) => out.push_str(&format!(
                "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT\n",
                base64::engine::general_purpose::STANDARD.encode(png)
            )),
            Err(e) => out.push_str(&format!(
                "EVCXR_BEGIN_CONTENT text/plain\n{e}\nEVCXR_END_CONTENT\n"
            )),
        }
        out
    }

    /// Shows the figure in an evcxr notebook cell (called by evcxr when a cell's last
    /// expression is a `Figure`).
    pub fn evcxr_display(&self) {
        print!("{}", self.evcxr_output());
    }
}

impl fmt::Debug for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Figure")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Checks shared by the charts' tests: the static copy decodes, has the figure's size and is
/// not blank.
#[cfg(test)]
pub(crate) fn assert_drawn(figure: &Figure) -> image::RgbImage {
    let png = figure.png().unwrap();
    let image = image::load_from_memory(png).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), figure.png_size());
    let colours: std::collections::HashSet<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    // White, black text and at least one series colour, with anti-aliased shades between: a
    // chart with text and filled marks has far more than 20 (a blank canvas has 1).
    assert!(colours.len() > 20, "only {} colours", colours.len());
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::class_distribution;

    #[test]
    fn the_notebook_output_holds_the_plot_and_its_picture() {
        let figure = class_distribution(&[("train", [3995, 436, 4097, 7215, 4830, 3171, 4965])]);
        assert_drawn(&figure);
        let out = figure.evcxr_output();
        assert!(out.starts_with("EVCXR_BEGIN_CONTENT application/vnd.plotly.v1+json\n"));
        let png_block = out
            .split("EVCXR_BEGIN_CONTENT image/png\n")
            .nth(1)
            .expect("no image/png block");
        let base64 = png_block.split('\n').next().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(base64)
            .unwrap();
        assert_eq!(bytes, figure.png().unwrap());
        assert_eq!(out.matches("EVCXR_END_CONTENT").count(), 2);
    }

    #[test]
    fn a_chart_that_cannot_be_drawn_says_so_in_the_output() {
        let figure = Figure::new(Plot::new(), "broken", (10, 10), |_| Err("no ink".into()));
        let err = figure.png().unwrap_err().to_string();
        assert!(err.contains("broken") && err.contains("no ink"), "{err}");
        let out = figure.evcxr_output();
        assert!(out.contains("EVCXR_BEGIN_CONTENT text/plain\n"), "{out}");
        assert!(!out.contains("image/png"));
    }

    #[test]
    fn save_png_writes_the_picture() {
        let figure = class_distribution(&[("train", [1, 2, 3, 4, 5, 6, 7])]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        figure.save_png(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), figure.png().unwrap());
    }
}
