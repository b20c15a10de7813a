//! The server's effective configuration: built-in defaults, then the TOML
//! file given with `--config`, then command-line flags (each flag overrides
//! the file). `--print-config` prints the result as a TOML file that can be
//! used as `--config` as is.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use chatroom_server::Config;
use chatroom_server::accounts::OperCredentials;
use chatroom_server::cluster::ClusterSettings;
use chatroom_server::store::{Location, Retention, RetentionPolicy, RoomRetention, Synchronous};
use serde::{Deserialize, Serialize};

/// A listener address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Listen here.
    At(SocketAddr),
    /// Do not listen (e.g. only TLS).
    Off,
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(Endpoint::Off);
        }
        s.parse()
            .map(Endpoint::At)
            .map_err(|e| format!("expected ADDR:PORT or off, got {s:?}: {e}"))
    }
}

impl Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::At(addr) => addr.fmt(f),
            Endpoint::Off => f.write_str("off"),
        }
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        as_text::deserialize(d)
    }
}

/// What a listener's clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerProtocol {
    /// The JSON protocol.
    Json,
    /// IRC.
    Irc,
    /// HTTP: the web client, and both protocols over WebSocket at `/ws`.
    Http,
}

/// One `[[listeners]]` entry: an address, what its clients speak, whether
/// over TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSpec {
    /// What its clients speak.
    pub protocol: ListenerProtocol,
    /// Where it listens.
    pub address: SocketAddr,
    /// Whether clients speak TLS (needs `tls_cert` and `tls_key`).
    #[serde(default)]
    pub tls: bool,
}

/// The listener addresses as single settings, the way the flags (and
/// earlier configuration files) give them: each sets, adds or (`off`)
/// removes the listener of its protocol and TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerShortcuts {
    /// Plaintext JSON clients, or `off`.
    pub listen: Option<Endpoint>,
    /// Plaintext IRC clients.
    pub irc_listen: Option<SocketAddr>,
    /// JSON clients over TLS.
    pub tls_listen: Option<SocketAddr>,
    /// IRC clients over TLS.
    pub irc_tls_listen: Option<SocketAddr>,
    /// Plain HTTP (the web client), or `off`.
    pub http_listen: Option<Endpoint>,
    /// HTTPS.
    pub https_listen: Option<SocketAddr>,
}

/// A duration written the human way (`90s`, `5m`, `1h 30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = humantime::DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s).map(Span)
    }
}

impl Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

/// Serde through `Display`/`FromStr`, for values written as strings.
mod as_text {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde through `Display`/`FromStr` for a map's values.
mod map_as_text {
    use std::collections::BTreeMap;
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(
        map: &BTreeMap<String, T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(k, v)| (k, v.to_string())))
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<BTreeMap<String, T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| v.parse().map(|v| (k, v)).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Everything `chatroom serve` can be told, with its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where clients connect, and what they speak there.
    pub listeners: Vec<ListenerSpec>,
    /// Plaintext JSON clients, or `off`: a shortcut a file may give instead
    /// of `listeners` (applied when the file is read; never printed).
    #[serde(skip_serializing)]
    pub listen: Option<Endpoint>,
    /// Plaintext IRC clients (a shortcut, as `listen`).
    #[serde(skip_serializing)]
    pub irc_listen: Option<SocketAddr>,
    /// JSON clients over TLS (a shortcut, as `listen`).
    #[serde(skip_serializing)]
    pub tls_listen: Option<SocketAddr>,
    /// IRC clients over TLS (a shortcut, as `listen`).
    #[serde(skip_serializing)]
    pub irc_tls_listen: Option<SocketAddr>,
    /// The web client over plain HTTP, or `off` (a shortcut, as `listen`).
    #[serde(skip_serializing)]
    pub http_listen: Option<Endpoint>,
    /// The web client over HTTPS (a shortcut, as `listen`).
    #[serde(skip_serializing)]
    pub https_listen: Option<SocketAddr>,
    /// Web pages besides the server's own that may open WebSockets to it
    /// (`https://chat.example`).
    pub allowed_origins: Vec<String>,
    /// Reverse proxies in front of the HTTP listener whose
    /// `X-Forwarded-For` is believed (`127.0.0.1`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// Keep history in memory only.
    pub in_memory: bool,
    /// The server's name on IRC.
    pub server_name: String,
    /// What the server is, in a few words (IRC WHOIS, LINKS).
    pub server_description: String,
    /// A file whose lines are the IRC message of the day.
    pub motd_file: Option<PathBuf>,
    /// How to reach the server's administrators (IRC `ADMIN`).
    pub admin_contact: Option<String>,
    /// Rooms IRC users start in (`["lobby"]`; `[]` for none).
    pub irc_autojoin: Vec<String>,
    /// The server password IRC clients give with `PASS` (none by default).
    /// Never printed by `--print-config`.
    #[serde(skip_serializing)]
    pub irc_password: Option<String>,
    /// Accounts that are operators.
    pub operators: Vec<String>,
    /// Operators by name and password (`OPER`).
    pub opers: Vec<OperEntry>,
    /// Whether every login needs an account.
    pub require_account: bool,
    /// Shortest password a new account may have.
    pub min_password_chars: usize,
    /// Whether the HTTP listeners answer `GET /metrics`.
    pub metrics: bool,
    /// History replay and retention.
    pub history: HistorySettings,
    /// Limits and timeouts.
    pub limits: LimitSettings,
    /// Several nodes sharing one chat through Redis.
    pub cluster: ClusterTable,
}

