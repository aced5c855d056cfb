//! `list_models`: the answer (the tool takes no arguments).

use serde::{Deserialize, Serialize};

/// One model.
// Not the shapes' `ModelEntry`: there `vendor` is required, and this type has always accepted
// an entry without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The vendor's model id.
    pub id: String,
    /// The vendor.
    #[serde(default)]
    pub vendor: Option<String>,
}

/// The `list_models` answer, of which the client hands out the list.
#[derive(Deserialize)]
pub(crate) struct ModelList {
    pub(crate) models: Vec<Model>,
}
