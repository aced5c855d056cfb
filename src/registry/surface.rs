//! The merged surface the host sees: every running child's tools and prompts under
//! `<server>__<name>`, their resources under their own URIs, and the route back for each.
//!
//! A surface is built whole from the children's published statuses and swapped in atomically, so
//! a request never sees half of a change. A child that is not running contributes nothing: its
//! tools leave the list rather than fail it.

use std::{
    collections::{BTreeSet, HashMap, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    sync::Arc,
};

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

use crate::{naming::Namer, supervisor::ChildStatus};

/// Where a host-facing name leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The child's id.
    pub server: Arc<str>,
    /// The child's own name for the tool or prompt.
    pub name: String,
}

/// One consistent view of everything the host can use.
#[derive(Debug, Default)]
pub struct Surface {
    /// Child tools, renamed, in config order of servers then the child's order.
    pub tools: Arc<Vec<Tool>>,
    /// Host tool name → child.
    pub tool_routes: HashMap<String, Route>,
    /// Child prompts, renamed.
    pub prompts: Vec<Prompt>,
    /// Host prompt name → child.
    pub prompt_routes: HashMap<String, Route>,
    /// Child resources, URIs untouched (tool results refer to them).
    pub resources: Vec<Resource>,
    /// Resource URI → the child that listed it first.
    pub resource_owners: HashMap<String, Arc<str>>,
    /// Child resource templates.
    pub templates: Vec<ResourceTemplate>,
    /// Literal prefix of each template (up to its first `{`) → child, longest first.
    pub template_owners: Vec<(String, Arc<str>)>,
    /// Fingerprints of the three lists, to tell whether a rebuild changed anything.
    pub fingerprint: Fingerprint,
    /// Host tool name → server, for tools withheld because their definition changed since it
    /// was pinned (`pin_tools: "withhold"`).
    pub withheld: HashMap<String, Arc<str>>,
    /// Renames and collisions noticed while building.
    pub warnings: Vec<String>,
}

/// Hashes of the host-visible lists.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Of the tools list.
    pub tools: u64,
    /// Of the prompts list.
    pub prompts: u64,
    /// Of the resources and templates lists.
    pub resources: u64,
}

/// Longest description passed on; a child could otherwise flood the host's context.
const MAX_DESCRIPTION: usize = 8 * 1024;

impl Surface {
    /// Builds the surface from `(id, status)` pairs in config order. `reserved` names (the
    /// orchestrator's own tools) are never handed to a child's tool.
    #[cfg(test)]
    pub fn build<'a>(
        children: impl IntoIterator<Item = (&'a Arc<str>, &'a ChildStatus)>,
        reserved: &[&str],
    ) -> Self {
        Self::build_with(
            children.into_iter().map(|(id, s)| (id, s, true)),
            reserved,
            &HashMap::new(),
        )
    }

    /// Like [`Surface::build`], with each child's namespacing choice and the child tool names
    /// to withhold per server.
    pub fn build_with<'a>(
        children: impl IntoIterator<Item = (&'a Arc<str>, &'a ChildStatus, bool)>,
        reserved: &[&str],
        withheld: &HashMap<Arc<str>, BTreeSet<String>>,
    ) -> Self {
        let mut s = Surface::default();
        let mut tool_namer = Namer::with_reserved(reserved.iter().copied());
        let mut prompt_namer = Namer::default();
        for (id, status, namespaced) in children {
            if !status.state.serves_calls() {
                continue;
            }
            let withhold = withheld.get(id);
            for tool in status.tools.iter() {
                let name = tool_namer.name_in(id, &tool.name, namespaced);
                if withhold.is_some_and(|w| w.contains(tool.name.as_ref())) {
                    s.withheld.insert(name, id.clone());
                    continue;
                }
                let mut t = tool.clone();
                t.name = name.clone().into();
                t.description = t.description.map(|d| clean_text(&d).into());
                Arc::make_mut(&mut s.tools).push(t);
                s.tool_routes.insert(
                    name,
                    Route {
                        server: id.clone(),
                        name: tool.name.to_string(),
                    },
                );
            }
            for prompt in status.prompts.iter() {
                let name = prompt_namer.name_in(id, &prompt.name, namespaced);
                let mut p = prompt.clone();
                p.name = name.clone();
                p.description = p.description.map(|d| clean_text(&d));
                s.prompts.push(p);
                s.prompt_routes.insert(
                    name,
                    Route {
                        server: id.clone(),
                        name: prompt.name.clone(),
                    },
                );
            }
            for r in status.resources.iter() {
                match s.resource_owners.get(&r.uri) {
                    Some(owner) => s.warnings.push(format!(
                        "resource `{}` of server `{id}` is hidden: server `{owner}` lists the same URI",
                        r.uri
                    )),
                    None => {
                        s.resource_owners.insert(r.uri.clone(), id.clone());
                        s.resources.push(r.clone());
                    }
                }
            }
            for t in status.resource_templates.iter() {
                let prefix = t
                    .uri_template
                    .split('{')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                s.template_owners.push((prefix, id.clone()));
                s.templates.push(t.clone());
            }
        }
        s.template_owners
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        s.warnings.extend(tool_namer.warnings);
        s.warnings.extend(prompt_namer.warnings);
        s.fingerprint = Fingerprint {
            tools: hash_json(&s.tools),
            prompts: hash_json(&s.prompts),
            resources: hash_json(&(&s.resources, &s.templates)),
        };
        s
    }

    /// The child that should answer a read of `uri`: the lister of that exact URI, else the owner
    /// of the most specific matching template.
    pub fn resource_owner(&self, uri: &str) -> Option<&Arc<str>> {
        self.resource_owners.get(uri).or_else(|| {
            self.template_owners
                .iter()
                .find(|(prefix, _)| !prefix.is_empty() && uri.starts_with(prefix.as_str()))
                .map(|(_, id)| id)
        })
    }
}

