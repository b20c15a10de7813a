//! Wide graphemes that terminals draw differently, and the debris they leave.
//!
//! ratatui puts a wide grapheme in one cell and treats the next as covered
//! by it; when the screen later changes there, it rewrites only the first
//! cell if the covered one's content did not change. That is right for a
//! single wide character (a Chinese one), which every terminal draws over
//! two columns and clears together. A grapheme made of several code points
//! (a flag `🇨🇳` is two regional indicators; emoji with a skin tone,
//! variation selector or zero-width joiner) is drawn by some terminals as
//! separate narrow glyphs: rewriting the first cell leaves the second glyph
//! behind (`🇳` on a blank row after switching windows, until Ctrl-L).
//!
//! So after each frame the runner notes the cells such graphemes cover
//! ([`covered_by_fragile`]), and in the next frame those cells are always
//! written ([`repaint`]), whatever ratatui thinks they held.

use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Position;
use unicode_width::UnicodeWidthStr;

/// Whether terminals may disagree about how `symbol` covers its columns:
/// a wide grapheme of more than one code point.
pub fn is_fragile(symbol: &str) -> bool {
    symbol.width() > 1 && symbol.chars().nth(1).is_some()
}

/// The cells covered by the fragile wide graphemes of a drawn frame.
pub fn covered_by_fragile(buffer: &Buffer) -> Vec<Position> {
    let area = buffer.area;
    let mut covered = Vec::new();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let symbol = buffer[(x, y)].symbol();
            if is_fragile(symbol) {
                let width = u16::try_from(symbol.width()).unwrap_or(u16::MAX);
                let end = x.saturating_add(width).min(area.right());
                covered.extend((x + 1..end).map(|cx| Position::new(cx, y)));
            }
        }
    }
    covered
}

/// Makes the next frame write the cells `covered` (from
/// [`covered_by_fragile`] of the frame before), so that nothing a terminal
/// left there survives. Cells outside the buffer (after a resize) are
/// ignored.
pub fn repaint(buffer: &mut Buffer, covered: &[Position]) {
    for &position in covered {
        if let Some(cell) = buffer.cell_mut(position)
            && cell.diff_option == CellDiffOption::None
        {
            cell.diff_option = CellDiffOption::AlwaysUpdate;
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    use super::*;

    fn cells(diff: Vec<(u16, u16, &ratatui::buffer::Cell)>) -> Vec<(u16, u16)> {
        diff.into_iter().map(|(x, y, _)| (x, y)).collect()
    }

    /// Issue 19, bug 5: a flag replaced by blank cells. ratatui alone
    /// rewrites only the flag's first cell; a terminal that drew `🇳` in
    /// the second keeps it. With the covered cell repainted, it is cleared.
    #[test]
    fn the_cell_a_flag_covered_is_written_when_the_flag_goes() {
        let area = Rect::new(0, 0, 6, 2);
        let mut before = Buffer::empty(area);
        before.set_string(1, 0, "🇨🇳", Style::new());
        before.set_string(1, 1, "中", Style::new());
        let after = Buffer::empty(area);
        assert_eq!(
            cells(before.diff(&after)),
            [(1, 0), (1, 1)],
            "ratatui alone leaves (2, 0) as it was"
        );
        let covered = covered_by_fragile(&before);
        assert_eq!(
            covered,
            [Position::new(2, 0)],
            "a plain wide character is safe"
        );
        let mut repainted = after.clone();
        repaint(&mut repainted, &covered);
        assert_eq!(cells(before.diff(&repainted)), [(1, 0), (2, 0), (1, 1)]);
        // The same flag drawn again changes nothing.
        let mut again = before.clone();
        repaint(&mut again, &covered);
        assert!(before.diff(&again).is_empty());
    }

    #[test]
    fn fragile_graphemes() {
        for fragile in ["🇨🇳", "👍🏽", "❤️", "👩‍💻"] {
            assert!(is_fragile(fragile), "{fragile}");
        }
        for safe in ["中", "a", " ", "é", "😀"] {
            assert!(!is_fragile(safe), "{safe}");
        }
        // Off the buffer after a resize: ignored.
        let mut small = Buffer::empty(Rect::new(0, 0, 2, 1));
        repaint(&mut small, &[Position::new(5, 5)]);
    }
}
