//! Where photos are kept, by their SHA-256: a directory by default (`CGS_MEDIA_DIR`), an
//! S3-compatible bucket in production (`CGS_MEDIA_S3_*`), both through `object_store`.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use bytes::Bytes;
use common::config::Settings;
use object_store::{ObjectStore, ObjectStoreExt, aws::AmazonS3Builder, local::LocalFileSystem, path::Path};

/// The photo store.
#[derive(Clone, Debug)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
}

/// The store cannot be reached or failed: worth trying again.
#[derive(Debug, thiserror::Error)]
#[error("media store: {0}")]
pub struct StoreError(#[from] object_store::Error);

impl MediaStore {
    /// The store the settings name: the bucket when one is set, else the directory (created
    /// when missing).
    pub fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match &s.media_s3_bucket {
            Some(bucket) => {
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = &s.media_s3_endpoint {
                    // S3-compatible servers are addressed by path, often over plain HTTP inside
                    // a private network.
                    b = b
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(region) = &s.media_s3_region {
                    b = b.with_region(region);
                }
                if let Some(key) = &s.media_s3_access_key_id {
                    b = b.with_access_key_id(key);
                }
                if let Some(secret) = &s.media_s3_secret_access_key {
                    b = b.with_secret_access_key(secret.expose());
                }
                Arc::new(b.build().context("configuring the S3 media store (CGS_MEDIA_S3_*)")?)
            }
            None => {
                let dir = s.media_dir.clone().unwrap_or_else(|| default_dir(&s.database_url));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating the media directory {}", dir.display()))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&dir)
                        .with_context(|| format!("opening the media directory {}", dir.display()))?,
                )
            }
        };
        Ok(Self { store })
    }

    fn path(sha256: &str) -> Path {
        Path::from(format!("{}/{sha256}", &sha256[..2]))
    }

    /// Keeps a photo under its SHA-256. The same content is kept once: a photo the store has
    /// already is not written again (and writing it again would change nothing).
    pub async fn put(&self, sha256: &str, bytes: Bytes) -> Result<(), StoreError> {
        let path = Self::path(sha256);
        match self.store.head(&path).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => {
                Ok(self.store.put(&path, bytes.into()).await.map(|_| ())?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A photo's bytes; `None` when the store has none under that hash.
    pub async fn get(&self, sha256: &str) -> Result<Option<Bytes>, StoreError> {
        match self.store.get(&Self::path(sha256)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// `media` beside the embedded database file, else in the working directory.
fn default_dir(database_url: &str) -> PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|path| !path.is_empty() && !path.starts_with(':'));
    match file.map(PathBuf::from).and_then(|p| p.parent().map(PathBuf::from)) {
        Some(parent) => parent.join("media"),
        None => PathBuf::from("media"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_directory_sits_beside_the_embedded_database() {
        assert_eq!(default_dir("sqlite://cgs.db?mode=rwc"), PathBuf::from("media"));
        assert_eq!(default_dir("sqlite:///var/lib/cgs/cgs.db?mode=rwc"), PathBuf::from("/var/lib/cgs/media"));
        assert_eq!(default_dir("sqlite::memory:"), PathBuf::from("media"));
        assert_eq!(default_dir("postgres://cgs@db/cgs"), PathBuf::from("media"));
    }
}
