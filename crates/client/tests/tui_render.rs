//! The full-screen client drawn on ratatui's `TestBackend`: layout, colours,
//! wide (Chinese) text and where the cursor sits, escape sequences from the
//! network, small and resized terminals. Screens are insta snapshots.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chatroom_client::tui::text::{mention_style, nick_color};
use chatroom_client::tui::window::WindowKey;
use chatroom_client::tui::{Action, App, Event, NetEvent, Outgoing, render, update};
use chatroom_proto::json::Ref;
use chrono::FixedOffset;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use serde_json::{Value, json};

/// 2025-11-25 09:00 UTC.
const NOW: i64 = 1_764_061_200_000;
const MINUTE: i64 = 60_000;

fn refs(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(Outgoing {
                reference: Ref::Number(n),
                ..
            }) => n.as_u64(),
            _ => None,
        })
        .collect()
}

fn feed(app: &mut App, frame: Value) -> Vec<u64> {
    let frame = serde_json::from_value(frame).unwrap();
    refs(&update(app, Event::Net(NetEvent::Frame(frame))))
}

fn keys(app: &mut App, text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for c in text.chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        out.extend(refs(&update(
            app,
            Event::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        )));
    }
    out
}

fn message(id: u64, room: &str, from: &str, minute: i64, text: &str) -> Value {
    json!({"type": "message", "msg_id": id, "ts": NOW + minute * MINUTE, "room": room,
        "sender_id": 2, "sender_nickname": from, "message": text})
}

/// alice, logged in, in the lobby with bob and 张三.
fn logged_in(size: (u16, u16)) -> App {
    let utc = FixedOffset::east_opt(0).unwrap();
    let mut app = App::new("127.0.0.1:8000", Some("alice".into()), size, utc, NOW);
    let login = refs(&update(
        &mut app,
        Event::Net(NetEvent::Connected { generation: 1 }),
    ));
    let after = feed(
        &mut app,
        json!({"type": "welcome", "status": "ok", "id": 1, "nickname": "alice", "protocol": 2,
            "server": "chatroom 0.1.0", "rooms": ["lobby"], "ref": login[0]}),
    );
    feed(
        &mut app,
        json!({"type": "conversations", "conversations": [], "ref": after[0]}),
    );
    feed(
        &mut app,
        json!({"type": "member_list", "room": "lobby", "ref": after[1], "members": [
            {"id": 1, "nickname": "alice"}, {"id": 2, "nickname": "bob"}, {"id": 3, "nickname": "张三"}]}),
    );
    feed(
        &mut app,
        json!({"type": "history_end", "room": "lobby", "count": 0, "has_more": false, "ref": after[2]}),
    );
    app
}

fn draw(app: &App) -> Terminal<TestBackend> {
    let (w, h) = app.size();
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|frame| render(app, frame)).unwrap();
    terminal
}

/// Row `y` as text (the cell a wide character covers is skipped, as a
/// terminal shows it) and the column of each character.
fn row_text(buffer: &Buffer, y: u16) -> (String, Vec<u16>) {
    let mut text = String::new();
    let mut columns = Vec::new();
    let mut x = 0;
    while x < buffer.area.width {
        let symbol = buffer[(x, y)].symbol();
        for c in symbol.chars() {
            text.push(c);
            columns.push(x);
        }
        x += u16::try_from(unicode_width::UnicodeWidthStr::width(symbol).max(1)).unwrap();
    }
    (text, columns)
}

/// Where `text` is on the screen: the column and row of its first character.
fn find_row(buffer: &Buffer, text: &str) -> (u16, u16) {
    (0..buffer.area.height)
        .find_map(|y| {
            let (row, columns) = row_text(buffer, y);
            let at = row.find(text)?;
            Some((columns[row[..at].chars().count()], y))
        })
        .unwrap_or_else(|| panic!("{text:?} is not on the screen"))
}

/// A lived-in lobby: mentions, actions, wide text that wraps, presence, an
/// own message, unread lines in another window.
fn busy_lobby(size: (u16, u16)) -> App {
    let mut app = logged_in(size);
    feed(&mut app, message(10, "lobby", "bob", 0, "morning all"));
    feed(
        &mut app,
        message(
            11,
            "lobby",
            "张三",
            1,
            "你好！这是一条很长的中文消息，用来测试按照显示宽度换行是否正确。",
        ),
    );
    feed(
        &mut app,
        message(12, "lobby", "bob", 2, "alice: did you see that?"),
    );
    let mut action = message(13, "lobby", "张三", 3, "waves");
    action["action"] = json!(true);
    feed(&mut app, action);
    let said = keys(&mut app, "yes, 看到了\n");
    feed(
        &mut app,
        json!({"type": "ack", "ref": said[0], "msg_id": 14, "ts": NOW + 4 * MINUTE}),
    );
    let join = keys(&mut app, "/join rust\n");
    feed(
        &mut app,
        json!({"type": "joined", "room": "rust", "topic": "all things Rust", "ref": join[0],
            "members": [{"id": 1, "nickname": "alice"}]}),
    );
    feed(
        &mut app,
        json!({"type": "history_end", "room": "rust", "count": 0, "has_more": false, "ref": join[0]}),
    );
    feed(
        &mut app,
        message(15, "lobby", "bob", 5, "back in the lobby?"),
    );
    feed(&mut app, message(16, "lobby", "bob", 5, "alice!"));
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT)),
    );
    feed(
        &mut app,
        json!({"type": "presence", "event": "join", "room": "rust", "user_id": 2,
        "nickname": "bob", "ts": NOW + 6 * MINUTE, "sender_id": 0, "sender_nickname": "System",
        "message": "bob(2) joined rust"}),
    );
    feed(&mut app, message(17, "rust", "bob", 6, "hi rustaceans"));
    update(&mut app, Event::Tick(NOW + 7 * MINUTE));
    app
}

