//! App transitions, driven by events as the runner would feed them: keys,
//! server frames, lost and regained connections, scrolling, completion.

use std::time::Duration;

use chatroom_proto::json::{Ref, Request, ServerFrame};
use chrono::FixedOffset;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use serde_json::{Value, json};

use super::*;
use crate::tui::event::NetEvent;

/// 2025-11-25 00:00 UTC.
const NOW: i64 = 1_764_028_800_000;

/// The epoch of the server [`logged_in`] logs into.
const EPOCH: &str = "00000000000000a1";

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap()
}

fn new_app(nick: Option<&str>) -> App {
    App::new(
        "127.0.0.1:8000",
        nick.map(str::to_owned),
        (100, 30),
        utc(),
        NOW,
    )
}

fn press(app: &mut App, code: KeyCode, modifiers: KeyModifiers) -> Vec<Action> {
    update(app, Event::Key(KeyEvent::new(code, modifiers)))
}

fn key(app: &mut App, code: KeyCode) -> Vec<Action> {
    press(app, code, KeyModifiers::NONE)
}

fn ctrl(app: &mut App, c: char) -> Vec<Action> {
    press(app, KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn alt(app: &mut App, c: char) -> Vec<Action> {
    press(app, KeyCode::Char(c), KeyModifiers::ALT)
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(key(app, KeyCode::Char(c)).is_empty());
    }
}

/// Types `text` and presses Enter; returns the requests sent.
fn enter(app: &mut App, text: &str) -> Vec<(Request, u64)> {
    type_text(app, text);
    sent(&key(app, KeyCode::Enter))
}

fn net(app: &mut App, news: NetEvent) -> Vec<Action> {
    update(app, Event::Net(news))
}

fn frame(app: &mut App, value: Value) -> Vec<(Request, u64)> {
    let frame: ServerFrame = serde_json::from_value(value).unwrap();
    sent(&net(app, NetEvent::Frame(Box::new(frame))))
}

/// The requests among `actions`, with their `ref` numbers.
fn sent(actions: &[Action]) -> Vec<(Request, u64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(Outgoing {
                request,
                reference: Ref::Number(n),
                ..
            }) => Some((request.clone(), n.as_u64().unwrap())),
            _ => None,
        })
        .collect()
}

fn requests(list: &[(Request, u64)]) -> Vec<Request> {
    list.iter().map(|(r, _)| r.clone()).collect()
}

fn texts(app: &App, key: &WindowKey) -> Vec<String> {
    app.window(key).unwrap().lines().map(Line::text).collect()
}

fn lobby() -> WindowKey {
    WindowKey::room("lobby")
}

fn message(id: u64, room: &str, from: &str, text: &str, history: bool) -> Value {
    let mut m = json!({"type": "message", "msg_id": id, "ts": NOW, "room": room,
        "sender_id": 2, "sender_nickname": from, "message": text});
    if history {
        m["history"] = json!(true);
    }
    m
}

/// The login request for `nickname`, with `password` if given.
fn login_as(nickname: &str, password: Option<&str>) -> Request {
    Request::Login {
        nickname: nickname.into(),
        password: password.map(|p| Secret::new(p.to_owned())),
        protocol: Some(chatroom_proto::PROTOCOL_VERSION),
    }
}

/// Connects, logs in as alice (id 1), answers the lobby's member list and
/// empty history: the state right after start-up.
fn logged_in() -> App {
    logged_in_with(None)
}

/// [`logged_in`], started with alice's `password`.
fn logged_in_with(password: Option<&str>) -> App {
    let mut app = new_app(Some("alice"));
    app.set_password(password.map(str::to_owned));
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 1 }));
    assert_eq!(requests(&login), [login_as("alice", password)]);
    let after = frame(
        &mut app,
        json!({"type": "welcome", "status": "ok", "id": 1, "nickname": "alice", "protocol": 2,
            "server": "chatroom 0.1.0", "rooms": ["lobby"], "epoch": EPOCH, "ref": login[0].1,
            "limits": {"message_bytes": 16384, "frame_bytes": 65536, "rooms_per_user": 20,
                "messages_per_second": 10.0, "message_burst": 20}}),
    );
    assert_eq!(
        requests(&after),
        [
            Request::Conversations {
                limit: MAX_CONVERSATION_WINDOWS,
                after: None,
                before: None,
                rooms: false
            },
            Request::Who {
                room: "lobby".into()
            },
            Request::History {
                room: "lobby".into(),
                before: None,
                limit: 50
            }
        ]
    );
    frame(
        &mut app,
        json!({"type": "conversations", "conversations": [], "ref": after[0].1}),
    );
    frame(
        &mut app,
        json!({"type": "member_list", "room": "lobby", "ref": after[1].1,
            "members": [{"id": 1, "nickname": "alice"}, {"id": 2, "nickname": "bob"}]}),
    );
    frame(
        &mut app,
        json!({"type": "history_end", "room": "lobby", "count": 0, "has_more": false, "ref": after[2].1}),
    );
    app
}

/// Joins `room` from `app`'s current window; the server answers with
/// `joined` and the replay `replay` (message ids).
fn join(app: &mut App, room: &str, replay: &[u64], has_more: bool) {
    let req = enter(app, &format!("/join {room}"));
    assert_eq!(
        requests(&req),
        [Request::Join {
            room: room.into(),
            key: None
        }]
    );
    let r = req[0].1;
    frame(
        app,
        json!({"type": "joined", "room": room, "topic": "", "ref": r,
            "members": [{"id": 1, "nickname": "alice"}, {"id": 3, "nickname": "carol"}]}),
    );
    for &id in replay {
        frame(app, message(id, room, "carol", &format!("m{id}"), true));
    }
    frame(
        app,
        json!({"type": "history_end", "room": room, "count": replay.len(), "has_more": has_more, "ref": r}),
    );
}

// ----- login -----

#[test]
fn login_opens_the_lobby_window_and_asks_for_its_members_and_history() {
    let app = logged_in();
    assert!(app.logged_in());
    assert_eq!(app.me().unwrap().nick, "alice");
    assert_eq!(app.windows().len(), 2);
    assert_eq!(app.current_window().key(), &lobby());
    assert_eq!(app.current_window().members.len(), 2);
    assert_eq!(app.current_window().older, Older::Exhausted);
    assert_eq!(app.prompt(), "[#lobby] ");
}

#[test]
fn without_a_nickname_the_input_line_asks_for_one() {
    let mut app = new_app(None);
    assert!(app.needs_nickname());
    assert_eq!(app.prompt(), "nickname: ");
    assert!(sent(&net(&mut app, NetEvent::Connected { generation: 1 })).is_empty());
    // An invalid nickname is explained, and the prompt stays.
    assert!(enter(&mut app, "two words").is_empty());
    assert!(app.needs_nickname());
    assert!(
        texts(&app, &WindowKey::Status)
            .last()
            .unwrap()
            .contains("may not contain")
    );
    // `/nick NAME` works at the prompt too.
    let login = enter(&mut app, "/nick 张三");
    assert_eq!(requests(&login), [login_as("张三", None)]);
    assert!(!app.needs_nickname());
}

#[test]
fn a_nickname_typed_before_connecting_is_used_once_connected() {
    let mut app = new_app(None);
    assert!(enter(&mut app, "login bob").is_empty());
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 1 }));
    assert_eq!(requests(&login), [login_as("bob", None)]);
}

#[test]
fn an_invalid_nickname_refused_by_the_server_brings_the_prompt_back() {
    let mut app = new_app(Some("alice"));
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 1 }));
    frame(
        &mut app,
        json!({"type": "error", "code": "invalid_nickname", "message": "no", "ref": login[0].1}),
    );
    assert!(app.needs_nickname());
    let text = texts(&app, &WindowKey::Status).join("\n");
    assert!(
        text.contains("login refused: no (invalid_nickname)"),
        "{text}"
    );
}

// ----- talking -----

#[test]
fn a_typed_line_goes_to_the_current_room_and_shows_when_acknowledged() {
    let mut app = logged_in();
    let req = enter(&mut app, "hello 你好");
    assert_eq!(
        requests(&req),
        [Request::Broadcast {
            room: Some("lobby".into()),
            message: "hello 你好".into(),
            action: false
        }]
    );
    assert!(app.input().is_empty());
    assert!(texts(&app, &lobby()).iter().all(|t| !t.contains("hello")));
    frame(
        &mut app,
        json!({"type": "ack", "ref": req[0].1, "msg_id": 7, "ts": NOW}),
    );
    let window = app.window(&lobby()).unwrap();
    let last = window.lines().last().unwrap();
    assert_eq!(last.text(), "<alice> hello 你好");
    assert_eq!(last.msg_id, Some(7));
    assert!(matches!(last.kind, LineKind::Message { own: true, .. }));
}

