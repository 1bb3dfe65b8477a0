//! `upload`: files streamed into Blob storage in blocks (constant memory, nothing visible until
//! the last block is in) and served back with ranges, conditional GETs and safe
//! `Content-Disposition`. Files belong to the signed-in user: blob names are prefixed with the
//! user's id, so no one else can read, list, replace or delete them.

use axum::{
    body::Body,
    extract::{multipart::MultipartError, FromRequest, Multipart, Path, Query, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use percent_encoding::utf8_percent_encode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use futures::{StreamExt, TryStreamExt};

use crate::{
    accounts::Accounts,
    domain::{FileName, MAX_FILE_NAME_CHARS},
    error::{body_failure, AppError, BodyFailure, ErrorBody},
    http::{
        bodies::{FileBody, SEGMENT},
        caller::Caller,
        conditions::IfNoneMatch,
        openapi::SignedIn,
        paging,
        store::Store,
    },
    state::AppState,
    storage::{
        files::{BodyError, FileInfo, MAX_LIST},
        wiring::Storage,
        StorageError,
    },
};

/// The operations routed by hand on the catch-all `/api/upload/{*name}` (names contain `/`),
/// which `routes!` cannot document; `functions/mod.rs` merges them into the document.
#[derive(OpenApi)]
#[openapi(paths(download, put, delete))]
pub struct HandRouted;

/// A page of files.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilePageBody {
    files: Vec<FileBody>,
    /// Pass as `?continuation=` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only files whose names start with this.
    prefix: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<String>,
    /// The `continuation` of the previous page.
    continuation: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file name for a raw body (may contain `/`); multipart parts use their own filename.
    name: Option<String>,
}

fn file_name(name: &str) -> Result<FileName, AppError> {
    Ok(FileName::parse(name)?)
}

fn not_found(name: &FileName) -> impl FnOnce(StorageError) -> AppError + '_ {
    move |error| match error {
        StorageError::NotFound => AppError::NotFound(format!("no file {:?}", name.as_str())),
        other => other.into(),
    }
}

/// The request's own content type, unless it says nothing useful; then a guess from the name.
fn content_type_for(declared: Option<&str>, name: &FileName) -> String {
    let declared = declared
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .filter(|value| value.parse::<mime_guess::Mime>().is_ok());
    match declared {
        Some(value)
            if !value.starts_with("application/octet-stream")
                && !value.starts_with("application/x-www-form-urlencoded") =>
        {
            value.to_owned()
        }
        _ => mime_guess::from_path(name.as_str())
            .first_or_octet_stream()
            .essence_str()
            .to_owned(),
    }
}

fn created(file: &FileInfo) -> Response {
    let body = FileBody::from(file);
    let location =
        HeaderValue::from_str(&body.url).unwrap_or(HeaderValue::from_static("/api/upload"));
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

/// Refuses a declared body over the limit before reading any of it.
fn check_declared_length(headers: &HeaderMap, limit: u64) -> Result<(), AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => Err(AppError::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// The body limit ends an over-long body with a length-limit error: that is a 413 like any
/// other oversized upload, not an interruption.
fn body_error(error: axum::Error) -> BodyError {
    match body_failure(&error) {
        BodyFailure::TooLarge => BodyError::TooLarge,
        BodyFailure::TimedOut => {
            BodyError::Failed("no data arrived for longer than BODY_TIMEOUT".into())
        }
        BodyFailure::Broken => BodyError::from(error),
    }
}

fn multipart_error(error: MultipartError) -> BodyError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        BodyError::TooLarge
    } else {
        BodyError::Failed(error.body_text())
    }
}

/// Keeps the files just stored for `caller`, unless their account was erased meanwhile.
async fn confirm(
    accounts: &Accounts,
    storage: &Storage,
    caller: &Caller,
    files: &[FileInfo],
) -> Result<(), AppError> {
    let owner = caller.owner();
    accounts
        .confirm_write(&caller.user, || async {
            for file in files {
                if let Ok(name) = FileName::parse(&file.name) {
                    storage.files.delete(&owner, &name).await?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
}

async fn store_raw(
    state: &AppState,
    storage: &Storage,
    caller: &Caller,
    name: &FileName,
    request: Request,
) -> Result<Response, AppError> {
    check_declared_length(request.headers(), storage.files.max_bytes())?;
    let content_type = content_type_for(
        request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok()),
        name,
    );
    let body = request
        .into_body()
        .into_data_stream()
        .map(|chunk| chunk.map_err(body_error));
    let file = storage
        .files
        .upload(&caller.owner(), name, &content_type, body)
        .await?;
    confirm(
        &state.accounts,
        storage,
        caller,
        std::slice::from_ref(&file),
    )
    .await?;
    Ok(created(&file))
}

/// Lists files, in name order.
#[utoipa::path(
    get,
    path = "/api/upload",
    tag = "upload",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        SignedIn,
        (status = 200, description = "A page of files; `x-continuation` repeats the token", body = FilePageBody),
        (status = 400, description = "Bad prefix, limit or continuation", body = ErrorBody),
    ),
)]
pub async fn list(
    caller: Caller,
    storage: Store,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let prefix = params.prefix.unwrap_or_default();
    if prefix.chars().count() > MAX_FILE_NAME_CHARS
        || prefix.chars().any(|c| c.is_control() || c == '\\')
    {
        return Err(AppError::InvalidInput(
            "prefix must be at most 255 characters, without control characters or backslashes"
                .into(),
        ));
    }
    let limit = paging::limit(params.limit.as_deref(), MAX_LIST)?;
    let marker = paging::decode(params.continuation.as_deref())?;
    let page = storage
        .files
        .list(&caller.owner(), &prefix, marker.as_deref(), limit)
        .await?;
    let continuation = page.next.as_deref().map(paging::encode);
    let response = Json(FilePageBody {
        files: page.files.iter().map(FileBody::from).collect(),
        continuation: continuation.clone(),
    })
    .into_response();
    Ok(paging::with_header(response, continuation.as_deref()))
}

