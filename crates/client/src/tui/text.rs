//! Turning window lines into screen rows: cleaning, colours, timestamps,
//! day separators and word wrapping measured in display columns.
//!
//! The renderer draws these rows and the app counts them to scroll, so both
//! use the same functions and always agree on how tall a line is. Every
//! string that came from the network passes [`clean`] or [`clean_multiline`]
//! here before it can reach the screen.

use chatroom_proto::nick;
use chrono::{FixedOffset, NaiveDate, TimeZone};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as Row, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use std::sync::Arc;

use super::link::{self, Link};
use super::look::{Colours, Look};
use super::window::{Line, LineKind, Window};

/// Colours nicknames are drawn in; each nickname always gets the same one.
/// Yellow (mentions) and red (errors) are left out.
pub const NICK_PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Green,
    Color::Blue,
    Color::Magenta,
    Color::LightCyan,
    Color::LightGreen,
    Color::LightBlue,
    Color::LightMagenta,
];

/// The colour of `nick`: a hash of its case-folded form picks from
/// [`NICK_PALETTE`], so it is the same in every window and every session.
pub fn nick_color(nick: &str) -> Color {
    // FNV-1a: tiny, stable across versions and platforms (unlike std's hasher).
    let mut hash: u32 = 0x811c_9dc5;
    for byte in nick::fold(nick).bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    NICK_PALETTE[hash as usize % NICK_PALETTE.len()]
}

/// Text from the network made safe to show on one row: control characters
/// (terminal escapes included) and bidirectional overrides removed.
pub fn clean(text: &str) -> String {
    crate::display::sanitize(text, false)
}

/// Columns between tab stops when a message's tabs are shown.
pub const TAB_WIDTH: usize = 4;

/// Like [`clean`], keeping newlines; tabs become spaces up to the next tab
/// stop (every [`TAB_WIDTH`] columns from the start of the text's line), so
/// pasted code keeps its indentation.
pub fn clean_multiline(text: &str) -> String {
    let text = crate::display::sanitize(text, true);
    let mut out = String::with_capacity(text.len());
    let mut col = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let spaces = TAB_WIDTH - col % TAB_WIDTH;
                out.extend(std::iter::repeat_n(' ', spaces));
                col += spaces;
            }
            '\n' => {
                out.push('\n');
                col = 0;
            }
            c => {
                out.push(c);
                col += c.width().unwrap_or(0);
            }
        }
    }
    out
}

/// How many columns `text` takes.
pub fn width(text: &str) -> usize {
    text.width()
}

/// `text` cut to at most `max` columns, with `…` when something was cut.
pub fn fit(text: &str, max: usize) -> String {
    if text.width() <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// What row building needs to know besides the line: the time zone,
/// today's date (a day separator precedes lines of other days) and the
/// look (timestamp format, colours).
#[derive(Debug, Clone)]
pub struct RowContext {
    /// The local time zone's offset from UTC.
    pub offset: FixedOffset,
    /// Today, in that zone.
    pub today: Option<NaiveDate>,
    /// Timestamps and colours.
    pub look: Arc<Look>,
}

impl RowContext {
    /// The context at `now_ms` in time zone `offset`, with the default look.
    pub fn new(offset: FixedOffset, now_ms: i64) -> Self {
        Self::with_look(offset, now_ms, Arc::new(Look::default()))
    }

    /// The context at `now_ms` in time zone `offset`, looking as `look` says.
    pub fn with_look(offset: FixedOffset, now_ms: i64, look: Arc<Look>) -> Self {
        RowContext {
            offset,
            today: day(now_ms, offset),
            look,
        }
    }

    /// A line's time as the look formats it.
    pub fn time(&self, ts_ms: i64) -> String {
        self.offset
            .timestamp_millis_opt(ts_ms)
            .single()
            .map_or_else(
                || "--:--".to_owned(),
                |t| t.format(&self.look.timestamp).to_string(),
            )
    }
}

/// The date of a timestamp in milliseconds, in `offset`'s zone.
pub fn day(ts_ms: i64, offset: FixedOffset) -> Option<NaiveDate> {
    offset
        .timestamp_millis_opt(ts_ms)
        .single()
        .map(|t| t.date_naive())
}

/// `HH:MM` of a timestamp in milliseconds, in `offset`'s zone.
pub fn hhmm(ts_ms: i64, offset: FixedOffset) -> String {
    offset
        .timestamp_millis_opt(ts_ms)
        .single()
        .map_or_else(|| "--:--".to_owned(), |t| t.format("%H:%M").to_string())
}

fn time_style(cx: &RowContext) -> Style {
    Style::new().fg(cx.look.colours.time)
}

/// The style of a nickname's `<nick>` when the line mentions the user.
pub fn mention_style(colours: &Colours) -> Style {
    Style::new()
        .fg(colours.mention_fg)
        .bg(colours.mention_bg)
        .add_modifier(Modifier::BOLD)
}

/// The rows `line` takes at `width` columns; `prev_ts` is the time of the
/// line above it (a day separator goes between lines of different days).
pub fn line_rows(
    line: &Line,
    prev_ts: Option<i64>,
    cx: &RowContext,
    width: usize,
) -> Vec<Row<'static>> {
    line_rows_linked(line, prev_ts, cx, width).0
}