#[test]
fn messages_are_ordered_by_id_and_never_shown_twice() {
    let mut app = logged_in();
    frame(&mut app, message(10, "lobby", "bob", "ten", false));
    frame(&mut app, message(8, "lobby", "bob", "eight", true));
    frame(&mut app, message(10, "lobby", "bob", "ten", true));
    frame(&mut app, message(9, "Lobby", "bob", "nine", true));
    let messages: Vec<String> = texts(&app, &lobby())
        .into_iter()
        .filter(|t| t.starts_with('<'))
        .collect();
    assert_eq!(messages, ["<bob> eight", "<bob> nine", "<bob> ten"]);
}

#[test]
fn other_windows_count_unread_lines_and_mark_mentions() {
    let mut app = logged_in();
    join(&mut app, "rust", &[], false);
    assert_eq!(app.current_window().key(), &WindowKey::room("rust"));
    frame(&mut app, message(20, "lobby", "bob", "anyone here?", false));
    let window = app.window(&lobby()).unwrap();
    assert_eq!((window.unread, window.activity), (1, Activity::Messages));
    frame(
        &mut app,
        message(21, "lobby", "bob", "ALICE: are you?", false),
    );
    let window = app.window(&lobby()).unwrap();
    assert_eq!((window.unread, window.activity), (2, Activity::Mention));
    assert!(window.lines().last().unwrap().mention);
    // Alt-2 shows the lobby and marks it seen.
    alt(&mut app, '2');
    assert_eq!(app.current_window().key(), &lobby());
    assert_eq!(
        (app.current_window().unread, app.current_window().activity),
        (0, Activity::None)
    );
    // A direct message opens a window of its own, marked as a mention.
    frame(
        &mut app,
        json!({"type": "direct", "msg_id": 22, "ts": NOW, "sender_id": 2, "sender_nickname": "bob",
            "to_id": 1, "to_nickname": "alice", "message": "psst"}),
    );
    let query = app.window(&WindowKey::query("BOB")).unwrap();
    assert_eq!(query.label(), "bob");
    assert_eq!((query.unread, query.activity), (1, Activity::Mention));
}

#[test]
fn mentions_are_whole_words_in_any_case() {
    assert!(mentions("hi alice!", "Alice"));
    assert!(mentions("ALICE: look", "alice"));
    assert!(!mentions("malice", "alice"));
    assert!(!mentions("alice_b", "alice"));
    assert!(mentions("张三你好", "张三"));
    assert!(!mentions("anything", ""));
}

#[test]
fn presence_keeps_member_lists_and_shows_what_happened() {
    let mut app = logged_in();
    let event = |e: &str, extra: Value| {
        let mut p = json!({"type": "presence", "event": e, "user_id": 3, "nickname": "carol",
            "ts": NOW, "sender_id": 0, "sender_nickname": "System", "message": "..."});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    frame(&mut app, event("join", json!({"room": "lobby"})));
    assert!(app.current_window().has_member("carol"));
    frame(
        &mut app,
        event("nick", json!({"old_nickname": "carol", "nickname": "caro"})),
    );
    assert!(app.current_window().has_member("caro"));
    assert!(!app.current_window().has_member("carol"));
    frame(
        &mut app,
        event(
            "topic",
            json!({"room": "lobby", "nickname": "caro", "topic": "tea"}),
        ),
    );
    assert_eq!(app.current_window().topic, "tea");
    frame(
        &mut app,
        event("leave", json!({"nickname": "caro", "reason": "closed"})),
    );
    assert!(!app.current_window().has_member("caro"));
    let shown = texts(&app, &lobby());
    let tail: Vec<&str> = shown
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "carol joined #lobby",
            "carol is now known as caro",
            "caro changed the topic of #lobby to: tea",
            "caro quit (closed)"
        ]
    );
}

#[test]
fn away_and_back_mark_members_and_tell_only_the_conversation_with_them() {
    let mut app = logged_in();
    let event = |e: &str, away: Option<&str>| {
        let mut p = json!({"type": "presence", "event": e, "user_id": 3, "nickname": "carol",
            "ts": NOW, "sender_id": 0, "sender_nickname": "System", "message": "..."});
        if let Some(away) = away {
            p["away"] = json!(away);
        }
        p
    };
    let carol = |app: &App| {
        let lobby = &app.windows[app.window_index(&lobby()).unwrap()];
        lobby
            .members_ranked()
            .iter()
            .find(|m| m.nick == "carol")
            .map(|m| m.away)
    };
    frame(
        &mut app,
        json!({"type": "presence", "event": "join", "room": "lobby", "user_id": 3,
            "nickname": "carol", "ts": NOW, "sender_id": 0, "sender_nickname": "System",
            "message": "..."}),
    );
    enter(&mut app, "/query carol");
    let before = texts(&app, &lobby()).len();
    frame(&mut app, event("away", Some("at lunch")));
    assert_eq!(carol(&app), Some(true));
    frame(&mut app, event("back", None));
    assert_eq!(carol(&app), Some(false));
    assert_eq!(texts(&app, &lobby()).len(), before, "rooms say nothing");
    let query = texts(&app, &WindowKey::query("carol"));
    assert_eq!(
        query[query.len() - 2..],
        ["carol is away: at lunch", "carol is back"]
    );
}

#[test]
fn a_presence_summary_updates_known_members_and_the_head_count() {
    let mut app = logged_in();
    assert_eq!(app.current_window().head_count(), 2);
    let text = "2 joined (carol, dave), 1 left (bob); 3000 here";
    frame(
        &mut app,
        json!({"type": "presence", "event": "summary", "room": "lobby", "user_id": 0,
            "nickname": "System", "ts": NOW, "sender_id": 0, "sender_nickname": "System",
            "message": text,
            "summary": {"joined": 2, "left": 1, "members": 3000,
                "joined_users": [{"id": 3, "nickname": "carol"}, {"id": 4, "nickname": "dave"}],
                "left_users": [{"id": 2, "nickname": "bob"}]}}),
    );
    let window = app.current_window();
    assert!(window.has_member("carol") && window.has_member("dave"));
    assert!(!window.has_member("bob"));
    assert_eq!(window.head_count(), 3000);
    assert_eq!(texts(&app, &lobby()).last().unwrap(), text);
    // Individual notices keep the server's count current...
    frame(
        &mut app,
        json!({"type": "presence", "event": "join", "room": "lobby", "user_id": 5,
            "nickname": "erin", "ts": NOW, "sender_id": 0, "sender_nickname": "System",
            "message": "erin joined"}),
    );
    assert_eq!(app.current_window().head_count(), 3001);
    // ...until a full member list replaces both.
    let who = enter(&mut app, "/who");
    frame(
        &mut app,
        json!({"type": "member_list", "room": "lobby", "ref": who[0].1,
            "members": [{"id": 1, "nickname": "alice"}, {"id": 3, "nickname": "carol"}]}),
    );
    assert_eq!(app.current_window().head_count(), 2);
}

// ----- commands -----

#[test]
fn every_line_client_command_sends_its_request() {
    let mut app = logged_in();
    join(&mut app, "rust", &[5, 6], true);
    assert_eq!(app.current_window().older, Older::More);
    let cases: Vec<(&str, Request)> = vec![
        ("/rooms", Request::Rooms),
        (
            "/who",
            Request::Who {
                room: "rust".into(),
            },
        ),
        (
            "/who lobby",
            Request::Who {
                room: "lobby".into(),
            },
        ),
        (
            "/topic",
            Request::Topic {
                room: "rust".into(),
                topic: None,
            },
        ),
        (
            "/topic all things Rust",
            Request::Topic {
                room: "rust".into(),
                topic: Some("all things Rust".into()),
            },
        ),
        (
            "/nick alicia",
            Request::Nick {
                nickname: "alicia".into(),
            },
        ),
        (
            "/me waves",
            Request::Broadcast {
                room: Some("rust".into()),
                message: "waves".into(),
                action: true,
            },
        ),
        (
            "/msg bob hi there",
            Request::Direct {
                to: "bob".into(),
                message: "hi there".into(),
                action: false,
            },
        ),
        (
            "/history 10",
            Request::History {
                room: "rust".into(),
                before: Some(5),
                limit: 10,
            },
        ),
        (
            "/part",
            Request::Part {
                room: "rust".into(),
            },
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(requests(&enter(&mut app, line)), [expected], "{line}");
    }
    assert_eq!(key(&mut app, KeyCode::Char('/')), []);
    type_text(&mut app, "quit");
    assert_eq!(key(&mut app, KeyCode::Enter), [Action::Quit]);
}

#[test]
fn command_answers_are_shown_where_they_were_asked() {
    let mut app = logged_in();
    let r = enter(&mut app, "/rooms")[0].1;
    frame(
        &mut app,
        json!({"type": "room_list", "ref": r, "rooms": [{"name": "lobby", "members": 2, "topic": ""},
            {"name": "rust", "members": 1, "topic": "crabs"}]}),
    );
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "2 room(s):\n  #lobby (2)\n  #rust (1) crabs"
    );
    let r = enter(&mut app, "/topic")[0].1;
    frame(
        &mut app,
        json!({"type": "topic", "room": "lobby", "topic": "", "ref": r}),
    );
    assert_eq!(texts(&app, &lobby()).last().unwrap(), "#lobby has no topic");
    let r = enter(&mut app, "/nick alicia")[0].1;
    frame(
        &mut app,
        json!({"type": "renamed", "old_nickname": "alice", "nickname": "alicia", "ref": r}),
    );
    assert_eq!(app.me().unwrap().nick, "alicia");
    assert!(app.current_window().has_member("alicia"));
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "you are now known as alicia"
    );
    enter(&mut app, "/help");
    let help = texts(&app, &lobby()).last().unwrap().clone();
    for command in [
        "/join", "/part", "/rooms", "/who", "/msg", "/nick", "/me", "/history", "/topic", "/quit",
        "/help", "/query", "/win",
    ] {
        assert!(help.contains(command), "{command} missing from help");
    }
}

