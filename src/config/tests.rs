use std::{path::Path, time::Duration};

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some("sk-test-secret-value".into()),
        "HOME" => Some("/home/u".into()),
        _ => None,
    }
}

fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("cfg.json"), text, &env)
}

fn err(text: &str) -> String {
    parse_str(text).unwrap_err().to_string()
}

const BOTH_FORMATS: &str = r#"{
  "servers": {
    "openai": {
      "name": "OpenAI Server", "description": "chat",
      "command": "mcp-vendor", "args": ["openai"],
      "env": {"OPENAI_BASE_URL": "${OPENAI_BASE_URL:-https://api.openai.com/v1}", "PASS": "${UNSET_VAR}"},
      "required_env": ["OPENAI_API_KEY"],
      "tools": ["chat", "embed", "list_models"]
    },
    "groq": {"command": "mcp-vendor", "args": ["groq"], "required_env": ["GROQ_API_KEY"], "tools": ["chat"], "port": 8001}
  },
  "mcpServers": { "everything": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"] } },
  "routing": { "embed": ["openai"] },
  "orchestrator": { "default_timeout": 12, "retry_attempts": 2, "health_check_interval": 0.5 }
}"#;

#[test]
fn both_formats_together() {
    let c = parse_str(BOTH_FORMATS).unwrap();
    let ids: Vec<_> = c.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["openai", "groq", "everything"]);
    let openai = c.server("openai").unwrap();
    assert_eq!(
        openai.launch().unwrap().env["OPENAI_BASE_URL"].expose(),
        "https://api.openai.com/v1"
    );
    assert!(
        !openai.launch().unwrap().env.contains_key("PASS"),
        "pass-through of an unset var is dropped"
    );
    assert_eq!(
        openai.required_values["OPENAI_API_KEY"].expose(),
        "sk-test-secret-value"
    );
    assert!(openai.missing_env.is_empty());
    assert_eq!(c.server("groq").unwrap().missing_env, ["GROQ_API_KEY"]);
    assert_eq!(c.server("everything").unwrap().section, "mcpServers");
    assert_eq!(c.settings.default_timeout, Duration::from_secs(12));
    assert_eq!(c.settings.health_check_interval, Duration::from_millis(500));
    assert_eq!(c.settings.retry_attempts, 2);
}

#[test]
fn default_routing_is_config_order_and_explicit_wins() {
    let c = parse_str(BOTH_FORMATS).unwrap();
    assert_eq!(c.routing["chat"], ["openai", "groq"]);
    assert_eq!(c.routing["embed"], ["openai"]);
    assert_eq!(c.routing["list_models"], ["openai"]);
    assert!(!c.routing.contains_key("search_web"));
}

