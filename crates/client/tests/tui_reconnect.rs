//! The full-screen client's app and network task against a real server,
//! without a terminal: a proxy between them cuts the connection, another
//! user talks while the client is away, and the client must come back,
//! log in, rejoin, fetch what it missed, and show every line exactly once,
//! in message-id order.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatroom_client::connection::Target;
use chatroom_client::tui::app::Conn;
use chatroom_client::tui::net::{self, Backoff, Net};
use chatroom_client::tui::window::WindowKey;
use chatroom_client::tui::{Action, App, Event, update};
use chatroom_server::Config;
use chatroom_testkit::{Raw, TestServer, WAIT};
use chrono::FixedOffset;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A TCP proxy on 127.0.0.1:0 that can cut its connections and refuse new
/// ones for a while, as a flaky network would.
struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct ProxyState {
    refusing: bool,
    pipes: Vec<JoinHandle<()>>,
}

impl Proxy {
    async fn start(server: SocketAddr) -> Proxy {
        Proxy::start_at("127.0.0.1:0".parse().unwrap(), server).await
    }

    /// A proxy listening on `at` (a loopback address) for `server`.
    async fn start_at(at: SocketAddr, server: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(at).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if shared.lock().unwrap().refusing {
                    continue; // dropped: the client sees the connection close
                }
                let pipe = tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(server).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                shared.lock().unwrap().pipes.push(pipe);
            }
        });
        Proxy {
            addr,
            state,
            accept,
        }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.refusing = true;
        for pipe in state.pipes.drain(..) {
            pipe.abort();
        }
    }

    /// Accepts and forwards connections again.
    fn heal(&self) {
        self.state.lock().unwrap().refusing = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The app and the network task, wired as the runner wires them, minus the
/// terminal.
struct Client {
    app: App,
    events: mpsc::Receiver<Event>,
    net: Net,
}

impl Client {
    fn start(server: SocketAddr, nick: &str) -> Client {
        let (tx, events) = mpsc::channel(1024);
        let backoff = Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
        };
        let net = net::spawn(Target::plain(server.to_string()), backoff, tx);
        let app = App::new(
            &server.to_string(),
            Some(nick.to_owned()),
            (120, 40),
            FixedOffset::east_opt(0).unwrap(),
            0,
        );
        Client { app, events, net }
    }

    fn apply(&mut self, event: Event) {
        for action in update(&mut self.app, event) {
            if let Action::Send(outgoing) = action {
                self.net.send(outgoing);
            }
        }
    }

    /// Feeds events from the network until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let wait = async {
            while !done(&self.app) {
                let event = self.events.recv().await.expect("the network task ended");
                self.apply(event);
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
    }

    fn type_line(&mut self, line: &str) {
        for c in line.chars() {
            self.apply(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )));
        }
        self.apply(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
    }
}

/// The texts of a window's messages, with their ids.
fn messages(app: &App, room: &str) -> Vec<(u64, String)> {
    app.window(&WindowKey::room(room))
        .map(|w| {
            w.lines()
                .filter_map(|l| l.msg_id.map(|id| (id, l.text())))
                .collect()
        })
        .unwrap_or_default()
}

fn shows(app: &App, room: &str, text: &str) -> bool {
    messages(app, room).iter().any(|(_, t)| t == text)
}

#[tokio::test]
async fn after_a_dropped_connection_the_client_catches_up_without_duplicates() {
    // A replay of 3 makes the rejoin page back through history for the rest.
    let server = TestServer::start_with(Config {
        history_replay: 3,
        ..Config::default()
    })
    .await;
    let proxy = Proxy::start(server.addr).await;
    let mut alice = Client::start(proxy.addr, "alice");
    alice.until("alice is logged in", App::logged_in).await;

    let mut bob = Raw::login(server.addr, "bob").await;
    bob.join("rust").await;
    alice.type_line("/join rust");
    alice
        .until("alice is in rust", |app| {
            app.window(&WindowKey::room("rust"))
                .is_some_and(|w| w.has_member("bob"))
        })
        .await;
    bob.say_in("rust", "before the drop").await;
    bob.say_in("lobby", "lobby before the drop").await;
    alice
        .until("alice sees bob's lines", |app| {
            shows(app, "rust", "<bob> before the drop")
                && shows(app, "lobby", "<bob> lobby before the drop")
        })
        .await;

    proxy.cut();
    alice
        .until("alice notices the drop", |app| {
            matches!(app.conn(), Conn::Offline { .. })
        })
        .await;
    for i in 0..10 {
        bob.say_in("rust", &format!("missed {i}")).await;
    }
    bob.say_in("lobby", "lobby missed").await;
    proxy.heal();

    alice
        .until("alice has caught up", |app| {
            app.logged_in()
                && (0..10).all(|i| shows(app, "rust", &format!("<bob> missed {i}")))
                && shows(app, "lobby", "<bob> lobby missed")
        })
        .await;
    bob.say_in("rust", "after the drop").await;
    alice
        .until("alice sees live lines again", |app| {
            shows(app, "rust", "<bob> after the drop")
        })
        .await;

    let nick = &alice.app.me().unwrap().nick;
    assert!(nick == "alice" || nick == "alice_", "{nick}");
    for room in ["rust", "lobby"] {
        let shown = messages(&alice.app, room);
        let ids: Vec<u64> = shown.iter().map(|(id, _)| *id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted, "{room}: in id order, each once: {shown:?}");
        let mut texts: Vec<&String> = shown.iter().map(|(_, t)| t).collect();
        texts.sort();
        let before = texts.len();
        texts.dedup();
        assert_eq!(before, texts.len(), "{room}: no text twice: {shown:?}");
    }
    let rust: Vec<String> = messages(&alice.app, "rust")
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let expected: Vec<String> = std::iter::once("<bob> before the drop".to_owned())
        .chain((0..10).map(|i| format!("<bob> missed {i}")))
        .chain(std::iter::once("<bob> after the drop".to_owned()))
        .collect();
    assert_eq!(rust, expected);
    alice.net.quit().await;
    server.stop().await;
}

#[tokio::test]
async fn an_unreachable_server_is_retried_until_it_answers() {
    let server = TestServer::start().await;
    // Reserve a loopback port, then let it go: nothing listens there yet.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut alice = Client::start(addr, "alice");
    alice
        .until(
            "a few tries failed",
            |app| matches!(app.conn(), Conn::Connecting { attempt } if *attempt >= 3),
        )
        .await;
    // Now the port leads to the server, and the next try gets in.
    let _proxy = Proxy::start_at(addr, server.addr).await;
    alice.until("alice is logged in", App::logged_in).await;
    assert_eq!(alice.app.me().unwrap().nick, "alice");
    alice.net.quit().await;
    server.stop().await;
}
