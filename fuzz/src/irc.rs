//! What must hold when any bytes at all reach the IRC decoder (`IrcFramer`
//! cutting the stream into lines, `parse` reading each line, `lookup`
//! checking it against the command table).
//!
//! [`check`] decodes a stream three ways (whole, cut in two, one byte at a
//! time) and panics, naming the broken property, when
//! - the three disagree, or differ from [`expected`], the framing rules of
//!   `docs/irc.md` worked out line by line: CR and LF end lines, empty lines
//!   vanish, a line whose tags pass `max_tags` or whose rest passes
//!   `max_body` is reported once and skipped, an unterminated line waits;
//! - the framer holds more than the two limits together;
//! - a line is not the next piece of the input;
//! - `parse` accepts a line with a NUL or invalid UTF-8, gives anything
//!   but `ForbiddenByte(0)` for a line with a NUL, or calls a line empty
//!   that is not all spaces (or the other way round);
//! - a parsed message breaks the grammar (command not letters or three
//!   digits, more than 15 parameters, a middle parameter that is empty,
//!   has a space or starts with `:`), or does not re-encode to one line
//!   that parses to the same message (with `body_len` telling its length);
//! - `lookup` accepts a command with too few parameters or in the wrong
//!   registration phase, or refuses one with a reply that is not one
//!   well-formed line naming the right numeric, or answers (or fails to
//!   answer) a `NOTICE` against RFC 2812.
//!
//! A panic inside the decoder itself is found by running it at all.
//!
//! This file is compiled both into the fuzz crate and, through `#[path]`,
//! into `crates/proto/tests/fuzz_irc.rs`: it may use only `chatroom_proto`
//! and `std`.

use chatroom_proto::irc::{
    FrameError, IrcFramer, Limits, MAX_PARAMS, Message, ParseError, Phase, lookup, parse,
};

/// The limits a stream is decoded with: what the server accepts from a
/// client, what a client accepts from a server, and small ones so that
/// short inputs reach the over-long paths too.
pub const LIMITS: [Limits; 4] = [
    Limits::FROM_CLIENT,
    Limits::FROM_SERVER,
    Limits {
        max_tags: 16,
        max_body: 16,
    },
    Limits {
        max_tags: 3,
        max_body: 5,
    },
];

/// The server name replies are built with.
const SERVER: &str = "irc.fuzz";

/// One thing the framer emitted, owned so that runs can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A line, without its terminator.
    Line(Vec<u8>),
    /// A line whose tags were too long was skipped.
    TagsTooLong,
    /// A line whose rest was too long was skipped.
    LineTooLong,
}

/// What a stream decoded to.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// What the framer emitted, in stream order.
    pub items: Vec<Item>,
    /// What `parse` made of each [`Item::Line`], in the same order.
    pub messages: Vec<Result<Message, ParseError>>,
}

/// Decodes `bytes` under `limits`, also cut at `split` (clamped to the
/// length) and byte by byte, and checks every property in the module
/// documentation; panics on the first one broken.
pub fn check(bytes: &[u8], split: usize, limits: Limits) -> Decoded {
    let items = frame_whole(bytes, limits);
    assert_eq!(
        items,
        expected(bytes, limits),
        "the framing differs from the documented rules"
    );
    let split = split.min(bytes.len());
    let (head, tail) = bytes.split_at(split);
    assert_eq!(
        frame(limits, &[head, tail]),
        items,
        "cutting the stream at byte {split} changed the framing"
    );
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(
        frame(limits, &singles),
        items,
        "feeding the stream byte by byte changed the framing"
    );
    let messages = items
        .iter()
        .filter_map(|item| match item {
            Item::Line(line) => Some(check_line(line)),
            Item::TagsTooLong | Item::LineTooLong => None,
        })
        .collect();
    Decoded { items, messages }
}