#[test]
fn direct_messages_get_a_window_per_peer() {
    let mut app = logged_in();
    let req = enter(&mut app, "/query bob");
    assert!(req.is_empty());
    assert_eq!(app.current_window().key(), &WindowKey::query("bob"));
    let req = enter(&mut app, "hi bob");
    assert_eq!(
        requests(&req),
        [Request::Direct {
            to: "bob".into(),
            message: "hi bob".into(),
            action: false
        }]
    );
    frame(
        &mut app,
        json!({"type": "ack", "ref": req[0].1, "msg_id": 30, "ts": NOW}),
    );
    assert_eq!(
        texts(&app, &WindowKey::query("bob")).last().unwrap(),
        "<alice> hi bob"
    );
    // /msg from another window answers into the peer's window too.
    alt(&mut app, '1');
    let req = enter(&mut app, "/msg carol hello");
    frame(
        &mut app,
        json!({"type": "ack", "ref": req[0].1, "msg_id": 31, "ts": NOW}),
    );
    assert_eq!(
        texts(&app, &WindowKey::query("carol")).last().unwrap(),
        "<alice> hello"
    );
    // A peer renaming renames the window.
    frame(
        &mut app,
        json!({"type": "presence", "event": "nick", "user_id": 2, "nickname": "robert",
            "old_nickname": "bob", "ts": NOW, "sender_id": 0, "sender_nickname": "System", "message": "."}),
    );
    assert!(app.window(&WindowKey::query("robert")).is_some());
    assert!(app.window(&WindowKey::query("bob")).is_none());
    // /close closes a query window without asking the server.
    alt(&mut app, '3');
    assert_eq!(app.current_window().key(), &WindowKey::query("robert"));
    assert!(enter(&mut app, "/close").is_empty());
    assert!(app.window(&WindowKey::query("robert")).is_none());
}

#[test]
fn server_errors_are_shown_in_place_and_nothing_breaks() {
    let mut app = logged_in();
    let req = enter(&mut app, "/join rust");
    frame(
        &mut app,
        json!({"type": "error", "code": "invalid_room_name", "message": "bad room", "ref": req[0].1}),
    );
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "bad room (invalid_room_name)"
    );
    let req = enter(&mut app, "/msg nobody hi");
    frame(
        &mut app,
        json!({"type": "error", "code": "no_such_user", "message": "nobody is online as \"nobody\"", "ref": req[0].1}),
    );
    assert!(
        texts(&app, &lobby())
            .last()
            .unwrap()
            .starts_with("not sent: nobody is online")
    );
    // Errors without a ref, codes this version does not know, unknown frames.
    frame(
        &mut app,
        json!({"type": "error", "code": "brand_new", "message": "hmm"}),
    );
    assert_eq!(texts(&app, &lobby()).last().unwrap(), "hmm (other)");
    frame(&mut app, json!({"type": "hologram"}));
    net(
        &mut app,
        NetEvent::Garbled("the server sent something that is not a frame".into()),
    );
    // Local mistakes are explained and the line is kept for fixing.
    type_text(&mut app, "/join");
    assert!(sent(&key(&mut app, KeyCode::Enter)).is_empty());
    assert_eq!(app.input().text(), "/join");
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "usage: /join ROOM [KEY]"
    );
}

#[test]
fn a_message_too_long_for_one_frame_is_refused_before_sending() {
    let mut app = logged_in();
    // The input line keeps 32 Ki characters; as UTF-8 (three bytes each)
    // they are past the server's 64 KiB frame cap.
    update(&mut app, Event::Paste("你".repeat(40_000)));
    assert_eq!(app.input().chars().len(), super::keys::MAX_INPUT_CHARS);
    assert!(sent(&key(&mut app, KeyCode::Enter)).is_empty());
    let shown = texts(&app, &lobby()).join("\n");
    assert!(shown.contains("too long to send"), "{shown}");
    assert!(shown.contains("holds at most"), "{shown}");
}

/// Issue 19, bug 4: a paste longer than the server's message limit (from
/// `welcome`) is refused before sending, in one line, and stays in the
/// input line to be cut down; a refusal from the server quotes the text in
/// one short line, not all of it.
#[test]
fn an_oversized_paste_is_refused_in_one_line_and_kept() {
    let mut app = logged_in();
    let paste = "a line of a long log file\n".repeat(700);
    assert!(paste.len() > 16384 && paste.chars().count() < super::keys::MAX_INPUT_CHARS);
    update(&mut app, Event::Paste(paste.clone()));
    let before = app.window(&lobby()).unwrap().len();
    assert!(sent(&key(&mut app, KeyCode::Enter)).is_empty());
    assert_eq!(
        app.input().text(),
        paste,
        "the text stays in the input line"
    );
    let window = app.window(&lobby()).unwrap();
    assert_eq!(window.len(), before + 1, "one line explains");
    let note = window.lines().last().unwrap().text();
    assert!(!note.contains('\n') && note.len() < 200, "{note}");
    assert!(note.contains("16384"), "{note}");
    // Cut to size, it goes.
    ctrl(&mut app, 'u');
    update(&mut app, Event::Paste("x".repeat(16384)));
    assert_eq!(sent(&key(&mut app, KeyCode::Enter)).len(), 1);
    // The server refusing a long message says so in one short line.
    let long = "word ".repeat(50) + "\nsecond line\nthird line";
    let req = enter(&mut app, &long.replace('\n', " "));
    frame(
        &mut app,
        json!({"type": "error", "code": "message_too_long", "message": "a message has at most 16384 bytes", "ref": req[0].1}),
    );
    let note = texts(&app, &lobby()).last().unwrap().clone();
    assert!(!note.contains('\n') && note.chars().count() < 160, "{note}");
    assert!(
        note.starts_with(
            "not sent: a message has at most 16384 bytes (message_too_long): word word"
        ),
        "{note}"
    );
}

// ----- keys -----

#[test]
fn editing_keys_change_the_input_line() {
    let mut app = logged_in();
    type_text(&mut app, "hello big world");
    ctrl(&mut app, 'w');
    assert_eq!(app.input().text(), "hello big ");
    press(&mut app, KeyCode::Left, KeyModifiers::CONTROL);
    assert_eq!(app.input().cursor(), 6);
    alt(&mut app, 'b');
    assert_eq!(app.input().cursor(), 0);
    press(&mut app, KeyCode::Right, KeyModifiers::ALT);
    assert_eq!(app.input().cursor(), 5);
    ctrl(&mut app, 'k');
    assert_eq!(app.input().text(), "hello");
    ctrl(&mut app, 'a');
    key(&mut app, KeyCode::Delete);
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.input().text(), "ell");
    press(&mut app, KeyCode::Enter, KeyModifiers::ALT);
    type_text(&mut app, "two");
    assert_eq!(app.input().text(), "ell\ntwo");
    ctrl(&mut app, 'u');
    assert!(app.input().is_empty());
    // Up brings back what was sent.
    enter(&mut app, "first");
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input().text(), "first");
    key(&mut app, KeyCode::Down);
    assert!(app.input().is_empty());
    // Ctrl-C clears a line, and quits on an empty one.
    type_text(&mut app, "oops");
    assert!(ctrl(&mut app, 'c').is_empty());
    assert!(app.input().is_empty());
    assert_eq!(ctrl(&mut app, 'c'), [Action::Quit]);
    assert_eq!(ctrl(&mut app, 'l'), [Action::Redraw]);
}

#[test]
fn window_keys_switch_windows() {
    let mut app = logged_in();
    join(&mut app, "rust", &[], false);
    assert_eq!(app.current_index(), 2);
    alt(&mut app, '1');
    assert_eq!(app.current_index(), 0);
    ctrl(&mut app, 'p');
    assert_eq!(app.current_index(), 2, "wraps around backwards");
    ctrl(&mut app, 'n');
    assert_eq!(app.current_index(), 0, "and forwards");
    alt(&mut app, '9');
    assert_eq!(app.current_index(), 0, "no window 9: nothing changes");
    enter(&mut app, "/win 2");
    assert_eq!(app.current_index(), 1);
    enter(&mut app, "/join RUST");
    assert_eq!(
        app.current_index(),
        2,
        "joining a joined room switches to it"
    );
}

