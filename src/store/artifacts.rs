//! Artifacts: registering one with its dependencies, reading, listing with filters, and the
//! edges lineage walks. Content itself lives outside the database (see `crate::artifacts`).

use sqlx::any::AnyRow;

use super::{Store, StoreError, sql};
use crate::report::{ArtifactKind, ArtifactReport};

const ARTIFACT_COLUMNS: &str = "id, name, kind, description, storage_location, size_bytes, \
     checksum, mime_type, tags, metadata, created_at, job_id, service_id, run_id, step";

/// Which artifacts [`Store::artifacts`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactFilter {
    /// Only of this type.
    pub kind: Option<ArtifactKind>,
    /// Only produced by this job.
    pub job_id: Option<String>,
    /// Only produced by this workflow run.
    pub run_id: Option<String>,
    /// Only carrying this tag.
    pub tag: Option<String>,
    /// At most this many (0: the default, 100).
    pub limit: u32,
}

impl Store {
    /// Registers an artifact and its dependencies, in one transaction.
    pub async fn put_artifact(&self, a: &ArtifactReport) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO artifacts ({ARTIFACT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&a.id)
        .bind(&a.name)
        .bind(a.kind.as_str())
        .bind(a.description.as_deref())
        .bind(&a.storage_location)
        .bind(a.size_bytes.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
        .bind(a.checksum.as_deref())
        .bind(a.mime_type.as_deref())
        .bind(sql::json_text(&serde_json::Value::from(a.tags.clone())))
        .bind(sql::json_text(&a.metadata))
        .bind(a.created_at)
        .bind(a.job_id.as_deref())
        .bind(a.service_id.as_deref())
        .bind(a.run_id.as_deref())
        .bind(a.step.as_deref())
        .execute(&mut *tx)
        .await?;
        for dep in &a.dependencies {
            sqlx::query(
                "INSERT INTO artifact_deps (artifact_id, depends_on) VALUES ($1, $2) \
                 ON CONFLICT (artifact_id, depends_on) DO NOTHING",
            )
            .bind(&a.id)
            .bind(dep)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One artifact, with its dependencies.
    pub async fn artifact(&self, id: &str) -> Result<Option<ArtifactReport>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut a) = row.as_ref().map(artifact_report).transpose()? else {
            return Ok(None);
        };
        a.dependencies = self.artifact_parents(id).await?;
        Ok(Some(a))
    }

    /// Artifacts matching the filter, newest first, with their dependencies.
    pub async fn artifacts(&self, f: &ArtifactFilter) -> Result<Vec<ArtifactReport>, StoreError> {
        let mut filter = sql::Where::default();
        if let Some(k) = f.kind {
            filter.add("kind", "=", k.as_str());
        }
        if let Some(j) = &f.job_id {
            filter.add("job_id", "=", j.as_str());
        }
        if let Some(r) = &f.run_id {
            filter.add("run_id", "=", r.as_str());
        }
        if let Some(t) = &f.tag {
            // A coarse match on the JSON text; the exact test follows in Rust.
            filter.add(
                "tags",
                "LIKE",
                format!("%{}%", serde_json::Value::from(t.as_str())),
            );
        }
        let limit = if f.limit == 0 { 100 } else { f.limit };
        let text = format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts {} \
             ORDER BY created_at DESC, id DESC LIMIT ${}",
            filter.sql(),
            filter.next()
        );
        let query = filter.bind(sqlx::query(&text));
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut a = artifact_report(row)?;
            if f.tag.as_ref().is_some_and(|t| !a.tags.contains(t)) {
                continue;
            }
            a.dependencies = self.artifact_parents(&a.id).await?;
            out.push(a);
        }
        Ok(out)
    }

    /// The ids `id` was made from.
    pub async fn artifact_parents(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT depends_on FROM artifact_deps WHERE artifact_id = $1 ORDER BY depends_on",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| sql::text(r, "depends_on")).collect()
    }

    /// The ids made from `id`.
    pub async fn artifact_children(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT artifact_id FROM artifact_deps WHERE depends_on = $1 ORDER BY artifact_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| sql::text(r, "artifact_id")).collect()
    }

    /// The ids of the artifacts a job produced, oldest first.
    pub async fn artifact_ids_of_job(&self, job_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM artifacts WHERE job_id = $1 ORDER BY created_at ASC, id ASC",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| sql::text(r, "id")).collect()
    }

    /// How many artifacts are registered.
    pub async fn artifact_count(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM artifacts")
            .fetch_one(&self.pool)
            .await?;
        sql::count(sql::int(&row, "n")?, "the artifact count")
    }
}

fn artifact_report(row: &AnyRow) -> Result<ArtifactReport, StoreError> {
    let id = sql::text(row, "id")?;
    let whose = format!("artifact {id}");
    let tags = sql::json(row, "tags", &whose)?;
    Ok(ArtifactReport {
        name: sql::text(row, "name")?,
        kind: sql::parsed(row, "kind", &whose, ArtifactKind::parse)?,
        description: sql::opt_text(row, "description")?,
        storage_location: sql::text(row, "storage_location")?,
        size_bytes: sql::opt_int(row, "size_bytes")?
            .map(|n| sql::count(n, "a size"))
            .transpose()?,
        checksum: sql::opt_text(row, "checksum")?,
        mime_type: sql::opt_text(row, "mime_type")?,
        tags: serde_json::from_value(tags).map_err(|e| StoreError::Corrupt {
            what: format!("{whose}: tags is not a list of strings ({e})"),
        })?,
        metadata: sql::json(row, "metadata", &whose)?,
        created_at: sql::int(row, "created_at")?,
        job_id: sql::opt_text(row, "job_id")?,
        service_id: sql::opt_text(row, "service_id")?,
        run_id: sql::opt_text(row, "run_id")?,
        step: sql::opt_text(row, "step")?,
        dependencies: Vec::new(),
        id,
    })
}
