//! Links in messages: found in the text, drawn in the link colour, and
//! written to the terminal as OSC 8 hyperlinks, so that a terminal can open
//! them (Ctrl-click or the like) even when a long link wraps over rows.
//!
//! ratatui knows nothing of OSC 8, so after a frame is laid out
//! [`apply`] rewrites each link's cells: the first carries the escape
//! sequence, the link's text and the closing sequence, with a forced width
//! so that ratatui still counts the columns right; every piece of a
//! wrapped link carries the same `id`, which tells the terminal they are
//! one link. Only `http://` and `https://` links of printable ASCII are
//! made hyperlinks (an escape sequence cannot be smuggled into one).

use std::num::NonZeroU16;

use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

/// A link on one row: the columns it takes (from the row's start) and its
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The first column.
    pub start: usize,
    /// The column after the last.
    pub end: usize,
    /// Where it goes.
    pub url: String,
}

/// The link in a word (a run of characters without whitespace), as a byte
/// range: from `http://` or `https://` to the end of the word, less
/// punctuation that usually ends a sentence rather than the link (and a
/// closing bracket with no opening one in the link).
pub fn find(word: &str) -> Option<std::ops::Range<usize>> {
    let start = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| word.find(scheme))
        .min()?;
    let mut end = word.len();
    loop {
        let url = &word[start..end];
        let last = url.chars().next_back()?;
        let unmatched = |open: char, close: char| {
            last == close && url.matches(close).count() > url.matches(open).count()
        };
        if ".,;:!?'\"".contains(last)
            || unmatched('(', ')')
            || unmatched('[', ']')
            || unmatched('<', '>')
        {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    let url = &word[start..end];
    let host = url.split_once("://").map_or("", |(_, rest)| rest);
    let printable = url.bytes().all(|b| b.is_ascii_graphic());
    (!host.is_empty() && printable).then_some(start..end)
}

/// The `id` that joins the pieces of one link: a hash of its address and
/// of where it is shown (so two messages with the same link stay two).
fn link_id(url: &str, row_key: u64) -> String {
    // FNV-1a: small and stable.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ row_key;
    for byte in url.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Makes the links of the rows drawn in `area` hyperlinks: `rows[i]` are the
/// links of the row at `area.y + i`; `key` identifies the message each row
/// belongs to (pieces of one link share it).
pub fn apply(buffer: &mut Buffer, area: Rect, rows: &[(u64, Vec<Link>)]) {
    for (i, (key, links)) in rows.iter().enumerate() {
        let Ok(dy) = u16::try_from(i) else { break };
        let y = area.y.saturating_add(dy);
        if y >= area.bottom() {
            break;
        }
        for link in links {
            hyperlink(buffer, area, y, link, &link_id(&link.url, *key));
        }
    }
}

fn hyperlink(buffer: &mut Buffer, area: Rect, y: u16, link: &Link, id: &str) {
    let (Ok(start), Ok(end)) = (u16::try_from(link.start), u16::try_from(link.end)) else {
        return;
    };
    let x0 = area.x.saturating_add(start);
    let x1 = area.x.saturating_add(end).min(area.right());
    if x0 >= x1 {
        return;
    }
    let mut text = String::new();
    let mut x = x0;
    while x < x1 {
        let symbol = buffer[(x, y)].symbol().to_owned();
        let width = u16::try_from(symbol.width().max(1)).unwrap_or(1);
        text.push_str(&symbol);
        x = x.saturating_add(width);
    }
    let Some(width) = NonZeroU16::new(x1 - x0) else {
        return;
    };
    let cell = &mut buffer[(x0, y)];
    cell.set_symbol(&format!(
        "\x1b]8;id={id};{}\x1b\\{text}\x1b]8;;\x1b\\",
        link.url
    ));
    cell.diff_option = CellDiffOption::ForcedWidth(width);
}

#[cfg(test)]
mod tests {
    use ratatui::style::Style;

    use super::*;

    fn url(word: &str) -> Option<&str> {
        find(word).map(|r| &word[r])
    }

    #[test]
    fn links_are_found_without_trailing_punctuation() {
        assert_eq!(
            url("https://example.com/a?b=c"),
            Some("https://example.com/a?b=c")
        );
        assert_eq!(
            url("(see:https://example.com/x)."),
            Some("https://example.com/x")
        );
        assert_eq!(
            url("https://en.wikipedia.org/wiki/Rust_(programming_language)"),
            Some("https://en.wikipedia.org/wiki/Rust_(programming_language)")
        );
        assert_eq!(url("<http://a.b>"), Some("http://a.b"));
        assert_eq!(url("https://"), None);
        assert_eq!(url("ftp://x.y"), None);
        assert_eq!(
            url("https://例子.中国"),
            None,
            "not printable ASCII: shown, not linked"
        );
        assert_eq!(url("plain"), None);
    }

    #[test]
    fn a_link_becomes_one_osc8_cell_with_its_width() {
        let area = Rect::new(2, 0, 20, 2);
        let mut buffer = Buffer::empty(Rect::new(0, 0, 24, 2));
        buffer.set_string(2, 0, "go https://a.b/c ok", Style::new());
        buffer.set_string(2, 1, "d/e", Style::new());
        let link = |start, end, url: &str| Link {
            start,
            end,
            url: url.into(),
        };
        apply(
            &mut buffer,
            area,
            &[
                (7, vec![link(3, 16, "https://a.b/c/d/e")]),
                (7, vec![link(0, 3, "https://a.b/c/d/e")]),
            ],
        );
        let first = buffer[(5, 0)].symbol().to_owned();
        let id = link_id("https://a.b/c/d/e", 7);
        assert_eq!(
            first,
            format!("\x1b]8;id={id};https://a.b/c/d/e\x1b\\https://a.b/c\x1b]8;;\x1b\\")
        );
        assert_eq!(
            buffer[(5, 0)].diff_option,
            CellDiffOption::ForcedWidth(NonZeroU16::new(13).unwrap())
        );
        assert!(
            buffer[(2, 1)].symbol().contains(&format!("id={id};")),
            "the same id when wrapped"
        );
        assert!(buffer[(2, 1)].symbol().contains("\\d/e\x1b"));
    }
}
