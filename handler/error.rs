//! The one mapping from errors to HTTP responses. Every 4xx and 5xx the handler sends, whether a
//! function returned it or the framework produced it (unknown route, wrong method, body limit,
//! timeout), leaves as `{"error": {"code": "...", "message": "..."}}`.

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

use crate::{
    accounts::AccountError,
    domain::Invalid,
    limits,
    storage::{files::FileError, StorageError},
    tfl::TflError,
};

/// An error a request can end in. Functions return these; nothing else builds error bodies.
#[derive(Debug, Error)]
pub enum AppError {
    /// The client sent a value we cannot accept; the message says which and why.
    #[error("{0}")]
    InvalidInput(String),
    /// The body could not be parsed in the content type it claims.
    #[error("{0}")]
    MalformedBody(String),
    /// A JSON invocation payload from the host that does not have the documented shape.
    #[error("{0}")]
    InvalidInvocation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No or invalid credentials; answered with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Conflict(String),
    /// An If-Match that no longer matches: the client must re-read.
    #[error("{0}")]
    PreconditionFailed(String),
    /// Too much work is waiting (the password hashing queue is full): a 503 with a short
    /// `Retry-After`, said as it is; nothing is broken, so nothing is logged as an error.
    #[error("{0}")]
    Overloaded(String),
    /// A dependency (storage) is down or throttling; the cause is logged, not shown.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// Anything a status code alone describes (405, 414, 504, ...), mostly from the framework.
    #[error("{message}")]
    Status { status: StatusCode, message: String },
    /// An upstream service (TfL) failed: 502, 503 or 504. The client sees only what kind of
    /// failure; the cause is logged. 503 carries `Retry-After`.
    #[error("{cause}")]
    Upstream {
        status: StatusCode,
        retry_after: Option<u64>,
        cause: String,
        /// What the client is told instead of the cause.
        message: &'static str,
    },
    /// A bug or an unavailable dependency. The client sees only a generic message; the cause is logged.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The JSON error body, as documented in the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `invalid_input`.
    pub code: &'static str,
    /// What went wrong, for a human.
    pub message: String,
}

impl AppError {
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidInput(_) | Self::MalformedBody(_) | Self::InvalidInvocation(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::Unavailable(_) | Self::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Status { status, .. } | Self::Upstream { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::MalformedBody(_) => "malformed_body",
            Self::InvalidInvocation(_) => "invalid_invocation",
            Self::NotFound(_) => "not_found",
            Self::Unauthorized(_) => "unauthorized",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed(_) => "precondition_failed",
            Self::Unavailable(_) | Self::Overloaded(_) => "service_unavailable",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Status { status, .. } | Self::Upstream { status, .. } => code_for_status(*status),
            Self::Internal(_) => "internal",
        }
    }

    /// An error the framework expressed only as a status (and perhaps a plain-text reason).
    pub fn from_status(status: StatusCode) -> Self {
        let message = match status {
            StatusCode::NOT_FOUND => "no function is served at this path".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "this method is not allowed here; see the Allow header".to_owned()
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                return Self::PayloadTooLarge {
                    limit: limits::MAX_BODY_BYTES as u64,
                }
            }
            StatusCode::URI_TOO_LONG => {
                format!("the URL is longer than {} bytes", limits::MAX_URL_BYTES)
            }
            StatusCode::GATEWAY_TIMEOUT | StatusCode::REQUEST_TIMEOUT => format!(
                "the request did not complete within {} seconds",
                limits::RESPONSE_DEADLINE.as_secs()
            ),
            other => other
                .canonical_reason()
                .unwrap_or("request failed")
                .to_lowercase(),
        };
        if status.is_server_error() && status != StatusCode::GATEWAY_TIMEOUT {
            return Self::Status {
                status,
                message: "internal error".to_owned(),
            };
        }
        Self::Status { status, message }
    }
}

/// What TfL said, as one of ours. 404 and 400 carry TfL's message (it names the bad id);
/// the rest say only what kind of failure it was.
impl From<TflError> for AppError {
    fn from(error: TflError) -> Self {
        let upstream = |status, retry_after, cause| Self::Upstream {
            status,
            retry_after,
            cause,
            message: upstream_message(status),
        };
        match error {
            TflError::NotFound(message) => Self::NotFound(message),
            TflError::BadRequest(message) => Self::InvalidInput(message),
            TflError::RateLimited { retry_after, cause } => upstream(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
                cause,
            ),
            TflError::BadGateway(cause) => upstream(StatusCode::BAD_GATEWAY, None, cause),
            TflError::Unreachable(cause) => Self::Upstream {
                status: StatusCode::BAD_GATEWAY,
                retry_after: None,
                cause,
                message: "TfL could not be reached from here: check TFL_API_BASE (without \
                          internet, point it at the TfL replay: see the README)",
            },
            TflError::Timeout(cause) => upstream(StatusCode::GATEWAY_TIMEOUT, None, cause),
            TflError::Setup(cause) => Self::internal(cause),
        }
    }
}

