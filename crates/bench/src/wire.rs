//! What a bench client says in each protocol: logging in and joining the
//! room, a chat message, answering keep-alives, and leaving. Over TCP or a
//! WebSocket alike: this works on whole lines, and the crate's `transport`
//! module carries them.
//!
//! - JSON (`docs/protocol.md`): `login`, wait for `welcome`; everyone
//!   starts in `lobby`, any other room is joined with `join` and ready once
//!   its `history_end` arrives. Messages are `broadcast`s; `logout` leaves.
//! - IRC: `NICK`/`USER`, wait for `001`, `JOIN #room`, ready at `366` (end
//!   of NAMES). Messages are `PRIVMSG #room :text`; `QUIT` leaves. A `PING`
//!   is answered with `PONG` at any time, during login and during the run.
//!
//! Login is not the hot path, so replies are parsed properly (serde for
//! JSON, [`irc::parse`] for IRC). During the run only [`irc_pongs`] looks at
//! anything but the payload stamps.

use std::time::Duration;

use chatroom_proto::irc::{self, numeric};
use chatroom_proto::json::{self, Ref, Request, ServerFrame};
use chatroom_proto::room;
use memchr::memmem;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::transport::Conn;

/// The wire protocol the clients speak, and what carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proto {
    /// The chatroom JSON protocol over TCP.
    #[serde(rename = "json")]
    Json,
    /// IRC over TCP (works against any IRC server).
    #[serde(rename = "irc")]
    Irc,
    /// The chatroom JSON protocol over a WebSocket at `/ws` (the server's
    /// HTTP listener), one frame per text message.
    #[serde(rename = "ws")]
    Ws,
    /// IRC over a WebSocket at `/ws` with the subprotocol
    /// `text.ircv3.net`, one line per text message.
    #[serde(rename = "irc-ws")]
    IrcWs,
}

impl Proto {
    /// Whether the clients speak IRC (over TCP or a WebSocket).
    pub fn is_irc(self) -> bool {
        matches!(self, Proto::Irc | Proto::IrcWs)
    }

    /// Whether the clients connect over a WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, Proto::Ws | Proto::IrcWs)
    }
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Json => "json",
            Proto::Irc => "irc",
            Proto::Ws => "ws",
            Proto::IrcWs => "irc-ws",
        })
    }
}

/// The longest line accepted while logging in: a JSON `joined` frame lists
/// every member of the room, which at 10,000 members is a few hundred KiB.
pub const MAX_LOGIN_LINE: usize = 4 << 20;

/// Why a client could not log in and join the room.
#[derive(Debug, Error)]
pub enum LoginError {
    /// Connecting, reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection during login")]
    Closed,
    /// The server refused: its error, as it said it.
    #[error("refused: {0}")]
    Refused(String),
    /// The server sent something that is not the protocol.
    #[error("unexpected reply: {0}")]
    Garbage(String),
    /// A line longer than [`MAX_LOGIN_LINE`].
    #[error("a reply line longer than {MAX_LOGIN_LINE} bytes")]
    LineTooLong,
    /// Login took longer than the connect timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The WebSocket could not be opened or broke (the message says how).
    #[error("{0}")]
    WebSocket(String),
    /// The run has no address for this client's server (the settings'
    /// checks make sure it never happens).
    #[error("no server address for this client")]
    NoServer,
}

/// Logs in as `nick` and joins `room`. Whatever the connection read past
/// the last login reply stays in it, for the run.
pub(crate) async fn login(
    proto: Proto,
    conn: &mut Conn,
    nick: &str,
    room: &str,
) -> Result<(), LoginError> {
    if proto.is_irc() {
        login_irc(conn, nick, room).await
    } else {
        login_json(conn, nick, room).await
    }
}

async fn login_json(conn: &mut Conn, nick: &str, room_name: &str) -> Result<(), LoginError> {
    // No protocol version: bench clients get no keepalive pings to answer.
    let login = Request::Login {
        nickname: nick.to_owned(),
        password: None,
        protocol: None,
    };
    conn.send(&json::encode_request(&login, None)).await?;
    loop {
        match json_frame(&conn.line().await?)? {
            ServerFrame::Welcome(_) => break,
            ServerFrame::Error(e) => {
                return Err(LoginError::Refused(format!("{}: {}", e.code, e.message)));
            }
            ServerFrame::Bye(_) => return Err(LoginError::Closed),
            _ => {}
        }
    }
    if room::fold(room_name) == room::fold(room::LOBBY) {
        return Ok(());
    }
    let join = Request::Join {
        room: room_name.to_owned(),
        key: None,
    };
    conn.send(&json::encode_request(
        &join,
        Some(&Ref::Text("join".into())),
    ))
    .await?;
    loop {
        match json_frame(&conn.line().await?)? {
            ServerFrame::HistoryEnd(end) if room::fold(&end.room) == room::fold(room_name) => {
                return Ok(());
            }
            ServerFrame::Error(e) => {
                return Err(LoginError::Refused(format!("{}: {}", e.code, e.message)));
            }
            ServerFrame::Bye(_) => return Err(LoginError::Closed),
            _ => {}
        }
    }
}

