//! Tab completion of /commands, nicknames and room names.
//!
//! Tab replaces the word before the cursor with the first match; pressing
//! Tab again cycles through the others (Shift-Tab backwards). A nickname
//! completed at the start of the line gets `: ` after it, as in irssi.

use chatroom_proto::nick;

use crate::command::{self, Mode};

/// An ongoing completion: where the word starts and what it may become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Index of the first character of the word being completed.
    pub start: usize,
    /// The replacements, suffix included, in the order Tab shows them.
    pub candidates: Vec<String>,
    /// Which one is shown now.
    pub index: usize,
}

impl Completion {
    /// Moves to the next (or previous) candidate and returns it.
    pub fn step(&mut self, forward: bool) -> &str {
        let n = self.candidates.len();
        self.index = if forward {
            (self.index + 1) % n
        } else {
            (self.index + n - 1) % n
        };
        &self.candidates[self.index]
    }

    /// The candidate shown now.
    pub fn current(&self) -> &str {
        &self.candidates[self.index]
    }
}

/// What the word before `cursor` may complete to, given the nicknames of the
/// current window (in the order to offer them: recent speakers first) and
/// the rooms joined (offered by name). `None` when nothing matches.
pub fn start(
    line: &[char],
    cursor: usize,
    nicks: &[String],
    rooms: &[String],
) -> Option<Completion> {
    let cursor = cursor.min(line.len());
    let mut start = cursor;
    while start > 0 && !line[start - 1].is_whitespace() {
        start -= 1;
    }
    let word: String = line[start..cursor].iter().collect();
    if word.is_empty() {
        return None;
    }
    let before: String = line[..start].iter().collect();
    let mut before_words = before.split_whitespace();
    let command = before_words
        .next()
        .filter(|w| w.starts_with('/'))
        .map(|w| w.trim_start_matches('/').to_lowercase());
    let argument_index = before_words.count();
    let folded = nick::fold(&word);
    let matching = |names: &[String], suffix: &str| -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for name in names.iter().filter(|n| nick::fold(n).starts_with(&folded)) {
            let candidate = format!("{name}{suffix}");
            if !found.contains(&candidate) {
                found.push(candidate);
            }
        }
        found
    };
    let mut rooms = rooms.to_vec();
    rooms.sort_by_key(|r| nick::fold(r));
    let candidates = if start == 0 && word.starts_with('/') {
        let name = folded.trim_start_matches('/');
        command::names(Mode::Screen)
            .filter(|n| n.starts_with(name))
            .map(|n| format!("/{n} "))
            .collect()
    } else {
        match command.as_deref() {
            Some("join" | "part" | "who") if argument_index == 0 => matching(&rooms, " "),
            _ if start == 0 => matching(nicks, ": "),
            _ => matching(nicks, " "),
        }
    };
    (!candidates.is_empty()).then_some(Completion {
        start,
        candidates,
        index: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &str, nicks: &[&str]) -> Option<Vec<String>> {
        let chars: Vec<char> = line.chars().collect();
        let nicks: Vec<String> = nicks.iter().map(|s| s.to_string()).collect();
        let rooms = vec!["lobby".to_owned(), "Rust".to_owned()];
        start(&chars, chars.len(), &nicks, &rooms).map(|c| c.candidates)
    }

    #[test]
    fn nicknames_at_line_start_get_a_colon() {
        assert_eq!(
            complete("bo", &["bob", "Bobby", "alice"]),
            Some(vec!["bob: ".to_owned(), "Bobby: ".to_owned()])
        );
        assert_eq!(
            complete("bo", &["Bobby", "bob"]),
            Some(vec!["Bobby: ".to_owned(), "bob: ".to_owned()]),
            "in the order given (recent speakers first)"
        );
        assert_eq!(
            complete("hi AL", &["bob", "alice"]),
            Some(vec!["alice ".to_owned()])
        );
        assert_eq!(
            complete("张", &["张三", "李四"]),
            Some(vec!["张三: ".to_owned()])
        );
        assert_eq!(complete("zed", &["bob"]), None);
        assert_eq!(
            complete("hi ", &["bob"]),
            None,
            "an empty word completes nothing"
        );
    }

    #[test]
    fn commands_and_their_arguments() {
        assert_eq!(complete("/jo", &[]), Some(vec!["/join ".to_owned()]));
        assert_eq!(
            complete("/q", &[]),
            Some(vec!["/query ".to_owned(), "/quit ".to_owned()])
        );
        assert_eq!(
            complete("/join r", &["rob"]),
            Some(vec!["Rust ".to_owned()])
        );
        assert_eq!(complete("/msg r", &["rob"]), Some(vec!["rob ".to_owned()]));
    }

    #[test]
    fn tab_cycles_both_ways() {
        let mut c = Completion {
            start: 0,
            candidates: vec!["a".into(), "b".into(), "c".into()],
            index: 0,
        };
        assert_eq!(c.step(true), "b");
        assert_eq!(c.step(true), "c");
        assert_eq!(c.step(true), "a");
        assert_eq!(c.step(false), "c");
        assert_eq!(c.current(), "c");
    }
}
