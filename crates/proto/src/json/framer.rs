//! Cutting a byte stream of concatenated JSON objects into single objects.
//!
//! The framer does not parse JSON; it tracks just enough structure (strings,
//! escapes, nesting depth, whether a value was just completed) to find where
//! each top-level object ends. That keeps it cheap, lets it resynchronise
//! after garbage, and bounds memory: only the bytes of an unfinished object
//! are kept between reads, and never more than the size cap.

use thiserror::Error;

/// A problem found while cutting the stream into objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// Bytes that cannot start or continue a JSON object. The framer has
    /// already skipped ahead to the next plausible start (a newline or a `{`);
    /// the stream stays usable.
    #[error("not a JSON object")]
    Malformed,
    /// An object grew past the size cap. The framer stops; the connection
    /// should be closed, since there is no telling where the object ends.
    #[error("frame larger than {0} bytes")]
    TooLarge(usize),
}

/// Where the framer is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between objects: only whitespace or the `{` of the next object may follow.
    Between,
    /// Skipping bytes that are not JSON, up to the next newline or `{`.
    Skipping,
    /// Inside an object.
    Object,
    /// After [`FrameError::TooLarge`]: everything is ignored.
    Stopped,
}

/// What the previous significant byte inside an object was, so that a `{`
/// where no value may start (e.g. a new object after a truncated one) is
/// recognised as the start of a fresh object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    /// `{` or `[`.
    Open,
    /// `,`.
    Comma,
    /// `:`.
    Colon,
    /// The end of a string, number, literal, object or array.
    Value,
}

/// Incremental splitter of concatenated JSON objects with a size cap.
#[derive(Debug)]
pub struct JsonFramer {
    max_frame: usize,
    mode: Mode,
    /// Bytes of an object that started in an earlier `feed` call.
    pending: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
    last: Last,
    /// Length of the current object so far.
    len: usize,
}

impl JsonFramer {
    /// A framer that refuses objects longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        JsonFramer {
            max_frame,
            mode: Mode::Between,
            pending: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            last: Last::Open,
            len: 0,
        }
    }

    /// The size cap this framer enforces.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Bytes held for an object that has not ended yet.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Feeds the next bytes of the stream; `emit` is called once per complete
    /// object (with its bytes) and once per problem, in stream order.
    pub fn feed(&mut self, input: &[u8], mut emit: impl FnMut(Result<&[u8], FrameError>)) {
        // Index in `input` where the current object starts, when it starts in
        // this call; `None` while it continues from `pending`.
        let mut start: Option<usize> = None;
        for (i, &b) in input.iter().enumerate() {
            match self.mode {
                Mode::Stopped => return,
                Mode::Between => match b {
                    b' ' | b'\t' | b'\n' | b'\r' => {}
                    b'{' => start = Some(self.open(i)),
                    _ => {
                        emit(Err(FrameError::Malformed));
                        self.mode = Mode::Skipping;
                    }
                },
                Mode::Skipping => match b {
                    b'\n' => self.mode = Mode::Between,
                    b'{' => start = Some(self.open(i)),
                    _ => {}
                },
                Mode::Object => {
                    self.len += 1;
                    if self.len > self.max_frame {
                        self.pending = Vec::new();
                        self.mode = Mode::Stopped;
                        emit(Err(FrameError::TooLarge(self.max_frame)));
                        return;
                    }
                    match self.step(b) {
                        Step::Continue => {}
                        Step::Complete => {
                            match start {
                                Some(s) => emit(Ok(&input[s..=i])),
                                None => {
                                    self.pending.extend_from_slice(&input[..=i]);
                                    emit(Ok(&self.pending));
                                    self.pending.clear();
                                }
                            }
                            self.mode = Mode::Between;
                            start = None;
                        }
                        Step::Broken => {
                            emit(Err(FrameError::Malformed));
                            self.pending.clear();
                            self.mode = Mode::Between;
                            start = None;
                        }
                        Step::Restart => {
                            emit(Err(FrameError::Malformed));
                            self.pending.clear();
                            start = Some(self.open(i));
                        }
                    }
                }
            }
        }
        if self.mode == Mode::Object {
            self.pending.extend_from_slice(&input[start.unwrap_or(0)..]);
        } else if self.pending.capacity() > 0 {
            // Between objects nothing needs keeping: give the memory back, so
            // an idle connection holds no buffer.
            self.pending = Vec::new();
        }
    }

    /// Starts a new object whose `{` is at `index`; returns `index`.
    fn open(&mut self, index: usize) -> usize {
        self.mode = Mode::Object;
        self.depth = 1;
        self.in_string = false;
        self.escaped = false;
        self.last = Last::Open;
        self.len = 1;
        index
    }

    /// Advances the structure tracking by one byte inside an object.
    fn step(&mut self, b: u8) -> Step {
        if self.in_string {
            if b == b'\n' {
                // JSON strings cannot hold a raw newline, escaped or not: the
                // object was cut short. The next line is a fresh start.
                return Step::Broken;
            }
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                self.last = Last::Value;
            }
            return Step::Continue;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' if self.last == Last::Value => return Step::Restart,
            b'{' | b'[' => {
                self.depth += 1;
                self.last = Last::Open;
            }
            b'}' | b']' => {
                self.depth -= 1;
                self.last = Last::Value;
                if self.depth == 0 {
                    return Step::Complete;
                }
            }
            b',' => self.last = Last::Comma,
            b':' => self.last = Last::Colon,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => self.last = Last::Value,
        }
        Step::Continue
    }
}

