//! The resolved settings of one run, independent of how they were given.
//!
//! `cli` turns flags into an [`Options`]; tests build one directly. Keeping
//! this separate from clap lets the session code be driven in-process.

use std::time::Duration;

use crate::duration::{check_max, check_period, format_duration};
use crate::encoding::{Encoding, encode_text};
use crate::error::Error;
use crate::rules::ReplyRule;

/// How received (and sent) data is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum View {
    /// Decoded text (control characters escaped).
    #[default]
    Text,
    /// `hexdump -C` rows.
    Hex,
    /// Text line followed by `hexdump -C` rows.
    Both,
}

/// What is appended to every text message that is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LineEnding {
    /// Nothing: the text is sent exactly as written (NetAssist's behaviour).
    None,
    /// `\n` (the default: line-based servers and `nc` expect it).
    #[default]
    Lf,
    /// `\r\n` (telnet-style and many Windows or HTTP-like protocols).
    Crlf,
}

impl LineEnding {
    /// The bytes appended to a text message.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::None => b"",
            LineEnding::Lf => b"\n",
            LineEnding::Crlf => b"\r\n",
        }
    }
}

/// How typed or piped input lines are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InputMode {
    /// Lines are text: macros expanded, encoded with `--encoding`, `--eol` appended.
    #[default]
    Text,
    /// Lines are hex bytes such as `de ad be ef`, sent exactly.
    Hex,
}

/// How long to stay after our own input has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Keep receiving for this long (a TCP client also stops when the peer closes).
    For(Duration),
    /// Never stop by ourselves: until Ctrl-C, `/quit` or (TCP client) the peer closes.
    Forever,
}

impl Wait {
    /// Parses `forever` or a duration such as `2s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "forever" | "close" => Ok(Wait::Forever),
            other => crate::duration::parse_duration(other).map(Wait::For),
        }
    }
}

/// Data sent on a schedule: from `--send`, `--hex` or `--file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Text: macros expanded and encoded at each send, `--eol` appended.
    Text(String),
    /// Exact bytes (from `--hex` or `--file`), sent unchanged.
    Bytes(Vec<u8>),
}

/// A payload plus when to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// What to send.
    pub payload: Payload,
    /// Pause between sends; `None` sends back to back.
    pub every: Option<Duration>,
    /// How many sends; `None` means until the run ends.
    pub count: Option<u64>,
}

/// TLS for a TCP mode.
#[derive(Debug, Clone)]
pub enum Tls {
    /// `tcp-client --tls`: what to trust.
    Client(crate::tls::TlsClient),
    /// `tcp-server --tls`: the certificate to serve.
    Server(crate::tls::TlsServer),
}

/// How long, by default, a broadcast waits for a client that does not read.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a session needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// Text, hex or both.
    pub view: View,
    /// Prefix shown lines with `[HH:MM:SS.mmm]`.
    pub timestamps: bool,
    /// Scripts: print only received data, raw; no status lines, no TX lines.
    pub quiet: bool,
    /// Byte-exact scripting (`--raw`): stdin goes out unchanged, received
    /// bytes go to stdout unchanged, and the end of input half-closes.
    pub raw: bool,
    /// Encoding for decoding received and encoding sent text.
    pub encoding: Encoding,
    /// Appended to sent text.
    pub eol: LineEnding,
    /// How input lines are read.
    pub input_mode: InputMode,
    /// Whether input lines starting with `/` are commands.
    pub commands: bool,
    /// Expand `{counter}` and friends in sent text.
    pub macros: bool,
    /// Resolve `\r`, `\n`, `\t`, `\0`, `\\` and `\xNN` in sent text.
    pub escapes: bool,
    /// `--send`/`--hex`/`--file` with `--every`/`--count`.
    pub schedule: Option<Schedule>,
    /// Auto-reply rules, first match wins.
    pub rules: Vec<ReplyRule>,
    /// Send every received chunk straight back.
    pub echo: bool,
    /// Explicit `--wait`; `None` picks the mode's default.
    pub wait: Option<Wait>,
    /// TCP server: most clients connected at once.
    pub max_clients: usize,
    /// TCP server: how long a broadcast waits for a client whose queue is
    /// full before that client counts as stalled and is skipped.
    pub stall_timeout: Duration,
    /// TCP modes: TLS (`--tls`).
    pub tls: Option<Tls>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            view: View::Text,
            timestamps: false,
            quiet: false,
            raw: false,
            encoding: Encoding::Utf8,
            eol: LineEnding::Lf,
            input_mode: InputMode::Text,
            commands: true,
            macros: true,
            escapes: false,
            schedule: None,
            rules: Vec::new(),
            echo: false,
            wait: None,
            max_clients: 1024,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            tls: None,
        }
    }
}

