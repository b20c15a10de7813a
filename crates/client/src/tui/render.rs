//! Drawing: a pure function from the app's state to a frame.
//!
//! ```text
//!  #rust: all things Rust                                      <- topic bar
//!   1 (status)   │12:01 <bob> hello alice                │ 3 users
//!   2 #lobby  4  │12:02 * carol waves                    │ alice
//!   3 #rust      │12:03 -!- dave joined #rust            │ bob
//!   4 bob     1! │                                       │ carol
//!  [12:04] [alice] [127.0.0.1:8000 connected] [3:#rust] [Act: 2,4!]  <- status
//!  [#rust] typed text_                                         <- input
//! ```
//!
//! The window list is on the left (with unread counts, `!` for mentions),
//! members of the room on the right; both give way on narrow terminals.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as Row, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Conn};
use super::input::{display_char, display_width};
use super::link;
use super::text::{self, clean, fit, hhmm, nick_color};
use super::window::{Activity, Window, WindowKey};

/// Columns of the window list, its separator included.
pub const ROOM_LIST_WIDTH: u16 = 20;
/// Columns of the member list, its separator included.
pub const MEMBER_LIST_WIDTH: u16 = 18;
/// The window list shows from this many columns on.
const ROOM_LIST_MIN_SCREEN: u16 = 50;
/// The member list shows from this many columns on.
const MEMBER_LIST_MIN_SCREEN: u16 = 80;
/// The most columns the status line gives to why the connection failed
/// (the status window has all of it).
const MAX_STATUS_REASON: usize = 40;
/// Smaller than this and only a note is drawn.
const MIN_SIZE: (u16, u16) = (20, 5);

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The top row: the topic.
    pub topic: Rect,
    /// The window list (with its separator).
    pub rooms: Rect,
    /// The message pane.
    pub messages: Rect,
    /// The member list (with its separator); empty when not shown.
    pub members: Rect,
    /// The status line.
    pub status: Rect,
    /// The input line.
    pub input: Rect,
}

/// Splits the screen; `members` says whether the window shown has a member
/// list (rooms do), `input_rows` how many rows the input line takes (see
/// [`input_rows`]). The app uses this too, to know the message pane's size.
pub fn areas(screen: Rect, members: bool, input_rows: u16) -> Areas {
    let row = |y: u16, height: u16| Rect::new(screen.x, y, screen.width, height);
    let height = screen.height;
    let input_rows = input_rows.clamp(1, height.saturating_sub(3).max(1));
    let middle_height = height.saturating_sub(2 + input_rows);
    let middle_y = screen.y + 1.min(height);
    let rooms_width = if screen.width >= ROOM_LIST_MIN_SCREEN {
        ROOM_LIST_WIDTH
    } else {
        0
    };
    let members_width = if members && screen.width >= MEMBER_LIST_MIN_SCREEN {
        MEMBER_LIST_WIDTH
    } else {
        0
    };
    let messages_width = screen.width.saturating_sub(rooms_width + members_width);
    Areas {
        topic: row(screen.y, 1.min(height)),
        rooms: Rect::new(screen.x, middle_y, rooms_width, middle_height),
        messages: Rect::new(
            screen.x + rooms_width,
            middle_y,
            messages_width,
            middle_height,
        ),
        members: Rect::new(
            screen.x + rooms_width + messages_width,
            middle_y,
            members_width,
            middle_height,
        ),
        status: row(
            screen.y + height.saturating_sub(1 + input_rows),
            u16::from(height >= 2),
        ),
        input: row(
            screen.y + height.saturating_sub(input_rows),
            input_rows.min(height),
        ),
    }
}

/// The most rows the input line grows to (and at most a third of the
/// screen); past that it scrolls to keep the cursor in view.
pub const MAX_INPUT_ROWS: u16 = 5;

/// The input line laid out: the text after the prompt, wrapped at the
/// screen's width (by character, continuation rows under the text's start;
/// a newline shows as `↵` and starts a new row), and the cursor's column
/// (after the prompt) and row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputLayout {
    /// Each row's text.
    pub rows: Vec<String>,
    /// The cursor: column from the text's start, and row.
    pub cursor: (usize, usize),
}

