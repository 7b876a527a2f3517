//! Query parameters and cursor pagination.
//!
//! Every list is `{"items":[…],"next_cursor":"…"|null}` in ascending id order. The cursor is
//! opaque to clients: today it is the last id of the page, hex-encoded behind a version letter,
//! so the next page starts strictly after it and stays stable while new items are appended.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const LIMIT_DEFAULT: usize = 100;
pub const LIMIT_MAX: usize = 500;
/// Query parameters one request may carry: bounds the work of parsing them.
const PARAMS_MAX: usize = 16;

/// The query string as name → value, unknown names refused per route by `Params::allow`.
pub struct Params(BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request("malformed_request", e.body_text()))?;
        if pairs.len() > PARAMS_MAX {
            return Err(ApiError::bad_request("malformed_request", "too many query parameters"));
        }
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad_request(
                    "malformed_request",
                    format!("query parameter {k:?} is given twice"),
                ));
            }
        }
        Ok(Params(map))
    }
}

impl Params {
    /// Refuses names this route does not take, so a typo is an error rather than ignored.
    pub fn allow(&self, names: &[&str]) -> Result<&Self, ApiError> {
        match self.0.keys().find(|k| !names.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad_request(
                "unknown_parameter",
                format!("unknown query parameter {k:?} (this route takes {names:?})"),
            )),
            None => Ok(self),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A required parameter.
    pub fn need(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                format!("query parameter {name:?} is required"),
            )
        })
    }

    /// An optional id parameter (`7` or `prj7`).
    pub fn id<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|raw| {
                raw.parse().map_err(|_| {
                    ApiError::bad_request("invalid_id", format!("{name}={raw:?} is not an id"))
                })
            })
            .transpose()
    }

    /// `cursor` and `limit`.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = match self.get("limit") {
            None => LIMIT_DEFAULT,
            Some(raw) => {
                raw.parse::<usize>().ok().filter(|n| (1..=LIMIT_MAX).contains(n)).ok_or_else(
                    || ApiError::bad_request("invalid_limit", format!("limit is 1–{LIMIT_MAX}")),
                )?
            }
        };
        let after = self.get("cursor").map(decode_cursor).transpose()?;
        Ok(Page { after, limit })
    }
}

/// Where a page starts and how long it is.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    after: Option<u64>,
    limit: usize,
}

impl Page {
    /// The page of `items` (ascending by key) after the cursor, and the cursor of the next.
    pub fn collect(self, items: impl Iterator<Item = (u64, Value)>) -> Value {
        let mut rows: Vec<(u64, Value)> = items
            .skip_while(|(key, _)| self.after.is_some_and(|after| *key <= after))
            .take(self.limit + 1)
            .collect();
        let next = if rows.len() > self.limit {
            rows.truncate(self.limit);
            rows.last().map(|(key, _)| encode_cursor(*key))
        } else {
            None
        };
        assert!(rows.len() <= self.limit);
        json!({ "items": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "next_cursor": next })
    }
}

fn encode_cursor(key: u64) -> String {
    format!("c{key:x}")
}

fn decode_cursor(raw: &str) -> Result<u64, ApiError> {
    raw.strip_prefix('c')
        .filter(|hex| !hex.is_empty() && hex.len() <= 16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this API gave")
        })
}
