//! The artifact registry: artifacts with provenance in the [`Store`], their inline content kept
//! content-addressed in a directory (`<dir>/sha256/<2 hex>/<64 hex>`, written once, atomically),
//! references to them resolved in payloads, and the artifacts a tool result carries.
//!
//! An artifact is either *inline* (content given, or an embedded MCP resource: stored here, its
//! checksum computed) or *external* (a path or URI: a local file's sha256 is checked against the
//! given checksum when the file is readable; a remote URI is recorded as given).

use std::{
    collections::{HashSet, VecDeque},
    io::ErrorKind,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use base64::Engine as _;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    report::{ArtifactKind, ArtifactReport, Lineage},
    store::{ArtifactFilter, Store, StoreError},
};

/// The URI scheme of artifacts as MCP resources.
pub const SCHEME: &str = "artifact://";
/// The template spelling of a reference (`$artifacts.<id>`).
const TEMPLATE: &str = "$artifacts.";
/// How far lineage walks each way.
const LINEAGE_LIMIT: usize = 1_000;

/// Why an artifact operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// No artifact has this id.
    #[error("unknown artifact `{0}`; `artifacts list` shows the registered ones")]
    Unknown(String),
    /// The content does not match the checksum given for it.
    #[error("checksum mismatch for {location}: given {given}, the content is {actual}")]
    ChecksumMismatch {
        /// The file or artifact.
        location: String,
        /// The checksum given.
        given: String,
        /// The content's.
        actual: String,
    },
    /// A checksum not spelt `sha256:<64 hex>`.
    #[error("checksum `{0}` is not `sha256:` and 64 hex digits")]
    BadChecksum(String),
    /// Neither content nor a storage location was given, or both.
    #[error("an artifact needs exactly one of `content` (inline) or `storage_location`")]
    NoContent,
    /// Inline content that is not what its encoding says.
    #[error("artifact content is not valid base64: {0}")]
    BadEncoding(String),
    /// The content directory could not be written.
    #[error("cannot write artifact content under {dir}: {source}{}", io_hint(.source))]
    Write {
        /// The content directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The content could not be read back.
    #[error("cannot read the content of artifact `{id}` at {location}: {reason}")]
    Unreadable {
        /// The artifact.
        id: String,
        /// Where it should be.
        location: String,
        /// Why not.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to do when the disk says no.
fn io_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            " (the disk is full: free space or point jobs.artifacts_dir elsewhere; nothing was registered)"
        }
        ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied => {
            " (the directory is read-only for this user: fix its permissions or point jobs.artifacts_dir elsewhere; nothing was registered)"
        }
        _ => "",
    }
}

/// An artifact to register.
#[derive(Debug, Clone, Default)]
pub struct NewArtifact {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: Option<ArtifactKind>,
    /// What it holds.
    pub description: Option<String>,
    /// Its bytes, to keep here.
    pub content: Option<Vec<u8>>,
    /// Where it is kept, when not here.
    pub storage_location: Option<String>,
    /// `sha256:<hex>`, checked against the content when it can be read.
    pub checksum: Option<String>,
    /// Its size, when external and not readable.
    pub size_bytes: Option<u64>,
    /// Its media type.
    pub mime_type: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Free metadata.
    pub metadata: Option<Value>,
    /// Provenance: the job.
    pub job_id: Option<String>,
    /// Provenance: the external service.
    pub service_id: Option<String>,
    /// Provenance: the workflow run.
    pub run_id: Option<String>,
    /// Provenance: the step of that run.
    pub step: Option<String>,
    /// The artifacts it was made from (each must exist).
    pub dependencies: Vec<String>,
}

/// Called after each registration (the composition root tells hosts the resource list changed).
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// The registry. Cheap to clone.
#[derive(Clone)]
pub struct Artifacts {
    store: Store,
    dir: PathBuf,
    on_change: Arc<OnceLock<OnChange>>,
}

