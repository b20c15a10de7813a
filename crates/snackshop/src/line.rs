//! The wire format: UTF-8 text lines ending in LF or CRLF, as nc, telnet and netassist send them.
//!
//! Network input is hostile, so [`LineSplitter`] never holds more than one line's worth of bytes:
//! a line longer than the limit is reported once as [`Frame::TooLong`] as soon as that is known,
//! and the rest of it is discarded up to the next newline. A line that is not UTF-8 becomes
//! [`Frame::NotText`]. The splitter is a plain state machine (property-tested against a simple
//! model); [`LineReader`] feeds it from an async socket.

use std::collections::VecDeque;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// How many bytes one `read` asks the socket for.
const READ_CHUNK: usize = 4096;

/// One unit of customer input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its LF or CRLF.
    Line(String),
    /// A line longer than the limit; it was discarded.
    TooLong,
    /// A line that is not valid UTF-8; it was discarded.
    NotText,
}

/// Cuts a byte stream into [`Frame`]s, keeping at most `max` bytes of a pending line.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    pending: Vec<u8>,
    discarding: bool,
    ready: VecDeque<Frame>,
}

impl LineSplitter {
    /// A splitter for lines of at most `max` bytes (not counting the LF or CRLF).
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            max,
            pending: Vec::new(),
            discarding: false,
            ready: VecDeque::new(),
        }
    }

    /// The line length limit in bytes.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Takes more bytes from the stream.
    pub fn push(&mut self, mut data: &[u8]) {
        while let Some(pos) = memchr::memchr(b'\n', data) {
            let (piece, rest) = data.split_at(pos);
            self.end_line(piece);
            data = rest.get(1..).unwrap_or_default();
        }
        self.extend(data);
    }

    /// The stream ended: an unterminated last line still counts as a line.
    pub fn finish(&mut self) {
        if self.discarding {
            self.discarding = false;
        } else if !self.pending.is_empty() {
            self.end_line(&[]);
        }
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }

    /// Adds bytes of a line whose end has not arrived yet.
    fn extend(&mut self, data: &[u8]) {
        if self.discarding || data.is_empty() {
            return;
        }
        // One byte of slack for a CR that will turn out to be part of CRLF.
        if self.pending.len() + data.len() > self.max + 1 {
            self.pending.clear();
            self.discarding = true;
            self.ready.push_back(Frame::TooLong);
        } else {
            self.pending.extend_from_slice(data);
        }
    }

    /// The newline arrived: `piece` is the part of the line since the last push.
    fn end_line(&mut self, piece: &[u8]) {
        if self.discarding {
            self.discarding = false;
            return;
        }
        let mut line = std::mem::take(&mut self.pending);
        if line.len() + piece.len() > self.max + 1 {
            self.ready.push_back(Frame::TooLong);
            return;
        }
        line.extend_from_slice(piece);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let frame = if line.len() > self.max {
            Frame::TooLong
        } else {
            match String::from_utf8(line) {
                Ok(text) => Frame::Line(text),
                Err(_) => Frame::NotText,
            }
        };
        self.ready.push_back(frame);
    }
}

