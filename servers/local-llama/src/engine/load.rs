//! Loading a GGUF file, with errors that name the file and the variable that points at it.

use std::path::{Path, PathBuf};

use llama_cpp_2::{
    llama_backend::LlamaBackend,
    model::{LlamaModel, params::LlamaModelParams},
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file does not exist or cannot be read.
    #[error("{var}: cannot read the model file {path}: {reason}")]
    Unreadable {
        /// The variable naming the file.
        var: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's explanation.
        reason: String,
    },
    /// llama.cpp refused the file (not a GGUF, truncated, unsupported architecture).
    #[error(
        "{var}: {path} is not a usable GGUF model (llama.cpp could not load it; is the file complete?)"
    )]
    Invalid {
        /// The variable naming the file.
        var: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The worker thread or llama.cpp itself failed.
    #[error("{0}")]
    Worker(String),
}

/// GGUF files start with these four bytes.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// Loads the model at `path` (named by `var`) on the CPU.
pub fn model(
    backend: &LlamaBackend,
    path: &Path,
    var: &'static str,
) -> Result<LlamaModel, LoadError> {
    let unreadable = |reason: String| LoadError::Unreadable {
        var,
        path: path.to_owned(),
        reason,
    };
    let mut head = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    // Checking the magic first gives a clear message for the common mistake (wrong file)
    // rather than whatever llama.cpp logs.
    std::io::Read::read_exact(&mut file, &mut head).map_err(|_| LoadError::Invalid {
        var,
        path: path.to_owned(),
    })?;
    if &head != GGUF_MAGIC {
        return Err(LoadError::Invalid {
            var,
            path: path.to_owned(),
        });
    }
    LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|_| {
        LoadError::Invalid {
            var,
            path: path.to_owned(),
        }
    })
}