#[test]
fn a_paste_of_several_lines_is_sent_as_one_message() {
    let mut app = logged_in();
    update(&mut app, Event::Paste("line one\r\nline\ttwo\n".into()));
    assert_eq!(app.input().text(), "line one\nline\ttwo\n");
    let req = sent(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        requests(&req),
        [Request::Broadcast {
            room: Some("lobby".into()),
            message: "line one\nline\ttwo".into(),
            action: false
        }]
    );
}

/// Issue 19, bug 3: a paste is sent as it was, blank lines, tabs and
/// trailing line breaks included (a second paste continues after them);
/// only line ends are normalised (CR LF and CR become LF) and other
/// control characters dropped.
#[test]
fn pasted_text_is_not_changed() {
    let mut app = logged_in();
    let code = "fn main() {\n\tlet x = 1;\n\n\n\treturn;\n}\n\n";
    update(&mut app, Event::Paste(code.into()));
    update(&mut app, Event::Paste("// end\r\n\r\nx\x07".into()));
    assert_eq!(app.input().text(), format!("{code}// end\n\nx"));
    let req = sent(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        requests(&req),
        [Request::Broadcast {
            room: Some("lobby".into()),
            message: format!("{code}// end\n\nx"),
            action: false
        }]
    );
    // Shown with its blank lines and its indentation.
    frame(
        &mut app,
        json!({"type": "ack", "ref": req[0].1, "msg_id": 40, "ts": NOW}),
    );
    let window = app.window(&lobby()).unwrap();
    let line = window.lines().last().unwrap();
    let rows: Vec<String> = text::line_rows(line, Some(NOW), &app.row_context(), 60)
        .iter()
        .map(|r| {
            r.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        })
        .collect();
    let body: Vec<&str> = rows.iter().map(|r| r[14..].trim_end()).collect();
    assert_eq!(
        body,
        [
            "fn main() {",
            "    let x = 1;",
            "",
            "",
            "    return;",
            "}",
            "",
            "// end",
            "",
            "x"
        ],
        "{rows:#?}"
    );
}

#[test]
fn tab_completes_nicknames_and_commands() {
    let mut app = logged_in();
    frame(
        &mut app,
        json!({"type": "member_list", "room": "lobby",
            "members": [{"id": 1, "nickname": "alice"}, {"id": 2, "nickname": "bob"}, {"id": 4, "nickname": "Bobby"}]}),
    );
    type_text(&mut app, "bo");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input().text(), "bob: ");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input().text(), "Bobby: ");
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.input().text(), "bob: ");
    type_text(&mut app, "hi al");
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        app.input().text(),
        "bob: hi al",
        "your own nickname is not offered"
    );
    ctrl(&mut app, 'u');
    type_text(&mut app, "/hi");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input().text(), "/history ");
}

// ----- scrollback -----

#[test]
fn scrolling_to_the_top_fetches_older_history_once() {
    let mut app = logged_in();
    join(&mut app, "rust", &(101..=200).collect::<Vec<_>>(), true);
    let (_, height) = app.pane();
    assert_eq!(app.current_window().scroll, 0);
    let mut fetched = Vec::new();
    for _ in 0..20 {
        fetched.extend(sent(&key(&mut app, KeyCode::PageUp)));
    }
    let window = app.current_window();
    assert!(window.scroll > 0);
    assert_eq!(
        window.scroll,
        text::total_rows(window, &app.row_context(), app.pane().0) - height
    );
    assert_eq!(
        requests(&fetched),
        [Request::History {
            room: "rust".into(),
            before: Some(101),
            limit: HISTORY_PAGE
        }],
        "one request however often PageUp is pressed"
    );
    assert!(app.current_window().fetching_older);
    let before = app.current_window().scroll;
    for id in 1..=100 {
        frame(&mut app, message(id, "rust", "carol", "old", true));
    }
    frame(
        &mut app,
        json!({"type": "history_end", "room": "rust", "count": 100, "has_more": false, "ref": fetched[0].1}),
    );
    let window = app.current_window();
    assert_eq!(window.scroll, before, "the view stays where it was");
    assert_eq!(window.older, Older::Exhausted);
    assert_eq!(window.unread, 0, "history is not news");
    assert_eq!(window.oldest_msg_id(app.era()), Some(1));
    // Nothing more to fetch: the top is the top.
    for _ in 0..40 {
        assert!(sent(&key(&mut app, KeyCode::PageUp)).is_empty());
    }
    // Back down, with the mouse wheel too.
    key(&mut app, KeyCode::PageDown);
    let mouse = |kind| {
        Event::Mouse(MouseEvent {
            kind,
            column: 40,
            row: 10,
            modifiers: KeyModifiers::NONE,
        })
    };
    let scroll = app.current_window().scroll;
    update(&mut app, mouse(MouseEventKind::ScrollDown));
    assert_eq!(app.current_window().scroll, scroll - 3);
    update(&mut app, mouse(MouseEventKind::ScrollUp));
    assert_eq!(app.current_window().scroll, scroll);
    for _ in 0..100 {
        key(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.current_window().scroll, 0);
}

#[test]
fn a_scrolled_view_stays_still_when_lines_arrive_below() {
    let mut app = logged_in();
    join(&mut app, "rust", &(1..=80).collect::<Vec<_>>(), false);
    key(&mut app, KeyCode::PageUp);
    let scroll = app.current_window().scroll;
    assert!(scroll > 0);
    frame(&mut app, message(81, "rust", "carol", "new", false));
    let window = app.current_window();
    assert_eq!(window.scroll, scroll + 1);
    assert!(window.more_below);
}

#[test]
fn resizing_changes_the_pane() {
    let mut app = logged_in();
    update(&mut app, Event::Resize(60, 20));
    assert_eq!(app.size(), (60, 20));
    assert_eq!(app.pane(), (60 - 20, 17));
}

// ----- reconnecting -----

#[test]
fn a_dropped_connection_is_shown_and_unsent_lines_are_kept() {
    let mut app = logged_in();
    let req = enter(&mut app, "did this arrive?");
    assert_eq!(req.len(), 1);
    net(
        &mut app,
        NetEvent::Lost {
            reason: "the server closed the connection".into(),
            retry_in: Duration::from_secs(2),
        },
    );
    assert_eq!(
        app.conn(),
        &Conn::Offline {
            reason: "the server closed the connection".into(),
            retry_at_ms: NOW + 2000
        }
    );
    let shown = texts(&app, &lobby()).join("\n");
    assert!(
        shown.contains("disconnected from 127.0.0.1:8000"),
        "{shown}"
    );
    assert!(shown.contains("not confirmed before the connection dropped: did this arrive?"));
    // While offline, a typed line stays in the input.
    type_text(&mut app, "later");
    assert!(sent(&key(&mut app, KeyCode::Enter)).is_empty());
    assert_eq!(app.input().text(), "later");
    // Failing tries do not repeat the notice.
    let lines = app.window(&lobby()).unwrap().len();
    net(&mut app, NetEvent::Connecting { attempt: 2 });
    net(
        &mut app,
        NetEvent::Lost {
            reason: "cannot connect".into(),
            retry_in: Duration::from_secs(4),
        },
    );
    assert_eq!(app.window(&lobby()).unwrap().len(), lines);
}

#[test]
fn reconnecting_logs_back_in_rejoins_and_fills_the_gap_without_duplicates() {
    let mut app = logged_in();
    frame(&mut app, message(15, "lobby", "bob", "lobby 15", false));
    join(&mut app, "rust", &[18, 19, 20], false);
    net(
        &mut app,
        NetEvent::Lost {
            reason: "connection failed: reset".into(),
            retry_in: Duration::from_millis(500),
        },
    );
    // Back: the same nickname, still taken by the old session, gets a `_`.
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 2 }));
    assert_eq!(requests(&login), [login_as("alice", None)]);
    let actions = net(
        &mut app,
        NetEvent::Frame(Box::new(
            serde_json::from_value(json!({"type": "error", "code": "nickname_taken",
                "message": "taken", "ref": login[0].1}))
            .unwrap(),
        )),
    );
    assert!(
        actions
            .iter()
            .all(|a| matches!(a, Action::Send(o) if o.generation == 2))
    );
    let login = sent(&actions);
    assert_eq!(requests(&login), [login_as("alice_", None)]);
    let after = frame(
        &mut app,
        json!({"type": "welcome", "status": "ok", "id": 9, "nickname": "alice_", "protocol": 2,
            "server": "chatroom 0.1.0", "rooms": ["lobby"], "ref": login[0].1}),
    );
    assert_eq!(
        requests(&after),
        [
            Request::Who {
                room: "lobby".into()
            },
            Request::History {
                room: "lobby".into(),
                before: None,
                limit: HISTORY_PAGE
            },
            Request::Join {
                room: "rust".into(),
                key: None
            },
        ]
    );
    assert!(app.logged_in());
    assert_eq!(app.me().unwrap().nick, "alice_");
    // The lobby's newest page reaches back past message 15: done.
    for id in [14, 15, 16, 17] {
        frame(
            &mut app,
            message(id, "lobby", "bob", &format!("lobby {id}"), true),
        );
    }
    let more = frame(
        &mut app,
        json!({"type": "history_end", "room": "lobby", "count": 4, "has_more": true, "ref": after[1].1}),
    );
    assert!(more.is_empty());
    // The rust replay (ids 40-42) does not reach back to 20: page back.
    let r = after[2].1;
    frame(
        &mut app,
        json!({"type": "joined", "room": "rust", "topic": "", "ref": r,
            "members": [{"id": 9, "nickname": "alice_"}, {"id": 3, "nickname": "carol"}]}),
    );
    // A live line may arrive before the replay ends.
    frame(&mut app, message(43, "rust", "carol", "m43", false));
    for id in 40..=42 {
        frame(
            &mut app,
            message(id, "rust", "carol", &format!("m{id}"), true),
        );
    }
    let page = frame(
        &mut app,
        json!({"type": "history_end", "room": "rust", "count": 3, "has_more": true, "ref": r}),
    );
    assert_eq!(
        requests(&page),
        [Request::History {
            room: "rust".into(),
            before: Some(40),
            limit: HISTORY_PAGE
        }]
    );
    for id in [19, 20, 25, 30, 39] {
        frame(
            &mut app,
            message(id, "rust", "carol", &format!("m{id}"), true),
        );
    }
    let done = frame(
        &mut app,
        json!({"type": "history_end", "room": "rust", "count": 5, "has_more": true, "ref": page[0].1}),
    );
    assert!(done.is_empty(), "reached message 20: no more pages");
    let rust: Vec<u64> = app
        .window(&WindowKey::room("rust"))
        .unwrap()
        .lines()
        .filter_map(|l| l.msg_id)
        .collect();
    assert_eq!(rust, [18, 19, 20, 25, 30, 39, 40, 41, 42, 43]);
    let lobby_ids: Vec<u64> = app
        .window(&lobby())
        .unwrap()
        .lines()
        .filter_map(|l| l.msg_id)
        .collect();
    assert_eq!(lobby_ids, [14, 15, 16, 17]);
    // Missed messages count as unread in the window not shown.
    assert_eq!(app.window(&lobby()).unwrap().unread, 2);
}

