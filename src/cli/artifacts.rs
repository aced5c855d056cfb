//! `artifacts`: list, show, lineage, get. They read the store (and the content directory) that
//! every instance on the config shares.

use std::{path::Path, path::PathBuf, process::ExitCode};

use serde_json::json;

use super::{Failure, jobs::local, output};
use crate::{
    report::{ArtifactKind, ArtifactReport},
    store::ArtifactFilter,
};

/// `artifacts` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Artifacts, newest first.
    List {
        /// Only of this type (model, plot, report, log, metrics, data, config, other).
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Only produced by this job.
        #[arg(long)]
        job: Option<String>,
        /// Only with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One artifact's descriptor and provenance.
    Show {
        /// The artifact id.
        id: String,
    },
    /// What an artifact was made from, and what was made from it.
    Lineage {
        /// The artifact id.
        id: String,
    },
    /// An artifact's content (checked against its checksum), to stdout or a file.
    Get {
        /// The artifact id.
        id: String,
        /// Write it here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// Runs one verb.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let (_, artifacts) = local(path).await?;
    let json = args.json;
    let outcome = async {
        match args.verb {
            Verb::List {
                kind,
                job,
                tag,
                limit,
            } => {
                let kind = kind
                    .map(|k| {
                        ArtifactKind::parse(&k).ok_or_else(|| Failure {
                            code: 2,
                            message: format!("unknown artifact type `{k}`"),
                        })
                    })
                    .transpose()?;
                let filter = ArtifactFilter {
                    kind,
                    job_id: job,
                    tag,
                    limit,
                    ..ArtifactFilter::default()
                };
                let list = artifacts.list(&filter).await?;
                if json {
                    output::json(&json!({"artifacts": list}));
                } else if list.is_empty() {
                    output::out("no artifacts");
                } else {
                    output::out(&format!(
                        "{:36}  {:8}  {:24}  {:>10}  JOB",
                        "ID", "TYPE", "NAME", "BYTES"
                    ));
                    for a in &list {
                        output::out(&line(a));
                    }
                }
            }
            Verb::Show { id } => {
                let a = artifacts.get(&id).await?;
                if json {
                    output::json(&a);
                } else {
                    output::out(&describe(&a));
                }
            }
            Verb::Lineage { id } => {
                let l = artifacts.lineage(&id).await?;
                if json {
                    output::json(&l);
                } else {
                    output::out(&format!("{} ({})", l.artifact.name, l.artifact.id));
                    output::out("made from:");
                    for a in &l.ancestors {
                        output::out(&format!("  {}", line(a)));
                    }
                    output::out("used by:");
                    for a in &l.descendants {
                        output::out(&format!("  {}", line(a)));
                    }
                }
            }
            Verb::Get { id, output: file } => {
                let (_, bytes) = artifacts.content(&id).await?;
                match file {
                    Some(f) => {
                        std::fs::write(&f, &bytes).map_err(|e| Failure {
                            code: 1,
                            message: format!("cannot write {}: {e}", f.display()),
                        })?;
                        output::note(&format!("{} bytes written to {}", bytes.len(), f.display()));
                    }
                    None => {
                        use std::io::Write;
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&bytes);
                    }
                }
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    }
    .await;
    artifacts.store().close().await;
    outcome.map_err(|e| match e.downcast::<crate::artifacts::ArtifactError>() {
        Ok(a) => Failure {
            code: 1,
            message: a.to_string(),
        }
        .into(),
        Err(e) => e,
    })
}

fn line(a: &ArtifactReport) -> String {
    format!(
        "{:36}  {:8}  {:24}  {:>10}  {}",
        a.id,
        a.kind.as_str(),
        a.name,
        a.size_bytes.map_or("-".into(), |n| n.to_string()),
        a.job_id.as_deref().unwrap_or("-")
    )
}

fn describe(a: &ArtifactReport) -> String {
    let mut out = format!("{} ({}, {})\n", a.name, a.kind, a.id);
    let mut field = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push_str(&format!("  {k:16} {v}\n"));
        }
    };
    field("location", Some(a.storage_location.clone()));
    field("size", a.size_bytes.map(|n| format!("{n} bytes")));
    field("checksum", a.checksum.clone());
    field("description", a.description.clone());
    field("tags", (!a.tags.is_empty()).then(|| a.tags.join(", ")));
    field("job", a.job_id.clone());
    field("service", a.service_id.clone());
    field(
        "run",
        a.run_id.clone().map(|r| match &a.step {
            Some(s) => format!("{r} (step {s})"),
            None => r,
        }),
    );
    field(
        "made from",
        (!a.dependencies.is_empty()).then(|| a.dependencies.join(", ")),
    );
    out
}
