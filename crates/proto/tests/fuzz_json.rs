//! Fuzzing the JSON decoder on stable, with proptest.
//!
//! The properties are those of the nightly fuzz target `json_decoder`:
//! `fuzz/src/json.rs` is compiled in here as [`oracle`], so both search for
//! counterexamples to the same checks. The inputs go from arbitrary bytes
//! to structure-aware ones: valid request streams mutated in hostile ways
//! (truncation, byte flips, inserted NUL/CR/LF/braces/quotes/backslashes,
//! huge numbers, deep nesting, invalid UTF-8), and the documented
//! resynchronisation cases of `docs/protocol.md` checked exactly.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../fuzz/src/json.rs"]
mod oracle;

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{Envelope, MAX_HISTORY_LIMIT, Ref, Request, encode_request};
use oracle::{CAPS, Item};
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Text for any string field: plain, full of characters JSON must escape,
/// or anything printable.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,12}",
        "[\"\\\\/\n\r\t\u{0}\u{1b}\u{7f}\u{2028}{}\\[\\]:,]{1,8}",
        "\\PC{1,16}",
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        text().prop_map(|nickname| Request::Login {
            nickname,
            password: None,
            protocol: None
        }),
        (proptest::option::of(text()), text(), any::<bool>()).prop_map(
            |(room, message, action)| Request::Broadcast {
                room,
                message,
                action
            }
        ),
        (text(), text(), any::<bool>()).prop_map(|(to, message, action)| Request::Direct {
            to,
            message,
            action
        }),
        text().prop_map(|room| Request::Join { room, key: None }),
        text().prop_map(|room| Request::Part { room }),
        text().prop_map(|room| Request::Who { room }),
        (text(), proptest::option::of(text()))
            .prop_map(|(room, topic)| Request::Topic { room, topic }),
        text().prop_map(|nickname| Request::Nick { nickname }),
        (
            text(),
            proptest::option::of(any::<u64>()),
            1..=MAX_HISTORY_LIMIT
        )
            .prop_map(|(room, before, limit)| Request::History {
                room,
                before,
                limit
            }),
        Just(Request::Rooms),
        Just(Request::Logout),
        Just(Request::Ping),
    ]
}

fn reference() -> impl Strategy<Value = Option<Ref>> {
    prop_oneof![
        Just(None),
        any::<u64>().prop_map(|n| Some(Ref::Number(n.into()))),
        any::<i64>().prop_map(|n| Some(Ref::Number(n.into()))),
        // Floats that survive serde_json's default parsing exactly; see
        // `float_refs_are_echoed_exactly` for the others.
        (-1000i32..1000)
            .prop_map(|n| serde_json::Number::from_f64(f64::from(n) / 8.0).map(Ref::Number)),
        "\\PC{0,16}".prop_map(|s| Some(Ref::Text(s))),
    ]
}

/// Valid requests, encoded back to back with random separators.
fn stream() -> impl Strategy<Value = (Vec<Envelope>, Vec<u8>)> {
    let separator = select(vec!["", "", "\n", " ", "\r\n", "\t \n"]);
    prop::collection::vec((request(), reference(), separator), 1..6).prop_map(|parts| {
        let mut bytes = Vec::new();
        let mut envelopes = Vec::new();
        for (request, reference, separator) in parts {
            let line = encode_request(&request, reference.as_ref());
            bytes.extend_from_slice(line.trim_ascii_end());
            bytes.extend_from_slice(separator.as_bytes());
            envelopes.push(Envelope { reference, request });
        }
        (envelopes, bytes)
    })
}

