//! Human durations on the command line: `500ms`, `2s`, `1.5s`, `1m`, `1h`.
//!
//! Used by `--every`, `--wait` and `--connect-timeout`; a unit is required
//! (except for `0`) so `--every 5` cannot silently mean 5 ms or 5 s.
//!
//! Every duration is at most [`MAX_DURATION`]: a deadline further away than
//! that is a typo, and one far enough away would overflow the clock. A
//! repeat period (`--every`) must also be at least [`MIN_PERIOD`].

use std::time::Duration;

/// The longest duration accepted anywhere (365 days; `--wait forever` has no limit).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// The shortest repeat period: the timer's resolution. A period of zero would
/// mean "send without pause", which `--count` without `--every` already does.
pub const MIN_PERIOD: Duration = Duration::from_millis(1);

/// Parses a duration with a unit (`ms`, `s`, `m`, `h`); `0` needs none.
/// Durations above [`MAX_DURATION`] are refused.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{input:?} needs a unit: ms, s, m or h (e.g. 500ms, 2s)"))?;
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{input:?} does not start with a number"))?;
    let seconds_per_unit = match unit.trim() {
        "ms" => 0.001,
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {input:?}: use ms, s, m or h"
            ));
        }
    };
    let duration = Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|_| format!("{input:?} is out of range"))?;
    check_max(duration).map_err(|e| format!("{input:?} {e}"))
}

/// Parses a repeat period (`--every`): a duration from [`MIN_PERIOD`] to
/// [`MAX_DURATION`].
pub fn parse_period(input: &str) -> Result<Duration, String> {
    let period = parse_duration(input)?;
    check_period(period)
        .map_err(|e| format!("{input:?} {e} (to send back to back, use --count N without --every)"))
}

/// Checks a repeat period or a timeout: from [`MIN_PERIOD`] to
/// [`MAX_DURATION`]. The error completes a sentence about the value.
pub fn check_period(period: Duration) -> Result<Duration, String> {
    if period < MIN_PERIOD {
        return Err(format!("is shorter than {}", format_duration(MIN_PERIOD)));
    }
    check_max(period)
}

/// Checks that a duration is at most [`MAX_DURATION`].
pub fn check_max(duration: Duration) -> Result<Duration, String> {
    if duration > MAX_DURATION {
        return Err("is longer than 365 days".to_owned());
    }
    Ok(duration)
}

/// Formats a duration the way it is written on the command line.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("1e400s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn refuses_absurd_durations_and_periods() {
        assert!(parse_duration("5000000000000000h").is_err());
        assert!(parse_duration("525601m").is_err());
        assert_eq!(parse_duration("8760h"), Ok(MAX_DURATION));
        assert!(parse_duration("8761h").is_err());
        for zero in ["0", "0ms", "0.0001ms"] {
            let err = parse_period(zero).expect_err(zero);
            assert!(err.contains("shorter than 1ms"), "{err}");
        }
        assert_eq!(parse_period("1ms"), Ok(Duration::from_millis(1)));
        assert!(parse_period("5000000000000000h").is_err());
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(Duration::from_secs(3)), "3s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,16}") {
            let _ = parse_duration(&s);
            let _ = parse_period(&s);
        }
    }
}