/// The outcome of one byte inside an object.
enum Step {
    Continue,
    /// The byte closed the top-level object.
    Complete,
    /// The object cannot be valid JSON; drop it and look for the next one.
    Broken,
    /// The byte is a `{` where no value may start: drop the current object
    /// and start a new one at this byte.
    Restart,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `chunks` and collects the results as strings ("ERR:..." for errors).
    fn run(framer: &mut JsonFramer, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, |r| match r {
                Ok(bytes) => out.push(String::from_utf8_lossy(bytes).into_owned()),
                Err(e) => out.push(format!("ERR:{e:?}")),
            });
        }
        out
    }

    fn frames(chunks: &[&[u8]]) -> Vec<String> {
        run(&mut JsonFramer::new(1024), chunks)
    }

    #[test]
    fn undelimited_objects_are_split() {
        assert_eq!(
            frames(&[br#"{"a":1}{"b":"}"}  {"c":[1,{"d":2}]}"#]),
            vec![r#"{"a":1}"#, r#"{"b":"}"}"#, r#"{"c":[1,{"d":2}]}"#]
        );
    }

    #[test]
    fn newline_and_whitespace_separators() {
        assert_eq!(frames(&[b"\n{}\r\n\t {}\n"]), vec!["{}", "{}"]);
    }

    #[test]
    fn object_split_across_three_writes() {
        let mut framer = JsonFramer::new(1024);
        assert!(run(&mut framer, &[br#"{"type":"lo"#]).is_empty());
        assert_eq!(framer.buffered(), 11);
        assert!(run(&mut framer, &[br#"gin","nick"#]).is_empty());
        assert_eq!(
            run(&mut framer, &[br#"name":"zhangsan"}{"x"#]),
            vec![r#"{"type":"login","nickname":"zhangsan"}"#]
        );
        assert_eq!(framer.buffered(), 3);
    }

    #[test]
    fn escaped_quotes_and_braces_inside_strings() {
        assert_eq!(
            frames(&[br#"{"m":"a \"}\" {b\\"}{"n":1}"#]),
            vec![r#"{"m":"a \"}\" {b\\"}"#, r#"{"n":1}"#]
        );
    }

    #[test]
    fn garbage_between_objects_is_reported_once_and_skipped() {
        assert_eq!(
            frames(&[b"hello world\n{\"ok\":1} nope {\"ok\":2}"]),
            vec![
                "ERR:Malformed",
                r#"{"ok":1}"#,
                "ERR:Malformed",
                r#"{"ok":2}"#
            ]
        );
    }

    #[test]
    fn truncated_object_followed_by_a_new_one_resynchronises() {
        assert_eq!(
            frames(&[br#"{"type":"broadcast","message":"hi"{"type":"ping"}"#]),
            vec!["ERR:Malformed", r#"{"type":"ping"}"#]
        );
        assert_eq!(
            frames(&[b"{\"message\":\"cut\n{\"type\":\"ping\"}"]),
            vec!["ERR:Malformed", r#"{"type":"ping"}"#]
        );
        // Even right after a backslash, a raw newline ends the broken object.
        assert_eq!(
            frames(&[b"{\"message\":\"cut \\\n{\"type\":\"ping\"}"]),
            vec!["ERR:Malformed", r#"{"type":"ping"}"#]
        );
    }

    #[test]
    fn oversized_object_stops_the_framer() {
        let mut framer = JsonFramer::new(16);
        let out = run(&mut framer, &[b"{\"a\":\"0123456789", b"0123456789\"}{}"]);
        assert_eq!(out, vec!["ERR:TooLarge(16)"]);
        assert!(run(&mut framer, &[b"{}"]).is_empty());
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn exactly_the_cap_is_allowed() {
        let mut framer = JsonFramer::new(8);
        assert_eq!(run(&mut framer, &[br#"{"a":12}"#]), vec![r#"{"a":12}"#]);
    }

    #[test]
    fn deep_nesting_is_framed_without_recursion() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let obj = format!("{{\"a\":{deep}}}");
        assert_eq!(
            run(&mut JsonFramer::new(1 << 20), &[obj.as_bytes()]),
            vec![obj.clone()]
        );
    }

    #[test]
    fn idle_framer_holds_no_memory() {
        let mut framer = JsonFramer::new(1024);
        run(&mut framer, &[b"{\"a\":", b"1}"]);
        assert_eq!(framer.pending.capacity(), 0);
    }

    /// A JSON object with awkward content: escapes, braces in strings, nesting.
    fn object_strategy() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<bool>().prop_map(|b| serde_json::json!(b)),
            "\\PC{0,12}".prop_map(|s| serde_json::json!(s)),
            "[{}\\[\\]\"\\\\:,\n]{0,6}".prop_map(|s| serde_json::json!(s)),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        prop::collection::btree_map("[a-z{}\"]{1,6}", value, 0..5)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()).to_string())
    }

    proptest! {
        #[test]
        fn any_split_yields_the_same_frames(
            objects in prop::collection::vec(object_strategy(), 1..8),
            seps in prop::collection::vec(prop_oneof![Just(""), Just("\n"), Just(" "), Just("\r\n\t")], 8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut stream = String::new();
            for (i, obj) in objects.iter().enumerate() {
                stream.push_str(obj);
                stream.push_str(seps[i % seps.len()]);
            }
            let bytes = stream.as_bytes();
            let chunks = crate::split::at_cuts(bytes, &cuts);
            let got = run(&mut JsonFramer::new(1 << 20), &chunks);
            prop_assert_eq!(got, objects);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16),
        ) {
            let mut framer = JsonFramer::new(48);
            for chunk in &chunks {
                framer.feed(chunk, |r| {
                    if let Ok(bytes) = r {
                        assert!(bytes.len() <= 48);
                        assert_eq!(bytes.first(), Some(&b'{'));
                    }
                });
                prop_assert!(framer.buffered() <= 48);
            }
        }
    }
}