/// What the framer must emit for `bytes` under `limits`, worked out from
/// the rules line by line rather than byte by byte.
pub fn expected(bytes: &[u8], limits: Limits) -> Vec<Item> {
    let mut items = Vec::new();
    let mut rest = bytes;
    loop {
        let end = rest.iter().position(|&b| b == b'\r' || b == b'\n');
        let line = &rest[..end.unwrap_or(rest.len())];
        if !line.is_empty() {
            let tags = tag_part(line);
            if tags > limits.max_tags {
                items.push(Item::TagsTooLong);
            } else if line.len() - tags > limits.max_body {
                items.push(Item::LineTooLong);
            } else if end.is_some() {
                items.push(Item::Line(line.to_vec()));
            }
        }
        match end {
            Some(i) => rest = &rest[i + 1..],
            None => return items,
        }
    }
}

/// Length of a line's tag part: from `@` up to and including the first
/// space (all of it when there is no space), 0 without tags.
fn tag_part(line: &[u8]) -> usize {
    if line.first() != Some(&b'@') {
        return 0;
    }
    line.iter()
        .position(|&b| b == b' ')
        .map_or(line.len(), |space| space + 1)
}

/// Frames `bytes` in one call, checking that each line is the next piece
/// of `bytes` itself (one call never needs to copy).
fn frame_whole(bytes: &[u8], limits: Limits) -> Vec<Item> {
    let mut framer = IrcFramer::new(limits);
    let mut items = Vec::new();
    let mut end_of_last = 0;
    framer.feed(bytes, |result| {
        let item = match result {
            Ok(line) => {
                let offset = line.as_ptr().addr().wrapping_sub(bytes.as_ptr().addr());
                assert!(
                    offset >= end_of_last && offset + line.len() <= bytes.len(),
                    "a line is not the next piece of the input: {:?}",
                    String::from_utf8_lossy(line)
                );
                end_of_last = offset + line.len();
                Item::Line(line.to_vec())
            }
            Err(e) => error_item(e, limits),
        };
        items.push(item);
    });
    check_buffer(&framer, limits);
    items
}

/// Frames the concatenation of `chunks`, fed one chunk per call.
fn frame(limits: Limits, chunks: &[&[u8]]) -> Vec<Item> {
    let mut framer = IrcFramer::new(limits);
    let mut items = Vec::new();
    for chunk in chunks {
        framer.feed(chunk, |result| {
            items.push(match result {
                Ok(line) => Item::Line(line.to_vec()),
                Err(e) => error_item(e, limits),
            })
        });
        check_buffer(&framer, limits);
    }
    items
}

fn error_item(error: FrameError, limits: Limits) -> Item {
    match error {
        FrameError::TagsTooLong(reported) => {
            assert_eq!(
                reported, limits.max_tags,
                "TagsTooLong reports the wrong limit"
            );
            Item::TagsTooLong
        }
        FrameError::LineTooLong(reported) => {
            assert_eq!(
                reported, limits.max_body,
                "LineTooLong reports the wrong limit"
            );
            Item::LineTooLong
        }
    }
}

fn check_buffer(framer: &IrcFramer, limits: Limits) {
    assert!(
        framer.buffered() <= limits.max_line(),
        "the framer holds {} bytes, over the limit of {}",
        framer.buffered(),
        limits.max_line()
    );
}

/// Parses one framed line and checks the outcome (see the module
/// documentation).
fn check_line(line: &[u8]) -> Result<Message, ParseError> {
    let parsed = parse(line);
    let utf8 = std::str::from_utf8(line).is_ok();
    let blank = line.iter().all(|&b| b == b' ');
    match &parsed {
        Ok(message) => {
            assert!(
                utf8 && !line.contains(&0),
                "a line with a NUL or invalid UTF-8 was accepted"
            );
            check_message(message);
            check_lookup(message);
        }
        Err(e) => {
            if line.contains(&0) {
                assert_eq!(*e, ParseError::ForbiddenByte(0), "a NUL was not named");
            }
            if let ParseError::InvalidUtf8 { .. } = e {
                assert!(!utf8, "valid UTF-8 was refused as invalid");
            }
            assert!(!e.to_string().is_empty(), "an error without a description");
        }
    }
    assert_eq!(
        blank,
        parsed == Err(ParseError::Empty),
        "an empty line must be exactly one of spaces"
    );
    parsed
}

