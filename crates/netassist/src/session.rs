//! State shared by every task of one run (options, console, macro counter,
//! totals) and the pieces all three modes use: turning input into bytes,
//! running a `--send/--every/--count` schedule, and the input channel.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::command::{Data, LineError};
use crate::console::Console;
use crate::encoding::encode_text;
use crate::macros::Macros;
use crate::options::{Options, Payload, Schedule};
use crate::settings::{Setting, Settings};
use crate::stats::Counters;

/// Input for a session: lines typed at a prompt, piped, or sent by a test;
/// or, with `--raw`, chunks of bytes from stdin. The channel closing means
/// input ended.
#[derive(Debug)]
pub struct Input {
    source: Source,
    /// Typed at a terminal: ending input (Ctrl-D) ends the run at once
    /// instead of starting the `--wait` period.
    pub interactive: bool,
}

#[derive(Debug)]
enum Source {
    None,
    Lines(mpsc::Receiver<String>),
    Raw(mpsc::Receiver<Bytes>),
}

/// One item of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A line without its line ending: data or a `/command`.
    Line(String),
    /// Bytes to send exactly as they are (`--raw`).
    Raw(Bytes),
}

impl Input {
    /// No input: only the payload schedule sends.
    pub fn none() -> Self {
        Input {
            source: Source::None,
            interactive: false,
        }
    }

    /// Piped-style lines from a channel (used by tests and embedders).
    pub fn channel(lines: mpsc::Receiver<String>) -> Self {
        Input {
            source: Source::Lines(lines),
            interactive: false,
        }
    }

    /// Lines typed at a terminal.
    pub fn typed(lines: mpsc::Receiver<String>) -> Self {
        Input {
            source: Source::Lines(lines),
            interactive: true,
        }
    }

    /// Raw bytes from a channel (`--raw`).
    pub fn raw(chunks: mpsc::Receiver<Bytes>) -> Self {
        Input {
            source: Source::Raw(chunks),
            interactive: false,
        }
    }

    /// Whether there is any input at all (besides the payload flags).
    pub fn exists(&self) -> bool {
        !matches!(self.source, Source::None)
    }

    /// The next item, or `None` once input has ended (at once if there is none).
    pub async fn next(&mut self) -> Option<Incoming> {
        match &mut self.source {
            Source::None => None,
            Source::Lines(rx) => rx.recv().await.map(Incoming::Line),
            Source::Raw(rx) => rx.recv().await.map(Incoming::Raw),
        }
    }

    /// Whether input is waiting to be handled right now (it is still being
    /// sent); takes one item to find out, for use when the run is over.
    pub fn has_waiting(&mut self) -> bool {
        match &mut self.source {
            Source::None => false,
            Source::Lines(rx) => rx.try_recv().is_ok(),
            Source::Raw(rx) => rx.try_recv().is_ok(),
        }
    }
}

/// What every task of a run shares.
#[derive(Debug)]
pub struct Session {
    /// The run's settings.
    pub options: Options,
    /// Output and transcript.
    pub console: Console,
    /// `{counter}` and friends.
    pub macros: Macros,
    /// TX/RX totals of the whole run.
    pub totals: Counters,
    /// Messages that were meant to be sent but were not (see [`Session::send_failed`]).
    failed_sends: AtomicU64,
    /// What can be switched while running.
    settings: RwLock<Settings>,
}

impl Session {
    /// A session ready to run.
    pub fn new(options: Options, console: Console) -> Arc<Self> {
        Arc::new(Session {
            settings: RwLock::new(options.settings()),
            macros: Macros::new(options.macros),
            options,
            console,
            totals: Counters::default(),
            failed_sends: AtomicU64::new(0),
        })
    }

    /// The settings in force now.
    pub fn settings(&self) -> Settings {
        *self.settings.read()
    }

