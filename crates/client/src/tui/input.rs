//! The input line: an editable buffer with a cursor and a history of what was
//! sent, with the editing keys of a shell (Emacs bindings).
//!
//! The buffer is a list of characters and the cursor an index into it, so
//! moving never lands inside a multi-byte character; where the cursor sits
//! on screen is measured in display columns (a Chinese character takes two).

use unicode_width::UnicodeWidthChar;

/// The most lines the input history keeps.
pub const MAX_HISTORY: usize = 200;

/// The input line and its history.
#[derive(Debug, Clone, Default)]
pub struct Input {
    chars: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Which history entry is shown while browsing with Up/Down.
    browsing: Option<usize>,
    /// What was being typed before browsing started.
    draft: String,
}

impl Input {
    /// The text typed so far.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The characters typed so far.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The cursor, as an index into [`Input::chars`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text and puts the cursor at `cursor` (clamped).
    pub fn set(&mut self, text: &str, cursor: usize) {
        self.chars = text.chars().collect();
        self.cursor = cursor.min(self.chars.len());
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Inserts text at the cursor.
    pub fn insert_str(&mut self, text: &str) {
        let new: Vec<char> = text.chars().collect();
        let n = new.len();
        self.chars.splice(self.cursor..self.cursor, new);
        self.cursor += n;
    }

    /// Replaces the characters `start..end` with `text`; the cursor goes
    /// after the inserted text.
    pub fn replace(&mut self, start: usize, end: usize, text: &str) {
        let end = end.min(self.chars.len());
        let start = start.min(end);
        let new: Vec<char> = text.chars().collect();
        let n = new.len();
        self.chars.splice(start..end, new);
        self.cursor = start + n;
    }

    /// Moves one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    /// Moves to the start of the line.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves to the end of the line.
    pub fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    /// Moves to the start of the word before the cursor.
    pub fn word_left(&mut self) {
        self.cursor = self.word_start_before(self.cursor);
    }

    /// Moves to the end of the word after the cursor.
    pub fn word_right(&mut self) {
        let mut i = self.cursor;
        while i < self.chars.len() && self.chars[i].is_whitespace() {
            i += 1;
        }
        while i < self.chars.len() && !self.chars[i].is_whitespace() {
            i += 1;
        }
        self.cursor = i;
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word_back(&mut self) {
        let start = self.word_start_before(self.cursor);
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Deletes from the start of the line to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        self.chars.drain(..self.cursor);
        self.cursor = 0;
    }

    /// Deletes from the cursor to the end of the line (Ctrl-K).
    pub fn kill_to_end(&mut self) {
        self.chars.truncate(self.cursor);
    }

    /// Clears the line.
    pub fn clear(&mut self) {
        self.chars.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    /// Where the word ending at `at` starts: skip spaces left, then the word.
    fn word_start_before(&self, at: usize) -> usize {
        let mut i = at;
        while i > 0 && self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        while i > 0 && !self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        i
    }

    /// Takes the line out (it is being sent) and remembers it in the history.
    pub fn take(&mut self) -> String {
        let text = self.text();
        self.clear();
        self.draft.clear();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > MAX_HISTORY {
                self.history.remove(0);
            }
        }
        text
    }

    /// Shows the previous history entry (Up).
    pub fn history_prev(&mut self) {
        let next = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text();
                self.history.len() - 1
            }
            Some(i) => i.saturating_sub(1),
        };
        self.browsing = Some(next);
        let text = self.history[next].clone();
        self.set(&text, usize::MAX);
    }

    /// Shows the next history entry, or what was being typed (Down).
    pub fn history_next(&mut self) {
        let Some(i) = self.browsing else {
            return;
        };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            let text = self.history[i + 1].clone();
            self.set(&text, usize::MAX);
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.set(&draft, usize::MAX);
        }
    }
}

/// How many columns a character of the input takes on screen: a newline
/// or a tab (from a paste) shows as one column (`↵`, `⇥`), wide characters
/// as two.
pub fn display_width(c: char) -> usize {
    match c {
        '\n' | '\t' => 1,
        c => c.width().unwrap_or(0),
    }
}

/// How a character of the input is shown: newlines and tabs as visible
/// marks (`↵`, `⇥`), other control characters as `?`.
pub fn display_char(c: char) -> char {
    match c {
        '\n' => '↵',
        '\t' => '⇥',
        c if c.is_control() => '?',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> Input {
        let mut input = Input::default();
        input.insert_str(text);
        input
    }

    #[test]
    fn cursor_moves_by_characters_and_words() {
        let mut input = typed("hello 你好 world");
        assert_eq!(input.cursor(), 14);
        input.word_left();
        assert_eq!(input.cursor(), 9);
        input.word_left();
        assert_eq!(input.cursor(), 6);
        input.left();
        input.left();
        assert_eq!(input.cursor(), 4);
        input.word_right();
        assert_eq!(input.cursor(), 5);
        input.word_right();
        assert_eq!(input.cursor(), 8);
        input.home();
        input.left();
        assert_eq!(input.cursor(), 0);
        input.end();
        input.right();
        assert_eq!(input.cursor(), 14);
    }

    #[test]
    fn deleting_words_and_to_either_end() {
        let mut input = typed("one two  three");
        input.delete_word_back();
        assert_eq!(input.text(), "one two  ");
        input.delete_word_back();
        assert_eq!(input.text(), "one ");
        input.insert_str("2 3");
        input.word_left();
        input.kill_to_end();
        assert_eq!(input.text(), "one 2 ");
        input.left();
        input.kill_to_start();
        assert_eq!((input.text().as_str(), input.cursor()), (" ", 0));
        input.delete();
        input.delete();
        input.backspace();
        assert!(input.is_empty());
    }

    #[test]
    fn editing_in_the_middle_of_wide_text() {
        let mut input = typed("你世界");
        input.home();
        input.right();
        input.insert('好');
        assert_eq!(input.text(), "你好世界");
        input.backspace();
        input.delete();
        assert_eq!(input.text(), "你界");
        let width: usize = input.chars()[..input.cursor()]
            .iter()
            .map(|&c| display_width(c))
            .sum();
        assert_eq!(width, 2);
    }

    #[test]
    fn history_browses_back_and_returns_to_the_draft() {
        let mut input = Input::default();
        for line in ["first", "second", "second", "  "] {
            input.insert_str(line);
            input.take();
        }
        input.insert_str("draft");
        input.history_prev();
        assert_eq!(input.text(), "second");
        input.history_prev();
        assert_eq!(input.text(), "first");
        input.history_prev();
        assert_eq!(input.text(), "first", "stays at the oldest");
        input.history_next();
        assert_eq!(input.text(), "second");
        input.history_next();
        assert_eq!(input.text(), "draft");
        input.history_next();
        assert_eq!(input.text(), "draft");
    }

    #[test]
    fn history_is_bounded() {
        let mut input = Input::default();
        for i in 0..(MAX_HISTORY + 5) {
            input.insert_str(&i.to_string());
            input.take();
        }
        for _ in 0..(MAX_HISTORY + 5) {
            input.history_prev();
        }
        assert_eq!(input.text(), "5");
    }

    #[test]
    fn replace_puts_the_cursor_after_the_new_text() {
        let mut input = typed("hi bo there");
        input.replace(3, 5, "bob: ");
        assert_eq!(input.text(), "hi bob:  there");
        assert_eq!(input.cursor(), 8);
        input.replace(100, 200, "!");
        assert_eq!(input.text(), "hi bob:  there!");
    }
}
