//! The embedded backend of [`BlobStore`]: files in a directory under `DATA_DIR`, with Blob
//! storage's semantics. Each blob is a content file plus a JSON sidecar that names it; the
//! sidecar is replaced atomically (rename), so a blob is either wholly old or wholly new and an
//! unfinished upload (a file under `.staging/`) is never visible.
//!
//! File names are the SHA-256 of the blob name, so no blob name can reach outside the
//! directory, however it is spelled.

use std::{
    io::{SeekFrom, Write},
    ops::Range,
    path::{Path, PathBuf},
    sync::Arc,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::{
    fs,
    io::{AsyncReadExt, AsyncSeekExt},
    sync::Mutex,
};
use tokio_util::io::ReaderStream;

use super::{BlobInfo, BlobPage, BlobStore, BlobUpload, ByteStream, ETag, StorageError};

const STAGING: &str = ".staging";

#[derive(Debug, Clone)]
pub struct DirectoryStore {
    root: PathBuf,
    /// Commits and deletes of sidecars are serialised, so no two can interleave their
    /// replace-then-clean-up steps.
    writes: Arc<Mutex<()>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sidecar {
    name: String,
    size: u64,
    content_type: String,
    etag: String,
    #[serde(with = "time::serde::rfc3339")]
    last_modified: OffsetDateTime,
    sha256: String,
    /// The content file, next to the sidecar.
    content: String,
}

impl Sidecar {
    fn info(&self) -> BlobInfo {
        BlobInfo {
            name: self.name.clone(),
            size: self.size,
            content_type: self.content_type.clone(),
            etag: ETag(self.etag.clone()),
            last_modified: self.last_modified,
            sha256: Some(self.sha256.clone()),
        }
    }
}

fn io_error<'a>(
    context: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |error| StorageError::Backend(format!("{context} {}: {error}", path.display()))
}

fn key(name: &str) -> String {
    format!("{:x}", Sha256::digest(name.as_bytes()))
}

impl DirectoryStore {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            writes: Arc::new(Mutex::new(())),
        }
    }

    fn container(&self, container: &str) -> PathBuf {
        self.root.join(container)
    }

    fn sidecar_path(&self, container: &str, name: &str) -> PathBuf {
        self.container(container)
            .join(format!("{}.json", key(name)))
    }

    async fn sidecar(&self, container: &str, name: &str) -> Result<Sidecar, StorageError> {
        let path = self.sidecar_path(container, name);
        let text = match fs::read(&path).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound)
            }
            Err(error) => return Err(io_error("cannot read", &path)(error)),
        };
        serde_json::from_slice(&text)
            .map_err(|error| StorageError::Backend(format!("{}: {error}", path.display())))
    }
}

struct DirectoryUpload {
    store: DirectoryStore,
    container: String,
    name: String,
    staging: PathBuf,
    /// A std file, written on the blocking pool straight from each block: `tokio::fs::File`
    /// would copy every block through a buffer of its own (up to 2 MiB more per upload).
    file: Option<Arc<std::fs::File>>,
    size: u64,
}

impl Drop for DirectoryUpload {
    fn drop(&mut self) {
        // Not committed (or committed and already renamed away): nothing may be left behind.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.staging);
        }
    }
}

#[async_trait]
impl BlobUpload for DirectoryUpload {
    async fn put_block(&mut self, data: Bytes) -> Result<(), StorageError> {
        let file = self
            .file
            .clone()
            .ok_or_else(|| StorageError::Backend("upload already finished".into()))?;
        let len = data.len() as u64;
        tokio::task::spawn_blocking(move || (&*file).write_all(&data))
            .await
            .map_err(|error| StorageError::Backend(format!("write task failed: {error}")))?
            .map_err(io_error("cannot write", &self.staging))?;
        self.size += len;
        Ok(())
    }