    /// Switches a setting for everything that follows (`/encoding gbk`, ...)
    /// and says so.
    pub fn change(&self, setting: Setting) {
        let now = {
            let mut settings = self.settings.write();
            settings.apply(setting);
            *settings
        };
        self.console.set_view(now.view);
        self.console.status(&format!("settings: {now}"));
    }

    /// Starts the run's totals from zero; the modes reset their
    /// per-connection counters too.
    pub fn reset_totals(&self) {
        self.totals.reset();
        self.console.status("counters reset");
    }

    /// Reports a message that could not be sent (the encoding cannot
    /// represent it, bad hex, a datagram too long, a failed send) and counts
    /// it: a run with failed sends exits with code 1.
    pub fn send_failed(&self, why: &str) {
        self.failed_sends.fetch_add(1, Ordering::Relaxed);
        self.console.warn(why);
    }

    /// Reports an input line that was not acted on; bad data counts as a
    /// failed send, a misused `/command` does not.
    pub fn line_error(&self, error: &LineError) {
        match error {
            LineError::Data(why) => self.send_failed(why),
            LineError::Command(why) => self.console.warn(why),
        }
    }

    /// How many messages could not be sent so far.
    pub fn failed_sends(&self) -> u64 {
        self.failed_sends.load(Ordering::Relaxed)
    }

    /// The exit code for a run that ended with `outcome`: the outcome's own
    /// code, or 1 if it was a normal end but some messages could not be sent.
    pub fn exit_code(&self, outcome: crate::error::Outcome) -> u8 {
        match outcome.exit_code() {
            crate::error::EXIT_OK if self.failed_sends() > 0 => crate::error::EXIT_FAILURE,
            code => code,
        }
    }

    /// Encodes a text message as it goes on the wire: macros expanded,
    /// escapes resolved (if on), encoded with the encoding in force, the
    /// line ending appended.
    pub fn text_bytes(&self, template: &str) -> Result<Bytes, String> {
        let text = self.macros.expand(template);
        let settings = self.settings();
        let mut bytes = encode_text(&text, settings.encoding, settings.escapes)?;
        bytes.extend_from_slice(settings.eol.bytes());
        Ok(Bytes::from(bytes))
    }

    /// The bytes to send for one parsed input payload.
    pub fn data_bytes(&self, data: &Data) -> Result<Bytes, String> {
        match data {
            Data::Text(t) => self.text_bytes(t),
            Data::Bytes(b) => Ok(Bytes::copy_from_slice(b)),
        }
    }

    /// Parses an input line with the input mode in force.
    pub fn parse_line(&self, line: &str) -> Result<crate::command::Line, LineError> {
        crate::command::parse_line(line, self.settings().input_mode, self.options.commands)
    }