/// Numbers no field can hold: too many digits, exponents out of range.
fn huge_number() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[1-9][0-9]{20,400}",
        "-?[0-9]\\.[0-9]{1,40}[eE][+-]?[1-9][0-9]{3,12}",
        select(vec![
            "1e999999999",
            "-1e400",
            "18446744073709551616",
            "-9223372036854775809",
            "1.7976931348623157e309",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Nesting `depth` deep, of arrays or of objects, closed or not.
fn nesting(depth: usize, arrays: bool, closed: bool) -> String {
    let (open, inner, close) = if arrays {
        ("[", "1", "]")
    } else {
        ("{\"a\":", "1", "}")
    };
    let mut out = open.repeat(depth);
    out.push_str(inner);
    if closed {
        out.push_str(&close.repeat(depth));
    }
    out
}

/// What a hostile client might splice into a frame.
fn nasty() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&[u8]> = vec![
        b"\0", b"\r", b"\n", b"{", b"}", b"[", b"]", b"\"", b"\\", b"\\u", b"\\ud800", b"\\u0000",
        b":", b",", b"null", b"-0", b"\x1b[2J", b"{}{}{}",
    ];
    prop_oneof![
        select(tokens).prop_map(<[u8]>::to_vec),
        select(common::INVALID_UTF8.to_vec()).prop_map(<[u8]>::to_vec),
        huge_number().prop_map(String::into_bytes),
        (1usize..300, any::<bool>(), any::<bool>())
            .prop_map(|(depth, arrays, closed)| nesting(depth, arrays, closed).into_bytes()),
        prop::collection::vec(any::<u8>(), 1..8),
    ]
}

/// A ping with a ref, to show the decoder is back on its feet.
fn sentinel(reference: &str) -> Vec<u8> {
    format!(r#"{{"type":"ping","ref":"{reference}"}}"#).into_bytes()
}

fn is_sentinel(request: &Result<Envelope, chatroom_proto::json::RequestError>, r: &str) -> bool {
    request
        == &Ok(Envelope {
            reference: Some(Ref::Text(r.to_owned())),
            request: Request::Ping,
        })
}

/// The single request a one-frame stream decoded to.
fn only_request(bytes: &[u8]) -> Result<Envelope, chatroom_proto::json::RequestError> {
    let decoded = oracle::check(bytes, bytes.len() / 2, CAPS[0]);
    assert_eq!(
        decoded.items.len(),
        1,
        "{:?}",
        String::from_utf8_lossy(bytes)
    );
    decoded.requests.into_iter().next().unwrap()
}

proptest! {
    #[test]
    fn arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        split in any::<Index>(),
        cap in 0..CAPS.len(),
    ) {
        oracle::check(&bytes, split.index(bytes.len() + 1), CAPS[cap]);
    }

    #[test]
    fn bytes_from_json_punctuation(
        bytes in prop::collection::vec(
            prop_oneof![
                4 => select(b"{}[]\":,\\ \n\r\t0-eE.tfnul\x00\xff".to_vec()),
                1 => any::<u8>(),
            ],
            0..512,
        ),
        split in any::<Index>(),
        cap in 0..CAPS.len(),
    ) {
        oracle::check(&bytes, split.index(bytes.len() + 1), CAPS[cap]);
    }

    #[test]
    fn valid_streams_decode_exactly((envelopes, bytes) in stream(), split in any::<Index>()) {
        let decoded = oracle::check(&bytes, split.index(bytes.len() + 1), CAPS[0]);
        let expected: Vec<_> = envelopes.into_iter().map(Ok).collect();
        prop_assert_eq!(decoded.requests, expected);
        prop_assert!(decoded.items.iter().all(|item| matches!(item, Item::Frame(_))));
    }

    #[test]
    fn mutated_streams_keep_every_invariant(
        (_, bytes) in stream(),
        mutations in prop::collection::vec(common::mutation(nasty()), 1..6),
        split in any::<Index>(),
        cap in 0..CAPS.len(),
    ) {
        let bytes = common::mutate(bytes, &mutations);
        oracle::check(&bytes, split.index(bytes.len() + 1), CAPS[cap]);
    }

    /// Huge numbers are valid JSON: refused as `invalid_field` where a
    /// number is read, ignored where none is.
    #[test]
    fn huge_numbers_are_invalid_fields_where_read(
        field in select(vec!["before", "limit", "ref", "x", "action"]),
        number in huge_number(),
    ) {
        let frame = format!(r#"{{"type":"history","room":"r","{field}":{number}}}"#);
        match (field, only_request(frame.as_bytes())) {
            ("before" | "limit", Err(e)) => prop_assert_eq!(e.code, ErrorCode::InvalidField),
            ("x" | "action", Ok(envelope)) => prop_assert_eq!(
                envelope.request,
                Request::History { room: "r".into(), before: None, limit: 50 }
            ),
            ("ref", Ok(_)) => {}
            ("ref", Err(e)) => prop_assert_eq!(e.code, ErrorCode::InvalidField),
            (field, outcome) => prop_assert!(false, "{field}: {outcome:?}"),
        }
    }

    /// Nesting costs no stack: a deep value is ignored where no field is
    /// read and `invalid_field` where a string is expected.
    #[test]
    fn deep_nesting_is_just_a_wrong_value(
        depth in 1usize..3000,
        arrays in any::<bool>(),
        field in select(vec!["x", "message", "ref", "room"]),
    ) {
        let value = nesting(depth, arrays, true);
        let message = if field == "message" { "" } else { r#""message":"hi","# };
        let frame = format!(r#"{{"type":"broadcast",{message}"{field}":{value}}}"#);
        match (field, only_request(frame.as_bytes())) {
            ("x", Ok(envelope)) => prop_assert_eq!(
                envelope.request,
                Request::Broadcast { room: None, message: "hi".into(), action: false }
            ),
            (_, Err(e)) => prop_assert_eq!(e.code, ErrorCode::InvalidField),
            (field, outcome) => prop_assert!(false, "{field}: {outcome:?}"),
        }
    }

    /// Outside an object, a line of garbage costs one `malformed_json` and
    /// nothing else: the request after it arrives intact.
    #[test]
    fn each_garbage_line_is_one_error(
        lines in prop::collection::vec(
            (
                prop::collection::vec(any::<u8>().prop_filter("no {", |&b| b != b'{' && b != b'\n'), 1..40)
                    .prop_filter("not blank", |g| !g.iter().all(u8::is_ascii_whitespace)),
                request(),
                reference(),
            ),
            1..5,
        ),
        split in any::<Index>(),
    ) {
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for (garbage, request, reference) in lines {
            bytes.extend_from_slice(&garbage);
            bytes.push(b'\n');
            let line = encode_request(&request, reference.as_ref());
            bytes.extend_from_slice(&line);
            expected.push(Item::Malformed);
            expected.push(Item::Frame(line.trim_ascii_end().to_vec()));
        }
        let decoded = oracle::check(&bytes, split.index(bytes.len() + 1), CAPS[0]);
        prop_assert_eq!(decoded.items, expected);
    }

    /// A frame cut inside a string, then a newline: one `malformed_json`,
    /// and the next request is read (the raw newline ends the broken frame).
    #[test]
    fn cut_inside_a_string_then_newline_resynchronises(
        text in "[^\"\\\\\\x00-\\x1f]{1,30}",
        cut in any::<Index>(),
        split in any::<Index>(),
    ) {
        let frame = format!(r#"{{"type":"broadcast","message":"{text}"}}"#);
        let start = frame.len() - text.len() - 2;
        let mut bytes = frame.as_bytes()[..start + cut.index(text.len())].to_vec();
        bytes.push(b'\n');
        bytes.extend_from_slice(&sentinel("back"));
        let decoded = oracle::check(&bytes, split.index(bytes.len() + 1), CAPS[0]);
        prop_assert_eq!(&decoded.items[0], &Item::Malformed);
        prop_assert_eq!(decoded.items.len(), 2);
        prop_assert!(is_sentinel(&decoded.requests[0], "back"), "{:?}", decoded.requests);
    }

    /// A frame cut right after a value, then a new object: one
    /// `malformed_json`, and the new object is read.
    #[test]
    fn cut_after_a_value_then_an_object_resynchronises(
        text in "\\PC{1,20}",
        after in 0usize..4,
        split in any::<Index>(),
    ) {
        let frame = encode_request(
            &Request::Broadcast { room: Some("r".into()), message: text, action: true },
            None,
        );
        let frame = String::from_utf8(frame).unwrap();
        // The ends of the four values: "broadcast", "r", the message, true.
        let ends: Vec<usize> = ["\"broadcast\"", "\"room\":\"r\"", "\"action\":true"]
            .iter()
            .map(|v| frame.find(v).unwrap() + v.len())
            .chain([frame.find(",\"room\"").unwrap()])
            .collect();
        let mut bytes = frame.as_bytes()[..ends[after]].to_vec();
        bytes.extend_from_slice(&sentinel("next"));
        let decoded = oracle::check(&bytes, split.index(bytes.len() + 1), CAPS[0]);
        prop_assert_eq!(&decoded.items[0], &Item::Malformed);
        prop_assert_eq!(decoded.items.len(), 2);
        prop_assert!(is_sentinel(&decoded.requests[0], "next"), "{:?}", decoded.requests);
    }

    /// Bytes that are not UTF-8 anywhere in an object (truncated UTF-8
    /// included) make it `invalid_utf8`, nothing else.
    #[test]
    fn invalid_utf8_anywhere_in_an_object_is_invalid_utf8(
        (_, bytes) in stream().prop_filter("one frame", |(e, _)| e.len() == 1),
        bad in select(common::INVALID_UTF8.to_vec()),
        at in any::<Index>(),
    ) {
        let object = bytes.trim_ascii_end();
        // Anywhere after the opening brace and before the closing one.
        let at = 1 + at.index(object.len() - 1);
        let mut frame = object.to_vec();
        frame.splice(at..at, bad.iter().copied());
        let decoded = oracle::check(&frame, 0, CAPS[0]);
        if let [Item::Frame(_)] = decoded.items.as_slice() {
            let Err(e) = &decoded.requests[0] else {
                panic!("accepted {:?}", String::from_utf8_lossy(&frame));
            };
            prop_assert_eq!(e.code, ErrorCode::InvalidUtf8);
        }
    }

    /// A raw control character inside a string is not JSON: `malformed_json`.
    #[test]
    fn raw_control_characters_in_strings_are_malformed(
        control in (0u8..0x20).prop_filter("newline ends the frame", |&c| c != b'\n'),
        before in "[a-z]{0,5}",
        after in "[a-z]{0,5}",
    ) {
        let mut frame = format!(r#"{{"type":"broadcast","message":"{before}"#).into_bytes();
        frame.push(control);
        frame.extend_from_slice(format!(r#"{after}"}}"#).as_bytes());
        prop_assert_eq!(only_request(&frame).unwrap_err().code, ErrorCode::MalformedJson);
    }

    /// Thousands of tiny frames in one write each get their own answer.
    #[test]
    fn many_tiny_frames_in_one_write(count in 1usize..3000, empty in any::<bool>()) {
        let one: &[u8] = if empty { b"{}" } else { br#"{"type":"ping"}"# };
        let bytes = one.repeat(count);
        let decoded = oracle::check(&bytes, bytes.len() / 3, CAPS[0]);
        prop_assert_eq!(decoded.requests.len(), count);
        for request in decoded.requests {
            match request {
                Ok(envelope) => prop_assert!(!empty && envelope.request == Request::Ping),
                Err(e) => prop_assert!(empty && e.code == ErrorCode::MissingField),
            }
        }
    }
}

#[test]
fn nesting_past_the_cap_stops_the_framer() {
    for arrays in [true, false] {
        let deep = nesting(40_000, arrays, true);
        let mut bytes = format!(r#"{{"type":"ping","x":{deep}}}"#).into_bytes();
        bytes.extend_from_slice(&sentinel("never"));
        let decoded = oracle::check(&bytes, 100_000, CAPS[0]);
        assert_eq!(decoded.items, [Item::TooLarge]);
    }
}

#[test]
fn brace_flood_is_one_object_that_passes_the_cap() {
    let bytes = b"{".repeat(CAPS[0] + 1);
    assert_eq!(oracle::check(&bytes, 100, CAPS[0]).items, [Item::TooLarge]);
    let bytes = b"}".repeat(CAPS[0] * 2);
    assert_eq!(oracle::check(&bytes, 100, CAPS[0]).items, [Item::Malformed]);
}

#[test]
fn truncated_utf8_at_the_end_of_a_string() {
    let frame = b"{\"type\":\"broadcast\",\"message\":\"\xe4\xbd\"}";
    assert_eq!(
        only_request(frame).unwrap_err().code,
        ErrorCode::InvalidUtf8
    );
    let frame = b"{\"type\":\"login\",\"nickname\":\"\xf0\x9f\x98\"}";
    assert_eq!(
        only_request(frame).unwrap_err().code,
        ErrorCode::InvalidUtf8
    );
}

/// `docs/protocol.md`: "Inside an object, a raw newline inside a string
/// [...] ends the broken object with `malformed_json` and decoding
/// restarts there." A raw newline right after a backslash is still a raw
/// newline inside a string (JSON has no escaped line break).
#[test]

fn raw_newline_after_a_backslash_still_ends_the_broken_object() {
    let mut bytes = br#"{"type":"broadcast","message":"cut mid-escape \"#.to_vec();
    bytes.push(b'\n');
    bytes.extend_from_slice(&sentinel("back"));
    bytes.push(b'\n');
    let decoded = oracle::check(&bytes, 0, CAPS[0]);
    assert_eq!(decoded.items.len(), 2, "{:?}", decoded.items);
    assert_eq!(decoded.items[0], Item::Malformed);
    assert!(
        is_sentinel(&decoded.requests[0], "back"),
        "{:?}",
        decoded.requests
    );
}

/// `docs/protocol.md`: "The reply to that request, or the error it caused,
/// carries the same `ref`." serde_json's default float parsing may be off
/// by a unit in the last place, so a float `ref` can come back changed.
#[test]

fn float_refs_are_echoed_exactly() {
    proptest!(|(x in any::<f64>().prop_filter("finite", |x| x.is_finite()))| {
        let frame = format!(r#"{{"type":"ping","ref":{x:e}}}"#);
        let envelope = only_request(frame.as_bytes()).unwrap();
        let Some(Ref::Number(echoed)) = envelope.reference else {
            panic!("{frame}: {envelope:?}");
        };
        prop_assert_eq!(echoed.as_f64(), Some(x), "{}", frame);
    });
}
