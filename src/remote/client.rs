//! The one place dv talks to a remote: `object_store` for directories and S3-compatible
//! buckets, driven by a tokio runtime that lives only here (the rest of dv is synchronous).
//!
//! Every request is counted, every body is bounded before it is read, and transient failures
//! are retried with backoff by `object_store` (`DV_REMOTE_RETRIES`, `DV_REMOTE_TIMEOUT_SECS`).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};

use super::config::{Cloud, Location, RemoteSpec};
use crate::error::{Error, Result};

/// Objects larger than this are uploaded in parts, several at once.
pub const MULTIPART_THRESHOLD: u64 = 8 << 20;
/// The size of one part of a multipart upload.
const PART_SIZE: usize = 8 << 20;

/// Requests and payload bytes moved, for `--json` summaries and the tests that count them.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub objects: AtomicU64,
}

impl Stats {
    fn received(&self, requests: u64, bytes: u64) {
        self.requests.fetch_add(requests, Ordering::Relaxed);
        self.received.fetch_add(bytes, Ordering::Relaxed);
    }

    fn sent(&self, requests: u64, bytes: u64) {
        self.requests.fetch_add(requests, Ordering::Relaxed);
        self.sent.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Tuning from the environment: parallel requests, retries, and how long one may take.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    pub jobs: usize,
    pub retries: usize,
    pub timeout: Duration,
}

impl Tuning {
    /// `DV_REMOTE_JOBS` (16), `DV_REMOTE_RETRIES` (10) and `DV_REMOTE_TIMEOUT_SECS` (60).
    pub fn from_env() -> Result<Tuning> {
        let read = |name: &'static str, default: u64, min: u64| -> Result<u64> {
            match std::env::var(name) {
                Err(_) => Ok(default),
                Ok(text) => text
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= min && *n <= 100_000)
                    .ok_or_else(|| Error::InvalidEnvironment {
                        name,
                        value: text.clone(),
                        expected: format!("a whole number from {min} to 100000"),
                    }),
            }
        };
        Ok(Tuning {
            jobs: read("DV_REMOTE_JOBS", 16, 1)? as usize,
            retries: read("DV_REMOTE_RETRIES", 10, 0)? as usize,
            timeout: Duration::from_secs(read("DV_REMOTE_TIMEOUT_SECS", 60, 1)?),
        })
    }
}

/// A connection to one remote. Cheap to clone into concurrent tasks.
#[derive(Clone)]
pub struct Client {
    pub name: String,
    store: Arc<dyn ObjectStore>,
    pub stats: Arc<Stats>,
    pub jobs: usize,
    /// A directory remote's root: everything below it is checked before it is touched, since
    /// `object_store` follows symbolic links and blocks on FIFOs.
    root: Option<PathBuf>,
}

/// One key of a listing, relative to the remote's root, with its size and when it was last
/// written (by the remote's clock).
#[derive(Clone, Debug)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub modified: SystemTime,
}

