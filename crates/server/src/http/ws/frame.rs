//! WebSocket frames as the server writes them (RFC 6455, section 5.2): one
//! final frame per message, never masked (only clients mask).
//!
//! The server encodes its frames itself, straight into the per-thread
//! buffer a connection's queued messages are gathered in, so that a
//! message sent to a thousand members costs a thousand small copies into
//! that buffer and one write each, as over TCP, and an idle connection
//! holds no write buffer. (Reading, with its masking, fragments, limits and
//! UTF-8 checks, is left to tungstenite.)

use chatroom_proto::websocket::push_header;
pub use chatroom_proto::websocket::{BINARY, CLOSE, MAX_HEADER, PING, PONG, TEXT};

/// Appends one final, unmasked frame with `opcode` and `payload` to `out`.
pub fn push(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.reserve(MAX_HEADER + payload.len());
    push_header(out, opcode, payload.len(), None);
    out.extend_from_slice(payload);
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

    proptest! {
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
