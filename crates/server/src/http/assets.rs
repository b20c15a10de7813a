//! The web client's files (`crates/server/web/`), built into the binary:
//! the server is one file to install, and the page always matches the
//! server it comes from.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

/// Every file of the web client.
static WEB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/web");

/// The file at the request's path (`/` is `index.html`), or 404.
pub(crate) async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    // Only files: a directory's path, `..` or a backslash find nothing.
    match WEB.get_file(path) {
        Some(file) if !path.contains("..") && !path.contains('\\') => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(content_type(path))),
                // Revalidate every time: a restarted, newer server must not
                // be talked to by an older cached page.
                (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            file.contents(),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The media type of a web client file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json" | "webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_known_type() {
        fn walk(dir: &Dir<'_>) {
            for file in dir.files() {
                let path = file.path().to_string_lossy();
                assert_ne!(
                    content_type(&path),
                    "application/octet-stream",
                    "{path} would be served without a proper type"
                );
            }
            for sub in dir.dirs() {
                walk(sub);
            }
        }
        walk(&WEB);
        assert!(WEB.get_file("index.html").is_some());
    }
}
