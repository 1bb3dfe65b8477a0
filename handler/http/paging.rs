//! The paging parameters every listing shares: `?limit=` and the opaque `?continuation=`,
//! which is also repeated in the `x-continuation` response header.

use axum::{http::HeaderValue, response::Response};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};

use crate::error::AppError;

pub const CONTINUATION_HEADER: &str = "x-continuation";

/// `?limit=`: absent, or an integer from 1 to `max`.
pub fn limit(text: Option<&str>, max: usize) -> Result<Option<usize>, AppError> {
    text.map(|text| {
        text.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                AppError::InvalidInput(format!("limit must be an integer from 1 to {max}"))
            })
    })
    .transpose()
}

/// A storage position as a token clients treat as opaque.
pub fn encode(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

/// The position in a `?continuation=` token; a token we did not issue is a 400.
pub fn decode(token: Option<&str>) -> Result<Option<String>, AppError> {
    token
        .map(|token| {
            URL_SAFE_NO_PAD
                .decode(token.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    AppError::InvalidInput("continuation is not a token this API issued".into())
                })
        })
        .transpose()
}

/// Repeats the body's `continuation` in the `x-continuation` header.
pub fn with_header(mut response: Response, token: Option<&str>) -> Response {
    if let Some(value) = token.and_then(|token| HeaderValue::from_str(token).ok()) {
        response.headers_mut().insert(CONTINUATION_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_are_400() {
        assert_eq!(
            decode(Some(&encode("a/b c"))).unwrap().as_deref(),
            Some("a/b c")
        );
        assert!(decode(Some("!!!")).is_err());
        assert_eq!(decode(None).unwrap(), None);
        assert!(limit(Some("0"), 10).is_err());
        assert!(limit(Some("11"), 10).is_err());
        assert_eq!(limit(Some(" 7 "), 10).unwrap(), Some(7));
    }
}