/// Writes a Redis URL with any password in it as `***`.
fn redacted_url<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => s.serialize_str(&chatroom_server::cluster::redacted(url)),
        None => s.serialize_none(),
    }
}

/// The `[cluster]` table: this server as one node of several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterTable {
    /// The Redis server the nodes meet through (`redis://host:port/`, or
    /// `redis://:PASSWORD@host:port/`); absent: a single node, no Redis.
    /// `--print-config` shows a password in it as `***`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "redacted_url"
    )]
    pub redis: Option<String>,
    /// Entries each room's stream keeps (about): how far back a node that
    /// lost its subscription catches up.
    pub stream_length: usize,
    /// Entries the archive stream keeps (about): how long a node may be
    /// down and still copy every message into its history.
    pub archive_length: usize,
    /// This node's name, different on every node and the same across its
    /// restarts.
    pub node: String,
    /// How long a node's nicknames outlive it if it dies.
    #[serde(with = "as_text")]
    pub lease: Span,
}

impl Default for ClusterTable {
    fn default() -> Self {
        let defaults = chatroom_server::cluster::ClusterSettings::new("", "node");
        ClusterTable {
            redis: None,
            node: defaults.name,
            lease: Span(defaults.lease),
            stream_length: defaults.stream_length,
            archive_length: defaults.archive_length,
        }
    }
}

/// An `[[opers]]` entry: a server operator's name and password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperEntry {
    /// The name given to `OPER`.
    pub name: String,
    /// The argon2 hash of the password (`chatroom passwd` prints one).
    pub password_hash: String,
}

/// `--oper NAME:PASSWORD` as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperFlag {
    name: String,
    password: String,
}

impl FromStr for OperFlag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((name, password))
                if !name.is_empty()
                    && !password.is_empty()
                    && !name.contains(char::is_whitespace) =>
            {
                Ok(OperFlag {
                    name: name.to_owned(),
                    password: password.to_owned(),
                })
            }
            _ => Err("expected NAME:PASSWORD (a name without spaces, a password)".to_owned()),
        }
    }
}

/// How a commit reaches the disk (`synchronous` in SQLite's words).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Synced to the disk before a message is acknowledged: survives power
    /// cuts.
    #[default]
    Full,
    /// Synced at checkpoints only: an acknowledged message survives the
    /// server being killed, but a power cut may lose the last commits.
    Normal,
}

impl SyncMode {
    fn store(self) -> Synchronous {
        match self {
            SyncMode::Full => Synchronous::Full,
            SyncMode::Normal => Synchronous::Normal,
        }
    }
}

/// History settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySettings {
    /// Messages replayed on join.
    pub replay: u32,
    /// How commits reach the disk.
    pub synchronous: SyncMode,
    /// The history writer's page cache in MiB; each reader thread gets half.
    pub cache_mib: u32,
    /// Messages that may wait to be stored before chat messages are
    /// refused until the store catches up (0: no limit).
    pub backlog: u64,
    /// Retention for every room: `count=N`, `age=D`, both, or `unlimited`.
    #[serde(with = "as_text")]
    pub retention: RetentionPolicy,
    /// Per-room retention, by room name.
    #[serde(with = "map_as_text")]
    pub rooms: BTreeMap<String, RetentionPolicy>,
}

/// Limits and timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest client frame, in bytes.
    pub max_frame_bytes: usize,
    /// Longest message, in bytes (0: none beyond the frame size).
    pub max_message_bytes: usize,
    /// Unwritten bytes queued per client before it is a slow consumer.
    pub outbox_bytes: usize,
    /// Connections at once (0: no limit).
    pub max_connections: usize,
    /// Connections at once per IP address (0: no limit).
    pub max_connections_per_ip: usize,
    /// Time to log in.
    #[serde(with = "as_text")]
    pub login_timeout: Span,
    /// Silence before a ping.
    #[serde(with = "as_text")]
    pub ping_interval: Span,
    /// Time to answer a ping.
    #[serde(with = "as_text")]
    pub ping_timeout: Span,
    /// Chat messages per second per connection (0: no limit).
    pub messages_per_second: f64,
    /// Chat messages allowed in a burst.
    pub message_burst: u32,
    /// Other requests per second per connection, in cost units (0: no limit).
    pub requests_per_second: f64,
    /// Cost units of other requests allowed in a burst.
    pub request_burst: u32,
    /// Rooms per user (0: no limit).
    pub max_rooms_per_user: usize,
    /// Rooms this large get presence summaries (0: never).
    pub presence_threshold: usize,
    /// How long shutdown waits for goodbyes.
    #[serde(with = "as_text")]
    pub shutdown_grace: Span,
    /// How long frames for a recently written client wait to go out together.
    #[serde(with = "as_text")]
    pub write_linger: Span,
    /// Accounts one address may register an hour (0: no limit).
    pub registrations_per_hour: u32,
    /// Rooms one address may create an hour (0: no limit).
    pub rooms_per_hour: u32,
}

