//! Wall-clock time as the protocol carries it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DD HH:MM UTC` for a timestamp in milliseconds since the epoch,
/// for history shown to clients that cannot take IRCv3 `server-time`.
pub fn utc_stamp(ts_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ts_ms) {
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "unknown time".to_owned(),
    }
}
