//! Where everything a session shows goes: received and sent data (stdout),
//! status and errors (stderr) and the `--log` transcript.
//!
//! The sinks are plain `Write` objects so the same code prints to a terminal
//! (through rustyline's external printer, above the prompt), to pipes, or into
//! a [`Capture`] buffer that tests can wait on.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use chrono::Local;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::codec::{escape_text, hexdump_lines};
use crate::options::View;
use crate::transcript::Transcript;

/// Which way data went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from a peer.
    Rx,
    /// Sent to a peer.
    Tx,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Rx => "RX",
            Direction::Tx => "TX",
        })
    }
}

/// How data lines look on screen.
#[derive(Debug, Clone, Copy, Default)]
pub struct DisplayOptions {
    /// Text, hex or both.
    pub view: View,
    /// Prefix lines with `[HH:MM:SS.mmm]`.
    pub timestamps: bool,
    /// Only received payload, undecorated; no status or TX lines.
    pub quiet: bool,
    /// Received bytes exactly as they arrived (`--raw`); no status or TX lines.
    pub raw: bool,
}

type Sink = Box<dyn Write + Send>;

struct Sinks {
    out: Sink,
    err: Sink,
    log: Option<Transcript>,
    /// The view can be switched while running (`/view`).
    view: View,
}

/// The output side of a session. Cheap to share behind an `Arc`; each call
/// writes one complete event under a short lock, so lines never interleave.
pub struct Console {
    display: DisplayOptions,
    sinks: Mutex<Sinks>,
}