/// Lays out `chars` (cursor at index `cursor`) in rows of `avail` columns.
pub fn layout_input(chars: &[char], cursor: usize, avail: usize) -> InputLayout {
    let avail = avail.max(2);
    let mut rows = vec![String::new()];
    let (mut col, mut at) = (0, (0, 0));
    for (i, &c) in chars.iter().enumerate() {
        let w = display_width(c);
        if col + w > avail {
            rows.push(String::new());
            col = 0;
        }
        if i == cursor {
            at = (col, rows.len() - 1);
        }
        if let Some(row) = rows.last_mut() {
            row.push(display_char(c));
        }
        col += w;
        if c == '\n' {
            rows.push(String::new());
            col = 0;
        }
    }
    if cursor >= chars.len() {
        if col >= avail {
            rows.push(String::new());
            col = 0;
        }
        at = (col, rows.len() - 1);
    }
    InputLayout { rows, cursor: at }
}

/// How many rows the app's input line takes on a `screen` of this size.
pub fn input_rows(app: &App, screen: Rect) -> u16 {
    let (_, avail) = prompt_and_room(app, usize::from(screen.width));
    let input = app.input();
    let rows = layout_input(input.chars(), input.cursor(), avail)
        .rows
        .len();
    let most = MAX_INPUT_ROWS.min((screen.height / 3).max(1));
    u16::try_from(rows).unwrap_or(u16::MAX).clamp(1, most)
}

/// The prompt as shown, and the columns left for the text after it.
fn prompt_and_room(app: &App, width: usize) -> (String, usize) {
    let prompt = fit(&clean(&app.prompt()), width / 2);
    let room = width.saturating_sub(text::width(&prompt)).max(1);
    (prompt, room)
}

/// The first window the list shows, so that the current one is visible.
pub fn list_start(count: usize, rows: usize, current: usize) -> usize {
    if count <= rows || rows == 0 {
        0
    } else {
        (current + 1).saturating_sub(rows).min(count - rows)
    }
}

fn bar() -> Style {
    Style::new().fg(Color::White).bg(Color::Blue)
}

/// Draws the whole screen from `app`.
pub fn render(app: &App, frame: &mut Frame) {
    let screen = frame.area();
    if screen.width < MIN_SIZE.0 || screen.height < MIN_SIZE.1 {
        frame.render_widget(Paragraph::new("terminal too small"), screen);
        return;
    }
    let window = app.current_window();
    let areas = areas(screen, window.is_room(), input_rows(app, screen));
    render_topic(app, window, frame, areas.topic);
    render_rooms(app, frame, areas.rooms);
    render_messages(app, window, frame, areas.messages);
    if areas.members.width > 0 {
        render_members(app, window, frame, areas.members);
    }
    render_status(app, frame, areas.status);
    render_input(app, frame, areas.input);
}

fn render_topic(app: &App, window: &Window, frame: &mut Frame, area: Rect) {
    let mut text = match window.key() {
        WindowKey::Status => format!("chatroom · {} · /help for commands", app.server()),
        WindowKey::Room(_) if window.topic.is_empty() => format!("#{}", window.name),
        WindowKey::Room(_) => format!("#{}: {}", window.name, window.topic),
        WindowKey::Query(_) => format!("direct messages with {}", window.name),
    };
    if window.fetching_older {
        text.push_str(" (loading older messages…)");
    }
    let text = fit(&clean(&text), usize::from(area.width));
    frame.render_widget(Paragraph::new(format!(" {text}")).style(bar()), area);
}

