//! Cutting an IRC byte stream into lines, with the protocol's length limits.
//!
//! **Terminators.** A line ends at LF or at CR: RFC 2812 section 2.3.1
//! names both as message separators, and modern.ircdocs.horse lets servers
//! treat a lone CR as a line end. So `\r\n`, `\n` and a bare `\r` (old Mac
//! clients, some terminals) all work; `\r\n` simply yields a line followed
//! by an empty one, and empty lines are ignored. (ergo ends lines only at
//! LF, so a lone CR stays inside the line, which it then refuses and drops
//! the client; InspIRCd deletes CRs wherever they are, gluing `A\rB` into
//! `AB`. Ending the line at CR never glues two commands together, never
//! hands the parser a CR, which it forbids, and costs a client nothing.)
//!
//! **Limits.** The part after the tags may hold 510 bytes, which with the
//! CRLF makes RFC 1459's 512; the terminator is not counted, so a client
//! sending bare LF gets no extra byte. The tag part, from the `@` to the
//! space after the tags, may hold [`Limits::max_tags`] bytes: 4096 from a
//! client (IRCv3: 4094 bytes of tag data plus `@` and space), 8191 in lines
//! from a server. A line over either limit is reported as soon as the limit
//! is passed (the server answers `417 ERR_INPUTTOOLONG`), the rest of it is
//! skipped, and framing resumes after the next CR or LF. Nothing is
//! truncated: IRCv3 forbids truncating tags, and executing half a command is
//! worse than refusing it.
//!
//! **Memory.** Only the bytes of an unfinished line are kept between calls,
//! never more than the two limits together, and the buffer is freed
//! whenever no line is unfinished, so an idle connection holds none.

use thiserror::Error;

/// The longest line RFC 1459 allows, CRLF included, not counting tags.
pub const MAX_LINE_BYTES: usize = 512;

/// The longest tag part (`@`, tag data, space) in a line from a client:
/// IRCv3 allows clients 4094 bytes of tag data.
pub const MAX_CLIENT_TAG_BYTES: usize = 4094 + 2;

/// The longest tag part in any line (what a client must accept from a server).
pub const MAX_TAG_BYTES: usize = 8191;

/// The size limits a framer enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the tag part: from the `@` up to and including the space after the tags.
    pub max_tags: usize,
    /// Bytes of the rest of the line, without its terminator.
    pub max_body: usize,
}

impl Limits {
    /// What a server accepts from a client: 4096 tag bytes and 510 other bytes.
    pub const FROM_CLIENT: Limits = Limits {
        max_tags: MAX_CLIENT_TAG_BYTES,
        max_body: MAX_LINE_BYTES - 2,
    };

    /// What a client accepts from a server: 8191 tag bytes and 510 other bytes.
    pub const FROM_SERVER: Limits = Limits {
        max_tags: MAX_TAG_BYTES,
        max_body: MAX_LINE_BYTES - 2,
    };

    /// The longest line these limits let through, without its terminator.
    pub fn max_line(&self) -> usize {
        self.max_tags + self.max_body
    }
}

/// A line that broke the limits. Both are answered with
/// `417 ERR_INPUTTOOLONG`; the framer has already skipped the line and the
/// stream stays usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The tag part was longer than [`Limits::max_tags`].
    #[error("tags longer than {0} bytes")]
    TagsTooLong(usize),
    /// The rest of the line was longer than [`Limits::max_body`].
    #[error("line longer than {0} bytes (not counting tags)")]
    LineTooLong(usize),
}

/// Where the framer is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// At the start of a line: nothing of it seen yet.
    Start,
    /// Inside the tag part (the line started with `@`).
    Tags,
    /// After the tags, or in a line without tags.
    Body,
    /// Skipping the rest of an over-long line.
    Skip,
}

/// Incremental splitter of an IRC byte stream into lines.
#[derive(Debug)]
pub struct IrcFramer {
    limits: Limits,
    mode: Mode,
    /// Bytes of a line that started in an earlier `feed` call.
    pending: Vec<u8>,
    /// Length of the tag part so far.
    tag_len: usize,
    /// Length of the rest of the line so far.
    body_len: usize,
}

impl IrcFramer {
    /// A framer enforcing `limits` (usually [`Limits::FROM_CLIENT`]).
    pub fn new(limits: Limits) -> Self {
        IrcFramer {
            limits,
            mode: Mode::Start,
            pending: Vec::new(),
            tag_len: 0,
            body_len: 0,
        }
    }