/// [`line_rows`], with the links of each row.
pub fn line_rows_linked(
    line: &Line,
    prev_ts: Option<i64>,
    cx: &RowContext,
    width: usize,
) -> (Vec<Row<'static>>, Vec<Vec<Link>>) {
    let mut rows = Vec::new();
    let this_day = day(line.ts, cx.offset);
    let day_above = match prev_ts {
        Some(ts) => day(ts, cx.offset),
        None => cx.today,
    };
    if let Some(d) = this_day
        && day_above != Some(d)
    {
        let label = fit(&format!("─── {} ───", d.format("%A %Y-%m-%d")), width);
        rows.push(Row::from(Span::styled(label, time_style(cx))));
    }
    let time = Span::styled(format!("{} ", cx.time(line.ts)), time_style(cx));
    let (prefix, body, body_style) = match &line.kind {
        LineKind::Message {
            nick,
            text,
            action,
            own,
        } => {
            let nick = clean(nick);
            let nick_style = if line.mention {
                mention_style(&cx.look.colours)
            } else if *own {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(nick_color(&nick))
            };
            let body_style = if line.mention {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            let prefix = if *action {
                vec![
                    time,
                    Span::raw(" * "),
                    Span::styled(nick, nick_style),
                    Span::raw(" "),
                ]
            } else {
                vec![
                    time,
                    Span::raw("<"),
                    Span::styled(nick, nick_style),
                    Span::raw("> "),
                ]
            };
            (prefix, text.as_str(), body_style)
        }
        LineKind::Notice(text) => (
            vec![
                time,
                Span::styled("-!- ", Style::new().fg(cx.look.colours.notice)),
            ],
            text.as_str(),
            Style::new(),
        ),
        LineKind::Info(text) => (
            vec![time, Span::styled("--- ", time_style(cx))],
            text.as_str(),
            Style::new(),
        ),
        LineKind::Error(text) => (
            vec![
                time,
                Span::styled(
                    "-!- ",
                    Style::new()
                        .fg(cx.look.colours.error)
                        .add_modifier(Modifier::BOLD),
                ),
            ],
            text.as_str(),
            Style::new().fg(cx.look.colours.error),
        ),
    };
    let link_style = Style::new()
        .fg(cx.look.colours.link)
        .add_modifier(Modifier::UNDERLINED);
    let mut links = vec![Vec::new(); rows.len()];
    let (body_rows, body_links) = wrap_linked(
        prefix,
        &clean_multiline(body),
        body_style,
        link_style,
        width,
    );
    rows.extend(body_rows);
    links.extend(body_links);
    (rows, links)
}

/// A row ready to draw: its text, its links, and which line it belongs to
/// (the pieces of a wrapped link share it).
#[derive(Debug, Clone)]
pub struct ShownRow {
    /// The row.
    pub row: Row<'static>,
    /// Its links.
    pub links: Vec<Link>,
    /// Identifies its line.
    pub line_key: u64,
}

/// Lays `body` out after `prefix` in rows of `width` columns: words move to
/// the next row whole when they fit there, longer ones are cut by
/// character; continuation rows are indented under the body's start (when
/// the prefix is narrow enough). Newlines in `body` start new rows.
pub fn wrap(
    prefix: Vec<Span<'static>>,
    body: &str,
    style: Style,
    width: usize,
) -> Vec<Row<'static>> {
    wrap_linked(prefix, body, style, Style::new(), width).0
}

/// [`wrap`], with the links in `body` drawn in `link_style` and where they
/// landed: for each row, its links.
pub fn wrap_linked(
    prefix: Vec<Span<'static>>,
    body: &str,
    style: Style,
    link_style: Style,
    width: usize,
) -> (Vec<Row<'static>>, Vec<Vec<Link>>) {
    let width = width.max(1);
    let prefix_width: usize = prefix.iter().map(|s| s.content.width()).sum();
    let indent = if prefix_width * 2 <= width {
        prefix_width
    } else {
        0
    };
    let mut out = Wrapper {
        rows: Vec::new(),
        links: Vec::new(),
        row: prefix,
        row_links: Vec::new(),
        text: String::new(),
        col: prefix_width,
        indent,
        width,
        style,
        link_style,
    };
    for (i, paragraph) in body.split('\n').enumerate() {
        if i > 0 {
            out.break_row();
        }
        for token in tokens(paragraph) {
            out.push_token(token);
        }
    }
    out.finish()
}