/// Characters a reader cannot see but a model reads: control characters other than newline and
/// tab, bidi embedding/override/isolate marks, zero-width characters, and Unicode tag characters
/// (which spell out ASCII invisibly).
fn is_hidden_char(c: char) -> bool {
    let bidi =
        matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
    let invisible = matches!(
        c,
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{e0000}'..='\u{e007f}'
    );
    bidi || invisible || (c.is_control() && c != '\n' && c != '\t')
}

fn hash_json(v: &impl serde::Serialize) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(v).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Strips control characters (ANSI escapes, bidi overrides) that could hide instructions from a
/// person reading a tool description, and caps its length.
pub fn clean_text(s: &str) -> String {
    let mut out: String = s.chars().filter(|&c| !is_hidden_char(c)).collect();
    if out.len() > MAX_DESCRIPTION {
        let mut cut = MAX_DESCRIPTION;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::ServerState;

    fn tool(name: &str) -> Tool {
        Tool::new(
            name.to_owned(),
            format!("does {name}"),
            Arc::new(serde_json::Map::new()),
        )
    }

    fn status(state: ServerState, tools: &[&str]) -> ChildStatus {
        let mut s = ChildStatus::initial(state, vec![]);
        s.tools = Arc::new(tools.iter().map(|t| tool(t)).collect());
        s
    }

    #[test]
    fn tools_are_namespaced_and_routed() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let sa = status(ServerState::Running, &["echo", "sum"]);
        let sb = status(ServerState::Unhealthy, &["echo"]);
        let s = Surface::build([(&a, &sa), (&b, &sb)], &[]);
        let names: Vec<_> = s.tools.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names, ["a__echo", "a__sum", "b__echo"]);
        assert_eq!(
            s.tool_routes["b__echo"],
            Route {
                server: b.clone(),
                name: "echo".into()
            }
        );
    }

    #[test]
    fn down_children_contribute_nothing() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let sa = status(ServerState::Restarting, &["echo"]);
        let sb = status(ServerState::Running, &["echo"]);
        let s = Surface::build([(&a, &sa), (&b, &sb)], &[]);
        assert_eq!(s.tools.len(), 1);
        assert!(!s.tool_routes.contains_key("a__echo"));
    }

    #[test]
    fn fingerprint_changes_with_the_list_only() {
        let a: Arc<str> = "a".into();
        let s1 = Surface::build([(&a, &status(ServerState::Running, &["x"]))], &[]);
        let s2 = Surface::build([(&a, &status(ServerState::Running, &["x"]))], &[]);
        let s3 = Surface::build([(&a, &status(ServerState::Running, &["x", "y"]))], &[]);
        assert_eq!(s1.fingerprint, s2.fingerprint);
        assert_ne!(s1.fingerprint.tools, s3.fingerprint.tools);
        assert_eq!(s1.fingerprint.prompts, s3.fingerprint.prompts);
    }

    #[test]
    fn resources_keep_uris_and_first_lister_wins() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let mut sa = status(ServerState::Running, &[]);
        let mut sb = status(ServerState::Running, &[]);
        let r = |uri: &str| Resource::new(uri, "n");
        sa.resources = Arc::new(vec![r("file:///x")]);
        sb.resources = Arc::new(vec![r("file:///x"), r("mem://y")]);
        let s = Surface::build([(&a, &sa), (&b, &sb)], &[]);
        assert_eq!(s.resources.len(), 2);
        assert_eq!(s.resource_owner("file:///x"), Some(&a));
        assert_eq!(s.resource_owner("mem://y"), Some(&b));
        assert_eq!(s.warnings.len(), 1);
    }

    #[test]
    fn descriptions_are_cleaned() {
        assert_eq!(clean_text("ok\u{1b}[2Jhidden\u{202e}txt"), "ok[2Jhiddentxt");
        assert_eq!(
            clean_text("a\u{200b}b\u{e0041}\u{e0042}c\u{feff}\nd\te"),
            "abc\nd\te"
        );
        let long = "y".repeat(MAX_DESCRIPTION + 10);
        assert!(clean_text(&long).chars().count() <= MAX_DESCRIPTION + 1);
    }
}
