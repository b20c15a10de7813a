//! The HTTP listener: the web client's files, the chat protocols over
//! WebSocket at `/ws` (JSON by default; IRC with the `text.ircv3.net` or
//! `binary.ircv3.net` subprotocol), and for operators `/metrics`,
//! `/healthz` and `/readyz`.
//!
//! Connections are accepted by the server's own accept loop (bans and
//! connection limits apply as on every listener, see `server.rs`); each one
//! is then served here by hyper, with axum routing its requests. A
//! WebSocket upgrade hands the connection to the same driver TCP clients
//! have (`conn`), through the message transport, so every limit holds the
//! same way. The connection's slot is held until both the HTTP connection
//! and any WebSocket session on it have ended.

mod assets;
mod forwarded;
mod headers;
mod health;
mod metrics;
mod origin;
mod ws;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use chatroom_proto::ErrorCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::task::TaskTracker;
use tower_service::Service;
use tracing::debug;

use crate::limits::Ticket;
use crate::server::Shared;
pub(crate) use origin::Origins;
pub(crate) use ws::websocket_messages;

/// What the HTTP listeners need besides what every connection needs.
pub(crate) struct HttpSettings {
    /// Pages allowed to open WebSockets besides the server's own.
    origins: Origins,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    trusted_proxies: Vec<IpAddr>,
    /// Largest WebSocket message (one protocol frame), in bytes.
    max_message: usize,
    /// Whether `GET /metrics` is answered.
    metrics: bool,
}

impl HttpSettings {
    /// Settings from the configured origins and proxies, the frame size
    /// limit, and whether metrics are served.
    pub(crate) fn new(
        allowed_origins: &[String],
        trusted_proxies: &[IpAddr],
        max_frame: usize,
        metrics: bool,
    ) -> Self {
        HttpSettings {
            origins: Origins::new(allowed_origins),
            trusted_proxies: trusted_proxies.to_vec(),
            max_message: max_frame,
            metrics,
        }
    }

    /// Whether `ip` is a trusted reverse proxy.
    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.contains(&ip)
    }
}

/// One accepted HTTP connection: who it is, and its slot (held by every
/// WebSocket session started on it, too).
pub(crate) struct Connection {
    peer: SocketAddr,
    _ticket: Ticket,
}

/// What every request handler can reach.
#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    tasks: TaskTracker,
}

/// The routes: the WebSocket endpoint, the operators' probes (and the
/// metrics, unless turned off), and the embedded files for everything
/// else; every response carries the security headers.
fn router(shared: Arc<Shared>, tasks: TaskTracker) -> Router {
    let mut router = Router::new()
        .route("/", get(front_door))
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready));
    if shared.http.metrics {
        router = router.route("/metrics", get(metrics::scrape));
    }
    router
        .fallback(get(assets::serve))
        .layer(axum::middleware::map_response(headers::secure))
        .with_state(AppState { shared, tasks })
}

/// `/`: the web client's page, or, for a WebSocket upgrade, the same
/// endpoint as `/ws`: web IRC clients (and irctest) open their WebSocket at
/// a server's root.
async fn front_door(
    state: State<AppState>,
    connection: Extension<Arc<Connection>>,
    request: Request,
) -> Response {
    if ws::asks_for_websocket(request.headers()) {
        ws::upgrade(state, connection, request).await
    } else {
        assets::serve(request.uri().clone()).await
    }
}

/// Serves one HTTP connection (plain or TLS) until it closes, is upgraded
/// to a WebSocket, or the server stops.
pub(crate) async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    ticket: Ticket,
    shared: Arc<Shared>,
    tasks: TaskTracker,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shutdown = shared.driver.shutdown.clone();
    let header_timeout = shared.driver.limits.login_timeout;
    let connection = Arc::new(Connection {
        peer,
        _ticket: ticket,
    });
    let router = router(shared, tasks);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(connection.clone());
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A client that never finishes its request is as good as one that
    // never logs in.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let served = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = shutdown.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// The status that tells a refused HTTP client why: 403 for a ban, 503
/// for a limit.
pub(crate) fn refusal_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Banned => StatusCode::FORBIDDEN,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The response a refused HTTP client gets before its request is read:
/// the status that says why, and the reason as text.
pub(crate) fn refusal(code: ErrorCode, text: &str) -> Bytes {
    let status = refusal_status(code);
    Bytes::from(format!(
        "HTTP/1.1 {} {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{text}",
        status.as_str(),
        status.canonical_reason().unwrap_or_default(),
        text.len()
    ))
}