/// A parsed message obeys the grammar and re-encodes to itself.
fn check_message(message: &Message) {
    let command = message.command.as_bytes();
    assert!(
        (command.first().is_some_and(u8::is_ascii_uppercase)
            && command
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_'))
            || (command.len() == 3 && command.iter().all(u8::is_ascii_digit)),
        "the command {:?} is neither a word nor a numeric",
        message.command
    );
    assert!(!command.is_empty(), "a message without a command");
    assert!(
        message.params.len() <= MAX_PARAMS,
        "{} parameters",
        message.params.len()
    );
    if let Some((_, middle)) = message.params.split_last() {
        for param in middle {
            assert!(
                !param.is_empty() && !param.contains(' ') && !param.starts_with(':'),
                "a middle parameter {param:?} could not be sent as one"
            );
        }
    }
    let line = message.encode();
    let Some(body) = line.strip_suffix(b"\r\n") else {
        panic!("an encoded message does not end with CRLF");
    };
    assert!(
        !body.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')),
        "an encoded message is more than one line: {:?}",
        String::from_utf8_lossy(&line)
    );
    assert_eq!(
        parse(body).as_ref(),
        Ok(message),
        "a message does not survive encoding: {:?}",
        String::from_utf8_lossy(&line)
    );
    assert_eq!(
        message.body_len(),
        line.len() - tag_part(body),
        "body_len does not measure the encoded line"
    );
}

/// The command table's verdict fits the message, before and after
/// registration.
fn check_lookup(message: &Message) {
    for registered in [false, true] {
        match lookup(message, registered) {
            Ok(spec) => {
                assert_eq!(spec.name, message.command, "lookup found another command");
                assert!(spec.args(message).len() <= spec.max_params);
                assert!(
                    message.params.len() >= spec.min_params
                        && message.params[..spec.min_params]
                            .iter()
                            .all(|p| !p.is_empty()),
                    "{} was accepted with too few parameters: {:?}",
                    spec.name,
                    message.params
                );
                let allowed = match spec.phase {
                    Phase::Registration => !registered,
                    Phase::Registered => registered,
                    Phase::Any => true,
                };
                assert!(allowed, "{} was accepted in the wrong phase", spec.name);
            }
            Err(e) => {
                assert_eq!(
                    e.command, message.command,
                    "the error names another command"
                );
                assert_eq!(
                    e.silent,
                    message.command == "NOTICE",
                    "only errors about NOTICE go unanswered"
                );
                let client = if registered { "nick" } else { "*" };
                match e.reply(SERVER, client) {
                    None => assert!(e.silent, "a refused {} got no reply", e.command),
                    Some(reply) => check_reply(&reply, e.numeric().code()),
                }
            }
        }
    }
}

/// A reply is one line that parses back to the error's numeric.
fn check_reply(reply: &Message, code: &str) {
    assert_eq!(reply.command, code, "the reply is not the error's numeric");
    assert!(
        reply.body_len() <= chatroom_proto::irc::MAX_LINE_BYTES,
        "a reply of {} bytes does not fit in a line",
        reply.body_len()
    );
    let line = reply.encode();
    let Some(body) = line.strip_suffix(b"\r\n") else {
        panic!("an encoded reply does not end with CRLF");
    };
    assert_eq!(
        parse(body).map(|m| m.command),
        Ok(code.to_owned()),
        "a reply does not parse back: {:?}",
        String::from_utf8_lossy(&line)
    );
}
