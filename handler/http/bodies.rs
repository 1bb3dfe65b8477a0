//! Response bodies that more than one function shows: a record and a file appear in their own
//! function's answers and in the account export, so they are defined once, here.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use utoipa::ToSchema;

use crate::storage::{files::FileInfo, records::Record};

/// Path-segment (and `filename*`) encoding: everything but unreserved characters.
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A record as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordBody {
    /// Server-generated UUID (time-ordered).
    #[schema(example = "01937c5e-8f2a-7c3b-9d4e-5f6a7b8c9d0e")]
    id: String,
    #[schema(example = "apple")]
    name: String,
    /// Price in pence.
    #[schema(example = 300)]
    price: i64,
    /// RFC 3339 UTC.
    created_at: String,
    updated_at: String,
}

impl From<&Record> for RecordBody {
    fn from(record: &Record) -> Self {
        Self {
            id: record.id.to_string(),
            name: record.name.to_string(),
            price: record.price.get(),
            created_at: record.created_at.clone(),
            updated_at: record.updated_at.clone(),
        }
    }
}

/// A stored file, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileBody {
    #[schema(example = "reports/q3.pdf")]
    name: String,
    size: u64,
    #[schema(example = "application/pdf")]
    content_type: String,
    etag: String,
    /// Hex SHA-256 of the content, computed during the upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// RFC 3339 UTC.
    last_modified: String,
    /// Where to download it.
    #[schema(example = "/api/upload/reports/q3.pdf")]
    pub url: String,
}

/// The download URL of the file `name`, each segment percent-encoded.
pub fn file_url(name: &str) -> String {
    let segments: Vec<String> = name
        .split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect();
    format!("/api/upload/{}", segments.join("/"))
}

impl From<&FileInfo> for FileBody {
    fn from(file: &FileInfo) -> Self {
        Self {
            name: file.name.clone(),
            size: file.size,
            content_type: file.content_type.clone(),
            etag: file.etag.0.clone(),
            sha256: file.sha256.clone(),
            last_modified: file
                .last_modified
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            url: file_url(&file.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::file_url;

    #[test]
    fn urls_encode_each_segment() {
        assert_eq!(file_url("a b/c?d.txt"), "/api/upload/a%20b/c%3Fd.txt");
    }
}
