//! The full-screen client end to end: the real binary in tmux, typed into
//! with `send-keys` and read with `capture-pane`, against a real server.
//!
//! Each test runs its own tmux server (`tmux -L NAME`, no config file) with
//! unique session names, killed by a drop guard even when the test fails.
//! Without tmux the tests are skipped with a message, except in CI or with
//! `CHATROOM_E2E=require`, where that is a failure
//! (`scripts/install-test-deps.sh` installs tmux).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatroom_testkit::{Raw, ServerProcess};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::task::JoinHandle;

use crate::support::BIN;

/// The longest any screen may take to show what the test waits for.
const SCREEN_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// A private tmux server; killed (with every session in it) on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A tmux server of this test's own, or `None` (after saying why) when
    /// tmux is not installed and this is not CI.
    fn start(test: &str) -> Option<Tmux> {
        let found = std::process::Command::new("tmux").arg("-V").output();
        if !found.is_ok_and(|out| out.status.success()) {
            assert!(
                std::env::var_os("CI").is_none()
                    && std::env::var("CHATROOM_E2E").as_deref() != Ok("require"),
                "tmux is required in CI and with CHATROOM_E2E=require \
                 (scripts/install-test-deps.sh installs it)"
            );
            eprintln!(
                "SKIPPED {test}: tmux is not installed (scripts/install-test-deps.sh installs it)"
            );
            return None;
        }
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        Some(Tmux {
            socket: format!("chatroom-{test}-{}-{n}", std::process::id()),
        })
    }

    async fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `command` (argv) in a new 120x40 session named `name`.
    async fn session(&self, name: &str, command: &[&str]) {
        let command: Vec<String> = command.iter().map(|a| shell_quote(a)).collect();
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            &command.join(" "),
        ])
        .await;
    }

    /// Types `text` literally.
    async fn type_text(&self, name: &str, text: &str) {
        self.run(&["send-keys", "-t", name, "-l", text]).await;
    }

    /// Presses a named key (`Enter`, `M-2`, ...).
    async fn key(&self, name: &str, key: &str) {
        self.run(&["send-keys", "-t", name, key]).await;
    }

    async fn screen(&self, name: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", name]).await
    }

    /// A tmux format of the session's pane, e.g. `#{alternate_on}`.
    async fn format(&self, name: &str, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", name, format])
            .await
            .trim()
            .to_owned()
    }

    /// Waits until `name`'s screen shows everything in `wanted`; returns the
    /// screen. Fails with the last screen after [`SCREEN_WAIT`].
    async fn wait_for(&self, name: &str, wanted: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(name).await;
            if wanted.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(
                start.elapsed() < SCREEN_WAIT,
                "{name}'s screen never showed {wanted:?}; it shows:\n{screen}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Alice logs in by typing her nickname at the prompt and says something;
/// Bob, in another session, sees it; he answers; a multi-line paste arrives
/// as one message; Bob's resized terminal is redrawn to fit.
#[tokio::test]
async fn typed_messages_reach_another_clients_screen() {
    let Some(tmux) = Tmux::start("two-clients") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    tmux.session("bob", &[BIN, "join", "--server", &addr, "--nick", "bob"])
        .await;
    tmux.wait_for("bob", &["[bob]", "connected]", "#lobby"])
        .await;

    tmux.session("alice", &[BIN, "join", "--server", &addr])
        .await;
    tmux.wait_for("alice", &["nickname:"]).await;
    tmux.type_text("alice", "alice").await;
    tmux.key("alice", "Enter").await;
    tmux.wait_for("alice", &["[alice]", "connected]", "2 here"])
        .await;
    tmux.wait_for("bob", &["alice joined #lobby"]).await;

    tmux.type_text("alice", "hello bob, 你好！").await;
    tmux.key("alice", "Enter").await;
    tmux.wait_for("bob", &["<alice> hello bob, 你好！"]).await;
    tmux.wait_for("alice", &["<alice> hello bob, 你好！"]).await;

    tmux.type_text("bob", "alice: hi").await;
    tmux.key("bob", "Enter").await;
    tmux.wait_for("alice", &["<bob> alice: hi"]).await;

    // A bracketed paste is one message, unchanged: its blank line, its tab
    // and its trailing line break (a second paste goes on after it).
    tmux.run(&["set-buffer", "first pasted line\n\n\tsecond pasted line\n"])
        .await;
    tmux.run(&["paste-buffer", "-p", "-t", "alice"]).await;
    tmux.run(&["set-buffer", "third"]).await;
    tmux.run(&["paste-buffer", "-p", "-t", "alice"]).await;
    tmux.key("alice", "Enter").await;
    let screen = tmux
        .wait_for("bob", &["<alice> first pasted line", "second pasted line"])
        .await;
    let rows: Vec<&str> = screen.lines().collect();
    let first = rows
        .iter()
        .position(|l| l.contains("first pasted line"))
        .unwrap();
    let column = |row: &str, text: &str| row.find(text).map(|at| row[..at].chars().count());
    let body = column(rows[first], "first").unwrap();
    let blank = rows[first + 1].trim_matches(|c: char| c == ' ' || c == '│');
    assert!(blank.is_empty(), "the blank line is kept:\n{screen}");
    assert_eq!(
        column(rows[first + 2], "second pasted line"),
        Some(body + 4),
        "the tab indents:\n{screen}"
    );
    assert_eq!(column(rows[first + 3], "third"), Some(body), "{screen}");

    // A flag (two regional indicators, one wide grapheme) leaves nothing
    // behind when another window is shown. (This tmux clears it either
    // way; `tui::wide`'s tests show the terminals that would not.)
    tmux.type_text("bob", "flag 🇨🇳 here").await;
    tmux.key("bob", "Enter").await;
    tmux.wait_for("alice", &["<bob> flag 🇨🇳 here"]).await;
    tmux.key("alice", "M-1").await;
    let screen = tmux.wait_for("alice", &["[1:(status)]"]).await;
    assert!(
        !screen.contains('\u{1F1F3}') && !screen.contains('\u{1F1E8}'),
        "{screen}"
    );
    tmux.key("alice", "M-2").await;

    // Narrower than 80 columns, the member list gives way.
    tmux.run(&["resize-window", "-t", "bob", "-x", "70", "-y", "20"])
        .await;
    let start = Instant::now();
    loop {
        let screen = tmux.screen("bob").await;
        let width = screen.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        if !screen.contains("2 here") && screen.contains("<bob> alice: hi") && width <= 70 {
            break;
        }
        assert!(
            start.elapsed() < SCREEN_WAIT,
            "not redrawn at 70x20:\n{screen}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Writes the wrapper that runs the client and then reports how it exited
/// and whether the terminal was left in raw mode.
fn wrapper(dir: &Path) -> PathBuf {
    let script = dir.join("run-client.sh");
    std::fs::write(
        &script,
        r#"# $1: pid file, $2: chatroom binary, $3: server, $4: nickname
sh -c 'echo $$ > "$1"; exec "$2" join --server "$3" --nick "$4"' client "$@"
echo "exited=$?"
if stty -a | grep -q -- '-icanon'; then echo "terminal: raw"; else echo "terminal: cooked"; fi
sleep 120
"#,
    )
    .unwrap();
    script
}

async fn in_full_screen(tmux: &Tmux, name: &str) {
    tmux.wait_for(name, &["connected]"]).await;
    assert_eq!(tmux.format(name, "#{alternate_on}").await, "1");
    assert_eq!(tmux.format(name, "#{mouse_any_flag}").await, "1");
}

async fn restored(tmux: &Tmux, name: &str) {
    tmux.wait_for(name, &["exited=0", "terminal: cooked"]).await;
    assert_eq!(tmux.format(name, "#{alternate_on}").await, "0");
    assert_eq!(tmux.format(name, "#{mouse_any_flag}").await, "0");
}

/// `/quit`, SIGTERM and SIGHUP all leave the terminal as it was: out of raw
/// mode, off the alternate screen, mouse reporting off.
#[tokio::test]
async fn the_terminal_is_restored_on_quit_sigterm_and_sighup() {
    let Some(tmux) = Tmux::start("restore") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    let dir = tempfile::tempdir().unwrap();
    let script = wrapper(dir.path());
    let script = script.to_str().unwrap();

    let pid_file = dir.path().join("quit.pid");
    let args = [
        "sh",
        script,
        pid_file.to_str().unwrap(),
        BIN,
        &addr,
        "quitter",
    ];
    tmux.session("quit", &args).await;
    in_full_screen(&tmux, "quit").await;
    tmux.type_text("quit", "/quit").await;
    tmux.key("quit", "Enter").await;
    restored(&tmux, "quit").await;

    for (signal, nick) in [("TERM", "termed"), ("HUP", "hupped")] {
        let pid_file = dir.path().join(format!("{nick}.pid"));
        let args = ["sh", script, pid_file.to_str().unwrap(), BIN, &addr, nick];
        tmux.session(nick, &args).await;
        in_full_screen(&tmux, nick).await;
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.trim().to_owned()])
            .status()
            .await
            .unwrap();
        assert!(status.success());
        restored(&tmux, nick).await;
    }
}

/// The mouse wheel scrolls back through the room, fetching older history
/// from the server at the top, and forward again to the newest line;
/// PageUp does the same from the keyboard.
#[tokio::test]
async fn the_mouse_wheel_and_page_up_scroll_back_through_history() {
    let Some(tmux) = Tmux::start("scroll") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory", "--messages-per-second", "0"]).await;
    let addr = server.addr().to_string();
    // More history than one join replays (50) and one screen shows.
    let mut writer = chatroom_testkit::Raw::login(server.addr(), "writer").await;
    for i in 1..=150 {
        writer.say_in("lobby", &format!("scroll {i:03}")).await;
    }

    tmux.session(
        "reader",
        &[BIN, "join", "--server", &addr, "--nick", "reader"],
    )
    .await;
    let screen = tmux.wait_for("reader", &["connected]", "scroll 150"]).await;
    assert!(!screen.contains("scroll 001"), "{screen}");

    // The wheel, as the terminal reports it (SGR mouse mode): ESC [ < 64 ;
    // column ; row M is one notch up, 65 one notch down.
    let wheel = |button: &str| -> Vec<String> {
        format!("\x1b[<{button};20;10M")
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let notch = |button: &'static str| {
        let tmux = &tmux;
        let bytes = wheel(button);
        async move {
            let mut args = vec!["send-keys", "-t", "reader", "-H"];
            args.extend(bytes.iter().map(String::as_str));
            tmux.run(&args).await;
        }
    };
    let start = Instant::now();
    loop {
        for _ in 0..5 {
            notch("64").await;
        }
        let screen = tmux.screen("reader").await;
        if screen.contains("scroll 001") {
            assert!(!screen.contains("scroll 150"), "{screen}");
            break;
        }
        assert!(
            start.elapsed() < SCREEN_WAIT,
            "the wheel never reached the oldest message:\n{screen}"
        );
        tokio::time::sleep(POLL).await;
    }

    // Back down to the newest line, then PageUp leaves it again.
    let start = Instant::now();
    loop {
        for _ in 0..10 {
            notch("65").await;
        }
        let screen = tmux.screen("reader").await;
        if screen.contains("scroll 150") {
            break;
        }
        assert!(
            start.elapsed() < SCREEN_WAIT,
            "the wheel never came back to the newest message:\n{screen}"
        );
        tokio::time::sleep(POLL).await;
    }
    tmux.key("reader", "PageUp").await;
    let start = Instant::now();
    loop {
        let screen = tmux.screen("reader").await;
        if !screen.contains("scroll 150") {
            break;
        }
        assert!(
            start.elapsed() < SCREEN_WAIT,
            "PageUp did not scroll back:\n{screen}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A TCP forwarder on 127.0.0.1 whose server can be swapped: it stands for
/// one address in front of servers that come and go.
struct Relay {
    addr: SocketAddr,
    state: Arc<Mutex<RelayState>>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct RelayState {
    /// Where connections go; `None` refuses them (closes them at once).
    upstream: Option<SocketAddr>,
    pipes: Vec<JoinHandle<()>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(RelayState {
            upstream: Some(upstream),
            pipes: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Some(server) = shared.lock().unwrap().upstream else {
                    continue;
                };
                let pipe = tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(server).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                shared.lock().unwrap().pipes.push(pipe);
            }
        });
        Relay {
            addr,
            state,
            accept,
        }
    }

    /// Cuts every connection and sends new ones to `upstream` (`None`:
    /// refuses them).
    fn switch(&self, upstream: Option<SocketAddr>) {
        let mut state = self.state.lock().unwrap();
        state.upstream = upstream;
        for pipe in state.pipes.drain(..) {
            pipe.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.switch(None);
    }
}

/// Issue 19, bug 1: an in-memory server restarts under a new epoch while
/// the full-screen client is connected. Everything said before, while the
/// client was away, and after it came back shows, in order: 6 + 3 + 8.
/// (The server half, ids that never repeat, makes this pass on its own;
/// the client half, lines keyed by epoch, is
/// `a_new_epoch_never_drops_messages_whose_ids_were_seen_before` in the
/// client's update tests.)
#[tokio::test]
async fn every_message_shows_after_an_in_memory_server_restarts() {
    let Some(tmux) = Tmux::start("restart") else {
        return;
    };
    let args = ["--in-memory", "--messages-per-second", "0"];
    let first = ServerProcess::start(BIN, &args).await;
    let relay = Relay::start(first.addr()).await;
    let addr = relay.addr.to_string();
    tmux.session(
        "reader",
        &[BIN, "join", "--server", &addr, "--nick", "reader"],
    )
    .await;
    tmux.wait_for("reader", &["connected]", "#lobby"]).await;
    let mut writer = Raw::login(first.addr(), "writer").await;
    for i in 1..=6 {
        writer.say(&format!("before the restart {i}")).await;
    }
    tmux.wait_for("reader", &["before the restart 6"]).await;

    // The server goes; a new one (new epoch, nothing stored) takes over the
    // address, and three lines are said before the client is back.
    relay.switch(None);
    drop(writer);
    first.signal("KILL").await;
    drop(first);
    let second = ServerProcess::start(BIN, &args).await;
    let mut writer = Raw::login(second.addr(), "writer").await;
    for i in 1..=3 {
        writer.say(&format!("while away {i}")).await;
    }
    relay.switch(Some(second.addr()));
    tmux.wait_for("reader", &["while away 3"]).await;
    for i in 1..=8 {
        writer.say(&format!("after the return {i}")).await;
    }
    let screen = tmux.wait_for("reader", &["after the return 8"]).await;
    let shown: Vec<String> = screen
        .lines()
        .filter_map(|l| {
            let at = l.find("<writer> ")?;
            Some(
                l[at + 9..]
                    .trim_end()
                    .trim_end_matches('│')
                    .trim_end()
                    .to_owned(),
            )
        })
        .collect();
    let expected: Vec<String> = (1..=6)
        .map(|i| format!("before the restart {i}"))
        .chain((1..=3).map(|i| format!("while away {i}")))
        .chain((1..=8).map(|i| format!("after the return {i}")))
        .collect();
    assert_eq!(shown, expected, "{screen}");
}

/// Issue 19, bug 4: a paste longer than the server's message limit (16 KiB,
/// from `welcome`) is refused in one line and stays in the input line; it
/// does not flood the window with its text.
#[tokio::test]
async fn an_oversized_paste_is_refused_in_one_line() {
    let Some(tmux) = Tmux::start("oversized") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    tmux.session("big", &[BIN, "join", "--server", &addr, "--nick", "big"])
        .await;
    tmux.wait_for("big", &["connected]", "#lobby"]).await;
    let paste: String = (0..400)
        .map(|i| format!("pasted log line {i:03} ........................................\n"))
        .collect();
    assert!(paste.len() > 16 * 1024);
    // Too long for a tmux command line: through a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paste.txt");
    std::fs::write(&file, &paste).unwrap();
    tmux.run(&["load-buffer", file.to_str().unwrap()]).await;
    tmux.run(&["paste-buffer", "-p", "-t", "big"]).await;
    tmux.key("big", "Enter").await;
    let screen = tmux.wait_for("big", &["too long to send"]).await;
    // Above the status line, the window; below it, the input line.
    let rows: Vec<&str> = screen.lines().collect();
    let status = rows.iter().position(|r| r.contains("[big]")).unwrap();
    assert!(
        rows[..status]
            .iter()
            .all(|r| !r.contains("pasted log line")),
        "the window does not show the text:\n{screen}"
    );
    assert!(
        rows[status + 1..]
            .iter()
            .any(|r| r.contains("pasted log line 399")),
        "kept in the input line:\n{screen}"
    );
    assert!(screen.contains("16384"), "{screen}");
}

/// Issue 19, bug 6: against a port nobody listens on, the client says why
/// it is disconnected (in the status line and, once, in the status window).
#[tokio::test]
async fn a_refused_connection_says_why() {
    let Some(tmux) = Tmux::start("refused") else {
        return;
    };
    // A socket bound but never listening: the port stays ours (no other
    // test can take it) and every connection to it is refused.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    tmux.session(
        "lonely",
        &[BIN, "join", "--server", &addr, "--nick", "lonely"],
    )
    .await;
    tmux.wait_for(
        "lonely",
        &[
            "disconnected (connection refused), retrying in",
            &format!("cannot connect to {addr}: connection refused; retrying"),
        ],
    )
    .await;
}

/// `/search` finds Chinese text in the room's stored history, `/away` is
/// seen by whoever writes (and in `/whois`), `/ignore` hides a nickname,
/// `/clear` empties the window.
#[tokio::test]
async fn search_away_whois_ignore_and_clear() {
    let Some(tmux) = Tmux::start("commands") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    let mut bob = Raw::login(server.addr(), "bob").await;
    bob.say_in("lobby", "我们在学习网络编程").await;
    bob.say_in("lobby", "something else").await;
    tmux.session("ann", &[BIN, "join", "--server", &addr, "--nick", "ann"])
        .await;
    tmux.wait_for("ann", &["connected]", "something else"])
        .await;

    for line in ["/search 网络编程", "/away back soon", "/whois bob"] {
        tmux.type_text("ann", line).await;
        tmux.key("ann", "Enter").await;
    }
    tmux.wait_for(
        "ann",
        &[
            "1 result(s) for \"网络编程\"",
            "#lobby <bob> 我们在学习网络编程",
            "you are marked away: back soon",
            "[away]",
            "bob (id ",
        ],
    )
    .await;
    bob.send_json(serde_json::json!({"type": "direct", "to": "ann", "message": "hi", "ref": 1}))
        .await;
    let away = bob.recv_type("away").await;
    assert_eq!(away["message"], "back soon");

    tmux.type_text("ann", "/ignore bob").await;
    tmux.key("ann", "Enter").await;
    tmux.wait_for("ann", &["bob's messages are hidden"]).await;
    bob.say_in("lobby", "you cannot see this").await;
    tmux.type_text("ann", "/clear").await;
    tmux.key("ann", "Enter").await;
    let start = Instant::now();
    loop {
        let screen = tmux.screen("ann").await;
        if !screen.contains("something else") {
            assert!(!screen.contains("you cannot see this"), "{screen}");
            break;
        }
        assert!(start.elapsed() < SCREEN_WAIT, "not cleared:\n{screen}");
        tokio::time::sleep(POLL).await;
    }
}

/// Direct-message windows come back when the client starts again: the
/// conversations of the account's earlier sessions, with their messages.
#[tokio::test]
async fn direct_message_windows_come_back_after_a_restart() {
    let Some(tmux) = Tmux::start("conversations") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    let password = "a-long-passphrase";
    let mut ann = Raw::login_with(
        server.addr(),
        serde_json::json!({"type": "register", "nickname": "ann", "password": password}),
    )
    .await;
    let mut bob = Raw::login(server.addr(), "bob").await;
    ann.send_json(
        serde_json::json!({"type": "direct", "to": "bob", "message": "lunch at noon?", "ref": 1}),
    )
    .await;
    ann.recv_type("ack").await;
    bob.send_json(
        serde_json::json!({"type": "direct", "to": "ann", "message": "yes, see you", "ref": 2}),
    )
    .await;
    bob.recv_type("ack").await;
    ann.send_json(serde_json::json!({"type": "logout"})).await;
    ann.until_closed().await;

    tmux.session(
        "ann",
        &[
            "env",
            &format!("ANN_PASSWORD={password}"),
            BIN,
            "join",
            "--server",
            &addr,
            "--nick",
            "ann",
            "--password-env",
            "ANN_PASSWORD",
        ],
    )
    .await;
    tmux.wait_for("ann", &["connected]", " 3 bob"]).await;
    tmux.key("ann", "M-3").await;
    tmux.wait_for(
        "ann",
        &[
            "direct messages with bob",
            "<ann> lunch at noon?",
            "<bob> yes, see you",
        ],
    )
    .await;
}

/// Alt-A jumps to the window where someone mentioned you, and the unread
/// marker there shows where the lines you have not seen begin.
#[tokio::test]
async fn alt_a_and_the_unread_marker() {
    let Some(tmux) = Tmux::start("activity") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    let mut bob = Raw::login(server.addr(), "bob").await;
    tmux.session("cy", &[BIN, "join", "--server", &addr, "--nick", "cy"])
        .await;
    tmux.wait_for("cy", &["connected]", "#lobby"]).await;
    bob.say_in("lobby", "before you left").await;
    tmux.wait_for("cy", &["<bob> before you left"]).await;
    tmux.type_text("cy", "/join rust").await;
    tmux.key("cy", "Enter").await;
    tmux.wait_for("cy", &["you joined #rust"]).await;
    bob.say_in("lobby", "cy: are you there?").await;
    tmux.wait_for("cy", &["[Act: 2!]"]).await;
    tmux.key("cy", "M-a").await;
    let screen = tmux
        .wait_for("cy", &["[2:#lobby]", "<bob> cy: are you there?"])
        .await;
    let rows: Vec<&str> = screen.lines().collect();
    let before = rows
        .iter()
        .position(|r| r.contains("before you left"))
        .unwrap();
    let marker = rows.iter().position(|r| r.contains("─ new ─")).unwrap();
    let after = rows
        .iter()
        .position(|r| r.contains("are you there"))
        .unwrap();
    assert!(before < marker && marker < after, "{screen}");
}

/// The configuration file sets the server, the nickname, the timestamp
/// format and highlight words: a highlighted line shows in the terminal's
/// title (and rings the bell) until its window is seen.
#[tokio::test]
async fn the_configuration_file_is_used() {
    let Some(tmux) = Tmux::start("config") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("client.toml");
    std::fs::write(
        &file,
        format!(
            "server = \"{}\"\nnick = \"dee\"\ntimestamp = \"%H:%M:%S\"\nhighlight = [\"deploy\"]\n\
             log_dir = \"{}\"\n",
            server.addr(),
            home.path().join("logs").display()
        ),
    )
    .unwrap();
    tmux.session("dee", &[BIN, "join", "--config", file.to_str().unwrap()])
        .await;
    tmux.wait_for("dee", &["[dee]", "connected]"]).await;
    tmux.type_text("dee", "/join ops").await;
    tmux.key("dee", "Enter").await;
    tmux.wait_for("dee", &["you joined #ops"]).await;
    let mut bob = Raw::login(server.addr(), "bob").await;
    bob.say_in("lobby", "the deploy is done").await;
    let start = Instant::now();
    loop {
        let title = tmux.format("dee", "#{pane_title}").await;
        if title.starts_with("(1!) chatroom dee@") {
            break;
        }
        assert!(start.elapsed() < SCREEN_WAIT, "title: {title}");
        tokio::time::sleep(POLL).await;
    }
    tmux.key("dee", "M-2").await;
    let screen = tmux.wait_for("dee", &["<bob> the deploy is done"]).await;
    let line = screen
        .lines()
        .find(|l| l.contains("the deploy is done"))
        .unwrap();
    let time = line.split('│').nth(1).unwrap().split(' ').next().unwrap();
    assert_eq!(time.len(), 8, "HH:MM:SS: {line}");
    // The chat log: a file for the lobby, today's, with the line in it.
    let lobby = home
        .path()
        .join("logs")
        .join(server.addr().to_string())
        .join("#lobby");
    let start = Instant::now();
    loop {
        let logged = std::fs::read_dir(&lobby)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|f| std::fs::read_to_string(f.path()).ok())
            .collect::<String>();
        if logged.contains("<bob> the deploy is done") {
            break;
        }
        assert!(
            start.elapsed() < SCREEN_WAIT,
            "not logged in {}: {logged}",
            lobby.display()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A long link wraps and reads right on screen (the OSC 8 sequences around
/// it do not show); Alt-M lets go of the mouse and takes it back.
#[tokio::test]
async fn links_show_and_alt_m_releases_the_mouse() {
    let Some(tmux) = Tmux::start("links") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    tmux.session("eve", &[BIN, "join", "--server", &addr, "--nick", "eve"])
        .await;
    tmux.wait_for("eve", &["connected]", "#lobby"]).await;
    let url = "https://example.com/docs/a-rather-long-path/that-wraps-in-the-pane/index.html?q=1";
    let mut bob = Raw::login(server.addr(), "bob").await;
    bob.say_in("lobby", &format!("docs: {url}")).await;
    let screen = tmux
        .wait_for("eve", &["<bob> docs: https://example.com"])
        .await;
    assert!(!screen.contains("]8;"), "{screen}");
    let joined: String = screen
        .lines()
        .filter_map(|l| l.split('│').nth(1))
        .map(str::trim)
        .collect();
    assert!(
        joined.contains(url),
        "the wrapped link reads whole:\n{screen}"
    );

    assert_eq!(tmux.format("eve", "#{mouse_any_flag}").await, "1");
    tmux.key("eve", "M-m").await;
    tmux.wait_for("eve", &["[mouse off]"]).await;
    assert_eq!(tmux.format("eve", "#{mouse_any_flag}").await, "0");
    tmux.key("eve", "M-m").await;
    tmux.wait_for("eve", &["the mouse scrolls and switches windows again"])
        .await;
    assert_eq!(tmux.format("eve", "#{mouse_any_flag}").await, "1");
}

/// A long line being typed wraps onto a second row of the input line
/// instead of scrolling sideways; sent, it is one message.
#[tokio::test]
async fn the_input_line_wraps() {
    let Some(tmux) = Tmux::start("wrap") else {
        return;
    };
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let addr = server.addr().to_string();
    tmux.session("fay", &[BIN, "join", "--server", &addr, "--nick", "fay"])
        .await;
    tmux.wait_for("fay", &["connected]", "#lobby"]).await;
    let text: String = (0..30).map(|i| format!("w{i:02} ")).collect::<String>() + "end";
    tmux.type_text("fay", &text).await;
    let screen = tmux.wait_for("fay", &["end"]).await;
    let rows: Vec<&str> = screen.lines().collect();
    let n = rows.len();
    assert!(rows[n - 2].starts_with("[#lobby] w00 "), "{screen}");
    assert!(rows[n - 1].trim_end().ends_with("end"), "{screen}");
    assert!(
        rows[n - 3].contains("[fay]"),
        "the status line is above:\n{screen}"
    );
    tmux.key("fay", "Enter").await;
    tmux.wait_for("fay", &["<fay> w00 w01"]).await;
}
