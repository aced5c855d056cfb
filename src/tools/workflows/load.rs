//! Loading workflow files with what the config and (when known) the running servers say exists.

use super::PREFIX;

/// What runs now, for checking steps against it: per running server, its own tool names; and
/// the host-facing names.
#[derive(Debug, Default)]
pub struct Live {
    /// Server id → its tools, for servers that are running.
    pub tools: std::collections::HashMap<String, Vec<String>>,
    /// Every host-facing tool name.
    pub host_names: Vec<String>,
}

impl Live {
    /// From the dispatcher's catalog and the host-facing list.
    pub fn of(catalog: &crate::dispatch::Catalog, host_names: Vec<String>) -> Self {
        Self {
            tools: catalog
                .servers
                .iter()
                .filter(|s| s.takes_calls())
                .map(|s| {
                    (
                        s.id.to_string(),
                        s.tools.iter().map(|t| t.name.to_string()).collect(),
                    )
                })
                .collect(),
            host_names,
        }
    }

    /// From a running instance's capabilities report (what `workflow validate` asks).
    pub fn from_report(report: &crate::report::CapabilitiesReport) -> Self {
        let mut host_names = report.orchestrator.clone();
        host_names.extend(report.unified.keys().cloned());
        let mut tools = std::collections::HashMap::new();
        for (id, s) in &report.servers {
            host_names.extend(s.tools.iter().map(|t| t.name.clone()));
            if s.state.serves_calls() {
                tools.insert(id.clone(), s.tools.iter().map(|t| t.tool.clone()).collect());
            }
        }
        Self { tools, host_names }
    }
}

/// Loads the workflows dir of `config`, checking steps against the config's servers and
/// capabilities and, when given, against what runs now. `check`, `workflow validate`, start-up
/// and every reload run exactly this.
pub fn load(config: &crate::config::Config, live: Option<&Live>) -> crate::workflow::Loaded {
    load_files(config, live, &[])
}

/// Like [`load`], for the given files instead of the dir (`workflow validate FILE…`).
pub fn load_files(
    config: &crate::config::Config,
    live: Option<&Live>,
    files: &[std::path::PathBuf],
) -> crate::workflow::Loaded {
    let servers = |id: &str| config.server(id).is_some();
    let capability = |c: &str| {
        config
            .servers
            .iter()
            .any(|s| s.capabilities.iter().any(|x| x == c))
    };
    let tool = |server: &str, tool: &str| -> Option<bool> {
        let tools = live?.tools.get(server)?;
        Some(tools.iter().any(|t| t == tool))
    };
    let host_tool = |name: &str| {
        name.starts_with(PREFIX) || live.is_some_and(|l| l.host_names.iter().any(|x| x == name))
    };
    let world = crate::workflow::World {
        servers: &servers,
        capability: &capability,
        tool: live.map(|_| &tool as &dyn Fn(&str, &str) -> Option<bool>),
        host_tool: live.map(|_| &host_tool as &dyn Fn(&str) -> bool),
    };
    if files.is_empty() {
        return crate::workflow::load_dir(&config.workflows_dir, &world);
    }
    let mut loaded = crate::workflow::Loaded {
        definitions: Vec::new(),
        errors: Vec::new(),
    };
    for file in files {
        let parsed = std::fs::read_to_string(file)
            .map_err(|e| crate::workflow::WorkflowError {
                file: file.clone(),
                at: String::new(),
                message: e.to_string(),
            })
            .and_then(|text| crate::workflow::parse(file, &text, &world));
        match parsed {
            Ok(d) => loaded.definitions.push(d),
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded
}