/// Reads [`Frame`]s from an async byte stream.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    splitter: LineSplitter,
    buf: Box<[u8]>,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Wraps `inner`, with lines of at most `max` bytes.
    pub fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader {
            inner,
            splitter: LineSplitter::new(max),
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            eof: false,
        }
    }

    /// The line length limit in bytes.
    pub fn max(&self) -> usize {
        self.splitter.max()
    }

    /// The next frame, or `None` once the peer has closed and every frame was returned.
    ///
    /// Cancel-safe: if the future is dropped, no received bytes are lost.
    pub async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.splitter.next_frame() {
                return Ok(Some(frame));
            }
            if self.eof {
                return Ok(None);
            }
            let n = self.inner.read(&mut self.buf).await?;
            match self.buf.get(..n) {
                Some(data) if n > 0 => self.splitter.push(data),
                _ => {
                    self.eof = true;
                    self.splitter.finish();
                }
            }
        }
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(max: usize, chunks: &[&[u8]], finish: bool) -> Vec<Frame> {
        let mut s = LineSplitter::new(max);
        for chunk in chunks {
            s.push(chunk);
        }
        if finish {
            s.finish();
        }
        std::iter::from_fn(|| s.next_frame()).collect()
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.into())
    }

    #[test]
    fn lf_and_crlf_lines() {
        assert_eq!(
            frames(10, &[b"a\nb\r\n\n\r\n"], false),
            [line("a"), line("b"), line(""), line("")]
        );
    }

    #[test]
    fn lines_split_across_reads() {
        assert_eq!(
            frames(10, &["西".as_bytes(), "瓜\r".as_bytes(), b"\n"], false),
            [line("西瓜")]
        );
        // The UTF-8 bytes of one character may arrive in different reads.
        let bytes = "西瓜\n".as_bytes();
        assert_eq!(
            frames(10, &[&bytes[..1], &bytes[1..4], &bytes[4..]], false),
            [line("西瓜")]
        );
    }

    #[test]
    fn long_line_reported_once_and_skipped() {
        let long = vec![b'a'; 100];
        assert_eq!(
            frames(10, &[&long, &long, b"\nok\n"], false),
            [Frame::TooLong, line("ok")]
        );
        // The limit is exact: max bytes pass, max + 1 do not, CR does not count.
        assert_eq!(
            frames(3, &[b"abc\r\nabcd\n"], false),
            [line("abc"), Frame::TooLong]
        );
    }

    #[test]
    fn too_long_is_known_before_the_newline() {
        assert_eq!(frames(3, &[b"abcdef"], false), [Frame::TooLong]);
    }

    #[test]
    fn binary_is_not_text() {
        assert_eq!(
            frames(10, &[b"\xff\xfe\x00\n\xe8\xa5\n"], false),
            [Frame::NotText, Frame::NotText]
        );
    }

    #[test]
    fn unterminated_last_line_counts_at_eof() {
        assert_eq!(frames(10, &[b"a\nbye"], false), [line("a")]);
        assert_eq!(frames(10, &[b"a\nbye"], true), [line("a"), line("bye")]);
        assert_eq!(
            frames(3, &[b"a\nabcdef"], true),
            [line("a"), Frame::TooLong]
        );
    }

    #[tokio::test]
    async fn reader_reads_frames_then_none() {
        let input: &[u8] = b"x\n\xff\nyy";
        let mut reader = LineReader::new(input, 8);
        assert_eq!(reader.next_frame().await.expect("read"), Some(line("x")));
        assert_eq!(
            reader.next_frame().await.expect("read"),
            Some(Frame::NotText)
        );
        assert_eq!(reader.next_frame().await.expect("read"), Some(line("yy")));
        assert_eq!(reader.next_frame().await.expect("read"), None);
    }

    /// What the splitter must produce, computed the obvious way on the whole input.
    fn model(max: usize, input: &[u8], finish: bool) -> Vec<Frame> {
        let mut out = Vec::new();
        let mut segments: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let last = segments.pop().unwrap_or_default();
        let judge = |seg: &[u8]| {
            let seg = seg.strip_suffix(b"\r").unwrap_or(seg);
            if seg.len() > max {
                Frame::TooLong
            } else {
                String::from_utf8(seg.to_vec()).map_or(Frame::NotText, Frame::Line)
            }
        };
        for seg in segments {
            out.push(judge(seg));
        }
        if last.len() > max + 1 {
            out.push(Frame::TooLong);
        } else if finish && !last.is_empty() {
            out.push(judge(last));
        }
        out
    }

    fn byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(b'\n'),
            Just(b'\r'),
            Just(b'a'),
            Just(0xe8),
            Just(0xa5),
            Just(0xbf),
            any::<u8>()
        ]
    }

    proptest! {
        #[test]
        fn splitter_matches_model_for_any_chunking(
            input in proptest::collection::vec(byte(), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..10),
            max in 0usize..20,
            finish in any::<bool>(),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts {
                chunks.push(&input[start..cut]);
                start = cut;
            }
            chunks.push(&input[start..]);
            prop_assert_eq!(frames(max, &chunks, finish), model(max, &input, finish));
        }

        #[test]
        fn pending_never_exceeds_limit(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut s = LineSplitter::new(16);
            for chunk in input.chunks(7) {
                s.push(chunk);
                prop_assert!(s.pending.len() <= 17);
            }
        }
    }
}
