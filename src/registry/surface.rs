//! The merged surface the host sees: every running child's tools and prompts under
//! `<server>__<name>`, their resources and skills under their own URIs, and the route back for
//! each.
//!
//! A surface is built whole from the children's published statuses and swapped in atomically, so
//! a request never sees half of a change. A child that is not running contributes nothing: its
//! tools leave the list rather than fail it.

use std::{
    collections::{BTreeSet, HashMap, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    sync::Arc,
};

use rmcp::model::{
    MetaObject, Prompt, Resource, ResourceTemplate, SKILL_MD, Skill, SkillResources, Tool,
};

use crate::supervisor::CacheHints;
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
    /// Child skills (SEP-2640), URIs untouched, in config order of servers then the child's
    /// order; each tagged with its server under [`ORIGIN_META`].
    pub skills: Vec<Skill>,
    /// `SKILL.md` URI of a listed skill → the child serving it.
    pub skill_routes: HashMap<String, Arc<str>>,
    /// Every file a listed skill's manifest names (its `SKILL.md` included) → the child serving
    /// the skill.
    pub skill_files: HashMap<String, Arc<str>>,
    /// Directory of each listed skill (its `SKILL.md` URI without `SKILL.md`, so ending in `/`)
    /// → child, longest first: where unlisted files and subdirectories of a skill go.
    pub skill_roots: Vec<(String, Arc<str>)>,
    /// Fingerprints of the three lists, to tell whether a rebuild changed anything.
    pub fingerprint: Fingerprint,
    /// The caching hints every child on the surface gave its lists, combined (the shortest
    /// freshness; public only if all are): what the hosts' lists may say. `None` when some child
    /// gave none (a handshake-era child) or there is no child.
    pub cache_hints: Option<CacheHints>,
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
    /// Of the resources, templates and skills lists: skill files are resources, and SEP-2640
    /// has no list-changed notification of its own, so a skills change is announced as
    /// `notifications/resources/list_changed`.
    pub resources: u64,
}

/// Longest description passed on; a child could otherwise flood the host's context.
const MAX_DESCRIPTION: usize = 8 * 1024;

