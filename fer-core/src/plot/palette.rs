//! Colours shared by the figures, so one model or split keeps its colour from plot to plot.

/// plotly.js's default qualitative colours ("D3"), in its order.
const SERIES: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// The colour of the `index`-th series (model, split, curve), cycling after ten.
pub(crate) fn series_colour(index: usize) -> &'static str {
    SERIES[index % SERIES.len()]
}

/// [`series_colour`] for the static (plotters) copies of the charts.
pub(crate) fn series_rgb(index: usize) -> plotters::style::RGBColor {
    let hex = &series_colour(index)[1..];
    let channel = |i: usize| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
    plotters::style::RGBColor(channel(0), channel(1), channel(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_colours_are_the_plotly_ones() {
        // "#1f77b4" and "#ff7f0e", plotly.js's first two colours.
        assert_eq!(series_rgb(0), plotters::style::RGBColor(0x1f, 0x77, 0xb4));
        assert_eq!(series_rgb(11), plotters::style::RGBColor(0xff, 0x7f, 0x0e));
    }
}
