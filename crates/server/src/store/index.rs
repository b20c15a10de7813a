//! The message index: one FTS5 table, `message_index`, that finds a room's
//! messages, a person's direct messages and the messages holding some
//! words, newest first, without a B-tree index on `messages`.
//!
//! Each message is indexed as one document of *terms* (its rowid is the
//! message id):
//!
//! - the words of its text, as FTS5's `unicode61` tokenizer splits them
//!   (at anything that is not a letter or a digit, case folded), except
//!   that runs of Chinese and Japanese characters, which have no spaces
//!   between words, are written as overlapping pairs of characters
//!   (bigrams) and the run's last character: `网络编程` becomes
//!   `网络 络编 编程 程`, so that any part of such a run can be found;
//! - its *scope*: `0r` and a hash of the room for a room message; for a
//!   direct message `0u` and the sender's and the recipient's user ids,
//!   and `0n` and a hash of each one's folded nickname. (A word typed by a
//!   user could look like one of these; every query checks the scope in
//!   SQL as well, so that only costs a wasted candidate.)
//!
//! The table is *contentless* (it keeps no copy of the text, which lives
//! in `messages`) with `detail=none` (no positions): it answers "which
//! messages have these terms", newest first, and nothing more, which is
//! all the reads need and a quarter of the size of the `trigram` index it
//! replaced. Why, with the measurements: `docs/benchmarks.md`, "History at
//! scale".
//!
//! Why one FTS5 table instead of B-tree indexes on `(room_key, id)`: a
//! busy server writes to many rooms at once, so every commit dirtied a
//! leaf page of that index per room written to, and WAL mode writes every
//! dirty page whole at every commit. FTS5 writes each commit's terms as one
//! new segment, sorted, and merges segments in the background: appends,
//! not scattered page writes.

use std::collections::HashMap;

use chatroom_proto::nick;

/// Terms of this length or more are looked up as prefixes (`compil`
/// finds `compiler`); shorter ones as whole terms.
const PREFIX_FROM: usize = 3;

/// Whether `c` is written as bigrams: the CJK ideographs and the Japanese
/// kana, which are written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(
        u32::from(c),
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x3FFFF // extensions B and later
    )
}

/// Appends `text` as the index sees it to `out`: everything as it is,
/// except that each run of CJK characters becomes its bigrams and its last
/// character, separated by spaces.
pub fn push_text(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_cjk(c) {
            out.push(c);
            continue;
        }
        out.push(' ');
        let mut current = c;
        loop {
            out.push(current);
            match chars.peek() {
                Some(&next) if is_cjk(next) => {
                    out.push(next);
                    out.push(' ');
                    current = next;
                    chars.next();
                }
                _ => break,
            }
        }
        out.push(' ');
    }
}

/// The scope term of a room (by folded key).
pub fn room_term(room_key: &str) -> String {
    format!("0r{:016x}", hash(room_key.as_bytes()))
}

/// The scope term of a user id.
pub fn user_term(id: u64) -> String {
    format!("0u{id}")
}

/// The scope term of a nickname (folded here).
pub fn nick_term(nickname: &str) -> String {
    format!("0n{:016x}", hash(nick::fold(nickname).as_bytes()))
}

/// The scope term of an already folded nickname.
pub fn folded_nick_term(folded: &str) -> String {
    format!("0n{:016x}", hash(folded.as_bytes()))
}

/// FNV-1a, 64 bits: a hash whose value never changes between versions
/// and platforms (the terms are stored).
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The terms of one stored message: its text as the index sees it, then
/// its scope terms.
pub fn terms(
    text: &str,
    room_key: Option<&str>,
    sender: (u64, &str),
    recipient: Option<(u64, &str)>,
) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    push_text(text, &mut out);
    out.push(' ');
    match (room_key, recipient) {
        (Some(room), _) => out.push_str(&room_term(room)),
        (None, recipient) => {
            out.push_str(&user_term(sender.0));
            out.push(' ');
            out.push_str(&nick_term(sender.1));
            if let Some((id, nickname)) = recipient {
                out.push(' ');
                out.push_str(&user_term(id));
                out.push(' ');
                out.push_str(&nick_term(nickname));
            }
        }
    }
    out
}

/// The columns of `messages` a message's terms are made of, in the order
/// [`stored_terms`] reads them.
pub const TERM_COLUMNS: &str =
    "room_key, sender_id, sender_nick, recipient_id, recipient_nick, body";

