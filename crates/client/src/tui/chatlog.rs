//! Chat logs on disk, like irssi's autolog: every line shown live in a
//! window is appended to `DIR/SERVER/WINDOW/YYYY-MM-DD.log` (the day of the
//! line, local time). History fetched from the server is not logged again.
//!
//! The app decides what goes where ([`entry`], pure); the runner's
//! [`ChatLog`] appends. A log that cannot be written is reported once in
//! the client's diagnostics and skipped, never stops the client.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, TimeZone};

use super::window::Line;

/// The most log files kept open at once (the least recently opened are
/// closed first; they are opened again as needed).
const MAX_OPEN: usize = 32;

/// One line to append: the file (relative to the log directory) and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// `SERVER/WINDOW/YYYY-MM-DD.log`.
    pub file: PathBuf,
    /// `HH:MM:SS <nick> text`, continuation lines indented by a tab.
    pub text: String,
}

/// A name made safe as one path component: `/`, `\`, control characters
/// and a leading dot replaced with `_`.
fn component(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.starts_with('.') || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// What to log for `line`, shown in the window labelled `window` on
/// `server`, with times at `offset`.
pub fn entry(server: &str, window: &str, line: &Line, offset: FixedOffset) -> LogEntry {
    let (day, time) = match offset.timestamp_millis_opt(line.ts).single() {
        Some(t) => (
            t.format("%Y-%m-%d").to_string(),
            t.format("%H:%M:%S").to_string(),
        ),
        None => ("unknown-day".to_owned(), "--:--:--".to_owned()),
    };
    let text = crate::display::sanitize(&line.text(), true).replace('\n', "\n\t");
    LogEntry {
        file: Path::new(&component(server))
            .join(component(window))
            .join(format!("{day}.log")),
        text: format!("{time} {text}"),
    }
}

/// Appends log entries under one directory.
#[derive(Debug)]
pub struct ChatLog {
    dir: PathBuf,
    open: HashMap<PathBuf, File>,
    /// Files that failed (reported once each).
    failed: Vec<PathBuf>,
}

impl ChatLog {
    /// Logs under `dir` (created as needed).
    pub fn new(dir: PathBuf) -> Self {
        ChatLog {
            dir,
            open: HashMap::new(),
            failed: Vec::new(),
        }
    }

    /// Appends one entry.
    pub fn write(&mut self, entry: &LogEntry) {
        let path = self.dir.join(&entry.file);
        if let Err(e) = self.append(&path, &entry.text) {
            self.open.remove(&path);
            if !self.failed.contains(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the chat log");
                self.failed.push(path);
            }
        }
    }

    fn append(&mut self, path: &Path, text: &str) -> std::io::Result<()> {
        if !self.open.contains_key(path) {
            if self.open.len() >= MAX_OPEN {
                self.open.clear();
            }
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)?;
            }
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            self.open.insert(path.to_owned(), file);
        }
        match self.open.get_mut(path) {
            Some(file) => writeln!(file, "{text}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::window::LineKind;
    use super::*;

    #[test]
    fn one_file_per_window_per_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ChatLog::new(dir.path().to_owned());
        let utc = FixedOffset::east_opt(0).unwrap();
        let line = |ts, text: &str| Line {
            ts,
            msg_id: Some(1),
            kind: LineKind::Message {
                nick: "bob".into(),
                text: text.into(),
                action: false,
                own: false,
            },
            mention: false,
        };
        let day = 86_400_000;
        for (ts, window, text) in [
            (0, "#rust", "one\ntwo"),
            (1000, "#rust", "three"),
            (day, "#rust", "next day"),
            (0, "../bob", "dm"),
        ] {
            log.write(&entry("127.0.0.1:8000", window, &line(ts, text), utc));
        }
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(
            read("127.0.0.1:8000/#rust/1970-01-01.log"),
            "00:00:00 <bob> one\n\ttwo\n00:00:01 <bob> three\n"
        );
        assert_eq!(
            read("127.0.0.1:8000/#rust/1970-01-02.log"),
            "00:00:00 <bob> next day\n"
        );
        assert_eq!(
            read("127.0.0.1:8000/_.._bob/1970-01-01.log"),
            "00:00:00 <bob> dm\n"
        );
    }
}
