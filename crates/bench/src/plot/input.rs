//! Reading recorded `--json` reports back, for charts of runs made
//! earlier (by hand, or by `scripts/bench-compare.sh`).

use std::path::{Path, PathBuf};

use crate::plot::PlotError;
use crate::report::{FindMaxReport, Report};

/// A recorded report that can be charted.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// One message run.
    Run(Box<Report>),
    /// A `--find-max` search.
    FindMax(FindMaxReport),
}

/// Reads the report in `path`.
pub fn load(path: &Path) -> Result<Recorded, PlotError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlotError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Reads a report from `text`, which came from `path` (named in errors).
pub fn parse(path: &Path, text: &str) -> Result<Recorded, PlotError> {
    let malformed = |reason: String| PlotError::Malformed {
        path: path.to_owned(),
        reason,
    };
    if text.trim().is_empty() {
        return Err(PlotError::Empty {
            path: path.to_owned(),
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(malformed("not a JSON object".to_owned()));
    };
    if object.contains_key("steps") {
        serde_json::from_value(value)
            .map(Recorded::FindMax)
            .map_err(|e| malformed(format!("as a --find-max report: {e}")))
    } else if object.contains_key("held_s") {
        Err(malformed(
            "an --idle report holds no message latency to plot".to_owned(),
        ))
    } else {
        serde_json::from_value(value)
            .map(|r| Recorded::Run(Box::new(r)))
            .map_err(|e| malformed(format!("as a run report: {e}")))
    }
}

/// Splits a command-line input `LABEL=FILE` into its label and file (at
/// the first `=`); a plain `FILE` is labelled by its name without the
/// extension.
pub fn labelled(arg: &str) -> (String, PathBuf) {
    if let Some((label, file)) = arg.split_once('=')
        && !label.is_empty()
        && !file.is_empty()
    {
        return (label.to_owned(), PathBuf::from(file));
    }
    let path = PathBuf::from(arg);
    let label = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| arg.to_owned());
    (label, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::samples::{find_max_report, run_report};

    fn at() -> &'static Path {
        Path::new("r.json")
    }

    #[test]
    fn run_and_find_max_reports_read_back() {
        let run = crate::to_json(&run_report(2_000_000.0, 13_000));
        assert!(matches!(parse(at(), &run), Ok(Recorded::Run(r)) if r.latency.p99_us == 13_000));
        let search = crate::to_json(&find_max_report());
        assert!(matches!(parse(at(), &search), Ok(Recorded::FindMax(f)) if f.steps.len() == 3));
    }

    #[test]
    fn a_report_without_a_timeline_still_reads() {
        let mut json = serde_json::to_value(run_report(1000.0, 900)).unwrap();
        json.as_object_mut().unwrap().remove("timeline");
        let Ok(Recorded::Run(r)) = parse(at(), &json.to_string()) else {
            panic!("not read");
        };
        assert!(r.timeline.is_empty());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let cases = [
            ("", "r.json is empty"),
            ("  \n", "r.json is empty"),
            ("{\"proto\": \"json\",", "not JSON"),
            ("[1, 2]", "not a JSON object"),
            ("{\"proto\": \"json\"}", "missing field"),
            ("{\"steps\": 3}", "as a --find-max report"),
            (
                "{\"proto\": \"json\", \"held_s\": 10.0}",
                "--idle report holds no message latency",
            ),
        ];
        for (text, expect) in cases {
            let err = parse(at(), text).unwrap_err().to_string();
            assert!(err.contains(expect), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = load(Path::new("/nonexistent/x.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read /nonexistent/x.json"), "{err}");
    }

    #[test]
    fn inputs_are_labelled_by_name_or_by_their_label() {
        assert_eq!(
            labelled("out/matrix-ngircd-1.json"),
            (
                "matrix-ngircd-1".to_owned(),
                PathBuf::from("out/matrix-ngircd-1.json")
            )
        );
        assert_eq!(
            labelled("ngircd=out/a=b.json"),
            ("ngircd".to_owned(), PathBuf::from("out/a=b.json"))
        );
        assert_eq!(
            labelled("=x.json"),
            ("=x".to_owned(), PathBuf::from("=x.json"))
        );
    }
}