impl Default for Settings {
    fn default() -> Self {
        let config = Config::default();
        Settings {
            listeners: vec![
                ListenerSpec {
                    protocol: ListenerProtocol::Json,
                    address: SocketAddr::from(([127, 0, 0, 1], 8000)),
                    tls: false,
                },
                ListenerSpec {
                    protocol: ListenerProtocol::Http,
                    address: SocketAddr::from(([127, 0, 0, 1], 8080)),
                    tls: false,
                },
            ],
            listen: None,
            irc_listen: None,
            tls_listen: None,
            irc_tls_listen: None,
            http_listen: None,
            https_listen: None,
            allowed_origins: config.allowed_origins,
            trusted_proxies: config.trusted_proxies,
            tls_cert: None,
            tls_key: None,
            data_dir: PathBuf::from("data"),
            in_memory: false,
            server_name: config.server_name,
            server_description: config.server_description,
            motd_file: None,
            admin_contact: None,
            irc_autojoin: config.irc_autojoin,
            irc_password: None,
            operators: Vec::new(),
            opers: Vec::new(),
            require_account: false,
            min_password_chars: chatroom_server::accounts::MIN_PASSWORD_CHARS,
            metrics: config.metrics,
            cluster: ClusterTable::default(),
            history: HistorySettings {
                replay: config.history_replay,
                synchronous: SyncMode::default(),
                cache_mib: config.history_cache_mib,
                backlog: config.history_backlog,
                retention: config.retention.default,
                rooms: BTreeMap::new(),
            },
            limits: LimitSettings {
                max_frame_bytes: config.max_frame_bytes,
                max_message_bytes: config.max_message_bytes,
                outbox_bytes: config.outbox_bytes,
                max_connections: config.max_connections,
                max_connections_per_ip: config.max_connections_per_ip,
                login_timeout: Span(config.login_timeout),
                ping_interval: Span(config.ping_interval),
                ping_timeout: Span(config.ping_timeout),
                messages_per_second: config.messages_per_second,
                message_burst: config.message_burst,
                requests_per_second: config.requests_per_second,
                request_burst: config.request_burst,
                max_rooms_per_user: config.max_rooms_per_user,
                presence_threshold: config.presence_threshold,
                shutdown_grace: Span(config.shutdown_grace),
                write_linger: Span(config.write_linger),
                registrations_per_hour: config.registrations_per_hour,
                rooms_per_hour: config.rooms_per_hour,
            },
        }
    }
}

impl Default for HistorySettings {
    fn default() -> Self {
        Settings::default().history
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Settings::default().limits
    }
}

