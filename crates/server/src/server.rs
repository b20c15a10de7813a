//! Accepting connections and shutting down.
//!
//! [`run`] owns the listeners: each accepted socket is checked against the
//! bans and connection limits in the accept loop and gets its own task: the
//! connection driver itself, or on a TLS listener a handshake task that then
//! spawns the driver. When the shutdown future completes, the listeners are closed,
//! every connection is told, and `run` returns once they have all flushed
//! their goodbyes (or the grace period is over).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chatroom_proto::ErrorCode;
use chatroom_proto::irc::Message;
use chatroom_proto::json::{ErrorFrame, Limits, ServerFrame, encode_frame};
use thiserror::Error;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::accounts::AccountSettings;
use crate::certfp::Fingerprint;
use crate::clock::now_ms;
use crate::cluster::{Cluster, IdFloors};
use crate::config::Config;
use crate::conn::{ByteSink, ByteStream, DriverLimits, DriverSettings, Inbound, Outbound, drive};
use crate::http::{self, HttpSettings};
use crate::hub::{Hub, HubSettings};
use crate::irc::{IrcSession, IrcSettings};
use crate::json::{JsonSession, JsonSettings};
use crate::limits::{Admission, ConnectionLimits, RateLimit, Refusal, Ticket};
use crate::metrics::{Metrics, Transport};
use crate::outbox::Outbox;
use crate::store::{self, StoreError};

/// Why the server could not run.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The history store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An operator account in the configuration is not registered: whoever
    /// registered it first would become an operator.
    #[error(
        "the operator account {0:?} is not registered: register it first (or use an [[opers]] entry with a password), then restart"
    )]
    UnregisteredOperator(String),
    /// The cluster's Redis could not be reached at start.
    #[error("cannot join the cluster: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// Pause after an accept error (e.g. out of file descriptors), so the loop
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The wire protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The JSON protocol (`docs/protocol.md`).
    Json,
    /// IRC (`docs/irc.md`).
    Irc,
    /// HTTP: the web client's files, and both protocols over WebSocket at
    /// `/ws` (`docs/web.md`).
    Http,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Json => "json",
            Protocol::Irc => "irc",
            Protocol::Http => "http",
        }
    }

    /// What its sessions speak on the bare connection (`None`: HTTP, whose
    /// WebSocket sessions choose theirs when they upgrade).
    fn wire(self) -> Option<Wire> {
        match self {
            Protocol::Json => Some(Wire::Json),
            Protocol::Irc => Some(Wire::Irc),
            Protocol::Http => None,
        }
    }
}

/// The protocol a session speaks, whatever carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// The JSON protocol.
    Json,
    /// IRC.
    Irc,
}

/// A bound socket, the protocol to speak on it, and TLS if it has it.
pub struct Listener {
    /// The bound socket.
    pub socket: TcpListener,
    /// What its clients speak.
    pub protocol: Protocol,
    /// TLS, for a TLS listener.
    pub tls: Option<TlsAcceptor>,
}

impl Listener {
    /// A plaintext JSON listener.
    pub fn json(socket: TcpListener) -> Self {
        Listener {
            socket,
            protocol: Protocol::Json,
            tls: None,
        }
    }

    /// A plaintext IRC listener.
    pub fn irc(socket: TcpListener) -> Self {
        Listener {
            socket,
            protocol: Protocol::Irc,
            tls: None,
        }
    }

    /// A plaintext HTTP listener (the web client and WebSocket).
    pub fn http(socket: TcpListener) -> Self {
        Listener {
            socket,
            protocol: Protocol::Http,
            tls: None,
        }
    }

