//! WebSocket frames as the bench's client writes and reads them (RFC 6455,
//! section 5).
//!
//! Written: one final frame per message, masked with a fresh 4-byte key
//! (a client must mask, 5.3), appended to a buffer that a whole batch of
//! messages shares. Read: frames parsed in place in the reader's buffer,
//! so that an unfragmented message is a slice of it; the server never
//! masks (5.1) and a masked frame is refused. Fragmented messages are put
//! together in a [`Decoder`]'s own buffer. Text is not checked for UTF-8:
//! the bench only searches it for its stamps.

use std::ops::Range;

use crate::wire::{LoginError, MAX_LOGIN_LINE};

use chatroom_proto::websocket::push_header;
pub use chatroom_proto::websocket::{
    BINARY, CLOSE, CONTINUATION, MAX_HEADER, MAX_MASKED_HEADER, PING, PONG, TEXT,
};

/// The close code of a normal closure.
pub const NORMAL_CLOSURE: u16 = 1000;

/// Appends one final frame with `opcode` and `payload` to `out`, masked
/// with a random key.
pub fn push(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    push_masked(out, opcode, payload, fastrand::u32(..).to_ne_bytes());
}

/// Appends one final frame with `opcode` and `payload` to `out`, masked
/// with `key`.
pub fn push_masked(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: [u8; 4]) {
    out.reserve(MAX_MASKED_HEADER + payload.len());
    push_header(out, opcode, payload.len(), Some(key));
    let start = out.len();
    out.extend_from_slice(payload);
    mask(&mut out[start..], key);
}

/// XORs `bytes` with the repeated `key` (masking and unmasking alike),
/// eight bytes at a time.
fn mask(bytes: &mut [u8], key: [u8; 4]) {
    let [a, b, c, d] = key;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = bytes.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    // Up to seven bytes, from a multiple of eight: the key from its start.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// A whole frame at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The FIN bit: the last frame of its message.
    pub fin: bool,
    /// The opcode.
    pub opcode: u8,
    /// Where its payload is in the bytes parsed; its end is the frame's.
    pub payload: Range<usize>,
}

/// A frame the server may not send.
fn violation(what: &str) -> LoginError {
    LoginError::WebSocket(format!("the server broke the WebSocket protocol: {what}"))
}

/// Parses the frame at the start of `bytes`: `None` until all of it has
/// arrived. Refuses masked frames, reserved bits and opcodes, fragmented
/// or long control frames, and messages longer than [`MAX_LOGIN_LINE`].
pub fn parse(bytes: &[u8]) -> Result<Option<Frame>, LoginError> {
    let [first, second, ..] = *bytes else {
        return Ok(None);
    };
    let fin = first & 0x80 != 0;
    let opcode = first & 0x0F;
    if first & 0x70 != 0 {
        return Err(violation("a frame with reserved bits set"));
    }
    if second & 0x80 != 0 {
        return Err(violation("a masked frame (only clients mask)"));
    }
    let control = match opcode {
        CONTINUATION | TEXT | BINARY => false,
        CLOSE | PING | PONG => true,
        other => return Err(violation(&format!("a frame with opcode {other:#x}"))),
    };
    let (len, header) = match second & 0x7F {
        126 => match bytes.get(2..4) {
            Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(None),
        },
        127 => match bytes.get(2..MAX_HEADER) {
            Some(len) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(len);
                (u64::from_be_bytes(word), MAX_HEADER)
            }
            None => return Ok(None),
        },
        len => (u64::from(len), 2),
    };
    if control && (!fin || len > 125) {
        return Err(violation("a fragmented or long control frame"));
    }
    let len = match usize::try_from(len) {
        Ok(len) if len <= MAX_LOGIN_LINE => len,
        _ => return Err(LoginError::LineTooLong),
    };
    let end = header + len;
    Ok((bytes.len() >= end).then_some(Frame {
        fin,
        opcode,
        payload: header..end,
    }))
}

/// What a frame read means to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole message in one frame: its payload is at this range of the
    /// bytes parsed.
    Message(Range<usize>),
    /// The last fragment of a message: all of it is in
    /// [`Decoder::assembled`].
    Assembled,
    /// A fragment kept for later: nothing to hand out yet.
    Fragment,
    /// A ping, with its payload at this range (to be sent back in a pong).
    Ping(Range<usize>),
    /// A pong.
    Pong,
    /// A close frame, with its payload (code and reason) at this range.
    Close(Range<usize>),
}

/// Reads frames one after another, putting fragmented messages together.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The fragments of the message being put together (or the last one
    /// put together).
    fragments: Vec<u8>,
    /// A fragmented message has begun and not ended.
    open: bool,
}