/// The command-line flags of `chatroom serve`; each one given overrides the
/// configuration file.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see --print-config for every setting).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (defaults, file and flags) as TOML
    /// and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address for JSON clients, or `off` [default: 127.0.0.1:8000].
    #[arg(long, value_name = "ADDR:PORT|off")]
    pub listen: Option<Endpoint>,
    /// Also listen for IRC clients here (e.g. 127.0.0.1:6667).
    #[arg(long, value_name = "ADDR:PORT")]
    pub irc_listen: Option<SocketAddr>,
    /// Listen for JSON clients over TLS here (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR:PORT")]
    pub tls_listen: Option<SocketAddr>,
    /// Listen for IRC clients over TLS here (e.g. 0.0.0.0:6697).
    #[arg(long, value_name = "ADDR:PORT")]
    pub irc_tls_listen: Option<SocketAddr>,
    /// Address for the web client (HTTP, and WebSocket at /ws for JSON and
    /// IRC clients), or `off` [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT|off")]
    pub http_listen: Option<Endpoint>,
    /// Serve the web client over HTTPS here (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR:PORT")]
    pub https_listen: Option<SocketAddr>,
    /// A web page's origin (e.g. https://chat.example) allowed to open
    /// WebSockets besides the server's own; repeatable.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// The address of a reverse proxy (nginx, Caddy) in front of the HTTP
    /// listener: its X-Forwarded-For names the client, whose address then
    /// counts for per-address limits and bans; repeatable.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The TLS certificate chain, PEM (`chatroom cert` makes a self-signed one).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key, PEM.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Directory for the database (chatroom.db and its message index index.db, SQLite in WAL mode) [default: data].
    #[arg(long, value_name = "DIR", conflicts_with = "in_memory")]
    pub data_dir: Option<PathBuf>,
    /// Keep history in memory only: it is gone when the server stops.
    #[arg(long)]
    pub in_memory: bool,
    /// The server's name on IRC [default: chatroom].
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// What the server is, in a few words, as IRC's WHOIS and LINKS show
    /// it [default: chatroom: rooms for JSON and IRC clients alike].
    #[arg(long, value_name = "TEXT")]
    pub server_description: Option<String>,
    /// The rooms IRC users start in, comma-separated (`""` for none, as on
    /// other IRC servers) [default: lobby].
    #[arg(long, value_name = "ROOMS")]
    pub irc_autojoin: Option<String>,
    /// A server password IRC clients must give with PASS before
    /// registering (a shared secret for a private server; with it, PASS
    /// is no longer an account's password).
    #[arg(long, value_name = "PASSWORD")]
    pub irc_password: Option<String>,
    /// A file whose lines are the IRC message of the day.
    #[arg(long = "motd", value_name = "FILE")]
    pub motd_file: Option<PathBuf>,
    /// How to reach the server's administrators, e.g. an email address
    /// (IRC clients see it with ADMIN).
    #[arg(long, value_name = "TEXT")]
    pub admin_contact: Option<String>,
    /// An account that is an operator (may kick, kill, ban, set any topic); repeatable.
    #[arg(long = "operator", value_name = "NICK")]
    pub operators: Vec<String>,
    /// A server operator by name and password, for `OPER NAME PASSWORD`;
    /// repeatable. The password is hashed at start; a configuration file's
    /// `[[opers]]` entries keep only hashes (`chatroom passwd`), which is
    /// safer than a password in the process list.
    #[arg(long = "oper", value_name = "NAME:PASSWORD")]
    pub opers: Vec<OperFlag>,
    /// Refuse logins without an account.
    #[arg(long)]
    pub require_account: bool,
    /// Shortest password a new account may have, in characters [default: 8].
    #[arg(long, value_name = "N")]
    pub min_password_chars: Option<usize>,
    /// Whether the HTTP listeners serve GET /metrics (counts in the
    /// Prometheus text format, nothing about any one person) [default: true].
    #[arg(long, value_name = "true|false")]
    pub metrics: Option<bool>,
    /// Be one node of a cluster that meets through this Redis server
    /// (`redis://127.0.0.1:6379/`): users on every node share rooms,
    /// nicknames and direct messages. Give each node its own --node-name.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// This node's name in the cluster: different on every node, the same
    /// across its restarts [default: node].
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// How long a dead node's nicknames stay taken [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub cluster_lease: Option<Span>,
    /// How many stored messages joining a room replays [default: 50].
    #[arg(long, value_name = "N")]
    pub history_replay: Option<u32>,
    /// When a message is acknowledged: `full` once synced to the disk
    /// (survives power cuts), `normal` once written to the operating system
    /// (survives the server being killed) [default: full].
    #[arg(long, value_name = "MODE")]
    pub synchronous: Option<SyncMode>,
    /// Memory the history store may use for its page cache, in MiB: the
    /// writer's, and half as much for each of its two reader threads
    /// [default: 32].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub history_cache_mib: Option<u32>,
    /// Messages that may wait to be stored (committed and indexed) before
    /// new chat messages are refused as the server being busy until the
    /// store catches up: an overload the disk cannot keep up with is
    /// refused in part instead of filling memory; 0 for no limit
    /// [default: 262144].
    #[arg(long, value_name = "N")]
    pub history_backlog: Option<u64>,
    /// How long history is kept in every room (direct messages: by age):
    /// `count=N`, `age=DURATION`, both, or `unlimited` [default: unlimited].
    #[arg(long, value_name = "POLICY")]
    pub retention: Option<RetentionPolicy>,
    /// A room's own retention, e.g. `lobby:count=1000`; repeatable.
    #[arg(long, value_name = "ROOM:POLICY")]
    pub room_retention: Vec<RoomRetention>,
    /// Largest client frame in bytes; a bigger one closes the connection [default: 65536].
    #[arg(long, value_name = "BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Longest message text in bytes, 0 for no limit below the frame size [default: 16384].
    #[arg(long, value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Unwritten bytes queued per client before it is disconnected as a slow
    /// consumer [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub outbox_bytes: Option<usize>,
    /// Connections at once, 0 for no limit [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Connections at once from one IP address, 0 for no limit [default: 50].
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: Option<usize>,
    /// A connection must log in within this long [default: 1m].
    #[arg(long, value_name = "DURATION")]
    pub login_timeout: Option<Span>,
    /// A silent client is pinged after this long [default: 1m 30s].
    #[arg(long, value_name = "DURATION")]
    pub ping_interval: Option<Span>,
    /// A ping must be answered within this long [default: 1m].
    #[arg(long, value_name = "DURATION")]
    pub ping_timeout: Option<Span>,
    /// Chat messages per second per connection, 0 for no limit [default: 10].
    #[arg(long, value_name = "RATE")]
    pub messages_per_second: Option<f64>,
    /// Chat messages allowed in one burst [default: 20].
    #[arg(long, value_name = "N")]
    pub message_burst: Option<u32>,
    /// Other requests per second per connection, in cost units (a query 1,
    /// a join 5, a nickname or topic change 10, a history page up to 21),
    /// 0 for no limit [default: 20].
    #[arg(long, value_name = "RATE")]
    pub requests_per_second: Option<f64>,
    /// Cost units of other requests allowed in one burst (at least 25)
    /// [default: 60].
    #[arg(long, value_name = "N")]
    pub request_burst: Option<u32>,
    /// Rooms one user may be in at once, 0 for no limit [default: 50].
    #[arg(long, value_name = "N")]
    pub max_rooms_per_user: Option<usize>,
    /// Rooms with at least this many members announce joins and leaves in
    /// one summary a second instead of one notice each; 0 for never
    /// [default: 100].
    #[arg(long, value_name = "N")]
    pub presence_threshold: Option<usize>,
    /// How long shutdown waits for clients to receive their goodbye [default: 5s].
    #[arg(long, value_name = "DURATION")]
    pub shutdown_grace: Option<Span>,
    /// When a client's traffic is dense, frames for it queued within this
    /// long after a write wait and go out in one write: fewer system calls
    /// under load, at most this much added latency; sparse traffic and
    /// replies to a client's requests never wait [default: 10ms].
    #[arg(long, value_name = "DURATION")]
    pub write_linger: Option<Span>,
    /// Accounts one address (an IPv6 /64) may register an hour, 0 for no
    /// limit [default: 5].
    #[arg(long, value_name = "N")]
    pub registrations_per_hour: Option<u32>,
    /// Rooms one address (an IPv6 /64) may create an hour, 0 for no limit
    /// [default: 30].
    #[arg(long, value_name = "N")]
    pub rooms_per_hour: Option<u32>,
}

