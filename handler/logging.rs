//! Logging: `tracing` to stdout (the host captures it), text or JSON lines, one line per request
//! with the invocation id. Credentials that can ride in a query string are redacted.

use std::{borrow::Cow, time::Instant};

use axum::{extract::Request, middleware::Next, response::Response};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::{config::LogFormat, host};

/// Query parameters whose values are secrets: function keys, the TfL key, credentials.
const REDACTED_PARAMS: &[&str] = &["code", "app_key", "password", "token"];

/// Log lines that may wait for the writer thread; past this, new lines are dropped rather than
/// stall a request. 16 Ki lines is seconds of backlog at any load the host sends one instance, and
/// the channel's slots are allocated and touched at start: tracing-appender's default of 128,000
/// lines cost 4 MB of RSS and ~1,000 page faults before the first request.
const BUFFERED_LINES: usize = 16 * 1024;

/// Installs the global subscriber. Writes go through a background thread so a slow stdout never
/// stalls a request; keep the guard alive until exit so buffered lines are flushed.
///
/// The thread writes every line waiting in the channel with one `write(2)` (the `BufWriter`,
/// flushed after each batch) instead of one per line, as plain stdout would.
pub fn init(format: LogFormat, filter: &str) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|error| {
        eprintln!("RUST_LOG={filter:?} is not a valid filter ({error}); using \"info\"");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
    guard
}

/// Middleware: one log line per request, after the response is ready.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let invocation_id = request
        .headers()
        .get(host::INVOCATION_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);

    let response = next.run(request).await;

    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let path = redact_query(uri.path(), uri.query());
    let invocation_id = invocation_id.as_deref().unwrap_or("");
    if status >= 500 {
        tracing::error!(%method, path = %path, status, latency_ms, invocation_id, "request");
    } else {
        tracing::info!(%method, path = %path, status, latency_ms, invocation_id, "request");
    }
    response
}

/// `path?query` with the values of [`REDACTED_PARAMS`] replaced. Borrows when there is nothing
/// to redact, which is the common case.
pub fn redact_query<'a>(path: &'a str, query: Option<&'a str>) -> Cow<'a, str> {
    let Some(query) = query else {
        return Cow::Borrowed(path);
    };
    let is_secret = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        REDACTED_PARAMS
            .iter()
            .any(|secret| key.eq_ignore_ascii_case(secret))
    };
    if !query.split('&').any(is_secret) {
        return Cow::Owned(format!("{path}?{query}"));
    }
    let redacted: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| {
            if is_secret(pair) {
                let key = pair.split_once('=').map_or(pair, |(key, _)| key);
                Cow::Owned(format!("{key}=REDACTED"))
            } else {
                Cow::Borrowed(pair)
            }
        })
        .collect();
    Cow::Owned(format!("{path}?{}", redacted.join("&")))
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_query(
                "/api/hello",
                Some("name=Ada&code=abc123&APP_KEY=k&password=p&token=t")
            ),
            "/api/hello?name=Ada&code=REDACTED&APP_KEY=REDACTED&password=REDACTED&token=REDACTED"
        );
    }

    #[test]
    fn similar_names_are_not_secrets() {
        assert_eq!(
            redact_query("/api/x", Some("postcode=N1&codes=1")),
            "/api/x?postcode=N1&codes=1"
        );
    }

    #[test]
    fn no_query_borrows() {
        assert!(matches!(
            redact_query("/api/hello", None),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
