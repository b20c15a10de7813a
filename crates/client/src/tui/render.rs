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
/// list (rooms do). The app uses this too, to know the message pane's size.
pub fn areas(screen: Rect, members: bool) -> Areas {
    let row = |y: u16, height: u16| Rect::new(screen.x, y, screen.width, height);
    let height = screen.height;
    let middle_height = height.saturating_sub(3);
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
        status: row(screen.y + height.saturating_sub(2), u16::from(height >= 2)),
        input: row(screen.y + height.saturating_sub(1), u16::from(height >= 1)),
    }
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
    let areas = areas(screen, window.is_room());
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
    for (folded, member) in &window.members {
        let name = fit(&clean(&member.nick), width);
        let style = if Some(folded) == me.as_ref() {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(nick_color(&member.nick))
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
    let width = usize::from(area.width);
    let prompt = fit(&clean(&app.prompt()), width / 2);
    let prompt_width = text::width(&prompt);
    let avail = width.saturating_sub(prompt_width).max(1);
    let input = app.input();
    let chars = input.chars();
    let widths: Vec<usize> = chars.iter().map(|&c| display_width(c)).collect();
    let cursor = input.cursor();
    // Scroll sideways so the cursor stays in view.
    let mut start = 0;
    let mut before_cursor: usize = widths[..cursor].iter().sum();
    while before_cursor >= avail && start < cursor {
        before_cursor -= widths[start];
        start += 1;
    }
    let mut shown = String::new();
    let mut used = 0;
    for (&c, &w) in chars[start..].iter().zip(&widths[start..]) {
        if used + w > avail {
            break;
        }
        shown.push(display_char(c));
        used += w;
    }
    let row = Row::from(vec![
        Span::styled(prompt, Style::new().fg(Color::Cyan)),
        Span::raw(shown),
    ]);
    frame.render_widget(Paragraph::new(row), area);
    let x = area.x + u16::try_from(prompt_width + before_cursor).unwrap_or(area.width);
    frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_fill_the_screen_and_side_lists_give_way() {
        let wide = areas(Rect::new(0, 0, 120, 40), true);
        assert_eq!(wide.topic, Rect::new(0, 0, 120, 1));
        assert_eq!(wide.rooms, Rect::new(0, 1, ROOM_LIST_WIDTH, 37));
        assert_eq!(
            wide.messages.width,
            120 - ROOM_LIST_WIDTH - MEMBER_LIST_WIDTH
        );
        assert_eq!(wide.members.x, 120 - MEMBER_LIST_WIDTH);
        assert_eq!(wide.status, Rect::new(0, 38, 120, 1));
        assert_eq!(wide.input, Rect::new(0, 39, 120, 1));
        let no_members = areas(Rect::new(0, 0, 120, 40), false);
        assert_eq!(no_members.members.width, 0);
        assert_eq!(no_members.messages.width, 120 - ROOM_LIST_WIDTH);
        let narrow = areas(Rect::new(0, 0, 40, 10), true);
        assert_eq!((narrow.rooms.width, narrow.members.width), (0, 0));
        assert_eq!(narrow.messages, Rect::new(0, 1, 40, 7));
        let tiny = areas(Rect::new(0, 0, 3, 1), true);
        assert_eq!(tiny.messages.height, 0);
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