#[test]
fn a_busy_lobby() {
    let app = busy_lobby((100, 20));
    let terminal = draw(&app);
    insta::assert_snapshot!("busy_lobby", terminal.backend());
}

#[test]
fn nicknames_have_stable_colours_and_mentions_stand_out() {
    let app = busy_lobby((100, 20));
    let terminal = draw(&app);
    let buffer = terminal.backend().buffer();
    let (x, y) = find_row(buffer, "<bob> morning all");
    assert_eq!(buffer[(x + 1, y)].fg, nick_color("bob"));
    let (x, y) = find_row(buffer, "<bob> alice: did you see that?");
    let cell = &buffer[(x + 1, y)];
    let mention = mention_style(&chatroom_client::tui::look::Colours::default());
    assert_eq!((Some(cell.fg), Some(cell.bg)), (mention.fg, mention.bg));
    assert!(buffer[(x + 8, y)].modifier.contains(Modifier::BOLD));
    let (x, y) = find_row(buffer, "<alice> yes");
    assert!(buffer[(x + 1, y)].modifier.contains(Modifier::BOLD));
    // The window list: rust has an unread line.
    let (x, y) = find_row(buffer, "#rust");
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);
    // Members are coloured like their lines.
    let (x, y) = find_row(buffer, "张三");
    assert!(x > 80, "the member list is on the right");
    assert_eq!(buffer[(x, y)].fg, nick_color("张三"));
}

#[test]
fn a_room_with_a_topic_and_a_member_list() {
    let mut app = busy_lobby((100, 20));
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::ALT)),
    );
    let terminal = draw(&app);
    insta::assert_snapshot!("rust_room", terminal.backend());
}

#[test]
fn chinese_input_puts_the_cursor_after_its_display_width() {
    let mut app = logged_in((60, 10));
    keys(&mut app, "你好世界 ok");
    let mut terminal = draw(&app);
    let prompt = "[#lobby] ".len() as u16;
    terminal
        .backend_mut()
        .assert_cursor_position((prompt + 8 + 3, 9));
    // Five characters back: between 好 and 世, four columns in.
    for _ in 0..5 {
        update(
            &mut app,
            Event::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE)),
        );
    }
    terminal.draw(|frame| render(&app, frame)).unwrap();
    terminal
        .backend_mut()
        .assert_cursor_position((prompt + 4, 9));
    insta::assert_snapshot!("chinese_input", terminal.backend());
}

/// A long input line wraps onto more rows (up to a third of the screen)
/// instead of scrolling sideways; the cursor follows.
#[test]
fn a_long_input_line_wraps_instead_of_scrolling_sideways() {
    let mut app = logged_in((30, 9));
    keys(&mut app, &"中".repeat(20));
    let mut terminal = draw(&app);
    let buffer = terminal.backend().buffer().clone();
    let (first, _) = row_text(&buffer, 7);
    let (second, _) = row_text(&buffer, 8);
    assert_eq!(first.trim_end(), format!("[#lobby] {}", "中".repeat(10)));
    assert_eq!(second.trim_end(), format!("         {}", "中".repeat(10)));
    assert!(
        row_text(&buffer, 6).0.contains("[alice]"),
        "the status line moved up"
    );
    terminal.backend_mut().assert_cursor_position((29, 8));
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE)),
    );
    terminal.draw(|frame| render(&app, frame)).unwrap();
    terminal.backend_mut().assert_cursor_position((9, 7));
}

#[test]
fn the_status_line_shows_a_lost_connection() {
    let mut app = busy_lobby((100, 12));
    update(
        &mut app,
        Event::Net(NetEvent::Lost {
            reason: "the server closed the connection".into(),
            retry_in: Duration::from_millis(2500),
        }),
    );
    let terminal = draw(&app);
    insta::assert_snapshot!("disconnected", terminal.backend());
}

