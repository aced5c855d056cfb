//! Reading definitions: one file's text (YAML or JSON by extension), a stored body, a directory.

use std::path::{Path, PathBuf};

use super::{Definition, WorkflowError, World, raw::RawDefinition, validate::validate};

/// Parses and validates one workflow file's text: `.json` is read as JSON, `.yaml`/`.yml` as
/// YAML (JSON is YAML too, but the JSON reader's messages are better for it).
pub fn parse(file: &Path, text: &str, world: &World<'_>) -> Result<Definition, WorkflowError> {
    let raw = match extension(file).as_deref() {
        Some("json") => from_json(file, text)?,
        Some("yaml" | "yml") => from_yaml(file, text)?,
        _ => {
            return Err(error(
                file,
                "",
                "not a workflow file: use the extension .yaml, .yml or .json",
            ));
        }
    };
    validate(file, raw, world)
}

/// Re-reads a definition the store kept (its canonical body), accepting any server and tool: it
/// was checked when loaded, and a run pinned to it must still resume if the config changed.
/// The body must still hash to `sha256`, so a run never resumes against something else.
pub fn parse_stored(sha256: &str, body: &str) -> Result<Definition, WorkflowError> {
    let file = PathBuf::from(format!("<store:{sha256}>"));
    let def = validate(&file, from_json(&file, body)?, &World::permissive())?;
    if def.sha256 != sha256 {
        return Err(error(
            &file,
            "",
            format!(
                "the stored body hashes to {}, not to the sha256 it is stored under",
                def.sha256
            ),
        ));
    }
    Ok(def)
}

/// What a directory of workflow files gave.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The valid definitions, sorted by name.
    pub definitions: Vec<Definition>,
    /// One error per file that is not a valid definition (or repeats a name).
    pub errors: Vec<WorkflowError>,
}

/// Loads every `*.yaml`, `*.yml` and `*.json` in `dir` (not below it), in file-name order. A
/// missing directory has no workflows; a file that fails is reported and the others still load;
/// a name defined twice keeps the first file's definition and reports the second naming both.
pub fn load_dir(dir: &Path, world: &World<'_>) -> Loaded {
    let mut loaded = Loaded::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return loaded,
        Err(e) => {
            loaded
                .errors
                .push(error(dir, "", format!("cannot read the directory: {e}")));
            return loaded;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(extension(p).as_deref(), Some("json" | "yaml" | "yml")) && p.is_file())
        .collect();
    files.sort();

    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                loaded
                    .errors
                    .push(error(&file, "", format!("cannot read: {e}")));
                continue;
            }
        };
        match parse(&file, &text, world) {
            Ok(def) => {
                if let Some(first) = loaded.definitions.iter().find(|d| d.name == def.name) {
                    loaded.errors.push(error(
                        &file,
                        "name",
                        format!(
                            "workflow `{}` is already defined in {}; names must be unique",
                            def.name,
                            first.file.display()
                        ),
                    ));
                } else {
                    loaded.definitions.push(def);
                }
            }
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded.definitions.sort_by(|a, b| a.name.cmp(&b.name));
    loaded
}

fn extension(file: &Path) -> Option<String> {
    file.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn error(file: &Path, at: &str, message: impl Into<String>) -> WorkflowError {
    WorkflowError {
        file: file.to_owned(),
        at: at.to_owned(),
        message: message.into(),
    }
}

fn from_json(file: &Path, text: &str) -> Result<RawDefinition, WorkflowError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = serde_path_to_error::deserialize(&mut de).map_err(|e| shape(file, e))?;
    de.end()
        .map_err(|e| error(file, "", format!("invalid JSON: {e}")))?;
    Ok(raw)
}

fn from_yaml(file: &Path, text: &str) -> Result<RawDefinition, WorkflowError> {
    serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text))
        .map_err(|e| shape(file, e))
}

/// A serde error at its key path (`steps[0].dependsOnn`); "" for the whole file. The crate
/// writes `.` for the root and `?` for a key it could not read (a syntax error): both are left
/// out, so the path is the last key known.
fn shape<E: std::fmt::Display>(file: &Path, e: serde_path_to_error::Error<E>) -> WorkflowError {
    let path = e.path().to_string();
    let at = path.trim_end_matches('?').trim_end_matches('.');
    let message = e.inner().to_string();
    // The YAML reader puts the path it knows in front of its message; the key is said already.
    let message = match message.split_once(": ") {
        Some((p, rest)) if !p.is_empty() && !p.contains(' ') && at.starts_with(p) => rest,
        _ => &message,
    };
    error(file, at, message)
}
