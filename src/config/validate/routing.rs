//! `routing`: each unified tool's vendor chain, explicit or from the servers' `tools` lists.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Validator;
use crate::config::{
    ConfigError,
    types::{ServerSpec, UnifiedTool},
};

impl Validator<'_> {
    pub(super) fn routing(
        &self,
        raw: Map<String, Value>,
        servers: &[ServerSpec],
    ) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
        let mut routing = BTreeMap::new();
        for (tool, chain) in raw {
            let at = format!("routing.{tool}");
            if UnifiedTool::from_name(&tool).is_none() {
                return Err(self.invalid(&at, UnifiedTool::unknown(&tool)));
            }
            let chain: Vec<String> = self.parse(&at, chain)?;
            for id in &chain {
                if !servers.iter().any(|s| &s.id == id) {
                    return Err(
                        self.invalid(&at, format!("`{id}` is not a server defined in this file"))
                    );
                }
            }
            routing.insert(tool, chain);
        }
        // Unrouted unified tools default to config order of the servers that declare them.
        for tool in UnifiedTool::NAMES {
            if !routing.contains_key(tool) {
                let chain: Vec<String> = servers
                    .iter()
                    .filter(|s| s.tools.iter().any(|t| t == tool))
                    .map(|s| s.id.clone())
                    .collect();
                if !chain.is_empty() {
                    routing.insert(tool.to_owned(), chain);
                }
            }
        }
        Ok(routing)
    }
}
