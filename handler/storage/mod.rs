//! The data layer. Functions talk to domain services ([`records::Records`], later users,
//! sessions and files); those are written once over [`EntityStore`], the small subset of Azure
//! Table storage semantics they need, which has two backends:
//!
//! - [`tables`]: Azure Table storage (or Azurite) through `azure_data_tables`;
//! - [`embedded`]: SQLite under `DATA_DIR`, the default, so `cargo run` needs nothing else.
//!
//! Files ([`files::Files`]) are written once over [`BlobStore`], with two backends too:
//! [`blobs`] (Azure Blob storage, block blobs) and [`directory`] (files under `DATA_DIR`).
//!
//! Both pairs give the same ETags, conditional writes, ordering and errors;
//! `tests/storage_conformance.rs` runs the same behaviours against each.

pub mod azure;
pub mod blobs;
pub mod directory;
pub mod embedded;
pub mod files;
pub mod identity;
pub mod records;
pub mod tables;
pub mod users;

use std::{path::PathBuf, sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::{Map, Value};
use thiserror::Error;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

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
    #[error("storage is not reachable: {0}")]
    Unavailable(String),
    #[error("storage failed: {0}")]
    Backend(String),
}

/// The operations the domain services need, on a table of entities keyed by partition and row.
/// Keys are validated by the caller (see [`validate_key`]); backends may rely on that.
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

/// Table storage forbids these in keys; we also refuse control characters and empty keys.
pub fn validate_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() || key.len() > 512 {
        return Err("keys are 1 to 512 bytes");
    }
    if key
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '#' | '?') || c.is_control())
    {
        return Err("keys may not contain / \\ # ? or control characters");
    }
    Ok(())
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

/// Where the data lives, from config.
#[derive(Debug, Clone)]
pub enum Backend {
    /// SQLite (and later a directory of files) under this directory.
    Embedded { data_dir: PathBuf },
    /// Azure Storage (or Azurite).
    Azure(azure::Connection),
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub backend: Backend,
    pub records_table: String,
    pub users_table: String,
    pub sessions_table: String,
    pub uploads_container: String,
    /// Largest file an upload may store.
    pub upload_max_bytes: u64,
    /// Connect and total timeout for each storage call.
    pub timeout: Duration,
}

/// The opened stores and the domain services over them.
#[derive(Debug, Clone)]
pub struct Storage {
    pub records: records::Records,
    pub files: files::Files,
    pub users: users::Users,
    pub sessions: users::Sessions,
}

impl Storage {
    /// Connects and creates the tables that are missing.
    pub async fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        let (store, blobs): (Arc<dyn EntityStore>, Arc<dyn BlobStore>) = match &config.backend {
            Backend::Embedded { data_dir } => (
                Arc::new(embedded::SqliteStore::open(data_dir.join("tables.sqlite3")).await?),
                Arc::new(directory::DirectoryStore::new(data_dir.join("blobs"))),
            ),
            Backend::Azure(connection) => (
                Arc::new(tables::AzureTableStore::new(connection, config.timeout)?),
                Arc::new(blobs::AzureBlobStore::new(connection, config.timeout)?),
            ),
        };
        for table in [
            &config.records_table,
            &config.users_table,
            &config.sessions_table,
        ] {
            store.ensure_table(table).await?;
        }
        blobs.ensure_container(&config.uploads_container).await?;
        Ok(Self {
            records: records::Records::new(store.clone(), config.records_table.clone()),
            users: users::Users::new(store.clone(), config.users_table.clone()),
            sessions: users::Sessions::new(store, config.sessions_table.clone()),
            files: files::Files::new(
                blobs,
                config.uploads_container.clone(),
                config.upload_max_bytes,
            ),
        })
    }
}

/// Storage opened on first use, so the handler answers the host's readiness probe before any
/// storage call. A failed open is retried by the next request that needs storage.
#[derive(Debug, Clone)]
pub struct LazyStorage {
    config: Arc<StorageConfig>,
    cell: Arc<OnceCell<Storage>>,
}

impl LazyStorage {
    pub fn new(config: StorageConfig) -> Self {
        Self {
            config: Arc::new(config),
            cell: Arc::new(OnceCell::new()),
        }
    }

    pub async fn get(&self) -> Result<&Storage, StorageError> {
        self.cell
            .get_or_try_init(|| Storage::open(&self.config))
            .await
    }

    pub fn config(&self) -> &StorageConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_reject_what_table_storage_forbids() {
        for bad in ["", "a/b", "a\\b", "a#b", "a?b", "a\u{7}b"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_key("public").is_ok());
        assert!(validate_key("0194f0a2-7c3e-7b1a-9d4e-1234567890ab").is_ok());
    }

    #[test]
    fn table_names_follow_azure_rules() {
        assert!(valid_table_name("records"));
        assert!(valid_table_name("records2"));
        for bad in ["ab", "1records", "rec-ords", "rec_ords", &"a".repeat(64)] {
            assert!(!valid_table_name(bad), "{bad}");
        }
    }
}
