//! An Azure Functions custom handler: the Functions host starts this binary and forwards HTTP
//! requests to it on loopback. Start here, then read one function module.
//!
//! Dependencies point one way, down this list; nothing points back up, and no function imports
//! another (`.ci/check-deps` fails the build on a cycle):
//!
//! - [`functions`]: one thin HTTP adapter per function (`hello`, `status`, `bikepoint`,
//!   `records`, `upload`, `users`, `openapi`), each with its `#[utoipa::path]`, so the router and
//!   the OpenAPI document come from one place. Find a function here, in one hop.
//! - [`http`]: what the adapters share: extractors (JSON body, signed-in caller, storage,
//!   `If-Match`), response bodies shown by several functions, paging, OpenAPI response sets.
//! - [`host`]: the Functions host contract: the readiness probe on `/`, the URL limit, response
//!   deadlines, and the JSON invocation payload adapter ([`host::invocation`]).
//! - [`state`]: the services every request shares, built once at start.
//! - [`error`]: the one error type, every `From<…> for AppError`, and the one mapping to
//!   `{"error": {"code", "message"}}`.
//! - Services: [`accounts`] (sign-up, login and lockout, sessions, rectification, erasure; argon2
//!   on its own threads), [`tfl`] (the TfL Unified API client: timeouts, retry, cache).
//! - [`storage`]: the storage traits and services over Azure Table/Blob storage, SQLite or a
//!   directory; [`storage::wiring`] picks the backends from config.
//! - [`domain`]: parsed values (`UserId`, `Username`, `Owner`, `RecordId`, `RecordName`,
//!   `Price`, `FileName`), the validation error and the clock; no I/O, imports nothing of ours.
//! - [`config`] (typed settings from the environment), [`limits`] (the host's limits; imports
//!   nothing), [`logging`] (one line per request, secrets redacted), [`server`] (connections
//!   and their timeouts), [`package`] (`dist/` and `dist.zip`).
//!
//! [`app`] builds the whole service; `main.rs` only reads config, binds and calls
//! [`server::serve`], which serves it within the connection limits.

pub mod accounts;
pub mod config;
pub mod domain;
pub mod error;
pub mod functions;
pub mod host;
pub mod http;
pub mod limits;
pub mod logging;
pub mod package;
pub mod server;
pub mod state;
pub mod storage;
pub mod tfl;

use axum::{
    http::StatusCode,
    middleware,
    routing::{any, get},
    Router,
};
use tower::ServiceBuilder;
use tower_http::{catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer};

use crate::{
    error::AppError,
    state::{AppState, OpenApiJson},
};

/// The OpenAPI document of every public route.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    functions::router().into_openapi()
}

/// The complete service: every function under `/api`, the readiness probe on `/`, and the
/// invocation payload adapter on `/<function>`.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = functions::router().split_for_parts();
    // One ServiceBuilder per group, listed outermost first: json_errors sees what the URL limit,
    // body limit, deadline and panic layers say. One `.layer` call per group, not one per layer:
    // axum wraps every route in a boxed `Route` at each `.layer`, and each wrapper costs an
    // allocation and a clone per request (bench/README.md, "Profiling").
    let api: Router = api
        .fallback(|| async { AppError::from_status(StatusCode::NOT_FOUND) })
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(error::json_errors))
                .layer(middleware::from_fn(host::url_limit))
                .layer(RequestBodyLimitLayer::new(limits::MAX_BODY_BYTES))
                .layer(host::deadline::DeadlineLayer::new(
                    limits::RESPONSE_DEADLINE,
                    StatusCode::GATEWAY_TIMEOUT,
                ))
                .layer(CatchPanicLayer::new()),
        )
        .with_state(AppState {
            openapi: OpenApiJson::new(openapi),
            ..state
        });

    let payload_api = api.clone();
    // The payload route reads and parses its envelope itself, outside `api`'s layers: it gets
    // the same deadline and panic guard.
    let payload = any(move |function, request| {
        host::invocation::invoke(payload_api.clone(), functions::NAMES, function, request)
    })
    .layer(
        ServiceBuilder::new()
            .layer(host::deadline::DeadlineLayer::new(
                limits::RESPONSE_DEADLINE,
                StatusCode::GATEWAY_TIMEOUT,
            ))
            .layer(CatchPanicLayer::new()),
    );
    api.route("/", get(host::readiness))
        .route("/{function}", payload)
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(logging::log_request))
                .layer(middleware::from_fn(error::json_errors)),
        )
}
