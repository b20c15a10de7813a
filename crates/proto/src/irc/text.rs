//! Fitting text into IRC lines.
//!
//! A JSON user's message may hold newlines and be far longer than an IRC
//! line. [`fit_text`] turns it into as many `PRIVMSG`/`NOTICE` lines as it
//! takes: one per line of text ([`text_lines`]), each long line cut into
//! pieces that fit in 512 bytes together with the source, command and
//! target the receivers will see ([`split_text`]). Cuts fall between UTF-8
//! characters, after a space when one is near the end of the piece. Lists
//! (nicknames in `NAMES`, channels in `WHOIS`) are spread over lines the
//! same way by [`fit_words`] and [`pack_words`].

use super::{MAX_LINE_BYTES, Message};

/// The lines of a text: split at LF, CRLF or a lone CR. Empty lines are
/// dropped, since IRC has no way to send an empty message line.
pub fn text_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\r', '\n']).filter(|line| !line.is_empty())
}

/// Cuts `text` into pieces of at most `max_bytes` bytes that concatenate
/// back to `text`. A piece ends after the last space that leaves it at least
/// half full, otherwise at the last character boundary that fits; a
/// character longer than `max_bytes` (possible only below 4) becomes a piece
/// of its own. Empty text gives no pieces.
pub fn split_text(text: &str, max_bytes: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max_bytes {
        let (piece, tail) = rest
            .split_at_checked(cut_point(rest, max_bytes))
            .unwrap_or((rest, ""));
        pieces.push(piece);
        rest = tail;
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// Where to end the next piece of `rest` (longer than `max_bytes`); never 0.
fn cut_point(rest: &str, max_bytes: usize) -> usize {
    let mut end = max_bytes;
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    if end == 0 {
        return rest.chars().next().map_or(rest.len(), char::len_utf8);
    }
    match rest[..end].rfind(' ') {
        Some(space) if space + 1 > end / 2 => space + 1,
        _ => end,
    }
}

/// Bytes left for a last parameter appended to `template` as trailing text,
/// within [`MAX_LINE_BYTES`] (tags not counted).
pub fn text_budget(template: &Message) -> usize {
    let mut probe = template.clone();
    probe.params.push(String::new());
    probe.trailing = true;
    MAX_LINE_BYTES.saturating_sub(probe.body_len())
}

/// Messages like `template` (source, command and targets as the receivers
/// will see them, without the text), each with one piece of `text` as its
/// trailing parameter, each fitting in [`MAX_LINE_BYTES`]. Newlines in the
/// text start new messages; empty lines are dropped, so a text of only
/// newlines gives no messages.
pub fn fit_text(template: &Message, text: &str) -> Vec<Message> {
    let budget = text_budget(template);
    text_lines(text)
        .flat_map(|line| split_text(line, budget))
        .map(|piece| template.clone().trailing_param(piece))
        .collect()
}

/// Groups `words` so that each group, joined with single spaces, is at most
/// `max_bytes` long and has at most `max_words` words (e.g. 13 ISUPPORT
/// tokens per line). A word longer than `max_bytes` gets a group of its own.
pub fn pack_words<'a>(
    words: impl IntoIterator<Item = &'a str>,
    max_bytes: usize,
    max_words: usize,
) -> Vec<Vec<&'a str>> {
    let mut groups = Vec::new();
    let mut group: Vec<&str> = Vec::new();
    let mut len = 0;
    for word in words {
        let joined = len + 1 + word.len();
        if group.is_empty() {
            len = word.len();
        } else if joined > max_bytes || group.len() >= max_words {
            groups.push(std::mem::take(&mut group));
            len = word.len();
        } else {
            len = joined;
        }
        group.push(word);
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

/// Messages like `template`, each with a space-separated run of `words` as
/// its trailing parameter, each fitting in [`MAX_LINE_BYTES`] (e.g. the
/// nicknames of `353 RPL_NAMREPLY`).
pub fn fit_words<'a>(template: &Message, words: impl IntoIterator<Item = &'a str>) -> Vec<Message> {
    pack_words(words, text_budget(template), usize::MAX)
        .into_iter()
        .map(|group| template.clone().trailing_param(group.join(" ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{Source, parse};
    use proptest::prelude::*;

    fn privmsg_template() -> Message {
        Message::new("PRIVMSG")
            .with_source(Source::user("alice", "alice", "chatroom"))
            .param("#lobby")
    }

    #[test]
    fn lines_split_at_every_newline_kind() {
        assert_eq!(
            text_lines("a\nb\r\nc\rd").collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
        assert_eq!(text_lines("\n\na\n\n").collect::<Vec<_>>(), ["a"]);
        assert_eq!(text_lines("  ").collect::<Vec<_>>(), ["  "]);
        assert_eq!(text_lines("\r\n").count(), 0);
    }

    #[test]
    fn split_prefers_spaces_and_respects_characters() {
        assert_eq!(split_text("hello world foo", 12), ["hello world ", "foo"]);
        assert_eq!(split_text("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        // A space too early would leave a piece under half full: cut hard.
        assert_eq!(split_text("a bcdefghij", 8), ["a bcdefg", "hij"]);
        // 3-byte characters never cut: 7 bytes hold two of them.
        assert_eq!(split_text("你好世界", 7), ["你好", "世界"]);
        // Below a character's size, one character per piece.
        assert_eq!(split_text("你好", 2), ["你", "好"]);
        assert_eq!(split_text("😀", 0), ["😀"]);
        assert!(split_text("", 10).is_empty());
        assert_eq!(split_text("short", 10), ["short"]);
    }

    #[test]
    fn fitted_lines_stay_within_512_bytes() {
        let template = privmsg_template();
        let text = "这是一个很长的消息。".repeat(60) + "\nsecond line\n\nthird";
        let messages = fit_text(&template, &text);
        assert!(messages.len() > 3);
        let mut joined = String::new();
        for m in &messages {
            let line = m.encode();
            assert!(line.len() <= MAX_LINE_BYTES, "{} bytes", line.len());
            let back = parse(&line[..line.len() - 2]).unwrap();
            assert_eq!(back.params[0], "#lobby");
            assert_eq!(back.source, template.source);
            joined.push_str(&back.params[1]);
        }
        assert_eq!(joined, text.replace('\n', ""));
        assert_eq!(messages.last().map(|m| m.params[1].as_str()), Some("third"));
        // The first piece fills its line to within one character.
        assert!(messages[0].encode().len() > MAX_LINE_BYTES - 3);
    }

    #[test]
    fn only_newlines_give_nothing() {
        assert!(fit_text(&privmsg_template(), "\n\r\n").is_empty());
    }

    #[test]
    fn words_are_packed_by_bytes_and_count() {
        assert_eq!(
            pack_words(["aa", "bb", "cc", "dd"], 5, 10),
            [vec!["aa", "bb"], vec!["cc", "dd"]]
        );
        assert_eq!(
            pack_words(["a", "b", "c"], 100, 2),
            [vec!["a", "b"], vec!["c"]]
        );
        assert_eq!(
            pack_words(["toolongword", "x"], 4, 10),
            [vec!["toolongword"], vec!["x"]]
        );
        assert!(pack_words([], 10, 10).is_empty());
    }

    #[test]
    fn names_replies_fit() {
        let template = Message::new("353")
            .with_source(Source::server("irc.test"))
            .param("bob")
            .param("=")
            .param("#lobby");
        let nicks: Vec<String> = (0..300).map(|i| format!("user{i}")).collect();
        let messages = fit_words(&template, nicks.iter().map(String::as_str));
        assert!(messages.len() > 1);
        let mut seen = Vec::new();
        for m in &messages {
            assert!(m.encode().len() <= MAX_LINE_BYTES);
            seen.extend(m.params[3].split(' ').map(str::to_owned));
        }
        assert_eq!(seen, nicks);
    }

    proptest! {
        #[test]
        fn split_pieces_fit_and_concatenate_back(text in "\\PC{0,300}", max in 1usize..64) {
            let pieces = split_text(&text, max);
            prop_assert_eq!(pieces.concat(), text.as_str());
            for piece in &pieces {
                prop_assert!(!piece.is_empty());
                prop_assert!(piece.len() <= max.max(4));
            }
        }

        #[test]
        fn fitted_messages_never_exceed_the_limit(text in "[\\PC\\n ]{0,2000}", nick in "[a-z]{1,32}") {
            let template = Message::new("PRIVMSG")
                .with_source(Source::user(nick.as_str(), nick.as_str(), "host.example"))
                .param(nick.as_str());
            let messages = fit_text(&template, &text);
            let mut joined = String::new();
            for m in &messages {
                prop_assert!(m.encode().len() <= MAX_LINE_BYTES);
                joined.push_str(&m.params[1]);
            }
            prop_assert_eq!(joined, text.replace('\n', ""));
        }
    }
}
