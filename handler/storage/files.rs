//! Uploaded files: validated names, streaming uploads in fixed-size blocks with the SHA-256
//! computed on the way, size limits, and owner prefixes, written once over any [`BlobStore`].

use std::{ops::Range, sync::Arc};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::{BlobInfo, BlobStore, ByteStream, ETag, StorageError};
use crate::domain::{FileName, Owner};

/// Blocks this size go to storage as they fill: memory per upload stays bounded whatever the
/// file size.
pub const BLOCK_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_LIST: usize = 1000;
pub const DEFAULT_LIST: usize = 100;

/// A stored file, as its owner sees it (name without the owner prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub etag: ETag,
    pub last_modified: time::OffsetDateTime,
    pub sha256: Option<String>,
}

/// Why a body being uploaded stopped before its end.
#[derive(Debug)]
pub enum BodyError {
    /// It went past a limit enforced before it reached storage (the host's body limit).
    TooLarge,
    /// The client went away, or the body could not be read.
    Failed(String),
}

/// Any error of a body stream is a failure; the HTTP layer says which ones are a limit.
impl<E: std::error::Error> From<E> for BodyError {
    fn from(error: E) -> Self {
        Self::Failed(error.to_string())
    }
}

#[derive(Debug, Error)]
pub enum FileError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The request body failed mid-way (the client went away): nothing was stored.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, Clone)]
pub struct Files {
    store: Arc<dyn BlobStore>,
    container: String,
    max_bytes: u64,
}

/// A page of an owner's files.
#[derive(Debug, Clone)]
pub struct FilePage {
    pub files: Vec<FileInfo>,
    pub next: Option<String>,
}

impl Files {
    pub fn new(store: Arc<dyn BlobStore>, container: String, max_bytes: u64) -> Self {
        Self {
            store,
            container,
            max_bytes,
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn blob_name(owner: &Owner, name: &str) -> String {
        format!("{}/{name}", owner.as_str())
    }

    fn file_info(owner: &Owner, blob: BlobInfo) -> FileInfo {
        let prefix_len = owner.as_str().len() + 1;
        FileInfo {
            name: blob.name.get(prefix_len..).unwrap_or_default().to_owned(),
            size: blob.size,
            content_type: blob.content_type,
            etag: blob.etag,
            last_modified: blob.last_modified,
            sha256: blob.sha256,
        }
    }

    /// Streams `body` into the file `name`, replacing any previous one only once the whole body
    /// is stored. On any error (too large, body failed, storage failed) nothing is stored.
    pub async fn upload<S, E>(
        &self,
        owner: &Owner,
        name: &FileName,
        content_type: &str,
        body: S,
    ) -> Result<FileInfo, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<BodyError>,
    {
        let mut upload = self
            .store
            .start_upload(&self.container, &Self::blob_name(owner, name.as_str()))
            .await?;
        let mut body = std::pin::pin!(body);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        // At most one block in memory: it is filled to exactly BLOCK_BYTES (never grown, so
        // never reallocated), and the body is not read while it is being stored. The next
        // block is allocated only once the stored one is gone.
        let mut block = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|error| match error.into() {
                BodyError::TooLarge => FileError::TooLarge {
                    limit: self.max_bytes,
                },
                BodyError::Failed(why) => FileError::Interrupted(why),
            })?;
            size += chunk.len() as u64;
            if size > self.max_bytes {
                return Err(FileError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            hasher.update(&chunk);
            while !chunk.is_empty() {
                if block.capacity() == 0 {
                    block = BytesMut::with_capacity(BLOCK_BYTES);
                }
                let take = chunk.len().min(BLOCK_BYTES - block.len());
                block.extend_from_slice(&chunk.split_to(take));
                if block.len() == BLOCK_BYTES {
                    upload
                        .put_block(std::mem::take(&mut block).freeze())
                        .await?;
                }
            }
        }
        if !block.is_empty() {
            upload.put_block(block.freeze()).await?;
        }
        let sha256 = format!("{:x}", hasher.finalize());
        let blob = upload.commit(content_type, &sha256).await?;
        Ok(Self::file_info(owner, blob))
    }

    pub async fn info(&self, owner: &Owner, name: &FileName) -> Result<FileInfo, StorageError> {
        let blob = self
            .store
            .properties(&self.container, &Self::blob_name(owner, name.as_str()))
            .await?;
        Ok(Self::file_info(owner, blob))
    }

    /// Bytes `range` of the file at version `etag` (from [`Files::info`]).
    pub async fn read(
        &self,
        owner: &Owner,
        name: &FileName,
        range: Range<u64>,
        etag: &ETag,
    ) -> Result<ByteStream, StorageError> {
        self.store
            .read(
                &self.container,
                &Self::blob_name(owner, name.as_str()),
                range,
                etag,
            )
            .await
    }

    pub async fn delete(&self, owner: &Owner, name: &FileName) -> Result<(), StorageError> {
        self.store
            .delete(&self.container, &Self::blob_name(owner, name.as_str()))
            .await
    }

    /// Every file of `owner`, in name order (what the owner can export).
    pub async fn all(&self, owner: &Owner) -> Result<Vec<FileInfo>, StorageError> {
        let mut files = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .list(owner, "", marker.as_deref(), Some(MAX_LIST))
                .await?;
            files.extend(page.files);
            match page.next {
                Some(next) => marker = Some(next),
                None => return Ok(files),
            }
        }
    }

    /// Deletes every file of `owner`; returns how many there were.
    pub async fn delete_all(&self, owner: &Owner) -> Result<usize, StorageError> {
        let files = self.all(owner).await?;
        for file in &files {
            // By the stored name, not a parsed one: a blob some other client wrote under the
            // owner's prefix is erased too.
            let blob = Self::blob_name(owner, &file.name);
            match self.store.delete(&self.container, &blob).await {
                Ok(()) | Err(StorageError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(files.len())
    }

    /// The owner's files whose names start with `prefix`, in name order.
    pub async fn list(
        &self,
        owner: &Owner,
        prefix: &str,
        marker: Option<&str>,
        limit: Option<usize>,
    ) -> Result<FilePage, StorageError> {
        let limit = limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
        let page = self
            .store
            .list(
                &self.container,
                &format!("{}/{prefix}", owner.as_str()),
                marker,
                limit,
            )
            .await?;
        Ok(FilePage {
            files: page
                .blobs
                .into_iter()
                .map(|blob| Self::file_info(owner, blob))
                .collect(),
            next: page.next,
        })
    }
}