    /// The same listener speaking TLS.
    pub fn with_tls(mut self, tls: TlsAcceptor) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Serves clients on every listener until `shutdown` completes, then shuts
/// down gracefully and returns once every relayed message is stored.
pub async fn run(
    listeners: Vec<Listener>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let (location, retention) = (config.store.clone(), config.retention.clone());
    let synchronous = config.synchronous;
    let cache_mib = config.history_cache_mib;
    let (store, store_thread, loaded) = tokio::task::spawn_blocking(move || {
        store::open(&location, retention, synchronous, cache_mib)
    })
    .await
    .map_err(io::Error::other)??;
    info!(
        next_message_id = loaded.ids.next_message,
        next_user_id = loaded.ids.next_user,
        rooms = loaded.rooms.len(),
        "history store open"
    );
    if let Some(name) = config.operators.iter().find(|name| {
        let key = chatroom_proto::nick::fold(name);
        !loaded.accounts.iter().any(|a| a.key == key)
    }) {
        return Err(ServerError::UnregisteredOperator(name.clone()));
    }
    let settings = HubSettings {
        max_rooms_per_user: config.max_rooms_per_user,
        max_message_bytes: config.max_message_bytes,
        accounts: AccountSettings {
            operators: config.operators.clone(),
            opers: config.opers.clone(),
            require_account: config.require_account,
            min_password_chars: config.min_password_chars,
            registrations_per_hour: config.registrations_per_hour,
            hashing_threads: HASHING_THREADS,
            hashing_queue: HASHING_QUEUE,
        },
        rooms_per_hour: config.rooms_per_hour,
        presence_threshold: config.presence_threshold,
        server_name: config.server_name.as_str().into(),
    };
    let hub = Arc::new(Hub::new(store, &loaded, settings)?);
    let cluster = match config.cluster.clone() {
        Some(settings) => {
            let url = crate::cluster::redacted(&settings.url);
            let floors = IdFloors {
                message: loaded.last_message,
                user: loaded.ids.next_user.saturating_sub(1),
            };
            let (cluster, running) = Cluster::connect(settings, floors).await?;
            hub.join_cluster(cluster.clone());
            info!(node = cluster.node(), redis = %url, "cluster node");
            Some((cluster, running))
        }
        None => None,
    };
    let metrics = Arc::new(Metrics::new(
        hub.metrics(),
        hub.store().metrics(),
        hub.cluster().map(|cluster| cluster.metrics()),
    ));
    let admission = Admission::new(ConnectionLimits {
        total: config.max_connections,
        per_ip: config.max_connections_per_ip,
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    if let Some((cluster, running)) = cluster {
        cluster.run(running, &hub, &tasks, &stop);
    }
    let irc = IrcSettings::new(
        &config.server_name,
        config.motd.clone(),
        config.history_replay,
        now_ms(),
    )
    .starting_in(&config.irc_autojoin)
    .with_password(config.irc_password.as_deref())
    .with_admin_contact(config.admin_contact.as_deref())
    .described_as(&config.server_description);
    let shared = Arc::new(Shared {
        hub: hub.clone(),
        irc,
        admission,
        driver: Arc::new(DriverSettings {
            shutdown: stop.clone(),
            limits: DriverLimits {
                login_timeout: config.login_timeout,
                ping_interval: config.ping_interval,
                ping_timeout: config.ping_timeout,
                rate: (config.messages_per_second > 0.0).then_some(RateLimit {
                    per_second: config.messages_per_second,
                    burst: config.message_burst.max(1),
                }),
                requests: (config.requests_per_second > 0.0).then_some(RateLimit {
                    per_second: config.requests_per_second,
                    burst: config.request_burst.max(MOST_COSTLY_REQUEST),
                }),
                shutdown_grace: config.shutdown_grace,
                write_linger: config.write_linger,
            },
            // A cluster node's store is fed by the archive reader alone,
            // which waits for each batch to be durable before the next:
            // its chat goes to Redis, and is never refused for the store.
            backlog: config
                .cluster
                .is_none()
                .then(|| hub.store().backlog(config.history_backlog))
                .flatten(),
            metrics: metrics.driver.clone(),
        }),
        outbox_bytes: config.outbox_bytes,
        refusing: Arc::new(Semaphore::new(MAX_REFUSALS_AT_ONCE)),
        json: Arc::new(JsonSettings {
            max_frame: config.max_frame_bytes,
            history_replay: config.history_replay,
            limits: Limits {
                message_bytes: config.max_message_bytes,
                frame_bytes: config.max_frame_bytes,
                rooms_per_user: config.max_rooms_per_user,
                messages_per_second: config.messages_per_second,
                message_burst: if config.messages_per_second > 0.0 {
                    config.message_burst.max(1)
                } else {
                    0
                },
            },
        }),
        http: HttpSettings::new(
            &config.allowed_origins,
            &config.trusted_proxies,
            config.max_frame_bytes,
            config.metrics,
        ),
        metrics,
    });
    for listener in listeners {
        let addr = listener.socket.local_addr()?;
        let tls = listener.tls.is_some();
        info!(%addr, protocol = listener.protocol.name(), tls, "listening");
        tasks.spawn(accept(listener, shared.clone(), tasks.clone()));
    }
    // The accept loops and connections hold their own handles: the last one
    // gone, the hub can be taken apart below and the store closed in order.
    drop(shared);
    tasks.spawn(summarise_presence(hub.clone(), stop.clone()));
    shutdown.await;
    info!(online = hub.online(), "shutting down");
    stop.cancel();
    tasks.close();
    let deadline = config.shutdown_grace + Duration::from_secs(1);
    if tokio::time::timeout(deadline, tasks.wait()).await.is_err() {
        warn!("some connections did not close within the grace period");
    }
    if let Err(e) = hub.store().flush().await {
        warn!(error = %e, "could not flush history");
    }
    match Arc::try_unwrap(hub) {
        // The last handle to the store goes with the hub: the thread ends.
        // Nobody can take an id any more: the next run continues after the
        // last ones used.
        Ok(hub) => {
            hub.release_ids();
            drop(hub);
            let _ = tokio::task::spawn_blocking(move || store_thread.finish()).await;
        }
        Err(_) => warn!("connections still running; history was flushed without closing the store"),
    }
    info!("shut down");
    Ok(())
}

/// How often large rooms get their presence summary.
const PRESENCE_EVERY: Duration = Duration::from_secs(1);

/// Sends large rooms their presence summaries until the server stops.
async fn summarise_presence(hub: Arc<Hub>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(PRESENCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => hub.flush_presence(),
        }
    }
}

/// What every connection needs from the server, shared by all of them.
pub(crate) struct Shared {
    pub(crate) hub: Arc<Hub>,
    pub(crate) irc: IrcSettings,
    admission: Admission,
    pub(crate) driver: Arc<DriverSettings>,
    pub(crate) outbox_bytes: usize,
    pub(crate) json: Arc<JsonSettings>,
    /// Permits for refused TLS clients doing their handshakes.
    refusing: Arc<Semaphore>,
    /// What the HTTP listeners need beyond that.
    pub(crate) http: HttpSettings,
    /// What `GET /metrics` shows; sessions count themselves open here.
    pub(crate) metrics: Arc<Metrics>,
}

impl Shared {
    /// Turns `ip` away if it is banned, otherwise takes its place in the
    /// connection limits: in the total and for its address, or, for a
    /// client behind a trusted proxy (whose connection already holds a
    /// place in the total), for its address only.
    pub(crate) fn admit(&self, ip: IpAddr, behind_proxy: bool) -> Result<Ticket, Refused> {
        if let Some(ban) = self.hub.accounts().ip_ban(ip) {
            return Err(Refused::Banned(ban.reason));
        }
        let admitted = if behind_proxy {
            self.admission.admit_behind_proxy(ip)
        } else {
            self.admission.admit(ip)
        };
        admitted.map_err(Refused::Limit)
    }
}

/// Accepts connections on one listener until the server stops.
async fn accept(listener: Listener, shared: Arc<Shared>, tasks: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            () = shared.driver.shutdown.cancelled() => return,
            accepted = listener.socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                debug!(%peer, protocol = listener.protocol.name(), "connection accepted");
                let tls = listener.tls.as_ref();
                start(stream, peer, listener.protocol, tls, &shared, &tasks);
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Passwords hashed or checked at once: each takes a core and 19 MiB for
/// tens of milliseconds, so a few are all a small server should spend.
const HASHING_THREADS: usize = 2;

/// Password checks that may wait for a hashing thread; past this they are
/// refused with `server_busy` at once.
const HASHING_QUEUE: usize = 32;

/// The largest cost of one request: a burst must hold at least this much,
/// or that request could never pass.
const MOST_COSTLY_REQUEST: u32 = 25;

/// How long a refused TLS client gets to finish its handshake and hear why.
const REFUSAL_HANDSHAKE: Duration = Duration::from_secs(5);

/// Most refused TLS clients being told why at once.
const MAX_REFUSALS_AT_ONCE: usize = 64;

/// Keepalive probes for connections whose clients cannot answer pings.
const KEEPALIVE: Duration = Duration::from_secs(60);

/// Admits a fresh connection (or turns it away) and spawns its task: on a
/// plain listener the session's driver itself, on a TLS listener a
/// handshake first.
///
/// The driver is spawned directly, not inside another future, because
/// whatever the task holds every idle connection holds (see [`drive`]).
fn start(
    stream: TcpStream,
    peer: SocketAddr,
    protocol: Protocol,
    tls: Option<&TlsAcceptor>,
    shared: &Arc<Shared>,
    tasks: &TaskTracker,
) {
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, error = %e, "could not disable Nagle's algorithm");
    }
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE)
        .with_interval(Duration::from_secs(10));
    if let Err(e) = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
        debug!(%peer, error = %e, "could not enable TCP keepalive");
    }
    // A trusted reverse proxy's connection carries many people's: their
    // own addresses are checked once its requests name them (`http::ws`).
    let admitted = if protocol.wire().is_none() && shared.http.trusts(peer.ip()) {
        shared.admission.admit_proxy().map_err(Refused::Limit)
    } else {
        shared.admit(peer.ip(), false)
    };
    let ticket = match admitted {
        Ok(ticket) => ticket,
        Err(refused) => {
            match tls {
                None => {
                    tasks.spawn(turn_away(stream, peer, protocol, refused));
                }
                // A TLS client can only read the reason once the handshake
                // is done; refusals doing their handshakes at once are
                // capped, past that the connection is just closed.
                Some(acceptor) => {
                    match shared.refusing.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let acceptor = acceptor.clone();
                            tasks.spawn(async move {
                            let handshake = acceptor.accept(stream);
                            match tokio::time::timeout(REFUSAL_HANDSHAKE, handshake).await {
                                Ok(Ok(stream)) => turn_away(stream, peer, protocol, refused).await,
                                _ => debug!(%peer, "refused TLS client did not finish its handshake"),
                            }
                            drop(permit);
                        });
                        }
                        Err(_) => {
                            warn!(%peer, "connection refused and closed (too many refusals at once)")
                        }
                    }
                }
            }
            return;
        }
    };
    match tls {
        None => match protocol.wire() {
            None => {
                tasks.spawn(http::serve(
                    stream,
                    peer,
                    ticket,
                    shared.clone(),
                    tasks.clone(),
                ));
            }
            Some(wire) => {
                let (reader, writer) = stream.into_split();
                let transport = (ByteStream(reader), ByteSink(writer));
                spawn_session(shared, tasks, peer, wire, transport, None, ticket);
            }
        },
        Some(acceptor) => {
            let handshake = handshake(
                stream,
                peer,
                protocol,
                acceptor.clone(),
                shared.clone(),
                tasks.clone(),
                ticket,
            );
            tasks.spawn(handshake);
        }
    }
}