#[test]
fn a_room_left_before_the_drop_is_left_again_after_it() {
    let mut app = logged_in();
    join(&mut app, "rust", &[], false);
    alt(&mut app, '2');
    let req = enter(&mut app, "/part");
    frame(
        &mut app,
        json!({"type": "parted", "room": "lobby", "ref": req[0].1}),
    );
    assert!(app.window(&lobby()).is_none());
    net(
        &mut app,
        NetEvent::Lost {
            reason: "gone".into(),
            retry_in: Duration::from_millis(500),
        },
    );
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 2 }));
    let after = frame(
        &mut app,
        json!({"type": "welcome", "status": "ok", "id": 5, "nickname": "alice", "protocol": 2,
            "server": "chatroom 0.1.0", "rooms": ["lobby"], "ref": login[0].1}),
    );
    assert_eq!(
        requests(&after),
        [
            Request::Join {
                room: "rust".into(),
                key: None
            },
            Request::Part {
                room: "lobby".into()
            }
        ]
    );
    let windows_before = app.windows().len();
    frame(
        &mut app,
        json!({"type": "parted", "room": "lobby", "ref": after[1].1}),
    );
    assert_eq!(app.windows().len(), windows_before);
    let status = texts(&app, &WindowKey::Status);
    assert_eq!(
        status
            .iter()
            .filter(|t| t.as_str() == "you left #lobby")
            .count(),
        1,
        "the quiet part is not announced"
    );
}

/// The password given at start-up belongs to the nickname given with it:
/// it goes with every login as that nickname, never with the `_` fallback
/// after `nickname_taken`, nor with a nickname typed at the prompt later.
#[test]
fn the_password_is_only_sent_with_the_nickname_it_belongs_to() {
    let mut app = new_app(Some("alice"));
    app.set_password(Some("a-long-passphrase".into()));
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 1 }));
    assert_eq!(
        requests(&login),
        [login_as("alice", Some("a-long-passphrase"))]
    );
    let retry = frame(
        &mut app,
        json!({"type": "error", "code": "nickname_taken", "message": "taken", "ref": login[0].1}),
    );
    assert_eq!(requests(&retry), [login_as("alice_", None)]);
    frame(
        &mut app,
        json!({"type": "error", "code": "banned", "message": "no", "ref": retry[0].1}),
    );
    assert!(app.needs_nickname());
    let bob = enter(&mut app, "bob");
    assert_eq!(requests(&bob), [login_as("bob", None)]);
    frame(
        &mut app,
        json!({"type": "error", "code": "banned", "message": "no", "ref": bob[0].1}),
    );
    // The same nickname in another case is the same account.
    assert_eq!(
        requests(&enter(&mut app, "/nick ALICE")),
        [login_as("ALICE", Some("a-long-passphrase"))]
    );
}

/// A login refused with `no_account` drops the password, so typing the
/// same nickname again gets in (and `/register` can follow).
#[test]
fn no_account_drops_the_password_so_the_nickname_can_log_in() {
    let mut app = new_app(Some("alice"));
    app.set_password(Some("a-long-passphrase".into()));
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 1 }));
    assert!(matches!(
        &requests(&login)[..],
        [Request::Login {
            password: Some(_),
            ..
        }]
    ));
    frame(
        &mut app,
        json!({"type": "error", "code": "no_account", "message": "no account", "ref": login[0].1}),
    );
    assert!(app.needs_nickname());
    assert!(
        texts(&app, &WindowKey::Status)
            .iter()
            .any(|t| t.contains("then /register PASSWORD"))
    );
    assert_eq!(
        requests(&enter(&mut app, "alice")),
        [login_as("alice", None)]
    );
}

/// Drops the connection and reconnects; returns the login sent.
fn reconnect(app: &mut App, generation: u64) -> Vec<Request> {
    net(
        app,
        NetEvent::Lost {
            reason: "connection failed: reset".into(),
            retry_in: Duration::from_millis(500),
        },
    );
    requests(&sent(&net(app, NetEvent::Connected { generation })))
}

/// `/register` takes effect for later logins only once the server confirms
/// it: a refused one leaves logins without a password.
#[test]
fn a_registered_password_is_used_on_reconnect_only_once_confirmed() {
    let mut app = logged_in();
    let refused = enter(&mut app, "/register short");
    frame(
        &mut app,
        json!({"type": "error", "code": "invalid_field", "message": "too short", "ref": refused[0].1}),
    );
    let login = reconnect(&mut app, 2);
    assert!(
        matches!(&login[..], [Request::Login { password: None, .. }]),
        "{login:?}"
    );

    let mut app = logged_in();
    let register = enter(&mut app, "/register a-long-passphrase");
    frame(
        &mut app,
        json!({"type": "registered", "nickname": "alice", "ref": register[0].1}),
    );
    let login = reconnect(&mut app, 2);
    assert_eq!(login, [login_as("alice", Some("a-long-passphrase"))]);
}

/// After `/nick` to another nickname, reconnecting logs in as that one,
/// without the old nickname's password.
#[test]
fn after_a_nickname_change_reconnects_go_without_the_old_password() {
    let mut app = logged_in_with(Some("a-long-passphrase"));
    frame(
        &mut app,
        json!({"type": "renamed", "old_nickname": "alice", "nickname": "bob"}),
    );
    let login = reconnect(&mut app, 2);
    assert!(
        matches!(&login[..], [Request::Login { nickname, password: None, .. }] if nickname == "bob"),
        "{login:?}"
    );
}

