//! WebSocket frames as the server writes them (RFC 6455, section 5.2): one
//! final frame per message, never masked (only clients mask).
//!
//! The server encodes its frames itself, straight into the per-thread
//! buffer a connection's queued messages are gathered in, so that a
//! message sent to a thousand members costs a thousand small copies into
//! that buffer and one write each, as over TCP, and an idle connection
//! holds no write buffer. (Reading, with its masking, fragments, limits and
//! UTF-8 checks, is left to tungstenite.)

use bytes::Bytes;
pub use chatroom_proto::websocket::{BINARY, CLOSE, MAX_HEADER, PING, PONG, TEXT};
use chatroom_proto::websocket::{first_byte, push_header};

/// Appends one final, unmasked frame with `opcode` and `payload` to `out`.
pub fn push(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.reserve(MAX_HEADER + payload.len());
    push_header(out, opcode, payload.len(), None);
    out.extend_from_slice(payload);
}

/// The line that starts at `start` in `lines`: its text without the line
/// end (`\n` or `\r\n`), and where the next one starts. The last line may
/// have no line end.
pub fn line_at(lines: &[u8], start: usize) -> (&[u8], usize) {
    let end = memchr::memchr(b'\n', &lines[start..]).map_or(lines.len(), |at| start + at + 1);
    let line = &lines[start..end];
    let text = line
        .strip_suffix(b"\n")
        .map_or(line, |l| l.strip_suffix(b"\r").unwrap_or(l));
    (text, end)
}

/// Each line of `lines` (protocol frames, as the outbox holds them) as
/// one message with `opcode`, ready to write: what an event's receivers
/// over WebSocket share, encoded once per event rather than once per
/// receiver (see `Event::framed`). Empty lines are not sent.
pub fn messages(opcode: u8, lines: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(lines.len() + MAX_HEADER);
    let mut start = 0;
    while start < lines.len() {
        let (text, end) = line_at(lines, start);
        if !text.is_empty() {
            push(&mut out, opcode, text);
        }
        start = end;
    }
    out.into()
}

/// Whether a queued frame is messages already ([`messages`]) rather than
/// protocol lines: it starts with a text or binary frame's first byte,
/// which no line the server writes does (JSON frames start with `{`, IRC
/// lines with `@`, `:` or a command's letter).
pub fn is_messages(queued: &[u8]) -> bool {
    matches!(queued.first(), Some(&b) if b == first_byte(TEXT) || b == first_byte(BINARY))
}

/// Appends a close frame with `code` to `out`.
pub fn push_close(out: &mut Vec<u8>, code: u16) {
    push(out, CLOSE, &code.to_be_bytes());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor;

    use proptest::prelude::*;
    use tokio_tungstenite::tungstenite::protocol::frame::FrameSocket;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

    use super::*;

    /// The frames in `bytes`, as tungstenite reads them.
    fn read_all(bytes: Vec<u8>) -> Vec<(OpCode, bool, Vec<u8>)> {
        let mut socket = FrameSocket::new(Cursor::new(bytes));
        let mut frames = Vec::new();
        while let Some(frame) = socket.read(None).unwrap() {
            let header = frame.header();
            assert!(header.mask.is_none(), "server frames are not masked");
            frames.push((
                header.opcode,
                header.is_final,
                frame.into_payload().to_vec(),
            ));
        }
        frames
    }

    #[test]
    fn control_frames() {
        let mut out = Vec::new();
        push(&mut out, PING, b"");
        push(&mut out, PONG, b"abc");
        push_close(&mut out, 1009);
        assert_eq!(
            read_all(out),
            [
                (OpCode::Control(Control::Ping), true, vec![]),
                (OpCode::Control(Control::Pong), true, b"abc".to_vec()),
                (OpCode::Control(Control::Close), true, vec![0x03, 0xF1]),
            ]
        );
    }

    #[test]
    fn each_line_becomes_one_message() {
        let framed = messages(TEXT, b"first\r\nsecond\n\n\r\nthird");
        assert!(is_messages(&framed));
        let text = OpCode::Data(Data::Text);
        assert_eq!(
            read_all(framed.to_vec()),
            [
                (text, true, b"first".to_vec()),
                (text, true, b"second".to_vec()),
                (text, true, b"third".to_vec()),
            ]
        );
        assert!(messages(BINARY, b"\n\r\n").is_empty(), "nothing to send");
    }

    #[test]
    fn no_line_the_server_writes_reads_as_messages() {
        for lines in [
            &b"{\"type\":\"pong\"}\n"[..],
            b":server 001 a :hi\r\n",
            b"@time=2026-12-08T00:00:00.000Z :a!u@h PRIVMSG #r :x\r\n",
            b"PING :server\r\n",
            b"ERROR :Closing link\r\n",
            b"AUTHENTICATE +\r\n",
            b"",
        ] {
            assert!(!is_messages(lines), "{:?}", String::from_utf8_lossy(lines));
        }
        assert!(is_messages(&messages(BINARY, b"x\r\n")));
    }

    proptest! {
        #[test]
        fn framed_lines_read_back_as_the_lines(
            lines in prop::collection::vec("[^\r\n]{0,300}", 0..8),
            crlf in any::<bool>(),
            binary in any::<bool>(),
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let joined: String = lines.iter().map(|l| format!("{l}{end}")).collect();
            let opcode = if binary { BINARY } else { TEXT };
            let framed = messages(opcode, joined.as_bytes());
            let expected: Vec<_> = lines
                .iter()
                .filter(|l| !l.is_empty())
                .map(|l| (OpCode::Data(if binary { Data::Binary } else { Data::Text }), true, l.as_bytes().to_vec()))
                .collect();
            prop_assert_eq!(is_messages(&framed), !expected.is_empty());
            prop_assert_eq!(read_all(framed.to_vec()), expected);
        }

        #[test]
        fn tungstenite_reads_back_what_is_written(
            messages in prop::collection::vec(
                (any::<bool>(), prop::collection::vec(any::<u8>(), 0..70_000)),
                1..4,
            )
        ) {
            let mut out = Vec::new();
            for (binary, payload) in &messages {
                push(&mut out, if *binary { BINARY } else { TEXT }, payload);
            }
            let read = read_all(out);
            prop_assert_eq!(read.len(), messages.len());
            for ((opcode, last, payload), (binary, sent)) in read.into_iter().zip(messages) {
                let expected = if binary { Data::Binary } else { Data::Text };
                prop_assert_eq!(opcode, OpCode::Data(expected));
                prop_assert!(last);
                prop_assert_eq!(payload, sent);
            }
        }
    }
}