impl Options {
    /// The starting values of what can be switched while running.
    pub fn settings(&self) -> crate::settings::Settings {
        crate::settings::Settings {
            encoding: self.encoding,
            view: self.view,
            input_mode: self.input_mode,
            eol: self.eol,
            escapes: self.escapes,
        }
    }

    /// Whether this run answers received data by itself (`--echo`/`--reply`).
    pub fn responds(&self) -> bool {
        self.echo || !self.rules.is_empty()
    }

    /// Checks what the command line checks, for options built in code: a
    /// repeat period from 1ms to 365 days, a `--wait` of at most 365 days,
    /// and `--send` text and `--reply` responses that `--encoding` can encode
    /// (with valid escapes, if `--escapes` is on).
    /// Every mode calls this first, so bad values are usage errors (exit code
    /// 2), never a panic in a timer.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(every) = self.schedule.as_ref().and_then(|s| s.every) {
            check_period(every)
                .map_err(|e| Error::Usage(format!("--every {} {e}", format_duration(every))))?;
        }
        check_period(self.stall_timeout).map_err(|e| {
            Error::Usage(format!(
                "--stall-timeout {} {e}",
                format_duration(self.stall_timeout)
            ))
        })?;
        if let Some(Wait::For(wait)) = self.wait {
            check_max(wait)
                .map_err(|e| Error::Usage(format!("--wait {} {e}", format_duration(wait))))?;
        }
        // Text that can never be sent is refused before anything is sent.
        // Macros expand to ASCII, which every encoding has, so checking the
        // template is enough.
        if let Some(Payload::Text(text)) = self.schedule.as_ref().map(|s| &s.payload) {
            encode_text(text, self.encoding, self.escapes)
                .map_err(|e| Error::Usage(format!("--send: {e}")))?;
        }
        for rule in &self.rules {
            encode_text(&rule.response, self.encoding, self.escapes).map_err(|e| {
                Error::Usage(format!(
                    "--reply '{}=>{}': {e}",
                    rule.pattern, rule.response
                ))
            })?;
        }
        Ok(())
    }

    /// The `--wait` in force: explicit, or `forever` for a responder or a
    /// server-like mode, or `0` for a client-like one.
    pub fn effective_wait(&self, server_like: bool) -> Wait {
        match self.wait {
            Some(w) => w,
            None if server_like || self.responds() => Wait::Forever,
            None => Wait::For(Duration::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_parses_forever_and_durations() {
        assert_eq!(Wait::parse("forever"), Ok(Wait::Forever));
        assert_eq!(Wait::parse("close"), Ok(Wait::Forever));
        assert_eq!(Wait::parse("2s"), Ok(Wait::For(Duration::from_secs(2))));
        assert!(Wait::parse("soon").is_err());
    }

    #[test]
    fn validate_refuses_zero_periods_and_absurd_waits() {
        let mut o = Options {
            schedule: Some(Schedule {
                payload: Payload::Bytes(vec![1]),
                every: Some(Duration::ZERO),
                count: None,
            }),
            ..Options::default()
        };
        let err = o.validate().expect_err("zero period");
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with("--every 0s is shorter"),
            "{err}"
        );
        o.schedule = None;
        assert!(o.validate().is_ok());
        o.encoding = Encoding::Gbk;
        o.schedule = Some(Schedule {
            payload: Payload::Text("你好 {counter}".into()),
            every: None,
            count: Some(1),
        });
        assert!(o.validate().is_ok());
        o.schedule = Some(Schedule {
            payload: Payload::Text("😀".into()),
            every: None,
            count: Some(1),
        });
        let err = o.validate().expect_err("unencodable --send");
        assert!(err.to_string().starts_with("--send: "), "{err}");
        o.schedule = None;
        o.rules = vec![ReplyRule::parse("a=>😀").expect("rule")];
        assert_eq!(o.validate().expect_err("unencodable reply").exit_code(), 2);
        o.rules.clear();
        o.wait = Some(Wait::For(Duration::MAX));
        assert_eq!(o.validate().expect_err("absurd wait").exit_code(), 2);
    }

    #[test]
    fn wait_defaults_depend_on_role() {
        let mut o = Options::default();
        assert_eq!(o.effective_wait(false), Wait::For(Duration::ZERO));
        assert_eq!(o.effective_wait(true), Wait::Forever);
        o.echo = true;
        assert_eq!(o.effective_wait(false), Wait::Forever);
        o.wait = Some(Wait::For(Duration::from_secs(1)));
        assert_eq!(o.effective_wait(true), Wait::For(Duration::from_secs(1)));
    }
}
