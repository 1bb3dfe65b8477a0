//! What can go wrong calling TfL.

use thiserror::Error;

/// What can go wrong calling TfL. Messages are safe to log (no app key); `error.rs` maps each
/// to an HTTP status and decides what the client sees.
#[derive(Debug, Clone, Error)]
pub enum TflError {
    /// TfL does not know an id; the message is TfL's (or ours), fit for the client.
    #[error("{0}")]
    NotFound(String),
    /// TfL refused the request as malformed; the message is TfL's.
    #[error("{0}")]
    BadRequest(String),
    /// TfL's rate limit, or (the same answer) an invalid app key.
    #[error("{cause}")]
    RateLimited {
        retry_after: Option<u64>,
        cause: String,
    },
    /// TfL failed (5xx) or sent something we cannot read.
    #[error("{0}")]
    BadGateway(String),
    /// TfL could not be reached at all (no route, DNS, connection refused): most likely no
    /// internet here, or `TFL_API_BASE` pointing at nothing.
    #[error("{0}")]
    Unreachable(String),
    /// No answer within the configured budget.
    #[error("{0}")]
    Timeout(String),
    /// The client could not be built at start.
    #[error("{0}")]
    Setup(String),
}

impl TflError {
    /// TfL is failing, as opposed to answering: worth serving a stale entry instead.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::BadGateway(_)
                | Self::Unreachable(_)
                | Self::Timeout(_)
        )
    }
}
