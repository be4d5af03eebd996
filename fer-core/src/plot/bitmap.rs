//! Drawing the static (PNG) copy of a chart with plotters: the canvas, the font and the
//! pieces several charts share (grouped bars, a title strip).

use std::error::Error;
use std::io::Cursor;
use std::sync::Once;

use image::{ImageFormat, RgbImage};
use plotters::coord::ranged1d::Ranged;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::error::{FerError, Result};

/// The drawing area a chart's static copy is drawn on.
pub(crate) type Canvas<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// What drawing returns: plotters' errors, boxed (each backend has its own type).
pub(crate) type DrawResult = std::result::Result<(), Box<dyn Error>>;

/// The font family every static chart uses (registered from the `dejavu` crate).
pub(crate) const FONT: &str = "sans-serif";

/// Registers DejaVu Sans with plotters once per process (ab_glyph text has no system fonts).
fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The bytes are a valid TrueType font shipped by the crate; a failure here would be a
        // broken dependency, and text would then be missing, not the chart.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Draws a `width` x `height` chart on a white canvas with `draw` and encodes it as PNG.
/// `what` names the chart in an error message.
pub(crate) fn render_png(
    what: &str,
    (width, height): (u32, u32),
    draw: &dyn Fn(&Canvas) -> DrawResult,
) -> Result<Vec<u8>> {
    register_fonts();
    let fail = |e: &dyn std::fmt::Display| {
        FerError::invalid_data(format!("<{what} PNG>"), format!("drawing failed: {e}"))
    };
    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    let image = RgbImage::from_raw(width, height, pixels)
        .ok_or_else(|| fail(&"the pixel buffer does not match the size"))?;
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, ImageFormat::Png)
        .map_err(|e| fail(&e))?;
    Ok(bytes.into_inner())
}

/// Text in the charts' font.
pub(crate) fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// Draws `title` centred in a strip at the top of `area` and returns the area below it.
pub(crate) fn with_title<'a>(area: &Canvas<'a>, title: &str) -> Canvas<'a> {
    area.titled(title, (FONT, 18).into_font().style(FontStyle::Bold))
        // Drawing text on a bitmap cannot fail but for a missing font, which would only lose
        // the title: keep the chart below it.
        .unwrap_or_else(|_| area.clone())
}

/// One series' bars as a chart keeps them for its static copy: legend name, values, labels.
pub(crate) type SeriesBars = (String, Vec<f64>, Vec<String>);

/// `series` as [`BarGroup`]s, in the palette's series colours (the plotly traces' colours).
pub(crate) fn bar_groups(series: &[SeriesBars]) -> Vec<BarGroup<'_>> {
    series
        .iter()
        .enumerate()
        .map(|(s, (name, values, labels))| BarGroup {
            name: name.clone(),
            colour: crate::plot::palette::series_rgb(s),
            values,
            labels,
        })
        .collect()
}

/// One group of bars in [`grouped_bars`]: a legend name, a colour, one value and one label per
/// category.
pub(crate) struct BarGroup<'a> {
    pub name: String,
    pub colour: RGBColor,
    pub values: &'a [f64],
    pub labels: &'a [String],
}

