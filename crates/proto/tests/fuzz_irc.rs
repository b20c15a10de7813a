//! Fuzzing the IRC decoder on stable, with proptest.
//!
//! The properties are those of the nightly fuzz target `irc_decoder`:
//! `fuzz/src/irc.rs` is compiled in here as [`oracle`], so both search for
//! counterexamples to the same checks (framing against the documented
//! rules, parsing, the command table, re-encoding). The inputs go from
//! arbitrary bytes to structure-aware ones: real client lines mutated in
//! hostile ways (truncation, byte flips, inserted NUL/CR/LF/colons/
//! semicolons/backslashes, invalid UTF-8), lines around both length
//! limits, overlong tag sections, too many parameters.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../fuzz/src/irc.rs"]
mod oracle;

use chatroom_proto::irc::{
    Limits, MAX_LINE_BYTES, Message, ParseError, Source, Tag, lookup, parse,
};
use oracle::{Item, LIMITS};
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Lines real clients send, tags and all.
const LINES: [&str; 14] = [
    "NICK bob",
    "USER bob 0 * :Bob Builder",
    "CAP LS 302",
    "CAP REQ :server-time message-tags echo-message batch",
    "PRIVMSG #lobby :hello there",
    "PRIVMSG #lobby :\u{1}ACTION waves\u{1}",
    "NOTICE alice :psst",
    "JOIN #a,#b,#c key1,key2",
    "PART #a :bye for now",
    "TOPIC #rust :all things Rust",
    "MODE #lobby +n",
    "@time=2024-01-01T00:00:00.000Z;+draft/reply=a\\sb\\:c :bob!b@host PRIVMSG #lobby :hi",
    "@+typing=active TAGMSG #lobby",
    "WHOIS x y",
];

/// A message `parse` can return: valid tags, source, command, parameters.
fn message() -> impl Strategy<Value = Message> {
    let key = "\\+?([a-z0-9.-]{1,6}/)?[A-Za-z0-9-]{1,8}";
    let tags = prop::collection::vec((key, prop::option::of("[^\\x00]{1,10}")), 0..4)
        .prop_map(|tags| tags.into_iter().map(|(k, v)| Tag::new(k, v)).collect());
    let source = prop::option::of((
        "[^\\x00\\r\\n !@]{1,8}",
        prop::option::of("[^\\x00\\r\\n @]{0,6}"),
        prop::option::of("[^\\x00\\r\\n ]{0,10}"),
    ))
    .prop_map(|s| s.map(|(name, user, host)| Source { name, user, host }));
    let command = prop_oneof!["[A-Z]{1,10}", "[0-9]{3}"];
    let params = prop::collection::vec("[^\\x00\\r\\n :][^\\x00\\r\\n ]{0,8}", 0..14);
    let last = prop::option::of("[^\\x00\\r\\n]{0,20}");
    (tags, source, command, params, last).prop_map(|(tags, source, command, mut params, last)| {
        let trailing = last.is_some();
        params.extend(last);
        Message {
            tags,
            source,
            command,
            params,
            trailing,
        }
    })
}

/// One line, without terminator: a real client's, or a generated one.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        select(LINES.to_vec()).prop_map(|l| l.as_bytes().to_vec()),
        message().prop_map(|m| {
            let mut line = m.encode();
            line.truncate(line.len() - 2);
            line
        }),
    ]
}

fn terminator() -> impl Strategy<Value = &'static [u8]> {
    select(vec![&b"\r\n"[..], b"\n", b"\r", b"\r\n\r\n", b"\n\r"])
}

/// Lines joined with terminators; the last may be left unterminated.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((line(), terminator()), 1..6),
        any::<bool>(),
    )
        .prop_map(|(lines, finish)| {
            let mut bytes = Vec::new();
            let count = lines.len();
            for (i, (line, end)) in lines.into_iter().enumerate() {
                bytes.extend_from_slice(&line);
                if finish || i + 1 < count {
                    bytes.extend_from_slice(end);
                }
            }
            bytes
        })
}

