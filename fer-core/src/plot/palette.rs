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