/// Bug 1 of issue 19: a server whose message ids start again (an in-memory
/// server restarted, under a new epoch) must not have its messages dropped
/// because their ids were seen before the restart. Lines are keyed by the
/// epoch's era too: the new era's lines come after the old one's, and the
/// missed messages are fetched back to the start of the new era.
#[test]
fn a_new_epoch_never_drops_messages_whose_ids_were_seen_before() {
    let mut app = logged_in();
    for id in 1..=6 {
        frame(
            &mut app,
            message(id, "lobby", "bob", &format!("before {id}"), false),
        );
    }
    net(
        &mut app,
        NetEvent::Lost {
            reason: "the server closed the connection".into(),
            retry_in: Duration::from_millis(500),
        },
    );
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 2 }));
    let after = frame(
        &mut app,
        json!({"type": "welcome", "status": "ok", "id": 1, "nickname": "alice", "protocol": 2,
            "server": "chatroom 0.1.0", "rooms": ["lobby"], "epoch": "00000000000000b2",
            "ref": login[0].1}),
    );
    let history = after
        .iter()
        .find(|(r, _)| matches!(r, Request::History { .. }))
        .unwrap();
    assert_eq!(
        history.0,
        Request::History {
            room: "lobby".into(),
            before: None,
            limit: HISTORY_PAGE
        }
    );
    // Said while the client was away (ids start again at 1)...
    for id in 1..=3 {
        frame(
            &mut app,
            message(id, "lobby", "bob", &format!("away {id}"), true),
        );
    }
    let more = frame(
        &mut app,
        json!({"type": "history_end", "room": "lobby", "count": 3, "has_more": false, "ref": history.1}),
    );
    assert!(more.is_empty(), "the new era's history is all there");
    // ...and after it came back.
    for id in 4..=11 {
        frame(
            &mut app,
            message(id, "lobby", "bob", &format!("after {id}"), false),
        );
    }
    let said: Vec<String> = texts(&app, &lobby())
        .into_iter()
        .filter(|t| t.starts_with("<bob>"))
        .collect();
    let expected: Vec<String> = (1..=6)
        .map(|i| format!("<bob> before {i}"))
        .chain((1..=3).map(|i| format!("<bob> away {i}")))
        .chain((4..=11).map(|i| format!("<bob> after {i}")))
        .collect();
    assert_eq!(said, expected);
    // Within one epoch a message seen twice is still shown once.
    frame(&mut app, message(11, "lobby", "bob", "after 11", true));
    assert_eq!(
        texts(&app, &lobby())
            .iter()
            .filter(|t| t.as_str() == "<bob> after 11")
            .count(),
        1
    );
    // Scrolling back asks for messages older than the new era's oldest.
    assert_eq!(
        app.window(&lobby()).unwrap().oldest_msg_id(app.era()),
        Some(1)
    );
}

/// `/whois`, `/away`, `/ignore`, `/unignore` and `/clear`.
#[test]
fn whois_away_ignore_and_clear() {
    let mut app = logged_in();
    let req = enter(&mut app, "/whois bob");
    assert_eq!(
        requests(&req),
        [Request::Whois {
            nickname: "bob".into()
        }]
    );
    frame(
        &mut app,
        json!({"type": "whois", "nickname": "bob", "id": 2, "away": "lunch", "rooms": ["lobby", "rust"],
            "since": NOW, "account": "bob", "ref": req[0].1}),
    );
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "bob (id 2): online since 00:00, in #lobby #rust; account bob; away: lunch"
    );

    let req = enter(&mut app, "/away gone fishing");
    assert_eq!(
        requests(&req),
        [Request::Away {
            message: Some("gone fishing".into())
        }]
    );
    frame(
        &mut app,
        json!({"type": "done", "request": "away", "ref": req[0].1}),
    );
    assert_eq!(app.away(), Some("gone fishing"));
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "you are marked away: gone fishing"
    );
    let req = enter(&mut app, "/away");
    frame(
        &mut app,
        json!({"type": "done", "request": "away", "ref": req[0].1}),
    );
    assert_eq!(app.away(), None);

    // Writing to someone away: their message shows in their window.
    let req = enter(&mut app, "/msg carol hi");
    frame(
        &mut app,
        json!({"type": "away", "nickname": "carol", "message": "on holiday", "ref": req[0].1}),
    );
    assert_eq!(
        texts(&app, &WindowKey::query("carol")).last().unwrap(),
        "carol is away: on holiday"
    );

    // /ignore hides a nickname's messages, here only; /unignore undoes it.
    assert!(enter(&mut app, "/ignore BOB").is_empty());
    frame(&mut app, message(50, "lobby", "bob", "spam", false));
    frame(
        &mut app,
        json!({"type": "direct", "msg_id": 51, "ts": NOW, "sender_id": 2, "sender_nickname": "bob",
            "to_id": 1, "to_nickname": "alice", "message": "more spam"}),
    );
    assert!(!texts(&app, &lobby()).iter().any(|t| t.contains("spam")));
    assert!(app.window(&WindowKey::query("bob")).is_none());
    enter(&mut app, "/ignore");
    assert_eq!(texts(&app, &lobby()).last().unwrap(), "ignored: bob");
    assert!(enter(&mut app, "/unignore bob").is_empty());
    frame(&mut app, message(52, "lobby", "bob", "sorry", false));
    assert_eq!(texts(&app, &lobby()).last().unwrap(), "<bob> sorry");

    // /clear empties the window shown, without the server.
    assert!(enter(&mut app, "/clear").is_empty());
    assert!(app.window(&lobby()).unwrap().is_empty());
}

/// `/search` searches where it is typed (a room, a conversation, or from
/// the status window everything), shows the page in one note, and the same
/// search again asks for the next page.
#[test]
fn search_shows_results_where_it_was_typed_and_pages() {
    let mut app = logged_in();
    let req = enter(&mut app, "/search 网络 编程");
    assert_eq!(
        requests(&req),
        [Request::Search {
            text: "网络 编程".into(),
            room: Some("lobby".into()),
            with: None,
            limit: SEARCH_PAGE,
            cursor: None
        }]
    );
    let r = req[0].1;
    frame(
        &mut app,
        json!({"type": "search_hit", "msg_id": 3, "ts": NOW, "room": "lobby", "sender_id": 2,
            "sender_nickname": "bob", "message": "网络编程\nsecond line", "ref": r}),
    );
    frame(
        &mut app,
        json!({"type": "search_end", "text": "网络 编程", "count": 1, "next": "1", "ref": r}),
    );
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "1 result(s) for \"网络 编程\", best first:\n  00:00 #lobby <bob> 网络编程…\n  (more: /search 网络 编程 again)"
    );
    let again = enter(&mut app, "/search 网络 编程");
    assert!(matches!(
        &requests(&again)[..],
        [Request::Search { cursor: Some(c), .. }] if c == "1"
    ));
    frame(
        &mut app,
        json!({"type": "search_end", "text": "网络 编程", "count": 0, "ref": again[0].1}),
    );
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "nothing found for \"网络 编程\""
    );
    // From the status window: everything; from a conversation: with them.
    alt(&mut app, '1');
    assert!(matches!(
        &requests(&enter(&mut app, "/search x"))[..],
        [Request::Search {
            room: None,
            with: None,
            ..
        }]
    ));
    enter(&mut app, "/query bob");
    assert!(matches!(
        &requests(&enter(&mut app, "/search x"))[..],
        [Request::Search { room: None, with: Some(w), .. }] if w == "bob"
    ));
}

/// After a restart, the conversations of earlier sessions come back: a
/// window per peer, filled from the server's direct-message history
/// (history is not news), and scrolling up in one pages further back.
#[test]
fn direct_message_windows_come_back_from_the_server() {
    let mut app = new_app(Some("alice"));
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 1 }));
    let after = frame(
        &mut app,
        json!({"type": "welcome", "status": "ok", "id": 1, "nickname": "alice", "protocol": 2,
            "server": "chatroom 0.1.0", "rooms": ["lobby"], "epoch": EPOCH, "ref": login[0].1}),
    );
    let fills = frame(
        &mut app,
        json!({"type": "conversations", "ref": after[0].1, "conversations": [
            {"nickname": "bob", "msg_id": 9, "ts": NOW}, {"nickname": "carol", "msg_id": 4, "ts": NOW}]}),
    );
    assert_eq!(
        requests(&fills),
        [
            Request::DirectHistory {
                with: "carol".into(),
                before: None,
                limit: 50
            },
            Request::DirectHistory {
                with: "bob".into(),
                before: None,
                limit: 50
            },
        ]
    );
    // Sent in an earlier session: alice had another user id then.
    let direct = |id: u64, from: &str, to: &str, text: &str| {
        json!({"type": "direct", "msg_id": id, "ts": NOW, "sender_id": if from == "alice" { 7 } else { 2 },
            "sender_nickname": from, "to_id": 0, "to_nickname": to, "message": text, "history": true})
    };
    frame(&mut app, direct(8, "alice", "bob", "hello bob"));
    frame(&mut app, direct(9, "bob", "alice", "hi alice"));
    frame(
        &mut app,
        json!({"type": "history_end", "with": "bob", "count": 2, "has_more": true, "ref": fills[1].1}),
    );
    let bob = WindowKey::query("bob");
    assert_eq!(texts(&app, &bob), ["<alice> hello bob", "<bob> hi alice"]);
    let window = app.window(&bob).unwrap();
    assert_eq!((window.unread, window.older), (0, Older::More));
    assert!(app.window(&WindowKey::query("carol")).is_some());
    assert!(app.window(&WindowKey::query("alice")).is_none());
    // Paging back in the conversation.
    let index = app.windows().iter().position(|w| w.key() == &bob).unwrap();
    alt(&mut app, char::from_digit(index as u32 + 1, 10).unwrap());
    let older = enter(&mut app, "/history 20");
    assert_eq!(
        requests(&older),
        [Request::DirectHistory {
            with: "bob".into(),
            before: Some(8),
            limit: 20
        }]
    );
}

