//! Read markers in the web client, in a real browser (the harness of
//! `web_browser`): ann is logged into her account in the browser and, over
//! TCP, in a JSON session of the same account (under another nickname: a
//! nickname change keeps the account). A message in a room she is not
//! looking at gives that room a badge; when the other session marks it
//! read, the badge goes by itself. What the page reads, the other session
//! is told; what the page opens shows the "new messages" line where the
//! account's marker says, also in a page that has just logged in. The
//! unread counting (`js/unread.js`) is checked on its own in the page too.
//!
//! Skipped (loudly) without chromium and chromedriver, unless
//! `CHATROOM_E2E=require`. Every wait is for an element or a frame, with a
//! generous timeout; nothing sleeps.

use chatroom_testkit::Raw;
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::web_browser::{Browser, ONE_SCENE_AT_A_TIME, browser_available, http_addr, serve};

const PASSWORD: &str = "correct horse battery";

/// Opens the page and logs in as `nick` with `password`.
async fn login_with_password(browser: &Browser, url: &str, nick: &str, password: &str) {
    browser.client.goto(url).await.unwrap();
    let field = browser.wait_for(Locator::Id("login-nick")).await;
    field.send_keys(nick).await.unwrap();
    browser
        .client
        .find(Locator::Id("login-password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Id("login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for(Locator::XPath(&format!(
            "//*[@id='me' and text()='{nick}']"
        )))
        .await;
}

/// The XPath of a room's button in the sidebar.
fn room_button(room: &str) -> String {
    format!("//ul[@id='room-list']//button[span[@class='name']='#{room}']")
}

/// Says `text` in `room` as `c` and returns the message's time (its ack's).
async fn say_at(c: &mut Raw, room: &str, text: &str) -> i64 {
    c.send_json(json!({"type": "broadcast", "room": room, "message": text, "ref": text}))
        .await;
    loop {
        let ack = c.recv_type("ack").await;
        if ack["ref"] == text {
            return ack["ts"].as_i64().unwrap();
        }
    }
}

/// The next `read_marker` frame `c` gets.
async fn next_marker(c: &mut Raw) -> Value {
    c.recv_type("read_marker").await
}

/// The XPath of the "new messages" line in the shown window, right before
/// the line holding `first` and after the one holding `read`.
fn unread_line(read: &str, first: &str) -> String {
    format!(
        "//div[contains(@class,'log') and not(@hidden)]//div[contains(@class,'unread-marker') \
         and following-sibling::div[contains(@class,'line')][1][contains(., '{first}')] \
         and preceding-sibling::div[contains(@class,'line')][contains(., '{read}')]]"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_sessions_share_what_is_read() {
    if !browser_available() {
        return;
    }
    let _scene = ONE_SCENE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path(), 0, 0, 0).await;
    let url = format!("http://{}/", http_addr(&server));

    // ann's account, and her session over TCP as ann_tcp.
    let mut tcp = Raw::login_with(
        server.addr(),
        json!({"type": "register", "nickname": "ann", "password": PASSWORD}),
    )
    .await;
    tcp.recv_type("registered").await;
    tcp.send_json(json!({"type": "nick", "nickname": "ann_tcp"}))
        .await;
    tcp.recv_type("renamed").await;
    let mut tom = Raw::login(server.addr(), "tom").await;

    // ann in the browser, looking at #den rather than #lobby.
    let ann = Browser::start(1200, 800).await;
    login_with_password(&ann, &url, "ann", PASSWORD).await;

    // The counting on its own: markers decide, mine never count, a window
    // without a marker counts only what came live; marker moves go at once
    // after a quiet spell, then at most once a second, the latest per
    // window.
    let checked = ann
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             import('/js/unread.js').then(({ summarize, MarkQueue }) => {
               const msgs = new Map([
                 [7, { ts: 100, mine: false, live: false }],
                 [8, { ts: 200, mine: true, live: true }],
                 [9, { ts: 300, mine: false, live: true, mention: true }],
                 [10, { ts: 400, mine: false, live: false }],
               ]);
               const sent = [];
               const queue = new MarkQueue((target, ts) => sent.push(ts) > 0, 1000, () => 0);
               queue.mark('#a', { room: 'a' }, 1);
               const atOnce = [...sent];
               queue.mark('#a', { room: 'a' }, 3);
               queue.mark('#a', { room: 'a' }, 2);
               const throttled = [...sent];
               queue.flush();
               done([summarize(msgs, null), summarize(msgs, 100), summarize(msgs, 300),
                     summarize(msgs, 400), atOnce, throttled, sent]);
             }, (e) => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        checked,
        json!([
            {"count": 1, "mention": true, "first": 9},
            {"count": 2, "mention": true, "first": 9},
            {"count": 1, "mention": false, "first": 10},
            {"count": 0, "mention": false, "first": null},
            [1],
            [1],
            [1, 3],
        ])
    );

    ann.say("/join den").await;
    ann.wait_for(Locator::XPath("//*[@id='window-name' and text()='#den']"))
        .await;

    // A message in #lobby, out of view: a badge, red for a mention.
    let first = say_at(&mut tom, "lobby", "ann, look at this").await;
    ann.wait_for(Locator::XPath(&format!(
        "{}/span[contains(@class,'badge') and contains(@class,'mention') and .='1']",
        room_button("lobby")
    )))
    .await;

    // Her other session reads it: the badge goes without her touching the page.
    tcp.send_json(json!({"type": "mark_read", "room": "lobby", "ts": first, "ref": "m"}))
        .await;
    assert_eq!(
        next_marker(&mut tcp).await,
        json!({"type": "read_marker", "room": "lobby", "ts": first, "ref": "m"})
    );
    ann.wait_for(Locator::XPath(&format!(
        "{}[not(span[contains(@class,'badge')])]",
        room_button("lobby")
    )))
    .await;
    let title = ann
        .client
        .execute("return document.title;", vec![])
        .await
        .unwrap();
    assert_eq!(title, "chatroom", "no unread messages are left");

    // What the page shows is read: her other session is told.
    tom.send_json(json!({"type": "join", "room": "den"})).await;
    tom.recv_type("history_end").await;
    let den = say_at(&mut tom, "den", "in den, where ann looks").await;
    ann.wait_for_line("in den, where ann looks").await;
    assert_eq!(
        next_marker(&mut tcp).await,
        json!({"type": "read_marker", "room": "den", "ts": den})
    );

    // Opening #lobby after two more: the line is before the first of them,
    // and reading them moves the marker to the second.
    say_at(&mut tom, "lobby", "first unread").await;
    let second = say_at(&mut tom, "lobby", "second unread").await;
    ann.wait_for(Locator::XPath(&format!(
        "{}/span[contains(@class,'badge') and .='2']",
        room_button("lobby")
    )))
    .await;
    ann.wait_for(Locator::XPath(&room_button("lobby")))
        .await
        .click()
        .await
        .unwrap();
    ann.wait_for(Locator::XPath(&unread_line(
        "ann, look at this",
        "first unread",
    )))
    .await;
    assert_eq!(
        next_marker(&mut tcp).await,
        json!({"type": "read_marker", "room": "lobby", "ts": second})
    );

    // A page that has just logged in takes the account's markers: the line
    // is where the marker says, and what it shows is read.
    ann.wait_for(Locator::Id("logout-button"))
        .await
        .click()
        .await
        .unwrap();
    loop {
        let frame = tcp.recv_type("presence").await;
        if frame["event"] == "leave" && frame["nickname"] == "ann" {
            break;
        }
    }
    let away = say_at(&mut tom, "lobby", "while ann was out").await;
    login_with_password(&ann, &url, "ann", PASSWORD).await;
    ann.wait_for(Locator::XPath(&unread_line(
        "second unread",
        "while ann was out",
    )))
    .await;
    assert_eq!(
        next_marker(&mut tcp).await,
        json!({"type": "read_marker", "room": "lobby", "ts": away})
    );

    ann.close().await;
    let exit = server.stop().await;
    assert_eq!(exit.code, Some(0), "{}", exit.log);
}
