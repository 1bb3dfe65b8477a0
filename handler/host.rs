//! The Azure Functions host contract: the route prefix, the readiness probe on `/`, the URL
//! limit, response deadlines ([`deadline`]) and the JSON invocation payload adapter
//! ([`invocation`]). The limits themselves are in [`crate::limits`].

pub mod deadline;
pub mod invocation;

use axum::{
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::AppError, limits::MAX_URL_BYTES};

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