/// Bars of several groups side by side over `categories` (one slot per category, the groups
/// sharing it), each labelled above with its label, values on `y_range`.
pub(crate) fn grouped_bars(
    area: &Canvas,
    categories: &[&str],
    groups: &[BarGroup],
    (x_title, y_title): (&str, &str),
    y_range: std::ops::Range<f64>,
    legend: bool,
) -> DrawResult {
    let n = categories.len();
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(if x_title.is_empty() { 30 } else { 45 })
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, y_range.clone())?;
    let names: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        // One label per category: the nice steps of a range of n units are its integers.
        .x_labels(n)
        .x_desc(x_title)
        .y_desc(y_title)
        .x_label_formatter(&|x| category(&names, *x))
        // "8000" and "0.25", not plotters' default "8000.0" (nor float noise in its steps).
        .y_label_formatter(&|y| format!("{}", (y * 1000.0).round() / 1000.0))
        .label_style(text(12))
        .axis_desc_style(text(14))
        .draw()?;
    let width = 0.8 / groups.len().max(1) as f64;
    for (g, group) in groups.iter().enumerate() {
        let colour = group.colour;
        let bars = group.values.iter().enumerate().map(|(i, &v)| {
            let left = i as f64 - 0.4 + g as f64 * width;
            Rectangle::new([(left, 0.0), (left + width, v)], colour.filled())
        });
        let series = chart.draw_series(bars)?;
        if legend {
            series.label(group.name.clone()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
            });
        }
        let label_size = if groups.len() > 2 { 9 } else { 11 };
        chart.draw_series(group.values.iter().zip(group.labels).enumerate().map(
            |(i, (&v, label))| {
                let centre = i as f64 - 0.4 + (g as f64 + 0.5) * width;
                Text::new(
                    label.clone(),
                    (centre, v),
                    text(label_size).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            },
        ))?;
    }
    if legend {
        self::legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

/// One line of a line chart's static copy, as its plotly trace draws it.
pub(crate) struct Curve {
    /// Legend name; empty for none.
    pub name: String,
    pub colour: RGBColor,
    /// Dashed (plotly's `DashType::Dash`) rather than solid.
    pub dashed: bool,
    /// Dots on the points (plotly's `Mode::LinesMarkers`).
    pub markers: bool,
    pub points: Vec<(f64, f64)>,
}

/// The cartesian chart most static copies draw on: `f64` values on both axes, either of
/// which may be logarithmic.
pub(crate) type Chart<'a, 'b, X, Y> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<X, Y>>;

/// Draws `curves` on `chart`, each named one entering the legend (drawn by [`legend`]).
pub(crate) fn draw_curves<'a, 'b: 'a, X, Y>(
    chart: &mut Chart<'a, 'b, X, Y>,
    curves: &[Curve],
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for curve in curves {
        let style = curve.colour.stroke_width(2);
        let series = if curve.dashed {
            chart.draw_series(DashedLineSeries::new(curve.points.clone(), 8, 5, style))?
        } else {
            chart.draw_series(LineSeries::new(curve.points.clone(), style))?
        };
        if !curve.name.is_empty() {
            // A short stroke, broken in two when the line is dashed.
            let gap_end = if curve.dashed { 10 } else { 6 };
            series.label(curve.name.clone()).legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (6, 0)], style)
                    + PathElement::new(vec![(gap_end, 0), (16, 0)], style)
            });
        }
        if curve.markers {
            chart.draw_series(
                curve
                    .points
                    .iter()
                    .map(|&p| Circle::new(p, 3, curve.colour.filled())),
            )?;
        }
    }
    Ok(())
}

/// Draws the legend of the series labelled on `chart`, at `position`.
pub(crate) fn legend<'a, 'b: 'a, X, Y>(
    chart: &mut Chart<'a, 'b, X, Y>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font(text(12))
        .draw()?;
    Ok(())
}

/// The range of `values` with 5% room at either end, like plotly's autorange, or `fallback`
/// without finite values; a single value gets room of its own size.
pub(crate) fn padded_range(
    values: impl IntoIterator<Item = f64>,
    fallback: std::ops::Range<f64>,
) -> std::ops::Range<f64> {
    let (low, high) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if low > high {
        return fallback;
    }
    let room = if high > low {
        0.05 * (high - low)
    } else {
        0.05 * low.abs().max(1.0)
    };
    low - room..high + room
}

/// The name of the category at key point `x` (an index), or nothing between categories.
pub(crate) fn category(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_png_of_the_asked_size() {
        let png = render_png("test", (120, 80), &|area| {
            area.fill(&RED)?;
            Ok(())
        })
        .unwrap();
        let image = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (120, 80));
        assert_eq!(image.get_pixel(60, 40).0, [255, 0, 0]);
    }

    #[test]
    fn categories_sit_on_the_key_points_only() {
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(category(&names, 1.0), "b");
        assert_eq!(category(&names, 0.5), "");
        assert_eq!(category(&names, 2.0), "");
    }
}