impl Settings {
    /// Defaults, then the file (if any), then the flags.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Settings> {
        let mut settings = match &args.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        settings.apply(args);
        for oper in &args.opers {
            let password_hash = chatroom_server::accounts::hash_password(&oper.password)
                .context("cannot hash an --oper password")?;
            settings.opers.retain(|o| o.name != oper.name);
            settings.opers.push(OperEntry {
                name: oper.name.clone(),
                password_hash,
            });
        }
        settings.check()?;
        Ok(settings)
    }

    fn from_file(path: &Path) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        let mut settings: Settings = toml::from_str(&text)
            .with_context(|| format!("bad configuration file {}", path.display()))?;
        let shortcuts = ListenerShortcuts {
            listen: settings.listen.take(),
            irc_listen: settings.irc_listen.take(),
            tls_listen: settings.tls_listen.take(),
            irc_tls_listen: settings.irc_tls_listen.take(),
            http_listen: settings.http_listen.take(),
            https_listen: settings.https_listen.take(),
        };
        settings.apply_shortcuts(&shortcuts);
        Ok(settings)
    }

    fn apply(&mut self, args: &ServeArgs) {
        fn set<T: Clone>(slot: &mut T, flag: &Option<T>) {
            if let Some(value) = flag {
                *slot = value.clone();
            }
        }
        self.apply_shortcuts(&ListenerShortcuts {
            listen: args.listen,
            irc_listen: args.irc_listen,
            tls_listen: args.tls_listen,
            irc_tls_listen: args.irc_tls_listen,
            http_listen: args.http_listen,
            https_listen: args.https_listen,
        });
        if !args.allowed_origins.is_empty() {
            self.allowed_origins.clone_from(&args.allowed_origins);
        }
        if !args.trusted_proxies.is_empty() {
            self.trusted_proxies.clone_from(&args.trusted_proxies);
        }
        if args.tls_cert.is_some() {
            self.tls_cert.clone_from(&args.tls_cert);
        }
        if args.tls_key.is_some() {
            self.tls_key.clone_from(&args.tls_key);
        }
        set(&mut self.data_dir, &args.data_dir);
        self.in_memory |= args.in_memory;
        set(&mut self.server_name, &args.server_name);
        set(&mut self.server_description, &args.server_description);
        if let Some(rooms) = &args.irc_autojoin {
            self.irc_autojoin = rooms
                .split(',')
                .map(|r| r.trim().trim_start_matches('#').to_owned())
                .filter(|r| !r.is_empty())
                .collect();
        }
        if args.irc_password.is_some() {
            self.irc_password.clone_from(&args.irc_password);
        }
        if args.motd_file.is_some() {
            self.motd_file.clone_from(&args.motd_file);
        }
        if args.admin_contact.is_some() {
            self.admin_contact.clone_from(&args.admin_contact);
        }
        if !args.operators.is_empty() {
            self.operators.clone_from(&args.operators);
        }
        self.require_account |= args.require_account;
        set(&mut self.min_password_chars, &args.min_password_chars);
        set(&mut self.metrics, &args.metrics);
        if args.cluster.is_some() {
            self.cluster.redis.clone_from(&args.cluster);
        }
        set(&mut self.cluster.node, &args.node_name);
        set(&mut self.cluster.lease, &args.cluster_lease);
        set(&mut self.history.replay, &args.history_replay);
        set(&mut self.history.synchronous, &args.synchronous);
        set(&mut self.history.cache_mib, &args.history_cache_mib);
        set(&mut self.history.backlog, &args.history_backlog);
        set(&mut self.history.retention, &args.retention);
        for room in &args.room_retention {
            self.history
                .rooms
                .insert(room.room_key.clone(), room.policy);
        }
        let limits = &mut self.limits;
        set(&mut limits.max_frame_bytes, &args.max_frame_bytes);
        set(&mut limits.max_message_bytes, &args.max_message_bytes);
        set(&mut limits.outbox_bytes, &args.outbox_bytes);
        set(&mut limits.max_connections, &args.max_connections);
        set(
            &mut limits.max_connections_per_ip,
            &args.max_connections_per_ip,
        );
        set(&mut limits.login_timeout, &args.login_timeout);
        set(&mut limits.ping_interval, &args.ping_interval);
        set(&mut limits.ping_timeout, &args.ping_timeout);
        set(&mut limits.messages_per_second, &args.messages_per_second);
        set(&mut limits.message_burst, &args.message_burst);
        set(&mut limits.requests_per_second, &args.requests_per_second);
        set(&mut limits.request_burst, &args.request_burst);
        set(&mut limits.max_rooms_per_user, &args.max_rooms_per_user);
        set(&mut limits.presence_threshold, &args.presence_threshold);
        set(&mut limits.shutdown_grace, &args.shutdown_grace);
        set(&mut limits.write_linger, &args.write_linger);
        set(
            &mut limits.registrations_per_hour,
            &args.registrations_per_hour,
        );
        set(&mut limits.rooms_per_hour, &args.rooms_per_hour);
    }

    /// Sets, adds or removes the listeners the shortcuts name.
    fn apply_shortcuts(&mut self, shortcuts: &ListenerShortcuts) {
        let endpoint = |endpoint: Option<Endpoint>| {
            endpoint.map(|endpoint| match endpoint {
                Endpoint::At(addr) => Some(addr),
                Endpoint::Off => None,
            })
        };
        let changes = [
            (ListenerProtocol::Json, false, endpoint(shortcuts.listen)),
            (ListenerProtocol::Irc, false, shortcuts.irc_listen.map(Some)),
            (ListenerProtocol::Json, true, shortcuts.tls_listen.map(Some)),
            (
                ListenerProtocol::Irc,
                true,
                shortcuts.irc_tls_listen.map(Some),
            ),
            (
                ListenerProtocol::Http,
                false,
                endpoint(shortcuts.http_listen),
            ),
            (
                ListenerProtocol::Http,
                true,
                shortcuts.https_listen.map(Some),
            ),
        ];
        for (protocol, tls, change) in changes {
            let Some(address) = change else { continue };
            self.listeners
                .retain(|l| !(l.protocol == protocol && l.tls == tls));
            if let Some(address) = address {
                self.listeners.push(ListenerSpec {
                    protocol,
                    address,
                    tls,
                });
            }
        }
    }

    /// Catches settings that cannot work together.
    fn check(&self) -> anyhow::Result<()> {
        let wants_tls = self.listeners.iter().any(|l| l.tls);
        if wants_tls && (self.tls_cert.is_none() || self.tls_key.is_none()) {
            bail!("a TLS listener needs --tls-cert and --tls-key (chatroom cert makes a pair)");
        }
        if self.listeners.is_empty() {
            bail!("no listener: --listen and --http-listen are off and no other listener is set");
        }
        for origin in &self.allowed_origins {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if rest.is_none_or(|rest| rest.is_empty() || rest.trim_end_matches('/').contains('/')) {
                bail!(
                    "an allowed origin is a scheme and a host, like https://chat.example: {origin:?}"
                );
            }
        }
        for room in &self.irc_autojoin {
            if let Err(e) = chatroom_proto::room::validate(room) {
                bail!("irc_autojoin: {room:?} is not a room name: {e}");
            }
        }
        for (name, rate) in [
            ("messages_per_second", self.limits.messages_per_second),
            ("requests_per_second", self.limits.requests_per_second),
        ] {
            if !(rate >= 0.0 && rate.is_finite()) {
                bail!("{name} must be 0 or more");
            }
        }
        // Zero would close every connection at once, or ping without end.
        for (name, span) in [
            ("login_timeout", self.limits.login_timeout),
            ("ping_interval", self.limits.ping_interval),
            ("ping_timeout", self.limits.ping_timeout),
        ] {
            if span.0.is_zero() {
                bail!("{name} must be more than zero");
            }
        }
        if self.cluster.lease.0 < std::time::Duration::from_secs(1) {
            bail!("cluster.lease must be at least 1s");
        }
        if !chatroom_server::cluster::valid_node_name(&self.cluster.node) {
            bail!(
                "cluster.node {:?} must be 1-64 letters, digits, '-', '_' or '.'",
                self.cluster.node
            );
        }
        if self.cluster.stream_length < 100 || self.cluster.archive_length < 1000 {
            bail!(
                "cluster.stream_length must be at least 100 and cluster.archive_length at least 1000"
            );
        }
        if !(1..=65536).contains(&self.history.cache_mib) {
            bail!("history.cache_mib must be between 1 and 65536");
        }
        if !(1..=chatroom_server::accounts::MAX_PASSWORD_BYTES).contains(&self.min_password_chars) {
            bail!(
                "min_password_chars must be between 1 and {}",
                chatroom_server::accounts::MAX_PASSWORD_BYTES
            );
        }
        if self.limits.max_frame_bytes < 1024 {
            bail!("max_frame_bytes must be at least 1024");
        }
        if self.limits.outbox_bytes < self.limits.max_frame_bytes {
            bail!("outbox_bytes must be at least max_frame_bytes, or no message would fit");
        }
        for oper in &self.opers {
            if oper.name.is_empty() || oper.name.contains(char::is_whitespace) {
                bail!(
                    "an [[opers]] name must be a word without spaces: {:?}",
                    oper.name
                );
            }
            if !oper.password_hash.starts_with("$argon2") {
                bail!(
                    "the [[opers]] entry {:?} needs a password_hash made by `chatroom passwd`",
                    oper.name
                );
            }
        }
        for room in self.history.rooms.keys() {
            chatroom_proto::room::validate(room)
                .with_context(|| format!("bad room name {room:?} in [history.rooms]"))?;
        }
        Ok(())
    }

    /// The effective configuration as a TOML file.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }

    /// The server library's configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        let motd = match &self.motd_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the MOTD file {}", path.display()))?
                .lines()
                .map(str::to_owned)
                .collect(),
            None => chatroom_server::default_motd(),
        };
        let limits = &self.limits;
        Ok(Config {
            max_frame_bytes: limits.max_frame_bytes,
            max_message_bytes: limits.max_message_bytes,
            outbox_bytes: limits.outbox_bytes,
            max_connections: limits.max_connections,
            max_connections_per_ip: limits.max_connections_per_ip,
            login_timeout: limits.login_timeout.0,
            ping_interval: limits.ping_interval.0,
            ping_timeout: limits.ping_timeout.0,
            messages_per_second: limits.messages_per_second,
            message_burst: limits.message_burst,
            requests_per_second: limits.requests_per_second,
            request_burst: limits.request_burst,
            max_rooms_per_user: limits.max_rooms_per_user,
            presence_threshold: limits.presence_threshold,
            shutdown_grace: limits.shutdown_grace.0,
            write_linger: limits.write_linger.0,
            store: if self.in_memory {
                Location::Memory
            } else {
                Location::Dir(self.data_dir.clone())
            },
            synchronous: self.history.synchronous.store(),
            history_cache_mib: self.history.cache_mib,
            history_backlog: self.history.backlog,
            retention: Retention {
                default: self.history.retention,
                rooms: self
                    .history
                    .rooms
                    .iter()
                    .map(|(room, policy)| (chatroom_proto::room::fold(room), *policy))
                    .collect(),
            },
            history_replay: self.history.replay,
            server_name: self.server_name.clone(),
            server_description: self.server_description.clone(),
            motd,
            irc_autojoin: self.irc_autojoin.clone(),
            irc_password: self.irc_password.clone(),
            admin_contact: self.admin_contact.clone(),
            operators: self.operators.clone(),
            opers: self
                .opers
                .iter()
                .map(|o| OperCredentials {
                    name: o.name.clone(),
                    hash: o.password_hash.clone(),
                })
                .collect(),
            require_account: self.require_account,
            min_password_chars: self.min_password_chars,
            registrations_per_hour: limits.registrations_per_hour,
            rooms_per_hour: limits.rooms_per_hour,
            allowed_origins: self.allowed_origins.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            metrics: self.metrics,
            cluster: self.cluster.redis.as_ref().map(|url| ClusterSettings {
                lease: self.cluster.lease.0,
                stream_length: self.cluster.stream_length,
                archive_length: self.cluster.archive_length,
                ..ClusterSettings::new(url, &self.cluster.node)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_defaults_read_back_the_same() {
        let defaults = Settings::default();
        let text = defaults.to_toml().unwrap();
        let back: Settings = toml::from_str(&text).unwrap();
        assert_eq!(back, defaults);
        assert!(text.contains("[[listeners]]"), "{text}");
        assert!(text.contains("address = \"127.0.0.1:8000\""), "{text}");
        assert!(text.contains("login_timeout = \"1m\""), "{text}");
    }

    /// Settings read from `text` as a configuration file is.
    fn from_text(text: &str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chatroom.toml");
        std::fs::write(&path, text).unwrap();
        Settings::from_file(&path).unwrap()
    }

    fn listener(protocol: ListenerProtocol, address: &str, tls: bool) -> ListenerSpec {
        ListenerSpec {
            protocol,
            address: address.parse().unwrap(),
            tls,
        }
    }

    #[test]
    fn irc_users_start_in_the_lobby_unless_told_otherwise() {
        let defaults = Settings::default();
        assert_eq!(defaults.config().unwrap().irc_autojoin, ["lobby"]);
        let mut settings = Settings::default();
        settings.apply(&ServeArgs {
            irc_autojoin: Some("#rust, help".to_owned()),
            irc_password: Some("letmein".to_owned()),
            ..ServeArgs::default()
        });
        let config = settings.config().unwrap();
        assert_eq!(config.irc_autojoin, ["rust", "help"]);
        assert_eq!(config.irc_password.as_deref(), Some("letmein"));
        settings.apply(&ServeArgs {
            irc_autojoin: Some(String::new()),
            ..ServeArgs::default()
        });
        assert!(settings.config().unwrap().irc_autojoin.is_empty());
        let bad: Settings = toml::from_str("irc_autojoin = [\"#bad\"]").unwrap();
        assert!(bad.check().is_err());
        // The password is never printed.
        assert!(!toml::to_string(&settings).unwrap().contains("letmein"));
    }

    #[test]
    fn the_web_client_listens_by_default_and_off_removes_it() {
        let defaults = Settings::default();
        assert!(defaults.listeners.contains(&listener(
            ListenerProtocol::Http,
            "127.0.0.1:8080",
            false
        )));
        let mut settings = Settings::default();
        settings.apply(&ServeArgs {
            http_listen: Some(Endpoint::Off),
            allowed_origins: vec!["https://chat.example".to_owned()],
            ..ServeArgs::default()
        });
        assert!(
            settings
                .listeners
                .iter()
                .all(|l| l.protocol != ListenerProtocol::Http)
        );
        assert_eq!(
            settings.config().unwrap().allowed_origins,
            ["https://chat.example"]
        );
        // Proxies from the file, and from the command line instead.
        let mut settings: Settings =
            toml::from_str("trusted_proxies = [\"127.0.0.1\", \"::1\"]").unwrap();
        assert_eq!(settings.config().unwrap().trusted_proxies.len(), 2);
        settings.apply(&ServeArgs {
            trusted_proxies: vec!["10.0.0.2".parse().unwrap()],
            ..ServeArgs::default()
        });
        assert_eq!(
            settings.config().unwrap().trusted_proxies,
            ["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
        assert!(toml::from_str::<Settings>("trusted_proxies = [\"nginx\"]").is_err());
        for bad in [
            "chat.example",
            "https://",
            "https://chat.example/path",
            "ftp://x",
        ] {
            settings.allowed_origins = vec![bad.to_owned()];
            assert!(settings.check().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn file_then_flags() {
        let file = "listen = \"off\"\nirc_listen = \"127.0.0.1:6667\"\nhttp_listen = \"off\"\n[limits]\nmessages_per_second = 2.5\nping_interval = \"30s\"\n[history.rooms]\nlobby = \"count=10\"\n";
        let mut settings = from_text(file);
        assert_eq!(
            settings.listeners,
            [listener(ListenerProtocol::Irc, "127.0.0.1:6667", false)],
            "the file's shortcuts turned the JSON and HTTP listeners off and added IRC"
        );
        assert_eq!(settings.limits.messages_per_second, 2.5);
        assert_eq!(settings.limits.ping_interval, Span(Duration::from_secs(30)));
        assert_eq!(
            settings.limits.message_burst,
            Settings::default().limits.message_burst
        );
        let args = ServeArgs {
            messages_per_second: Some(7.0),
            listen: Some(Endpoint::At("127.0.0.1:9000".parse().unwrap())),
            ..ServeArgs::default()
        };
        settings.apply(&args);
        assert_eq!(
            settings.limits.messages_per_second, 7.0,
            "flags override the file"
        );
        assert_eq!(
            settings.listeners,
            [
                listener(ListenerProtocol::Irc, "127.0.0.1:6667", false),
                listener(ListenerProtocol::Json, "127.0.0.1:9000", false),
            ]
        );
        assert_eq!(
            settings.limits.ping_interval,
            Span(Duration::from_secs(30)),
            "the file overrides defaults"
        );
        let config = settings.config().unwrap();
        assert_eq!(
            config
                .retention
                .rooms
                .get("lobby")
                .and_then(|p| p.max_messages),
            Some(10)
        );
    }

    #[test]
    fn listeners_are_a_list_and_flags_set_or_remove_theirs() {
        let mut settings = from_text(
            "[[listeners]]\nprotocol = \"irc\"\naddress = \"[::1]:6697\"\ntls = true\n\n\
             [[listeners]]\nprotocol = \"json\"\naddress = \"127.0.0.1:8001\"\n",
        );
        assert_eq!(
            settings.listeners,
            [
                listener(ListenerProtocol::Irc, "[::1]:6697", true),
                listener(ListenerProtocol::Json, "127.0.0.1:8001", false),
            ]
        );
        settings.apply(&ServeArgs {
            listen: Some(Endpoint::Off),
            irc_tls_listen: Some("127.0.0.1:7000".parse().unwrap()),
            https_listen: Some("127.0.0.1:8443".parse().unwrap()),
            ..ServeArgs::default()
        });
        assert_eq!(
            settings.listeners,
            [
                listener(ListenerProtocol::Irc, "127.0.0.1:7000", true),
                listener(ListenerProtocol::Http, "127.0.0.1:8443", true),
            ]
        );
        let printed = settings.to_toml().unwrap();
        let back: Settings = toml::from_str(&printed).unwrap();
        assert_eq!(back.listeners, settings.listeners);
        assert!(!printed.contains("irc_tls_listen"), "{printed}");
    }

    #[test]
    fn unknown_keys_and_impossible_combinations_are_refused() {
        assert!(toml::from_str::<Settings>("lissten = \"x\"").is_err());
        assert!(toml::from_str::<Settings>("[limits]\nlogin_timeout = \"soon\"").is_err());
        let tls_without_cert = Settings {
            listeners: vec![listener(ListenerProtocol::Json, "127.0.0.1:0", true)],
            ..Settings::default()
        };
        assert!(tls_without_cert.check().is_err());
        let nothing = Settings {
            listeners: Vec::new(),
            ..Settings::default()
        };
        assert!(nothing.check().is_err());
        let never_pinged: Settings = toml::from_str("[limits]\nping_interval = \"0s\"").unwrap();
        let refused = never_pinged.check().unwrap_err().to_string();
        assert!(
            refused.contains("ping_interval must be more than zero"),
            "{refused}"
        );
    }

    #[test]
    fn help_defaults_match_the_real_defaults() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Probe {
            #[command(flatten)]
            serve: ServeArgs,
        }
        // Wrapping may break a default across lines: compare words only.
        let help = Probe::command().render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let d = Settings::default();
        for expected in [
            format!("[default: {}]", d.listeners[0].address),
            format!("[default: {}]", d.limits.max_frame_bytes),
            format!("[default: {}]", d.limits.max_message_bytes),
            format!("[default: {}]", d.limits.outbox_bytes),
            format!("[default: {}]", d.limits.max_connections),
            format!("[default: {}]", d.limits.max_connections_per_ip),
            format!("[default: {}]", d.limits.login_timeout),
            format!("[default: {}]", d.limits.ping_interval),
            format!("[default: {}]", d.limits.ping_timeout),
            format!("[default: {}]", d.limits.messages_per_second),
            format!("[default: {}]", d.limits.message_burst),
            format!("[default: {}]", d.limits.requests_per_second),
            format!("[default: {}]", d.limits.request_burst),
            format!("[default: {}]", d.limits.max_rooms_per_user),
            format!("[default: {}]", d.limits.presence_threshold),
            format!("[default: {}]", d.limits.shutdown_grace),
            format!("[default: {}]", d.limits.write_linger),
            format!("[default: {}]", d.limits.registrations_per_hour),
            format!("[default: {}]", d.limits.rooms_per_hour),
            format!("[default: {}]", d.history.replay),
            format!("[default: {}]", d.history.backlog),
        ] {
            assert!(help.contains(&expected), "--help lacks {expected}");
        }
    }
}
