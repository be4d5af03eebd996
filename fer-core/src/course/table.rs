//! A small table that shows as HTML in a notebook and as aligned text anywhere else.

use std::fmt;

use crate::plot::escape_html;

/// Rows of text cells under a header: HTML in an evcxr notebook ([`Table::evcxr_display`]),
/// aligned plain text through [`fmt::Display`].
///
/// ```
/// use fer_core::course::Table;
/// let mut table = Table::new(["model", "accuracy"]);
/// table.row(["cnn", "66.1%"]);
/// assert!(table.to_html().contains("<td>66.1%</td>"));
/// assert_eq!(table.to_string().lines().nth(2), Some("cnn    66.1%"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    caption: Option<String>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            caption: None,
        }
    }

    /// Sets a caption shown above the table.
    pub fn with_caption(mut self, caption: impl Into<String>) -> Table {
        self.caption = Some(caption.into());
        self
    }

    /// Appends a row (cells beyond the header's width are kept; missing ones show empty).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The rows, as given.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// The table as an HTML `<table>` (cells escaped; numbers right-aligned by the notebook's
    /// own table style).
    pub fn to_html(&self) -> String {
        let mut html = String::from("<table>");
        if let Some(caption) = &self.caption {
            html.push_str(&format!("<caption>{}</caption>", escape_html(caption)));
        }
        html.push_str("<thead><tr>");
        for cell in &self.header {
            html.push_str(&format!("<th>{}</th>", escape_html(cell)));
        }
        html.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            html.push_str("<tr>");
            for cell in row {
                html.push_str(&format!("<td>{}</td>", escape_html(cell)));
            }
            html.push_str("</tr>");
        }
        html.push_str("</tbody></table>");
        html
    }

    /// Shows the table in an evcxr notebook as `text/html`, which every notebook viewer
    /// renders (GitHub included).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        );
    }
}

impl fmt::Display for Table {
    /// Columns padded to their widest cell, two spaces apart; a dashed line under the header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        if let Some(caption) = &self.caption {
            writeln!(f, "{caption}")?;
        }
        let line = |f: &mut fmt::Formatter<'_>, row: &[String]| -> fmt::Result {
            let cells: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, &w)| format!("{:<w$}", row.get(i).map_or("", String::as_str)))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())
        };
        line(f, &self.header)?;
        let dashes: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        writeln!(f, "{}", dashes.join("  "))?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_and_pads_text() {
        let mut table = Table::new(["a", "b"]).with_caption("x < y");
        table.row(["<i>", "1"]);
        table.row(["long cell"]);
        let html = table.to_html();
        assert!(html.contains("<caption>x &lt; y</caption>"), "{html}");
        assert!(html.contains("<td>&lt;i&gt;</td>"), "{html}");
        let text = table.to_string();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "x < y",
                "a          b",
                "---------  -",
                "<i>        1",
                "long cell"
            ]
        );
    }
}
