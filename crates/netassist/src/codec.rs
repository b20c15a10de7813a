//! Byte-level views and parsers: `hexdump -C` formatting, hex input parsing,
//! escapes in text to send (`\r`, `\xNN`, like NetAssist's 转义符 option) and
//! escaping of untrusted text before it reaches a terminal or a transcript.
//!
//! Received bytes come from a hostile network, so everything here is total: any
//! input produces output or a typed error, never a panic.

use std::fmt::Write as _;

/// Why a hex string could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// A character that is neither a hex digit nor an accepted separator.
    #[error("invalid character {ch:?} at position {pos} in hex input")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its character index in the input.
        pos: usize,
    },
    /// A group of digits with an odd length, so one byte would be half a byte.
    #[error("hex group {group:?} has an odd number of digits")]
    OddDigits {
        /// The group as written.
        group: String,
    },
    /// Nothing to send.
    #[error("hex input contains no bytes")]
    Empty,
}

/// Parses hex bytes written the way people paste them.
///
/// Accepted: `de ad be ef`, `deadbeef`, `DE:AD:BE:EF`, `de-ad,be ef`,
/// `0xde 0xad`. Separators (space, tab, `:`, `-`, `,`) split groups; each group
/// must have an even number of digits and may start with `0x`/`0X`.
pub fn parse_hex(input: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(input.len() / 2);
    let mut group = String::new();
    let mut group_start = 0;
    let flush = |group: &mut String, out: &mut Vec<u8>| -> Result<(), HexError> {
        let digits = group
            .strip_prefix("0x")
            .or_else(|| group.strip_prefix("0X"))
            .unwrap_or(group);
        if !digits.len().is_multiple_of(2) {
            return Err(HexError::OddDigits {
                group: group.clone(),
            });
        }
        let bytes = digits.as_bytes();
        for pair in bytes.chunks_exact(2) {
            out.push((nibble(pair[0]) << 4) | nibble(pair[1]));
        }
        group.clear();
        Ok(())
    };
    for (pos, ch) in input.chars().enumerate() {
        if matches!(ch, ' ' | '\t' | ':' | '-' | ',' | '\r' | '\n') {
            flush(&mut group, &mut out)?;
            continue;
        }
        let is_prefix_x = (ch == 'x' || ch == 'X') && group == "0" && pos == group_start + 1;
        if !ch.is_ascii_hexdigit() && !is_prefix_x {
            return Err(HexError::InvalidChar { ch, pos });
        }
        if group.is_empty() {
            group_start = pos;
        }
        group.push(ch);
    }
    flush(&mut group, &mut out)?;
    if out.is_empty() {
        return Err(HexError::Empty);
    }
    Ok(out)
}

/// A piece of text to send once escapes are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text, to be encoded with the session's encoding.
    Text(String),
    /// One exact byte from an escape.
    Byte(u8),
}

/// An escape sequence that means nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad escape {seq:?} at character {pos}: use \\r \\n \\t \\0 \\\\ or \\xNN \
     (/escapes off sends backslashes as typed)"
)]
pub struct EscapeError {
    /// The sequence as written (possibly cut short by the end of the text).
    pub seq: String,
    /// Its character index in the text.
    pub pos: usize,
}

/// Resolves escapes in text to send: `\r`, `\n`, `\t`, `\0`, `\\` and
/// `\xNN` (two hex digits) become exact bytes; everything else is text.
pub fn unescape(text: &str) -> Result<Vec<Piece>, EscapeError> {
    let mut pieces = Vec::new();
    let mut plain = String::new();
    let mut chars = text.chars().enumerate().peekable();
    while let Some((pos, ch)) = chars.next() {
        if ch != '\\' {
            plain.push(ch);
            continue;
        }
        let byte = match chars.next() {
            Some((_, 'r')) => b'\r',
            Some((_, 'n')) => b'\n',
            Some((_, 't')) => b'\t',
            Some((_, '0')) => 0,
            Some((_, '\\')) => b'\\',
            Some((_, x @ ('x' | 'X'))) => {
                let hi = chars.next().map(|(_, c)| c);
                let lo = chars.next().map(|(_, c)| c);
                match (hi, lo) {
                    (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                        (nibble(h as u8) << 4) | nibble(l as u8)
                    }
                    _ => {
                        let mut seq = format!("\\{x}");
                        seq.extend(hi);
                        seq.extend(lo);
                        return Err(EscapeError { seq, pos });
                    }
                }
            }
            Some((_, other)) => {
                return Err(EscapeError {
                    seq: format!("\\{other}"),
                    pos,
                });
            }
            None => {
                return Err(EscapeError {
                    seq: "\\".into(),
                    pos,
                });
            }
        };
        if !plain.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut plain)));
        }
        pieces.push(Piece::Byte(byte));
    }
    if !plain.is_empty() {
        pieces.push(Piece::Text(plain));
    }
    Ok(pieces)
}

/// Value of one ASCII hex digit; callers only pass validated digits.
fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// Formats bytes as space-separated lowercase hex pairs: `de ad be ef`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Formats bytes like `hexdump -C`, one `String` per 16-byte row, without the
/// trailing total-length row. `offset` is the stream position of `bytes[0]`,
/// so consecutive chunks of one connection show continuous offsets.
pub fn hexdump_lines(bytes: &[u8], offset: u64) -> Vec<String> {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(row, chunk)| {
            let mut line = String::with_capacity(78);
            let _ = write!(line, "{:08x}  ", offset + (row as u64) * 16);
            for i in 0..16 {
                if i == 8 {
                    line.push(' ');
                }
                match chunk.get(i) {
                    Some(b) => {
                        let _ = write!(line, "{b:02x} ");
                    }
                    None => line.push_str("   "),
                }
            }
            line.push_str(" |");
            line.extend(chunk.iter().map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '.'
                }
            }));
            line.push('|');
            line
        })
        .collect()
}

