//! The JSON invocation payload mode. The host sends a function that does not qualify for HTTP
//! proxying or forwarding as `POST /<functionName>` with `{"Data": {"req": {...}}, "Metadata":
//! {...}}` and expects `{"Outputs": {"res": {...}}, "Logs": [], "ReturnValue": null}` back.
//! This adapter rebuilds the original HTTP request, runs it through the same router as proxied
//! requests and wraps the response, so each function is written once.
//!
//! What the host cannot carry is refused rather than corrupted (read from the host's
//! `HttpRequestExtensions.GetRequestAsJObject` and `HttpScriptInvocationResultExtensions`):
//! the host includes `Body` only when the request had `Content-Length > 0`, so a chunked body
//! never arrives (411, not an empty file); and it writes `res.body` out as text, never
//! decoding base64, so a response that is not UTF-8 text, or larger than
//! [`MAX_RESPONSE_BYTES`], is a 501 that names the mode. Framing headers are left to the host.

use std::collections::BTreeMap;

use axum::{
    body::{to_bytes, Body, Bytes},
    extract::{Path, Request},
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json, Router,
};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tower::ServiceExt;

use crate::{
    error::{body_failure, AppError, BodyFailure},
    host, limits,
};

/// A payload carries the original body as base64 text, a third larger than the body itself.
pub const MAX_PAYLOAD_BYTES: usize = limits::MAX_BODY_BYTES / 3 * 4 + 64 * 1024;
/// Header values a payload may carry: the host copies a real request's headers, and HTTP
/// servers accept about a hundred (hyper's default); far more is not a request, and past
/// ~25,000 the header map itself gives out.
const MAX_HEADERS: usize = 200;
/// The largest response carried back in a payload: it is buffered whole (and the host buffers
/// it again), so bound it. Text answers here are far smaller; files need HTTP mode anyway.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// What to do instead, said in every error that is the payload mode's fault.
const USE_HTTP_MODE: &str = "serve this function over HTTP (host.json customHandler \
     enableProxyingHttpRequest, or enableForwardingHttpRequest on hosts before it)";

#[derive(Debug, Deserialize)]
struct Invocation {
    #[serde(rename = "Data", alias = "data")]
    data: InvocationData,
}

#[derive(Debug, Deserialize)]
struct InvocationData {
    /// The name of the `httpTrigger` binding in every `function.json`.
    req: HttpTriggerRequest,
}

#[derive(Debug, Deserialize)]
struct HttpTriggerRequest {
    #[serde(rename = "Url", alias = "url")]
    url: String,
    #[serde(rename = "Method", alias = "method")]
    method: String,
    #[serde(rename = "Headers", alias = "headers", default)]
    headers: BTreeMap<String, HeaderValues>,
    #[serde(rename = "Body", alias = "body", default)]
    body: PayloadBody,
}

/// `Data.req.Body`: absent, text (base64 for binary content types), or JSON the host sent
/// parsed, kept as the text it came in: a large array must not become a tree of values
/// (tens of bytes of memory for each byte of payload).
#[derive(Debug, Default)]
enum PayloadBody {
    #[default]
    Absent,
    Text(String),
    Json(Box<RawValue>),
}

impl<'de> Deserialize<'de> for PayloadBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Option::<Box<RawValue>>::deserialize(deserializer)? {
            None => Ok(Self::Absent),
            Some(raw) if raw.get().starts_with('"') => serde_json::from_str(raw.get())
                .map(Self::Text)
                .map_err(serde::de::Error::custom),
            Some(raw) => Ok(Self::Json(raw)),
        }
    }
}

impl PayloadBody {
    /// The host leaves `Body` out when the request had no Content-Length.
    fn is_empty(&self) -> bool {
        match self {
            Self::Absent => true,
            Self::Text(text) => text.is_empty(),
            Self::Json(_) => false,
        }
    }
}

/// The host sends header values as arrays of strings; tolerate a bare string too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HeaderValues {
    Many(Vec<String>),
    One(String),
}

