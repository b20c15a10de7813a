//! What every chart shares: its size, fonts and colours, logarithmic axis
//! ranges, and how numbers read on the axes.

use plotters::coord::Shift;
use plotters::coord::combinators::WithKeyPoints;
use plotters::prelude::*;
use plotters::style::RGBColor;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::PlotError;

/// Width and height of every chart, in SVG pixels.
pub const SIZE: (u32, u32) = (960, 540);

/// The font of every text: SVG viewers substitute their own sans-serif.
pub const FONT: &str = "sans-serif";

/// Font size of chart titles.
pub const TITLE_SIZE: u32 = 20;

/// Font size of axis labels, descriptions and the legend.
pub const LABEL_SIZE: u32 = 14;

/// Radius of a data point's marker.
pub const POINT_RADIUS: u32 = 3;

/// Stroke width of data lines.
pub const LINE_WIDTH: u32 = 2;

/// Colours for series, in order: distinct, and readable on white.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// Grey for reference lines (offered rate, thresholds).
pub const REFERENCE: RGBColor = RGBColor(110, 110, 110);

/// The colour of series `i` (beyond the palette, a spread of hues).
pub fn colour(i: usize) -> RGBColor {
    match PALETTE.get(i) {
        Some(&c) => c,
        None => {
            // Golden-ratio steps around the hue circle never repeat a hue.
            let (r, g, b) = HSLColor((i as f64 * 0.618_034).fract(), 0.65, 0.42).rgb();
            RGBColor(r, g, b)
        }
    }
}

/// A logarithmic axis from the power of ten at or below `lo` to the one
/// at or above `hi` (both positive), so it spans whole decades. Labels go
/// at 1, 2 and 5 x 10^k over up to three decades, at the powers of ten
/// alone over more; grid lines at every 1..9 x 10^k.
pub fn log_axis(lo: f64, hi: f64) -> WithKeyPoints<LogCoord<f64>> {
    let (first, last) = decade_exponents(lo, hi);
    let at = |e: i32, m: f64| m * 10f64.powi(e);
    let multiples: &[f64] = if last - first <= 3 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let labels = (first..=last)
        .flat_map(|e| multiples.iter().map(move |&m| at(e, m)))
        .filter(|&v| v <= at(last, 1.0))
        .collect();
    let grid = (first..=last)
        .flat_map(|e| (1..10).map(move |m| at(e, f64::from(m))))
        .filter(|&v| v <= at(last, 1.0))
        .collect::<Vec<_>>();
    (at(first, 1.0)..at(last, 1.0))
        .log_scale()
        .with_key_points(labels)
        .with_light_points(grid)
}

/// The exponents of the powers of ten at or below `lo` and at or above
/// `hi`, at least one decade apart.
fn decade_exponents(lo: f64, hi: f64) -> (i32, i32) {
    let first = lo.log10().floor() as i32;
    let last = (hi.log10().ceil() as i32).max(first + 1);
    (first, last)
}

/// The smallest and largest of `values`, if there is any.
pub fn bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// `v` with at most three significant digits and no trailing zeros:
/// 2 -> "2", 2.5 -> "2.5", 0.125 -> "0.125", 12345 -> "12345".
pub fn short(v: f64) -> String {
    let digits = if v == 0.0 {
        0
    } else {
        (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize
    };
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A latency given in milliseconds, in readable units: 500 µs, 20 ms, 2 s.
pub fn millis_label(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", short(ms / 1000.0))
    } else if ms >= 1.0 {
        format!("{} ms", short(ms))
    } else {
        format!("{} µs", short(ms * 1000.0))
    }
}

/// A rate per second in readable units: 500, 20k, 2M.
pub fn rate_label(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{}M", short(per_s / 1e6))
    } else if per_s >= 1e3 {
        format!("{}k", short(per_s / 1e3))
    } else {
        short(per_s)
    }
}

/// Microseconds as milliseconds for a logarithmic latency axis (at least
/// 1 µs: the histograms' resolution).
pub fn ms(us: u64) -> f64 {
    us.max(1) as f64 / 1000.0
}

/// One entry of a legend: a sample of a line and what it shows.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What the line shows.
    pub label: String,
    /// How it is drawn.
    pub style: ShapeStyle,
    /// Whether it is dashed.
    pub dashed: bool,
}

impl Entry {
    /// A solid line.
    pub fn line(label: impl Into<String>, style: ShapeStyle) -> Entry {
        Entry {
            label: label.into(),
            style,
            dashed: false,
        }
    }

    /// A dashed line.
    pub fn dashed(label: impl Into<String>, style: ShapeStyle) -> Entry {
        Entry {
            dashed: true,
            ..Entry::line(label, style)
        }
    }
}

/// Left edge of the legend, about where the plotting area starts.
const LEGEND_LEFT: i32 = 80;
/// Height of one row of the legend.
const LEGEND_ROW: i32 = 22;
/// Length of a legend entry's line sample.
const LEGEND_SAMPLE: i32 = 26;
/// A generous width of one character of the legend's font, so entries do
/// not overlap whatever sans-serif the viewer picks.
const LEGEND_CHAR: i32 = 8;

