//! Accepting connections and shutting down.
//!
//! [`run`] owns the listener: each accepted socket gets its own task running
//! the connection driver. When the shutdown future completes, the listener
//! is closed, every connection is told, and `run` returns once they have all
//! flushed their goodbyes (or the grace period is over).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::clock::now_ms;
use crate::config::Config;
use crate::conn::drive;
use crate::hub::Hub;
use crate::irc_session::{IrcSession, IrcSettings};
use crate::json_session::JsonSession;
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
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Json => "json",
            Protocol::Irc => "irc",
        }
    }
}

/// A bound socket and the protocol to speak on it.
pub struct Listener {
    /// The bound socket.
    pub socket: TcpListener,
    /// What its clients speak.
    pub protocol: Protocol,
}

impl Listener {
    /// A JSON listener.
    pub fn json(socket: TcpListener) -> Self {
        Listener {
            socket,
            protocol: Protocol::Json,
        }
    }

    /// An IRC listener.
    pub fn irc(socket: TcpListener) -> Self {
        Listener {
            socket,
            protocol: Protocol::Irc,
        }
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
    let (store, store_thread, loaded) =
        tokio::task::spawn_blocking(move || store::open(&location, retention))
            .await
            .map_err(io::Error::other)??;
    info!(
        messages_up_to = loaded.max_message_id,
        rooms = loaded.rooms.len(),
        "history store open"
    );
    let hub = Arc::new(Hub::new(store, &loaded));
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let irc = IrcSettings {
        server_name: config.server_name.as_str().into(),
        motd: config.motd.clone().into(),
        history_replay: config.history_replay,
        started: now_ms(),
    };
    for listener in listeners {
        let addr = listener.socket.local_addr()?;
        info!(%addr, protocol = listener.protocol.name(), "listening");
        tasks.spawn(accept(
            listener,
            hub.clone(),
            config.clone(),
            irc.clone(),
            stop.clone(),
            tasks.clone(),
        ));
    }
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
        Ok(hub) => {
            drop(hub);
            let _ = tokio::task::spawn_blocking(move || store_thread.finish()).await;
        }
        Err(_) => warn!("connections still running; history was flushed without closing the store"),
    }
    info!("shut down");
    Ok(())
}

/// Accepts connections on one listener until the server stops.
async fn accept(
    listener: Listener,
    hub: Arc<Hub>,
    config: Config,
    irc: IrcSettings,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                debug!(%peer, protocol = listener.protocol.name(), "connection accepted");
                let serve = serve(
                    stream,
                    listener.protocol,
                    hub.clone(),
                    config.clone(),
                    irc.clone(),
                    stop.clone(),
                );
                tasks.spawn(serve);
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Runs one connection in its protocol.
async fn serve(
    stream: TcpStream,
    protocol: Protocol,
    hub: Arc<Hub>,
    config: Config,
    irc: IrcSettings,
    stop: CancellationToken,
) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, error = %e, "could not disable Nagle's algorithm");
    }
    let outbox = Arc::new(Outbox::new(config.outbox_bytes));
    match protocol {
        Protocol::Json => {
            let session = JsonSession::new(
                hub,
                outbox.clone(),
                peer,
                config.max_frame_bytes,
                config.history_replay,
            );
            drive(stream, outbox, session, stop, config.shutdown_grace).await;
        }
        Protocol::Irc => {
            let session = IrcSession::new(hub, outbox.clone(), peer, irc);
            drive(stream, outbox, session, stop, config.shutdown_grace).await;
        }
    }
    debug!(%peer, "connection closed");
}
