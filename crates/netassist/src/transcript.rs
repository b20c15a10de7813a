//! `--log FILE`: a timestamped transcript of both directions and of session
//! events, one line per event, appended so earlier runs are kept.
//!
//! Line format (documented in `docs/netassist.md`):
//! ```text
//! 2024-05-06 13:04:05.123 RX [127.0.0.1:9000] 6 bytes "hello\n" | 68 65 6c 6c 6f 0a
//! 2024-05-06 13:04:05.124 -- connected to 127.0.0.1:9000
//! ```
//! The quoted text is decoded with `--encoding` and escaped, so every event is
//! exactly one line; the hex after `|` is the exact bytes.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::Local;

use crate::codec::{escape_text, to_hex};
use crate::console::Direction;

/// An open transcript file.
#[derive(Debug)]
pub struct Transcript {
    file: BufWriter<File>,
}

impl Transcript {
    /// Opens (creating or appending to) the transcript at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Transcript {
            file: BufWriter::new(file),
        })
    }

    /// Records data sent or received. `text` is the decoded form of `bytes`.
    pub fn data(
        &mut self,
        dir: Direction,
        label: &str,
        bytes: &[u8],
        text: &str,
    ) -> io::Result<()> {
        writeln!(
            self.file,
            "{} {} {} {} bytes \"{}\" | {}",
            stamp(),
            dir,
            label,
            bytes.len(),
            escape_text(text, false).replace('"', "\\\""),
            to_hex(bytes)
        )?;
        self.file.flush()
    }

    /// Records a session event such as a connection or a disconnection.
    pub fn note(&mut self, message: &str) -> io::Result<()> {
        writeln!(self.file, "{} -- {}", stamp(), escape_text(message, false))?;
        self.file.flush()
    }
}

fn stamp() -> String {
    Local::now().format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_per_event_and_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.log");
        {
            let mut t = Transcript::open(&path).expect("open");
            t.data(Direction::Rx, "[1.2.3.4:5]", b"hi \"x\"\n", "hi \"x\"\n")
                .expect("write");
            t.note("closed").expect("write");
        }
        {
            let mut t = Transcript::open(&path).expect("reopen");
            t.data(Direction::Tx, "#2 [::1]:7", &[0xc4, 0xe3], "你")
                .expect("write");
        }
        let log = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "{log}");
        assert!(
            lines[0].ends_with(r#" RX [1.2.3.4:5] 7 bytes "hi \"x\"\n" | 68 69 20 22 78 22 0a"#)
        );
        assert!(lines[1].ends_with(" -- closed"));
        assert!(lines[2].ends_with(r#" TX #2 [::1]:7 2 bytes "你" | c4 e3"#));
        // "YYYY-MM-DD HH:MM:SS.mmm " prefix
        assert_eq!(lines[0].as_bytes()[4], b'-');
        assert_eq!(lines[0].as_bytes()[19], b'.');
    }
}
