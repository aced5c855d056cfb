//! Artifacts as MCP resources: every artifact is `artifact://<id>` in `resources/list`, and
//! `resources/read` gives its content (text or base64 blob), or its descriptor when the content
//! lives outside this machine.

use base64::Engine as _;
use rmcp::{
    ErrorData as McpError,
    model::{ReadResourceResult, Resource, ResourceContents},
};

use crate::{
    artifacts::{ArtifactError, Artifacts, SCHEME},
    error::{ItemKind, RouteError},
    store::ArtifactFilter,
};

/// How many artifacts `resources/list` shows (newest first); `artifact_list` pages the rest.
const LISTED: u32 = 1_000;

/// The newest artifacts as resources.
pub async fn list(artifacts: &Artifacts) -> Vec<Resource> {
    let filter = ArtifactFilter {
        limit: LISTED,
        ..ArtifactFilter::default()
    };
    match artifacts.list(&filter).await {
        Ok(list) => list
            .into_iter()
            .map(|a| {
                let mut r = Resource::new(format!("{SCHEME}{}", a.id), a.name);
                r.description = Some(
                    a.description
                        .unwrap_or_else(|| format!("{} artifact", a.kind)),
                );
                r.mime_type = a.mime_type;
                r.size = a.size_bytes;
                r
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "artifacts not listed as resources");
            Vec::new()
        }
    }
}

/// Reads `artifact://<id>`.
pub async fn read(
    artifacts: &Artifacts,
    uri: &str,
    id: &str,
) -> Result<ReadResourceResult, McpError> {
    let contents = match artifacts.content(id).await {
        Ok((a, bytes)) => {
            let mime = a.mime_type.clone();
            let textual = mime
                .as_deref()
                .is_none_or(|m| m.starts_with("text/") || m.contains("json"));
            match String::from_utf8(bytes) {
                Ok(text) if textual => ResourceContents::TextResourceContents {
                    uri: uri.to_owned(),
                    mime_type: mime,
                    text,
                    meta: None,
                },
                Ok(text) => blob(uri, mime, text.as_bytes()),
                Err(e) => blob(uri, mime, e.as_bytes()),
            }
        }
        Err(ArtifactError::Unreadable { .. }) => {
            // Stored elsewhere: the descriptor says where.
            let a = artifacts.get(id).await.map_err(internal)?;
            ResourceContents::TextResourceContents {
                uri: uri.to_owned(),
                mime_type: Some("application/json".into()),
                text: serde_json::to_string_pretty(&a).unwrap_or_default(),
                meta: None,
            }
        }
        Err(ArtifactError::Unknown(_)) => {
            return Err(RouteError::Unknown {
                kind: ItemKind::Resource,
                name: uri.to_owned(),
            }
            .into());
        }
        Err(e) => return Err(internal(e)),
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

fn blob(uri: &str, mime: Option<String>, bytes: &[u8]) -> ResourceContents {
    ResourceContents::BlobResourceContents {
        uri: uri.to_owned(),
        mime_type: mime,
        blob: base64::engine::general_purpose::STANDARD.encode(bytes),
        meta: None,
    }
}

fn internal(e: ArtifactError) -> McpError {
    McpError::internal_error(e.to_string(), None)
}
