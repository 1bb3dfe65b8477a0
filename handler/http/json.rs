//! Reading a JSON request body with our limits and our error messages (the framework's `Json`
//! extractor would answer in its own words): [`JsonBody`] and [`SecretJson`] as extractors,
//! [`read`] and [`read_and_wipe`] where a handler decides whether to read the body at all.

use axum::{
    body::{to_bytes, Body, Bytes},
    extract::{FromRequest, Request},
    http::{header, HeaderMap},
};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use zeroize::Zeroize;

use crate::error::{json_problem, AppError};

/// JSON bodies here are small records; nothing needs more.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// All the time a JSON body may take to arrive. `BODY_TIMEOUT` bounds silence; this bounds a
/// client that trickles a byte now and then to hold a connection for the full response
/// deadline. 64 KiB in 30 s is a slower link than any real client's.
pub const JSON_BODY_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// `application/json`, or any `application/*+json` (e.g. `merge-patch+json`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|essence| {
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
}

pub async fn read<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, AppError> {
    let bytes = read_bytes(headers, body).await?;
    parse(&bytes)
}

/// Like [`read`], for bodies holding secrets: the buffer is zeroed once parsed, so the
/// clear-text password does not linger in freed memory.
pub async fn read_and_wipe<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, AppError> {
    let bytes = read_bytes(headers, body).await?;
    let parsed = parse(&bytes);
    if let Ok(mut owned) = bytes.try_into_mut() {
        owned.as_mut().zeroize();
    }
    parsed
}

async fn read_bytes(headers: &HeaderMap, body: Body) -> Result<Bytes, AppError> {
    if !is_json(headers) {
        return Err(AppError::UnsupportedMediaType(
            "send the body as application/json".into(),
        ));
    }
    match tokio::time::timeout(JSON_BODY_TIME, to_bytes(body, MAX_JSON_BYTES)).await {
        Ok(read) => read.map_err(|error| AppError::reading_body(&error, MAX_JSON_BYTES)),
        Err(_) => Err(AppError::Status {
            status: axum::http::StatusCode::REQUEST_TIMEOUT,
            message: format!(
                "the body did not arrive within {} seconds",
                JSON_BODY_TIME.as_secs()
            ),
        }),
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let problem = json_problem(&inner);
        match inner.classify() {
            // Not JSON at all: the same code as any body that does not parse as its type.
            Category::Syntax | Category::Eof | Category::Io => {
                AppError::MalformedBody(format!("the body is not valid JSON: {problem}"))
            }
            // "price: invalid type: floating point, expected an integer" names the field and
            // the problem, which is what the client needs to fix it.
            Category::Data if path == "." => {
                AppError::InvalidInput(format!("invalid JSON body: {problem}"))
            }
            Category::Data => {
                AppError::InvalidInput(format!("invalid JSON body: {path}: {problem}"))
            }
        }
    })
}

/// A JSON request body as an extractor: `application/json` (or `+json`), at most
/// [`MAX_JSON_BYTES`], parsed with the failing field named; every rejection is an [`AppError`].
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, _: &S) -> Result<Self, AppError> {
        let (parts, body) = request.into_parts();
        read(&parts.headers, body).await.map(Self)
    }
}

/// Like [`JsonBody`], for bodies holding a password: the buffer it came in is wiped once parsed.
#[derive(Debug)]
pub struct SecretJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for SecretJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, _: &S) -> Result<Self, AppError> {
        let (parts, body) = request.into_parts();
        read_and_wipe(&parts.headers, body).await.map(Self)
    }
}