impl Client {
    /// Connects to a remote (nothing is sent yet). A directory remote that does not exist is
    /// created when `create` is set, else reported.
    pub fn open(name: &str, spec: &RemoteSpec, tuning: Tuning, create: bool) -> Result<Client> {
        let fail = |message: String| Error::Remote {
            remote: name.to_string(),
            message,
            source: None,
        };
        let mut root = None;
        let store: Arc<dyn ObjectStore> = match spec.location()? {
            Location::Path(dir) => {
                root = Some(dir.clone());
                if create {
                    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                } else if !dir.is_dir() {
                    return Err(fail(format!("{} is not a directory", dir.display())));
                }
                Arc::new(
                    LocalFileSystem::new_with_prefix(&dir)
                        .map_err(|e| fail(format!("cannot open {}: {e}", dir.display())))?,
                )
            }
            Location::S3 { bucket, prefix } => {
                let retry = retry_config(&tuning);
                let options = ClientOptions::new()
                    .with_timeout(tuning.timeout)
                    .with_connect_timeout(tuning.timeout.min(Duration::from_secs(10)))
                    .with_allow_http(spec.allow_http || env_flag("AWS_ALLOW_HTTP"));
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(&bucket)
                    .with_retry(retry)
                    .with_client_options(options);
                if let Some(endpoint) = &spec.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                } else if spec.path_style {
                    builder = builder.with_virtual_hosted_style_request(false);
                }
                if let Some(region) = &spec.region {
                    builder = builder.with_region(region);
                }
                let s3 = builder
                    .build()
                    .map_err(|e| fail(format!("cannot configure S3 access: {e}")))?;
                with_prefix(Arc::new(s3), &prefix)
            }
            Location::Cloud {
                cloud,
                bucket,
                prefix,
            } => with_prefix(cloud_store(cloud, &bucket, &tuning).map_err(fail)?, &prefix),
        };
        Ok(Client {
            name: name.to_string(),
            store,
            stats: Arc::default(),
            jobs: tuning.jobs,
            root,
        })
    }

    /// An error about this remote.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Remote {
            remote: self.name.clone(),
            message: message.into(),
            source: None,
        }
    }

    /// A request that failed, keeping the transport's error as the source of the chain.
    fn failed(&self, what: &str, key: &str, err: object_store::Error) -> Error {
        let (reason, source) = match err {
            object_store::Error::NotFound { .. } => ("not found".to_string(), None),
            other => (other.to_string(), Some(Box::new(other) as _)),
        };
        Error::Remote {
            remote: self.name.clone(),
            message: format!("{what} {key} failed: {reason}"),
            source,
        }
    }

    /// The key for `key`. On a directory remote the path is checked first: no component may be
    /// a symbolic link (a planted `versions -> /elsewhere` would carry reads and writes outside
    /// the remote) and what is there must be a regular file (a FIFO would hang the open).
    fn key(&self, key: &str) -> Result<Key> {
        self.check_local(key, true)?;
        Ok(Key::from(key))
    }

    /// On a directory remote, refuses `key` when a component of its path is a symbolic link or
    /// what is there is not a regular file (`file`) or directory. Absent paths pass.
    fn check_local(&self, key: &str, file: bool) -> Result<()> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let mut path = root.clone();
        let parts: Vec<&str> = key.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(Error::io(&path, e)),
            };
            let wrong_end =
                i + 1 == parts.len() && !(if file { meta.is_file() } else { meta.is_dir() });
            if meta.file_type().is_symlink() || wrong_end {
                return Err(self.not_its_own(&parts[..=i].join("/"), &meta));
            }
        }
        Ok(())
    }

    /// The error for something in a directory remote that is not a plain file or directory.
    fn not_its_own(&self, key: &str, meta: &std::fs::Metadata) -> Error {
        self.error(format!(
            "{key} is a {}; a directory remote holds only plain files and directories, so \
             nothing was read or written through it. Remove it from the remote",
            crate::fs_util::file_type_name(&meta.file_type())
        ))
    }

    /// A directory remote's listing, walked without following links.
    fn list_directory(&self, root: &Path, prefix: &str) -> Result<Vec<Listed>> {
        self.check_local(prefix, false)?;
        let top = root.join(prefix);
        if !top.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        // Another writer may rename or remove a file while it is listed (object_store stages
        // a file as `NAME#N` and renames it): what vanished is simply not listed.
        let vanished = |e: &walkdir::Error| {
            e.io_error()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        };
        for entry in walkdir::WalkDir::new(&top).min_depth(1).sort_by_file_name() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(self.error(format!("listing {prefix} failed: {e}"))),
            };
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(self.error(format!("listing {prefix} failed: {e}"))),
            };
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let key: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let key = key.join("/");
            if meta.is_dir() {
                continue;
            }
            if !meta.is_file() {
                return Err(self.not_its_own(&key, &meta));
            }
            // A file being written by object_store is staged as `NAME#N`.
            if let Some((_, n)) = key.rsplit_once('#')
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
            {
                continue;
            }
            out.push(Listed {
                key,
                size: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        Ok(out)
    }

    /// Every key below `prefix` (a directory name such as `packs`), with its size.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        if let Some(root) = &self.root {
            let out = self.list_directory(root, prefix)?;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            return Ok(out);
        }
        let mut stream = self.store.list(Some(&Key::from(prefix)));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.failed("listing", prefix, e))?;
            out.push(Listed {
                key: meta.location.to_string(),
                size: meta.size,
                modified: SystemTime::from(meta.last_modified),
            });
        }
        // A listing returns up to 1000 keys per request.
        let pages = (out.len() as u64).div_ceil(1000).max(1);
        self.stats.requests.fetch_add(pages, Ordering::Relaxed);
        Ok(out)
    }

    /// A whole object, refused when it is (or turns out to be) larger than `max` bytes;
    /// `None` when there is no such key.
    pub async fn get(&self, key: &str, max: u64) -> Result<Option<Bytes>> {
        let result = match self.store.get(&self.key(key)?).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                self.stats.received(1, 0);
                return Ok(None);
            }
            Err(e) => return Err(self.failed("reading", key, e)),
        };
        if result.meta.size > max {
            self.stats.received(1, 0);
            return Err(self.error(format!(
                "{key} is {} bytes, more than such a file may be ({max})",
                result.meta.size
            )));
        }
        let mut body = Vec::with_capacity(result.meta.size as usize);
        let mut stream = result.into_stream();
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| self.failed("reading", key, e))?;
            if (body.len() + piece.len()) as u64 > max {
                return Err(self.error(format!("{key} is longer than it said it was")));
            }
            body.extend_from_slice(&piece);
        }
        self.stats.received(1, body.len() as u64);
        Ok(Some(Bytes::from(body)))
    }

    /// Streams a whole object into `out`, refusing more than `max` bytes; returns the length.
    pub async fn get_to_file(&self, key: &str, max: u64, out: &mut std::fs::File) -> Result<u64> {
        use std::io::Write;
        let result = self
            .store
            .get(&self.key(key)?)
            .await
            .map_err(|e| self.failed("reading", key, e))?;
        let mut written = 0u64;
        let mut stream = result.into_stream();
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| self.failed("reading", key, e))?;
            written += piece.len() as u64;
            if written > max {
                return Err(self.error(format!("{key} is longer than it said it was")));
            }
            out.write_all(&piece)
                .map_err(|e| Error::io(std::path::PathBuf::from(key), e))?;
        }
        self.stats.received(1, written);
        Ok(written)
    }

    /// The error for a listed file that is no longer there.
    pub fn gone(&self, key: &str) -> Error {
        Error::RemoteGone {
            remote: self.name.clone(),
            key: key.to_string(),
        }
    }

    /// Bytes `range` of an object, which must come back exactly that long.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let wanted = range.end - range.start;
        let bytes = self
            .store
            .get_range(&self.key(key)?, range)
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => self.gone(key),
                other => self.failed("reading", key, other),
            })?;
        self.stats.received(1, bytes.len() as u64);
        if bytes.len() as u64 != wanted {
            return Err(self.error(format!(
                "{key} sent {} bytes where {wanted} were asked for (truncated or shorter than its index says)",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Writes an object in one request (the write is atomic: readers see all of it or none).
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        if bytes.len() as u64 > MULTIPART_THRESHOLD {
            return self.put_multipart(key, bytes).await;
        }
        let len = bytes.len() as u64;
        self.store
            .put(&self.key(key)?, PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| self.failed("writing", key, e))?;
        self.stats.sent(1, len);
        Ok(())
    }

    /// Writes a small bookkeeping object (a lock): a request, but no payload to report.
    pub async fn put_control(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.key(key)?, PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| self.failed("writing", key, e))?;
        self.stats.sent(1, 0);
        Ok(())
    }

    /// Deletes an object; one that is already gone is not an error (a rerun after a crash).
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        match self.store.delete(&self.key(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("deleting", key, e)),
        }
    }

    /// Writes a large in-memory object in parts uploaded in parallel.
    async fn put_multipart(&self, key: &str, bytes: Bytes) -> Result<()> {
        let mut writer = self.start_multipart(key).await?;
        let parts = bytes.len().div_ceil(PART_SIZE) as u64;
        writer.put(bytes.clone());
        writer
            .finish()
            .await
            .map_err(|e| self.failed("writing", key, e))?;
        self.stats.sent(parts + 2, bytes.len() as u64);
        Ok(())
    }

    /// Uploads a file in parts, reading it piece by piece (a loose object of any size).
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<()> {
        let mut file = crate::fs_util::open_regular(path).map_err(|e| Error::io(path, e))?;
        let mut writer = self.start_multipart(key).await?;
        let mut sent = 0u64;
        let mut parts = 0u64;
        loop {
            let mut buf = vec![0u8; PART_SIZE];
            let n = crate::store::read_full(&mut file, &mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            writer
                .wait_for_capacity(self.jobs.min(8))
                .await
                .map_err(|e| self.failed("writing", key, e))?;
            writer.put(Bytes::from(buf));
            sent += n as u64;
            parts += 1;
        }
        writer
            .finish()
            .await
            .map_err(|e| self.failed("writing", key, e))?;
        self.stats.sent(parts + 2, sent);
        Ok(())
    }

    async fn start_multipart(&self, key: &str) -> Result<WriteMultipart> {
        let upload = self
            .store
            .put_multipart(&self.key(key)?)
            .await
            .map_err(|e| self.failed("writing", key, e))?;
        Ok(WriteMultipart::new_with_chunk_size(upload, PART_SIZE))
    }
}

/// A store whose keys all live below `prefix`.
fn with_prefix(store: Arc<dyn ObjectStore>, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        store
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

fn retry_config(tuning: &Tuning) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: tuning.retries,
        retry_timeout: tuning.timeout.saturating_mul(3),
    }
}

