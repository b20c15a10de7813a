//! What must hold when any bytes at all reach the JSON decoder
//! (`JsonFramer` cutting the stream into objects, `parse_request` reading
//! each one).
//!
//! [`check`] decodes a stream three ways (whole, cut in two, one byte at a
//! time) and panics, naming the broken property, when
//! - the three disagree: framing must not depend on how TCP cuts a stream;
//! - the framer holds more than the cap, reports the wrong cap, or emits
//!   anything after `TooLarge` (it has stopped; the server closes);
//! - a frame does not start with `{` and end with `}` or `]`, is longer
//!   than the cap, or is not the next piece of the input;
//! - `parse_request` refuses a frame with a code `docs/protocol.md` does not
//!   give for request errors, or calls invalid UTF-8 anything but
//!   `invalid_utf8`;
//! - it accepts something no valid request is (an empty message, a
//!   history limit out of range, an over-long `ref`), or a request it
//!   accepted, encoded again by `encode_request`, does not frame as exactly
//!   one object that parses back to the same request.
//!
//! A panic inside the decoder itself is found by running it at all.
//!
//! This file is compiled both into the fuzz crate and, through `#[path]`,
//! into `crates/proto/tests/fuzz_json.rs`: it may use only
//! `chatroom_proto` and `std`.

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    Envelope, FrameError, JsonFramer, MAX_HISTORY_LIMIT, Ref, Request, RequestError,
    encode_request, parse_request,
};

/// The size caps a stream is decoded with: the server's default and smaller
/// ones, so that short inputs reach the oversize path too.
pub const CAPS: [usize; 4] = [chatroom_proto::DEFAULT_MAX_FRAME_BYTES, 1024, 64, 8];

/// The codes `parse_request` may refuse a frame with (the request errors
/// of `docs/protocol.md`; the others come from the session or the hub).
pub const REQUEST_ERRORS: [ErrorCode; 6] = [
    ErrorCode::MalformedJson,
    ErrorCode::InvalidUtf8,
    ErrorCode::UnknownType,
    ErrorCode::MissingField,
    ErrorCode::InvalidField,
    ErrorCode::EmptyMessage,
];

/// One thing the framer emitted, owned so that runs can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete object.
    Frame(Vec<u8>),
    /// Bytes that could not start or continue an object were skipped.
    Malformed,
    /// An object passed the cap; the framer has stopped.
    TooLarge,
}

/// What a stream decoded to.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// What the framer emitted, in stream order.
    pub items: Vec<Item>,
    /// What `parse_request` made of each [`Item::Frame`], in the same order.
    pub requests: Vec<Result<Envelope, RequestError>>,
}

/// Decodes `bytes` with the size cap `cap`, also cut at `split` (clamped to
/// the length) and byte by byte, and checks every property in the module
/// documentation; panics on the first one broken.
pub fn check(bytes: &[u8], split: usize, cap: usize) -> Decoded {
    let items = frame_whole(bytes, cap);
    let split = split.min(bytes.len());
    let (head, tail) = bytes.split_at(split);
    assert_eq!(
        frame(cap, &[head, tail]),
        items,
        "cutting the stream at byte {split} changed the framing"
    );
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(
        frame(cap, &singles),
        items,
        "feeding the stream byte by byte changed the framing"
    );
    let requests = items
        .iter()
        .filter_map(|item| match item {
            Item::Frame(frame) => Some(check_request(frame)),
            Item::Malformed | Item::TooLarge => None,
        })
        .collect();
    Decoded { items, requests }
}

/// Frames `bytes` in one call, checking each frame's shape and that it is
/// the next piece of `bytes` itself (one call never needs to copy).
fn frame_whole(bytes: &[u8], cap: usize) -> Vec<Item> {
    let mut framer = JsonFramer::new(cap);
    let mut items = Vec::new();
    let mut end_of_last = 0;
    let mut stopped = false;
    framer.feed(bytes, |result| {
        assert!(!stopped, "the framer emitted something after TooLarge");
        let item = match result {
            Ok(frame) => {
                check_frame_shape(frame, cap);
                let offset = frame.as_ptr().addr().wrapping_sub(bytes.as_ptr().addr());
                assert!(
                    offset >= end_of_last && offset + frame.len() <= bytes.len(),
                    "a frame is not the next piece of the input: {:?}",
                    String::from_utf8_lossy(frame)
                );
                end_of_last = offset + frame.len();
                Item::Frame(frame.to_vec())
            }
            Err(e) => error_item(e, cap),
        };
        stopped = item == Item::TooLarge;
        items.push(item);
    });
    check_buffer(&framer, stopped, cap);
    items
}

