//! `chatroom serve` configuration with the real binary: `--print-config`
//! shows the defaults, a `--config` file's values and flags overriding the
//! file, its output reads back as a configuration file, the file's settings
//! take effect, and mistakes are refused with a clear message.

use std::path::Path;

use chatroom_testkit::{Exit, Raw, Serve};
use serde_json::json;

use crate::support::{BIN, run};

/// Every setting and its default, as `docs/operations.md` documents them.
/// Settings without a default (other listeners, TLS files, the MOTD file)
/// are absent.
const DEFAULTS: &str = r#"
allowed_origins = []
data_dir = "data"
in_memory = false
server_name = "chatroom"
server_description = "chatroom: rooms for JSON and IRC clients alike"
irc_autojoin = ["lobby"]
operators = []
opers = []
require_account = false
min_password_chars = 8
metrics = true
trusted_proxies = []

[[listeners]]
protocol = "json"
address = "127.0.0.1:8000"
tls = false

[[listeners]]
protocol = "http"
address = "127.0.0.1:8080"
tls = false

[history]
replay = 50
synchronous = "full"
cache_mib = 32
backlog = 262144
retention = "unlimited"

[history.rooms]

[limits]
max_frame_bytes = 65536
max_message_bytes = 16384
outbox_bytes = 1048576
max_connections = 10000
max_connections_per_ip = 50
login_timeout = "1m"
ping_interval = "1m 30s"
ping_timeout = "1m"
messages_per_second = 10.0
message_burst = 20
requests_per_second = 20.0
request_burst = 60
max_rooms_per_user = 50
presence_threshold = 100
shutdown_grace = "5s"
write_linger = "10ms"
registrations_per_hour = 5
rooms_per_hour = 30

[cluster]
node = "node"
lease = "10s"
stream_length = 10000
archive_length = 1000000
"#;

/// Runs `chatroom serve ARGS...`; returns the exit code, stdout and stderr.
async fn serve(args: &[&str]) -> (i32, String, String) {
    run(&[&["serve"], args].concat(), "").await
}

