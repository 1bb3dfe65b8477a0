//! Logging: `tracing` to stdout (the host captures it), text or JSON lines, one line per request
//! with the invocation id. Credentials that can ride in a query string are redacted.

use std::{
    fmt,
    sync::{
        atomic::{AtomicUsize, Ordering},
        OnceLock,
    },
    time::Instant,
};

use axum::{extract::Request, http::Uri, middleware::Next, response::Response};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::{config::LogFormat, host};

/// Query parameters whose values are secrets: function keys, the TfL key, credentials.
const REDACTED_PARAMS: &[&str] = &["code", "app_key", "password", "token"];

/// Log lines that may wait for the writer thread; past this, new lines are dropped rather than
/// stall a request. 16 Ki lines is seconds of backlog at any load the host sends one instance, and
/// the channel's slots are allocated and touched at start: tracing-appender's default of 128,000
/// lines cost 4 MB of RSS and ~1,000 page faults before the first request.
const BUFFERED_LINES: usize = 16 * 1024;

/// Lines the writer dropped because its buffer was full, and how many of them were reported.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();
static REPORTED: AtomicUsize = AtomicUsize::new(0);

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
    let _ = DROPPED.set(writer.error_counter());
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

/// Says, once, how many lines were dropped since the last time it said so. Called before each
/// request line, so a loss is reported by the next line that gets through: one atomic load
/// when nothing was lost.
fn report_dropped_lines() {
    let Some(counter) = DROPPED.get() else {
        return;
    };
    let dropped = counter.dropped_lines();
    let reported = REPORTED.load(Ordering::Relaxed);
    if dropped > reported
        && REPORTED
            .compare_exchange(reported, dropped, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        // The total too: if this line is itself dropped, the next report still adds up.
        tracing::warn!(
            dropped_lines = dropped - reported,
            dropped_lines_total = dropped,
            "log lines were dropped: the log writer fell behind"
        );
    }
}

/// Middleware: one log line per request, after the response is ready. Nothing here allocates:
/// the method, URI and invocation id are reference-counted or inline, and the redacted path
/// is written straight into the log line.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let invocation_id = request.headers().get(host::INVOCATION_ID_HEADER).cloned();

    let response = next.run(request).await;

    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let path = Redacted(&uri);
    let invocation_id = invocation_id
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    report_dropped_lines();
    if status >= 500 {
        tracing::error!(%method, %path, status, latency_ms, invocation_id, "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms, invocation_id, "request");
    }
    response
}

/// `path?query` with the values of [`REDACTED_PARAMS`] replaced, written without building a
/// string first.
pub struct Redacted<'a>(pub &'a Uri);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.path())?;
        let Some(query) = self.0.query() else {
            return Ok(());
        };
        for (n, pair) in query.split('&').enumerate() {
            f.write_str(if n == 0 { "?" } else { "&" })?;
            let key = pair.split_once('=').map_or(pair, |(key, _)| key);
            if REDACTED_PARAMS
                .iter()
                .any(|secret| key.eq_ignore_ascii_case(secret))
            {
                write!(f, "{key}=REDACTED")?;
            } else {
                f.write_str(pair)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Redacted;

    fn redacted(uri: &str) -> String {
        Redacted(&uri.parse().unwrap()).to_string()
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redacted("/api/hello?name=Ada&code=abc123&APP_KEY=k&password=p&token=t"),
            "/api/hello?name=Ada&code=REDACTED&APP_KEY=REDACTED&password=REDACTED&token=REDACTED"
        );
    }

    #[test]
    fn similar_names_are_not_secrets() {
        assert_eq!(
            redacted("/api/x?postcode=N1&codes=1"),
            "/api/x?postcode=N1&codes=1"
        );
    }

    #[test]
    fn no_query_is_the_path() {
        assert_eq!(redacted("/api/hello"), "/api/hello");
    }
}
