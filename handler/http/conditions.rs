//! Conditional requests: `If-Match` and `If-None-Match` as extractors. `*` means any version,
//! which for a write is just "it exists".

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};

use crate::{error::AppError, storage::ETag};

/// `If-Match`: `Some(etag)` pins a version; absent or `*` is `None`.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(pub Option<ETag>);

/// `If-None-Match`: the tags the client already has; `*` matches any.
#[derive(Debug, Clone, Default)]
pub struct IfNoneMatch(Option<String>);

impl IfNoneMatch {
    /// Whether the client's copy is still `current` (answer 304).
    pub fn matches(&self, current: &ETag) -> bool {
        self.0.as_deref().is_some_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag == current.0)
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    /// A pinned version that is not text is refused: writing without it would be unsafe.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let value = value.to_str().map(str::trim).map_err(|_| {
            AppError::InvalidInput(format!("{} is not a valid ETag", header::IF_MATCH))
        })?;
        Ok(Self((value != "*").then(|| ETag(value.to_owned()))))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = AppError;

    /// A value that is not text matches nothing: the full answer is always safe.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let value = parts
            .headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok());
        Ok(Self(value.map(str::to_owned)))
    }
}
