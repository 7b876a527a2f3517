//! `Idempotency-Key` on POST: a client that retries after a lost reply gets the first reply, and
//! the command runs once. Keys belong to the authenticated user and are remembered for a day
//! with the SHA-256 of the request (method, path, body); the same key with another request is
//! refused with 422.
//!
//! The claim is written (durably) before the command runs and the response after its commit,
//! in separate writes to the server's tables. A process that stops between the two leaves the
//! key claimed and unanswered; the command runs at most once, but whether it ran is not known
//! to the next writer, since the journal does not carry the key. A retry of such a key is
//! answered 409 `idempotency_outcome_unknown` (not "still running", which would never end
//! until the key expires), and the client checks the resource — an order by its client order
//! id, a transfer in the account's holdings — instead of retrying blindly. Carrying the key in
//! the journaled envelope would make the answer exact; see docs/HANDOFF.md.

use crate::auth::Idempotency;
use crate::error::ApiError;
use crate::now_ms;
use crate::routes::{BODY_BYTES_MAX, Shared, bearer_token};
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::convert::Infallible;

/// The header's name, made once: a look-up by `&str` first parses and checks the name on every
/// request (≈ 0.4k instructions against ≈ 0.1k for this).
pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
const KEY_LEN_MAX: usize = 255;
/// Replies larger than this are not recorded (none of today's routes come close).
const REPLY_BYTES_MAX: usize = 1024 * 1024;

/// Runs `next` (the routed service) on `req`, recording or replaying its answer under the
/// request's `Idempotency-Key` when it has one.
pub async fn layer<S>(app: &Shared, req: Request, next: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    if req.method() != Method::POST {
        return run(next, req).await;
    }
    let Some(key) = req.headers().get(&HEADER) else {
        return run(next, req).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= KEY_LEN_MAX => k.to_owned(),
        _ => {
            return ApiError::bad_request(
                "invalid_idempotency_key",
                "an Idempotency-Key has 1–255 visible ASCII characters",
            )
            .into_response();
        }
    };
    // Without a valid session the route answers 401 itself; nothing is recorded.
    let Some(token) = bearer_token(req.headers()) else {
        return run(next, req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_BYTES_MAX).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the body is too large",
        )
        .into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint: [u8; 32] = hasher.finalize().into();

    let claim = {
        let (app, key) = (app.clone(), key.clone());
        tokio::task::spawn_blocking(move || {
            let Some(user) = app.users.user_for_token(&token, now_ms())? else {
                return Ok(None);
            };
            let seen = app.users.idempotency_begin(
                &user.username,
                &key,
                &fingerprint,
                now_ms(),
                app.writer_epoch(),
            )?;
            Ok(Some((user.username, seen)))
        })
        .await
    };
    let (username, seen) = match claim {
        Ok(Ok(Some(claim))) => claim,
        Ok(Ok(None)) => return run(next, Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) => return crate::routes::storage(e).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match seen {
        Idempotency::New => {}
        Idempotency::Replay(status, body) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, Body::from(body)).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        Idempotency::InFlight => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_flight",
                "a request with this Idempotency-Key is still running",
            )
            .into_response();
        }
        Idempotency::InDoubt => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_outcome_unknown",
                "the server stopped while running the request with this Idempotency-Key; \
                 whether it took effect is unknown: check the resource (an order by its client \
                 order id, an account's holdings) before sending it again with a new key",
            )
            .into_response();
        }
        Idempotency::Mismatch => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )
            .into_response();
        }
    }

    let response = run(next, Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, REPLY_BYTES_MAX).await;
    let status = parts.status;
    let record = match &body {
        // A server-side failure is not an answer: release the key so a retry can run.
        Ok(bytes) if !status.is_server_error() => Some(bytes.to_vec()),
        _ => None,
    };
    let app = app.clone();
    let finished = tokio::task::spawn_blocking(move || match record {
        Some(bytes) => app.users.idempotency_finish(&username, &key, status.as_u16(), &bytes),
        None => app.users.idempotency_abort(&username, &key),
    })
    .await;
    if !matches!(finished, Ok(Ok(()))) {
        eprintln!("rasid-server: cannot record an idempotent reply: {finished:?}");
    }
    match body {
        Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
        Err(_) => ApiError::internal("a reply was too large to record").into_response(),
    }
}

/// Calls the routed service once; it cannot fail (its error type has no values).
async fn run<S>(next: S, req: Request) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    use tower::ServiceExt;
    match next.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
