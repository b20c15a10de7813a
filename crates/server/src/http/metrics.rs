//! `GET /metrics`: the server's counters and histograms in the Prometheus
//! text format, for a Prometheus server to scrape.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::warn;

use super::AppState;
use crate::metrics::CONTENT_TYPE;

/// Renders every metric (counts only: nothing about any one person).
pub(super) async fn scrape(State(state): State<AppState>) -> Response {
    match state.shared.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            warn!(error = %e, "could not render the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not render the metrics",
            )
                .into_response()
        }
    }
}
