//! Arguments that decode but cannot be served.

use std::fmt;

/// Arguments that are well-formed JSON of the right types but unusable, such as an empty
/// `query` or `num_results` past [`crate::search::MAX_RESULTS`]. Servers report it like a schema
/// mismatch (a JSON-RPC invalid-params error), since no vendor could serve the call either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidArgs(String);

impl InvalidArgs {
    /// An error saying `reason`, a sentence that names the argument at fault.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// The reason, as given to [`InvalidArgs::new`].
    pub fn reason(&self) -> &str {
        &self.0
    }
}

// Written out rather than derived with thiserror: this crate keeps to serde and schemars, since
// the client SDK depends on it.
impl fmt::Display for InvalidArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidArgs {}