/// Completes a TLS handshake, then spawns the session.
async fn handshake(
    stream: TcpStream,
    peer: SocketAddr,
    protocol: Protocol,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    tasks: TaskTracker,
    ticket: Ticket,
) {
    // A client that never finishes its handshake is as good as one that
    // never logs in.
    let deadline = shared.driver.limits.login_timeout;
    match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => match protocol.wire() {
            None => http::serve(stream, peer, ticket, shared, tasks).await,
            Some(wire) => {
                let certfp = crate::tls::fingerprint(stream.get_ref().1);
                if let Some(certfp) = &certfp {
                    debug!(%peer, %certfp, "client certificate");
                }
                let (reader, writer) = tokio::io::split(stream);
                let transport = (ByteStream(reader), ByteSink(writer));
                spawn_session(&shared, &tasks, peer, wire, transport, certfp, ticket);
            }
        },
        Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => debug!(%peer, "TLS handshake timed out"),
    }
}

/// Spawns an admitted connection's session in its protocol, over its
/// transport's halves, with the fingerprint of the TLS client certificate
/// it presented, if any; `ticket` holds its connection slot until it ends.
fn spawn_session<I, O>(
    shared: &Shared,
    tasks: &TaskTracker,
    peer: SocketAddr,
    wire: Wire,
    (reader, writer): (I, O),
    certfp: Option<Fingerprint>,
    ticket: Ticket,
) where
    I: Inbound + 'static,
    O: Outbound + 'static,
{
    let outbox = Arc::new(Outbox::new(shared.outbox_bytes));
    let hub = shared.hub.clone();
    let settings = shared.driver.clone();
    let held = (
        ticket,
        shared.metrics.connections.open(Transport::Direct(wire)),
    );
    match wire {
        Wire::Json => {
            let session = JsonSession::new(hub, outbox.clone(), peer, shared.json.clone())
                .with_certfp(certfp);
            tasks.spawn(drive(reader, writer, outbox, session, settings, held));
        }
        Wire::Irc => {
            let session =
                IrcSession::new(hub, outbox.clone(), peer, shared.irc.clone()).with_certfp(certfp);
            tasks.spawn(drive(reader, writer, outbox, session, settings, held));
        }
    }
}

