//! Several recorded reports on one chart: p99 latency against offered
//! deliveries per second, both axes logarithmic, one line per series.
//!
//! A series is every input given the same label: a plain run adds one
//! point, a `--find-max` search one point per step. Every run is marked;
//! where a series has several runs at the same offered load (repetitions),
//! its line goes through their median, so the spread shows as markers
//! around the line.

use plotters::prelude::*;

use crate::plot::style::{
    Entry, FONT, LABEL_SIZE, LINE_WIDTH, POINT_RADIUS, SIZE, TITLE_SIZE, bounds, colour, log_axis,
    millis_label, ms, rate_label, with_legend,
};
use crate::plot::{PlotError, Recorded};
use crate::report::Report;

/// One line of the chart: its label and its runs as (offered deliveries/s,
/// p99 in ms), sorted by offered load.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

impl Series {
    /// The series of `inputs`, one per label in the order labels first
    /// appear; runs that delivered nothing are left out (they have no
    /// latency), and a label left with no run at all is an error.
    fn group(inputs: &[(String, Recorded)]) -> Result<Vec<Series>, PlotError> {
        let mut series: Vec<Series> = Vec::new();
        for (label, recorded) in inputs {
            let index = match series.iter().position(|s| &s.label == label) {
                Some(i) => i,
                None => {
                    series.push(Series {
                        label: label.clone(),
                        points: Vec::new(),
                    });
                    series.len() - 1
                }
            };
            let runs: Vec<&Report> = match recorded {
                Recorded::Run(report) => vec![report],
                Recorded::FindMax(search) => search.steps.iter().map(|s| &s.report).collect(),
            };
            series[index].points.extend(
                runs.into_iter()
                    .filter(|r| r.latency.count > 0 && r.offered_deliveries_per_s > 0.0)
                    .map(|r| (r.offered_deliveries_per_s, ms(r.latency.p99_us))),
            );
        }
        for s in &mut series {
            if s.points.is_empty() {
                return Err(PlotError::Nothing(format!(
                    "{}: no run in it delivered anything",
                    s.label
                )));
            }
            s.points
                .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        }
        Ok(series)
    }

    /// The median p99 at each offered load, in order of load.
    fn medians(&self) -> Vec<(f64, f64)> {
        self.points
            .chunk_by(|a, b| a.0 == b.0)
            .map(|same_load| {
                let n = same_load.len();
                let median = if n % 2 == 1 {
                    same_load[n / 2].1
                } else {
                    (same_load[n / 2 - 1].1 + same_load[n / 2].1) / 2.0
                };
                (same_load[0].0, median)
            })
            .collect()
    }
}

/// The SVG chart comparing `inputs`, each a label and a recorded report.
pub fn comparison_chart(inputs: &[(String, Recorded)]) -> Result<String, PlotError> {
    if inputs.is_empty() {
        return Err(PlotError::Nothing("no report given".to_owned()));
    }
    let series = Series::group(inputs)?;
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) =
        (bounds(all().map(|p| p.0)), bounds(all().map(|p| p.1)))
    else {
        return Err(PlotError::Nothing("no run delivered anything".to_owned()));
    };

    let legend: Vec<Entry> = series
        .iter()
        .enumerate()
        .map(|(i, s)| Entry::line(s.label.as_str(), colour(i).stroke_width(LINE_WIDTH)))
        .collect();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(PlotError::draw)?;
        let area = with_legend(&root, &legend)?;
        let mut chart = ChartBuilder::on(&area)
            .caption("p99 latency against offered load", (FONT, TITLE_SIZE))
            .margin(12)
            // Room for the last label of the offered axis.
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(log_axis(x_lo, x_hi), log_axis(y_lo, y_hi))
            .map_err(PlotError::draw)?;
        chart
            .configure_mesh()
            .x_desc("offered deliveries/s")
            .y_desc("p99 latency")
            .x_label_formatter(&|v| rate_label(*v))
            .y_label_formatter(&|v| millis_label(*v))
            .label_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(PlotError::draw)?;
        for (i, s) in series.iter().enumerate() {
            let style = colour(i).stroke_width(LINE_WIDTH);
            chart
                .draw_series(LineSeries::new(s.medians(), style))
                .map_err(PlotError::draw)?;
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, POINT_RADIUS, colour(i).filled())),
                )
                .map_err(PlotError::draw)?;
        }
        root.present().map_err(PlotError::draw)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::samples::{find_max_report, run_report, texts};

    fn run(offered: f64, p99_us: u64) -> Recorded {
        Recorded::Run(Box::new(run_report(offered, p99_us)))
    }

    #[test]
    fn inputs_with_one_label_make_one_series() {
        let inputs = vec![
            ("ours".to_owned(), run(2e6, 14_000)),
            ("theirs".to_owned(), run(1e6, 50_000)),
            ("ours".to_owned(), run(1e6, 13_000)),
            ("ours".to_owned(), run(2e6, 12_000)),
            ("search".to_owned(), Recorded::FindMax(find_max_report())),
        ];
        let series = Series::group(&inputs).unwrap();
        let labels: Vec<_> = series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["ours", "theirs", "search"]);
        assert_eq!(
            series[0].points,
            vec![(1e6, 13.0), (2e6, 12.0), (2e6, 14.0)]
        );
        assert_eq!(series[0].medians(), vec![(1e6, 13.0), (2e6, 13.0)]);
        // A search adds a point per step.
        assert_eq!(series[2].points.len(), 3);
    }

    #[test]
    fn draws_one_coloured_series_per_label() {
        let inputs = vec![
            ("chatroom-json".to_owned(), run(1e6, 13_000)),
            ("chatroom-json".to_owned(), run(2e6, 14_000)),
            ("ngircd".to_owned(), run(1e6, 55_000)),
            ("ngircd".to_owned(), run(2e6, 250_000)),
        ];
        let svg = comparison_chart(&inputs).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts = texts(&svg);
        assert!(
            texts.iter().any(|t| t == "chatroom-json") && texts.iter().any(|t| t == "ngircd"),
            "{texts:?}"
        );
        let fills: std::collections::HashSet<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .filter_map(|n| n.attribute("fill"))
            .collect();
        assert_eq!(fills.len(), 2, "{fills:?}");
    }

    #[test]
    fn a_series_with_nothing_delivered_is_refused() {
        let mut empty = run_report(1e6, 0);
        empty.latency = Default::default();
        let inputs = vec![
            ("ok".to_owned(), run(1e6, 13_000)),
            ("dead".to_owned(), Recorded::Run(Box::new(empty))),
        ];
        let err = comparison_chart(&inputs).unwrap_err().to_string();
        assert!(
            err.contains("dead: no run in it delivered anything"),
            "{err}"
        );
        let err = comparison_chart(&[]).unwrap_err().to_string();
        assert!(err.contains("no report given"), "{err}");
    }
}