fn json_frame(line: &[u8]) -> Result<ServerFrame, LoginError> {
    serde_json::from_slice(line).map_err(|e| LoginError::Garbage(format!("{e}: {}", shown(line))))
}

/// Numerics that end a registration attempt.
const REGISTRATION_ERRORS: [&str; 10] = [
    "431", "432", "433", "436", "437", "461", "462", "463", "464", "465",
];

/// Numerics that refuse a JOIN.
const JOIN_ERRORS: [&str; 10] = [
    "403", "405", "437", "471", "473", "474", "475", "476", "477", "479",
];

async fn login_irc(conn: &mut Conn, nick: &str, room_name: &str) -> Result<(), LoginError> {
    let channel = irc::channel::room_to_channel(room_name);
    let mut hello = irc::Message::new("NICK").param(nick).encode();
    irc::Message::new("USER")
        .param(nick)
        .param("0")
        .param("*")
        .trailing_param("chatroom bench")
        .encode_into(&mut hello);
    conn.send(&hello).await?;
    let mut joining = false;
    loop {
        let line = conn.line().await?;
        let message =
            irc::parse(&line).map_err(|e| LoginError::Garbage(format!("{e}: {}", shown(&line))))?;
        match message.command.as_str() {
            "PING" => {
                let mut pong = irc::Message::new("PONG");
                pong.params = message.params.clone();
                pong.trailing = message.trailing;
                conn.send(&pong.encode()).await?;
            }
            "ERROR" => return Err(LoginError::Refused(shown(&line))),
            code if code == numeric::RPL_WELCOME.code() && !joining => {
                joining = true;
                conn.send(&irc::Message::new("JOIN").param(&channel).encode())
                    .await?;
            }
            code if !joining && REGISTRATION_ERRORS.contains(&code) => {
                return Err(LoginError::Refused(shown(&line)));
            }
            code if joining && JOIN_ERRORS.contains(&code) => {
                return Err(LoginError::Refused(shown(&line)));
            }
            code if joining
                && code == numeric::RPL_ENDOFNAMES.code()
                && message
                    .arg(1)
                    .is_some_and(|c| c.eq_ignore_ascii_case(&channel)) =>
            {
                return Ok(());
            }
            _ => {}
        }
    }
}

/// A line as text for an error message, cut to a readable length.
pub(crate) fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The bytes of a chat message around its text, worked out once per run,
/// so that encoding a message on the hot path allocates nothing.
#[derive(Debug, Clone)]
pub struct MessageFrame {
    /// Everything before the text.
    head: Vec<u8>,
    /// Everything after it, line end included.
    tail: &'static [u8],
    /// The text goes into a JSON string (escaped).
    json: bool,
}

impl MessageFrame {
    /// The frame of a message to `room_name`: a JSON `broadcast` or an IRC
    /// `PRIVMSG #room :text`.
    pub fn new(proto: Proto, room_name: &str) -> Self {
        let mut head = Vec::new();
        if proto.is_irc() {
            head.extend_from_slice(b"PRIVMSG ");
            head.extend_from_slice(irc::channel::room_to_channel(room_name).as_bytes());
            head.extend_from_slice(b" :");
            MessageFrame {
                head,
                tail: b"\r\n",
                json: false,
            }
        } else {
            head.extend_from_slice(br#"{"type":"broadcast","room":"#);
            json_string(room_name, &mut head);
            head.extend_from_slice(br#","message":"#);
            MessageFrame {
                head,
                tail: b"}\n",
                json: true,
            }
        }
    }

    /// Appends the bytes of one chat message with `text` to `out`. (An IRC
    /// text is sent as it is: the payload never holds a line end.)
    pub fn encode(&self, text: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        if self.json {
            json_string(text, out);
        } else {
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(self.tail);
    }
}

/// Appends `text` as a JSON string, quoted and escaped (RFC 8259: quote,
/// backslash and control characters; everything else as it is).
fn json_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(bytes);
    } else {
        for &b in bytes {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0..0x20 => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
                _ => out.push(b),
            }
        }
    }
    out.push(b'"');
}

