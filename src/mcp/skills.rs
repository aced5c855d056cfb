//! The Skills extension (SEP-2640) toward the host: the children's skills merged into one
//! `skills/list`, `skills/get` and `resources/directory/read` routed to the child serving the
//! skill. Skill files are ordinary resources, so `resources/read` reaches them through the
//! surface's resource routing ([`Surface::resource_owner`]).
//!
//! Skills keep the URIs their child gives them (see `Surface::add_skill` for why no
//! `<server>__` prefix can be put on them); each entry names its server under
//! [`ORIGIN_META`](crate::registry::surface::ORIGIN_META).

use std::{collections::BTreeMap, sync::Arc};

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        ClientRequest, DIRECTORY_MIME_TYPE, GetSkillRequestParams, GetSkillResult,
        ListResourcesResult, MetaObject, ReadResourceDirectoryRequestParams, Request, Resource,
        ResultType, SKILLS_EXTENSION_ID, ServerCapabilities, ServerResult, Skill, SkillResources,
        SkillsCapability,
    },
    service::RequestContext,
};
use tokio::time::Instant;

use super::OrchestratorServer;
use crate::{
    error::{ItemKind, RouteError},
    registry::{
        Registry,
        surface::{ORIGIN_META, Surface},
    },
    supervisor::ServerState,
};

/// Whether the orchestrator declares the skills extension: when a child offers skills, or may
/// (it has not connected yet). Children that are down keep their last capabilities, so a
/// restart does not withdraw the extension.
///
/// Not declared always: a declared extension commits the orchestrator to serving skills, and
/// suites and hosts that see it expect some (the conformance suite reports a declared extension
/// without skills as a failure). Declared while a child is still starting: stdio hosts
/// initialize at once, before any child is up, and keep what they were told for the session;
/// rmcp reads `get_info` again on every skills request, so once every child is known a
/// session whose children offer none gets `-32601`.
fn offered<'a>(
    children: impl IntoIterator<Item = (ServerState, Option<&'a ServerCapabilities>)>,
) -> bool {
    children.into_iter().any(|(state, caps)| match caps {
        Some(caps) => caps.supports_skills(),
        None => !state.is_settled(),
    })
}

/// Adds the skills extension to `capabilities` when [`offered`]. Always with `directoryRead`:
/// directories of a child that does not serve directory reads are listed from its skills'
/// manifests.
pub(super) fn declare(capabilities: &mut ServerCapabilities, registry: &Registry) {
    let statuses: Vec<_> = registry.children().iter().map(|c| c.status()).collect();
    if !offered(statuses.iter().map(|s| (s.state, s.capabilities.as_ref()))) {
        return;
    }
    let skills = SkillsCapability::new().with_directory_read();
    let Ok(serde_json::Value::Object(settings)) = serde_json::to_value(skills) else {
        return;
    };
    capabilities
        .extensions
        .get_or_insert_default()
        .insert(SKILLS_EXTENSION_ID.to_owned(), settings);
}

/// `skills/get`: asked of the child serving the skill, its answer tagged with the child.
pub(super) async fn get(
    server: &OrchestratorServer,
    req: GetSkillRequestParams,
    cx: RequestContext<RoleServer>,
) -> Result<GetSkillResult, McpError> {
    let started = Instant::now();
    let owner = skill_owner(server.registry(), &req.uri)?;
    let request = ClientRequest::GetSkillRequest(Request::new(req));
    let pick = |r| match r {
        ServerResult::GetSkillResult(r) => Some(r),
        _ => None,
    };
    let mut result = server
        .forward(&owner, request, "skills/get", &cx, started, pick)
        .await?;
    tag(&mut result.skill, &owner);
    // A handshake-era child never sends the discriminator a 2026-07-28 host needs; rmcp takes
    // it off again for handshake-era hosts.
    result.result_type.get_or_insert(ResultType::COMPLETE);
    Ok(result)
}

/// `resources/directory/read` of a skill directory: asked of the child serving the skill when
/// it declares `directoryRead`, else answered from the skill's manifest (which lists every file,
/// so every directory holding one): the orchestrator declares `directoryRead` for all skills.
pub(super) async fn read_directory(
    server: &OrchestratorServer,
    req: ReadResourceDirectoryRequestParams,
    cx: RequestContext<RoleServer>,
) -> Result<ListResourcesResult, McpError> {
    let started = Instant::now();
    let surface = server.registry().surface();
    let Some(owner) = surface
        .skill_dir_owner(&req.uri)
        .or_else(|| surface.resource_owner(&req.uri))
        .cloned()
    else {
        return Err(unknown(&req.uri).into());
    };
    if !child_skills(server.registry(), &owner).is_some_and(|s| s.directory_read) {
        let listing = listing_from_manifests(&surface, &owner, &req.uri);
        return listing
            .map(ListResourcesResult::with_all_items)
            .ok_or_else(|| unknown(&req.uri).into());
    }
    let request = ClientRequest::ReadResourceDirectoryRequest(Request::new(req));
    let pick = |r| match r {
        ServerResult::ListResourcesResult(r) => Some(r),
        _ => None,
    };
    let mut result = server
        .forward(
            &owner,
            request,
            "resources/directory/read",
            &cx,
            started,
            pick,
        )
        .await?;
    result.result_type.get_or_insert(ResultType::COMPLETE);
    Ok(result)
}