#[test]
fn seed_port_is_a_warning() {
    let c = parse_str(BOTH_FORMATS).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("servers.groq.port"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn unknown_server_key_names_server_and_key() {
    let e = err(r#"{"servers": {"openai": {"comand": "x"}}}"#);
    assert!(e.contains("cfg.json"), "{e}");
    assert!(e.contains("servers.openai"), "{e}");
    assert!(e.contains("comand"), "{e}");
}

#[test]
fn unknown_top_level_and_settings_keys() {
    let e = err(r#"{"sevrers": {}}"#);
    assert!(e.contains("sevrers") && e.contains("top level"), "{e}");
    let e = err(r#"{"orchestrator": {"default_timout": 3}}"#);
    assert!(
        e.contains("orchestrator") && e.contains("default_timout"),
        "{e}"
    );
}

#[test]
fn syntax_error_has_position() {
    let e = err("{\n  \"servers\": {,}\n}");
    assert!(e.contains("cfg.json: invalid JSON at line 2"), "{e}");
}

#[test]
fn missing_command_and_bad_values() {
    let e = err(r#"{"servers": {"a": {"args": []}}}"#);
    assert!(e.contains("servers.a.command"), "{e}");
    let e = err(r#"{"servers": {"a": {"command": "x", "timeout": -1}}}"#);
    assert!(e.contains("servers.a.timeout"), "{e}");
    let e = err(r#"{"servers": {"a": {"command": "x", "args": [1]}}}"#);
    assert!(e.contains("servers.a"), "{e}");
    let e = err(r#"{"servers": {"a": {"command": "x", "env": {"A": "${BAD REF}"}}}}"#);
    assert!(
        e.contains("servers.a.env.A") && e.contains("malformed"),
        "{e}"
    );
}

#[test]
fn duplicate_ids_across_sections() {
    let e = err(r#"{"servers": {"a": {"command": "x"}}, "mcpServers": {"a": {"command": "y"}}}"#);
    assert!(e.contains("mcpServers.a") && e.contains("twice"), "{e}");
}

#[test]
fn routing_is_checked() {
    let e = err(r#"{"servers": {"a": {"command": "x"}}, "routing": {"chat": ["nope"]}}"#);
    assert!(e.contains("routing.chat") && e.contains("nope"), "{e}");
    let e = err(r#"{"servers": {"a": {"command": "x"}}, "routing": {"chatt": ["a"]}}"#);
    assert!(e.contains("routing.chatt"), "{e}");
}

#[test]
fn remote_servers_in_claude_code_format() {
    let c = parse_str(r#"{"mcpServers": {
        "r": {"type": "http", "url": "https://api.example.com/mcp", "headers": {"Authorization": "Bearer ${OPENAI_API_KEY}"}},
        "bare": {"url": "http://127.0.0.1:9/mcp"},
        "needs": {"type": "http", "url": "https://${REMOTE_HOST}/mcp"}
    }}"#)
    .unwrap();
    let r = c.server("r").unwrap().remote().unwrap();
    assert_eq!(r.url, "https://api.example.com/mcp");
    assert_eq!(
        r.headers["Authorization"].expose(),
        "Bearer sk-test-secret-value"
    );
    assert!(!format!("{c:?}").contains("sk-test-secret-value"));
    assert!(
        c.server("bare").unwrap().remote().is_some(),
        "a url alone means http"
    );
    assert_eq!(c.server("needs").unwrap().missing_env, ["REMOTE_HOST"]);
    let e = err(r#"{"mcpServers": {"r": {"type": "sse", "url": "https://x/sse"}}}"#);
    assert!(e.contains("mcp-remote"), "{e}");
    let e = err(r#"{"mcpServers": {"r": {"type": "http", "url": "ftp://x"}}}"#);
    assert!(e.contains("mcpServers.r.url"), "{e}");
    let e = err(r#"{"mcpServers": {"r": {"url": "https://x/mcp", "command": "y"}}}"#);
    assert!(e.contains("remote"), "{e}");
}

#[test]
fn unset_reference_in_args_is_missing_env() {
    let c = parse_str(r#"{"servers": {"a": {"command": "x", "args": ["${ROOT_DIR}"]}}}"#).unwrap();
    assert_eq!(c.servers[0].missing_env, ["ROOT_DIR"]);
}

#[test]
fn secrets_never_show_in_debug() {
    let c = parse_str(BOTH_FORMATS).unwrap();
    let dump = format!("{c:?}");
    assert!(!dump.contains("sk-test-secret-value"), "{dump}");
    assert_eq!(
        c.server("openai")
            .unwrap()
            .redactor()
            .redact("k=sk-test-secret-value"),
        "k=***"
    );
}

#[test]
fn shipped_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    let entries = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("examples")).unwrap());
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            parse(&path, &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert!(
        seen >= 2,
        "expected the default config and an example in {}",
        dir.display()
    );
}

#[test]
fn orchestration_keys_the_seed_uses() {
    let c = parse_str(
        r#"{
          "servers": {"etl": {"command": "etl", "capabilities": ["data_processing"]}},
          "orchestrator": {
            "store": "sqlite://${HOME}/state/main.db",
            "max_concurrent_workflows": 7, "max_concurrent_steps": 3,
            "resources": {"cpu": 2.5, "memory_mb": 512}, "lease_ttl": 5
          },
          "workflows": {"dir": "flows"}
        }"#,
    )
    .unwrap();
    let s = &c.settings;
    assert_eq!(
        s.store.as_ref().unwrap().expose(),
        "sqlite:///home/u/state/main.db"
    );
    assert_eq!((s.max_concurrent_workflows, s.max_concurrent_steps), (7, 3));
    assert_eq!(
        s.resources,
        ResourceLimits {
            cpu: 2.5,
            memory_mb: 512
        }
    );
    assert_eq!(s.lease_ttl, Duration::from_secs(5));
    assert_eq!(c.workflows_dir, Path::new("flows"));
    assert_eq!(c.server("etl").unwrap().capabilities, ["data_processing"]);

    let d = parse_str("{}").unwrap();
    assert_eq!(d.workflows_dir, Path::new("workflows"));
    assert!(d.settings.store.is_none());
    assert_eq!(
        (
            d.settings.max_concurrent_workflows,
            d.settings.max_concurrent_steps
        ),
        (100, 50)
    );
}

#[test]
fn a_bad_store_url_names_the_key_but_never_shows_the_url() {
    let e = err(r#"{"orchestrator": {"store": "mysql://u:hunter22@db/x"}}"#);
    assert!(e.contains("orchestrator.store"), "{e}");
    assert!(!e.contains("hunter22"), "{e}");
    let e = err(r#"{"workflows": {"dri": "x"}}"#);
    assert!(e.contains("workflows") && e.contains("dri"), "{e}");
    let e = err(r#"{"orchestrator": {"max_concurrent_steps": 0}}"#);
    assert!(e.contains("orchestrator.max_concurrent_steps"), "{e}");
}

#[test]
fn alert_rules_and_job_types_are_checked_with_their_keys() {
    let ok = parse_str(
        r#"{"servers": {"fx": {"command": "x"}},
            "alerts": [{"name": "e", "metric": "error_rate", "server": "fx", "threshold": 0.5, "for": 30, "cooldown": 600}],
            "jobs": {"types": {"ml": {"service_url": "http://127.0.0.1:8001/"}}, "ttl": 60}}"#,
    )
    .unwrap();
    assert_eq!(ok.alerts[0].metric, AlertMetric::ErrorRate);
    assert_eq!(ok.alerts[0].for_, Duration::from_secs(30));
    assert_eq!(
        ok.jobs.types["ml"].target,
        JobTarget::Service("http://127.0.0.1:8001".into())
    );
    assert_eq!(ok.jobs.ttl, Duration::from_secs(60));
    let e =
        err(r#"{"servers": {}, "alerts": [{"name": "e", "metric": "errors", "threshold": 1}]}"#);
    assert!(
        e.contains("alerts[0].metric") && e.contains("unknown metric `errors`"),
        "{e}"
    );
    let e = err(
        r#"{"servers": {}, "alerts": [{"name": "e", "metric": "restarts", "server": "nope", "threshold": 1}]}"#,
    );
    assert!(
        e.contains("alerts[0].server") && e.contains("no server `nope`"),
        "{e}"
    );
    let e = err(r#"{"servers": {}, "jobs": {"types": {"t": {"tool": "a", "workflow": "b"}}}}"#);
    assert!(
        e.contains("jobs.types.t") && e.contains("exactly one of"),
        "{e}"
    );
    let e = err(r#"{"servers": {}, "jobs": {"types": {"t": {"service_url": "ftp://x"}}}}"#);
    assert!(e.contains("jobs.types.t.service_url"), "{e}");
}
