//! What one typed or piped input line means: data to send, or a `/command`.
//!
//! Grammar (with commands enabled; `--literal` turns every line into data):
//! ```text
//! line    := "/to" TARGET payload | "/list" | "/kick" ID | "/stats" | "/help" | "/quit"
//!          | payload
//! payload := "/hex" BYTES | "/text" TEXT | "//" TEXT (a leading "/") | TEXT
//! ```
//! A plain payload is text, or hex with `--input hex`.

use crate::codec::parse_hex;
use crate::options::InputMode;
use crate::settings::{self, Setting};

/// Data from one input line, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// Text: macros, `--encoding` and `--eol` apply when sent.
    Text(String),
    /// Exact bytes.
    Bytes(Vec<u8>),
}

/// Why an input line was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A `/command` used wrongly (unknown, missing argument): nothing was meant to be sent.
    #[error("{0}")]
    Command(String),
    /// Data that cannot be sent (bad hex): it counts as a failed send.
    #[error("{0}")]
    Data(String),
}

/// One parsed input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Send to the default target (the peer, all clients, or the UDP peer).
    Send(Data),
    /// Send to one client id (`3`, `#3`) or, in UDP, a peer id or `HOST:PORT`.
    SendTo(String, Data),
    /// List clients (TCP server) or peers seen (UDP).
    List,
    /// Disconnect a TCP server client.
    Kick(String),
    /// Show TX/RX counters.
    Stats,
    /// Switch a setting (`/encoding gbk`, `/view hex`, ...).
    Set(Setting),
    /// Show the settings in force (`/settings`, or a setting command without a value).
    Settings,
    /// Start the TX/RX counters from zero.
    Reset,
    /// Show the commands.
    Help,
    /// End the run now.
    Quit,
}

/// Parses one input line (without its line terminator).
pub fn parse_line(line: &str, mode: InputMode, commands: bool) -> Result<Line, LineError> {
    if !commands || !line.starts_with('/') || line.starts_with("//") {
        return parse_payload(line, mode, commands).map(Line::Send);
    }
    let (word, rest) = split_word(line);
    match word {
        "/to" => {
            let (target, payload) = split_word(rest);
            if target.is_empty() {
                return Err(LineError::Command(
                    "usage: /to TARGET TEXT (TARGET is a client id or, in udp, HOST:PORT)".into(),
                ));
            }
            Ok(Line::SendTo(
                target.to_owned(),
                parse_payload(payload, mode, true)?,
            ))
        }
        "/list" | "/ls" => Ok(Line::List),
        "/kick" => {
            let id = rest.trim();
            if id.is_empty() {
                return Err(LineError::Command("usage: /kick ID".into()));
            }
            Ok(Line::Kick(id.to_owned()))
        }
        "/stats" => Ok(Line::Stats),
        "/reset" => Ok(Line::Reset),
        "/settings" => Ok(Line::Settings),
        command if settings::COMMANDS.contains(&command) => match rest.trim() {
            "" => Ok(Line::Settings),
            value => Setting::parse(command, value)
                .map(Line::Set)
                .map_err(LineError::Command),
        },
        "/help" | "/?" => Ok(Line::Help),
        "/quit" | "/exit" | "/q" => Ok(Line::Quit),
        "/hex" | "/text" => parse_payload(line, mode, true).map(Line::Send),
        other => Err(LineError::Command(format!(
            "unknown command {other} (type /help; start a line with // to send a leading /)"
        ))),
    }
}

fn parse_payload(text: &str, mode: InputMode, commands: bool) -> Result<Data, LineError> {
    if commands {
        if let Some(rest) = text.strip_prefix("//") {
            return plain(&format!("/{rest}"), mode);
        }
        let (word, rest) = split_word(text);
        match word {
            "/hex" => return hex(rest),
            "/text" => return Ok(Data::Text(rest.to_owned())),
            _ => {}
        }
    }
    plain(text, mode)
}

fn plain(text: &str, mode: InputMode) -> Result<Data, LineError> {
    match mode {
        InputMode::Text => Ok(Data::Text(text.to_owned())),
        InputMode::Hex => hex(text),
    }
}

fn hex(text: &str) -> Result<Data, LineError> {
    parse_hex(text)
        .map(Data::Bytes)
        .map_err(|e| LineError::Data(e.to_string()))
}

/// Splits off the first space-separated word; the rest keeps its inner spacing.
fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((word, rest)) => (word, rest),
        None => (s, ""),
    }
}