/// When TfL rate-limits without saying for how long: its limit is per minute.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

fn upstream_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => "TfL is refusing requests for now; retry later",
        StatusCode::GATEWAY_TIMEOUT => "TfL did not answer in time",
        _ => "TfL failed or sent an answer we cannot read",
    }
}

fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::CONFLICT => "conflict",
        StatusCode::LENGTH_REQUIRED => "length_required",
        StatusCode::PRECONDITION_FAILED => "precondition_failed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable_entity",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::NOT_IMPLEMENTED => "not_implemented",
        StatusCode::BAD_GATEWAY => "bad_gateway",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "request_failed",
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            Self::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Self::Unavailable(_) => Some(5),
            Self::Overloaded(_) => Some(1),
            Self::Upstream { retry_after, .. } => *retry_after,
            _ => None,
        };
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, source = ?cause.source(), "request failed with an internal error");
                "internal error".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::error!(error = %cause, "a dependency is unavailable");
                "a backing service is unavailable; retry shortly".to_owned()
            }
            Self::Upstream { cause, message, .. } => {
                tracing::error!(%status, error = %cause, "request failed upstream");
                (*message).to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
            },
        };
        // Serialising two strings cannot fail; the fallback keeps this path panic-free anyway.
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal","message":"internal error"}}"#.to_vec()
        });
        let mut response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => Self::NotFound("not found".into()),
            StorageError::AlreadyExists => Self::Conflict("already exists".into()),
            StorageError::PreconditionFailed => Self::PreconditionFailed(
                "it changed since you read it (If-Match does not match its ETag): GET it again"
                    .into(),
            ),
            StorageError::Unavailable(cause) => Self::Unavailable(cause),
            StorageError::Missing(what) => Self::Unavailable(format!("storage lost {what}")),
            StorageError::Backend(cause) => Self::internal(cause),
        }
    }
}

impl From<Invalid> for AppError {
    fn from(invalid: Invalid) -> Self {
        Self::InvalidInput(invalid.0)
    }
}

impl From<FileError> for AppError {
    fn from(error: FileError) -> Self {
        match error {
            FileError::TooLarge { limit } => Self::PayloadTooLarge { limit },
            FileError::Interrupted(why) => Self::InvalidInput(format!(
                "the upload was interrupted ({why}); nothing was stored"
            )),
            FileError::Storage(error) => error.into(),
        }
    }
}

impl From<AccountError> for AppError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Invalid(invalid) => invalid.into(),
            AccountError::WeakPassword(why) => Self::InvalidInput(why),
            AccountError::UsernameTaken | AccountError::Changed => {
                Self::Conflict(error.to_string())
            }
            AccountError::NotSignedIn
            | AccountError::WrongCredentials
            | AccountError::WrongPassword(_)
            | AccountError::InvalidPrincipal => Self::Unauthorized(error.to_string()),
            AccountError::Locked { retry_after_secs } => Self::TooManyRequests {
                message: error.to_string(),
                retry_after_secs,
            },
            AccountError::Busy => Self::Unavailable(error.to_string()),
            AccountError::Overloaded => Self::Overloaded(error.to_string()),
            AccountError::Hashing(_) | AccountError::Internal(_) => Self::internal(error),
            AccountError::Storage(error) => error.into(),
        }
    }
}

/// Why reading a request body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    /// It went past a length limit.
    TooLarge,
    /// No data arrived for `BODY_TIMEOUT` (the server's inactivity limit).
    TimedOut,
    /// The client went away or sent a broken body.
    Broken,
}

