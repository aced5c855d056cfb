//! What a measured call goes to: the child kind, the path it takes (direct, through the
//! orchestrator, through the peer), and the tool names each path exposes.

use anyhow::{Result, bail};

/// What a call goes through.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Via {
    Direct,
    /// `router-bench-relay` in front of its own child: the floor any aggregator hop costs.
    Floor,
    /// A second orchestrator whose children are pinned `"protocol": "legacy"`: a dual-era child
    /// is then connected in the handshake era, and its calls take the forwarding fast path.
    Legacy,
    /// The orchestrator with its default config (`"protocol": "auto"`): a dual-era child such as
    /// the fixture is connected in the 2026-07-28 era, and its calls take the typed path.
    Orchestrator,
    Peer,
}

impl Via {
    pub fn label(self) -> &'static str {
        match self {
            Via::Direct => "direct",
            Via::Floor => "floor",
            Via::Legacy => "orchestrator_legacy",
            Via::Orchestrator => "orchestrator",
            Via::Peer => "fastmcp",
        }
    }
}

/// The child kinds measured in the latency rows.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    Fixture,
    Everything,
}

impl Kind {
    /// The child's id in the configs, the logs and the JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Fixture => "fixture",
            Kind::Everything => "everything",
        }
    }

    /// The child's name in the report's rows.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Fixture => "Rust fixture `echo`",
            Kind::Everything => "server-everything `echo`",
        }
    }
}

/// Every child id has at least one tool under its prefix (`id__tool` for us, `id_tool` for
/// fastmcp).
pub fn all_children_listed(ids: &[&str]) -> impl Fn(&[String]) -> bool {
    let prefixes: Vec<String> = ids.iter().map(|id| format!("{id}_")).collect();
    move |names: &[String]| {
        prefixes
            .iter()
            .all(|p| names.iter().any(|n| n.starts_with(p.as_str())))
    }
}

/// The host-visible name of child `id`'s tool `tool` on a target.
pub fn tool_name(names: &[String], via: Via, id: &str, tool: &str) -> Result<String> {
    let want = match via {
        Via::Direct | Via::Floor => tool.to_owned(),
        Via::Legacy | Via::Orchestrator => format!("{id}__{tool}"),
        Via::Peer => format!("{id}_{tool}"),
    };
    if names.contains(&want) {
        Ok(want)
    } else {
        bail!("{} has no tool {want}; it lists {names:?}", via.label())
    }
}