/// What a hostile client might splice into a line.
fn nasty() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&[u8]> = vec![
        b"\0",
        b"\r",
        b"\n",
        b" ",
        b"  ",
        b":",
        b" :",
        b"@",
        b";",
        b"=",
        b"\\",
        b"!",
        b"#",
        b",",
        b"\x01ACTION ",
        b"\x1b[2J",
        b"\x07",
    ];
    prop_oneof![
        select(tokens).prop_map(<[u8]>::to_vec),
        select(common::INVALID_UTF8.to_vec()).prop_map(<[u8]>::to_vec),
        (1usize..40).prop_map(|n| " x".repeat(n).into_bytes()),
        (4000usize..4200).prop_map(|n| format!("@k={} ", "v".repeat(n)).into_bytes()),
        (500usize..530).prop_map(|n| "b".repeat(n).into_bytes()),
        prop::collection::vec(any::<u8>(), 1..8),
    ]
}

/// A line of `tags` tag bytes (`@`, data and space; none when 0) and `body`
/// other bytes, filled with `fill` (anything but CR and LF).
fn sized_line(tags: usize, body: usize, fill: &[u8]) -> Vec<u8> {
    let mut filler = fill
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n' && b != b' ')
        .chain(std::iter::repeat(b'x'))
        .cycle();
    let mut line = Vec::with_capacity(tags + body);
    if tags > 0 {
        line.push(b'@');
        line.extend(filler.by_ref().take(tags.saturating_sub(2)));
        if tags > 1 {
            line.push(b' ');
        }
    }
    line.extend(filler.take(body));
    line
}