/// The child to ask for the skill at `uri`: the one listing it; else, since a server must
/// answer for skills its listing leaves out, the skill-serving child whose resources hold the
/// URI, or the only child serving skills at all.
fn skill_owner(registry: &Registry, uri: &str) -> Result<Arc<str>, RouteError> {
    let surface = registry.surface();
    if let Some(owner) = surface.skill_routes.get(uri) {
        return Ok(owner.clone());
    }
    if let Some(owner) = surface.resource_owner(uri)
        && child_skills(registry, owner).is_some()
    {
        return Ok(owner.clone());
    }
    let mut serving = registry
        .children()
        .iter()
        .filter(|c| c.state().serves_calls() && child_skills(registry, c.id()).is_some())
        .map(|c| c.id().clone())
        .collect::<Vec<_>>();
    match (serving.pop(), serving.is_empty()) {
        (Some(only), true) => Ok(only),
        _ => Err(unknown(uri)),
    }
}

/// The skills extension a child declared, if it did.
fn child_skills(registry: &Registry, id: &str) -> Option<SkillsCapability> {
    registry
        .child(id)?
        .status()
        .capabilities
        .as_ref()
        .and_then(ServerCapabilities::skills)
}

/// SEP-2640 answers an unknown skill or directory with -32602, as `resources/read` does.
fn unknown(uri: &str) -> RouteError {
    RouteError::Unknown {
        kind: ItemKind::Resource,
        name: uri.to_owned(),
    }
}

/// Names the child a skill entry comes from.
fn tag(skill: &mut Skill, owner: &str) {
    skill
        .meta
        .get_or_insert_with(MetaObject::new)
        .insert(ORIGIN_META.to_owned(), owner.into());
}

/// The direct children of directory `dir` as `owner`'s skill manifests list them (files, and
/// subdirectories as `inode/directory` resources), in URI order; `None` when no manifest has
/// a file under `dir`, so it is not a directory of theirs.
fn listing_from_manifests(surface: &Surface, owner: &str, dir: &str) -> Option<Vec<Resource>> {
    let prefix = format!("{dir}/");
    let mut children = BTreeMap::new();
    let files = surface
        .skills
        .iter()
        .filter(|s| {
            surface
                .skill_routes
                .get(&s.uri)
                .is_some_and(|o| **o == *owner)
        })
        .filter_map(|s| match &s.resources {
            SkillResources::Files(files) => Some(files),
            _ => None,
        })
        .flatten();
    for file in files {
        let Some(rest) = file.uri.strip_prefix(&prefix) else {
            continue;
        };
        let entry = match rest.split_once('/') {
            Some((sub, _)) => {
                Resource::new(format!("{prefix}{sub}"), sub).with_mime_type(DIRECTORY_MIME_TYPE)
            }
            None => Resource::new(file.uri.clone(), rest),
        };
        children.entry(entry.uri.clone()).or_insert(entry);
    }
    (!children.is_empty()).then(|| children.into_values().collect())
}

#[cfg(test)]
mod tests {
    use rmcp::model::{SkillFrontmatter, SkillResource};

    use super::*;
    use crate::supervisor::ChildStatus;

    #[test]
    fn declared_when_a_child_offers_skills_or_may() {
        let plain = ServerCapabilities::builder().enable_resources().build();
        let skills = ServerCapabilities::builder()
            .enable_resources()
            .enable_skills()
            .build();
        let running = ServerState::Running;
        assert!(!offered([(running, Some(&plain)), (running, Some(&plain))]));
        assert!(offered([(running, Some(&plain)), (running, Some(&skills))]));
        // Down now, but it offered skills when it last ran.
        assert!(offered([(ServerState::Restarting, Some(&skills))]));
        // Never connected: still starting may offer them; failed, disabled and the like not.
        assert!(offered([
            (running, Some(&plain)),
            (ServerState::Starting, None)
        ]));
        assert!(!offered([
            (ServerState::Failed, None),
            (ServerState::Disabled, None)
        ]));
    }

    #[test]
    fn directories_are_listed_from_the_manifest() {
        let uri = "skill://acme/pdf/SKILL.md";
        let file = |path: &str| SkillResource::from_bytes(format!("skill://acme/pdf/{path}"), b"x");
        let skill = Skill::new(
            uri,
            SkillFrontmatter::new("pdf", "PDF work"),
            SkillResources::Files(vec![
                file("SKILL.md"),
                file("templates/invoice.md"),
                file("templates/regional/eu.md"),
                file("templates/regional/us.md"),
            ]),
        );
        let id: Arc<str> = "a".into();
        let mut status = ChildStatus::initial(ServerState::Running, vec![]);
        status.skills = Arc::new(vec![skill]);
        let surface = Surface::build([(&id, &status)], &[]);
        let names = |dir: &str| {
            listing_from_manifests(&surface, "a", dir).map(|l| {
                l.into_iter()
                    .map(|r| (r.name.clone(), r.is_directory()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            names("skill://acme/pdf"),
            Some(vec![("SKILL.md".into(), false), ("templates".into(), true)])
        );
        assert_eq!(
            names("skill://acme/pdf/templates"),
            Some(vec![
                ("invoice.md".into(), false),
                ("regional".into(), true)
            ])
        );
        assert_eq!(names("skill://acme/pdf/templates/invoice.md"), None);
        assert_eq!(
            listing_from_manifests(&surface, "b", "skill://acme/pdf"),
            None
        );
    }
}
