//! The parts of the OpenAPI document that belong to no one function: its title, the `bearer`
//! security scheme, the error schema, and the response sets many operations share. The
//! operations themselves come from each handler's `#[utoipa::path]` (see `functions/mod.rs`).

use utoipa::{IntoResponses, OpenApi};

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

/// Title, description, shared schemas and the security scheme; the operations are added by the
/// functions' router.
pub fn base_document() -> utoipa::openapi::OpenApi {
    BaseDocument::openapi()
}

/// What any operation that needs a signed-in caller may answer besides its own responses.
#[derive(IntoResponses)]
pub enum SignedIn {
    /// Not signed in
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Storage is unreachable, or too many password checks are waiting; see Retry-After
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What any operation that reads a JSON body may answer besides its own responses.
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    /// The body is not JSON, or a field is missing, unknown or of the wrong type
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// The body stopped arriving
    #[response(status = 408)]
    Stalled(ErrorBody),
    /// The body is over 64 KiB
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not `application/json`
    #[response(status = 415)]
    NotJson(ErrorBody),
}

/// What any operation that asks TfL may answer besides its own responses.
#[derive(IntoResponses)]
pub enum TflUpstream {
    /// TfL failed or sent an unreadable answer
    #[response(status = 502)]
    BadGateway(ErrorBody),
    /// TfL is rate-limiting us (or the app key is invalid); see Retry-After
    #[response(status = 503)]
    Unavailable(ErrorBody),
    /// TfL did not answer within TFL_TIMEOUT_MS
    #[response(status = 504)]
    Timeout(ErrorBody),
}
