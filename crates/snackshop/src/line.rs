//! The wire format: text lines ending in LF or CRLF, as nc, telnet and netassist send them.
//!
//! Network input is hostile, so [`LineSplitter`] never holds more than one line's worth of bytes:
//! a line longer than the limit is reported once as [`Frame::TooLong`] as soon as that is known,
//! and the rest of it is discarded up to the next newline. Lines are bytes: which encoding they
//! are in is decided per connection ([`crate::wire`]). The splitter is a plain state machine
//! (property-tested against a simple model); [`LineReader`] feeds it from an async socket.
//!
//! Some clients send a request without any line end (the tutorial's own loop client sends
//! `cmd.encode()` and waits for the answer). With [`LineReader::with_pause`], a partial line that
//! arrived in one piece and is followed by a pause counts as a complete request; a line end that
//! then follows on its own is taken as that request's end, not as an empty line.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// How many bytes one `read` asks the socket for.
const READ_CHUNK: usize = 4096;

/// One unit of customer input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its LF or CRLF.
    Line(Vec<u8>),
    /// A line longer than the limit; it was discarded.
    TooLong,
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

    /// Whether a complete frame is waiting to be taken.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Whether part of a line (not being discarded) is waiting for its end.
    pub fn has_partial(&self) -> bool {
        !self.discarding && !self.pending.is_empty()
    }

    /// Ends the waiting partial line now, as if its line end had arrived.
    pub fn end_partial(&mut self) {
        if self.has_partial() {
            self.end_line(&[]);
        }
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
            Frame::Line(line)
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
    /// How long a one-piece partial line may wait before it is a request.
    pause: Option<Duration>,
    /// Reads that brought bytes of the partial line now waiting.
    pieces: u32,
    /// A partial line was just ended by a pause: a bare line end right after it belongs to it.
    ended_by_pause: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Wraps `inner`, with lines of at most `max` bytes.
    pub fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader {
            inner,
            splitter: LineSplitter::new(max),
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            eof: false,
            pause: None,
            pieces: 0,
            ended_by_pause: false,
        }
    }

    /// Lets a partial line that arrived in one read and is followed by `pause` without more
    /// bytes count as a complete request.
    pub fn with_pause(mut self, pause: Duration) -> LineReader<R> {
        self.pause = Some(pause);
        self
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
                let after_pause = std::mem::take(&mut self.ended_by_pause);
                if after_pause && frame == Frame::Line(Vec::new()) {
                    continue;
                }
                return Ok(Some(frame));
            }
            if self.eof {
                return Ok(None);
            }
            let read = self.inner.read(&mut self.buf);
            let n = match self.pause {
                Some(pause) if self.pieces == 1 && self.splitter.has_partial() => {
                    match tokio::time::timeout(pause, read).await {
                        Ok(n) => n?,
                        Err(_) => {
                            // Nothing else was waiting (we only read when no
                            // frame is ready), so this is the paused request.
                            self.splitter.end_partial();
                            self.pieces = 0;
                            if let Some(frame) = self.splitter.next_frame() {
                                self.ended_by_pause = true;
                                return Ok(Some(frame));
                            }
                            continue;
                        }
                    }
                }
                _ => read.await?,
            };
            self.absorb(n);
        }
    }

    /// Waits until the peer has sent something, without waiting for a whole line: `true` once
    /// bytes have arrived (now or earlier), `false` if the peer closed without sending any.
    ///
    /// Cancel-safe, like [`LineReader::next_frame`].
    pub async fn wait_for_input(&mut self) -> io::Result<bool> {
        if self.splitter.has_ready() || self.splitter.has_partial() {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        let n = self.inner.read(&mut self.buf).await?;
        self.absorb(n);
        Ok(n > 0)
    }

    /// Takes the `n` bytes just read into `buf` (0: the peer closed).
    fn absorb(&mut self, n: usize) {
        match self.buf.get(..n) {
            Some(data) if n > 0 => {
                let had_partial = self.splitter.has_partial();
                self.splitter.push(data);
                self.pieces = match (self.splitter.has_partial(), data.contains(&b'\n')) {
                    (false, _) => 0,
                    (true, true) => 1,
                    (true, false) if had_partial => self.pieces.saturating_add(1),
                    (true, false) => 1,
                };
                // Bytes other than a bare line end: the request that a pause ended is over.
                if self.splitter.has_partial() {
                    self.ended_by_pause = false;
                }
            }
            _ => {
                self.eof = true;
                self.splitter.finish();
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
        Frame::Line(s.as_bytes().to_vec())
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
    fn lines_are_bytes_whatever_they_hold() {
        assert_eq!(
            frames(10, &[b"\xff\xfe\x00\n\xe8\xa5\n"], false),
            [
                Frame::Line(vec![0xff, 0xfe, 0]),
                Frame::Line(vec![0xe8, 0xa5])
            ]
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
            Some(Frame::Line(vec![0xff]))
        );
        assert_eq!(reader.next_frame().await.expect("read"), Some(line("yy")));
        assert_eq!(reader.next_frame().await.expect("read"), None);
    }

    /// A stream that delivers scripted pieces with pauses between them.
    struct Script {
        steps: VecDeque<Step>,
        sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    }

    enum Step {
        Data(&'static [u8]),
        Wait(Duration),
    }

    impl AsyncRead for Script {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            use std::future::Future;
            loop {
                if let Some(sleep) = self.sleep.as_mut() {
                    std::task::ready!(sleep.as_mut().poll(cx));
                    self.sleep = None;
                }
                match self.steps.pop_front() {
                    None => return std::task::Poll::Ready(Ok(())),
                    Some(Step::Data(data)) => {
                        buf.put_slice(data);
                        return std::task::Poll::Ready(Ok(()));
                    }
                    Some(Step::Wait(d)) => self.sleep = Some(Box::pin(tokio::time::sleep(d))),
                }
            }
        }
    }

    async fn read_all(steps: Vec<Step>, pause: Option<Duration>) -> Vec<Frame> {
        let script = Script {
            steps: steps.into(),
            sleep: None,
        };
        let mut reader = LineReader::new(script, 64);
        if let Some(pause) = pause {
            reader = reader.with_pause(pause);
        }
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_frame().await.expect("read") {
            frames.push(frame);
        }
        frames
    }

    const PAUSE: Duration = Duration::from_millis(200);
    const LONGER: Duration = Duration::from_millis(300);

    #[tokio::test(start_paused = true)]
    async fn a_one_piece_request_ends_with_a_pause() {
        use Step::{Data, Wait};
        let frames = read_all(
            vec![
                Data("西瓜".as_bytes()),
                Wait(LONGER),
                Data(b"2 x"),
                Wait(LONGER),
                Data(b"ok\r\n"),
            ],
            Some(PAUSE),
        )
        .await;
        assert_eq!(frames, [line("西瓜"), line("2 x"), line("ok")]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_line_end_after_the_pause_ends_that_request() {
        use Step::{Data, Wait};
        let frames = read_all(
            vec![Data(b"2"), Wait(LONGER), Data(b"\r\n"), Data(b"\n3\n")],
            Some(PAUSE),
        )
        .await;
        assert_eq!(frames, [line("2"), line(""), line("3")]);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_input_needs_bytes_not_a_whole_line() {
        use Step::{Data, Wait};
        let script = Script {
            steps: vec![Data("西".as_bytes()), Wait(LONGER), Data("瓜\n".as_bytes())].into(),
            sleep: None,
        };
        let mut reader = LineReader::new(script, 64);
        assert!(reader.wait_for_input().await.expect("read"));
        assert!(
            reader.wait_for_input().await.expect("read"),
            "already there"
        );
        assert_eq!(reader.next_frame().await.expect("read"), Some(line("西瓜")));
        assert!(!reader.wait_for_input().await.expect("read"), "closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_line_in_several_pieces_waits_for_its_end() {
        use Step::{Data, Wait};
        let steps = || {
            vec![
                Data("西".as_bytes()),
                Wait(Duration::from_millis(50)),
                Data("瓜".as_bytes()),
                Wait(LONGER),
                Data(b"\n"),
            ]
        };
        assert_eq!(read_all(steps(), Some(PAUSE)).await, [line("西瓜")]);
        // Without a pause set, nothing but a line end (or the end of the stream) ends a line.
        let frames = read_all(vec![Data(b"x"), Wait(LONGER), Data(b"y\n")], None).await;
        assert_eq!(frames, [line("xy")]);
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
                Frame::Line(seg.to_vec())
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