impl fmt::Debug for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Console")
            .field("display", &self.display)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// A console writing data to `out`, messages to `err` and, optionally, a transcript.
    pub fn new(display: DisplayOptions, out: Sink, err: Sink, log: Option<Transcript>) -> Self {
        Console {
            display,
            sinks: Mutex::new(Sinks {
                out,
                err,
                log,
                view: display.view,
            }),
        }
    }

    /// Switches how data is shown from now on.
    pub fn set_view(&self, view: View) {
        self.sinks.lock().view = view;
    }

    /// Replaces the screen sinks, e.g. to stop printing through the line
    /// editor once the session is over and the terminal is being restored.
    pub fn set_sinks(&self, out: Sink, err: Sink) {
        let mut sinks = self.sinks.lock();
        sinks.out = out;
        sinks.err = err;
    }

    /// Shows one chunk of data. `text` is its decoded form (possibly shorter
    /// than `bytes` when a character continues in the next chunk); `offset`
    /// is the stream position of `bytes[0]` for the hex view.
    pub fn data(&self, dir: Direction, label: &str, bytes: &[u8], text: &str, offset: u64) {
        let mut sinks = self.sinks.lock();
        if let Some(log) = sinks.log.as_mut()
            && let Err(e) = log.data(dir, label, bytes, text)
        {
            tracing::warn!("cannot write the transcript: {e}");
        }
        if self.display.raw {
            if dir == Direction::Rx {
                write_flush(&mut sinks.out, bytes);
            }
            return;
        }
        if self.display.quiet && dir == Direction::Tx {
            return;
        }
        let rendered = self.render(sinks.view, dir, label, bytes, text, offset);
        if !rendered.is_empty() {
            write_flush(&mut sinks.out, rendered.as_bytes());
        }
    }

    /// A session event (connected, disconnected, ...): shown unless `--quiet`,
    /// always recorded in the transcript.
    pub fn status(&self, message: &str) {
        let mut sinks = self.sinks.lock();
        if let Some(log) = sinks.log.as_mut()
            && let Err(e) = log.note(message)
        {
            tracing::warn!("cannot write the transcript: {e}");
        }
        if !self.display.quiet && !self.display.raw {
            let line = format!("{}-- {message}\n", self.stamp());
            write_flush(&mut sinks.err, line.as_bytes());
        }
    }

    /// A problem the user must see even with `--quiet` (bad input line,
    /// refused send, ...). Also goes to the transcript and to tracing.
    pub fn warn(&self, message: &str) {
        tracing::warn!("{message}");
        let mut sinks = self.sinks.lock();
        if let Some(log) = sinks.log.as_mut()
            && let Err(e) = log.note(&format!("warning: {message}"))
        {
            tracing::warn!("cannot write the transcript: {e}");
        }
        let line = format!("{}!! {message}\n", self.stamp());
        write_flush(&mut sinks.err, line.as_bytes());
    }

    /// An answer to something the user asked (`/list`, `/stats`, `/help`):
    /// always shown, not recorded.
    pub fn info(&self, message: &str) {
        let mut text = message.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        write_flush(&mut self.sinks.lock().err, text.as_bytes());
    }

    fn stamp(&self) -> String {
        if self.display.timestamps && !self.display.quiet {
            format!("[{}] ", Local::now().format("%H:%M:%S%.3f"))
        } else {
            String::new()
        }
    }

    /// Formats one data event for the screen.
    fn render(
        &self,
        view: View,
        dir: Direction,
        label: &str,
        bytes: &[u8],
        text: &str,
        offset: u64,
    ) -> String {
        let show_text = matches!(view, View::Text | View::Both);
        let show_hex = matches!(view, View::Hex | View::Both);
        let mut out = String::new();
        if self.display.quiet {
            if show_text {
                out.push_str(text);
            }
            if show_hex {
                for line in hexdump_lines(bytes, offset) {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            return out;
        }
        if view == View::Text && text.is_empty() && !bytes.is_empty() {
            // Only the first bytes of a character arrived; it is shown whole
            // with the next chunk.
            return out;
        }
        let header = format!("{}{dir} {label} ", self.stamp());
        out.push_str(&header);
        if show_text {
            // CRLF is a line end like LF (telnet-style servers, the snack
            // shop): one trailing line end is dropped and inner ones break
            // the line. A lone CR is data and stays visible as `\r`.
            let body = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(text)
                .replace("\r\n", "\n");
            let shown = escape_text(&body, true);
            let indent = " ".repeat(header.chars().count());
            for (i, line) in shown.split('\n').enumerate() {
                if i > 0 {
                    out.push_str(&indent);
                }
                out.push_str(line);
                out.push('\n');
            }
        } else {
            out.push_str(&format!("{} bytes\n", bytes.len()));
        }
        if show_hex {
            for line in hexdump_lines(bytes, offset) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

fn write_flush(sink: &mut Sink, bytes: &[u8]) {
    // A closed stdout (e.g. piped into `head`) must not kill the session;
    // the transcript and the network side keep working.
    if let Err(e) = sink.write_all(bytes).and_then(|()| sink.flush()) {
        tracing::debug!("output write failed: {e}");
    }
}

/// An in-memory output sink that can be waited on: for embedding netassist
/// and for tests that need to know when something was shown.
#[derive(Clone, Default)]
pub struct Capture {
    inner: Arc<(Mutex<Vec<u8>>, Notify)>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Capture").field(&self.text()).finish()
    }
}

impl Capture {
    /// A new, empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, decoded as UTF-8 (lossily).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.inner.0.lock()).into_owned()
    }

    /// Everything written so far, as bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.inner.0.lock().clone()
    }

    /// Waits until the captured text contains `needle`, up to `timeout`.
    /// Returns whether it appeared.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_until(
            |bytes| String::from_utf8_lossy(bytes).contains(needle),
            timeout,
        )
        .await
    }

    /// Waits until the captured bytes satisfy `done`, up to `timeout`.
    /// Returns whether they did.
    pub async fn wait_until(&self, done: impl Fn(&[u8]) -> bool, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.inner.1.notified();
                tokio::pin!(notified);
                // Register before checking, so a write in between is not missed.
                notified.as_mut().enable();
                if done(&self.inner.0.lock()) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    /// A boxed writer for [`Console::new`].
    pub fn sink(&self) -> Box<dyn Write + Send> {
        Box::new(self.clone())
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.0.lock().extend_from_slice(buf);
        self.inner.1.notify_waiters();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(display: DisplayOptions) -> (Console, Capture, Capture) {
        let (out, err) = (Capture::new(), Capture::new());
        (
            Console::new(display, out.sink(), err.sink(), None),
            out,
            err,
        )
    }

    #[test]
    fn text_view_marks_direction_and_peer() {
        let (c, out, err) = console(DisplayOptions::default());
        c.data(Direction::Rx, "[127.0.0.1:5555]", b"hello\n", "hello\n", 0);
        c.data(Direction::Tx, "#2 127.0.0.1:6", b"a\nb", "a\nb", 0);
        c.status("connected");
        assert_eq!(
            out.text(),
            "RX [127.0.0.1:5555] hello\nTX #2 127.0.0.1:6 a\n                  b\n"
        );
        assert_eq!(err.text(), "-- connected\n");
    }

    #[test]
    fn crlf_line_ends_show_as_line_ends() {
        let (c, out, _) = console(DisplayOptions::default());
        c.data(Direction::Rx, "[p]", b"a\r\nb\r\n", "a\r\nb\r\n", 0);
        c.data(Direction::Rx, "[p]", b"bare\rcr\r", "bare\rcr\r", 0);
        assert_eq!(
            out.text(),
            "RX [p] a\n       b\nRX [p] bare\\rcr\\r\n",
            "CRLF is a line end; a lone CR stays visible"
        );
    }

    #[test]
    fn hex_and_both_views() {
        let (c, out, _) = console(DisplayOptions {
            view: View::Hex,
            ..Default::default()
        });
        c.data(Direction::Rx, "[p]", b"hi", "hi", 16);
        assert_eq!(
            out.text(),
            "RX [p] 2 bytes\n00000010  68 69                                             |hi|\n"
        );
        let (c, out, _) = console(DisplayOptions {
            view: View::Both,
            ..Default::default()
        });
        c.data(Direction::Rx, "[p]", b"\x1b", "\x1b", 0);
        assert_eq!(
            out.text(),
            "RX [p] \\x1b\n00000000  1b                                                |.|\n"
        );
    }

    #[test]
    fn quiet_prints_raw_received_text_only() {
        let (c, out, err) = console(DisplayOptions {
            quiet: true,
            timestamps: true,
            ..Default::default()
        });
        c.data(Direction::Tx, "[p]", b"ping\n", "ping\n", 0);
        c.data(Direction::Rx, "[p]", b"pong\n", "pong\n", 0);
        c.status("connected");
        c.warn("bad line");
        assert_eq!(out.text(), "pong\n");
        assert_eq!(err.text(), "!! bad line\n");
    }

    #[test]
    fn raw_prints_received_bytes_exactly_and_nothing_else() {
        let (c, out, err) = console(DisplayOptions {
            raw: true,
            ..Default::default()
        });
        c.data(Direction::Rx, "[p]", b"\xff\x00a\r\n", "\u{fffd}\0a\r\n", 0);
        c.data(Direction::Tx, "[p]", b"sent", "sent", 0);
        c.status("connected");
        assert_eq!(out.bytes(), b"\xff\x00a\r\n");
        assert_eq!(err.text(), "");
    }

    #[test]
    fn timestamps_prefix_lines() {
        let (c, out, _) = console(DisplayOptions {
            timestamps: true,
            ..Default::default()
        });
        c.data(Direction::Rx, "[p]", b"x", "x", 0);
        let text = out.text();
        // "[HH:MM:SS.mmm] RX [p] x\n"
        assert_eq!(text.len(), "[00:00:00.000] RX [p] x\n".len(), "{text}");
        assert!(text.starts_with('[') && text[13..].starts_with("] RX [p] x"));
    }

    #[test]
    fn partial_character_is_not_shown_until_complete() {
        let (c, out, _) = console(DisplayOptions::default());
        c.data(Direction::Rx, "[p]", &[0xc4], "", 0);
        assert_eq!(out.text(), "");
    }

    #[tokio::test]
    async fn capture_wait_for_sees_later_writes() {
        let cap = Capture::new();
        let mut writer = cap.clone();
        let waiter = tokio::spawn({
            let cap = cap.clone();
            async move { cap.wait_for("done", Duration::from_secs(10)).await }
        });
        tokio::task::yield_now().await;
        writer.write_all(b"all done").expect("write");
        assert!(waiter.await.expect("join"));
        assert!(!cap.wait_for("never", Duration::from_millis(10)).await);
    }
}
