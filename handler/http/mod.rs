//! What the functions share about HTTP, so that no function imports another: extractors (a JSON
//! body, a signed-in [`caller::Caller`], the storage handle, `If-Match`/`If-None-Match`), the
//! response bodies several functions show, paging, the TfL query parameters, and the parts of
//! the OpenAPI document that are not one function's.

pub mod bodies;
pub mod caller;
pub mod conditions;
pub mod json;
pub mod openapi;
pub mod paging;
pub mod store;
pub mod tfl_params;