proptest! {
    #[test]
    fn arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        split in any::<Index>(),
        limits in 0..LIMITS.len(),
    ) {
        oracle::check(&bytes, split.index(bytes.len() + 1), LIMITS[limits]);
    }

    #[test]
    fn bytes_from_irc_punctuation(
        bytes in prop::collection::vec(
            prop_oneof![
                4 => select(b"@:; =\\!#,+/\r\n\x00\x01aA0PRIVMSGNICK\xff".to_vec()),
                1 => any::<u8>(),
            ],
            0..512,
        ),
        split in any::<Index>(),
        limits in 0..LIMITS.len(),
    ) {
        oracle::check(&bytes, split.index(bytes.len() + 1), LIMITS[limits]);
    }

    /// Well-formed lines come out exactly as sent and parse.
    #[test]
    fn valid_streams_parse(bytes in stream(), split in any::<Index>()) {
        let decoded = oracle::check(&bytes, split.index(bytes.len() + 1), Limits::FROM_SERVER);
        for parsed in decoded.messages {
            prop_assert!(parsed.is_ok(), "{parsed:?}");
        }
    }

    #[test]
    fn mutated_streams_keep_every_invariant(
        bytes in stream(),
        mutations in prop::collection::vec(common::mutation(nasty()), 1..6),
        split in any::<Index>(),
        limits in 0..LIMITS.len(),
    ) {
        let bytes = common::mutate(bytes, &mutations);
        oracle::check(&bytes, split.index(bytes.len() + 1), LIMITS[limits]);
    }

    /// Lines around both limits, with and without tags, full of any bytes:
    /// each is passed or refused by the rules, and the line after an
    /// over-long one arrives intact.
    #[test]
    fn lines_around_the_limits(
        lines in prop::collection::vec(
            (
                prop_oneof![Just(0usize), 1usize..8, 4085usize..4110],
                prop_oneof![1usize..20, 500usize..520],
                prop::collection::vec(any::<u8>(), 1..16),
                terminator(),
            ),
            1..4,
        ),
        split in any::<Index>(),
    ) {
        let mut bytes = Vec::new();
        for (tags, body, fill, end) in lines {
            bytes.extend_from_slice(&sized_line(tags, body, &fill));
            bytes.extend_from_slice(end);
        }
        bytes.extend_from_slice(b"PING :after\r\n");
        let decoded = oracle::check(&bytes, split.index(bytes.len() + 1), Limits::FROM_CLIENT);
        prop_assert_eq!(decoded.items.last(), Some(&Item::Line(b"PING :after".to_vec())));
    }

    /// Invalid UTF-8 after a readable command is reported naming the command.
    #[test]
    fn invalid_utf8_names_the_command(
        command in "[a-zA-Z]{1,10}",
        params in "[a-z #:]{0,20}",
        bad in select(common::INVALID_UTF8.to_vec()),
        at in any::<Index>(),
        prefix in select(vec!["", "@t=1 ", ":nick!u@h ", "@a=b;c :srv "]),
    ) {
        let mut rest = format!(" {params}").into_bytes();
        // After the space that ends the command.
        let at = 1 + at.index(rest.len());
        rest.splice(at..at, bad.iter().copied());
        let mut line = format!("{prefix}{command}").into_bytes();
        line.extend_from_slice(&rest);
        let decoded = oracle::check(&line, 0, Limits::FROM_CLIENT);
        prop_assert_eq!(decoded.items.len(), 0);
        line.push(b'\n');
        let decoded = oracle::check(&line, 0, Limits::FROM_CLIENT);
        prop_assert_eq!(
            &decoded.messages,
            &[Err(ParseError::InvalidUtf8 { command: command.to_ascii_uppercase() })]
        );
    }

    /// Parameters past the fifteenth are folded into it, and the line still
    /// re-encodes to itself.
    #[test]
    fn too_many_parameters_fold_into_the_fifteenth(
        params in prop::collection::vec("[a-z:]{1,4}", 15..40),
        colon in any::<bool>(),
    ) {
        let line = format!("CMD {}{}\n", if colon { ":" } else { "" }, params.join(" "));
        let decoded = oracle::check(line.as_bytes(), 3, Limits::FROM_CLIENT);
        let message = decoded.messages[0].as_ref().unwrap();
        prop_assert!(message.params.len() <= 15);
    }

    /// Control characters and escape sequences in text are data: they
    /// reach the parameter as sent.
    #[test]
    fn control_characters_in_text_are_kept(
        text in "[\\x01-\\x09\\x0b\\x0c\\x0e-\\x1f\\x7f a-z\u{202e}\u{200b}]{1,40}",
    ) {
        let line = format!("PRIVMSG #lobby :{text}\r\n");
        let decoded = oracle::check(line.as_bytes(), 7, Limits::FROM_CLIENT);
        let message = decoded.messages[0].as_ref().unwrap();
        prop_assert_eq!(&message.params, &vec!["#lobby".to_owned(), text]);
    }
}

#[test]
fn a_ten_megabyte_line_costs_one_error_and_no_memory() {
    let mut bytes = vec![b'A'; 10 * 1024 * 1024];
    bytes.extend_from_slice(b"\r\nPING :after\r\n");
    let mut framer = chatroom_proto::irc::IrcFramer::new(Limits::FROM_CLIENT);
    let mut items = Vec::new();
    for chunk in bytes.chunks(64 * 1024) {
        framer.feed(chunk, |r| items.push(r.map(<[u8]>::to_vec)));
        assert!(framer.buffered() <= Limits::FROM_CLIENT.max_line());
    }
    assert_eq!(
        items,
        [
            Err(chatroom_proto::irc::FrameError::LineTooLong(510)),
            Ok(b"PING :after".to_vec())
        ]
    );
}

/// RFC 1459 section 2.3: messages "shall not exceed 512 characters in
/// length", CR-LF included; the `421` reply to an unknown command echoes
/// the command, which a client may make 510 letters long.
#[test]

fn unknown_command_replies_fit_in_a_line() {
    for len in [1, 100, 470, 480, 500, 510] {
        let line = "Z".repeat(len);
        let message = parse(line.as_bytes()).unwrap();
        let error = lookup(&message, true).unwrap_err();
        let reply = error.reply("irc.example.org", "somebody").unwrap().encode();
        assert!(
            reply.len() <= MAX_LINE_BYTES,
            "a {len}-letter command gets a {}-byte reply",
            reply.len()
        );
    }
}
