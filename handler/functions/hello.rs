//! `hello`: the classic first Flask app, done right. `GET,POST /api/hello?name=Ada` answers
//! `<b>Hello</b> Ada!` as HTML; the name may also come in a POSTed form or JSON body, and is
//! always HTML-escaped.

use axum::{
    body::{to_bytes, Bytes},
    extract::{FromRequest, Multipart, Query, Request},
    http::{header, HeaderMap, HeaderValue, Method},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, ErrorBody};

/// Names longer than this (in characters) are refused.
pub const MAX_NAME_CHARS: usize = 100;
/// A hello body only ever carries a name, so there is no reason to buffer more than this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const DEFAULT_GREETING: &str = "<b>Hello</b> World!";
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HelloQuery {
    /// Who to greet (at most 100 characters); `World` when absent or empty.
    name: Option<String>,
}

/// A POSTed body; the same shape as a form (`name=Ada`), JSON or multipart.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HelloBody {
    /// Who to greet (at most 100 characters).
    name: Option<String>,
}

/// Greets `name` in HTML.
///
/// The name comes from the query string, else (on POST) from a form, JSON or multipart body,
/// else defaults to `World`. It is HTML-escaped, so markup comes back inert.
#[utoipa::path(
    method(get, post),
    path = "/api/hello",
    tag = "hello",
    params(HelloQuery),
    request_body(
        description = "Optional on POST: the name as a form, JSON or multipart field.",
        content(
            (HelloBody = "application/x-www-form-urlencoded"),
            (HelloBody = "application/json"),
            (HelloBody = "multipart/form-data"),
        ),
    ),
    responses(
        (status = 200, description = "The greeting", content_type = "text/html; charset=utf-8", body = String,
            example = "<b>Hello</b> Ada!"),
        (status = 400, description = "Name too long, or a malformed body", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "POST body in a content type other than form, JSON or multipart", body = ErrorBody),
    ),
)]
pub async fn hello(query: Query<HelloQuery>, request: Request) -> Result<Response, AppError> {
    let name = match query.0.name.filter(|name| !name.is_empty()) {
        Some(name) => Some(name),
        None if request.method() == Method::POST => name_from_body(request).await?,
        None => None,
    };
    let body = match name.filter(|name| !name.is_empty()) {
        None => Bytes::from_static(DEFAULT_GREETING.as_bytes()),
        Some(name) => Bytes::from(greeting(&name)?),
    };
    Ok(([(header::CONTENT_TYPE, HTML)], body).into_response())
}

fn greeting(name: &str) -> Result<String, AppError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::InvalidInput(format!(
            "name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(format!("<b>Hello</b> {}!", html_escape::encode_safe(name)))
}

async fn name_from_body(request: Request) -> Result<Option<String>, AppError> {
    let media_type = media_type(request.headers());
    match media_type.as_deref() {
        None | Some("") => {
            // No content type: only an empty body makes sense.
            let body = read_body(request).await?;
            if body.is_empty() {
                Ok(None)
            } else {
                Err(unsupported())
            }
        }
        Some("application/x-www-form-urlencoded") => {
            let body = read_body(request).await?;
            serde_urlencoded::from_bytes::<HelloBody>(&body)
                .map(|form| form.name)
                .map_err(|error| AppError::MalformedBody(format!("invalid form body: {error}")))
        }
        Some("application/json") => {
            let body = read_body(request).await?;
            if body.is_empty() {
                return Ok(None);
            }
            serde_json::from_slice::<HelloBody>(&body)
                .map(|json| json.name)
                .map_err(|error| {
                    AppError::MalformedBody(format!(
                        "invalid JSON body: {}",
                        crate::error::json_problem(&error)
                    ))
                })
        }
        Some("multipart/form-data") => name_from_multipart(request).await,
        Some(_) => Err(unsupported()),
    }
}

async fn name_from_multipart(request: Request) -> Result<Option<String>, AppError> {
    // Buffer under our own small limit first; the multipart parser's default limit is 2 MB.
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| AppError::reading_body(&error, MAX_BODY_BYTES))?;
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|rejection| AppError::MalformedBody(rejection.body_text()))?;
    let malformed = |error: axum::extract::multipart::MultipartError| {
        AppError::MalformedBody(format!("invalid multipart body: {}", error.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        if field.name() == Some("name") {
            return field.text().await.map(Some).map_err(malformed);
        }
    }
    Ok(None)
}

async fn read_body(request: Request) -> Result<Bytes, AppError> {
    to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|error| AppError::reading_body(&error, MAX_BODY_BYTES))
}

/// The essence of the Content-Type (`type/subtype`, lower-case, no parameters).
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

fn unsupported() -> AppError {
    AppError::UnsupportedMediaType(
        "send the name as application/x-www-form-urlencoded, application/json or multipart/form-data"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::greeting;

    #[test]
    fn markup_comes_back_inert() {
        let html = greeting("<script>alert('x')</script>").unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.starts_with("<b>Hello</b> &lt;script&gt;"), "{html}");
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        assert!(greeting(&"é".repeat(100)).is_ok());
        assert!(greeting(&"a".repeat(101)).is_err());
    }
}