#[derive(Debug, Serialize)]
struct InvocationResult {
    #[serde(rename = "Outputs")]
    outputs: Outputs,
    #[serde(rename = "Logs")]
    logs: [&'static str; 0],
    #[serde(rename = "ReturnValue")]
    return_value: Option<()>,
}

#[derive(Debug, Serialize)]
struct Outputs {
    res: HttpOutput,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpOutput {
    status_code: u16,
    /// The host wants one string per header, not arrays.
    headers: BTreeMap<String, String>,
    body: String,
}

/// `POST /<functionName>`: run the invocation through `api` and wrap the result. `functions`
/// are the names the host knows (the folders under `functions/`); any other is a 404.
pub async fn invoke(
    api: Router,
    functions: &[&str],
    Path(function): Path<String>,
    request: Request,
) -> Response {
    let known = functions.contains(&function.as_str());
    if request.method() != Method::POST {
        // Most likely a person who left out the route prefix, not the host: say so.
        let message = if known {
            format!(
                "functions are served under /{prefix}/: try /{prefix}/{function}",
                prefix = host::ROUTE_PREFIX
            )
        } else {
            format!("nothing is served at /{function}")
        };
        return AppError::NotFound(message).into_response();
    }
    if !known {
        return AppError::NotFound(format!("no function named {function:?}")).into_response();
    }
    match run(api, request).await {
        Ok(result) => Json(result).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn run(api: Router, request: Request) -> Result<InvocationResult, AppError> {
    let payload = to_bytes(request.into_body(), MAX_PAYLOAD_BYTES)
        .await
        .map_err(|error| AppError::reading_body(&error, MAX_PAYLOAD_BYTES))?;
    let invocation: Invocation = serde_json::from_slice(&payload).map_err(|error| {
        AppError::InvalidInvocation(format!(
            "invalid invocation payload: {}",
            crate::error::json_problem(&error)
        ))
    })?;
    if invocation.data.req.body.is_empty() && is_chunked(&invocation.data.req.headers) {
        let dropped = AppError::Status {
            status: StatusCode::LENGTH_REQUIRED,
            message: format!(
                "the Functions host drops chunked request bodies in the JSON invocation payload \
                 mode: send the body with a Content-Length, or {USE_HTTP_MODE}"
            ),
        };
        return Ok(wrap(into_output(dropped.into_response()).await));
    }
    let inner = into_http_request(invocation.data.req)?;
    // The router's error type is Infallible: every failure is already a response.
    let response = match api.oneshot(inner).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    Ok(wrap(into_output(response).await))
}

fn wrap(res: HttpOutput) -> InvocationResult {
    InvocationResult {
        outputs: Outputs { res },
        logs: [],
        return_value: None,
    }
}

fn is_chunked(headers: &BTreeMap<String, HeaderValues>) -> bool {
    headers.iter().any(|(name, values)| {
        name.eq_ignore_ascii_case("transfer-encoding")
            && match values {
                HeaderValues::Many(values) => values.iter().any(|v| v.contains("chunked")),
                HeaderValues::One(value) => value.contains("chunked"),
            }
    })
}

fn into_http_request(req: HttpTriggerRequest) -> Result<Request, AppError> {
    let invalid = |message: String| AppError::InvalidInvocation(message);
    let method = Method::from_bytes(req.method.as_bytes()).map_err(|_| {
        invalid(format!(
            "Data.req.Method {:?} is not an HTTP method",
            req.method
        ))
    })?;
    let url: Uri = req
        .url
        .parse()
        .map_err(|_| invalid(format!("Data.req.Url {:?} is not a URL", req.url)))?;
    let path_and_query = url
        .path_and_query()
        .filter(|p| p.as_str().starts_with('/'))
        .ok_or_else(|| invalid(format!("Data.req.Url {:?} has no path", req.url)))?;

    let count: usize = req
        .headers
        .values()
        .map(|values| match values {
            HeaderValues::Many(values) => values.len(),
            HeaderValues::One(_) => 1,
        })
        .sum();
    if count > MAX_HEADERS {
        return Err(invalid(format!(
            "Data.req.Headers has {count} header values; at most {MAX_HEADERS} are accepted"
        )));
    }
    let mut headers = HeaderMap::new();
    for (name, values) in &req.headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("Data.req.Headers has an invalid name {name:?}")))?;
        if is_framing(&header_name) {
            continue;
        }
        let values = match values {
            HeaderValues::Many(values) => values.as_slice(),
            HeaderValues::One(value) => std::slice::from_ref(value),
        };
        for value in values {
            let header_value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("Data.req.Headers.{name} has an invalid value")))?;
            headers.append(header_name.clone(), header_value);
        }
    }

    let body = decode_body(req.body, &headers)?;
    if !body.is_empty() {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }

    let mut request = Request::new(Body::from(body));
    *request.method_mut() = method;
    *request.uri_mut() = Uri::from(path_and_query.clone());
    *request.headers_mut() = headers;
    Ok(request)
}

/// Framing headers describe the host's request, not the body we rebuild from the payload.
fn is_framing(name: &HeaderName) -> bool {
    name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::CONNECTION
        || name == header::EXPECT
}

