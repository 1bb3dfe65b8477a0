//! One GET to TfL, done carefully: the app key as a query parameter (and scrubbed from every
//! error), a total budget that covers the retry, at most one retry on connect errors and 5xx
//! with jittered backoff, a bounded body, a tolerated UTF-8 BOM, and TfL's errors sorted into
//! [`TflError`].

use std::{
    hash::{BuildHasher, RandomState},
    time::Duration,
};

use axum::body::Bytes;
use reqwest::{header, StatusCode, Url};
use tokio::time::Instant;

use super::{error::TflError, model::ApiError};
use crate::domain::Secret;

/// How to reach the TfL Unified API; [`crate::config`] builds it from the `TFL_*` settings.
#[derive(Debug, Clone)]
pub struct TflConfig {
    /// Without a trailing slash, so paths join as `{base}/Line/...`.
    pub base_url: String,
    pub app_key: Option<Secret>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

/// TfL's largest answers (every line with detail) are a few hundred KB.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The retry waits this long, give or take half (jitter), so instances do not retry in step.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// Do not start a retry that could not get an answer before the deadline anyway.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A successful answer: the body (BOM removed), how long TfL says it stays fresh, and how old
/// it already is (a CDN in front of TfL sends `Age`).
#[derive(Debug)]
pub struct Fetched {
    pub body: Bytes,
    pub max_age: Option<Duration>,
    pub age: Duration,
}

#[derive(Debug)]
pub struct Upstream {
    http: reqwest::Client,
    base_url: String,
    app_key: Option<Secret>,
    timeout: Duration,
}

/// How an attempt failed: worth one retry or not.
enum Failure {
    Retryable(TflError),
    Final(TflError),
}

impl Upstream {
    pub fn new(config: &TflConfig) -> Result<Self, TflError> {
        Ok(Self {
            http: http_client(config)?,
            base_url: config.base_url.clone(),
            app_key: config.app_key.clone(),
            timeout: config.timeout,
        })
    }

    /// GET `{base}{path}`; `path` is built by the caller from validated ids only.
    pub async fn get(&self, path: &str) -> Result<Fetched, TflError> {
        let deadline = Instant::now() + self.timeout;
        let timed_out = || {
            TflError::Timeout(format!(
                "no answer from TfL for {path} within {} ms",
                self.timeout.as_millis()
            ))
        };
        match tokio::time::timeout_at(deadline, self.with_retry(path, deadline)).await {
            Ok(Err(TflError::Timeout(_))) | Err(_) => Err(timed_out()),
            Ok(result) => result,
        }
    }

    async fn with_retry(&self, path: &str, deadline: Instant) -> Result<Fetched, TflError> {
        match self.attempt(path).await {
            Ok(fetched) => Ok(fetched),
            Err(Failure::Final(error)) => Err(error),
            Err(Failure::Retryable(error)) => {
                let backoff = jitter(RETRY_BACKOFF);
                if Instant::now() + backoff + MIN_ATTEMPT > deadline {
                    return Err(error);
                }
                tracing::warn!(%error, backoff_ms = backoff.as_millis() as u64, "TfL call failed; retrying once");
                tokio::time::sleep(backoff).await;
                self.attempt(path).await.map_err(|failure| match failure {
                    Failure::Retryable(error) | Failure::Final(error) => error,
                })
            }
        }
    }

    async fn attempt(&self, path: &str) -> Result<Fetched, Failure> {
        let url = self.url(path).map_err(Failure::Final)?;
        let response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(error) => {
                let (connect, timeout) = (error.is_connect(), error.is_timeout());
                let cause = self.describe(error);
                let error = if timeout {
                    TflError::Timeout(format!("TfL call timed out: {cause}"))
                } else if connect {
                    TflError::Unreachable(format!("cannot reach TfL: {cause}"))
                } else {
                    TflError::BadGateway(format!("cannot reach TfL: {cause}"))
                };
                // Only a failed connect is surely unseen by TfL; other send errors are not retried.
                return Err(if connect {
                    Failure::Retryable(error)
                } else {
                    Failure::Final(error)
                });
            }
        };
        let status = response.status();
        let max_age = max_age(response.headers());
        let age = age(response.headers());
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let body = self.read_body(response).await.map_err(|error| {
            if status.is_server_error() {
                Failure::Retryable(error)
            } else {
                Failure::Final(error)
            }
        })?;
        let body = strip_bom(body);

        if status.is_success() {
            // TfL sometimes wraps a not-found in an ApiError body; honour what it says.
            if let Some(api_error) = api_error(&body) {
                return Err(Failure::Final(self.map_api_error(status, api_error)));
            }
            return Ok(Fetched { body, max_age, age });
        }
        let snippet = || self.scrub(&String::from_utf8_lossy(&body[..body.len().min(200)]));
        let error = match status {
            StatusCode::TOO_MANY_REQUESTS => {
                return Err(Failure::Final(TflError::RateLimited {
                    retry_after,
                    cause: format!("TfL answered 429: {}", snippet()),
                }))
            }
            s if s.is_server_error() => {
                return Err(Failure::Retryable(TflError::BadGateway(format!(
                    "TfL answered {s}: {}",
                    snippet()
                ))))
            }
            _ => match api_error(&body) {
                Some(api_error) => self.map_api_error(status, api_error),
                None if status == StatusCode::NOT_FOUND => {
                    TflError::NotFound("TfL does not know this id".to_owned())
                }
                None => TflError::BadGateway(format!("TfL answered {status}: {}", snippet())),
            },
        };
        Err(Failure::Final(error))
    }