/// Why a connection is turned away before its session starts.
pub(crate) enum Refused {
    /// A connection limit.
    Limit(Refusal),
    /// An address ban, with its reason.
    Banned(String),
}

impl Refused {
    /// The error code and the text the client is told.
    pub(crate) fn told(self) -> (ErrorCode, String) {
        match self {
            Refused::Limit(Refusal::Full) => (
                ErrorCode::TooManyConnections,
                "the server is full; try again later".to_owned(),
            ),
            Refused::Limit(Refusal::TooManyFromAddress) => (
                ErrorCode::TooManyConnections,
                "too many connections from your address".to_owned(),
            ),
            Refused::Banned(reason) => (
                ErrorCode::Banned,
                format!("your address is banned: {reason}"),
            ),
        }
    }
}

/// Tells a refused client why, in its protocol, and closes.
async fn turn_away<S>(mut stream: S, peer: SocketAddr, protocol: Protocol, refused: Refused)
where
    S: AsyncWrite + Unpin,
{
    let (code, text) = refused.told();
    warn!(%peer, %code, "connection refused");
    let line = match protocol {
        Protocol::Http => http::refusal(code, &text),
        Protocol::Json => encode_frame(&ServerFrame::Error(ErrorFrame {
            code,
            message: text,
            reference: None,
        })),
        Protocol::Irc => Bytes::from(
            Message::new("ERROR")
                .trailing_param(format!("Closing Link: {text}"))
                .encode(),
        ),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(&line).await?;
        stream.shutdown().await
    })
    .await;
}
