//! One module per function. Each exposes its handlers with `#[utoipa::path]`, so registering
//! them here puts them in the router and in the OpenAPI document at once. A function also needs
//! `functions/<name>/function.json`; the contract test checks the two agree.

pub mod bikepoint;
pub mod hello;
pub mod openapi;
pub mod status;
mod tfl_params;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

/// Function names, as the host knows them (the folder names under `functions/`). The JSON
/// invocation payload adapter accepts `POST /<name>` for these.
pub const NAMES: &[&str] = &["hello", "openapi", "status", "bikepoint"];

/// Every function's routes, with their OpenAPI operations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base_document())
        .routes(routes!(hello::hello))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(status::status))
        // function.json has one route, `bikepoint/{id?}`; axum serves its two forms.
        .routes(routes!(bikepoint::by_query))
        .routes(routes!(bikepoint::by_path))
}