fn render_rooms(app: &App, frame: &mut Frame, area: Rect) {
    if area.width == 0 {
        return;
    }
    let block = Block::new()
        .borders(Borders::RIGHT)
        .border_style(Style::new().fg(Color::DarkGray));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let start = list_start(
        app.windows().len(),
        usize::from(inner.height),
        app.current_index(),
    );
    let rows: Vec<Row> = app
        .windows()
        .iter()
        .enumerate()
        .skip(start)
        .take(usize::from(inner.height))
        .map(|(i, w)| {
            let badge = match (w.unread, w.activity) {
                (0, _) => String::new(),
                (n, Activity::Mention) => format!("{n}!"),
                (n, _) => n.to_string(),
            };
            let number = format!("{:>2} ", i + 1);
            let room = width.saturating_sub(number.len() + badge.len() + 1);
            let label = fit(&clean(&w.label()), room);
            let pad = room.saturating_sub(text::width(&label));
            let style = if i == app.current_index() {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                match w.activity {
                    Activity::Mention => Style::new()
                        .fg(Color::LightMagenta)
                        .add_modifier(Modifier::BOLD),
                    Activity::Messages => Style::new().fg(Color::Yellow),
                    Activity::Events => Style::new().fg(Color::Gray),
                    Activity::None => Style::new().fg(Color::DarkGray),
                }
            };
            Row::from(vec![
                Span::styled(number, Style::new().fg(Color::DarkGray)),
                Span::styled(format!("{label}{} {badge}", " ".repeat(pad)), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(rows), inner);
}

fn render_messages(app: &App, window: &Window, frame: &mut Frame, area: Rect) {
    let width = usize::from(area.width);
    let height = usize::from(area.height);
    if width == 0 || height == 0 {
        return;
    }
    let cx = app.row_context();
    let mut rows = text::visible_rows(window, &cx, width, window.scroll, height);
    if rows.len() < height && window.scroll > 0 {
        // Scrolled past the top (the screen grew): show the top instead.
        let skip = window.scroll.saturating_sub(height - rows.len());
        rows = text::visible_rows(window, &cx, width, skip, height);
    }
    // New lines enter at the bottom, as in every chat client.
    let used = u16::try_from(rows.len())
        .unwrap_or(area.height)
        .min(area.height);
    let target = Rect::new(area.x, area.y + area.height - used, area.width, used);
    let links: Vec<(u64, Vec<link::Link>)> =
        rows.iter().map(|r| (r.line_key, r.links.clone())).collect();
    let rows: Vec<Row> = rows.into_iter().map(|r| r.row).collect();
    frame.render_widget(Paragraph::new(rows), target);
    link::apply(frame.buffer_mut(), target, &links);
}

fn render_members(app: &App, window: &Window, frame: &mut Frame, area: Rect) {
    let block = Block::new()
        .borders(Borders::LEFT)
        .border_style(Style::new().fg(Color::DarkGray));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let me = app.me().map(|m| chatroom_proto::nick::fold(&m.nick));
    let mut rows = vec![Row::from(Span::styled(
        fit(&format!("{} here", window.head_count()), width),
        Style::new().add_modifier(Modifier::BOLD),
    ))];
    for member in window.members_ranked() {
        let name = fit(
            &format!("{}{}", member.prefix(), clean(&member.nick)),
            width,
        );
        let style = if Some(chatroom_proto::nick::fold(&member.nick)) == me {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(nick_color(&member.nick))
        };
        // Those away are dimmed, as IRC clients' nick lists show them.
        let style = if member.away {
            style.add_modifier(Modifier::DIM)
        } else {
            style
        };
        rows.push(Row::from(Span::styled(name, style)));
    }
    frame.render_widget(Paragraph::new(rows), inner);
}

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let nick = app
        .me()
        .map_or_else(|| "(no nickname)".to_owned(), |m| m.nick.clone());
    let (state, colour) = match app.conn() {
        Conn::Online if app.logged_in() => ("connected".to_owned(), Color::LightGreen),
        Conn::Online if app.needs_nickname() => ("choose a nickname".to_owned(), Color::Yellow),
        Conn::Online => ("logging in".to_owned(), Color::Yellow),
        Conn::Connecting { attempt: 1 } => ("connecting".to_owned(), Color::Yellow),
        Conn::Connecting { attempt } => (format!("connecting, try {attempt}"), Color::Yellow),
        Conn::Offline {
            retry_at_ms,
            reason,
        } => {
            let wait = (retry_at_ms - app.now_ms()).max(0);
            let secs = (wait + 999) / 1000;
            let reason = fit(&clean(reason), MAX_STATUS_REASON);
            (
                format!("disconnected ({reason}), retrying in {secs}s"),
                Color::LightRed,
            )
        }
    };
    let window = app.current_window();
    let active: Vec<String> = app
        .windows()
        .iter()
        .enumerate()
        .filter(|(i, w)| *i != app.current_index() && w.activity >= Activity::Messages)
        .map(|(i, w)| {
            if w.activity == Activity::Mention {
                format!("{}!", i + 1)
            } else {
                (i + 1).to_string()
            }
        })
        .collect();
    let mut spans = vec![
        Span::raw(format!(" [{}] [", hhmm(app.now_ms(), app.offset()))),
        Span::styled(clean(&nick), Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!("] [{} ", clean(app.server()))),
        Span::styled(state, Style::new().fg(colour).add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "] [{}:{}]",
            app.current_index() + 1,
            clean(&window.label())
        )),
    ];
    if app.away().is_some() {
        spans.push(Span::raw(" [away]"));
    }
    if !app.has_mouse() {
        spans.push(Span::raw(" [mouse off]"));
    }
    if !active.is_empty() {
        spans.push(Span::raw(format!(" [Act: {}]", active.join(","))));
    }
    if window.scroll > 0 {
        let more = if window.more_below {
            " -- more --"
        } else {
            " -- scrolled --"
        };
        spans.push(Span::styled(
            more,
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    frame.render_widget(Paragraph::new(Row::from(spans)).style(bar()), area);
}

fn render_input(app: &App, frame: &mut Frame, area: Rect) {
    let (prompt, avail) = prompt_and_room(app, usize::from(area.width));
    let prompt_width = text::width(&prompt);
    let input = app.input();
    let layout = layout_input(input.chars(), input.cursor(), avail);
    // Taller than the area: show the rows around the cursor.
    let height = usize::from(area.height).max(1);
    let first = (layout.cursor.1 + 1).saturating_sub(height);
    let rows: Vec<Row> = layout
        .rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, text)| {
            let lead = if i == 0 {
                Span::styled(prompt.clone(), Style::new().fg(Color::Cyan))
            } else {
                Span::raw(" ".repeat(prompt_width))
            };
            Row::from(vec![lead, Span::raw(text.clone())])
        })
        .collect();
    frame.render_widget(Paragraph::new(rows), area);
    let x = area.x + u16::try_from(prompt_width + layout.cursor.0).unwrap_or(area.width);
    let y = area.y + u16::try_from(layout.cursor.1 - first).unwrap_or(0);
    frame.set_cursor_position((x.min(area.right().saturating_sub(1)), y));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_fill_the_screen_and_side_lists_give_way() {
        let wide = areas(Rect::new(0, 0, 120, 40), true, 1);
        assert_eq!(wide.topic, Rect::new(0, 0, 120, 1));
        assert_eq!(wide.rooms, Rect::new(0, 1, ROOM_LIST_WIDTH, 37));
        assert_eq!(
            wide.messages.width,
            120 - ROOM_LIST_WIDTH - MEMBER_LIST_WIDTH
        );
        assert_eq!(wide.members.x, 120 - MEMBER_LIST_WIDTH);
        assert_eq!(wide.status, Rect::new(0, 38, 120, 1));
        assert_eq!(wide.input, Rect::new(0, 39, 120, 1));
        let no_members = areas(Rect::new(0, 0, 120, 40), false, 1);
        assert_eq!(no_members.members.width, 0);
        assert_eq!(no_members.messages.width, 120 - ROOM_LIST_WIDTH);
        let narrow = areas(Rect::new(0, 0, 40, 10), true, 1);
        assert_eq!((narrow.rooms.width, narrow.members.width), (0, 0));
        assert_eq!(narrow.messages, Rect::new(0, 1, 40, 7));
        let tiny = areas(Rect::new(0, 0, 3, 1), true, 1);
        assert_eq!(tiny.messages.height, 0);
        // A taller input line takes rows from the message pane.
        let tall = areas(Rect::new(0, 0, 120, 40), true, 3);
        assert_eq!(tall.input, Rect::new(0, 37, 120, 3));
        assert_eq!(tall.status, Rect::new(0, 36, 120, 1));
        assert_eq!(tall.messages.height, 35);
    }

    #[test]
    fn the_input_line_wraps_by_display_width() {
        let chars: Vec<char> = "ab中文cd".chars().collect();
        let layout = layout_input(&chars, chars.len(), 4);
        assert_eq!(layout.rows, ["ab中", "文cd", ""]);
        assert_eq!(layout.cursor, (0, 2));
        let layout = layout_input(&chars, 3, 4);
        assert_eq!(layout.cursor, (0, 1), "the cursor on 文, row 2");
        let chars: Vec<char> = "one\ntwo".chars().collect();
        let layout = layout_input(&chars, chars.len(), 10);
        assert_eq!(layout.rows, ["one↵", "two"]);
        assert_eq!(layout.cursor, (3, 1));
    }

    #[test]
    fn the_window_list_scrolls_to_show_the_current_window() {
        assert_eq!(list_start(5, 10, 4), 0);
        assert_eq!(list_start(30, 10, 3), 0);
        assert_eq!(list_start(30, 10, 15), 6);
        assert_eq!(list_start(30, 10, 29), 20);
        assert_eq!(list_start(30, 0, 29), 0);
    }
}
