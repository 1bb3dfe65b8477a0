//! `records`: the classic `fruit(name, price)` table as a REST resource on Table storage, with
//! ETags for optimistic concurrency. Records belong to the signed-in user: their partition is
//! the user's id, so no one else can read, list, change or delete them.

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{Price, RecordId, RecordName},
    error::{AppError, ErrorBody},
    http::{
        bodies::RecordBody,
        caller::Caller,
        conditions::{IfMatch, IfNoneMatch},
        json::JsonBody,
        openapi::{JsonBodyErrors, SignedIn},
        paging,
        store::Store,
    },
    state::AppState,
    storage::{
        records::{self, Fields, ListOptions, Patch, Record},
        ETag, StorageError,
    },
};

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage {
    records: Vec<RecordBody>,
    /// Pass as `?continuation=` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation: Option<String>,
}

/// POST and PUT body: every field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// 1 to 50 characters after trimming, no control characters.
    #[schema(example = "apple")]
    name: String,
    /// Integer pence, 0 to 1000000000.
    #[schema(example = 300)]
    price: i64,
}

/// PATCH body: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    name: Option<String>,
    price: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only records with exactly this name.
    name: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<String>,
    /// The `continuation` of the previous page.
    continuation: Option<String>,
}

fn fields(input: RecordInput) -> Result<Fields, AppError> {
    Ok(Fields {
        name: RecordName::parse(&input.name)?,
        price: Price::parse(input.price)?,
    })
}

fn record_id(id: &str) -> Result<RecordId, AppError> {
    Ok(RecordId::parse(id)?)
}

fn not_found(id: &RecordId) -> impl FnOnce(StorageError) -> AppError + '_ {
    move |error| match error {
        StorageError::NotFound => AppError::NotFound(format!("no record {id}")),
        other => other.into(),
    }
}

fn with_etag(mut response: Response, etag: &ETag) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag.0) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A record as a 200 with its ETag.
fn record_response(record: &Record) -> Response {
    with_etag(Json(RecordBody::from(record)).into_response(), &record.etag)
}

fn location(id: &RecordId) -> HeaderValue {
    // A UUID is always a valid header value.
    HeaderValue::from_str(&format!("/api/records/{id}"))
        .unwrap_or(HeaderValue::from_static("/api/records"))
}

/// Lists records in creation order.
#[utoipa::path(
    get,
    path = "/api/records",
    tag = "records",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        SignedIn,
        (status = 200, description = "A page of records; `x-continuation` repeats the token", body = RecordPage),
        (status = 400, description = "Bad limit, name or continuation", body = ErrorBody),
    ),
)]
pub async fn list(
    caller: Caller,
    storage: Store,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let limit = paging::limit(params.limit.as_deref(), records::MAX_LIMIT)?;
    let name = params.name.as_deref().map(RecordName::parse).transpose()?;
    let after = paging::decode(params.continuation.as_deref())?
        .map(|position| RecordId::parse(&position))
        .transpose()
        .map_err(|_| {
            AppError::InvalidInput("continuation is not a token this API issued".into())
        })?;
    let page = storage
        .records
        .list(&caller.owner(), ListOptions { name, limit, after })
        .await?;
    // The token is the last id of the page.
    let continuation = page.next.as_ref().map(|id| paging::encode(id.as_str()));
    let response = Json(RecordPage {
        records: page.records.iter().map(RecordBody::from).collect(),
        continuation: continuation.clone(),
    })
    .into_response();
    Ok(paging::with_header(response, continuation.as_deref()))
}