/// Where each entry of a legend goes, rows filling the width left to
/// right; and the height of the rows.
fn legend_layout(entries: &[Entry], width: i32) -> (Vec<(i32, i32)>, i32) {
    let (mut x, mut y) = (LEGEND_LEFT, LEGEND_ROW / 2);
    let mut at = Vec::with_capacity(entries.len());
    for entry in entries {
        let wide = LEGEND_SAMPLE + 8 + LEGEND_CHAR * entry.label.chars().count() as i32 + 28;
        if x > LEGEND_LEFT && x + wide > width {
            x = LEGEND_LEFT;
            y += LEGEND_ROW;
        }
        at.push((x, y));
        x += wide;
    }
    (at, y + LEGEND_ROW / 2 + 6)
}

/// Splits `root` into the chart's area and, below it, a legend of
/// `entries` drawn in rows (outside the plot, so it never hides a line).
pub fn with_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<DrawingArea<DB, Shift>, PlotError> {
    let (width, height) = root.dim_in_pixel();
    let (at, rows_height) = legend_layout(entries, width as i32);
    let (chart, legend) = root.split_vertically(height as i32 - rows_height);
    let font = (FONT, LABEL_SIZE).into_font().color(&BLACK);
    for (entry, &(x, y)) in entries.iter().zip(&at) {
        let sample = if entry.dashed {
            let third = LEGEND_SAMPLE / 3;
            vec![
                vec![(x, y), (x + third, y)],
                vec![(x + 2 * third, y), (x + LEGEND_SAMPLE, y)],
            ]
        } else {
            vec![vec![(x, y), (x + LEGEND_SAMPLE, y)]]
        };
        for part in sample {
            legend
                .draw(&PathElement::new(part, entry.style))
                .map_err(PlotError::draw)?;
        }
        let text = Text::new(
            entry.label.clone(),
            (x + LEGEND_SAMPLE + 8, y),
            font.pos(Pos::new(HPos::Left, VPos::Center)),
        );
        legend.draw(&text).map_err(PlotError::draw)?;
    }
    Ok(chart)
}

/// The runs of `Some` values in `points`, each as its own list, so a line
/// breaks where there is no value instead of bridging the gap.
pub fn segments(points: impl IntoIterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for (x, y) in points {
        match y {
            Some(y) if open => {
                if let Some(last) = out.last_mut() {
                    last.push((x, y));
                }
            }
            Some(y) => {
                out.push(vec![(x, y)]);
                open = true;
            }
            None => open = false,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_span_whole_decades() {
        assert_eq!(decade_exponents(1.9, 12_566.0), (0, 5));
        assert_eq!(decade_exponents(12.0, 14.0), (1, 2));
        assert_eq!(decade_exponents(10.0, 10.0), (1, 2));
        assert_eq!(decade_exponents(0.25, 0.5), (-1, 0));
        let axis = log_axis(12.0, 14.0);
        assert_eq!(axis.range(), 10.0..100.0);
        assert_eq!(axis.bold_points(), [10.0, 20.0, 50.0, 100.0]);
        assert_eq!(axis.light_points().len(), 10);
        // Over more than three decades only the powers of ten are labelled.
        let wide = log_axis(1.9, 12_566.0);
        assert_eq!(wide.bold_points(), [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]);
    }

    #[test]
    fn numbers_read_easily() {
        assert_eq!(short(2.0), "2");
        assert_eq!(short(2.5), "2.5");
        assert_eq!(short(0.125), "0.125");
        assert_eq!(short(12_345.0), "12345");
        assert_eq!(short(0.0), "0");
        assert_eq!(millis_label(0.5), "500 µs");
        assert_eq!(millis_label(20.0), "20 ms");
        assert_eq!(millis_label(2000.0), "2 s");
        assert_eq!(rate_label(500.0), "500");
        assert_eq!(rate_label(20_000.0), "20k");
        assert_eq!(rate_label(6_990_000.0), "6.99M");
        assert_eq!(ms(0), 0.001);
        assert_eq!(ms(2500), 2.5);
    }

    #[test]
    fn lines_break_at_missing_values() {
        let points = [
            (0.0, Some(1.0)),
            (1.0, Some(2.0)),
            (2.0, None),
            (3.0, Some(3.0)),
            (4.0, None),
        ];
        assert_eq!(
            segments(points),
            vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 3.0)]]
        );
        assert!(segments([(0.0, None)]).is_empty());
    }

    #[test]
    fn colours_are_distinct() {
        let colours: std::collections::HashSet<_> = (0..20)
            .map(|i| {
                let c = colour(i);
                (c.0, c.1, c.2)
            })
            .collect();
        assert_eq!(colours.len(), 20);
    }

    #[test]
    fn legend_rows_wrap_at_the_width() {
        let entry = |label: &str| Entry::line(label, BLACK.stroke_width(1));
        let (at, height) = legend_layout(&[entry("p50"), entry("p99")], 960);
        assert_eq!(at.len(), 2);
        assert_eq!(at[0].1, at[1].1);
        assert!(at[1].0 > at[0].0);
        assert_eq!(height, LEGEND_ROW + 6);
        let long = "x".repeat(60);
        let (at, height) = legend_layout(&[entry(&long), entry(&long), entry(&long)], 960);
        assert!(at[1].1 > at[0].1 && at[2].1 > at[1].1, "{at:?}");
        assert_eq!(height, 3 * LEGEND_ROW + 6);
    }

    #[test]
    fn bounds_of_values() {
        assert_eq!(bounds([3.0, 1.0, 2.0]), Some((1.0, 3.0)));
        assert_eq!(bounds(std::iter::empty()), None);
    }
}
