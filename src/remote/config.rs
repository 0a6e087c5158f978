//! `.dv/remotes.json`: the remotes a workspace knows, by name, and which one is the default.
//!
//! The file may come with a copied `.dv/`, so it is read bounded and validated like any other
//! input. It never holds credentials: those come from the environment (`AWS_*`) on each run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The format of `remotes.json` this dv writes and reads.
const REMOTES_FORMAT: u32 = 1;
/// Largest `remotes.json` dv reads.
const MAX_REMOTES_FILE: u64 = 1 << 20;

/// How to reach one remote, as given to `dv remote add`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSpec {
    /// `/path`, `file:///path` or `s3://bucket/prefix`.
    pub url: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); AWS's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), which most self-hosted servers need.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_style: bool,
    /// Allows an `http://` endpoint (unencrypted; for a server on the same machine or network).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
}

/// Where a remote's objects live, parsed from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A directory (local disk, NFS).
    Path(PathBuf),
    /// A bucket of an S3-compatible store and a key prefix inside it (may be empty).
    S3 { bucket: String, prefix: String },
    /// A Google Cloud Storage bucket or an Azure Blob container (cargo features `gcs`, `azure`).
    Cloud {
        cloud: Cloud,
        bucket: String,
        prefix: String,
    },
}

/// The object stores reached through their own APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Gcs,
    Azure,
}

impl RemoteSpec {
    /// Parses and checks the URL; an error says what is wrong with it.
    pub fn location(&self) -> Result<Location> {
        parse_url(&self.url)
    }

    /// Checks everything that will be used: the URL and the endpoint.
    pub fn validate(&self) -> Result<()> {
        self.location()?;
        if let Some(endpoint) = &self.endpoint {
            let scheme_ok = endpoint.starts_with("https://") || endpoint.starts_with("http://");
            if !scheme_ok || endpoint.contains('@') || endpoint.chars().any(char::is_whitespace) {
                return Err(invalid_url(
                    endpoint,
                    "an endpoint is http:// or https:// and a host, without credentials",
                ));
            }
        }
        if let Some(region) = &self.region
            && (region.is_empty()
                || !region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(invalid_url(
                region,
                "a region is letters, digits, '-' and '_'",
            ));
        }
        Ok(())
    }
}

fn invalid_url(url: &str, reason: &str) -> Error {
    Error::InvalidRemoteUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses a remote URL: `/path`, `file:///path`, `s3://bucket[/prefix]`, and with the `gcs`
/// and `azure` features `gs://bucket[/prefix]` and `az://container[/prefix]`.
pub fn parse_url(url: &str) -> Result<Location> {
    for (scheme, cloud) in [
        ("s3://", Cloud::S3),
        ("gs://", Cloud::Gcs),
        ("az://", Cloud::Azure),
    ] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (bucket, prefix) = bucket_and_prefix(url, rest)?;
            return Ok(match cloud {
                Cloud::S3 => Location::S3 { bucket, prefix },
                other => Location::Cloud {
                    cloud: other,
                    bucket,
                    prefix,
                },
            });
        }
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if url.contains("://") && !url.starts_with("file://") {
        return Err(invalid_url(
            url,
            "dv understands /path, file:///path, s3://bucket/prefix, gs://bucket/prefix and \
             az://container/prefix",
        ));
    }
    if !path.starts_with('/') {
        return Err(invalid_url(
            url,
            "a path remote must be absolute (dv remote add makes relative paths absolute)",
        ));
    }
    Ok(Location::Path(PathBuf::from(path)))
}

