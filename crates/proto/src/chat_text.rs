//! Text that users write for each other (chat and direct messages, topics,
//! away texts, part, quit and kick reasons) made safe to show on anyone's
//! terminal, whichever protocol it reaches them by. The server passes every
//! such text through [`sanitize`] once, on the way in.
//!
//! What [`sanitize`] does:
//!
//! - **Kept:** printable text of any script, line feeds (`\n`: JSON
//!   messages may have several lines) and tabs (pasted code keeps its
//!   indentation), and IRC's own formatting codes: `\x02` bold, `\x03`
//!   colour (its digits are ordinary text), `\x04` hexadecimal colour,
//!   `\x0F` reset, `\x11` monospace, `\x16` reverse, `\x1D` italics, `\x1E`
//!   strikethrough, `\x1F` underline.
//! - **Replaced with U+FFFD** (`�`): every other C0 control (NUL, BEL,
//!   backspace, ESC, ...), DEL, and the C1 controls U+0080–U+009F. ESC
//!   starts terminal escape sequences (colours, cursor moves, the window
//!   title, OSC 52 writing the clipboard); BEL rings; backspace and a lone
//!   carriage return rewrite what is already on the line. Replacing rather
//!   than removing shows that something was there (`ESC[2J` arrives as
//!   `�[2J`, not as a silently altered text).
//! - **CRLF becomes LF:** a carriage return right before a line feed is
//!   dropped; a carriage return anywhere else is replaced as above.
//! - **Bidirectional controls are balanced, line by line.** Embeddings and
//!   overrides (U+202A LRE, U+202B RLE, U+202D LRO, U+202E RLO, closed by
//!   U+202C PDF) and isolates (U+2066 LRI, U+2067 RLI, U+2068 FSI, closed by
//!   U+2069 PDI) are kept, since right-to-left writers use them, but
//!   whatever a line leaves open is closed at its end (before its `\n`, or
//!   at the end of the text), and a PDF or PDI that closes nothing opened
//!   earlier in its line is removed (it would close something the client
//!   opened around the text). So no override leaks out of a line into what
//!   a client shows after it (the "Trojan Source" trick of an unterminated
//!   RLO reversing the rest of a terminal line), and none reaches into what
//!   was shown before it.
//!
//! Text that needs none of this comes back borrowed, unchanged, without
//! allocating (the common case: this runs on every message). The result is
//! at most three times as long as the input in bytes (a one-byte control
//! becomes the three bytes of U+FFFD; an opener gains a closer of its own
//! size), so limits on a text's length are best checked on what was sent.

use std::borrow::Cow;

/// IRC formatting codes: bold, colour, hex colour, reset, monospace,
/// reverse, italics, strikethrough, underline.
const IRC_FORMATTING: [u8; 9] = [0x02, 0x03, 0x04, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F];

/// What a control character is replaced with.
const REPLACEMENT: &str = "\u{FFFD}";

/// Pop directional formatting: closes an embedding or override.
const PDF: char = '\u{202C}';

/// Pop directional isolate: closes an isolate.
const PDI: char = '\u{2069}';

/// `text` safe to show: see the module documentation for what changes.
/// Borrowed when nothing does.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if is_printable_ascii(text) {
        return Cow::Borrowed(text);
    }
    match text.bytes().position(needs_a_look) {
        None => Cow::Borrowed(text),
        Some(start) => sanitize_from(text, start),
    }
}

/// Whether `text` is only printable ASCII (space to `~`), the usual
/// message: checked a block at a time without branching per byte, which
/// the compiler turns into vector instructions.
fn is_printable_ascii(text: &str) -> bool {
    text.as_bytes().chunks(32).all(|block| {
        block.iter().fold(true, |printable, &byte| {
            printable & (0x20..0x7F).contains(&byte)
        })
    })
}

/// Bytes that may start something to change: a control other than a kept
/// one, DEL, the lead byte of U+0080–U+00BF (C1 controls among them), and
/// the lead byte of U+2000–U+2FFF (the bidirectional controls among them).
/// Everything before the first such byte is kept as it is.
fn needs_a_look(byte: u8) -> bool {
    NEEDS_A_LOOK[usize::from(byte)]
}

/// [`needs_a_look`] for every byte, so that the scan of clean text is one
/// table lookup per byte. For ASCII, it is also what [`is_replaced_control`]
/// says.
static NEEDS_A_LOOK: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'\t' as usize] = false;
    table[b'\n' as usize] = false;
    let mut code = 0;
    while code < IRC_FORMATTING.len() {
        table[IRC_FORMATTING[code] as usize] = false;
        code += 1;
    }
    table[0x7F] = true;
    table[0xC2] = true;
    table[0xE2] = true;
    table
};

/// Whether `c` is a control to replace: C0 other than tab, line feed and
/// the IRC formatting codes, DEL, and C1.
fn is_replaced_control(c: char) -> bool {
    match c {
        '\0'..='\x7F' => NEEDS_A_LOOK[c as usize],
        '\u{80}'..='\u{9F}' => true,
        _ => false,
    }
}