/// The bytes that log a client out politely.
pub fn goodbye(proto: Proto) -> Vec<u8> {
    if proto.is_irc() {
        irc::Message::new("QUIT")
            .trailing_param("bench done")
            .encode()
    } else {
        json::encode_request(&Request::Logout, None)
    }
}

/// Finds the `PING`s in a stretch of complete IRC lines and appends a
/// `PONG` with the same parameters for each to `out`; returns how many.
///
/// A `PING` counts only as the command of its line (`PING :x`, or
/// `:server PING :x`), never inside a message's text.
pub fn irc_pongs(lines: &[u8], out: &mut Vec<u8>) -> usize {
    let mut count = 0;
    for at in memmem::find_iter(lines, b"PING") {
        let line_start = memchr::memrchr(b'\n', &lines[..at]).map_or(0, |nl| nl + 1);
        let before = &lines[line_start..at];
        let is_command = before.is_empty()
            || (before.first() == Some(&b':')
                && before.ends_with(b" ")
                && !before.trim_ascii_end().contains(&b' '));
        if !is_command {
            continue;
        }
        let rest = &lines[at + 4..];
        let line_end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        let params = &rest[..line_end];
        if !(params.is_empty() || params.starts_with(b" ")) {
            continue;
        }
        out.extend_from_slice(b"PONG");
        out.extend_from_slice(params);
        out.extend_from_slice(b"\r\n");
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pings_are_answered_with_their_parameters() {
        let mut out = Vec::new();
        let n = irc_pongs(
            b"PING :irc.example\r\n:a!b@c PRIVMSG #x :hi\r\n:srv PING srv :tok 1\r\nPING\r\n",
            &mut out,
        );
        assert_eq!(n, 3);
        assert_eq!(out, b"PONG :irc.example\r\nPONG srv :tok 1\r\nPONG\r\n");
    }

    #[test]
    fn ping_inside_text_or_words_is_not_a_ping() {
        let mut out = Vec::new();
        let lines =
            b":a!b@c PRIVMSG #x :PING :me\r\n:a!b@c PRIVMSG #x PING\r\nPINGS x\r\n:a PINGx\r\n";
        assert_eq!(irc_pongs(lines, &mut out), 0);
        assert!(out.is_empty());
    }

    #[test]
    fn messages_carry_the_text_in_either_protocol() {
        let mut out = Vec::new();
        MessageFrame::new(Proto::Json, "lobby").encode("~b~1.2.3~xx", &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let request = json::parse_request(&out).unwrap();
        assert_eq!(
            request.request,
            Request::Broadcast {
                room: Some("lobby".into()),
                message: "~b~1.2.3~xx".into(),
                action: false
            }
        );
        out.clear();
        MessageFrame::new(Proto::Irc, "lobby").encode("~b~1.2.3~xx", &mut out);
        assert_eq!(out, b"PRIVMSG #lobby :~b~1.2.3~xx\r\n");
    }

    #[test]
    fn messages_follow_one_another_in_one_buffer() {
        let frame = MessageFrame::new(Proto::Json, "benchroom");
        let mut out = Vec::new();
        frame.encode("one", &mut out);
        frame.encode("two", &mut out);
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 3, "{out:?}");
        for (line, text) in lines.iter().zip(["one", "two"]) {
            let request = json::parse_request(line).unwrap();
            assert_eq!(
                request.request,
                Request::Broadcast {
                    room: Some("benchroom".into()),
                    message: text.into(),
                    action: false
                }
            );
        }
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let mut out = Vec::new();
        json_string("a\"b\\c\n\u{1}é", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\u000a\\u0001é\"".as_bytes());
    }

    proptest! {
        #[test]
        fn json_strings_read_back_as_written(text in any::<String>()) {
            let mut out = Vec::new();
            json_string(&text, &mut out);
            let back: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back, text);
        }
    }

    #[test]
    fn goodbyes() {
        assert_eq!(goodbye(Proto::Irc), b"QUIT :bench done\r\n");
        let bye = json::parse_request(&goodbye(Proto::Json)).unwrap();
        assert_eq!(bye.request, Request::Logout);
    }

    #[test]
    fn long_lines_are_shortened_for_messages() {
        let long = "x".repeat(500);
        assert_eq!(shown(long.as_bytes()).len(), 203);
        assert_eq!(shown(b"ERROR :bye\r"), "ERROR :bye");
    }
}