/// Issue 19, bug 6: when connecting fails, the status line and the status
/// window say why (refused, timed out, TLS, name not resolved), not only
/// that the client is disconnected.
#[test]
fn a_failed_connection_says_why() {
    let mut app = App::new(
        "127.0.0.1:9",
        Some("alice".into()),
        (100, 12),
        FixedOffset::east_opt(0).unwrap(),
        NOW,
    );
    for attempt in 1..=3 {
        update(&mut app, Event::Net(NetEvent::Connecting { attempt }));
        update(
            &mut app,
            Event::Net(NetEvent::Lost {
                reason: "connection refused".into(),
                retry_in: Duration::from_secs(8),
            }),
        );
    }
    let terminal = draw(&app);
    let buffer = terminal.backend().buffer();
    let (status, _) = row_text(buffer, 10);
    assert!(
        status.contains("disconnected (connection refused), retrying in 8s"),
        "{status}"
    );
    let screen: String = (0..12).map(|y| row_text(buffer, y).0 + "\n").collect();
    assert_eq!(
        screen
            .matches("cannot connect to 127.0.0.1:9: connection refused")
            .count(),
        1,
        "said once, not at every try:\n{screen}"
    );
}

#[test]
fn the_nickname_prompt() {
    let utc = FixedOffset::east_opt(0).unwrap();
    let mut app = App::new("127.0.0.1:8000", None, (80, 10), utc, NOW);
    update(&mut app, Event::Net(NetEvent::Connected { generation: 1 }));
    keys(&mut app, "张");
    let mut terminal = draw(&app);
    terminal
        .backend_mut()
        .assert_cursor_position(("nickname: ".len() as u16 + 2, 9));
    insta::assert_snapshot!("nickname_prompt", terminal.backend());
}

#[test]
fn escape_sequences_from_the_network_never_reach_the_screen() {
    let mut app = logged_in((100, 12));
    let evil = "\x1b[2J\x1b]0;owned\x07\u{202e}\u{9b}31m";
    feed(
        &mut app,
        message(
            20,
            "lobby",
            &format!("bob{evil}"),
            0,
            &format!("hi{evil}there"),
        ),
    );
    feed(
        &mut app,
        json!({"type": "presence", "event": "topic", "room": "lobby", "user_id": 2,
        "nickname": "bob", "topic": format!("topic{evil}"), "ts": NOW, "sender_id": 0,
        "sender_nickname": "System", "message": "."}),
    );
    feed(
        &mut app,
        json!({"type": "error", "code": "internal_error", "message": format!("oops{evil}")}),
    );
    let terminal = draw(&app);
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "control character {:?} on screen",
            cell.symbol()
        );
    }
    find_row(buffer, "hi[2J]0;owned31mthere");
    insta::assert_snapshot!("escapes_removed", terminal.backend());
}

#[test]
fn narrow_and_tiny_terminals() {
    let mut app = busy_lobby((44, 12));
    let terminal = draw(&app);
    insta::assert_snapshot!("narrow", terminal.backend());
    update(&mut app, Event::Resize(10, 3));
    let terminal = draw(&app);
    insta::assert_snapshot!("tiny", terminal.backend());
}

#[test]
fn scrolled_up_shows_older_lines_and_says_so() {
    let mut app = logged_in((80, 10));
    for id in 1..=30 {
        feed(
            &mut app,
            message(id, "lobby", "bob", id as i64, &format!("line {id}")),
        );
    }
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
    );
    feed(&mut app, message(31, "lobby", "bob", 31, "line 31"));
    let terminal = draw(&app);
    let buffer = terminal.backend().buffer();
    find_row(buffer, "-- more --");
    assert_eq!(app.window(&WindowKey::room("lobby")).unwrap().scroll, 6);
    insta::assert_snapshot!("scrolled", terminal.backend());
}

/// A link in a message reaches the terminal as an OSC 8 hyperlink, its
/// pieces (when it wraps) sharing one id.
#[test]
fn links_are_drawn_as_osc8_hyperlinks() {
    let mut app = logged_in((60, 12));
    let url = "https://example.com/a/long/path/that/wraps/over/two/rows/of/the/pane";
    feed(
        &mut app,
        message(90, "lobby", "bob", 1, &format!("read {url} please")),
    );
    let terminal = draw(&app);
    let buffer = terminal.backend().buffer();
    let linked: Vec<String> = buffer
        .content()
        .iter()
        .map(|c| c.symbol().to_owned())
        .filter(|s| s.starts_with("\x1b]8;id="))
        .collect();
    assert!(linked.len() >= 2, "wrapped: {linked:?}");
    let id = |s: &str| s.split(';').nth(1).map(str::to_owned);
    assert!(linked.iter().all(|l| id(l) == id(&linked[0])), "{linked:?}");
    let text: String = linked
        .iter()
        .map(|l| {
            l.split("\x1b\\")
                .nth(1)
                .unwrap_or("")
                .trim_end_matches("\x1b]8;;")
        })
        .collect();
    assert_eq!(text, url, "the pieces spell the link");
    for piece in &linked {
        assert!(piece.contains(&format!(";{url}\x1b\\")), "{piece:?}");
        assert!(piece.ends_with("\x1b]8;;\x1b\\"), "{piece:?}");
    }
}