impl std::fmt::Debug for Artifacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifacts")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Artifacts {
    /// A registry over `store`, keeping content under `dir`.
    pub fn new(store: Store, dir: PathBuf) -> Self {
        Self {
            store,
            dir,
            on_change: Arc::default(),
        }
    }

    /// Sets what runs after each registration.
    pub fn set_on_change(&self, f: OnChange) {
        let _ = self.on_change.set(f);
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Registers an artifact at `now` (unix ms) and returns it as stored.
    pub async fn register(
        &self,
        a: NewArtifact,
        now: i64,
    ) -> Result<ArtifactReport, ArtifactError> {
        let given = a.checksum.as_deref().map(parse_checksum).transpose()?;
        for dep in &a.dependencies {
            if self.store.artifact(dep).await?.is_none() {
                return Err(ArtifactError::Unknown(dep.clone()));
            }
        }
        let (location, size, checksum) = match (a.content, a.storage_location) {
            (Some(bytes), None) => {
                let digest = hex::encode(Sha256::digest(&bytes));
                check(&given, &digest, "the inline content")?;
                let path = self.write(&digest, &bytes).await?;
                (
                    path.display().to_string(),
                    Some(bytes.len() as u64),
                    Some(digest),
                )
            }
            (None, Some(location)) => match local_path(&location) {
                Some(path) => match hash_file(&path).await {
                    Ok((digest, size)) => {
                        check(&given, &digest, &location)?;
                        (location, Some(size), Some(digest))
                    }
                    // Not readable from here (another machine's path): recorded as given.
                    Err(_) => (location, a.size_bytes, given.clone()),
                },
                None => (location, a.size_bytes, given.clone()),
            },
            _ => return Err(ArtifactError::NoContent),
        };
        let report = ArtifactReport {
            id: uuid::Uuid::new_v4().to_string(),
            name: a.name,
            kind: a.kind.unwrap_or(ArtifactKind::Other),
            description: a.description,
            storage_location: location,
            size_bytes: size,
            checksum: checksum.map(|d| format!("sha256:{d}")),
            mime_type: a.mime_type,
            tags: a.tags,
            metadata: a
                .metadata
                .unwrap_or_else(|| Value::Object(Default::default())),
            created_at: now,
            job_id: a.job_id,
            service_id: a.service_id,
            run_id: a.run_id,
            step: a.step,
            dependencies: a.dependencies,
        };
        self.store.put_artifact(&report).await?;
        if let Some(f) = self.on_change.get() {
            f();
        }
        tracing::info!(artifact = %report.id, name = %report.name, kind = %report.kind, "artifact registered");
        Ok(report)
    }

    /// Writes content under its digest unless it is there already; returns its path.
    async fn write(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, ArtifactError> {
        let path = self.content_path(digest);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(path);
        }
        let wrap = |source| ArtifactError::Write {
            dir: self.dir.clone(),
            source,
        };
        let parent = path.parent().unwrap_or(&self.dir).to_owned();
        tokio::fs::create_dir_all(&parent).await.map_err(wrap)?;
        // A temporary name, then a rename: a reader never sees half a file, and two writers of
        // the same content both end with the same bytes.
        let tmp = parent.join(format!(".{digest}.{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, bytes).await.map_err(wrap)?;
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(wrap(e));
        }
        Ok(path)
    }

    fn content_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("sha256")
            .join(&digest[..2.min(digest.len())])
            .join(digest)
    }

    /// One artifact.
    pub async fn get(&self, id: &str) -> Result<ArtifactReport, ArtifactError> {
        self.store
            .artifact(id)
            .await?
            .ok_or_else(|| ArtifactError::Unknown(id.to_owned()))
    }

    /// Artifacts matching `filter`, newest first.
    pub async fn list(
        &self,
        filter: &ArtifactFilter,
    ) -> Result<Vec<ArtifactReport>, ArtifactError> {
        Ok(self.store.artifacts(filter).await?)
    }

    /// What `id` was made from and what was made from it, transitively.
    pub async fn lineage(&self, id: &str) -> Result<Lineage, ArtifactError> {
        let artifact = self.get(id).await?;
        let ancestors = self.walk(id, true).await?;
        let descendants = self.walk(id, false).await?;
        Ok(Lineage {
            artifact,
            ancestors,
            descendants,
        })
    }

    /// Breadth first from `id`, up (parents) or down (children), nearest first.
    async fn walk(&self, id: &str, up: bool) -> Result<Vec<ArtifactReport>, ArtifactError> {
        let mut seen: HashSet<String> = HashSet::from([id.to_owned()]);
        let mut queue = VecDeque::from([id.to_owned()]);
        let mut out = Vec::new();
        while let Some(next) = queue.pop_front() {
            let edges = if up {
                self.store.artifact_parents(&next).await?
            } else {
                self.store.artifact_children(&next).await?
            };
            for e in edges {
                if out.len() >= LINEAGE_LIMIT || !seen.insert(e.clone()) {
                    continue;
                }
                // A dependency whose artifact was never registered here is skipped, not fatal.
                if let Some(a) = self.store.artifact(&e).await? {
                    out.push(a);
                    queue.push_back(e);
                }
            }
        }
        Ok(out)
    }

    /// The bytes of an artifact whose content is here (inline, or a readable local file),
    /// checked against its checksum.
    pub async fn content(&self, id: &str) -> Result<(ArtifactReport, Vec<u8>), ArtifactError> {
        let a = self.get(id).await?;
        let unreadable = |reason: String| ArtifactError::Unreadable {
            id: id.to_owned(),
            location: a.storage_location.clone(),
            reason,
        };
        let Some(path) = local_path(&a.storage_location) else {
            return Err(unreadable(
                "it is stored outside this machine; fetch it from its location".into(),
            ));
        };
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        if let Some(given) = &a.checksum {
            let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
            if *given != actual {
                return Err(ArtifactError::ChecksumMismatch {
                    location: a.storage_location.clone(),
                    given: given.clone(),
                    actual,
                });
            }
        }
        Ok((a, bytes))
    }

    /// Replaces every string that is exactly `artifact://<id>` or `$artifacts.<id>` in `value`
    /// by that artifact's descriptor, and returns the ids referenced (in order, once each). An
    /// id that does not exist is an error: nothing runs with a dangling reference.
    pub async fn resolve(&self, value: &mut Value) -> Result<Vec<String>, ArtifactError> {
        let mut ids = Vec::new();
        collect_refs(value, &mut ids);
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut found = std::collections::HashMap::new();
        for id in &ids {
            let a = self.get(id).await?;
            found.insert(id.clone(), serde_json::to_value(a).unwrap_or(Value::Null));
        }
        replace_refs(value, &found);
        Ok(ids)
    }

    /// Registers the resources a tool result carries (embedded resources keep their content
    /// here; resource links are recorded by URI) with the given provenance and dependencies.
    pub async fn register_from_result(
        &self,
        result: &CallToolResult,
        provenance: &NewArtifact,
        now: i64,
    ) -> Result<Vec<ArtifactReport>, ArtifactError> {
        let mut out = Vec::new();
        for block in &result.content {
            let mut a = provenance.clone();
            match block {
                ContentBlock::Resource(r) => {
                    let (uri, mime, bytes) = match &r.resource {
                        ResourceContents::TextResourceContents {
                            uri,
                            mime_type,
                            text,
                            ..
                        } => (uri, mime_type, text.as_bytes().to_vec()),
                        ResourceContents::BlobResourceContents {
                            uri,
                            mime_type,
                            blob,
                            ..
                        } => (
                            uri,
                            mime_type,
                            base64::engine::general_purpose::STANDARD
                                .decode(blob)
                                .map_err(|e| ArtifactError::BadEncoding(e.to_string()))?,
                        ),
                        // A kind of contents newer than this build knows: not an artifact.
                        _ => continue,
                    };
                    a.name = name_of(uri.as_str());
                    a.mime_type = mime.clone();
                    a.content = Some(bytes);
                    a.metadata = Some(serde_json::json!({"uri": uri}));
                }
                ContentBlock::ResourceLink(link) => {
                    a.name = link.name.clone();
                    a.description = link.description.clone();
                    a.mime_type = link.mime_type.clone();
                    a.size_bytes = link.size;
                    a.storage_location = Some(link.uri.clone());
                }
                _ => continue,
            }
            if a.kind.is_none() {
                a.kind = Some(kind_of(a.mime_type.as_deref()));
            }
            out.push(self.register(a, now).await?);
        }
        Ok(out)
    }
}