    async fn commit(
        mut self: Box<Self>,
        content_type: &str,
        sha256: &str,
    ) -> Result<BlobInfo, StorageError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| StorageError::Backend("upload already finished".into()))?;
        let result = async {
            tokio::task::spawn_blocking(move || file.sync_all())
                .await
                .map_err(|error| StorageError::Backend(format!("sync task failed: {error}")))?
                .map_err(io_error("cannot sync", &self.staging))?;

            let container = self.store.container(&self.container);
            let version = uuid::Uuid::new_v4().simple().to_string();
            let content = format!("{}.{version}.data", key(&self.name));
            let sidecar = Sidecar {
                name: self.name.clone(),
                size: self.size,
                content_type: content_type.to_owned(),
                etag: format!("\"{version}\""),
                last_modified: OffsetDateTime::now_utc(),
                sha256: sha256.to_owned(),
                content: content.clone(),
            };
            let sidecar_json = serde_json::to_vec(&sidecar)
                .map_err(|error| StorageError::Backend(error.to_string()))?;
            let staged_sidecar = self.staging.with_extension("json");
            fs::write(&staged_sidecar, &sidecar_json)
                .await
                .map_err(io_error("cannot write", &staged_sidecar))?;

            let _guard = self.store.writes.lock().await;
            let previous = self.store.sidecar(&self.container, &self.name).await.ok();
            let content_path = container.join(&content);
            fs::rename(&self.staging, &content_path)
                .await
                .map_err(io_error("cannot store", &content_path))?;
            let sidecar_path = self.store.sidecar_path(&self.container, &self.name);
            if let Err(error) = fs::rename(&staged_sidecar, &sidecar_path).await {
                let _ = fs::remove_file(&content_path).await;
                return Err(io_error("cannot store", &sidecar_path)(error));
            }
            if let Some(previous) = previous {
                let _ = fs::remove_file(container.join(previous.content)).await;
            }
            Ok(sidecar.info())
        }
        .await;
        if result.is_err() {
            let _ = fs::remove_file(&self.staging).await;
            let _ = fs::remove_file(self.staging.with_extension("json")).await;
        }
        result
    }
}

#[async_trait]
impl BlobStore for DirectoryStore {
    async fn ensure_container(&self, container: &str) -> Result<(), StorageError> {
        let staging = self.container(container).join(STAGING);
        fs::create_dir_all(&staging).await.map_err(|error| {
            StorageError::Unavailable(format!("cannot create {}: {error}", staging.display()))
        })
    }

    async fn start_upload(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Box<dyn BlobUpload>, StorageError> {
        let staging = self
            .container(container)
            .join(STAGING)
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = fs::File::create(&staging)
            .await
            .map_err(io_error("cannot create", &staging))?
            .into_std()
            .await;
        Ok(Box::new(DirectoryUpload {
            store: self.clone(),
            container: container.to_owned(),
            name: name.to_owned(),
            staging,
            file: Some(Arc::new(file)),
            size: 0,
        }))
    }

    async fn properties(&self, container: &str, name: &str) -> Result<BlobInfo, StorageError> {
        Ok(self.sidecar(container, name).await?.info())
    }

    async fn read(
        &self,
        container: &str,
        name: &str,
        range: Range<u64>,
        etag: &ETag,
    ) -> Result<ByteStream, StorageError> {
        let sidecar = self.sidecar(container, name).await?;
        if sidecar.etag != etag.0 {
            return Err(StorageError::PreconditionFailed);
        }
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let path = self.container(container).join(&sidecar.content);
        // An open file survives a concurrent replace (which unlinks it): the reader keeps
        // the version it started with.
        let mut file = match fs::File::open(&path).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::PreconditionFailed)
            }
            Err(error) => return Err(io_error("cannot open", &path)(error)),
        };
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(io_error("cannot seek", &path))?;
        let stream = ReaderStream::with_capacity(file.take(range.end - range.start), 64 * 1024)
            .map(|chunk| chunk.map_err(|error| StorageError::Backend(error.to_string())));
        Ok(stream.boxed())
    }

    async fn delete(&self, container: &str, name: &str) -> Result<(), StorageError> {
        let _guard = self.writes.lock().await;
        let sidecar = self.sidecar(container, name).await?;
        let sidecar_path = self.sidecar_path(container, name);
        fs::remove_file(&sidecar_path)
            .await
            .map_err(io_error("cannot delete", &sidecar_path))?;
        let _ = fs::remove_file(self.container(container).join(sidecar.content)).await;
        Ok(())
    }

    async fn list(
        &self,
        container: &str,
        prefix: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<BlobPage, StorageError> {
        let dir = self.container(container);
        let mut entries = match fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(BlobPage::default())
            }
            Err(error) => return Err(io_error("cannot list", &dir)(error)),
        };
        let mut blobs = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io_error("cannot list", &dir))?
        {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            // A sidecar deleted while we list is simply not listed.
            let Ok(text) = fs::read(&path).await else {
                continue;
            };
            let Ok(sidecar) = serde_json::from_slice::<Sidecar>(&text) else {
                continue;
            };
            if sidecar.name.starts_with(prefix) && marker.is_none_or(|m| sidecar.name.as_str() > m)
            {
                blobs.push(sidecar.info());
            }
        }
        blobs.sort_by(|a, b| a.name.cmp(&b.name));
        let next = if blobs.len() > limit {
            blobs.truncate(limit);
            blobs.last().map(|last| last.name.clone())
        } else {
            None
        };
        Ok(BlobPage { blobs, next })
    }
}
