//! `rasid-web`: the browser UI of Rasid, in Arabic and English, served by `rasid serve` at `/`.
//!
//! The UI is a single-page application in plain ES modules and CSS (no build step, no
//! third-party code): `index.html` loads `app.js`, which routes by path (`/markets`,
//! `/trade/RSD-KZ-0001-2023`, …) and talks to the `/v1` JSON API and its WebSocket like any
//! other client. Every file is embedded in the binary with `include_bytes!`, so a deployment is
//! the one `rasid` executable.
//!
//! [`router`] answers the page paths with `index.html` (the application picks the view from
//! the path) and `/assets/…` with the files, each with its content type, an `ETag` and
//! `Cache-Control: no-cache` (browsers revalidate, and a new binary is picked up at once), and
//! a Content-Security-Policy that allows scripts and styles from this origin only: no inline
//! script, no `eval`, no third-party origin.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The policy every response carries. `connect-src 'self'` covers the API and, in CSP level 3
/// browsers, the same-origin WebSocket; `img-src data:` is for nothing but the SVG favicon
/// fallback some browsers request.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its path under `/assets/`, content type and bytes.
#[derive(Debug)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $dir:literal, $content_type:literal) => {
        Asset {
            path: $path,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../", $dir, "/", $path)),
        }
    };
}

/// Every file the UI consists of. A file not listed here is not served, so the list is the
/// inventory (tests check that every module the code imports is in it).
pub static ASSETS: &[Asset] = &[
    asset!("app.js", "assets", "text/javascript; charset=utf-8"),
    asset!("api.js", "assets", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "assets", "text/javascript; charset=utf-8"),
    asset!("live.js", "assets", "text/javascript; charset=utf-8"),
    asset!("charts.js", "assets", "text/javascript; charset=utf-8"),
    asset!("dom.js", "assets", "text/javascript; charset=utf-8"),
    asset!("view.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/login.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/markets.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/trade.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/auctions.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/registry.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/account.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/certificate.js", "assets", "text/javascript; charset=utf-8"),
    asset!("pages/admin.js", "assets", "text/javascript; charset=utf-8"),
    asset!("style.css", "assets", "text/css; charset=utf-8"),
    asset!("icon.svg", "assets", "image/svg+xml"),
    asset!("en.json", "i18n", "application/json; charset=utf-8"),
    asset!("ar.json", "i18n", "application/json; charset=utf-8"),
];

/// The application's page paths: each answers `index.html`, and `app.js` renders the view.
/// Listed explicitly (rather than a catch-all) so that unknown paths, `/v1/…` above all, keep
/// the API's own 404.
pub const PAGES: &[&str] = &[
    "/",
    "/login",
    "/markets",
    "/trade/{instrument}",
    "/auctions",
    "/auctions/{id}",
    "/registry",
    "/registry/{view}",
    "/account",
    "/certificate/{id}",
    "/admin",
    "/admin/{view}",
];

static INDEX_HTML: &[u8] = include_bytes!("../assets/index.html");

/// The UI's routes: the pages and `/assets/{path}`. Has no fallback and no state of its own, so
/// the server merges it into its router (`Router::merge`) whatever that router's state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for page in PAGES {
        router = router.route(page, get(index));
    }
    router.route("/assets/{*path}", get(asset)).route("/favicon.ico", get(favicon))
}

/// The asset at `path` (relative to `/assets/`), if it is one.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

async fn index(headers: HeaderMap) -> Response {
    static ETAG_VALUE: OnceLock<String> = OnceLock::new();
    let etag = ETAG_VALUE.get_or_init(|| etag_of(INDEX_HTML));
    respond(&headers, "text/html; charset=utf-8", INDEX_HTML, etag)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    let etags = ETAGS.get_or_init(|| ASSETS.iter().map(|a| etag_of(a.bytes)).collect());
    match ASSETS.iter().position(|a| a.path == path) {
        Some(i) => respond(&headers, ASSETS[i].content_type, ASSETS[i].bytes, &etags[i]),
        None => with_security_headers(
            (StatusCode::NOT_FOUND, [(CONTENT_TYPE, "text/plain; charset=utf-8")], "no such asset")
                .into_response(),
        ),
    }
}

async fn favicon(headers: HeaderMap) -> Response {
    let icon = find("icon.svg").expect("icon.svg is an asset");
    static ETAG_VALUE: OnceLock<String> = OnceLock::new();
    let etag = ETAG_VALUE.get_or_init(|| etag_of(icon.bytes));
    respond(&headers, icon.content_type, icon.bytes, etag)
}

/// A strong validator: the SHA-256 of the bytes, shortened (collisions among a few dozen files
/// in one binary are not a concern at 96 bits).
fn etag_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn respond(
    request: &HeaderMap,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: &str,
) -> Response {
    let matches = request
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, content_type)], bytes).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    // Revalidate every time: the ETag makes that a 304 without a body, and a new binary's
    // files are used at once without versioned file names.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    with_security_headers(response)
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const JS: &str = "text/javascript; charset=utf-8";
    const CSS: &str = "text/css; charset=utf-8";
    const JSON: &str = "application/json; charset=utf-8";

    #[test]
    fn content_types_follow_the_extension() {
        for a in ASSETS {
            let expected = match a.path.rsplit('.').next() {
                Some("js") => JS,
                Some("css") => CSS,
                Some("json") => JSON,
                Some("svg") => "image/svg+xml",
                other => panic!("{}: no content type for {other:?}", a.path),
            };
            assert_eq!(a.content_type, expected, "{}", a.path);
        }
    }

    #[test]
    fn etags_differ_between_files() {
        let mut tags: Vec<String> = ASSETS.iter().map(|a| etag_of(a.bytes)).collect();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