/// Makes decoded network text safe to print on one terminal line: control
/// characters (including ESC, so a peer cannot drive the terminal) become
/// visible escapes such as `\r`, `\x1b` or `\u{85}`.
///
/// With `keep_newlines`, `\n` stays a real line break (for the screen);
/// otherwise it becomes `\n` too (for the one-line-per-event transcript).
pub fn escape_text(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' if keep_newlines => out.push('\t'),
            '\t' => out.push_str("\\t"),
            '\\' if !keep_newlines => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_hex_spellings() {
        let want = vec![0xde, 0xad, 0xbe, 0xef];
        for s in [
            "de ad be ef",
            "deadbeef",
            "DE:AD:BE:EF",
            "de-ad,be ef",
            "0xde 0xad 0xBE 0XEF",
            "  dead  beef\n",
        ] {
            assert_eq!(parse_hex(s), Ok(want.clone()), "input {s:?}");
        }
    }

    #[test]
    fn rejects_bad_hex_with_a_reason() {
        assert_eq!(
            parse_hex("de ad b"),
            Err(HexError::OddDigits { group: "b".into() })
        );
        assert_eq!(
            parse_hex("zz"),
            Err(HexError::InvalidChar { ch: 'z', pos: 0 })
        );
        assert_eq!(
            parse_hex("d0x1"),
            Err(HexError::InvalidChar { ch: 'x', pos: 2 })
        );
        assert_eq!(parse_hex("  "), Err(HexError::Empty));
        assert_eq!(parse_hex("0x"), Err(HexError::Empty));
    }

    #[test]
    fn hexdump_matches_hexdump_c() {
        // Reference rows produced by `printf ... | hexdump -C`.
        assert_eq!(
            hexdump_lines(b"hello\n", 0),
            vec!["00000000  68 65 6c 6c 6f 0a                                 |hello.|"]
        );
        assert_eq!(
            hexdump_lines(b"0123456789abcdefXYZ\x00\xff", 0),
            vec![
                "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|",
                "00000010  58 59 5a 00 ff                                    |XYZ..|",
            ]
        );
        assert_eq!(
            hexdump_lines(b"012345678", 0x20),
            vec!["00000020  30 31 32 33 34 35 36 37  38                       |012345678|"]
        );
        assert!(hexdump_lines(b"", 0).is_empty());
    }

    #[test]
    fn unescapes_like_netassist() {
        assert_eq!(
            unescape(r"AT\r\n"),
            Ok(vec![
                Piece::Text("AT".into()),
                Piece::Byte(b'\r'),
                Piece::Byte(b'\n')
            ])
        );
        assert_eq!(
            unescape(r"\x00\xFFa\tb\\c\0"),
            Ok(vec![
                Piece::Byte(0),
                Piece::Byte(0xff),
                Piece::Text("a".into()),
                Piece::Byte(b'\t'),
                Piece::Text("b".into()),
                Piece::Byte(b'\\'),
                Piece::Text("c".into()),
                Piece::Byte(0)
            ])
        );
        assert_eq!(unescape("你好"), Ok(vec![Piece::Text("你好".into())]));
        assert_eq!(unescape(""), Ok(vec![]));
    }

    #[test]
    fn refuses_escapes_that_mean_nothing() {
        for (text, seq, pos) in [
            (r"a\q", r"\q", 1),
            (r"\x4", r"\x4", 0),
            (r"\xg0", r"\xg0", 0),
            (r"ab\", r"\", 2),
        ] {
            let err = unescape(text).expect_err(text);
            assert_eq!((err.seq.as_str(), err.pos), (seq, pos), "{text}");
        }
    }

    #[test]
    fn escapes_control_characters() {
        assert_eq!(escape_text("a\x1b[2Jb\r\n", true), "a\\x1b[2Jb\\r\n");
        assert_eq!(escape_text("a\tb\nc\\", false), "a\\tb\\nc\\\\");
        assert_eq!(escape_text("你好\u{85}", true), "你好\\u{85}");
    }

    proptest! {
        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 1..200)) {
            prop_assert_eq!(parse_hex(&to_hex(&bytes)), Ok(bytes.clone()));
            let compact: String = to_hex(&bytes).split(' ').collect();
            prop_assert_eq!(parse_hex(&compact), Ok(bytes));
        }

        #[test]
        fn hex_parser_never_panics(s in ".{0,64}") {
            let _ = parse_hex(&s);
        }

        #[test]
        fn unescape_never_panics_and_keeps_plain_text(s in "[\\\\a-z0-9xX你 ]{0,32}") {
            let pieces = unescape(&s);
            if !s.contains('\\') {
                let plain = if s.is_empty() { vec![] } else { vec![Piece::Text(s.clone())] };
                prop_assert_eq!(pieces, Ok(plain));
            }
        }

        #[test]
        fn hexdump_rows_have_fixed_width(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            for line in hexdump_lines(&bytes, 0) {
                // 8 offset + 2 + 49 hex area + " |" + 1..=16 ascii + "|"
                let ascii = line.len() - (8 + 2 + 49 + 2 + 1);
                prop_assert!((1..=16).contains(&ascii), "{line}");
                prop_assert!(line.ends_with('|'));
            }
        }

        #[test]
        fn escaped_text_has_no_control_characters(s in "\\PC*|[\\x00-\\x1f\\x7f]{0,8}") {
            let escaped = escape_text(&s, false);
            prop_assert!(!escaped.chars().any(|c| c.is_control()));
        }
    }
}