impl Decoder {
    /// Reads the frame at the start of `bytes`: what it means and how long
    /// it is, or `None` until all of it has arrived.
    pub fn next(&mut self, bytes: &[u8]) -> Result<Option<(Event, usize)>, LoginError> {
        let Some(Frame {
            fin,
            opcode,
            payload,
        }) = parse(bytes)?
        else {
            return Ok(None);
        };
        let end = payload.end;
        let event = match opcode {
            TEXT | BINARY if self.open => {
                return Err(violation("a new message before the last one's final frame"));
            }
            TEXT | BINARY if fin => Event::Message(payload),
            TEXT | BINARY => {
                self.fragments.clear();
                self.fragments.extend_from_slice(&bytes[payload]);
                self.open = true;
                Event::Fragment
            }
            CONTINUATION if !self.open => {
                return Err(violation("a continuation frame without a message"));
            }
            CONTINUATION => {
                if self.fragments.len() + payload.len() > MAX_LOGIN_LINE {
                    return Err(LoginError::LineTooLong);
                }
                self.fragments.extend_from_slice(&bytes[payload]);
                self.open = !fin;
                if fin {
                    Event::Assembled
                } else {
                    Event::Fragment
                }
            }
            PING => Event::Ping(payload),
            PONG => Event::Pong,
            _ => Event::Close(payload),
        };
        Ok(Some((event, end)))
    }

    /// The message put together by the last [`Event::Assembled`].
    pub fn assembled(&self) -> &[u8] {
        &self.fragments
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Cursor;

    use proptest::prelude::*;
    use tokio_tungstenite::tungstenite::Bytes;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame as TFrame, FrameSocket};

    use super::*;

    /// The frames in `bytes` as tungstenite reads them (they must be
    /// masked), unmasked with the key tungstenite read.
    fn tungstenite_reads(bytes: Vec<u8>) -> Vec<(OpCode, bool, Vec<u8>)> {
        let mut socket = FrameSocket::new(Cursor::new(bytes));
        let mut frames = Vec::new();
        while let Some(frame) = socket.read(None).unwrap() {
            let header = frame.header();
            let key = header.mask.expect("client frames are masked");
            let payload = frame
                .payload()
                .iter()
                .zip(key.iter().cycle())
                .map(|(byte, k)| byte ^ k)
                .collect();
            frames.push((header.opcode, header.is_final, payload));
        }
        frames
    }

    /// What tungstenite writes for `frame` (as a server: unmasked).
    fn tungstenite_writes(frame: TFrame) -> Vec<u8> {
        let mut out = Vec::new();
        frame.format(&mut out).unwrap();
        out
    }

    /// Every event in `bytes`, with each message's payload.
    fn events(bytes: &[u8]) -> Result<Vec<(Event, Vec<u8>)>, LoginError> {
        let mut decoder = Decoder::default();
        let mut at = 0;
        let mut seen = Vec::new();
        while let Some((event, len)) = decoder.next(&bytes[at..])? {
            let payload = match &event {
                Event::Message(r) | Event::Ping(r) | Event::Close(r) => {
                    bytes[at + r.start..at + r.end].to_vec()
                }
                Event::Assembled => decoder.assembled().to_vec(),
                Event::Fragment | Event::Pong => Vec::new(),
            };
            seen.push((event, payload));
            at += len;
        }
        assert_eq!(at, bytes.len(), "a frame left unread");
        Ok(seen)
    }

    #[test]
    fn lengths_take_the_shortest_form_and_a_mask_key() {
        for (len, header) in [(0, 6), (125, 6), (126, 8), (65_535, 8), (65_536, 14)] {
            let mut out = Vec::new();
            push(&mut out, TEXT, &vec![b'x'; len]);
            assert_eq!(out.len(), header + len, "{len}");
            assert_eq!(out[0], 0x81);
            assert_eq!(out[1] & 0x80, 0x80, "masked");
        }
    }

