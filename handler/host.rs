//! The Azure Functions host contract: the limits it imposes (enforced here too, so local runs
//! behave like Azure), the readiness probe on `/`, and the JSON invocation payload adapter
//! ([`invocation`]).

pub mod deadline;
pub mod invocation;

use std::time::Duration;

use axum::{
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::error::AppError;

/// The host rejects request bodies over 100 MB (104,857,600 bytes).
pub const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;
/// The host rejects URLs over 4 KB.
pub const MAX_URL_BYTES: usize = 4096;
/// Azure's load balancer drops a response that has not started within 230 s.
pub const RESPONSE_DEADLINE: Duration = Duration::from_secs(230);
/// `extensions.http.routePrefix` in `host.json`: every function's public path starts with it.
pub const ROUTE_PREFIX: &str = "api";
/// Sent by the host on every request, proxied or as a payload; we log it to correlate.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// `GET /`: the host polls this every 25 ms until any response arrives, so it must not wait
/// for anything. It answers before storage or TfL clients are ready.
pub async fn readiness() -> impl IntoResponse {
    (StatusCode::OK, "ready")
}

/// Middleware: 414 for URLs longer than the host accepts.
pub async fn url_limit(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |path_and_query| path_and_query.as_str().len());
    if length > MAX_URL_BYTES {
        return AppError::from_status(StatusCode::URI_TOO_LONG).into_response();
    }
    next.run(request).await
}