/// Leaving a window puts the unread marker after its last line; lines that
/// arrive meanwhile show below it when the window is shown again.
#[test]
fn the_unread_marker_shows_what_arrived_while_away() {
    let mut app = logged_in();
    frame(&mut app, message(10, "lobby", "bob", "seen before", false));
    alt(&mut app, '1');
    frame(
        &mut app,
        message(11, "lobby", "bob", "said while away", false),
    );
    alt(&mut app, '2');
    let window = app.current_window();
    let rows: Vec<String> = text::visible_rows(window, &app.row_context(), 60, 0, 3)
        .iter()
        .map(|r| {
            r.row
                .spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        })
        .collect();
    assert!(rows[0].ends_with("<bob> seen before"), "{rows:?}");
    assert!(
        rows[1].contains(" new ") && rows[1].starts_with('─'),
        "{rows:?}"
    );
    assert!(rows[2].ends_with("<bob> said while away"), "{rows:?}");
    assert_eq!(
        text::total_rows(window, &app.row_context(), 60),
        window.len() + 1,
        "the marker counts as a row when scrolling"
    );
    // Seen everything and left again: no marker until something new.
    alt(&mut app, '1');
    alt(&mut app, '2');
    let rows = text::total_rows(app.current_window(), &app.row_context(), 60);
    assert_eq!(rows, app.current_window().len());
}

/// Alt-A goes to the window with the most important activity (a mention or
/// a direct message before plain messages), then the next.
#[test]
fn alt_a_jumps_to_activity_mentions_first() {
    let mut app = logged_in();
    join(&mut app, "rust", &[], false);
    join(&mut app, "go", &[], false);
    alt(&mut app, '1');
    frame(&mut app, message(20, "lobby", "bob", "plain", false));
    frame(&mut app, message(21, "go", "carol", "hey alice!", false));
    alt(&mut app, 'a');
    assert_eq!(app.current_window().key(), &WindowKey::room("go"));
    alt(&mut app, 'a');
    assert_eq!(app.current_window().key(), &lobby());
    alt(&mut app, 'a');
    assert_eq!(
        app.current_window().key(),
        &lobby(),
        "no activity left: it stays"
    );
}

/// Highlight words mention the user like their nickname; a mention or a
/// direct message rings the bell and shows in the title until seen; the
/// configured timestamp format is used.
#[test]
fn highlights_ring_the_bell_and_show_in_the_title() {
    let mut app = logged_in();
    app.set_look(crate::tui::look::Look {
        highlight: vec!["deploy".into()],
        timestamp: "%H:%M:%S".into(),
        ..Default::default()
    });
    join(&mut app, "rust", &[], false);
    let actions = frame_actions(
        &mut app,
        message(30, "lobby", "bob", "the Deploy is done", false),
    );
    assert!(actions.contains(&Action::Bell), "{actions:?}");
    assert!(
        actions.contains(&Action::Title("(1!) chatroom alice@127.0.0.1:8000".into())),
        "{actions:?}"
    );
    assert_eq!(app.window(&lobby()).unwrap().activity, Activity::Mention);
    let quiet = frame_actions(&mut app, message(31, "lobby", "bob", "redeployed", false));
    assert!(
        !quiet.contains(&Action::Bell),
        "not a whole word: {quiet:?}"
    );
    assert_eq!(
        alt(&mut app, '2'),
        [Action::Title("chatroom alice@127.0.0.1:8000".into())]
    );
    let rows = text::line_rows(
        app.current_window().lines().last().unwrap(),
        None,
        &app.row_context(),
        80,
    );
    let first: String = rows[0].spans.iter().map(|s| s.content.as_ref()).collect();
    assert!(first.starts_with("00:00:00 <bob>"), "{first}");
    // Without the bell and the title, neither.
    app.set_look(crate::tui::look::Look {
        bell: false,
        title: false,
        ..Default::default()
    });
    alt(&mut app, '3');
    let actions = frame_actions(&mut app, message(32, "lobby", "bob", "alice?", false));
    assert!(actions.is_empty(), "{actions:?}");
}

fn frame_actions(app: &mut App, value: Value) -> Vec<Action> {
    let frame: ServerFrame = serde_json::from_value(value).unwrap();
    net(app, NetEvent::Frame(Box::new(frame)))
}

/// Tab offers the nicknames that spoke lately first, most recent first.
#[test]
fn tab_offers_recent_speakers_first() {
    let mut app = logged_in();
    frame(
        &mut app,
        json!({"type": "member_list", "room": "lobby",
            "members": [{"id": 1, "nickname": "alice"}, {"id": 2, "nickname": "bob"},
                {"id": 4, "nickname": "Bobby"}, {"id": 5, "nickname": "boris"}]}),
    );
    frame(&mut app, message(40, "lobby", "boris", "hi", false));
    frame(&mut app, message(41, "lobby", "Bobby", "hello", false));
    type_text(&mut app, "bo");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input().text(), "Bobby: ");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input().text(), "boris: ");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input().text(), "bob: ");
}

/// Alt-M lets go of the mouse (so the terminal can select text) and takes
/// it back.
#[test]
fn alt_m_releases_and_takes_back_the_mouse() {
    let mut app = logged_in();
    assert_eq!(alt(&mut app, 'm'), [Action::Mouse(false)]);
    assert!(!app.has_mouse());
    assert_eq!(alt(&mut app, 'm'), [Action::Mouse(true)]);
    assert!(app.has_mouse());
}

/// A link is drawn in the link colour, and a long one wraps over rows.
#[test]
fn links_are_styled_and_wrap() {
    let mut app = logged_in();
    let url = "https://example.com/a/very/long/path/that/will/not/fit/on/one/row";
    frame(
        &mut app,
        message(60, "lobby", "bob", &format!("see {url}."), false),
    );
    let line = app
        .window(&lobby())
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .clone();
    let (rows, links) = text::line_rows_linked(&line, Some(NOW), &app.row_context(), 40);
    assert!(rows.len() > 1);
    let linked: String = links
        .iter()
        .flatten()
        .map(|l| l.url.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(linked.split(' ').all(|u| u == url), "{linked}");
    assert!(links[0].len() == 1 && links[1].len() == 1, "{links:?}");
    let styled = rows[0]
        .spans
        .iter()
        .find(|s| s.content.starts_with("https://"))
        .unwrap();
    assert_eq!(styled.style.fg, Some(app.look().colours.link));
}

/// With chat logs on, lines shown live (and one's own) are logged, a file
/// per window per day; history fetched from the server is not.
#[test]
fn live_lines_go_to_the_chat_log() {
    let mut app = logged_in();
    app.set_logging(true);
    let logged = |actions: Vec<Action>| -> Vec<crate::tui::chatlog::LogEntry> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Log(entry) => Some(entry),
                _ => None,
            })
            .collect()
    };
    let entries = logged(frame_actions(
        &mut app,
        message(70, "lobby", "bob", "live", false),
    ));
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].file,
        std::path::Path::new("127.0.0.1:8000/#lobby/2025-11-25.log")
    );
    assert_eq!(entries[0].text, "00:00:00 <bob> live");
    assert!(
        logged(frame_actions(
            &mut app,
            message(69, "lobby", "bob", "old", true)
        ))
        .is_empty()
    );
    let req = enter(&mut app, "mine");
    let entries = logged(frame_actions(
        &mut app,
        json!({"type": "ack", "ref": req[0].1, "msg_id": 71, "ts": NOW}),
    ));
    assert_eq!(entries[0].text, "00:00:00 <alice> mine");
}

// ----- moderation -----

/// The member list as the screen shows it: prefixes, operators first.
fn member_list(app: &App, key: &WindowKey) -> Vec<String> {
    app.window(key)
        .unwrap()
        .members_ranked()
        .iter()
        .map(|m| format!("{}{}", m.prefix(), m.nick))
        .collect()
}

/// A mode change by `by` in `room`, as the server announces it.
fn mode_change(room: &str, by: &str, modes: &str, args: &[&str]) -> Value {
    json!({"type": "presence", "event": "mode", "room": room, "user_id": 3, "nickname": by,
        "ts": NOW, "sender_id": 0, "sender_nickname": "System", "message": "...",
        "mode": {"modes": modes, "args": args}})
}