/// Google Cloud Storage or Azure Blob Storage, configured from their standard environment
/// variables (`GOOGLE_APPLICATION_CREDENTIALS`..., `AZURE_STORAGE_ACCOUNT_NAME`...), when this
/// dv was built with the feature.
#[allow(unused_variables)]
fn cloud_store(
    cloud: Cloud,
    bucket: &str,
    tuning: &Tuning,
) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    let options = ClientOptions::new().with_timeout(tuning.timeout);
    match cloud {
        #[cfg(feature = "gcs")]
        Cloud::Gcs => object_store::gcp::GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry_config(tuning))
            .with_client_options(options)
            .build()
            .map(|store| Arc::new(store) as Arc<dyn ObjectStore>)
            .map_err(|e| format!("cannot configure Google Cloud Storage access: {e}")),
        #[cfg(feature = "azure")]
        Cloud::Azure => object_store::azure::MicrosoftAzureBuilder::from_env()
            .with_container_name(bucket)
            .with_retry(retry_config(tuning))
            .with_client_options(options)
            .build()
            .map(|store| Arc::new(store) as Arc<dyn ObjectStore>)
            .map_err(|e| format!("cannot configure Azure Blob Storage access: {e}")),
        other => Err(format!(
            "this dv was built without {} support; install it with \
             `cargo install --locked --path . --features {}`",
            match other {
                Cloud::Gcs => "Google Cloud Storage",
                Cloud::Azure => "Azure Blob Storage",
                Cloud::S3 => "S3",
            },
            match other {
                Cloud::Gcs => "gcs",
                Cloud::Azure => "azure",
                Cloud::S3 => "aws",
            }
        )),
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "True"))
}

/// The runtime remote work runs on: a few threads, since the work is waiting on the network.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}
