//! One run second by second: latency p50, p99 and p99.9 on a logarithmic
//! axis, deliveries per second (and the offered rate) on a second axis.
//! Where a server falls behind, the delivered line drops below the offered
//! one and the latency lines climb.

use plotters::prelude::*;

use crate::plot::PlotError;
use crate::plot::style::{
    Entry, FONT, LABEL_SIZE, LINE_WIDTH, POINT_RADIUS, REFERENCE, SIZE, TITLE_SIZE, bounds, colour,
    log_axis, millis_label, ms, rate_label, segments, with_legend,
};
use crate::report::Report;

/// The SVG chart of `report`'s timeline.
pub fn run_chart(report: &Report) -> Result<String, PlotError> {
    let timeline = &report.timeline;
    if timeline.is_empty() {
        return Err(PlotError::Nothing(
            "the run has no timeline: nothing was delivered, or the report was written \
             by a bench that did not keep one"
                .to_owned(),
        ));
    }
    let xs = timeline.midpoints_s(report.window_s);
    let percentiles = [
        ("p50", &timeline.p50_us),
        ("p99", &timeline.p99_us),
        ("p99.9", &timeline.p999_us),
    ];
    let latencies = percentiles
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().map(|&us| ms(us)));
    let Some((lo, hi)) = bounds(latencies) else {
        return Err(PlotError::Nothing(
            "the run's timeline holds no latency".to_owned(),
        ));
    };
    let rates = timeline.delivered_per_s(report.window_s);
    let top_rate = rates
        .iter()
        .copied()
        .fold(report.offered_deliveries_per_s, f64::max)
        .max(1.0)
        * 1.15;
    let end_s = xs.iter().copied().fold(report.window_s, f64::max);

    let delivered = colour(percentiles.len()).stroke_width(LINE_WIDTH);
    let offered = REFERENCE.stroke_width(LINE_WIDTH);
    let mut legend: Vec<Entry> = percentiles
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Entry::line(*name, colour(i).stroke_width(LINE_WIDTH)))
        .collect();
    legend.push(Entry::line("delivered/s (right axis)", delivered));
    legend.push(Entry::dashed(
        "offered/s while sending (right axis)",
        offered,
    ));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(PlotError::draw)?;
        let area = with_legend(&root, &legend)?;
        let title = format!(
            "{} {}: {} clients, {} senders x {} msg/s ({}/s offered)",
            report.proto,
            report.server,
            report.connected,
            report.senders,
            report.rate,
            rate_label(report.offered_deliveries_per_s)
        );
        let mut chart = ChartBuilder::on(&area)
            .caption(title, (FONT, TITLE_SIZE))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0.0..end_s, log_axis(lo, hi))
            .map_err(PlotError::draw)?
            .set_secondary_coord(0.0..end_s, 0.0..top_rate);
        chart
            .configure_mesh()
            .x_desc("seconds since the first send")
            .y_desc("latency")
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
            .draw_secondary_series(DashedLineSeries::new(
                [
                    (0.0, report.offered_deliveries_per_s),
                    (report.duration_s, report.offered_deliveries_per_s),
                ],
                8,
                5,
                offered,
            ))
            .map_err(PlotError::draw)?;
        chart
            .draw_secondary_series(LineSeries::new(
                xs.iter().copied().zip(rates.iter().copied()),
                delivered,
            ))
            .map_err(PlotError::draw)?;
        for (i, (_, values)) in percentiles.iter().enumerate() {
            let points = xs.iter().zip(values.iter()).map(|(&x, v)| (x, v.map(ms)));
            for segment in segments(points) {
                let markers = segment
                    .iter()
                    .map(|&p| Circle::new(p, POINT_RADIUS, colour(i).filled()))
                    .collect::<Vec<_>>();
                chart
                    .draw_series(LineSeries::new(segment, colour(i).stroke_width(LINE_WIDTH)))
                    .map_err(PlotError::draw)?;
                chart.draw_series(markers).map_err(PlotError::draw)?;
            }
        }
        root.present().map_err(PlotError::draw)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::samples::{run_report, texts};

    #[test]
    fn draws_three_percentiles_and_the_delivered_rate() {
        let svg = run_chart(&run_report(2_000_000.0, 13_000)).unwrap();
        let texts = texts(&svg);
        for label in [
            "p50",
            "p99",
            "p99.9",
            "delivered/s (right axis)",
            "seconds since the first send",
        ] {
            assert!(
                texts.iter().any(|t| t == label),
                "{label} missing from {texts:?}"
            );
        }
        // One marker per second with a delivery, per percentile: the
        // sample's middle second has none.
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let markers = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count();
        assert_eq!(markers, 3 * 2);
    }

    #[test]
    fn a_run_without_a_timeline_is_refused() {
        let mut report = run_report(1000.0, 900);
        report.timeline = Default::default();
        let err = run_chart(&report).unwrap_err().to_string();
        assert!(err.contains("nothing to plot"), "{err}");
    }
}