    /// The limits this framer enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes held for a line that has not ended yet.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Feeds the next bytes of the stream; `emit` is called once per
    /// non-empty line (its bytes, without terminator) and once per over-long
    /// line, in stream order.
    pub fn feed(&mut self, input: &[u8], mut emit: impl FnMut(Result<&[u8], FrameError>)) {
        // Where the current line starts in `input`, when it starts in this
        // call; `None` while it continues from `pending`.
        let mut start: Option<usize> = None;
        for (i, &b) in input.iter().enumerate() {
            let end_of_line = b == b'\n' || b == b'\r';
            if self.mode == Mode::Start {
                if end_of_line {
                    continue;
                }
                start = Some(i);
                self.tag_len = 0;
                self.body_len = 0;
                self.mode = if b == b'@' { Mode::Tags } else { Mode::Body };
            }
            match self.mode {
                Mode::Start => {}
                Mode::Skip => {
                    if end_of_line {
                        self.mode = Mode::Start;
                    }
                }
                Mode::Tags | Mode::Body if end_of_line => {
                    match start {
                        Some(s) => emit(Ok(&input[s..i])),
                        None => {
                            self.pending.extend_from_slice(&input[..i]);
                            emit(Ok(&self.pending));
                            self.pending.clear();
                        }
                    }
                    start = None;
                    self.mode = Mode::Start;
                }
                Mode::Tags => {
                    self.tag_len += 1;
                    if b == b' ' {
                        self.mode = Mode::Body;
                    }
                    if self.tag_len > self.limits.max_tags {
                        self.overflow(FrameError::TagsTooLong(self.limits.max_tags), &mut emit);
                        start = None;
                    }
                }
                Mode::Body => {
                    self.body_len += 1;
                    if self.body_len > self.limits.max_body {
                        self.overflow(FrameError::LineTooLong(self.limits.max_body), &mut emit);
                        start = None;
                    }
                }
            }
        }
        match self.mode {
            Mode::Tags | Mode::Body => {
                self.pending.extend_from_slice(&input[start.unwrap_or(0)..]);
            }
            Mode::Start | Mode::Skip => {
                // No line is unfinished: give the memory back, so an idle
                // connection holds no buffer.
                if self.pending.capacity() > 0 {
                    self.pending = Vec::new();
                }
            }
        }
    }