/// Splits text into alternating runs of whitespace and of other characters.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let space = first.is_whitespace();
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace() != space)
            .map_or(rest.len(), |(i, _)| i);
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some(token)
    })
}

struct Wrapper {
    rows: Vec<Row<'static>>,
    links: Vec<Vec<Link>>,
    row: Vec<Span<'static>>,
    row_links: Vec<Link>,
    text: String,
    col: usize,
    indent: usize,
    width: usize,
    style: Style,
    link_style: Style,
}

impl Wrapper {
    fn flush_text(&mut self) {
        let text = std::mem::take(&mut self.text);
        if !text.is_empty() {
            self.row.push(Span::styled(text, self.style));
        }
    }

    fn break_row(&mut self) {
        self.flush_text();
        let row = std::mem::take(&mut self.row);
        self.rows.push(Row::from(row));
        self.links.push(std::mem::take(&mut self.row_links));
        if self.indent > 0 {
            self.row.push(Span::raw(" ".repeat(self.indent)));
        }
        self.col = self.indent;
    }

    /// Puts `piece` at the current column, as part of the link `url` if any.
    fn put(&mut self, piece: &str, url: Option<&str>) {
        let w = piece.width();
        match url {
            None => self.text.push_str(piece),
            Some(url) => {
                self.flush_text();
                match self.row_links.last_mut() {
                    // The link goes on: one span, one link.
                    Some(last) if last.url == url && last.end == self.col => {
                        last.end += w;
                        if let Some(span) = self.row.last_mut() {
                            span.content.to_mut().push_str(piece);
                        }
                    }
                    _ => {
                        self.row
                            .push(Span::styled(piece.to_owned(), self.link_style));
                        self.row_links.push(Link {
                            start: self.col,
                            end: self.col + w,
                            url: url.to_owned(),
                        });
                    }
                }
            }
        }
        self.col += w;
    }

    /// Puts a whole word, its link (if any) marked.
    fn put_word(&mut self, token: &str) {
        match link::find(token) {
            None => self.put(token, None),
            Some(range) => {
                let url = &token[range.clone()];
                self.put(&token[..range.start], None);
                self.put(url, Some(url));
                self.put(&token[range.end..], None);
            }
        }
    }

    fn push_token(&mut self, token: &str) {
        let w = token.width();
        if self.col + w <= self.width {
            self.put_word(token);
        } else if token.starts_with(char::is_whitespace) {
            // Spaces where a row ends are dropped.
            self.break_row();
        } else if w <= self.width - self.indent && self.col > self.indent {
            self.break_row();
            self.put_word(token);
        } else {
            let link = link::find(token);
            for (at, c) in token.char_indices() {
                let cw = c.width().unwrap_or(0);
                if self.col + cw > self.width && self.col > self.indent {
                    self.break_row();
                }
                let url = link
                    .as_ref()
                    .filter(|r| r.contains(&at))
                    .map(|r| &token[r.clone()]);
                self.put(&token[at..at + c.len_utf8()], url);
            }
        }
    }

    fn finish(mut self) -> (Vec<Row<'static>>, Vec<Vec<Link>>) {
        self.flush_text();
        self.rows.push(Row::from(std::mem::take(&mut self.row)));
        self.links.push(std::mem::take(&mut self.row_links));
        (self.rows, self.links)
    }
}

/// The unread marker: a rule across the pane after the last line seen.
pub fn marker_row(width: usize, cx: &RowContext) -> Row<'static> {
    let label = " new ";
    let side = width.saturating_sub(label.len()) / 2;
    let text = format!("{}{label}{}", "─".repeat(side), "─".repeat(side));
    Row::from(Span::styled(
        fit(&text, width),
        Style::new().fg(cx.look.colours.marker),
    ))
}

/// The rows of `window` at `width` columns, newest last: the `count` rows
/// that end `skip` rows above the newest one (the unread marker included).
pub fn visible_rows(
    window: &Window,
    cx: &RowContext,
    width: usize,
    skip: usize,
    count: usize,
) -> Vec<ShownRow> {
    let want = skip.saturating_add(count);
    let mut reversed: Vec<ShownRow> = Vec::new();
    let mut lines = window.lines_marked().rev().peekable();
    while let Some((line, marked)) = lines.next() {
        if reversed.len() >= want {
            break;
        }
        let line_key = line
            .msg_id
            .unwrap_or_else(|| u64::from_ne_bytes(line.ts.to_ne_bytes()));
        if marked {
            reversed.push(ShownRow {
                row: marker_row(width, cx),
                links: Vec::new(),
                line_key,
            });
        }
        let prev = lines.peek().map(|(l, _)| l.ts);
        let (rows, links) = line_rows_linked(line, prev, cx, width);
        reversed.extend(
            rows.into_iter()
                .zip(links)
                .rev()
                .map(|(row, links)| ShownRow {
                    row,
                    links,
                    line_key,
                }),
        );
    }
    reversed.into_iter().skip(skip).take(count).rev().collect()
}

