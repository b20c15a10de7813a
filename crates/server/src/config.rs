//! Server settings, with defaults a small public server can run with.

use std::time::Duration;

use crate::accounts::OperCredentials;
use crate::store::{Location, Retention, Synchronous};

/// How many stored messages a `join` replays when no other number is set.
pub const DEFAULT_HISTORY_REPLAY: u32 = 50;

/// Tunable limits, timings and storage of one server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest client frame (one JSON object), in bytes. A bigger one gets an
    /// error frame and the connection is closed.
    pub max_frame_bytes: usize,
    /// Longest message text, in bytes (0: only the frame size limits it).
    pub max_message_bytes: usize,
    /// Most unwritten bytes queued for one connection. A client that falls
    /// further behind is disconnected as a slow consumer.
    pub outbox_bytes: usize,
    /// Connections at once, in all (0: no limit).
    pub max_connections: usize,
    /// Connections at once from one IP address (0: no limit).
    pub max_connections_per_ip: usize,
    /// A connection that has not logged in after this long is closed.
    pub login_timeout: Duration,
    /// A logged-in connection silent for this long is pinged.
    pub ping_interval: Duration,
    /// A ping not answered within this long closes the connection.
    pub ping_timeout: Duration,
    /// Chat messages per second per connection, on average (0: no limit).
    pub messages_per_second: f64,
    /// Chat messages allowed at once after a quiet spell.
    pub message_burst: u32,
    /// Other requests per second per connection, in cost units (a cheap
    /// query costs 1, a nickname change 10, a page of history up to 21; see
    /// docs/operations.md); 0: no limit.
    pub requests_per_second: f64,
    /// Cost units of other requests allowed at once after a quiet spell.
    pub request_burst: u32,
    /// Most rooms one user may be in at once (0: no limit).
    pub max_rooms_per_user: usize,
    /// Rooms with at least this many members announce joins and leaves in
    /// one summary a second instead of one notice each (0: never).
    pub presence_threshold: usize,
    /// How long shutdown waits for connections to flush their last frames.
    pub shutdown_grace: Duration,
    /// When traffic to a connection is dense, frames queued for it within
    /// this long after a write wait for the rest of the window and go out in
    /// one write (0: write at once); sparse traffic and replies to a
    /// client's own requests never wait. Trades at most this much latency
    /// for far fewer system calls under load (measured in
    /// docs/benchmarks.md).
    pub write_linger: Duration,
    /// Where history is stored.
    pub store: Location,
    /// How hard a commit works to be durable (on disk only).
    pub synchronous: Synchronous,
    /// The history writer's page cache, in MiB (each of its reader threads
    /// gets half): what the store may keep in memory beyond the operating
    /// system's file cache.
    pub history_cache_mib: u32,
    /// Messages that may wait to be stored before chat messages are refused
    /// until the store catches up (0: no limit; see `store::Backlog`).
    pub history_backlog: u64,
    /// How long history is kept.
    pub retention: Retention,
    /// How many stored messages joining a room replays.
    pub history_replay: u32,
    /// The server's name on IRC (the source of server lines, `NETWORK=`).
    pub server_name: String,
    /// What the server is, in a few words (IRC's WHOIS `312`, LINKS,
    /// VERSION).
    pub server_description: String,
    /// The IRC message of the day, one entry per line.
    pub motd: Vec<String>,
    /// Rooms IRC users are put in at registration (the lobby by default,
    /// so the tutorial's one-room chat includes them; empty for none, as
    /// IRC clients expect from other servers).
    pub irc_autojoin: Vec<String>,
    /// The server password IRC clients must give with `PASS` before
    /// registering (none by default). A shared secret for a private
    /// server, compared as given; it is not an account's password.
    pub irc_password: Option<String>,
    /// How to reach the server's administrators (an email address, a web
    /// page), shown by IRC `ADMIN`; none by default.
    pub admin_contact: Option<String>,
    /// Accounts (nicknames) that are operators; each must be registered
    /// before the server starts (or it refuses to), so that nobody can
    /// take the name first and become an operator.
    pub operators: Vec<String>,
    /// Operators by credentials (`OPER name password`).
    pub opers: Vec<OperCredentials>,
    /// Whether every login needs an account.
    pub require_account: bool,
    /// Shortest password a new account may have.
    pub min_password_chars: usize,
    /// Accounts one address (an IPv6 /64) may register an hour (0: no limit).
    pub registrations_per_hour: u32,
    /// Rooms one address (an IPv6 /64) may create an hour (0: no limit).
    pub rooms_per_hour: u32,
    /// Web pages, besides the server's own, whose scripts may open a
    /// WebSocket to it: origins such as `https://chat.example` (scheme,
    /// host and port, no path). Browsers send the page's origin with every
    /// WebSocket; a foreign one is refused (403), so another site cannot
    /// act as its visitors.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies (nginx, Caddy) in front of the HTTP listener, by
    /// address. Behind one, every browser's connection comes from the
    /// proxy; from these addresses the client's own address is taken from
    /// `X-Forwarded-For`, and per-address limits and address bans apply to
    /// it. From any other address that header is ignored (anyone can send
    /// one).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Whether the HTTP listeners answer `GET /metrics` (counts in the
    /// Prometheus text format, nothing about any one person). `/healthz`
    /// and `/readyz` are always answered.
    pub metrics: bool,
    /// The cluster this server is a node of (`--cluster redis://...`), if
    /// any: users on every node share rooms, nicknames and direct messages.
    pub cluster: Option<crate::cluster::ClusterSettings>,
}

/// The message of the day IRC clients see when none is configured.
pub fn default_motd() -> Vec<String> {
    vec![
        "Welcome to chatroom: rooms shared by JSON and IRC clients.".to_owned(),
        "You are in #lobby. /join #name enters (or creates) a room; /list shows them.".to_owned(),
        "History is kept: joining a channel replays its recent messages.".to_owned(),
    ]
}

impl Default for Config {
    /// Safe limits and in-memory history (the binary defaults to a data
    /// directory instead).
    fn default() -> Self {
        Config {
            max_frame_bytes: chatroom_proto::DEFAULT_MAX_FRAME_BYTES,
            max_message_bytes: 16 * 1024,
            outbox_bytes: 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_ip: 50,
            login_timeout: Duration::from_secs(60),
            ping_interval: Duration::from_secs(90),
            ping_timeout: Duration::from_secs(60),
            messages_per_second: 10.0,
            message_burst: 20,
            requests_per_second: 20.0,
            request_burst: 60,
            max_rooms_per_user: 50,
            presence_threshold: 100,
            shutdown_grace: Duration::from_secs(5),
            write_linger: Duration::from_millis(10),
            store: Location::Memory,
            synchronous: Synchronous::Full,
            history_cache_mib: crate::store::DEFAULT_CACHE_MIB,
            history_backlog: crate::store::DEFAULT_BACKLOG,
            retention: Retention::default(),
            history_replay: DEFAULT_HISTORY_REPLAY,
            server_name: "chatroom".to_owned(),
            server_description: "chatroom: rooms for JSON and IRC clients alike".to_owned(),
            motd: default_motd(),
            irc_autojoin: vec![chatroom_proto::room::LOBBY.to_owned()],
            irc_password: None,
            admin_contact: None,
            operators: Vec::new(),
            opers: Vec::new(),
            require_account: false,
            min_password_chars: crate::accounts::MIN_PASSWORD_CHARS,
            registrations_per_hour: 5,
            rooms_per_hour: 30,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics: true,
            cluster: None,
        }
    }
}