    /// Reports an over-long line and skips the rest of it.
    fn overflow(&mut self, error: FrameError, emit: &mut impl FnMut(Result<&[u8], FrameError>)) {
        emit(Err(error));
        self.pending = Vec::new();
        self.mode = Mode::Skip;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `chunks`, collecting lines as strings and errors as "ERR:...".
    fn run(framer: &mut IrcFramer, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, |r| match r {
                Ok(line) => out.push(String::from_utf8_lossy(line).into_owned()),
                Err(e) => out.push(format!("ERR:{e:?}")),
            });
        }
        out
    }

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        run(&mut IrcFramer::new(Limits::FROM_CLIENT), chunks)
    }

    #[test]
    fn every_terminator_ends_a_line_and_empty_lines_vanish() {
        assert_eq!(
            lines(&[b"NICK a\r\nUSER u 0 * :R\nPING x\rQUIT\r\n\r\n\n\r"]),
            ["NICK a", "USER u 0 * :R", "PING x", "QUIT"]
        );
    }

    #[test]
    fn line_split_across_calls_and_crlf_split_between_them() {
        let mut framer = IrcFramer::new(Limits::FROM_CLIENT);
        assert!(run(&mut framer, &[b"PRIVMSG #a :he"]).is_empty());
        assert_eq!(framer.buffered(), 14);
        assert!(run(&mut framer, &[b"llo"]).is_empty());
        assert_eq!(run(&mut framer, &[b"\r"]), ["PRIVMSG #a :hello"]);
        assert_eq!(framer.buffered(), 0);
        assert_eq!(run(&mut framer, &[b"\nPING 1\r\nPI"]), ["PING 1"]);
        assert_eq!(framer.buffered(), 2);
    }

    #[test]
    fn a_line_without_terminator_stays_pending() {
        let mut framer = IrcFramer::new(Limits::FROM_CLIENT);
        assert!(run(&mut framer, &[b"QUIT"]).is_empty());
        assert_eq!(framer.buffered(), 4);
    }

    #[test]
    fn body_limit_is_510_bytes_plus_terminator() {
        let ok = format!("PRIVMSG #a :{}", "x".repeat(510 - 12));
        assert_eq!(ok.len(), 510);
        assert_eq!(lines(&[format!("{ok}\r\n").as_bytes()]), [ok.as_str()]);
        let long = format!("{ok}y\r\nPING after\r\n");
        assert_eq!(
            lines(&[long.as_bytes()]),
            ["ERR:LineTooLong(510)", "PING after"]
        );
    }

    #[test]
    fn tags_have_their_own_budget() {
        // 4094 bytes of tag data plus `@` and space: allowed, and the body
        // still gets its full 510 bytes.
        let tags = format!("@a={}", "v".repeat(4094 - 2));
        let body = format!("PRIVMSG #a :{}", "x".repeat(510 - 12));
        let line = format!("{tags} {body}");
        assert_eq!(lines(&[format!("{line}\n").as_bytes()]), [line.as_str()]);
        // One more tag byte is too many.
        let line = format!("{tags}w {body}\nPING ok\n");
        assert_eq!(
            lines(&[line.as_bytes()]),
            ["ERR:TagsTooLong(4096)", "PING ok"]
        );
        // A server may send more.
        let tags = format!("@a={}", "v".repeat(8189 - 2));
        let line = format!("{tags} PING x");
        assert_eq!(
            run(
                &mut IrcFramer::new(Limits::FROM_SERVER),
                &[format!("{line}\r\n").as_bytes()]
            ),
            [line]
        );
    }

    #[test]
    fn overlong_line_is_reported_once_and_skipped_across_calls() {
        let mut framer = IrcFramer::new(Limits {
            max_tags: 8,
            max_body: 8,
        });
        let out = run(
            &mut framer,
            &[b"PRIVMSG #", b"abc :hello", b" world", b"\nPING x\n"],
        );
        assert_eq!(out, ["ERR:LineTooLong(8)", "PING x"]);
        let out = run(&mut framer, &[b"@aaaaaaaaaaaaaaa PING\r\nPING y\r\n"]);
        assert_eq!(out, ["ERR:TagsTooLong(8)", "PING y"]);
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn tags_only_line_is_passed_on_for_the_parser_to_refuse() {
        assert_eq!(lines(&[b"@a=b\n"]), ["@a=b"]);
    }

    #[test]
    fn idle_framer_holds_no_memory() {
        let mut framer = IrcFramer::new(Limits::FROM_CLIENT);
        run(&mut framer, &[b"PRIVMSG #a ", b":hi\r\n"]);
        assert_eq!(framer.pending.capacity(), 0);
        run(&mut framer, &[&[b'x'; 600], b"\n"]);
        assert_eq!(framer.pending.capacity(), 0);
    }

    /// A line as a client might send it: sometimes tagged, sometimes too long.
    fn line_strategy() -> impl Strategy<Value = String> {
        let tags = prop_oneof![
            3 => Just(String::new()),
            1 => "[a-z+=;]{1,12}".prop_map(|t| format!("@{t} ")),
            1 => (5000usize..5100).prop_map(|n| format!("@k={} ", "t".repeat(n))),
        ];
        let body = prop_oneof![
            5 => "[A-Z]{1,8}( [#a-z:]{0,10}){0,4}",
            1 => (505usize..520).prop_map(|n| "b".repeat(n)),
        ];
        (tags, body).prop_map(|(t, b)| format!("{t}{b}"))
    }

    /// What the framer should yield for `line` (under [`Limits::FROM_CLIENT`]).
    fn expected(line: &str) -> String {
        let (tags, body) = match line.strip_prefix('@') {
            Some(_) => match line.split_once(' ') {
                Some((t, b)) => (t.len() + 1, b.len()),
                None => (line.len(), 0),
            },
            None => (0, line.len()),
        };
        if tags > MAX_CLIENT_TAG_BYTES {
            "ERR:TagsTooLong(4096)".into()
        } else if body > 510 {
            "ERR:LineTooLong(510)".into()
        } else {
            line.to_owned()
        }
    }

    proptest! {
        #[test]
        fn any_split_yields_the_same_lines(
            sent in prop::collection::vec(line_strategy(), 1..8),
            ends in prop::collection::vec(prop_oneof![Just("\r\n"), Just("\n"), Just("\r"), Just("\r\n\r\n")], 8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut stream = String::new();
            for (i, line) in sent.iter().enumerate() {
                stream.push_str(line);
                stream.push_str(ends[i % ends.len()]);
            }
            let bytes = stream.as_bytes();
            let chunks = crate::split::at_cuts(bytes, &cuts);
            let want: Vec<String> = sent.iter().map(|l| expected(l)).collect();
            prop_assert_eq!(lines(&chunks), want.clone());
            // Byte by byte, the worst split of all.
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            prop_assert_eq!(lines(&singles), want);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..16),
        ) {
            let limits = Limits { max_tags: 24, max_body: 16 };
            let mut framer = IrcFramer::new(limits);
            for chunk in &chunks {
                framer.feed(chunk, |r| {
                    if let Ok(line) = r {
                        assert!(!line.is_empty());
                        assert!(line.len() <= limits.max_line());
                        assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
                    }
                });
                prop_assert!(framer.buffered() <= limits.max_line());
            }
        }
    }
}
