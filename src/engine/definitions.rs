//! The loaded definitions, by name, and the files that did not load.

use std::{collections::BTreeMap, sync::Arc};

use crate::workflow::{Definition, Loaded};

/// The loaded definitions.
#[derive(Default)]
pub struct Definitions {
    by_name: BTreeMap<String, Arc<Definition>>,
    errors: Vec<String>,
}

impl Definitions {
    /// From a load of the workflows dir.
    pub fn new(loaded: Loaded) -> Self {
        Self {
            by_name: loaded
                .definitions
                .into_iter()
                .map(|d| (d.name.clone(), Arc::new(d)))
                .collect(),
            errors: loaded.errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// The definition called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Definition>> {
        self.by_name.get(name)
    }

    /// Every definition, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Definition>> {
        self.by_name.values()
    }

    /// Files that did not validate, as `file: key: message`.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
