//! One module per function, each a thin HTTP adapter over a service: `hello`, `status` and
//! `bikepoint` (TfL), `records` and `upload` (storage), `users` (accounts), `openapi`. Each
//! exposes its handlers with `#[utoipa::path]`, so registering them here puts them in the router
//! and in the OpenAPI document at once. A function also needs `functions/<name>/function.json`;
//! the contract test checks the two agree. No function imports another: what they share is in
//! [`crate::http`].

pub mod bikepoint;
pub mod hello;
pub mod openapi;
pub mod records;
pub mod status;
pub mod upload;
pub mod users;

use axum::{extract::DefaultBodyLimit, routing::get};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{http::openapi::base_document, state::AppState};

/// Function names, as the host knows them (the folder names under `functions/`). The JSON
/// invocation payload adapter accepts `POST /<name>` for these.
pub const NAMES: &[&str] = &[
    "hello",
    "openapi",
    "status",
    "bikepoint",
    "records",
    "upload",
    "users",
];

/// Every function's routes, with their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(base_document())
        .routes(routes!(hello::hello))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(status::status))
        // function.json has one route, `bikepoint/{id?}`; axum serves its two forms.
        .routes(routes!(bikepoint::by_query))
        .routes(routes!(bikepoint::by_path))
        .routes(routes!(records::list, records::create))
        .routes(routes!(
            records::get,
            records::replace,
            records::patch,
            records::delete
        ))
        .merge(upload_router())
        .routes(routes!(users::register))
        .routes(routes!(users::login))
        .routes(routes!(users::logout))
        .routes(routes!(users::me, users::update, users::erase))
}

/// Uploads stream and enforce `UPLOAD_MAX_BYTES` themselves, so the framework's 2 MB default
/// for buffered bodies (which multipart parsing would apply) is off here. Names may contain
/// `/`, hence the catch-all route, documented as `/api/upload/{name}` by
/// [`upload::HandRouted`].
fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(upload::HandRouted::openapi())
        .routes(routes!(upload::list, upload::post))
        .route(
            "/api/upload/{*name}",
            get(upload::download)
                .put(upload::put)
                .delete(upload::delete),
        )
        .layer(DefaultBodyLimit::disable())
}
