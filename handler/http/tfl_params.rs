//! What `status` and `bikepoint` share: parsing comma-separated id lists from the query (checked
//! before anything is sent to TfL) and the cache headers of an answer.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

use crate::{error::AppError, tfl::Cached};

/// At most this many ids in one request, as TfL's own multi-id endpoints expect.
pub const MAX_ITEMS: usize = 20;
/// At most this many characters per id; TfL's longest ids are far shorter.
pub const MAX_ITEM_CHARS: usize = 40;

/// `X-Cache: HIT | MISS | STALE`, so a caller (and a test) can tell where an answer came from.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Splits `value` (the query parameter `param`) on commas into lower-case items of letters,
/// digits and hyphens, dropping repeats but keeping the order. The error names the bad item.
pub fn id_list(param: &str, value: &str) -> Result<Vec<String>, AppError> {
    let items = split(param, value)?;
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !item.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(AppError::InvalidInput(format!(
                "{param}: {item:?} may contain only letters, digits and hyphens"
            )));
        }
        // TfL's ids are lower-case; `Circle` and `circle` are the same line.
        let id = item.to_ascii_lowercase();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The comma-separated items of `value`, trimmed, each non-empty and at most
/// [`MAX_ITEM_CHARS`] long, at most [`MAX_ITEMS`] of them.
pub fn split<'a>(param: &str, value: &'a str) -> Result<Vec<&'a str>, AppError> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.len() > MAX_ITEMS {
        return Err(AppError::InvalidInput(format!(
            "{param}: at most {MAX_ITEMS} items, got {}",
            items.len()
        )));
    }
    for item in &items {
        if item.is_empty() {
            return Err(AppError::InvalidInput(format!(
                "{param}: {value:?} has an empty item"
            )));
        }
        if item.chars().count() > MAX_ITEM_CHARS {
            return Err(AppError::InvalidInput(format!(
                "{param}: {item:?} is longer than {MAX_ITEM_CHARS} characters"
            )));
        }
    }
    Ok(items)
}

/// `true`/`false` (also `1`/`0`) for a flag parameter; absent is false.
pub fn flag(param: &str, value: Option<&str>) -> Result<bool, AppError> {
    match value.map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(v) => Err(AppError::InvalidInput(format!(
            "{param}: {v:?} is not true or false"
        ))),
    }
}

/// `Cache-Control: public, max-age=<remaining>`, `Age` and `X-Cache` for a cached answer, so
/// downstream caches keep it no longer than we would.
pub fn cache_headers<V>(cached: &Cached<V>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let cache_control = format!("public, max-age={}", cached.remaining.as_secs());
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(header::AGE, HeaderValue::from(cached.age.as_secs()));
    headers.insert(X_CACHE, HeaderValue::from_static(cached.source.as_str()));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lower_cased_deduplicated_and_checked() {
        assert_eq!(
            id_list("lines", "Circle, circle,73,hammersmith-city").unwrap(),
            ["circle", "73", "hammersmith-city"]
        );
        for bad in ["circle;drop", "a,,b", "", "bakerloo/../x", "a b"] {
            let err = id_list("lines", bad).unwrap_err();
            assert!(err.to_string().starts_with("lines: "), "{err}");
        }
        let err = id_list("lines", "circle,ci%rcle").unwrap_err();
        assert!(err.to_string().contains("ci%rcle"), "{err}");
        assert!(id_list("mode", &["tube"; 20].join(",")).is_ok());
        assert!(id_list("mode", &["tube"; 21].join(",")).is_err());
        assert!(id_list("mode", &"a".repeat(40)).is_ok());
        assert!(id_list("mode", &"a".repeat(41)).is_err());
    }

    #[test]
    fn flags() {
        assert!(!flag("detail", None).unwrap());
        assert!(flag("detail", Some("TRUE")).unwrap());
        assert!(!flag("detail", Some("0")).unwrap());
        assert!(flag("detail", Some("yes")).is_err());
    }
}