/// The bucket (or container) and key prefix of a cloud URL, checked.
fn bucket_and_prefix(url: &str, rest: &str) -> Result<(String, String)> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.contains('@') || bucket.contains(':') {
        return Err(invalid_url(
            url,
            "credentials are never part of a remote URL; set them in the environment \
             (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for S3)",
        ));
    }
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !bucket_ok {
        return Err(invalid_url(
            url,
            "a bucket name is 3 to 63 lowercase letters, digits, '.' and '-'",
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix
        .split('/')
        .any(|part| part == "." || part == ".." || (part.is_empty() && !prefix.is_empty()))
        || prefix.chars().any(|c| c.is_control() || c == '\\')
    {
        return Err(invalid_url(
            url,
            "the key prefix has an empty, '.' or '..' component",
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// The remotes of a workspace.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remotes {
    #[serde(default)]
    format: u32,
    /// The remote commands use when none is named.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub remotes: BTreeMap<String, RemoteSpec>,
}

impl Remotes {
    /// The path of the file in a `.dv/` directory.
    pub fn path(dv_dir: &Path) -> PathBuf {
        dv_dir.join("remotes.json")
    }

    /// Reads the file (none yet means no remotes), validating every entry.
    pub fn load(dv_dir: &Path) -> Result<Remotes> {
        let path = Remotes::path(dv_dir);
        let Some(bytes) = crate::fs_util::read_bounded(&path, MAX_REMOTES_FILE)? else {
            return Ok(Remotes::default());
        };
        let bad = |message: String| Error::Config {
            path: path.clone(),
            message,
        };
        let remotes: Remotes =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("it is not valid: {e}")))?;
        if remotes.format > REMOTES_FORMAT {
            return Err(bad(format!(
                "it has format {}, newer than this dv understands ({REMOTES_FORMAT})",
                remotes.format
            )));
        }
        for (name, spec) in &remotes.remotes {
            crate::names::check("remote", name).map_err(|e| bad(e.to_string()))?;
            spec.validate()
                .map_err(|e| bad(format!("remote \"{name}\": {e}")))?;
        }
        if let Some(default) = &remotes.default
            && !remotes.remotes.contains_key(default)
        {
            return Err(bad(format!(
                "its default remote \"{default}\" is not one of its remotes"
            )));
        }
        Ok(remotes)
    }

    /// Writes the file atomically.
    pub fn save(&self, dv_dir: &Path) -> Result<()> {
        let saved = Remotes {
            format: REMOTES_FORMAT,
            ..self.clone()
        };
        let mut json = serde_json::to_vec_pretty(&saved).expect("remotes serialize");
        json.push(b'\n');
        crate::fs_util::write_atomic(&Remotes::path(dv_dir), &json, "remotes")
    }

    /// Adds a remote; the first one added (or one added with `make_default`) is the default.
    pub fn add(&mut self, name: &str, spec: RemoteSpec, make_default: bool) -> Result<()> {
        crate::names::check("remote", name)?;
        spec.validate()?;
        if self.remotes.contains_key(name) {
            return Err(Error::RemoteExists {
                name: name.to_string(),
            });
        }
        self.remotes.insert(name.to_string(), spec);
        if make_default || self.default.is_none() {
            self.default = Some(name.to_string());
        }
        Ok(())
    }

    /// Removes a remote; if it was the default, no remote is the default any more unless only
    /// one is left.
    pub fn remove(&mut self, name: &str) -> Result<RemoteSpec> {
        let spec = self
            .remotes
            .remove(name)
            .ok_or_else(|| self.unknown(name))?;
        if self.default.as_deref() == Some(name) {
            self.default = (self.remotes.len() == 1)
                .then(|| self.remotes.keys().next().cloned())
                .flatten();
        }
        Ok(spec)
    }

    /// The remote named `name`, or the default one when `name` is `None`.
    pub fn resolve(&self, name: Option<&str>) -> Result<(String, RemoteSpec)> {
        let name = match name {
            Some(name) => name.to_string(),
            None => self.default.clone().ok_or(Error::NoRemote)?,
        };
        let spec = self
            .remotes
            .get(&name)
            .cloned()
            .ok_or_else(|| self.unknown(&name))?;
        Ok((name, spec))
    }

    fn unknown(&self, name: &str) -> Error {
        Error::UnknownRemote {
            name: name.to_string(),
            known: self.remotes.keys().cloned().collect(),
        }
    }
}
