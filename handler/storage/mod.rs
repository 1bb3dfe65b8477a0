//! The data layer. Services talk to the storage-backed services here ([`records::Records`],
//! [`users::Users`], [`users::Sessions`], [`files::Files`]); those are written once over
//! [`EntityStore`], the small subset of Azure Table storage semantics they need, which has two
//! backends:
//!
//! - [`tables`]: Azure Table storage (or Azurite) through `azure_data_tables`;
//! - [`embedded`]: SQLite under `DATA_DIR`, the default, so `cargo run` needs nothing else.
//!
//! Files ([`files::Files`]) are written once over [`BlobStore`], with two backends too:
//! [`blobs`] (Azure Blob storage, block blobs) and [`directory`] (files under `DATA_DIR`).
//!
//! Both pairs give the same ETags, conditional writes, ordering and errors; the storage
//! conformance tests run the same behaviours against each. This file holds only the traits and
//! their types; [`wiring`] picks the backends from config and opens the services.

pub mod azure;
pub mod blobs;
pub mod directory;
pub mod embedded;
pub mod files;
pub mod identity;
pub mod records;
pub mod tables;
pub mod users;
pub mod wiring;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::{Map, Value};
use thiserror::Error;
use time::OffsetDateTime;

/// An entity's properties, without its keys or ETag. Values are strings, integers or booleans.
pub type Properties = Map<String, Value>;

/// An opaque version tag; a write with a stale one fails with [`StorageError::PreconditionFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(pub String);

/// The condition on a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch<'a> {
    /// Write whatever version is there (the entity must exist).
    Any,
    /// Write only if the stored version is still this one.
    ETag(&'a ETag),
}

/// One stored entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub row_key: String,
    pub properties: Properties,
    pub etag: ETag,
}

/// A page of a partition, in row-key order.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    /// Only entities whose string property equals this value.
    pub property_equals: Option<(&'a str, &'a str)>,
    /// Only row keys strictly after this one (how continuation works).
    pub after_row_key: Option<&'a str>,
    /// At most this many entities.
    pub limit: usize,
}

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("the entity changed since it was read (ETag mismatch)")]
    PreconditionFailed,
    /// The table or container itself is gone (`TableNotFound`, `ContainerNotFound`).
    #[error("storage lost a table or container: {0}")]
    Missing(String),
    #[error("storage is not reachable: {0}")]
    Unavailable(String),
    #[error("storage failed: {0}")]
    Backend(String),
}

/// The operations the domain services need, on a table of entities keyed by partition and row.
/// Keys are validated by the caller (see [`crate::domain::validate_key`]); backends may rely
/// on that.
#[async_trait]
pub trait EntityStore: Send + Sync + std::fmt::Debug {
    /// Inserts a new entity; [`StorageError::AlreadyExists`] if the keys are taken.
    async fn insert(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        properties: &Properties,
    ) -> Result<ETag, StorageError>;

    async fn get(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
    ) -> Result<Entity, StorageError>;

    /// Replaces all properties; [`StorageError::NotFound`] or [`StorageError::PreconditionFailed`].
    async fn replace(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        properties: &Properties,
        if_match: IfMatch<'_>,
    ) -> Result<ETag, StorageError>;

    async fn delete(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        if_match: IfMatch<'_>,
    ) -> Result<(), StorageError>;

    async fn query(
        &self,
        table: &str,
        partition: &str,
        query: Query<'_>,
    ) -> Result<Vec<Entity>, StorageError>;

    /// Creates the table if it does not exist.
    async fn ensure_table(&self, table: &str) -> Result<(), StorageError>;

    /// Makes the bytes of deleted entities unrecoverable from the store's own files (after an
    /// erasure). A service like Azure Table storage has no such files to clean: nothing to do.
    async fn purge(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// A blob's bytes as they arrive from storage.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// What storage knows about a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The full blob name, owner prefix included.
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub etag: ETag,
    pub last_modified: OffsetDateTime,
    /// Hex SHA-256 of the content, computed while it was uploaded.
    pub sha256: Option<String>,
}

/// Metadata key under which the SHA-256 is stored.
pub const SHA256_METADATA: &str = "sha256";

/// A page of a blob listing; `next` continues it.
#[derive(Debug, Clone, Default)]
pub struct BlobPage {
    pub blobs: Vec<BlobInfo>,
    pub next: Option<String>,
}

/// Blob containers: uploads go in as blocks and become visible only when committed, so an
/// interrupted upload leaves nothing behind.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    async fn ensure_container(&self, container: &str) -> Result<(), StorageError>;

    /// Starts an upload to `name`. Dropping it without [`BlobUpload::commit`] discards it.
    async fn start_upload(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Box<dyn BlobUpload>, StorageError>;

    async fn properties(&self, container: &str, name: &str) -> Result<BlobInfo, StorageError>;

    /// Bytes `range` (end exclusive, non-empty) of the blob, which must still be at `etag`:
    /// a blob replaced mid-read ends the stream with [`StorageError::PreconditionFailed`].
    async fn read(
        &self,
        container: &str,
        name: &str,
        range: std::ops::Range<u64>,
        etag: &ETag,
    ) -> Result<ByteStream, StorageError>;

    async fn delete(&self, container: &str, name: &str) -> Result<(), StorageError>;

    /// Blobs whose names start with `prefix`, in name order, at most `limit`, continuing after
    /// `marker` (a [`BlobPage::next`] of this backend).
    async fn list(
        &self,
        container: &str,
        prefix: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<BlobPage, StorageError>;
}

/// An upload in progress.
#[async_trait]
pub trait BlobUpload: Send {
    /// Stages the next block (at most 100 MiB; the service limit is 4000 MiB).
    async fn put_block(&mut self, data: Bytes) -> Result<(), StorageError>;

    /// Makes the staged blocks, in order, the blob's content, replacing any previous one.
    async fn commit(
        self: Box<Self>,
        content_type: &str,
        sha256: &str,
    ) -> Result<BlobInfo, StorageError>;
}

/// Container names: Azure's rule (3-63 lower-case letters, digits and single hyphens, starting
/// and ending with a letter or digit).
pub fn valid_container_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Table names: Azure's rule (3-63 alphanumerics, starting with a letter), which SQLite also
/// accepts as a plain value.
pub fn valid_table_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_follow_azure_rules() {
        assert!(valid_table_name("records"));
        assert!(valid_table_name("records2"));
        for bad in ["ab", "1records", "rec-ords", "rec_ords", &"a".repeat(64)] {
            assert!(!valid_table_name(bad), "{bad}");
        }
    }
}