    #[test]
    fn masking_is_the_rfcs_example() {
        // RFC 6455 5.7: "Hello" masked with 37 fa 21 3d.
        let mut out = Vec::new();
        push_masked(&mut out, TEXT, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(
            out,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
    }

    #[test]
    fn tungstenites_frames_are_read() {
        let mut bytes = Vec::new();
        for frame in [
            TFrame::message(Bytes::from_static(b"one"), OpCode::Data(Data::Text), true),
            TFrame::ping(Bytes::from_static(b"p")),
            TFrame::message(Bytes::from_static(b"tw"), OpCode::Data(Data::Text), false),
            TFrame::pong(Bytes::new()),
            TFrame::message(Bytes::from_static(b"o"), OpCode::Data(Data::Continue), true),
            TFrame::message(vec![7; 300], OpCode::Data(Data::Binary), true),
            TFrame::message(vec![8; 70_000], OpCode::Data(Data::Text), true),
            TFrame::close(None),
        ] {
            bytes.extend(tungstenite_writes(frame));
        }
        let seen = events(&bytes).unwrap();
        let kinds: Vec<&Event> = seen.iter().map(|(e, _)| e).collect();
        assert!(matches!(
            kinds[..],
            [
                Event::Message(_),
                Event::Ping(_),
                Event::Fragment,
                Event::Pong,
                Event::Assembled,
                Event::Message(_),
                Event::Message(_),
                Event::Close(_)
            ]
        ));
        assert_eq!(seen[0].1, b"one");
        assert_eq!(seen[1].1, b"p");
        assert_eq!(seen[4].1, b"two");
        assert_eq!(seen[5].1, vec![7; 300]);
        assert_eq!(seen[6].1, vec![8; 70_000]);
        assert!(seen[7].1.is_empty());
    }

    #[test]
    fn a_frame_is_read_only_once_all_of_it_has_arrived() {
        let bytes = tungstenite_writes(TFrame::message(
            vec![b'x'; 70_000],
            OpCode::Data(Data::Text),
            true,
        ));
        for cut in [0, 1, 2, 5, 9, 10, 1000, bytes.len() - 1] {
            assert_eq!(parse(&bytes[..cut]).unwrap(), None, "{cut}");
        }
        assert_eq!(
            parse(&bytes).unwrap(),
            Some(Frame {
                fin: true,
                opcode: TEXT,
                payload: 10..70_010
            })
        );
    }

    #[test]
    fn frames_the_server_may_not_send_are_refused() {
        let mut masked = Vec::new();
        push(&mut masked, TEXT, b"hi");
        let refused = |bytes: &[u8]| parse(bytes).unwrap_err().to_string();
        assert!(refused(&masked).contains("masked"));
        assert!(refused(&[0xC1, 0]).contains("reserved bits"));
        assert!(refused(&[0x83, 0]).contains("opcode 0x3"));
        assert!(refused(&[0x09, 0]).contains("control frame"));
        assert!(refused(&[0x89, 126, 0, 126]).contains("control frame"));
        let mut long = vec![0x81, 127];
        long.extend_from_slice(&(MAX_LOGIN_LINE as u64 + 1).to_be_bytes());
        assert!(matches!(parse(&long), Err(LoginError::LineTooLong)));
        assert!(
            events(&[0x80, 0])
                .unwrap_err()
                .to_string()
                .contains("continuation"),
            "a continuation of nothing"
        );
        assert!(
            events(&[0x01, 1, b'a', 0x81, 0])
                .unwrap_err()
                .to_string()
                .contains("a new message")
        );
    }

    #[test]
    fn control_frames_as_written() {
        let mut out = Vec::new();
        push(&mut out, PONG, b"abc");
        push(&mut out, CLOSE, &NORMAL_CLOSURE.to_be_bytes());
        assert_eq!(
            tungstenite_reads(out),
            [
                (OpCode::Control(Control::Pong), true, b"abc".to_vec()),
                (OpCode::Control(Control::Close), true, vec![0x03, 0xE8]),
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
            let read = tungstenite_reads(out);
            prop_assert_eq!(read.len(), messages.len());
            for ((opcode, last, payload), (binary, sent)) in read.into_iter().zip(messages) {
                let expected = if binary { Data::Binary } else { Data::Text };
                prop_assert_eq!(opcode, OpCode::Data(expected));
                prop_assert!(last);
                prop_assert_eq!(payload, sent);
            }
        }

        #[test]
        fn what_tungstenite_writes_is_read_back(
            messages in prop::collection::vec(
                (any::<bool>(), 1..4usize, prop::collection::vec(any::<u8>(), 0..70_000)),
                1..4,
            )
        ) {
            let mut bytes = Vec::new();
            for (binary, parts, payload) in &messages {
                let data = if *binary { Data::Binary } else { Data::Text };
                let step = payload.len() / parts + 1;
                let chunks: Vec<&[u8]> = if payload.is_empty() {
                    vec![&[]]
                } else {
                    payload.chunks(step).collect()
                };
                for (i, chunk) in chunks.iter().enumerate() {
                    let opcode = if i == 0 { OpCode::Data(data) } else { OpCode::Data(Data::Continue) };
                    let frame = TFrame::message(chunk.to_vec(), opcode, i + 1 == chunks.len());
                    bytes.extend(tungstenite_writes(frame));
                }
            }
            let read: Vec<Vec<u8>> = events(&bytes)
                .unwrap()
                .into_iter()
                .filter(|(e, _)| matches!(e, Event::Message(_) | Event::Assembled))
                .map(|(_, payload)| payload)
                .collect();
            let sent: Vec<Vec<u8>> = messages.into_iter().map(|(_, _, p)| p).collect();
            prop_assert_eq!(read, sent);
        }
    }
}