/// The effective configuration for these arguments, parsed.
async fn printed(args: &[&str]) -> toml::Table {
    let mut all = args.to_vec();
    all.push("--print-config");
    let (code, stdout, stderr) = serve(&all).await;
    assert_eq!(code, 0, "{stderr}");
    toml::from_str(&stdout).unwrap_or_else(|e| panic!("--print-config is not TOML: {e}\n{stdout}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The printed listeners, as (protocol, address, TLS).
fn listeners(table: &toml::Table) -> Vec<(String, String, bool)> {
    table["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["protocol"].as_str().unwrap().to_owned(),
                l["address"].as_str().unwrap().to_owned(),
                l["tls"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// `table[a][b]...` for a path of keys.
fn at<'a>(table: &'a toml::Table, path: &[&str]) -> &'a toml::Value {
    let (first, rest) = path.split_first().unwrap();
    let mut value = &table[*first];
    for key in rest {
        value = &value[*key];
    }
    value
}

#[tokio::test]
async fn print_config_shows_every_default() {
    let expected: toml::Table = toml::from_str(DEFAULTS).unwrap();
    assert_eq!(printed(&[]).await, expected);
}

#[tokio::test]
async fn a_config_file_sets_values_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "chatroom.toml",
        r#"
listen = "off"
irc_listen = "127.0.0.1:6667"
http_listen = "off"
operators = ["root", "admin"]
server_name = "irc.example"
metrics = false

[history]
replay = 7

[history.rooms]
lobby = "count=100"

[limits]
messages_per_second = 2.5
ping_interval = "30s"
max_connections_per_ip = 5
"#,
    );
    let from_file = printed(&["--config", &file]).await;
    let irc = ("irc".to_owned(), "127.0.0.1:6667".to_owned(), false);
    assert_eq!(
        listeners(&from_file),
        std::slice::from_ref(&irc),
        "the file's shortcuts: JSON and HTTP off, IRC on"
    );
    for (path, value) in [
        (&["server_name"][..], toml::Value::from("irc.example")),
        (&["history", "replay"], 7.into()),
        (&["history", "rooms", "lobby"], "count=100".into()),
        (&["limits", "messages_per_second"], 2.5.into()),
        (&["limits", "ping_interval"], "30s".into()),
        (&["limits", "max_connections_per_ip"], 5.into()),
        (&["metrics"], false.into()),
        // Not in the file: the defaults.
        (&["limits", "message_burst"], 20.into()),
        (&["data_dir"], "data".into()),
    ] {
        assert_eq!(at(&from_file, path), &value, "{path:?}");
    }
    assert_eq!(
        at(&from_file, &["operators"]),
        &toml::Value::Array(vec!["root".into(), "admin".into()])
    );

    let with_flags = printed(&[
        "--config",
        &file,
        "--listen",
        "127.0.0.1:9100",
        "--messages-per-second",
        "7",
        "--history-replay",
        "9",
        "--operator",
        "boss",
        "--room-retention",
        "rust:age=7d",
        "--metrics",
        "true",
    ])
    .await;
    assert_eq!(
        listeners(&with_flags),
        [irc, ("json".to_owned(), "127.0.0.1:9100".to_owned(), false)],
        "--listen adds the JSON listener back; IRC stays as the file said"
    );
    for (path, value) in [
        (
            &["limits", "messages_per_second"][..],
            toml::Value::from(7.0),
        ),
        (&["history", "replay"], 9.into()),
        (&["history", "rooms", "rust"], "age=7days".into()),
        (&["metrics"], true.into()),
        // What no flag touched keeps the file's value.
        (&["history", "rooms", "lobby"], "count=100".into()),
        (&["limits", "ping_interval"], "30s".into()),
    ] {
        assert_eq!(at(&with_flags, path), &value, "{path:?}");
    }
    assert_eq!(
        at(&with_flags, &["operators"]),
        &toml::Value::Array(vec!["boss".into()]),
        "--operator replaces the file's list"
    );
}

#[tokio::test]
async fn printed_config_reads_back_as_the_same_config() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--irc-listen",
        "127.0.0.1:6667",
        "--max-connections",
        "123",
        "--login-timeout",
        "2m 5s",
        "--retention",
        "count=1000,age=30d",
        "--require-account",
    ];
    let (code, stdout, stderr) = serve(&[&args[..], &["--print-config"]].concat()).await;
    assert_eq!(code, 0, "{stderr}");
    let file = write(dir.path(), "printed.toml", &stdout);
    let (code, again, stderr) = serve(&["--config", &file, "--print-config"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(again, stdout);
    let table: toml::Table = toml::from_str(&again).unwrap();
    assert_eq!(at(&table, &["limits", "login_timeout"]), &"2m 5s".into());
    assert_eq!(at(&table, &["limits", "max_connections"]), &123.into());
    assert_eq!(at(&table, &["require_account"]), &true.into());
}

#[tokio::test]
async fn unknown_keys_and_bad_values_are_refused_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    for (n, (text, says)) in [
        ("lissten = \"127.0.0.1:8000\"\n", "unknown field `lissten`"),
        (
            "[limits]\nmax_conections = 5\n",
            "unknown field `max_conections`",
        ),
        ("[limitz]\n", "unknown field `limitz`"),
        ("[limits]\nmax_connections = \"many\"\n", "invalid type"),
        ("[limits]\nmax_connections = -1\n", "max_connections"),
        (
            "[limits]\nlogin_timeout = \"soon\"\n",
            "login_timeout = \"soon\"",
        ),
        ("listen = \"localhost-ish\"\n", "expected ADDR:PORT or off"),
        ("[history]\nretention = \"forever\"\n", "retention"),
        ("listen = \"off\"\nhttp_listen = \"off\"\n", "no listener"),
        (
            "allowed_origins = [\"chat.example\"]\n",
            "an allowed origin",
        ),
        ("tls_listen = \"127.0.0.1:0\"\n", "--tls-cert"),
        (
            "[limits]\nmax_frame_bytes = 100\n",
            "max_frame_bytes must be at least 1024",
        ),
        (
            "[limits]\nmessages_per_second = -1.0\n",
            "messages_per_second must be 0 or more",
        ),
        (
            "[limits]\noutbox_bytes = 2000\n",
            "outbox_bytes must be at least max_frame_bytes",
        ),
        (
            "[history.rooms]\n\"bad room\" = \"count=5\"\n",
            "bad room name",
        ),
        ("listen = [\n", "TOML parse error"),
        (
            "min_password_chars = 0\n",
            "min_password_chars must be between 1 and 256",
        ),
        ("[cluster]\nnode = \"two words\"\n", "cluster.node"),
        (
            "[cluster]\nlease = \"10ms\"\n",
            "cluster.lease must be at least 1s",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let file = write(dir.path(), &format!("bad{n}.toml"), text);
        let (code, stdout, stderr) = serve(&["--config", &file, "--print-config"]).await;
        assert_eq!(code, 1, "{text:?} was accepted: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{text:?}: {stdout}");
        assert!(stderr.starts_with("chatroom: "), "{text:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{text:?} should say {says:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let missing = dir.path().join("missing.toml");
    let (code, _, stderr) = serve(&["--config", missing.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read the configuration file"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_redis_password_is_not_printed() {
    let table = printed(&[
        "--cluster",
        "redis://:s3cret@127.0.0.1:6379/",
        "--node-name",
        "a",
    ])
    .await;
    let cluster = &table["cluster"];
    assert_eq!(
        cluster["redis"].as_str(),
        Some("redis://:***@127.0.0.1:6379/")
    );
    assert_eq!(cluster["node"].as_str(), Some("a"));
}

#[tokio::test]
async fn bad_flag_values_are_usage_errors() {
    // clap's convention for a command line it cannot use: exit code 2.
    for (flag, value) in [
        ("--login-timeout", "soon"),
        ("--max-connections", "lots"),
        ("--listen", "nowhere"),
        ("--messages-per-second", "fast"),
    ] {
        let (code, _, stderr) = serve(&[flag, value, "--print-config"]).await;
        assert_eq!(code, 2, "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{stderr}");
    }
}

#[tokio::test]
async fn the_file_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "chatroom.toml",
        r#"
listen = "127.0.0.1:0"
irc_listen = "127.0.0.1:0"
in_memory = true

[limits]
max_message_bytes = 10
max_rooms_per_user = 2
"#,
    );
    let server = Serve::new(BIN)
        .args(&["--config", &file])
        .configured_listeners(2)
        .start()
        .await;
    let mut c = Raw::login(server.addr(), "configured").await;
    c.say_in("lobby", "ten bytes!").await;
    c.send_json(json!({"type": "broadcast", "message": "eleven bytes", "ref": 1}))
        .await;
    c.expect_error("message_too_long").await;
    c.join("one").await;
    c.send_json(json!({"type": "join", "room": "two"})).await;
    c.expect_error("too_many_rooms").await;
    // The IRC listener came from the file too.
    tokio::net::TcpStream::connect(server.irc_addr())
        .await
        .unwrap();
    let Exit { code, log } = server.stop().await;
    assert_eq!(code, Some(0), "{log}");
}