/// `sha256:<hex>` → the hex, lower-cased.
fn parse_checksum(s: &str) -> Result<String, ArtifactError> {
    let hex = s
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| ArtifactError::BadChecksum(s.to_owned()))?;
    Ok(hex.to_ascii_lowercase())
}

fn check(given: &Option<String>, actual: &str, location: &str) -> Result<(), ArtifactError> {
    match given {
        Some(g) if g != actual => Err(ArtifactError::ChecksumMismatch {
            location: location.to_owned(),
            given: format!("sha256:{g}"),
            actual: format!("sha256:{actual}"),
        }),
        _ => Ok(()),
    }
}

/// A location on this machine's file system: an absolute path or a `file://` URI.
fn local_path(location: &str) -> Option<PathBuf> {
    if let Some(p) = location.strip_prefix("file://") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(location);
    p.is_absolute().then(|| p.to_owned())
}

async fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let bytes = tokio::fs::read(path).await?;
    Ok((hex::encode(Sha256::digest(&bytes)), bytes.len() as u64))
}

/// The id a string refers to, if it is a whole reference.
fn reference(s: &str) -> Option<&str> {
    s.strip_prefix(SCHEME)
        .or_else(|| s.strip_prefix(TEMPLATE))
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = reference(s)
                && !out.iter().any(|o| o == id)
            {
                out.push(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

fn replace_refs(v: &mut Value, found: &std::collections::HashMap<String, Value>) {
    match v {
        Value::String(s) => {
            if let Some(d) = reference(s).and_then(|id| found.get(id)) {
                *v = d.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| replace_refs(i, found)),
        Value::Object(map) => map.values_mut().for_each(|i| replace_refs(i, found)),
        _ => {}
    }
}

/// The last segment of a URI, as a name.
fn name_of(uri: &str) -> String {
    uri.rsplit(['/', ':'])
        .find(|s| !s.is_empty())
        .unwrap_or(uri)
        .to_owned()
}

/// A guess of the type from the media type.
fn kind_of(mime: Option<&str>) -> ArtifactKind {
    match mime.unwrap_or_default() {
        m if m.starts_with("image/") => ArtifactKind::Plot,
        "text/csv" | "application/x-parquet" | "application/json" => ArtifactKind::Data,
        "text/markdown" | "text/html" | "application/pdf" => ArtifactKind::Report,
        _ => ArtifactKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::testing::sqlite_url;

    async fn registry() -> (Artifacts, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&sqlite_url(&dir).await).await.unwrap();
        (Artifacts::new(store, dir.path().join("content")), dir)
    }

    fn inline(name: &str, bytes: &[u8]) -> NewArtifact {
        NewArtifact {
            name: name.into(),
            kind: Some(ArtifactKind::Model),
            content: Some(bytes.to_vec()),
            ..NewArtifact::default()
        }
    }

    #[tokio::test]
    async fn inline_content_is_kept_once_by_digest_and_read_back_checked() {
        let (reg, _dir) = registry().await;
        let a = reg.register(inline("m1", b"weights"), 1).await.unwrap();
        let b = reg.register(inline("m2", b"weights"), 2).await.unwrap();
        assert_eq!(a.storage_location, b.storage_location);
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(b"weights")));
        assert_eq!(a.checksum.as_deref(), Some(digest.as_str()));
        assert_eq!(a.size_bytes, Some(7));
        let (_, bytes) = reg.content(&a.id).await.unwrap();
        assert_eq!(bytes, b"weights");
        // Tampered content is refused on read, never served.
        std::fs::write(&a.storage_location, b"tampered").unwrap();
        let e = reg.content(&a.id).await.unwrap_err();
        assert!(matches!(e, ArtifactError::ChecksumMismatch { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_wrong_checksum_or_unknown_dependency_registers_nothing() {
        let (reg, dir) = registry().await;
        let mut a = inline("m", b"x");
        a.checksum = Some(format!("sha256:{}", "0".repeat(64)));
        let e = reg.register(a, 1).await.unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        let file = dir.path().join("ext.bin");
        std::fs::write(&file, b"external").unwrap();
        let ext = NewArtifact {
            name: "ext".into(),
            storage_location: Some(file.display().to_string()),
            checksum: Some(format!("sha256:{}", "1".repeat(64))),
            ..NewArtifact::default()
        };
        assert!(matches!(
            reg.register(ext, 1).await,
            Err(ArtifactError::ChecksumMismatch { .. })
        ));
        let mut orphan = inline("o", b"y");
        orphan.dependencies = vec!["nope".into()];
        let e = reg.register(orphan, 1).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown artifact `nope`; `artifacts list` shows the registered ones"
        );
        let bad = NewArtifact {
            checksum: Some("md5:abc".into()),
            ..inline("b", b"z")
        };
        assert!(matches!(
            reg.register(bad, 1).await,
            Err(ArtifactError::BadChecksum(_))
        ));
        assert_eq!(reg.store().artifact_count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn references_resolve_to_descriptors_and_lineage_walks_both_ways() {
        let (reg, _dir) = registry().await;
        let model = reg.register(inline("model", b"w"), 1).await.unwrap();
        let mut payload = json!({"model": format!("artifact://{}", model.id), "n": 3,
            "also": [format!("$artifacts.{}", model.id)]});
        let ids = reg.resolve(&mut payload).await.unwrap();
        assert_eq!(ids, std::slice::from_ref(&model.id));
        assert_eq!(payload["model"]["name"], "model");
        assert_eq!(payload["also"][0]["id"], json!(model.id));
        let mut dangling = json!({"m": "artifact://missing"});
        assert!(matches!(
            reg.resolve(&mut dangling).await,
            Err(ArtifactError::Unknown(id)) if id == "missing"
        ));
        let mut report = inline("report", b"r");
        report.dependencies = ids;
        let report = reg.register(report, 2).await.unwrap();
        let mut summary = inline("summary", b"s");
        summary.dependencies = vec![report.id.clone()];
        let summary = reg.register(summary, 3).await.unwrap();
        let up = reg.lineage(&summary.id).await.unwrap();
        let names: Vec<_> = up.ancestors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["report", "model"]);
        let down = reg.lineage(&model.id).await.unwrap();
        let names: Vec<_> = down.descendants.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["report", "summary"]);
    }

    #[tokio::test]
    async fn a_results_embedded_resources_and_links_become_artifacts() {
        let (reg, _dir) = registry().await;
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [
                {"type": "text", "text": "done"},
                {"type": "resource", "resource": {"uri": "file:///out/plot.png", "mimeType": "image/png", "blob": "aGVsbG8="}},
                {"type": "resource_link", "uri": "s3://bucket/model.bin", "name": "model.bin"}
            ]
        }))
        .unwrap();
        let provenance = NewArtifact {
            job_id: Some("j1".into()),
            ..NewArtifact::default()
        };
        let made = reg
            .register_from_result(&result, &provenance, 5)
            .await
            .unwrap();
        assert_eq!(made.len(), 2);
        assert_eq!(made[0].name, "plot.png");
        assert_eq!(made[0].kind, ArtifactKind::Plot);
        assert_eq!(made[0].size_bytes, Some(5));
        assert_eq!(made[1].storage_location, "s3://bucket/model.bin");
        assert!(made.iter().all(|a| a.job_id.as_deref() == Some("j1")));
        let (_, bytes) = reg.content(&made[0].id).await.unwrap();
        assert_eq!(bytes, b"hello");
    }
}