    fn url(&self, path: &str) -> Result<Url, TflError> {
        let mut url = Url::parse(&format!("{}{path}", self.base_url))
            .map_err(|error| TflError::BadGateway(format!("cannot build a TfL URL: {error}")))?;
        if let Some(key) = &self.app_key {
            url.query_pairs_mut().append_pair("app_key", key.expose());
        }
        Ok(url)
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Bytes, TflError> {
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(TflError::BadGateway(format!(
                            "TfL's answer is larger than {MAX_BODY_BYTES} bytes"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Bytes::from(body)),
                Err(error) => {
                    let timeout = error.is_timeout();
                    let cause = self.describe(error);
                    return Err(if timeout {
                        TflError::Timeout(format!("reading TfL's answer timed out: {cause}"))
                    } else {
                        TflError::BadGateway(format!("reading TfL's answer failed: {cause}"))
                    });
                }
            }
        }
    }

    /// Maps TfL's own error body. `EntityNotFoundException` means "no such id" whatever the
    /// status line says.
    fn map_api_error(&self, status: StatusCode, api_error: ApiError) -> TflError {
        let message = self.scrub(
            api_error
                .message
                .as_deref()
                .unwrap_or("TfL refused the request"),
        );
        let not_found = api_error
            .exception_type
            .as_deref()
            .is_some_and(|kind| kind.contains("EntityNotFound"));
        let code = api_error
            .http_status_code
            .and_then(|code| StatusCode::from_u16(code).ok())
            .filter(|_| status.is_success())
            .unwrap_or(status);
        if not_found || code == StatusCode::NOT_FOUND {
            TflError::NotFound(message)
        } else if code == StatusCode::BAD_REQUEST {
            TflError::BadRequest(message)
        } else if code == StatusCode::TOO_MANY_REQUESTS {
            TflError::RateLimited {
                retry_after: None,
                cause: format!("TfL answered 429: {message}"),
            }
        } else {
            TflError::BadGateway(format!("TfL answered {code}: {message}"))
        }
    }

    /// A reqwest error with its causes, for the log. Its URL (which carries the key) is dropped
    /// first, and the text scrubbed anyway in case a cause repeats it.
    fn describe(&self, error: reqwest::Error) -> String {
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.scrub(&text)
    }

    /// The key must never leave in a log line or an error, whatever produced the text.
    fn scrub(&self, text: &str) -> String {
        match &self.app_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "REDACTED"),
            _ => text.to_owned(),
        }
    }
}

fn http_client(config: &TflConfig) -> Result<reqwest::Client, TflError> {
    // rustls on ring with the webpki roots compiled in (reqwest's `rustls-tls`): no OpenSSL,
    // and a static musl binary trusts the same CAs on any worker image.
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(config.connect_timeout)
        // A backstop only: `Upstream::get` enforces the budget across both attempts.
        .timeout(config.timeout)
        .gzip(true)
        .tcp_keepalive(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("handler/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| TflError::Setup(format!("cannot build the HTTP client: {error}")))
}

/// `base` ± 50 %, from the standard library's randomly seeded hasher (no RNG dependency for
/// one number).
fn jitter(base: Duration) -> Duration {
    let random = RandomState::new().hash_one(std::time::Instant::now()) % 1000;
    base / 2 + base * random as u32 / 1000
}

/// How long TfL says the answer stays fresh (`Cache-Control: max-age`); None when it does not say.
fn max_age(headers: &header::HeaderMap) -> Option<Duration> {
    let cache_control = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

/// The answer's age when it reached us (`Age`), zero when absent or unreadable.
fn age(headers: &header::HeaderMap) -> Duration {
    headers
        .get(header::AGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs)
}

fn strip_bom(body: Bytes) -> Bytes {
    if body.starts_with(UTF8_BOM) {
        body.slice(UTF8_BOM.len()..)
    } else {
        body
    }
}

/// TfL's ApiError, if that is what `body` is.
fn api_error(body: &[u8]) -> Option<ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let is_api_error = object
        .get("$type")
        .and_then(|kind| kind.as_str())
        .is_some_and(|kind| kind.contains("ApiError"))
        || object.contains_key("exceptionType");
    if !is_api_error {
        return None;
    }
    serde_json::from_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_and_age_are_read() {
        let mut headers = header::HeaderMap::new();
        assert_eq!((max_age(&headers), age(&headers)), (None, Duration::ZERO));
        headers.insert(
            header::CACHE_CONTROL,
            "public, must-revalidate, max-age=30, s-maxage=60"
                .parse()
                .unwrap(),
        );
        headers.insert(header::AGE, "12".parse().unwrap());
        assert_eq!(max_age(&headers), Some(Duration::from_secs(30)));
        assert_eq!(age(&headers), Duration::from_secs(12));
        headers.insert(header::CACHE_CONTROL, "no-cache".parse().unwrap());
        assert_eq!(max_age(&headers), None);
    }

    #[test]
    fn jitter_stays_within_half_either_side() {
        for _ in 0..100 {
            let wait = jitter(RETRY_BACKOFF);
            assert!(
                wait >= RETRY_BACKOFF / 2 && wait < RETRY_BACKOFF * 3 / 2,
                "{wait:?}"
            );
        }
    }

    #[test]
    fn a_bom_is_dropped_and_api_errors_recognised() {
        let body = strip_bom(Bytes::from_static(
            b"\xEF\xBB\xBF{\"$type\":\"Tfl.Api.Presentation.Entities.ApiError\",\"httpStatusCode\":404,\"message\":\"no\"}",
        ));
        let error = api_error(&body).expect("an ApiError");
        assert_eq!(error.http_status_code, Some(404));
        assert!(api_error(b"[]").is_none());
        assert!(api_error(b"Invalid app_key is provided.").is_none());
    }
}
