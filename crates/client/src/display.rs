//! Turning frames into the lines a person reads.
//!
//! Everything shown comes from the network, so names and text are cleaned of
//! terminal control sequences first: a message cannot move the cursor, change
//! colours, retitle the window or clear the screen.

use chatroom_proto::json::CertList;
use chrono::{Local, TimeZone};

/// Removes control characters (escape sequences included) from text to show.
/// Newlines and tabs survive when `multiline` is true, as spaces otherwise.
pub fn sanitize(text: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if multiline => out.push('\n'),
            '\t' => out.push_str(if multiline { "\t" } else { " " }),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional overrides can make a line read as something it is not.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Local time of a timestamp (milliseconds since the epoch): `HH:MM` for
/// today, `YYYY-MM-DD HH:MM` for other days (replayed history).
pub fn clock(ts_ms: i64) -> String {
    match Local.timestamp_millis_opt(ts_ms).single() {
        Some(t) if t.date_naive() == Local::now().date_naive() => t.format("%H:%M").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => "--:--".to_owned(),
    }
}

/// One chat line: `HH:MM PLACE [nick(id)] text`, or `HH:MM PLACE * nick(id)
/// text` for an action; continuation lines are indented under the text.
/// `place` is e.g. `#lobby` or `(direct)`; `None` leaves it out.
pub fn chat_line(
    ts_ms: i64,
    place: Option<&str>,
    nick: &str,
    id: u64,
    text: &str,
    action: bool,
) -> String {
    let place = place
        .map(|p| format!("{} ", sanitize(p, false)))
        .unwrap_or_default();
    let who = sanitize(nick, false);
    let head = if action {
        format!("{} {place}* {who}({id}) ", clock(ts_ms))
    } else {
        format!("{} {place}[{who}({id})] ", clock(ts_ms))
    };
    let indent = " ".repeat(head.chars().count());
    let body = sanitize(text, true).replace('\n', &format!("\n{indent}"));
    format!("{head}{body}")
}

/// The answer to `/cert`: the certificates that log into one's account.
pub fn certs_text(list: &CertList) -> String {
    let mut text = match list.fingerprints.len() {
        0 => "no TLS client certificate logs into your account".to_owned(),
        n => format!("{n} TLS client certificate(s) log into your account:"),
    };
    for fingerprint in &list.fingerprints {
        text.push_str(&format!("\n  {}", sanitize(fingerprint, false)));
        if list.current.as_ref() == Some(fingerprint) {
            text.push_str(" (this connection's)");
        }
    }
    text
}

/// How a room is shown: `#name`.
pub fn room_label(room: &str) -> String {
    format!("#{}", sanitize(room, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed() {
        assert_eq!(
            sanitize("a\x1b[2Jb\x1b]0;title\x07c", false),
            "a[2Jb]0;titlec"
        );
        assert_eq!(sanitize("x\u{202E}y\u{9b}z", false), "xyz");
        assert_eq!(sanitize("line1\nline2\ttab", true), "line1\nline2\ttab");
        assert_eq!(sanitize("line1\r\nline2", false), "line1  line2");
    }

    #[test]
    fn chat_line_format() {
        let now = chrono::Utc::now().timestamp_millis();
        let line = chat_line(now, None, "bob", 7, "hi", false);
        assert!(line.ends_with(" [bob(7)] hi"), "{line}");
        assert_eq!(line.len(), "HH:MM [bob(7)] hi".len());
        let line = chat_line(now, Some("#rust"), "bob", 7, "waves", true);
        assert_eq!(&line[5..], " #rust * bob(7) waves");
        let old = chat_line(86_400_000, Some("#r"), "bob", 7, "hi", false);
        assert!(old.starts_with("1970-01-0"), "{old}");
        let two = chat_line(now, None, "张三", 1, "a\nb", false);
        let (first, second) = two.split_once('\n').unwrap();
        assert!(first.ends_with("] a"));
        assert_eq!(second.trim_start(), "b");
        assert_eq!(second.chars().count(), first.chars().count());
    }
}
