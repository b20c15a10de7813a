//! `GET /healthz` and `GET /readyz`: whether the process serves, and
//! whether it can do its work (its history store answers, and in a
//! cluster Redis), for a load
//! balancer, systemd or an orchestrator to probe.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use tracing::warn;

use super::AppState;

/// How long the store may take to answer the readiness probe: well below
/// the usual probe timeout of one second, and five times the commit time
/// past which the store logs a warning.
const READY_WITHIN: Duration = Duration::from_millis(500);

/// Alive: answering at all is the answer.
pub(super) async fn alive() -> &'static str {
    "ok"
}

/// Ready: the history store's writer ran a trivial query (after whatever
/// was queued before it) within [`READY_WITHIN`], in a cluster Redis
/// answered a `PING` within as long, and the server is not shutting down;
/// otherwise 503 with the reason.
pub(super) async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    let shared = &state.shared;
    if shared.driver.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down".to_owned());
    }
    let store = tokio::time::timeout(READY_WITHIN, shared.hub.store().ping());
    let reason = match store.await {
        Ok(Ok(())) => match shared.hub.cluster() {
            None => return (StatusCode::OK, "ready".to_owned()),
            Some(cluster) => match tokio::time::timeout(READY_WITHIN, cluster.ping()).await {
                Ok(Ok(())) => return (StatusCode::OK, "ready".to_owned()),
                Ok(Err(e)) => format!("cluster: {e}"),
                Err(_) => format!("cluster: Redis gave no answer within {READY_WITHIN:?}"),
            },
        },
        Ok(Err(e)) => format!("history store: {e}"),
        Err(_) => format!("history store: no answer within {READY_WITHIN:?}"),
    };
    warn!(%reason, "not ready");
    (StatusCode::SERVICE_UNAVAILABLE, reason)
}