/// Uploads a file: a raw body with `?name=`, or a `multipart/form-data` form with one or more
/// `file` parts (each stored under its filename).
#[utoipa::path(
    post,
    path = "/api/upload",
    tag = "upload",
    security(("bearer" = [])),
    params(UploadParams),
    request_body(
        description = "The file itself (any content type), or a multipart form with `file` parts.",
        content(
            (Vec<u8> = "application/octet-stream"),
            (Vec<u8> = "multipart/form-data"),
        ),
    ),
    responses(
        SignedIn,
        (status = 201, description = "Stored; `Location` points at it. Several multipart files give an array.", body = FileBody),
        (status = 400, description = "Bad or missing name, or no file part", body = ErrorBody),
        (status = 413, description = "Larger than UPLOAD_MAX_BYTES", body = ErrorBody),
    ),
)]
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    storage: Store,
    Query(params): Query<UploadParams>,
    request: Request,
) -> Result<Response, AppError> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        let name = params.name.as_deref().ok_or_else(|| {
            AppError::InvalidInput("give the file name as ?name=, or send a multipart form".into())
        })?;
        return store_raw(&state, &storage, &caller, &file_name(name)?, request).await;
    }

    check_declared_length(request.headers(), storage.files.max_bytes())?;
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|rejection| AppError::MalformedBody(rejection.body_text()))?;
    let mut stored = Vec::new();
    loop {
        let field = multipart.next_field().await.map_err(|error| {
            if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge {
                    limit: storage.files.max_bytes(),
                }
            } else {
                AppError::MalformedBody(format!("invalid multipart body: {}", error.body_text()))
            }
        })?;
        let Some(field) = field else { break };
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .ok_or_else(|| AppError::InvalidInput("a file part has no filename".into()))
            .and_then(file_name)?;
        let content_type = content_type_for(field.content_type(), &name);
        let body = field.map(|chunk| chunk.map_err(multipart_error));
        let file = storage
            .files
            .upload(&caller.owner(), &name, &content_type, body)
            .await?;
        stored.push(file);
    }
    confirm(&state.accounts, &storage, &caller, &stored).await?;
    match stored.as_slice() {
        [] => Err(AppError::InvalidInput("the form has no `file` part".into())),
        [one] => Ok(created(one)),
        many => {
            let bodies: Vec<FileBody> = many.iter().map(FileBody::from).collect();
            Ok((StatusCode::CREATED, Json(bodies)).into_response())
        }
    }
}

/// Uploads (or replaces) the file `name` with the raw body.
#[utoipa::path(
    put,
    path = "/api/upload/{name}",
    tag = "upload",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "File name; may contain `/`")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        SignedIn,
        (status = 201, description = "Stored", body = FileBody),
        (status = 400, description = "Bad name", body = ErrorBody),
        (status = 413, description = "Larger than UPLOAD_MAX_BYTES", body = ErrorBody),
    ),
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    storage: Store,
    Path(name): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    store_raw(&state, &storage, &caller, &file_name(&name)?, request).await
}