/// The `/help` text for a mode.
pub fn help(server: bool, udp: bool) -> String {
    let mut h = String::from(
        "Type a line to send it. Commands:\n  \
         /hex BYTES        send bytes, e.g. /hex de ad be ef\n  \
         /text TEXT        send text (useful with --input hex)\n  \
         //TEXT            send text starting with /\n",
    );
    if server {
        h.push_str(
            "  /to ID TEXT       send to one client only (/to 2 /hex 0a works too)\n  \
             /list             list connected clients\n  \
             /kick ID          disconnect a client\n",
        );
    }
    if udp {
        h.push_str(
            "  /to PEER TEXT     send to a peer id from /list or to HOST:PORT\n  \
             /list             list peers seen so far\n",
        );
    }
    h.push_str(
        "  /stats            TX/RX byte and packet counters\n  \
         /reset            start the counters from zero\n  \
         /encoding E       switch the encoding: utf-8, gbk, latin-1\n  \
         /view V           switch the view: text, hex, both\n  \
         /input I          read typed lines as text or hex\n  \
         /eol E            line ending for sent text: none, lf, crlf\n  \
         /escapes on|off   \\r \\n \\t \\0 \\\\ \\xNN in sent text\n  \
         /settings         show the settings in force\n  \
         /help             this text\n  \
         /quit             end the session (also Ctrl-D)\n",
    );
    if server {
        h.push_str("Plain lines go to every connected client.\n");
    } else if udp {
        h.push_str("Plain lines go to --to, or else to the peer that sent last.\n");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str) -> Data {
        Data::Text(s.into())
    }

    #[test]
    fn plain_lines_are_data() {
        assert_eq!(
            parse_line("hello", InputMode::Text, true),
            Ok(Line::Send(text("hello")))
        );
        assert_eq!(
            parse_line("", InputMode::Text, true),
            Ok(Line::Send(text("")))
        );
        assert_eq!(
            parse_line("//etc", InputMode::Text, true),
            Ok(Line::Send(text("/etc")))
        );
        assert_eq!(
            parse_line("/etc", InputMode::Text, false),
            Ok(Line::Send(text("/etc")))
        );
        assert_eq!(
            parse_line("de ad", InputMode::Hex, true),
            Ok(Line::Send(Data::Bytes(vec![0xde, 0xad])))
        );
        assert!(parse_line("zz", InputMode::Hex, true).is_err());
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse_line("/hex 0a 0d", InputMode::Text, true),
            Ok(Line::Send(Data::Bytes(vec![0x0a, 0x0d])))
        );
        assert_eq!(
            parse_line("/text hi there", InputMode::Hex, true),
            Ok(Line::Send(text("hi there")))
        );
        assert_eq!(
            parse_line("/to 2 hi  there", InputMode::Text, true),
            Ok(Line::SendTo("2".into(), text("hi  there")))
        );
        assert_eq!(
            parse_line("/to #3 /hex ff", InputMode::Text, true),
            Ok(Line::SendTo("#3".into(), Data::Bytes(vec![0xff])))
        );
        assert_eq!(
            parse_line("/to [::1]:9 //x", InputMode::Text, true),
            Ok(Line::SendTo("[::1]:9".into(), text("/x")))
        );
        assert_eq!(parse_line("/list", InputMode::Text, true), Ok(Line::List));
        assert_eq!(
            parse_line("/kick 4", InputMode::Text, true),
            Ok(Line::Kick("4".into()))
        );
        assert_eq!(parse_line("/stats", InputMode::Text, true), Ok(Line::Stats));
        assert_eq!(parse_line("/reset", InputMode::Text, true), Ok(Line::Reset));
        assert_eq!(
            parse_line("/encoding gbk", InputMode::Text, true),
            Ok(Line::Set(Setting::Encoding(crate::encoding::Encoding::Gbk)))
        );
        assert_eq!(
            parse_line("/view", InputMode::Text, true),
            Ok(Line::Settings)
        );
        assert!(matches!(
            parse_line("/view sideways", InputMode::Text, true),
            Err(LineError::Command(_))
        ));
        assert_eq!(parse_line("/quit", InputMode::Text, true), Ok(Line::Quit));
        for command in ["/kick", "/to", "/frobnicate"] {
            assert!(
                matches!(
                    parse_line(command, InputMode::Text, true),
                    Err(LineError::Command(_))
                ),
                "{command}"
            );
        }
        assert!(matches!(
            parse_line("/hex xyz", InputMode::Text, true),
            Err(LineError::Data(_))
        ));
    }

    #[test]
    fn help_mentions_mode_commands() {
        assert!(help(true, false).contains("/kick"));
        assert!(!help(false, false).contains("/kick"));
        assert!(help(false, true).contains("HOST:PORT"));
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}", hex in any::<bool>(), cmds in any::<bool>()) {
            let mode = if hex { InputMode::Hex } else { InputMode::Text };
            let _ = parse_line(&s, mode, cmds);
        }
    }
}