/// What a bidirectional control opened, and so which one closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opened {
    /// LRE, RLE, LRO or RLO: closed by PDF.
    Embedding,
    /// LRI, RLI or FSI: closed by PDI.
    Isolate,
}

impl Opened {
    /// The control that closes it.
    fn closer(self) -> char {
        match self {
            Opened::Embedding => PDF,
            Opened::Isolate => PDI,
        }
    }
}

/// The output of [`sanitize`]: the input's unchanged stretches copied
/// between the edits, allocated only at the first edit.
struct Output<'a> {
    text: &'a str,
    /// The output so far, once an edit was needed.
    out: Option<String>,
    /// Where the input not yet copied to `out` starts.
    kept_from: usize,
}

impl<'a> Output<'a> {
    /// The output, with the input up to byte `at` copied into it.
    fn up_to(&mut self, at: usize) -> &mut String {
        let text = self.text;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(text.len() + 16));
        out.push_str(&text[self.kept_from..at]);
        self.kept_from = at;
        out
    }

    /// Puts `with` in place of the character `c` at byte `at`.
    fn replace(&mut self, at: usize, c: char, with: &str) {
        self.up_to(at).push_str(with);
        self.kept_from = at + c.len_utf8();
    }

    /// The whole output: the input itself if nothing was edited.
    fn finish(self) -> Cow<'a, str> {
        match self.out {
            None => Cow::Borrowed(self.text),
            Some(mut out) => {
                out.push_str(&self.text[self.kept_from..]);
                Cow::Owned(out)
            }
        }
    }
}

/// Sanitizes `text` from byte `start` on; everything before it is kept as
/// it is (and holds no bidirectional control). Skips from one byte that
/// [`needs_a_look`] to the next (and to line feeds while a bidirectional
/// control is open), so that only those characters are decoded.
fn sanitize_from(text: &str, start: usize) -> Cow<'_, str> {
    let mut output = Output {
        text,
        out: None,
        kept_from: 0,
    };
    // The bidirectional controls open in the current line, innermost last.
    let mut open: Vec<Opened> = Vec::new();
    let mut from = start;
    while let Some(skip) = text.as_bytes()[from..]
        .iter()
        .position(|&byte| needs_a_look(byte) || (byte == b'\n' && !open.is_empty()))
    {
        let at = from + skip;
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        from = at + c.len_utf8();
        match c {
            '\n' => close_line(&mut output, &mut open, at),
            '\r' if text.as_bytes().get(from) == Some(&b'\n') => output.replace(at, c, ""),
            '\u{202A}' | '\u{202B}' | '\u{202D}' | '\u{202E}' => open.push(Opened::Embedding),
            '\u{2066}'..='\u{2068}' => open.push(Opened::Isolate),
            PDF => {
                if open.last() == Some(&Opened::Embedding) {
                    open.pop();
                } else {
                    output.replace(at, c, "");
                }
            }
            PDI => match open.iter().rposition(|&o| o == Opened::Isolate) {
                // Closing an isolate closes what was opened inside it.
                Some(isolate) => open.truncate(isolate),
                None => output.replace(at, c, ""),
            },
            c if is_replaced_control(c) => output.replace(at, c, REPLACEMENT),
            _ => {}
        }
    }
    close_line(&mut output, &mut open, text.len());
    output.finish()
}