    /// The replies (echo and `--reply` rules) to one received chunk.
    pub fn responses(&self, bytes: &[u8], text: &str) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.options.echo {
            out.push(Bytes::copy_from_slice(bytes));
        }
        for template in crate::rules::responses(&self.options.rules, text) {
            match self.text_bytes(template) {
                Ok(b) => out.push(b),
                Err(e) => self.send_failed(&format!("cannot send reply: {e}")),
            }
        }
        out
    }

    /// Runs a payload schedule, handing each message to `send`, which returns
    /// `false` when the destination is gone. Returns when the count is done.
    pub async fn run_schedule<F, Fut>(&self, schedule: &Schedule, mut send: F)
    where
        F: FnMut(Bytes) -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut ticker = schedule.every.map(|every| {
            let mut t = tokio::time::interval(every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut sent = 0u64;
        while schedule.count.is_none_or(|count| sent < count) {
            if let Some(t) = ticker.as_mut() {
                t.tick().await;
            }
            let bytes = match &schedule.payload {
                Payload::Text(template) => match self.text_bytes(template) {
                    Ok(b) => b,
                    Err(e) => {
                        self.send_failed(&format!("cannot send --send text: {e}"));
                        return;
                    }
                },
                Payload::Bytes(b) => Bytes::copy_from_slice(b),
            };
            if !send(bytes).await {
                return;
            }
            sent += 1;
        }
    }

    /// Prints the run's totals (not with `--quiet`); the caller does this
    /// once the run is over.
    pub fn report_totals(&self) {
        self.console
            .status(&format!("totals: {}", self.totals.snapshot()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::{Capture, DisplayOptions};
    use crate::encoding::Encoding;
    use crate::options::LineEnding;
    use crate::rules::ReplyRule;
    use std::time::Duration;

    fn session(options: Options) -> Arc<Session> {
        let c = Capture::new();
        Session::new(
            options,
            Console::new(DisplayOptions::default(), c.sink(), c.sink(), None),
        )
    }

    #[test]
    fn text_is_expanded_encoded_and_terminated() {
        let s = session(Options {
            encoding: Encoding::Gbk,
            eol: LineEnding::Crlf,
            ..Options::default()
        });
        assert_eq!(
            s.text_bytes("你好{counter}").expect("encodable").as_ref(),
            b"\xc4\xe3\xba\xc31\r\n"
        );
        assert!(s.text_bytes("😀").is_err());
    }

    #[test]
    fn failed_sends_turn_a_normal_end_into_exit_code_1() {
        use crate::error::Outcome;
        let s = session(Options::default());
        assert_eq!(s.exit_code(Outcome::Done), 0);
        s.line_error(&LineError::Command("unknown command /x".into()));
        assert_eq!(
            s.failed_sends(),
            0,
            "a misused command is not a failed send"
        );
        s.line_error(&LineError::Data("bad hex".into()));
        s.send_failed("cannot be encoded");
        assert_eq!(s.failed_sends(), 2);
        assert_eq!(s.exit_code(Outcome::Done), 1);
        assert_eq!(s.exit_code(Outcome::Stopped), 1);
        assert_eq!(
            s.exit_code(Outcome::PeerClosed),
            5,
            "the specific code wins"
        );
    }

    #[test]
    fn switched_settings_apply_to_what_is_sent_next() {
        let s = session(Options::default());
        assert_eq!(
            s.text_bytes(r"你\r").expect("utf-8").as_ref(),
            "你\\r\n".as_bytes()
        );
        s.change(Setting::Encoding(Encoding::Gbk));
        s.change(Setting::Escapes(true));
        s.change(Setting::Eol(LineEnding::None));
        assert_eq!(s.text_bytes(r"你\r").expect("gbk").as_ref(), b"\xc4\xe3\r");
        assert!(s.text_bytes(r"\x1").is_err(), "a bad escape is refused");
    }

    #[test]
    fn responses_combine_echo_and_rules() {
        let s = session(Options {
            echo: true,
            rules: vec![ReplyRule::parse("ping=>pong").expect("rule")],
            ..Options::default()
        });
        let r = s.responses(b"ping\n", "ping\n");
        assert_eq!(
            r,
            vec![Bytes::from_static(b"ping\n"), Bytes::from_static(b"pong\n")]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_sends_count_times() {
        let s = session(Options::default());
        let schedule = Schedule {
            payload: Payload::Text("n{counter}".into()),
            every: Some(Duration::from_millis(500)),
            count: Some(3),
        };
        let got = std::sync::Mutex::new(Vec::new());
        s.run_schedule(&schedule, |b| {
            got.lock().expect("lock").push(b);
            async { true }
        })
        .await;
        assert_eq!(
            got.into_inner().expect("lock"),
            vec![
                Bytes::from_static(b"n1\n"),
                Bytes::from_static(b"n2\n"),
                Bytes::from_static(b"n3\n")
            ]
        );
    }

    #[tokio::test]
    async fn schedule_stops_when_destination_is_gone() {
        let s = session(Options::default());
        let schedule = Schedule {
            payload: Payload::Bytes(vec![1]),
            every: None,
            count: None,
        };
        let mut n = 0;
        s.run_schedule(&schedule, |_| {
            n += 1;
            let more = n < 5;
            async move { more }
        })
        .await;
        assert_eq!(n, 5);
    }
}
