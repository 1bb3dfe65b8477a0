//! `openapi`: the OpenAPI 3.1 document of every public route, built from the handlers'
//! `#[utoipa::path]` attributes, so it cannot drift from the router.

use std::sync::OnceLock;

use axum::{
    body::Bytes,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use utoipa::OpenApi;

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "handler",
        description = "Azure Functions custom handler: hello, London transport status, bike points, records and uploads.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    // Routed by hand as a catch-all (names contain `/`), so listed here rather than by routes!.
    paths(super::upload::download, super::upload::put, super::upload::delete)
)]
struct BaseDocument;

/// The `bearer` scheme that protected operations name: the token from POST /api/users/login.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Title, description, shared schemas and the hand-routed paths; the rest are added by
/// [`super::router`].
pub fn base_document() -> utoipa::openapi::OpenApi {
    BaseDocument::openapi()
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")),
)]
pub async fn openapi_json() -> Response {
    // Built on first use rather than at start: start-up time is the host's readiness budget.
    static JSON: OnceLock<Bytes> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        // A document of plain strings and maps always serialises.
        Bytes::from(serde_json::to_vec(&document()).unwrap_or_default())
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.clone(),
    )
        .into_response()
}

/// The complete document: the base plus every function's operations.
pub fn document() -> utoipa::openapi::OpenApi {
    super::router().into_openapi()
}