/// Downloads a file, with `Range`, `If-None-Match` and `HEAD` support.
#[utoipa::path(
    method(get, head),
    path = "/api/upload/{name}",
    tag = "upload",
    security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "File name; may contain `/`"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-99`"),
    ),
    responses(
        SignedIn,
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such file", body = ErrorBody),
        (status = 416, description = "Range not satisfiable", body = ErrorBody),
    ),
)]
pub async fn download(
    caller: Caller,
    storage: Store,
    Path(name): Path<String>,
    method: Method,
    if_none_match: IfNoneMatch,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let name = file_name(&name)?;
    let owner = caller.owner();
    let file = storage
        .files
        .info(&owner, &name)
        .await
        .map_err(not_found(&name))?;

    let mut response_headers = download_headers(&file, &name);
    if if_none_match.matches(&file.etag) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }

    let (status, range) = match requested_range(&headers, file.size) {
        RangeRequest::Whole => (StatusCode::OK, 0..file.size),
        RangeRequest::Part(range) => {
            let content_range = format!("bytes {}-{}/{}", range.start, range.end - 1, file.size);
            if let Ok(value) = HeaderValue::from_str(&content_range) {
                response_headers.insert(header::CONTENT_RANGE, value);
            }
            (StatusCode::PARTIAL_CONTENT, range)
        }
        RangeRequest::Unsatisfiable => {
            let mut response = AppError::Status {
                status: StatusCode::RANGE_NOT_SATISFIABLE,
                message: format!("the range is outside the file ({} bytes)", file.size),
            }
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", file.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    response_headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(range.end - range.start),
    );
    if method == Method::HEAD {
        return Ok((status, response_headers).into_response());
    }
    let bytes = storage
        .files
        .read(&owner, &name, range, &file.etag)
        .await
        .map_err(not_found(&name))?;
    // Past this point the status and length are sent: a storage failure can only cut the
    // connection (the body stream's error does), so that the client sees a broken transfer
    // rather than a short file. Say so in the log, with the request's invocation id.
    let invocation_id = headers
        .get(crate::host::INVOCATION_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = bytes.inspect_err(move |error| {
        tracing::error!(
            invocation_id,
            %error,
            "a download failed after its headers were sent; the connection is cut"
        );
    });
    Ok((status, response_headers, Body::from_stream(bytes)).into_response())
}

enum RangeRequest {
    Whole,
    Part(std::ops::Range<u64>),
    Unsatisfiable,
}

/// One satisfiable range is served as 206; no range, a malformed one or several (which the
/// spec lets a server ignore) get the whole file; an unsatisfiable one is 416.
fn requested_range(headers: &HeaderMap, size: u64) -> RangeRequest {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeRequest::Whole;
    };
    let parsed = match http_range_header::parse_range_header(value) {
        Ok(parsed) => parsed,
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => {
            return RangeRequest::Unsatisfiable
        }
        Err(_) => return RangeRequest::Whole,
    };
    match parsed.validate(size) {
        Ok(ranges) => match ranges.as_slice() {
            [only] => RangeRequest::Part(*only.start()..*only.end() + 1),
            _ => RangeRequest::Whole,
        },
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => {
            RangeRequest::Unsatisfiable
        }
        Err(_) => RangeRequest::Whole,
    }
}

/// Types a browser shows without running anything: these may be `inline`. HTML, SVG and XML can
/// carry script, so they always download as attachments.
fn is_inline(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let scriptable = matches!(
        essence.as_str(),
        "text/html" | "application/xhtml+xml" | "image/svg+xml" | "text/xml" | "application/xml"
    );
    !scriptable
        && (essence.starts_with("image/")
            || essence.starts_with("text/")
            || essence == "application/pdf")
}

fn content_disposition(content_type: &str, name: &FileName) -> String {
    let base = name.as_str().rsplit('/').next().unwrap_or(name.as_str());
    let ascii: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let kind = if is_inline(content_type) {
        "inline"
    } else {
        "attachment"
    };
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(base, SEGMENT)
    )
}

fn download_headers(file: &FileInfo, name: &FileName) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Ok(value) = HeaderValue::from_str(&file.etag.0) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(file.last_modified.into())) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&file.content_type, name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // User content never runs with this origin's privileges, whatever type it claims and
    // even if a browser renders it.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers
}

/// Deletes a file.
#[utoipa::path(
    delete,
    path = "/api/upload/{name}",
    tag = "upload",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "File name; may contain `/`")),
    responses(
        SignedIn,
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad name", body = ErrorBody),
        (status = 404, description = "No such file", body = ErrorBody),
    ),
)]
pub async fn delete(
    caller: Caller,
    storage: Store,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let name = file_name(&name)?;
    storage
        .files
        .delete(&caller.owner(), &name)
        .await
        .map_err(not_found(&name))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Option<std::ops::Range<u64>> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        match requested_range(&headers, size) {
            RangeRequest::Part(range) => Some(range),
            RangeRequest::Whole => None,
            RangeRequest::Unsatisfiable => Some(u64::MAX..u64::MAX),
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-99", 1000), Some(0..100));
        assert_eq!(range("bytes=900-", 1000), Some(900..1000));
        assert_eq!(range("bytes=-10", 1000), Some(990..1000));
        assert_eq!(range("bytes=0-5000", 1000), Some(0..1000));
        assert_eq!(range("bytes=1000-", 1000), Some(u64::MAX..u64::MAX));
        assert_eq!(range("bytes=0-1,5-6", 1000), None);
        assert_eq!(range("pages=1", 1000), None);
    }

    #[test]
    fn scriptable_types_never_render_inline() {
        assert!(is_inline("image/png"));
        assert!(is_inline("application/pdf"));
        assert!(is_inline("text/plain; charset=utf-8"));
        assert!(!is_inline("text/html"));
        assert!(!is_inline("image/svg+xml"));
        assert!(!is_inline("application/zip"));
    }

    #[test]
    fn dispositions_quote_safely() {
        let name = FileName::parse("dir/we\"ird é.txt").unwrap();
        let value = content_disposition("text/plain", &name);
        assert_eq!(
            value,
            "inline; filename=\"we_ird _.txt\"; filename*=UTF-8''we%22ird%20%C3%A9.txt"
        );
    }
}
