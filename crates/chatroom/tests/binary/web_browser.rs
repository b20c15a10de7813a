//! The web client in a real browser: Debian's `chromium`, driven over
//! WebDriver (`chromedriver`, started here on 127.0.0.1 with a free port)
//! with fantoccini, against the real `chatroom serve`.
//!
//! One scene, in order: two browser sessions, a JSON client over TCP and an
//! IRC client in the lobby each see the others' messages; a message that
//! looks like HTML shows as text and runs nothing; scrolling up loads older
//! history; the server restarts on the same data directory and port and the
//! page reconnects by itself, showing what was said while it was away
//! exactly once; a 400 x 800 window shows the room list as a drawer.
//! Screenshots go to `$CHATROOM_SCREENSHOTS` when it is set (docs/web.md's
//! images are made with `CHATROOM_SCREENSHOTS=docs/img`).
//!
//! Without chromium and chromedriver the test says so loudly and passes,
//! unless `CHATROOM_E2E=require` (set by `scripts/test-all.sh`, hence CI),
//! where that is a failure. Every wait is a WebDriver wait for an element
//! (or a read of a socket) with a generous timeout; nothing sleeps.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use chatroom_testkit::{IrcRaw, Raw, ServerProcess, WAIT};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::BIN;

/// The browser and its driver, as Debian installs them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

/// Messages stored before the browsers come, so there is older history to
/// scroll to (the replay on login shows the last 50).
const BACKLOG: usize = 120;

/// Held by each browser test while it runs: browser scenes run one at a
/// time (two chromiums and their drivers per scene are plenty for the
/// machine, and drivers started together may pick the same free port).
pub(crate) static ONE_SCENE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether chromium and chromedriver are here; fails instead of skipping
/// when the end-to-end tests are required.
pub(crate) fn browser_available() -> bool {
    let found = Path::new(CHROMIUM).exists()
        && std::process::Command::new("sh")
            .args(["-c", &format!("command -v {CHROMEDRIVER}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("CHATROOM_E2E").as_deref() != Ok("require"),
            "chromium and chromedriver are required (scripts/install-test-deps.sh installs them)"
        );
        eprintln!(
            "\n*** SKIPPING the browser tests: chromium or chromedriver is not installed \
             (scripts/install-test-deps.sh installs them) ***\n"
        );
    }
    found
}

/// Starts chromedriver on a free loopback port; returns the port, the
/// process and what it prints. The port is found by binding one and letting
/// it go, so a test running beside this one may take it first: then
/// chromedriver exits at once, and another port is tried.
async fn start_chromedriver() -> (u16, Child, Lines<BufReader<ChildStdout>>) {
    for _ in 0..5 {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot run chromedriver");
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("started successfully") {
                    return true;
                }
            }
            false
        })
        .await
        .expect("chromedriver did not start in time");
        if ready {
            return (port, driver, lines);
        }
    }
    panic!("chromedriver exited before it was ready, five times");
}

