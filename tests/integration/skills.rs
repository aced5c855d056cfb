//! The Skills extension (SEP-2640) through the orchestrator, end to end: a fixture child with
//! `--skills` (two skills, a supporting file each, `directoryRead`) beside one without, and a
//! host that lists the skills, gets one, reads its files and verifies them against the
//! manifest, lists a skill directory, and hears of a new skill. Once as a handshake-era host,
//! once as a stateless (2026-07-28) host.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt as _,
    model::{
        ClientConfig, ErrorCode, GetSkillRequestParams, ProtocolVersion,
        ReadResourceDirectoryRequestParams, ReadResourceRequestParams, ResourceContents, Skill,
        SkillResources,
    },
    service::{ClientLifecycleMode, ClientServiceExt as _, NotificationContext, RunningService},
    transport::async_rw::AsyncRwTransport,
};
use serde_json::json;

use crate::common::*;

const GREETING: &str = "skill://fixture/greeting/SKILL.md";
const TONE: &str = "skill://fixture/greeting/references/tone.md";
const ARITHMETIC: &str = "skill://fixture/arithmetic/SKILL.md";
const FAREWELL: &str = "skill://fixture/farewell/SKILL.md";

/// A host that counts `notifications/resources/list_changed` (how a skills change is told).
#[derive(Clone)]
struct SkillsHost {
    protocol: ProtocolVersion,
    resources_changed: Arc<AtomicUsize>,
}

impl ClientHandler for SkillsHost {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(self.protocol.clone())
    }

    async fn on_resource_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.resources_changed.fetch_add(1, Ordering::SeqCst);
    }
}

struct Session {
    client: RunningService<RoleClient, SkillsHost>,
    resources_changed: Arc<AtomicUsize>,
    _process: tokio::process::Child,
}

impl Session {
    async fn start(config: &Path, modern: bool) -> Self {
        let mut process = serve_command(config, &[])
            .spawn()
            .expect("spawn mcp-orchestrator serve");
        let transport = AsyncRwTransport::new_client(
            process.stdout.take().unwrap(),
            process.stdin.take().unwrap(),
        );
        let resources_changed = Arc::new(AtomicUsize::new(0));
        let host = SkillsHost {
            protocol: if modern {
                ProtocolVersion::V_2026_07_28
            } else {
                ProtocolVersion::V_2025_11_25
            },
            resources_changed: resources_changed.clone(),
        };
        let started = if modern {
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            tokio::time::timeout(
                Duration::from_secs(20),
                host.serve_with_lifecycle(transport, lifecycle),
            )
            .await
        } else {
            tokio::time::timeout(Duration::from_secs(20), host.serve(transport)).await
        };
        let client = started.expect("handshake within 20 s").expect("handshake");
        Self {
            client,
            resources_changed,
            _process: process,
        }
    }

    async fn skills(&self) -> Vec<Skill> {
        self.client.list_all_skills().await.expect("skills/list")
    }

    /// The text of `uri`, checked against its entry in `skill`'s manifest.
    async fn read_verified(&self, skill: &Skill, uri: &str) -> String {
        let read = self
            .client
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
            .unwrap_or_else(|e| panic!("resources/read {uri}: {e}"));
        let Some(ResourceContents::TextResourceContents { text, .. }) = read.contents.first()
        else {
            panic!("{uri}: no text content: {read:?}");
        };
        let SkillResources::Files(files) = &skill.resources else {
            panic!("{}: no manifest", skill.uri);
        };
        let entry = files.iter().find(|f| f.uri == uri).expect("listed file");
        entry
            .verify(text.as_bytes())
            .expect("digest and size match");
        text.clone()
    }
}

fn config() -> TempConfig {
    write_config(&json!({
        "servers": {
            "a": fixture(&["--skills"]),
            "b": fixture(&[]),
        },
        "orchestrator": fast_settings(),
    }))
}

fn origin(skill: &Skill) -> Option<&serde_json::Value> {
    skill.meta.as_ref()?.get("mcp-orchestrator/server")
}

/// Lists, gets, reads and directory-reads; returns the listed skills.
async fn exercise(s: &Session) {
    let info = s.client.peer_info().expect("server info");
    assert!(
        info.capabilities.supports_directory_read(),
        "{:?}",
        info.capabilities
    );

    let skills = s.skills().await;
    let uris: Vec<_> = skills.iter().map(|k| k.uri.as_str()).collect();
    assert_eq!(
        uris,
        [GREETING, ARITHMETIC],
        "URIs and order are the child's"
    );
    assert!(skills.iter().all(|k| origin(k) == Some(&json!("a"))));

    let got = s
        .client
        .get_skill(GetSkillRequestParams::new(GREETING))
        .await
        .expect("skills/get")
        .skill;
    assert_eq!((got.uri.as_str(), got.name()), (GREETING, "greeting"));
    assert_eq!(origin(&got), Some(&json!("a")));
    assert_eq!(got.resources, skills[0].resources);

    // The files come from the skill's server and match the manifest.
    let md = s.read_verified(&got, GREETING).await;
    assert!(md.starts_with("---\nname: greeting\n"), "{md}");
    let tone = s.read_verified(&got, TONE).await;
    assert!(tone.contains("Warm"), "{tone}");

    let dir = s
        .client
        .read_resource_directory(ReadResourceDirectoryRequestParams::new(
            "skill://fixture/greeting",
        ))
        .await
        .expect("resources/directory/read");
    let entries: Vec<_> = dir
        .resources
        .iter()
        .map(|r| (r.uri.as_str(), r.is_directory()))
        .collect();
    assert_eq!(
        entries,
        [
            (GREETING, false),
            ("skill://fixture/greeting/references", true)
        ]
    );

    let unknown = s
        .client
        .get_skill(GetSkillRequestParams::new("skill://fixture/nope/SKILL.md"))
        .await
        .expect_err("no such skill");
    let rmcp::ServiceError::McpError(e) = unknown else {
        panic!("{unknown}");
    };
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{e:?}");
}

#[tokio::test]
async fn a_legacy_host_lists_gets_and_reads_a_childs_skills() {
    let cfg = config();
    let s = Session::start(&cfg.path, false).await;
    exercise(&s).await;

    // A new skill at the child reaches the host as a resources list change.
    let before = s.resources_changed.load(Ordering::SeqCst);
    let added = s
        .client
        .call_tool(rmcp::model::CallToolRequestParams::new("a__add_skill"))
        .await
        .expect("a__add_skill");
    assert_ne!(added.is_error, Some(true), "{added:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let skills = s.skills().await;
        let changed = s.resources_changed.load(Ordering::SeqCst) > before;
        if changed && skills.iter().any(|k| k.uri == FAREWELL) {
            assert_eq!(skills.len(), 3);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no list change for the new skill (notified: {changed}): {skills:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stateless_host_lists_gets_and_reads_a_childs_skills() {
    let cfg = config();
    let s = Session::start(&cfg.path, true).await;
    exercise(&s).await;
}