/// The terms of a stored message, from a row that starts with
/// [`TERM_COLUMNS`]: the same terms the writer indexed it with, which is
/// what removing it from the index must name.
pub fn stored_terms(row: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
    let room: Option<String> = row.get(0)?;
    let sender: (i64, String) = (row.get(1)?, row.get(2)?);
    let recipient: (Option<i64>, Option<String>) = (row.get(3)?, row.get(4)?);
    let body: String = row.get(5)?;
    let recipient = match &recipient {
        (Some(id), Some(nick)) => Some((id.cast_unsigned(), nick.as_str())),
        _ => None,
    };
    Ok(terms(
        &body,
        room.as_deref(),
        (sender.0.cast_unsigned(), &sender.1),
        recipient,
    ))
}

/// A string as an FTS5 query term: quoted, so nothing in it is syntax.
pub fn quoted(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// `terms` joined by OR, in parentheses (a scope).
pub fn any_of(terms: &[String]) -> String {
    let quoted: Vec<String> = terms.iter().map(|t| quoted(t)).collect();
    format!("({})", quoted.join(" OR "))
}

/// The runs of letters and digits in `word` (one whitespace-separated word
/// of a search), lowercased, that are longer than the prefix index's
/// length: the ones [`word_terms`] can look up by the terms they begin
/// (their *expansions*).
pub fn long_runs(word: &str) -> Vec<String> {
    let mut form = String::new();
    push_text(word, &mut form);
    form.split(|c: char| !c.is_alphanumeric())
        .filter(|run| is_long(run))
        .map(str::to_lowercase)
        .collect()
}

/// Whether a run of letters and digits is longer than the prefix index's
/// length (CJK runs never are: they are looked up by pairs).
fn is_long(run: &str) -> bool {
    !run.chars().next().is_some_and(is_cjk) && run.chars().count() > PREFIX_FROM
}

/// The FTS5 query terms that must all be present for a message to contain
/// `word` (one whitespace-separated word of a search): its letter-and-digit
/// runs, prefixes when long enough, and for CJK runs their bigrams (a
/// single CJK character: as a prefix, which finds it anywhere). Empty when
/// the word has no letters or digits: the index cannot find it, only the
/// check of the text can.
///
/// A run longer than the prefix index's length that has an entry in
/// `expansions` (see [`long_runs`]) is looked up as the terms it begins,
/// ORed: FTS5 reads each of those lists lazily, newest first, where it
/// answers a longer prefix by merging the whole lists of every term it
/// begins before the first row (on 10,000,000 messages, `going* AND
/// your*` 84 ms, `going AND your` 12 ms). With no terms it is looked up as
/// itself, which finds nothing.
///
/// Otherwise, with `narrow`, such a run is looked up by its first
/// [`PREFIX_FROM`] characters, and returned (lowercased) in the second
/// list: the caller must check that the text has a word that begins with
/// it (FTS5 answers a prefix of exactly the indexed length from one stored
/// list, read lazily newest first). Without `narrow`, by its whole prefix.
pub fn word_terms(
    word: &str,
    narrow: bool,
    expansions: &HashMap<String, Vec<String>>,
) -> (Vec<String>, Vec<String>) {
    let mut form = String::new();
    push_text(word, &mut form);
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let mut run = String::new();
    let mut flush = |run: &mut String, out: &mut Vec<String>| {
        if run.is_empty() {
            return;
        }
        let cjk = run.chars().next().is_some_and(is_cjk);
        let count = run.chars().count();
        let lower = run.to_lowercase();
        let prefix = if cjk {
            count == 1
        } else {
            count >= PREFIX_FROM
        };
        let long = is_long(run);
        match expansions.get(&lower) {
            Some(terms) if long && terms.is_empty() => out.push(quoted(&lower)),
            Some(terms) if long => out.push(any_of(terms)),
            _ if narrow && long => {
                let head: String = lower.chars().take(PREFIX_FROM).collect();
                starts.push(lower);
                out.push(format!("{}*", quoted(&head)));
            }
            _ if prefix => out.push(format!("{}*", quoted(&lower))),
            _ => out.push(quoted(&lower)),
        }
        run.clear();
    };
    for c in form.chars() {
        if c.is_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    // A CJK run of several characters became its bigrams and its last
    // character; the bigrams alone say it, and the last character (a
    // prefix lookup) would only slow the query down.
    if out.iter().any(|t| is_pair(t)) {
        out.retain(|t| !(t.chars().nth(1).is_some_and(is_cjk) && t.ends_with('*')));
    }
    (out, starts)
}

/// Whether `term`, as [`word_terms`] returns it, is a CJK bigram. The
/// search word it came from holds it, and every candidate's text is
/// checked for the whole word, so a search may leave it out of its index
/// query without changing what it finds.
pub fn is_pair(term: &str) -> bool {
    term.chars().nth(1).is_some_and(is_cjk) && !term.ends_with('*')
}

/// Whether `text` (lowercased) has a word, as the index splits words, that
/// begins with `start` (lowercased letters and digits).
pub fn has_word_starting(text: &str, start: &str) -> bool {
    text.match_indices(start).any(|(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|before| !before.is_alphanumeric() || is_cjk(before))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_runs_become_bigrams() {
        let mut out = String::new();
        push_text("学习网络编程, rust 很好", &mut out);
        assert_eq!(out, " 学习 习网 网络 络编 编程 程 , rust  很好 好 ");
        out.clear();
        push_text("a字b", &mut out);
        assert_eq!(out, "a 字 b");
    }

    #[test]
    fn words_become_query_terms() {
        assert_eq!(word_terms("Compil", false, &none()).0, ["\"compil\"*"]);
        assert_eq!(word_terms("go", false, &none()).0, ["\"go\""]);
        assert_eq!(word_terms("100%", false, &none()).0, ["\"100\"*"]);
        assert_eq!(
            word_terms("fun_stuff", false, &none()).0,
            ["\"fun\"*", "\"stuff\"*"]
        );
        assert_eq!(word_terms("%", false, &none()).0, Vec::<String>::new());
        assert_eq!(
            word_terms("网络编程", false, &none()).0,
            ["\"网络\"", "\"络编\"", "\"编程\""]
        );
        assert_eq!(word_terms("编程", false, &none()).0, ["\"编程\""]);
        assert_eq!(word_terms("编", false, &none()).0, ["\"编\"*"]);
        assert_eq!(
            word_terms("rust编程", false, &none()).0,
            ["\"rust\"*", "\"编程\""]
        );
    }

    fn none() -> HashMap<String, Vec<String>> {
        HashMap::new()
    }

    #[test]
    fn long_words_are_looked_up_by_the_terms_they_begin() {
        assert_eq!(
            long_runs("Compiler's 网络编程 go rust编程"),
            ["compiler", "rust"]
        );
        let expansions = HashMap::from([
            (
                "compil".to_owned(),
                vec!["compile".to_owned(), "compiler".to_owned()],
            ),
            ("rust".to_owned(), vec![]),
        ]);
        assert_eq!(
            word_terms("Compil", true, &expansions),
            (vec!["(\"compile\" OR \"compiler\")".to_owned()], vec![])
        );
        assert_eq!(
            word_terms("rust编程", true, &expansions),
            (vec!["\"rust\"".to_owned(), "\"编程\"".to_owned()], vec![])
        );
        assert_eq!(
            word_terms("people", true, &expansions),
            (vec!["\"peo\"*".to_owned()], vec!["people".to_owned()])
        );
    }

    #[test]
    fn narrowed_words_are_looked_up_by_their_first_three_characters() {
        assert_eq!(
            word_terms("Compiler", true, &none()),
            (vec!["\"com\"*".to_owned()], vec!["compiler".to_owned()])
        );
        assert_eq!(
            word_terms("the", true, &none()),
            (vec!["\"the\"*".to_owned()], vec![])
        );
        assert_eq!(
            word_terms("go", true, &none()),
            (vec!["\"go\"".to_owned()], vec![])
        );
        assert_eq!(
            word_terms("rust编程", true, &none()),
            (
                vec!["\"rus\"*".to_owned(), "\"编程\"".to_owned()],
                vec!["rust".to_owned()]
            )
        );
        assert_eq!(
            word_terms("Compiler", false, &none()).1,
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_word_start_is_where_the_index_starts_a_term() {
        assert!(has_word_starting("the compiler", "compil"));
        assert!(has_word_starting("compiler", "compil"));
        assert!(has_word_starting("(compiler)", "compil"));
        assert!(has_word_starting("学习compiler", "compil"));
        assert!(!has_word_starting("decompiler", "compil"));
        assert!(has_word_starting("x_compiler", "compil"));
        assert!(has_word_starting("decompiler, compile", "compil"));
        assert!(!has_word_starting("", "compil"));
    }

    #[test]
    fn scope_terms_are_stable_and_folded() {
        assert_eq!(room_term("rust"), room_term("rust"));
        assert_ne!(room_term("rust"), room_term("go"));
        assert_eq!(nick_term("Alice"), nick_term("alice"));
        assert_eq!(nick_term("Alice"), folded_nick_term("alice"));
        assert_eq!(user_term(42), "0u42");
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn a_message_carries_its_scope() {
        let room = terms("hi", Some("rust"), (1, "ann"), None);
        assert!(room.ends_with(&room_term("rust")), "{room}");
        let direct = terms("hi", None, (1, "Ann"), Some((2, "Bob")));
        for term in [
            user_term(1),
            user_term(2),
            nick_term("ann"),
            nick_term("bob"),
        ] {
            assert!(direct.contains(&term), "{direct}");
        }
    }
}