/// One browser session: its chromedriver, its profile, its WebDriver client.
pub(crate) struct Browser {
    /// The WebDriver session.
    pub(crate) client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless chromium
    /// with a fresh profile and a `width` x `height` window.
    pub(crate) async fn start(width: u32, height: u32) -> Browser {
        let (port, driver, mut lines) = start_chromedriver().await;
        // Keep reading what it prints, so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-default-apps".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={width},{height}"),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        // The WebDriver client's TLS (unused on loopback http, but built)
        // needs a crypto provider chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = tokio::time::timeout(
            WAIT,
            ClientBuilder::rustls()
                .unwrap()
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .expect("chromium did not start in time")
        .expect("cannot start a browser session");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Waits for an element.
    pub(crate) async fn wait_for(&self, locator: Locator<'_>) -> fantoccini::elements::Element {
        let what = format!("{locator:?}");
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(locator)
            .await
            .unwrap_or_else(|e| panic!("never appeared: {what}: {e}"))
    }

    /// Waits for a chat line holding `text` in the shown window.
    pub(crate) async fn wait_for_line(&self, text: &str) {
        assert!(!text.contains('"'), "the XPath below quotes with \"");
        let xpath = format!(
            "//div[contains(@class,'log') and not(@hidden)]//div[contains(@class,'line') and contains(., \"{text}\")]"
        );
        self.wait_for(Locator::XPath(&xpath)).await;
    }

    /// How many chat lines in the shown window hold `text`.
    async fn count_lines(&self, text: &str) -> usize {
        let xpath = format!(
            "//div[contains(@class,'log') and not(@hidden)]//div[contains(@class,'line') and contains(., \"{text}\")]"
        );
        self.client
            .find_all(Locator::XPath(&xpath))
            .await
            .unwrap()
            .len()
    }

    /// Opens the page and logs in as `nick`.
    pub(crate) async fn login(&self, url: &str, nick: &str) {
        self.client.goto(url).await.unwrap();
        let field = self.wait_for(Locator::Id("login-nick")).await;
        field.send_keys(nick).await.unwrap();
        self.client
            .find(Locator::Id("login-submit"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for(Locator::XPath(&format!(
            "//*[@id='me' and text()='{nick}']"
        )))
        .await;
    }

    /// Types a line and presses Enter.
    pub(crate) async fn say(&self, text: &str) {
        let input = self.wait_for(Locator::Id("say-input")).await;
        input.send_keys(text).await.unwrap();
        input.send_keys(&Key::Enter.to_string()).await.unwrap();
    }

    /// Saves a screenshot as `name` in `$CHATROOM_SCREENSHOTS`, if set.
    async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("CHATROOM_SCREENSHOTS") else {
            return;
        };
        let png = self.client.screenshot().await.unwrap();
        let path = PathBuf::from(dir).join(name);
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Ends the browser session.
    pub(crate) async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// The server with a JSON, an IRC and an HTTP listener on data in `dir`,
/// on the given ports (0: any).
pub(crate) async fn serve(dir: &Path, json: u16, irc: u16, http: u16) -> ServerProcess {
    ServerProcess::start(
        BIN,
        &[
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{json}"),
            "--irc-listen",
            &format!("127.0.0.1:{irc}"),
            "--http-listen",
            &format!("127.0.0.1:{http}"),
            "--messages-per-second",
            "0",
        ],
    )
    .await
}

/// The HTTP listener's address.
pub(crate) fn http_addr(server: &ServerProcess) -> SocketAddr {
    server.listener(chatroom_server::Protocol::Http, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let _scene = ONE_SCENE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path(), 0, 0, 0).await;
    let url = format!("http://{}/", http_addr(&server));

    // History older than the replay, stored before anyone opens the page.
    let mut tom = Raw::login(server.addr(), "tom").await;
    for n in 0..BACKLOG {
        tom.send_json(json!({"type": "broadcast", "message": format!("backlog {n:03}"), "ref": n}))
            .await;
    }
    for _ in 0..BACKLOG {
        tom.recv_type("ack").await;
    }
    // IRC clients start in #lobby, like everyone.
    let mut ivy = IrcRaw::register(server.irc_addr(), "ivy", &[]).await;

    // Two browsers, a JSON client and an IRC client in the lobby.
    let ann = Browser::start(1200, 800).await;
    let ben = Browser::start(1200, 800).await;
    ann.login(&url, "ann").await;
    ben.login(&url, "ben").await;
    ann.wait_for_line("backlog 119").await;
    ann.say("hello from ann").await;
    ben.say("hello from ben").await;
    tom.say("hello from tom").await;
    ivy.send("PRIVMSG #lobby :hello from ivy").await;
    for (browser, me) in [(&ann, "ann"), (&ben, "ben")] {
        for other in ["ann", "ben", "tom", "ivy"] {
            if other != me {
                browser.wait_for_line(&format!("hello from {other}")).await;
            }
        }
    }
    let mut heard = Vec::new();
    while heard.len() < 3 {
        let frame = tom.recv().await;
        if frame["type"] == "message" {
            heard.push(frame["message"].as_str().unwrap().to_owned());
        }
    }
    heard.sort();
    assert_eq!(
        heard,
        ["hello from ann", "hello from ben", "hello from ivy"]
    );
    let mut heard = Vec::new();
    while heard.len() < 3 {
        let m = ivy.recv().await;
        if m.command == "PRIVMSG" {
            heard.push(m.params[1].clone());
        }
    }
    heard.sort();
    assert_eq!(
        heard,
        ["hello from ann", "hello from ben", "hello from tom"]
    );

    // HTML in a message is text: shown as typed, no element made, nothing run.
    let html = "<img src=x onerror=alert(1)>";
    tom.say(html).await;
    ann.wait_for_line(html).await;
    let images = ann
        .client
        .find_all(Locator::Css("#logs img"))
        .await
        .unwrap();
    assert!(images.is_empty(), "the message became an element");
    assert!(
        ann.client.get_alert_text().await.is_err(),
        "the message ran a script"
    );
    ann.screenshot("web-chat.png").await;

    // Scrolling up loads older pages until the first message.
    while ann.count_lines("backlog 000").await == 0 {
        let first = ann
            .client
            .execute(
                "const log = document.querySelector('.log:not([hidden])'); \
                 const first = log.querySelector('.line[data-id]').dataset.id; \
                 log.scrollTop = 0; log.dispatchEvent(new Event('scroll')); return first;",
                vec![],
            )
            .await
            .unwrap();
        let first = first.as_str().unwrap().to_owned();
        // The page has arrived once the first line is an older one.
        ann.wait_for(Locator::XPath(&format!(
            "(//div[contains(@class,'log') and not(@hidden)]//div[@data-id])[1][not(@data-id='{first}')]"
        )))
        .await;
    }
    ann.wait_for_line("backlog 000").await;
    assert_eq!(ann.count_lines("backlog 000").await, 1);
    assert_eq!(ann.count_lines("backlog 119").await, 1);

    // The server restarts on the same data and ports; what is said while
    // the page is away shows once when it is back.
    let (json_port, irc_port, http_port) = (
        server.addr().port(),
        server.irc_addr().port(),
        http_addr(&server).port(),
    );
    drop((tom, ivy));
    let exit = server.stop().await;
    assert_eq!(exit.code, Some(0), "{}", exit.log);
    ann.wait_for(Locator::XPath(
        "//*[@id='status' and contains(., 'reconnecting')]",
    ))
    .await;
    let server = serve(data.path(), json_port, irc_port, http_port).await;
    let mut tom = Raw::login(server.addr(), "tom").await;
    tom.say("said while you were away").await;
    ann.wait_for_line("said while you were away").await;
    tom.say("and after that").await;
    ann.wait_for_line("and after that").await;
    assert_eq!(ann.count_lines("said while you were away").await, 1);
    assert_eq!(ann.count_lines("hello from ben").await, 1);
    ann.close().await;
    ben.close().await;

    // A phone-sized window: the room list is a drawer behind a button.
    // Headless chromium starts no narrower than 500 px; resizing the
    // window afterwards gives the page its 400.
    let phone = Browser::start(400, 800).await;
    phone.client.set_window_size(400, 800).await.unwrap();
    let width = phone
        .client
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(width, 400, "the page is not 400 px wide");
    phone.login(&url, "pia").await;
    let open = phone.wait_for(Locator::Id("drawer-open")).await;
    assert!(open.is_displayed().await.unwrap());
    phone.screenshot("web-phone.png").await;
    open.click().await.unwrap();
    phone
        .wait_for(Locator::XPath("//body[contains(@class,'drawer-open')]"))
        .await;
    phone
        .wait_for(Locator::XPath(
            "//ul[@id='room-list']//button[contains(., '#lobby')]",
        ))
        .await;
    phone.screenshot("web-phone-drawer.png").await;
    phone.close().await;
    let exit = server.stop().await;
    assert_eq!(exit.code, Some(0), "{}", exit.log);
}