/// Frames the concatenation of `chunks`, fed one chunk per call.
fn frame(cap: usize, chunks: &[&[u8]]) -> Vec<Item> {
    let mut framer = JsonFramer::new(cap);
    let mut items = Vec::new();
    let mut stopped = false;
    for chunk in chunks {
        framer.feed(chunk, |result| {
            assert!(!stopped, "the framer emitted something after TooLarge");
            let item = match result {
                Ok(frame) => {
                    check_frame_shape(frame, cap);
                    Item::Frame(frame.to_vec())
                }
                Err(e) => error_item(e, cap),
            };
            stopped = item == Item::TooLarge;
            items.push(item);
        });
        check_buffer(&framer, stopped, cap);
    }
    items
}

fn error_item(error: FrameError, cap: usize) -> Item {
    match error {
        FrameError::Malformed => Item::Malformed,
        FrameError::TooLarge(reported) => {
            assert_eq!(reported, cap, "TooLarge reports the wrong cap");
            Item::TooLarge
        }
    }
}

fn check_frame_shape(frame: &[u8], cap: usize) {
    assert!(
        frame.first() == Some(&b'{') && matches!(frame.last(), Some(b'}' | b']')),
        "a frame is not delimited like an object: {:?}",
        String::from_utf8_lossy(frame)
    );
    assert!(
        frame.len() <= cap,
        "a frame of {} bytes passed the cap of {cap}",
        frame.len()
    );
}

fn check_buffer(framer: &JsonFramer, stopped: bool, cap: usize) {
    assert!(
        framer.buffered() <= cap,
        "the framer holds {} bytes, over the cap of {cap}",
        framer.buffered()
    );
    assert!(
        !stopped || framer.buffered() == 0,
        "a stopped framer still holds bytes"
    );
}

/// Parses one frame and checks the outcome (see the module documentation).
fn check_request(frame: &[u8]) -> Result<Envelope, RequestError> {
    let utf8 = std::str::from_utf8(frame).is_ok();
    let parsed = parse_request(frame);
    match &parsed {
        Ok(envelope) => {
            assert!(utf8, "a frame that is not UTF-8 was accepted");
            check_accepted(envelope);
        }
        Err(e) => {
            assert!(
                REQUEST_ERRORS.contains(&e.code),
                "a frame was refused with {}, not a request error: {e:?}",
                e.code.as_str()
            );
            assert!(
                utf8 || e.code == ErrorCode::InvalidUtf8,
                "a frame that is not UTF-8 was refused with {}",
                e.code.as_str()
            );
            assert!(!e.message.is_empty(), "an error without a message");
            check_ref(e.reference.as_ref());
        }
    }
    parsed
}

/// An accepted request is a valid one, and survives encoding again.
fn check_accepted(envelope: &Envelope) {
    check_ref(envelope.reference.as_ref());
    match &envelope.request {
        Request::Broadcast { message, .. } | Request::Direct { message, .. } => {
            assert!(!message.is_empty(), "an empty message was accepted");
        }
        Request::History { limit, .. } => assert!(
            (1..=MAX_HISTORY_LIMIT).contains(limit),
            "a history limit of {limit} was accepted"
        ),
        _ => {}
    }
    let line = encode_request(&envelope.request, envelope.reference.as_ref());
    let Some(object) = line.strip_suffix(b"\n") else {
        panic!("an encoded request does not end with a newline");
    };
    assert_eq!(
        frame(object.len(), &[object]),
        [Item::Frame(object.to_vec())],
        "an encoded request does not frame as one object"
    );
    let again = match parse_request(object) {
        Ok(again) => again,
        Err(e) => panic!(
            "an encoded request is refused ({e:?}): {}",
            String::from_utf8_lossy(object)
        ),
    };
    assert_eq!(
        again.request,
        envelope.request,
        "a request does not survive encoding: {}",
        String::from_utf8_lossy(object)
    );
    assert_eq!(
        again.reference, envelope.reference,
        "a ref does not survive encoding"
    );
}

fn check_ref(reference: Option<&Ref>) {
    if let Some(Ref::Text(text)) = reference {
        assert!(
            text.len() <= Ref::MAX_LEN,
            "a ref of {} bytes was accepted",
            text.len()
        );
    }
}