/// The host sends `application/octet-stream` and `multipart/*` bodies as base64 and any other
/// body as text; a JSON body may arrive already parsed.
fn decode_body(body: PayloadBody, headers: &HeaderMap) -> Result<Bytes, AppError> {
    match body {
        PayloadBody::Absent => Ok(Bytes::new()),
        PayloadBody::Text(text) if is_binary(headers) => {
            BASE64.decode(text.trim()).map(Bytes::from).map_err(|_| {
                AppError::InvalidInvocation(
                    "Data.req.Body must be base64 for application/octet-stream and multipart bodies"
                        .to_owned(),
                )
            })
        }
        PayloadBody::Text(text) => Ok(Bytes::from(text)),
        PayloadBody::Json(raw) => Ok(Bytes::from(raw.get().to_owned())),
    }
}

fn is_binary(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_ascii_lowercase())
        .is_some_and(|value| {
            value.starts_with("application/octet-stream") || value.starts_with("multipart/")
        })
}

/// The response as the host's `res` object. What the host would corrupt (a body that is not
/// UTF-8 text) or that is too large to buffer becomes a 501 saying so.
async fn into_output(response: Response) -> HttpOutput {
    let (parts, body) = response.into_parts();
    let refused = |message: String| {
        tracing::error!(%message, "a response cannot be carried in the JSON invocation payload");
        AppError::Status {
            status: StatusCode::NOT_IMPLEMENTED,
            message,
        }
        .into_response()
    };
    let bytes = match to_bytes(body, MAX_RESPONSE_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let why = match body_failure(&error) {
                BodyFailure::TooLarge => format!(
                    "this response is larger than the {MAX_RESPONSE_BYTES} bytes the JSON \
                     invocation payload mode carries: {USE_HTTP_MODE}"
                ),
                _ => format!("this response failed while it was read: {error}"),
            };
            return Box::pin(into_output(refused(why))).await;
        }
    };
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => text,
        Err(_) => {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("no content type");
            let why = format!(
                "this response is binary ({content_type}), which the JSON invocation payload \
                 mode cannot carry (the host writes the body as text): {USE_HTTP_MODE}"
            );
            return Box::pin(into_output(refused(why))).await;
        }
    };
    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        // The host frames the response it sends itself.
        if is_framing(name) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined: &mut String| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    HttpOutput {
        status_code: parts.status.as_u16(),
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &str) -> PayloadBody {
        PayloadBody::Text(body.to_owned())
    }

    fn trigger(body: PayloadBody, content_type: &str) -> HttpTriggerRequest {
        HttpTriggerRequest {
            url: "http://localhost:7071/api/hello?name=Ada".into(),
            method: "POST".into(),
            headers: BTreeMap::from([(
                "Content-Type".to_owned(),
                HeaderValues::Many(vec![content_type.to_owned()]),
            )]),
            body,
        }
    }

    #[test]
    fn base64_only_for_binary_content_types() {
        let request = into_http_request(trigger(text("aGk="), "text/plain")).expect("valid");
        assert_eq!(request.headers()[header::CONTENT_LENGTH], "4");

        let request =
            into_http_request(trigger(text("aGk="), "application/octet-stream")).expect("valid");
        assert_eq!(request.headers()[header::CONTENT_LENGTH], "2");
        assert_eq!(request.uri(), "/api/hello?name=Ada");
    }

    #[test]
    fn bad_base64_is_a_client_error() {
        let err = into_http_request(trigger(text("%%%"), "multipart/form-data")).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn parsed_json_bodies_are_reserialised() {
        let parsed: PayloadBody = serde_json::from_str(r#"{"name":"Ada"}"#).unwrap();
        let request = into_http_request(trigger(parsed, "application/json")).expect("valid");
        assert_eq!(request.headers()[header::CONTENT_LENGTH], "14");
    }

    #[test]
    fn a_flood_of_headers_is_a_client_error_not_a_panic() {
        let mut req = trigger(PayloadBody::Absent, "text/plain");
        for n in 0..30_000 {
            req.headers
                .insert(format!("x-{n}"), HeaderValues::One("v".into()));
        }
        let err = into_http_request(req).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn bad_method_and_url_are_named() {
        let mut req = trigger(PayloadBody::Absent, "text/plain");
        req.method = "GE T".into();
        let err = into_http_request(req).unwrap_err();
        assert!(err.to_string().contains("Method"), "{err}");

        let mut req = trigger(PayloadBody::Absent, "text/plain");
        req.url = "not a url".into();
        let err = into_http_request(req).unwrap_err();
        assert!(err.to_string().contains("Url"), "{err}");
    }
}