/// Reads the cause out of a body error's chain.
pub fn body_failure(error: &(dyn std::error::Error + 'static)) -> BodyFailure {
    let mut causes = std::iter::successors(Some(error), |e| e.source());
    causes
        .find_map(|cause| {
            if cause.is::<http_body_util::LengthLimitError>() {
                Some(BodyFailure::TooLarge)
            } else if cause.is::<tower_http::timeout::TimeoutError>() {
                Some(BodyFailure::TimedOut)
            } else {
                None
            }
        })
        .unwrap_or(BodyFailure::Broken)
}

impl AppError {
    /// A request body that could not be read whole, read with at most `limit` bytes.
    pub fn reading_body(error: &axum::Error, limit: usize) -> Self {
        match body_failure(error) {
            BodyFailure::TooLarge => Self::PayloadTooLarge {
                limit: limit as u64,
            },
            BodyFailure::TimedOut => Self::Status {
                status: StatusCode::REQUEST_TIMEOUT,
                message: "the request body stopped arriving; send it without long pauses".into(),
            },
            BodyFailure::Broken => {
                Self::MalformedBody("the request body could not be read to its end".into())
            }
        }
    }
}

/// What is wrong with a JSON document, in the client's terms: serde's message without our
/// type names (`expected struct Credentials` becomes `expected a JSON object`, `expected i64`
/// `expected an integer`) and without the offending value, which may be a password.
pub fn json_problem(error: &serde_json::Error) -> String {
    let message = error.to_string();
    // serde's words for a value that fits none of the shapes an untagged enum allows.
    if let Some(at) = message.find("data did not match any variant of untagged enum") {
        let position = message[at..]
            .find(" at line ")
            .map(|p| &message[at + p..])
            .unwrap_or("");
        return format!("a value of the wrong type{position}");
    }
    let (problem, position) = match message.rfind(" at line ") {
        Some(at) => message.split_at(at),
        None => (message.as_str(), ""),
    };
    let Some((found, expected)) = problem.split_once(", expected ") else {
        return message;
    };
    let found = match found.split_once(": ") {
        // "invalid type: integer `123`": the kind, not the value.
        Some((what, value)) if what == "invalid type" || what == "invalid value" => {
            let kind = value.split(['`', '"']).next().unwrap_or(value).trim_end();
            format!("{what}: {kind}")
        }
        _ => found.to_owned(),
    };
    let expected = match expected {
        e if e.starts_with("struct ") || e.starts_with("map") => "a JSON object",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" => "an integer",
        "f32" | "f64" => "a number",
        "unit" => "null",
        e if e.starts_with("a ") || e.starts_with("an ") || e.starts_with("one of") => e,
        _ => "another value",
    };
    format!("{found}, expected {expected}{position}")
}

/// Middleware: turns any error response that is not already our JSON (axum's 404/405, body-limit
/// 413, timeout 504, extractor rejections) into the JSON error shape, keeping headers such as
/// `Allow`. Successful responses pass through untouched.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, plain_body) = response.into_parts();
    let error = match status {
        // An extractor's rejection ("Failed to deserialize query string: duplicate field
        // `name`") tells the client what to fix; keep its words. It is short and ours.
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            match axum::body::to_bytes(plain_body, 4096).await {
                Ok(text) if !text.is_empty() => AppError::Status {
                    status,
                    message: String::from_utf8_lossy(&text).into_owned(),
                },
                _ => AppError::from_status(status),
            }
        }
        _ => AppError::from_status(status),
    };
    let replacement = error.into_response();
    let (replacement_parts, body) = replacement.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.status = replacement_parts.status;
    Response::from_parts(parts, Body::new(body))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_json(error: AppError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_reveal_nothing() {
        let (status, body) =
            body_json(AppError::internal("connection string AccountKey=secret")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["message"], "internal error");
        assert!(!body.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn client_errors_say_what_is_wrong() {
        let (status, body) = body_json(AppError::InvalidInput("name is too long".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_input");
        assert_eq!(body["error"]["message"], "name is too long");
    }

    #[tokio::test]
    async fn tfl_failures_map_once_and_say_nothing_internal() {
        let cases = [
            (
                TflError::NotFound("unknown line xyz".into()),
                404,
                "not_found",
            ),
            (
                TflError::BadRequest("bad mode".into()),
                400,
                "invalid_input",
            ),
            (
                TflError::RateLimited {
                    retry_after: None,
                    cause: "Invalid app_key".into(),
                },
                503,
                "service_unavailable",
            ),
            (
                TflError::BadGateway("http://tfl/x".into()),
                502,
                "bad_gateway",
            ),
            (TflError::Timeout("http://tfl/x".into()), 504, "timeout"),
        ];
        for (error, status, code) in cases {
            let response = AppError::from(error).into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                status == 503
            );
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["error"]["code"], code);
            assert!(!body.to_string().contains("tfl/x"), "{body}");
            assert!(!body.to_string().contains("app_key"), "{body}");
        }
    }

    #[test]
    fn json_problems_name_no_type_and_echo_no_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Credentials {
            password: String,
            price: i64,
        }
        for (json, expected) in [
            (
                r#""just a string""#,
                "invalid type: string, expected a JSON object at line 1 column 15",
            ),
            (
                r#"{"password": 123456789012345}"#,
                "invalid type: integer, expected a string at line 1 column 28",
            ),
            (
                r#"{"password": "x", "price": 1.5}"#,
                "invalid type: floating point, expected an integer at line 1 column 30",
            ),
        ] {
            let error = serde_json::from_str::<Credentials>(json).unwrap_err();
            assert_eq!(json_problem(&error), expected, "{json}");
        }
        let syntax = serde_json::from_str::<Credentials>("{").unwrap_err();
        assert_eq!(json_problem(&syntax), syntax.to_string());
    }

    #[test]
    fn framework_statuses_get_stable_codes() {
        assert_eq!(
            AppError::from_status(StatusCode::METHOD_NOT_ALLOWED).code(),
            "method_not_allowed"
        );
        assert_eq!(
            AppError::from_status(StatusCode::PAYLOAD_TOO_LARGE).code(),
            "payload_too_large"
        );
        assert_eq!(
            AppError::from_status(StatusCode::GATEWAY_TIMEOUT).code(),
            "timeout"
        );
        assert_eq!(
            AppError::from_status(StatusCode::INTERNAL_SERVER_ERROR).to_string(),
            "internal error"
        );
    }
}
