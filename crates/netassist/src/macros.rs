//! Placeholders in sent text: `{counter}`, `{time}`, `{date}` and `{unixtime}`.
//!
//! Periodic and scripted sends need a little variation (a sequence number, the
//! time) so that each message can be told apart on the other side. Only these
//! exact names are replaced; any other braces (JSON!) pass through untouched.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Local};

/// The values one expansion uses, captured once so a message is consistent.
#[derive(Debug, Clone, Copy)]
pub struct MacroValues {
    /// Sequence number of the message being sent, starting at 1.
    pub counter: u64,
    /// Local wall-clock time of the send.
    pub now: DateTime<Local>,
}

/// Replaces the known placeholders in `template`.
pub fn expand_with(template: &str, values: &MacroValues) -> String {
    if !template.contains('{') {
        return template.to_owned();
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let replaced = [
            ("{counter}", values.counter.to_string()),
            ("{time}", values.now.format("%H:%M:%S").to_string()),
            ("{date}", values.now.format("%Y-%m-%d").to_string()),
            ("{unixtime}", values.now.timestamp().to_string()),
        ]
        .into_iter()
        .find(|(name, _)| after.starts_with(name));
        match replaced {
            Some((name, value)) => {
                out.push_str(&value);
                rest = &after[name.len()..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Hands out message sequence numbers for one run and expands templates.
#[derive(Debug, Default)]
pub struct Macros {
    sent: AtomicU64,
    disabled: bool,
}

impl Macros {
    /// A fresh expander; with `enabled == false` text is sent verbatim.
    pub fn new(enabled: bool) -> Self {
        Macros {
            sent: AtomicU64::new(0),
            disabled: !enabled,
        }
    }

    /// Expands `template` for the next outgoing text message. `{counter}` is
    /// shared by everything this run sends, so it counts messages, not templates.
    pub fn expand(&self, template: &str) -> String {
        let counter = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        if self.disabled {
            return template.to_owned();
        }
        expand_with(
            template,
            &MacroValues {
                counter,
                now: Local::now(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn values() -> MacroValues {
        MacroValues {
            counter: 7,
            now: Local
                .with_ymd_and_hms(2024, 5, 6, 13, 4, 5)
                .single()
                .expect("unambiguous local time"),
        }
    }

    #[test]
    fn expands_known_names() {
        let v = values();
        assert_eq!(
            expand_with("#{counter} at {time} on {date}", &v),
            "#7 at 13:04:05 on 2024-05-06"
        );
        assert_eq!(expand_with("{unixtime}", &v), v.now.timestamp().to_string());
    }

    #[test]
    fn leaves_other_braces_alone() {
        let v = values();
        let json = r#"{"type":"broadcast","message":"n={counter}"}"#;
        assert_eq!(
            expand_with(json, &v),
            r#"{"type":"broadcast","message":"n=7"}"#
        );
        assert_eq!(expand_with("{", &v), "{");
        assert_eq!(expand_with("{{counter}}", &v), "{7}");
        assert_eq!(expand_with("{counte", &v), "{counte");
    }

    #[test]
    fn counter_counts_messages_and_can_be_disabled() {
        let m = Macros::new(true);
        assert_eq!(m.expand("a{counter}"), "a1");
        assert_eq!(m.expand("plain"), "plain");
        assert_eq!(m.expand("b{counter}"), "b3");
        let off = Macros::new(false);
        assert_eq!(off.expand("{counter}"), "{counter}");
    }
}