#[test]
fn moderation_commands_send_mode_kick_and_invite_requests() {
    let mut app = logged_in();
    join(&mut app, "rust", &[], false);
    let mode = |room: &str, modes: Option<&str>, args: &[&str]| Request::Mode {
        room: room.into(),
        modes: modes.map(Into::into),
        args: args.iter().map(|a| (*a).into()).collect(),
    };
    for (line, request) in [
        ("/mode", mode("rust", None, &[])),
        ("/mode lobby", mode("lobby", None, &[])),
        ("/mode +mt", mode("rust", Some("+mt"), &[])),
        ("/op carol", mode("rust", Some("+o"), &["carol"])),
        ("/deop carol", mode("rust", Some("-o"), &["carol"])),
        ("/voice carol", mode("rust", Some("+v"), &["carol"])),
        ("/devoice carol", mode("rust", Some("-v"), &["carol"])),
        ("/ban", mode("rust", Some("b"), &[])),
        ("/ban troll", mode("rust", Some("+b"), &["troll"])),
        ("/unban troll", mode("rust", Some("-b"), &["troll"])),
        (
            "/kick carol enough",
            Request::Kick {
                room: "rust".into(),
                nickname: "carol".into(),
                reason: Some("enough".into()),
            },
        ),
        (
            "/invite bob",
            Request::Invite {
                room: "rust".into(),
                nickname: "bob".into(),
            },
        ),
        (
            "/invite bob #lobby",
            Request::Invite {
                room: "lobby".into(),
                nickname: "bob".into(),
            },
        ),
    ] {
        assert_eq!(requests(&enter(&mut app, line)), [request], "{line}");
    }
    // Joining with a key sends it.
    assert_eq!(
        requests(&enter(&mut app, "/join den sesame")),
        [Request::Join {
            room: "den".into(),
            key: Some("sesame".into())
        }]
    );
    // Room commands need a room.
    alt(&mut app, '1');
    assert!(enter(&mut app, "/op carol").is_empty());
    assert_eq!(
        texts(&app, &WindowKey::Status).last().unwrap(),
        "this is not a room: /mode ROOM [MODES [ARGS]]"
    );
}

#[test]
fn operators_and_voice_show_as_prefixes_and_follow_mode_changes() {
    let mut app = logged_in();
    let who = enter(&mut app, "/who");
    frame(
        &mut app,
        json!({"type": "member_list", "room": "lobby", "ref": who[0].1,
            "members": [{"id": 1, "nickname": "alice"}, {"id": 2, "nickname": "bob"},
                {"id": 3, "nickname": "carol", "operator": true},
                {"id": 4, "nickname": "dave", "voice": true}]}),
    );
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "4 in #lobby: @carol +dave alice bob"
    );
    assert_eq!(
        member_list(&app, &lobby()),
        ["@carol", "+dave", "alice", "bob"]
    );
    frame(
        &mut app,
        mode_change("lobby", "carol", "+o-v", &["bob", "dave"]),
    );
    assert_eq!(
        member_list(&app, &lobby()),
        ["@bob", "@carol", "alice", "dave"]
    );
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "carol gives operator status to bob; carol takes voice from dave"
    );
    frame(&mut app, mode_change("lobby", "carol", "+m", &[]));
    assert_eq!(
        texts(&app, &lobby()).last().unwrap(),
        "carol sets +m (moderated)"
    );
    // A renamed operator stays one.
    frame(
        &mut app,
        json!({"type": "presence", "event": "nick", "user_id": 2, "nickname": "robert",
            "old_nickname": "bob", "ts": NOW, "sender_id": 0, "sender_nickname": "System",
            "message": "..."}),
    );
    assert_eq!(
        member_list(&app, &lobby()),
        ["@carol", "@robert", "alice", "dave"]
    );
    // The creator of a room is its operator from the start.
    let req = enter(&mut app, "/join den");
    frame(
        &mut app,
        json!({"type": "joined", "room": "den", "topic": "", "ref": req[0].1,
            "members": [{"id": 1, "nickname": "alice", "operator": true}]}),
    );
    assert_eq!(member_list(&app, &WindowKey::room("den")), ["@alice"]);
}

#[test]
fn mode_answers_show_where_they_were_asked_and_invites_say_how_to_join() {
    let mut app = logged_in();
    join(&mut app, "rust", &[], false);
    let modes = enter(&mut app, "/mode lobby");
    let bans = enter(&mut app, "/ban");
    let invite = enter(&mut app, "/invite bob");
    alt(&mut app, '1');
    frame(
        &mut app,
        json!({"type": "modes", "room": "lobby", "modes": "+ntk", "args": ["*"],
            "created": NOW, "ref": modes[0].1}),
    );
    frame(
        &mut app,
        json!({"type": "mask_list", "room": "rust", "list": "b", "ref": bans[0].1,
            "entries": [{"mask": "troll!*@*", "by": "alice", "at": NOW}]}),
    );
    frame(
        &mut app,
        json!({"type": "done", "request": "invite", "ref": invite[0].1}),
    );
    let rust = WindowKey::room("rust");
    let shown = texts(&app, &rust);
    let tail: Vec<&str> = shown
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "modes of #lobby: +ntk *",
            "1 bans in #rust\n  troll!*@* (by alice at 00:00)",
            "bob is invited into #rust"
        ]
    );
    // A mode change's `done` adds nothing: the room's notice said it.
    let op = enter(&mut app, "/op bob");
    assert_eq!(op.len(), 0, "the status window is no room");
    alt(&mut app, '3');
    let op = enter(&mut app, "/op carol");
    frame(&mut app, mode_change("rust", "alice", "+o", &["carol"]));
    frame(
        &mut app,
        json!({"type": "done", "request": "mode", "ref": op[0].1}),
    );
    assert_eq!(
        texts(&app, &rust).last().unwrap(),
        "alice gives operator status to carol"
    );
    // Refusals go where the command was typed, with what to do about them.
    let op = enter(&mut app, "/op carol");
    frame(
        &mut app,
        json!({"type": "error", "code": "not_room_operator", "ref": op[0].1,
            "message": "you are not an operator of \"rust\""}),
    );
    assert_eq!(
        texts(&app, &rust).last().unwrap(),
        "you are not an operator of \"rust\" (not_room_operator); /who shows its operators with @"
    );
    // An invite says how to go in, in the status window and the one shown.
    frame(
        &mut app,
        json!({"type": "presence", "event": "invite", "room": "den", "user_id": 3,
            "nickname": "carol", "ts": NOW, "sender_id": 0, "sender_nickname": "System",
            "message": "..."}),
    );
    let expected = "carol invites you into #den: /join den to go in";
    assert_eq!(texts(&app, &rust).last().unwrap(), expected);
    assert_eq!(texts(&app, &WindowKey::Status).last().unwrap(), expected);
}

#[test]
fn being_kicked_closes_the_room_window_and_says_why() {
    let mut app = logged_in();
    join(&mut app, "rust", &[], false);
    frame(
        &mut app,
        json!({"type": "presence", "event": "leave", "room": "rust", "user_id": 3,
            "nickname": "carol", "reason": "kicked by alice: spam", "ts": NOW, "sender_id": 0,
            "sender_nickname": "System", "message": "..."}),
    );
    let rust = WindowKey::room("rust");
    assert_eq!(
        texts(&app, &rust).last().unwrap(),
        "carol left #rust (kicked by alice: spam)"
    );
    assert!(!app.window(&rust).unwrap().has_member("carol"));
    frame(
        &mut app,
        json!({"type": "presence", "event": "leave", "room": "rust", "user_id": 1,
            "nickname": "alice", "reason": "kicked by carol: bye", "ts": NOW, "sender_id": 0,
            "sender_nickname": "System", "message": "..."}),
    );
    assert!(app.window(&rust).is_none());
    assert_eq!(
        texts(&app, &WindowKey::Status).last().unwrap(),
        "you are no longer in #rust (kicked by carol: bye); /join rust to go back"
    );
}

#[test]
fn a_room_joined_with_a_key_is_rejoined_with_it_after_a_reconnect() {
    let mut app = logged_in();
    let req = enter(&mut app, "/join den sesame");
    frame(
        &mut app,
        json!({"type": "joined", "room": "den", "topic": "", "ref": req[0].1,
            "members": [{"id": 1, "nickname": "alice"}, {"id": 3, "nickname": "carol", "operator": true}]}),
    );
    let login = sent(&net(
        &mut app,
        NetEvent::Lost {
            reason: "gone".into(),
            retry_in: Duration::from_millis(500),
        },
    ));
    assert!(login.is_empty());
    let login = sent(&net(&mut app, NetEvent::Connected { generation: 2 }));
    let after = frame(
        &mut app,
        json!({"type": "welcome", "status": "ok", "id": 5, "nickname": "alice", "protocol": 2,
            "server": "chatroom 0.1.0", "rooms": ["lobby"], "ref": login[0].1}),
    );
    assert!(
        requests(&after).contains(&Request::Join {
            room: "den".into(),
            key: Some("sesame".into())
        }),
        "{after:?}"
    );
}