/// How many rows all of `window` takes at `width` columns.
pub fn total_rows(window: &Window, cx: &RowContext, width: usize) -> usize {
    let mut total = 0;
    let mut lines = window.lines_marked().rev().peekable();
    while let Some((line, marked)) = lines.next() {
        let prev = lines.peek().map(|(l, _)| l.ts);
        total += line_rows(line, prev, cx, width).len() + usize::from(marked);
    }
    total
}

/// The rows one line adds when it arrives as the newest in `window` (used
/// to keep a scrolled-up view still while lines arrive below it): its own,
/// and the unread marker's when it is the first after it.
pub fn newest_line_rows(window: &Window, cx: &RowContext, width: usize) -> usize {
    let mut lines = window.lines_marked().rev();
    match lines.next() {
        Some((line, _)) => {
            let before = lines.next();
            let marker = usize::from(before.is_some_and(|(_, marked)| marked));
            line_rows(line, before.map(|(l, _)| l.ts), cx, width).len() + marker
        }
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| r.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn words_wrap_with_a_hanging_indent() {
        let rows = wrap(
            vec![Span::raw("12:00 <bob> ")],
            "the quick brown fox jumps over",
            Style::new(),
            30,
        );
        assert_eq!(
            plain(&rows),
            ["12:00 <bob> the quick brown ", "            fox jumps over"]
        );
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let rows = wrap(vec![Span::raw("> ")], "你好世界你好世界", Style::new(), 10);
        assert_eq!(plain(&rows), ["> 你好世界", "  你好世界"]);
        for row in &rows {
            assert!(row.width() <= 10);
        }
        // A wide character never straddles the edge.
        let rows = wrap(vec![Span::raw("> ")], "a你好世界", Style::new(), 10);
        assert_eq!(plain(&rows), ["> a你好世", "  界"]);
    }

    #[test]
    fn long_words_are_cut_and_newlines_break() {
        let rows = wrap(vec![Span::raw("* ")], "abcdefghij\nxy", Style::new(), 6);
        assert_eq!(plain(&rows), ["* abcd", "  efgh", "  ij", "  xy"]);
    }

    #[test]
    fn tabs_expand_to_tab_stops_from_the_start_of_each_line() {
        assert_eq!(clean_multiline("\tx\nab\ty\n你\tz"), "    x\nab  y\n你  z");
    }

    #[test]
    fn fit_cuts_by_display_width() {
        assert_eq!(fit("lobby", 10), "lobby");
        assert_eq!(fit("中文房间名字", 7), "中文房…");
        assert_eq!(fit("abcdef", 4), "abc…");
    }

    #[test]
    fn nick_colours_are_stable_and_fold_case() {
        assert_eq!(nick_color("Bob"), nick_color("bob"));
        let colours: std::collections::HashSet<_> =
            ["alice", "bob", "carol", "dave", "eve", "张三"]
                .iter()
                .map(|n| nick_color(n))
                .collect();
        assert!(colours.len() > 2, "nicknames spread over the palette");
    }

    #[test]
    fn escapes_never_reach_a_row() {
        let line = Line {
            ts: 0,
            msg_id: Some(1),
            kind: LineKind::Message {
                nick: "ev\x1b[31mil".into(),
                text: "a\x1b]0;pwned\x07b\u{202e}c\td".into(),
                action: false,
                own: false,
            },
            mention: false,
        };
        let cx = RowContext::new(FixedOffset::east_opt(0).unwrap(), 0);
        let text = plain(&line_rows(&line, None, &cx, 80)).join("\n");
        assert!(!text.contains(|c: char| c.is_control()), "{text:?}");
        assert_eq!(text, "00:00 <ev[31mil> a]0;pwnedbc d");
    }

    #[test]
    fn a_day_separator_precedes_lines_of_another_day() {
        let cx = RowContext::new(FixedOffset::east_opt(0).unwrap(), 2 * 86_400_000);
        let line = |ts| Line {
            ts,
            msg_id: None,
            kind: LineKind::Notice("x".into()),
            mention: false,
        };
        let rows = plain(&line_rows(&line(0), None, &cx, 40));
        assert_eq!(rows, ["─── Thursday 1970-01-01 ───", "00:00 -!- x"]);
        assert_eq!(line_rows(&line(60_000), Some(0), &cx, 40).len(), 1);
        assert_eq!(line_rows(&line(2 * 86_400_000), None, &cx, 40).len(), 1);
    }
}
