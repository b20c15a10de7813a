//! A `--find-max` search step by step: each step's p99 against the clean
//! threshold (filled markers for clean steps, hollow for the others), and
//! its delivered against its offered deliveries per second on a second
//! axis.

use plotters::prelude::*;

use crate::plot::PlotError;
use crate::plot::style::{
    Entry, FONT, LABEL_SIZE, LINE_WIDTH, POINT_RADIUS, REFERENCE, SIZE, TITLE_SIZE, bounds, colour,
    log_axis, millis_label, ms, rate_label, segments, short, with_legend,
};
use crate::report::{FindMaxReport, Verdict};

/// The SVG chart of a `--find-max` search.
pub fn find_max_chart(report: &FindMaxReport) -> Result<String, PlotError> {
    let steps = &report.steps;
    if steps.is_empty() {
        return Err(PlotError::Nothing(
            "the --find-max report has no step".to_owned(),
        ));
    }
    let threshold_ms = ms(report.max_p99_us);
    // A step where nothing arrived has no latency to place on the axis.
    let p99: Vec<Option<f64>> = steps
        .iter()
        .map(|s| (s.report.latency.count > 0).then(|| ms(s.report.latency.p99_us)))
        .collect();
    let (lo, hi) = bounds(p99.iter().flatten().copied().chain([threshold_ms]))
        .unwrap_or((threshold_ms, threshold_ms));
    let top_rate = steps
        .iter()
        .map(|s| {
            s.report
                .offered_deliveries_per_s
                .max(s.report.delivered_per_s)
        })
        .fold(1.0, f64::max)
        * 1.15;
    let last = steps.len() as f64 + 0.5;
    let xs: Vec<f64> = (1..=steps.len()).map(|i| i as f64).collect();

    let limit = REFERENCE.stroke_width(LINE_WIDTH);
    let p99_colour = colour(3);
    let p99_style = p99_colour.stroke_width(LINE_WIDTH);
    let delivered = colour(2).stroke_width(LINE_WIDTH);
    let offered = REFERENCE.stroke_width(1);
    let legend = [
        Entry::line("p99 (filled marker: a clean step)", p99_style),
        Entry::dashed(
            format!("clean threshold: p99 {}", millis_label(threshold_ms)),
            limit,
        ),
        Entry::line("delivered/s (right axis)", delivered),
        Entry::dashed("offered/s (right axis)", offered),
    ];

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(PlotError::draw)?;
        let area = with_legend(&root, &legend)?;
        let title = match (report.best_rate, report.best_offered_deliveries_per_s) {
            (Some(rate), Some(offered)) => format!(
                "--find-max: highest clean rate {} msg/s per sender ({}/s offered)",
                short(rate),
                rate_label(offered)
            ),
            _ => "--find-max: no step was clean".to_owned(),
        };
        let x_label = |x: &f64| {
            let step = x.round();
            if (x - step).abs() > 1e-9 || step < 1.0 {
                return String::new();
            }
            steps
                .get(step as usize - 1)
                .map(|s| format!("{}: {}", step, short(s.rate)))
                .unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(&area)
            .caption(title, (FONT, TITLE_SIZE))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0.5..last, log_axis(lo, hi))
            .map_err(PlotError::draw)?
            .set_secondary_coord(0.5..last, 0.0..top_rate);
        chart
            .configure_mesh()
            .x_labels(steps.len() + 1)
            .x_label_formatter(&x_label)
            .x_desc("step: msg/s per sender")
            .y_desc("p99 latency")
            .y_label_formatter(&|v| millis_label(*v))
            .label_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(PlotError::draw)?;
        chart
            .configure_secondary_axes()
            .y_desc("deliveries/s")
            .y_label_formatter(&|v| rate_label(*v))
            .label_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(PlotError::draw)?;

        chart
            .draw_series(DashedLineSeries::new(
                [(0.5, threshold_ms), (last, threshold_ms)],
                8,
                5,
                limit,
            ))
            .map_err(PlotError::draw)?;
        chart
            .draw_secondary_series(DashedLineSeries::new(
                steps
                    .iter()
                    .zip(&xs)
                    .map(|(s, &x)| (x, s.report.offered_deliveries_per_s))
                    .collect::<Vec<_>>(),
                6,
                4,
                offered,
            ))
            .map_err(PlotError::draw)?;
        chart
            .draw_secondary_series(LineSeries::new(
                steps
                    .iter()
                    .zip(&xs)
                    .map(|(s, &x)| (x, s.report.delivered_per_s)),
                delivered,
            ))
            .map_err(PlotError::draw)?;
        let points = xs.iter().copied().zip(p99.iter().copied());
        for segment in segments(points) {
            chart
                .draw_series(LineSeries::new(segment, p99_style))
                .map_err(PlotError::draw)?;
        }
        let markers = steps
            .iter()
            .zip(xs.iter().zip(p99.iter()))
            .filter_map(|(step, (&x, y))| {
                let style = if step.verdict == Verdict::Clean {
                    p99_colour.filled()
                } else {
                    p99_colour.stroke_width(LINE_WIDTH)
                };
                y.map(|y| Circle::new((x, y), POINT_RADIUS + 1, style))
            });
        chart.draw_series(markers).map_err(PlotError::draw)?;
        root.present().map_err(PlotError::draw)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::samples::{find_max_report, texts};

    #[test]
    fn draws_every_step_and_the_threshold() {
        let svg = find_max_chart(&find_max_report()).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts = texts(&svg);
        for label in ["clean threshold: p99 50 ms", "1: 50", "2: 100", "3: 200"] {
            assert!(
                texts.iter().any(|t| t == label),
                "{label} missing from {texts:?}"
            );
        }
        assert!(
            texts
                .iter()
                .any(|t| t.contains("highest clean rate 100 msg/s")),
            "{texts:?}"
        );
        // One marker per step: two clean (filled), one not (hollow).
        let markers: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .collect();
        assert_eq!(markers.len(), 3);
        let hollow = markers
            .iter()
            .filter(|n| n.attribute("fill") == Some("none"))
            .count();
        assert_eq!(hollow, 1);
    }

    #[test]
    fn a_search_without_steps_is_refused() {
        let mut report = find_max_report();
        report.steps.clear();
        let err = find_max_chart(&report).unwrap_err().to_string();
        assert!(err.contains("no step"), "{err}");
    }
}
