//! The report page under construction: headings, sections, paragraphs and figures, in order.

use std::fmt::Write as _;

use plotly::Plot;

use crate::plot::escape_html;

/// The page under construction; figures get sequential ids so the same input gives the same
/// page.
#[derive(Default)]
pub(super) struct Page {
    body: String,
    figures: usize,
}

impl Page {
    pub(super) fn heading(&mut self, level: u8, text: &str) {
        let _ = write!(self.body, "<h{level}>{}</h{level}>", escape_html(text));
    }

    pub(super) fn section(&mut self, id: &str, title: &str) {
        let _ = write!(self.body, "<h2 id=\"{id}\">{}</h2>", escape_html(title));
    }

    pub(super) fn raw(&mut self, html: &str) {
        self.body.push_str(html);
    }

    pub(super) fn plot(&mut self, plot: &Plot) {
        self.plot_tall(plot, 480);
    }

    /// A figure in a box `height` pixels tall: plotly fills its box, so figures with
    /// subplots or seven heatmap rows need more room than the default.
    pub(super) fn plot_tall(&mut self, plot: &Plot, height: u32) {
        self.figures += 1;
        let id = format!("figure-{}", self.figures);
        let _ = write!(
            self.body,
            "<div class=\"figure\" style=\"height:{height}px\">{}</div>",
            plot.to_inline_html(Some(&id))
        );
    }

    pub(super) fn grid(&mut self, img: &str) {
        let _ = write!(self.body, "<div class=\"grid\">{img}</div>");
    }

    pub(super) fn finish(self) -> String {
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>FER2013 evaluation \
             report</title>{}<style>body{{font-family:sans-serif;max-width:1300px;margin:auto}}\
             .figure{{margin:1em 0}}.grid img{{image-rendering:pixelated}}\
             table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}\
             </style></head><body>{}</body></html>",
            Plot::offline_js_sources(),
            self.body
        )
    }
}