/// Closes, at byte `at`, what the line ending there left open.
fn close_line(output: &mut Output<'_>, open: &mut Vec<Opened>, at: usize) {
    if !open.is_empty() {
        output
            .up_to(at)
            .extend(open.drain(..).rev().map(Opened::closer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Whether every line of `text` closes what it opens and closes nothing
    /// it did not open.
    fn balanced(text: &str) -> bool {
        text.split('\n').all(|line| {
            let mut open = Vec::new();
            for c in line.chars() {
                match c {
                    '\u{202A}' | '\u{202B}' | '\u{202D}' | '\u{202E}' => open.push(PDF),
                    '\u{2066}'..='\u{2068}' => open.push(PDI),
                    PDF if open.last() == Some(&PDF) => {
                        open.pop();
                    }
                    PDI if open.contains(&PDI) => while open.pop() != Some(PDI) {},
                    PDF | PDI => return false,
                    _ => {}
                }
            }
            open.is_empty()
        })
    }

    fn has_bad_control(text: &str) -> bool {
        text.chars().any(|c| is_replaced_control(c) || c == '\r')
    }

    #[test]
    fn clean_text_is_borrowed() {
        for text in [
            "",
            "hello world",
            "你好，世界！",
            "two\nlines\twith a tab",
            "\x02bold\x02 \x0304,07colour\x03 \x04FF0000hex\x0F \x11mono\x11 \x16rev\x16 \x1Ditalic\x1D \x1Estrike\x1E \x1Funder\x1F",
            "“quotes” – dashes… € ©",
            "مرحبا \u{2067}שלום\u{2069} end",
            "\u{202E}reversed\u{202C} and back",
            "😀👍🏽",
        ] {
            assert!(
                matches!(sanitize(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn terminal_controls_are_replaced() {
        for (text, clean) in [
            ("\x1b[2J\x1b[H", "\u{FFFD}[2J\u{FFFD}[H"),
            ("ding\x07", "ding\u{FFFD}"),
            (
                "\x1b]52;c;cm0gLXJmIH4=\x07",
                "\u{FFFD}]52;c;cm0gLXJmIH4=\u{FFFD}",
            ),
            ("\x1b]0;pwned\x1b\\", "\u{FFFD}]0;pwned\u{FFFD}\\"),
            ("a\0b\x08c\x7fd", "a\u{FFFD}b\u{FFFD}c\u{FFFD}d"),
            ("\u{9b}31m\u{85}\u{80}", "\u{FFFD}31m\u{FFFD}\u{FFFD}"),
            ("safe\rrm -rf", "safe\u{FFFD}rm -rf"),
            ("windows\r\nline\r\n", "windows\nline\n"),
            ("\r\r\n", "\u{FFFD}\n"),
            ("\x01ACTION waves\x01", "\u{FFFD}ACTION waves\u{FFFD}"),
        ] {
            assert_eq!(sanitize(text), clean, "{text:?}");
        }
    }

    #[test]
    fn overrides_end_with_their_line() {
        for (text, clean) in [
            // Trojan Source: the rest of the line would read backwards.
            ("\u{202E}gnp.exe", "\u{202E}gnp.exe\u{202C}"),
            ("a\u{202E}b\nc", "a\u{202E}b\u{202C}\nc"),
            ("\u{2067}x\u{202B}y", "\u{2067}x\u{202B}y\u{202C}\u{2069}"),
            ("\u{2067}x\u{202B}y\u{2069}z", "\u{2067}x\u{202B}y\u{2069}z"),
            (
                "\u{202A}\u{202D}\u{2066}",
                "\u{202A}\u{202D}\u{2066}\u{2069}\u{202C}\u{202C}",
            ),
            // Closers of what the text did not open would close the client's.
            ("x\u{202C}y\u{2069}z", "xyz"),
            ("\u{2066}a\u{202C}b\u{2069}", "\u{2066}ab\u{2069}"),
            ("\u{202E}a\nb\u{202C}", "\u{202E}a\u{202C}\nb"),
        ] {
            assert_eq!(sanitize(text), clean, "{text:?}");
            assert!(balanced(&sanitize(text)));
        }
    }

    /// Text as users write it, IRC formatting and bidirectional controls
    /// included, but nothing `sanitize` changes: balanced lines, no
    /// replaced controls, no carriage returns.
    fn clean_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => "[^\\p{Cc}\u{202A}-\u{202E}\u{2066}-\u{2069}]{0,12}",
            1 => "[\t\n\x02\x03\x04\x0F\x11\x16\x1D\x1E\x1F]",
            1 => "[^\\p{Cc}\u{202A}-\u{202E}\u{2066}-\u{2069}]{0,6}".prop_map(|s| format!("\u{202E}{s}\u{202C}")),
            1 => "[^\\p{Cc}\u{202A}-\u{202E}\u{2066}-\u{2069}]{0,6}".prop_map(|s| format!("\u{2067}{s}\u{2069}")),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    /// Anything, with the characters `sanitize` cares about made common.
    fn hostile_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "\\PC{0,8}",
            "[\0-\x1F\x7F\u{80}-\u{9F}]{1,4}",
            "[\u{202A}-\u{202E}\u{2066}-\u{2069}\r\n]{1,4}",
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn clean_text_is_the_identity(text in clean_text()) {
            prop_assert!(matches!(sanitize(&text), Cow::Borrowed(t) if t == text));
        }

        #[test]
        fn output_is_safe_and_keeps_what_it_may(text in hostile_text()) {
            let clean = sanitize(&text);
            prop_assert!(!has_bad_control(&clean), "{:?}", clean);
            prop_assert!(balanced(&clean), "{:?}", clean);
            prop_assert!(clean.len() <= 3 * text.len());
            // Newlines, tabs and IRC formatting all survive, in order.
            let kept = |s: &str| -> String {
                s.chars().filter(|&c| c == '\n' || c == '\t' || (c.is_ascii() && IRC_FORMATTING.contains(&(c as u8)))).collect()
            };
            prop_assert_eq!(kept(&clean), kept(&text));
            // Printable text survives, in order.
            let printable = |s: &str| -> String {
                s.chars().filter(|&c| !c.is_control() && !('\u{202A}'..='\u{202E}').contains(&c) && !('\u{2066}'..='\u{2069}').contains(&c) && c != '\u{FFFD}').collect()
            };
            prop_assert_eq!(printable(&clean), printable(&text));
            // Sanitizing twice changes nothing more.
            prop_assert!(matches!(sanitize(&clean), Cow::Borrowed(_)));
        }
    }
}
