//! Reading a JSON request body with our limits and our error messages (the framework's `Json`
//! extractor would answer in its own words).

use axum::{
    body::{to_bytes, Body},
    http::{header, HeaderMap},
};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// JSON bodies here are small records; nothing needs more.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

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
    if !is_json(headers) {
        return Err(AppError::UnsupportedMediaType(
            "send the body as application/json".into(),
        ));
    }
    let bytes = to_bytes(body, MAX_JSON_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge {
            limit: MAX_JSON_BYTES as u64,
        })?;
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        // "price: invalid type: floating point `1.5`, expected i64" names the field and the
        // problem, which is what the client needs to fix it.
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            AppError::InvalidInput(format!("invalid JSON body: {inner}"))
        } else {
            AppError::InvalidInput(format!("invalid JSON body: {path}: {inner}"))
        }
    })
}