/// The `_meta` key naming the child a skill comes from. SEP-2640 wants a skill's origin visible
/// to the model; behind the orchestrator the host sees one server, so the origin is said here
/// (the skill's name and URI cannot carry it, see [`Surface::add_skill`]).
pub const ORIGIN_META: &str = "mcp-orchestrator/server";

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
        // `Some(None)`: no child yet; `None`: some child gave no hints.
        let mut hints: Option<Option<CacheHints>> = Some(None);
        for (id, status, namespaced) in children {
            // A restarting child's last good catalogue stays (its lists were kept).
            if !status.state.serves_calls() && !status.state.keeps_catalogue() {
                continue;
            }
            hints = match (hints, status.cache_hints) {
                (Some(None), Some(h)) => Some(Some(h)),
                (Some(Some(all)), Some(h)) => Some(Some(all.and(h))),
                _ => None,
            };
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
            for skill in status.skills.iter() {
                s.add_skill(id, skill);
            }
        }
        s.template_owners
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        s.skill_roots
            .sort_by_key(|(root, _)| std::cmp::Reverse(root.len()));
        s.warnings.extend(tool_namer.warnings);
        s.warnings.extend(prompt_namer.warnings);
        s.cache_hints = hints.flatten();
        s.fingerprint = Fingerprint {
            tools: hash_json(&s.tools),
            prompts: hash_json(&s.prompts),
            resources: hash_json(&(&s.resources, &s.templates, &s.skills)),
        };
        s
    }

    /// Merges one child skill. Its URIs stay as the child serves them, whatever the server's
    /// `namespace` setting: a skill's name is both the last segment of its URI and the `name`
    /// in its `SKILL.md`, whose digest and frontmatter the host checks against the listing, and
    /// the Agent Skills naming rules allow no `_`; so no `<server>__` prefix can be put on
    /// either. Like resources, the first server in config order to serve a URI keeps it.
    fn add_skill(&mut self, id: &Arc<str>, skill: &Skill) {
        // rmcp refuses a whole skills/list whose entries break the spec: one child's bad entry
        // must not take every other child's skills with it.
        if let Err(e) = skill.validate() {
            self.warnings.push(format!(
                "skill `{}` of server `{id}` is left out: {e}",
                skill.uri
            ));
            return;
        }
        if let Some(owner) = self.skill_routes.get(&skill.uri) {
            self.warnings.push(format!(
                "skill `{}` of server `{id}` is hidden: server `{owner}` serves the same URI",
                skill.uri
            ));
            return;
        }
        self.skill_routes.insert(skill.uri.clone(), id.clone());
        // A dynamic skill has no manifest: its files are found by its directory alone.
        let files = match &skill.resources {
            SkillResources::Files(files) => files.iter().map(|f| f.uri.as_str()).collect(),
            _ => Vec::new(),
        };
        for uri in std::iter::once(skill.uri.as_str()).chain(files) {
            self.skill_files
                .entry(uri.to_owned())
                .or_insert_with(|| id.clone());
        }
        if let Some(root) = skill.uri.strip_suffix(SKILL_MD) {
            self.skill_roots.push((root.to_owned(), id.clone()));
        }
        let mut entry = skill.clone();
        entry
            .meta
            .get_or_insert_with(MetaObject::new)
            .insert(ORIGIN_META.to_owned(), id.to_string().into());
        self.skills.push(entry);
    }

    /// The child that should answer a read of `uri`: the server of the skill whose manifest
    /// names it (a skill's files must come from the skill's own server), else the lister of that
    /// exact URI, else the server of the skill whose directory holds it, else the owner of the
    /// most specific matching template.
    pub fn resource_owner(&self, uri: &str) -> Option<&Arc<str>> {
        self.skill_files
            .get(uri)
            .or_else(|| self.resource_owners.get(uri))
            .or_else(|| self.skill_dir_owner(uri))
            .or_else(|| {
                self.template_owners
                    .iter()
                    .find(|(prefix, _)| !prefix.is_empty() && uri.starts_with(prefix.as_str()))
                    .map(|(_, id)| id)
            })
    }

    /// The server of the innermost listed skill whose directory holds `uri` or is `uri` (a
    /// directory URI has no trailing `/`).
    pub fn skill_dir_owner(&self, uri: &str) -> Option<&Arc<str>> {
        self.skill_roots
            .iter()
            .find(|(root, _)| uri.starts_with(root.as_str()) || root.strip_suffix('/') == Some(uri))
            .map(|(_, id)| id)
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
    fn hosts_lists_carry_hints_only_when_every_child_gave_them() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let hinted = |ttl, public| {
            let mut s = status(ServerState::Running, &["x"]);
            s.cache_hints = Some(CacheHints {
                ttl_ms: Some(ttl),
                public,
            });
            s
        };
        let s = Surface::build(
            [(&a, &hinted(60_000, true)), (&b, &hinted(5_000, false))],
            &[],
        );
        assert_eq!(
            s.cache_hints,
            Some(CacheHints {
                ttl_ms: Some(5_000),
                public: false
            })
        );
        let legacy = status(ServerState::Running, &["y"]);
        let s = Surface::build([(&a, &hinted(60_000, true)), (&b, &legacy)], &[]);
        assert_eq!(s.cache_hints, None);
        assert_eq!(Surface::build([], &[]).cache_hints, None);
    }

    #[test]
    fn a_restarting_childs_last_catalogue_stays_and_a_failed_ones_goes() {
        let a: Arc<str> = "a".into();
        for (state, listed) in [
            (ServerState::Restarting, true),
            (ServerState::Starting, true),
            (ServerState::Failed, false),
            (ServerState::Stopped, false),
        ] {
            let s = Surface::build([(&a, &status(state, &["x"]))], &[]);
            assert_eq!(s.tool_routes.contains_key("a__x"), listed, "{state:?}");
        }
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
        let sa = status(ServerState::Failed, &["echo"]);
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

    fn skill(root: &str, files: &[&str]) -> Skill {
        use rmcp::model::{SkillFrontmatter, SkillResource};
        let name = root.rsplit('/').next().unwrap_or_default();
        let uri = format!("{root}/SKILL.md");
        let mut manifest = vec![SkillResource::from_bytes(&uri, b"---")];
        manifest.extend(
            files
                .iter()
                .map(|f| SkillResource::from_bytes(format!("{root}/{f}"), f.as_bytes())),
        );
        Skill::new(
            uri,
            SkillFrontmatter::new(name, format!("does {name}")),
            SkillResources::Files(manifest),
        )
    }

    fn with_skills(state: ServerState, skills: Vec<Skill>) -> ChildStatus {
        let mut s = status(state, &[]);
        s.skills = Arc::new(skills);
        s
    }

    #[test]
    fn skills_keep_their_uris_and_are_routed_to_their_server() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let sa = with_skills(
            ServerState::Running,
            vec![skill("skill://acme/pdf", &["templates/invoice.md"])],
        );
        let sb = with_skills(ServerState::Running, vec![skill("skill://git", &[])]);
        // Namespaced or not, a skill's URI and name stay the child's: they are what the host
        // verifies the SKILL.md against.
        for namespaced in [true, false] {
            let s = Surface::build_with(
                [(&a, &sa, namespaced), (&b, &sb, namespaced)],
                &[],
                &HashMap::new(),
            );
            let listed: Vec<_> = s
                .skills
                .iter()
                .map(|k| (k.uri.as_str(), k.name()))
                .collect();
            assert_eq!(
                listed,
                [
                    ("skill://acme/pdf/SKILL.md", "pdf"),
                    ("skill://git/SKILL.md", "git")
                ]
            );
            assert_eq!(s.skill_routes["skill://git/SKILL.md"], b);
            let origin = s.skills[0].meta.as_ref().and_then(|m| m.get(ORIGIN_META));
            assert_eq!(origin, Some(&serde_json::json!("a")));
        }
        let s = Surface::build([(&a, &sa), (&b, &sb)], &[]);
        // Listed files, unlisted files and directories of a skill all lead to its server.
        assert_eq!(s.resource_owner("skill://acme/pdf/SKILL.md"), Some(&a));
        assert_eq!(
            s.resource_owner("skill://acme/pdf/templates/invoice.md"),
            Some(&a)
        );
        assert_eq!(
            s.resource_owner("skill://acme/pdf/templates/new.md"),
            Some(&a)
        );
        assert_eq!(s.resource_owner("skill://acme/pdf/templates"), Some(&a));
        assert_eq!(s.resource_owner("skill://acme/pdf"), Some(&a));
        assert_eq!(s.resource_owner("skill://git/SKILL.md"), Some(&b));
        assert_eq!(s.resource_owner("skill://acme/pdfx/SKILL.md"), None);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn a_skill_file_goes_to_the_skill_server_even_if_another_lists_it() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let mut sa = status(ServerState::Running, &[]);
        sa.resources = Arc::new(vec![Resource::new("skill://git/SKILL.md", "git")]);
        let sb = with_skills(ServerState::Running, vec![skill("skill://git", &[])]);
        let s = Surface::build([(&a, &sa), (&b, &sb)], &[]);
        assert_eq!(s.resource_owner("skill://git/SKILL.md"), Some(&b));
    }

    #[test]
    fn skill_collisions_and_invalid_skills_are_left_out_with_a_warning() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let mut bad = skill("skill://bad", &[]);
        bad.frontmatter.name = "other".into();
        let sa = with_skills(ServerState::Running, vec![skill("skill://git", &[]), bad]);
        let sb = with_skills(
            ServerState::Running,
            vec![skill("skill://git", &["x.md"]), skill("skill://pdf", &[])],
        );
        let s = Surface::build([(&a, &sa), (&b, &sb)], &[]);
        let uris: Vec<_> = s.skills.iter().map(|k| k.uri.as_str()).collect();
        assert_eq!(uris, ["skill://git/SKILL.md", "skill://pdf/SKILL.md"]);
        assert_eq!(s.skill_routes["skill://git/SKILL.md"], a);
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        // The merged list passes the checks rmcp puts on a skills/list answer.
        assert_eq!(rmcp::model::validate_skills(&s.skills), Ok(()));
    }

    #[test]
    fn skills_of_down_children_leave_and_changes_move_the_resources_fingerprint() {
        let a: Arc<str> = "a".into();
        let none = Surface::build([(&a, &with_skills(ServerState::Running, vec![]))], &[]);
        let one = Surface::build(
            [(
                &a,
                &with_skills(ServerState::Running, vec![skill("skill://git", &[])]),
            )],
            &[],
        );
        let down = Surface::build(
            [(
                &a,
                &with_skills(ServerState::Failed, vec![skill("skill://git", &[])]),
            )],
            &[],
        );
        assert_eq!(one.skills.len(), 1);
        assert!(down.skills.is_empty() && down.resource_owner("skill://git/SKILL.md").is_none());
        assert_ne!(none.fingerprint.resources, one.fingerprint.resources);
        assert_eq!(none.fingerprint.tools, one.fingerprint.tools);
        assert_eq!(none.fingerprint, down.fingerprint);
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