/// Creates a record.
#[utoipa::path(
    post,
    path = "/api/records",
    tag = "records",
    security(("bearer" = [])),
    request_body = RecordInput,
    responses(
        JsonBodyErrors,
        SignedIn,
        (status = 201, description = "Created; `Location` and `ETag` headers", body = RecordBody),
        (status = 400, description = "Invalid or unknown field", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    storage: Store,
    JsonBody(input): JsonBody<RecordInput>,
) -> Result<Response, AppError> {
    let fields = fields(input)?;
    let owner = caller.owner();
    let record = storage.records.create(&owner, fields).await?;
    // An erasure that ran while this was in flight must not leave the record behind.
    state
        .accounts
        .confirm_write(&caller.user, || {
            storage.records.delete(&owner, &record.id, None)
        })
        .await?;
    let response = (
        StatusCode::CREATED,
        [(header::LOCATION, location(&record.id))],
        Json(RecordBody::from(&record)),
    )
        .into_response();
    Ok(with_etag(response, &record.etag))
}

/// Reads a record; `If-None-Match` with its current ETag gives 304.
#[utoipa::path(
    get,
    path = "/api/records/{id}",
    tag = "records",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Record id")),
    responses(
        SignedIn,
        (status = 200, description = "The record, with its `ETag`", body = RecordBody),
        (status = 304, description = "Not modified"),
        (status = 400, description = "Not a record id", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
    ),
)]
pub async fn get(
    caller: Caller,
    storage: Store,
    Path(id): Path<String>,
    if_none_match: IfNoneMatch,
) -> Result<Response, AppError> {
    let id = record_id(&id)?;
    let record = storage
        .records
        .get(&caller.owner(), &id)
        .await
        .map_err(not_found(&id))?;
    if if_none_match.matches(&record.etag) {
        return Ok(with_etag(
            StatusCode::NOT_MODIFIED.into_response(),
            &record.etag,
        ));
    }
    Ok(record_response(&record))
}

/// Replaces a record; with `If-Match`, only if it is still at that version.
#[utoipa::path(
    put,
    path = "/api/records/{id}",
    tag = "records",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Record id")),
    request_body = RecordInput,
    responses(
        JsonBodyErrors,
        SignedIn,
        (status = 200, description = "Replaced; the new `ETag`", body = RecordBody),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
        (status = 412, description = "If-Match does not match", body = ErrorBody),
    ),
)]
pub async fn replace(
    caller: Caller,
    storage: Store,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    JsonBody(input): JsonBody<RecordInput>,
) -> Result<Response, AppError> {
    let id = record_id(&id)?;
    let fields = fields(input)?;
    let record = storage
        .records
        .replace(&caller.owner(), &id, fields, if_match.as_ref())
        .await
        .map_err(not_found(&id))?;
    Ok(record_response(&record))
}

/// Changes some fields; with `If-Match`, only if it is still at that version.
#[utoipa::path(
    patch,
    path = "/api/records/{id}",
    tag = "records",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Record id")),
    request_body(content = RecordPatch, content_type = "application/json"),
    responses(
        JsonBodyErrors,
        SignedIn,
        (status = 200, description = "Updated; the new `ETag`", body = RecordBody),
        (status = 400, description = "Invalid input or nothing to change", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
        (status = 412, description = "If-Match does not match", body = ErrorBody),
    ),
)]
pub async fn patch(
    caller: Caller,
    storage: Store,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    JsonBody(input): JsonBody<RecordPatch>,
) -> Result<Response, AppError> {
    let id = record_id(&id)?;
    if input.name.is_none() && input.price.is_none() {
        return Err(AppError::InvalidInput(
            "nothing to change: give name and/or price".into(),
        ));
    }
    let patch = Patch {
        name: input.name.as_deref().map(RecordName::parse).transpose()?,
        price: input.price.map(Price::parse).transpose()?,
    };
    let record = storage
        .records
        .patch(&caller.owner(), &id, patch, if_match.as_ref())
        .await
        .map_err(not_found(&id))?;
    Ok(record_response(&record))
}

/// Deletes a record; with `If-Match`, only if it is still at that version.
#[utoipa::path(
    delete,
    path = "/api/records/{id}",
    tag = "records",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Record id")),
    responses(
        SignedIn,
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a record id", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
        (status = 412, description = "If-Match does not match", body = ErrorBody),
    ),
)]
pub async fn delete(
    caller: Caller,
    storage: Store,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<Response, AppError> {
    let id = record_id(&id)?;
    storage
        .records
        .delete(&caller.owner(), &id, if_match.as_ref())
        .await
        .map_err(not_found(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_parsed_not_trusted() {
        assert!(record_id("x' or 1 eq 1").is_err());
        assert!(record_id(RecordId::generate().as_str()).is_ok());
    }
}
