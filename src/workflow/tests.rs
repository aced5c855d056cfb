//! Workflow definitions: the seed format from YAML and JSON, every validation error naming file
//! and key, templates, conditions, loading a directory, and the graphs.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::{Value, json};

use super::template::TemplateError;
use super::*;
use crate::report::StepStatus;

/// The seed example of ORCHESTRATION.md, exactly as written there.
const SEED_YAML: &str = r#"
name: send_coached_sms            # ^[a-zA-Z0-9_-]{1,54}$
version: "1.0.0"
description: Send SMS with coach context
timeout: 180000                   # ms; also "3m", "30s"
input:                            # optional JSON Schema; becomes the tool's inputSchema
  type: object
  properties: { phone: {type: string}, coach_id: {type: string}, message: {type: string} }
  required: [phone, message]
strategy: parallel                # sequential | parallel (default) | priority | resource_aware | adaptive
steps:
  - name: get_contact
    mcp: google-workspace         # server id from the config
    action: get_contact           # that server's own tool name
    params: { phone: $input.phone }
    timeout: 15000
    retries: 2                    # exponential backoff with jitter between attempts
  - name: get_coach_info
    mcp: main-platform
    action: get_coach
    params: { coach_id: $input.coach_id }
    parallel: true
  - name: send_sms
    mcp: textbee
    action: send
    params:
      to: $steps.get_contact.result.phone
      from: $steps.get_coach_info.result.phone
      message: "${input.message} (sent by ${steps.get_coach_info.result.name})"
    dependsOn: [get_contact, get_coach_info]
    condition: $steps.get_contact.result.opted_in
    compensation:
      action: send_cancellation_notice        # `mcp` defaults to the step's server
      params: { to: $steps.get_contact.result.phone, message: "Previous message cancelled" }
output: { sms_id: $steps.send_sms.result.id }   # optional; default: every step's result
"#;

/// The same document as JSON, keys in another order.
const SEED_JSON: &str = r#"{
  "steps": [
    {"name": "get_contact", "action": "get_contact", "mcp": "google-workspace",
     "params": {"phone": "$input.phone"}, "retries": 2, "timeout": 15000},
    {"name": "get_coach_info", "mcp": "main-platform", "action": "get_coach",
     "parallel": true, "params": {"coach_id": "$input.coach_id"}},
    {"name": "send_sms", "mcp": "textbee", "action": "send",
     "params": {"message": "${input.message} (sent by ${steps.get_coach_info.result.name})",
                "to": "$steps.get_contact.result.phone",
                "from": "$steps.get_coach_info.result.phone"},
     "dependsOn": ["get_contact", "get_coach_info"],
     "condition": "$steps.get_contact.result.opted_in",
     "compensation": {"params": {"message": "Previous message cancelled",
                                 "to": "$steps.get_contact.result.phone"},
                      "action": "send_cancellation_notice"}}
  ],
  "name": "send_coached_sms",
  "version": "1.0.0",
  "description": "Send SMS with coach context",
  "timeout": 180000,
  "input": {"type": "object", "required": ["phone", "message"],
            "properties": {"phone": {"type": "string"}, "coach_id": {"type": "string"},
                           "message": {"type": "string"}}},
  "strategy": "parallel",
  "output": {"sms_id": "$steps.send_sms.result.id"}
}"#;

fn servers(id: &str) -> bool {
    matches!(id, "google-workspace" | "main-platform" | "textbee")
}

fn capabilities(c: &str) -> bool {
    c == "data_processing"
}

/// `textbee` and `google-workspace` are up; `main-platform` is not (so nothing can be told).
fn live(server: &str, tool: &str) -> Option<bool> {
    match server {
        "textbee" => Some(matches!(tool, "send" | "send_cancellation_notice")),
        "google-workspace" => Some(tool == "get_contact"),
        _ => None,
    }
}

fn host_tools(name: &str) -> bool {
    matches!(name, "chat" | "embed" | "workflow__other")
}

fn world() -> World<'static> {
    World {
        servers: &servers,
        capability: &capabilities,
        tool: Some(&live),
        host_tool: Some(&host_tools),
    }
}

fn yaml(text: &str) -> Result<Definition, WorkflowError> {
    parse(Path::new("wf/t.yaml"), text, &world())
}

fn seed() -> Definition {
    yaml(SEED_YAML).unwrap()
}

/// The error a document gives, checked to name the file.
fn error(text: &str) -> WorkflowError {
    let e = yaml(text).unwrap_err();
    assert_eq!(e.file, PathBuf::from("wf/t.yaml"));
    e
}

/// Asserts the key and a piece of the message.
#[track_caller]
fn assert_error(text: &str, at: &str, says: &str) {
    let e = error(text);
    assert_eq!(e.at, at, "{e}");
    assert!(e.message.contains(says), "`{}` lacks `{says}`", e.message);
    assert!(
        e.to_string().starts_with(&format!("wf/t.yaml: {at}")),
        "{e}"
    );
}

/// A one-step document around `step` (YAML lines of the step's mapping, indented 4).
fn one_step(step: &str) -> String {
    format!("name: t\nversion: \"1\"\nsteps:\n  - name: a\n{step}")
}

fn no_artifacts(_: &str) -> Option<Value> {
    None
}

fn render(t: &Template, input: &Value, steps: &BTreeMap<String, Value>) -> Value {
    t.render(&Scope {
        input,
        steps,
        artifacts: &no_artifacts,
    })
    .unwrap()
}

fn results(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The seed format

#[test]
fn the_seed_parses_from_yaml() {
    let def = seed();
    assert_eq!(def.name, "send_coached_sms");
    assert_eq!(def.tool_name(), "workflow__send_coached_sms");
    assert_eq!(def.version, "1.0.0");
    assert_eq!(
        def.description.as_deref(),
        Some("Send SMS with coach context")
    );
    assert_eq!(def.timeout, Some(Duration::from_secs(180)));
    assert_eq!(def.strategy, Strategy::Parallel);
    let schema = def.input_schema.as_ref().unwrap();
    assert_eq!(schema["required"], json!(["phone", "message"]));
    assert_eq!(def.file, PathBuf::from("wf/t.yaml"));

    let names: Vec<&str> = def.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["get_contact", "get_coach_info", "send_sms"]);
    let contact = def.step("get_contact").unwrap();
    assert_eq!(
        contact.target,
        Target::Server {
            server: "google-workspace".into(),
            tool: "get_contact".into()
        }
    );
    assert_eq!(contact.timeout, Some(Duration::from_secs(15)));
    assert_eq!(contact.retries, 2);
    assert!(contact.condition.is_none() && contact.compensation.is_none());

    let sms = def.step("send_sms").unwrap();
    assert_eq!(sms.index, 2);
    assert_eq!(sms.depends_on, [0, 1]);
    assert_eq!(sms.retries, 0);
    assert_eq!(sms.priority, 0);
    assert_eq!(sms.resources, Resources::default());
    assert!(!sms.idempotent);
    assert_eq!(
        sms.params.steps_referenced(),
        BTreeSet::from(["get_contact".to_owned(), "get_coach_info".to_owned()])
    );
    let condition = sms.condition.as_ref().unwrap();
    assert_eq!(condition.source(), "$steps.get_contact.result.opted_in");
    assert_eq!(
        condition.steps_referenced(),
        BTreeSet::from(["get_contact".to_owned()])
    );
    let comp = sms.compensation.as_ref().unwrap();
    assert_eq!(
        comp.target,
        Target::Server {
            server: "textbee".into(),
            tool: "send_cancellation_notice".into()
        }
    );
    assert_eq!(comp.retries, 2);

    assert_eq!(def.dependants(0), [2]);
    assert_eq!(def.dependants(2), Vec::<usize>::new());
    assert_eq!(def.upstream(2), BTreeSet::from([0, 1]));
    assert!(def.upstream(0).is_empty());
    assert_eq!(
        def.output.as_ref().unwrap().steps_referenced(),
        BTreeSet::from(["send_sms".to_owned()])
    );
}

#[test]
fn yaml_and_json_of_one_document_pin_the_same_sha() {
    let from_yaml = seed();
    let from_json = parse(Path::new("wf/t.json"), SEED_JSON, &world()).unwrap();
    assert_eq!(from_yaml.sha256, from_json.sha256);
    assert_eq!(from_yaml.body, from_json.body);
    assert_eq!(from_yaml.sha256.len(), 64);
    // The body is compact JSON with sorted keys.
    assert!(
        from_yaml.body.starts_with(r#"{"description":"Send SMS"#),
        "{}",
        from_yaml.body
    );
    assert!(!from_yaml.body.contains('\n'));
    let doc: Value = serde_json::from_str(&from_yaml.body).unwrap();
    assert_eq!(doc["steps"][1]["parallel"], json!(true));
}

#[test]
fn a_stored_body_reads_back_as_the_same_definition() {
    let def = seed();
    let stored = parse_stored(&def.sha256, &def.body).unwrap();
    assert_eq!(stored.sha256, def.sha256);
    assert_eq!(stored.body, def.body);
    assert_eq!(
        stored.file,
        PathBuf::from(format!("<store:{}>", def.sha256))
    );
    assert_eq!(
        Definition {
            file: def.file.clone(),
            ..stored
        },
        def
    );

    // Servers the config no longer has still resume.
    let gone = seed_with("mcp: textbee", "mcp: retired-server");
    let e = yaml(&gone).unwrap_err();
    assert_eq!(e.at, "steps[2].mcp");
    let raw_def = parse(Path::new("x.yaml"), &gone, &World::permissive()).unwrap();
    assert!(parse_stored(&raw_def.sha256, &raw_def.body).is_ok());

    let e = parse_stored(&"0".repeat(64), &def.body).unwrap_err();
    assert!(e.message.contains("hashes to"), "{e}");
}

fn seed_with(from: &str, to: &str) -> String {
    assert!(SEED_YAML.contains(from), "{from}");
    SEED_YAML.replacen(from, to, 1)
}

#[test]
fn defaults_and_additions() {
    let def = yaml(
        r#"
name: t
version: "2"
strategy: resource_aware
steps:
  - name: a
    tool: chat
    priority: -3
    idempotent: true
    resources: { cpu: 0.5, memory_mb: 512 }
    timeout: "30s"
  - name: b
    capability: data_processing
    action: crunch
    params: { x: [1, "$steps.a.result.n"] }
    dependsOn: [a, a]
    compensation: { action: uncrunch }
"#,
    )
    .unwrap();
    assert_eq!(def.strategy, Strategy::ResourceAware);
    assert!(def.output.is_none() && def.timeout.is_none() && def.input_schema.is_none());
    let a = &def.steps[0];
    assert_eq!(
        a.target,
        Target::Tool {
            name: "chat".into()
        }
    );
    assert_eq!((a.priority, a.idempotent), (-3, true));
    assert_eq!(
        a.resources,
        Resources {
            cpu: 0.5,
            memory_mb: 512
        }
    );
    assert_eq!(a.timeout, Some(Duration::from_secs(30)));
    assert_eq!(render(&a.params, &json!({}), &BTreeMap::new()), json!({}));
    let b = &def.steps[1];
    assert_eq!(b.depends_on, [0]);
    assert_eq!(
        b.compensation.as_ref().unwrap().target,
        Target::Capability {
            capability: "data_processing".into(),
            tool: "uncrunch".into()
        }
    );
    for s in Strategy::ALL {
        assert_eq!(Strategy::parse(s.as_str()), Some(*s));
    }
    assert_eq!(Strategy::default(), Strategy::Parallel);
}

// ---------------------------------------------------------------------------------------------
// Errors name the file and the key

#[test]
fn unknown_keys_are_named_by_path() {
    assert_error(
        &seed_with("description:", "descripton:"),
        "descripton",
        "unknown field `descripton`",
    );
    assert_error(
        &seed_with("dependsOn:", "dependsOnn:"),
        "steps[2].dependsOnn",
        "unknown field `dependsOnn`",
    );
    assert_error(
        &seed_with("      action: send_cancellation_notice", "      actoin: x"),
        "steps[2].compensation.actoin",
        "unknown field `actoin`",
    );
    assert_error(
        &one_step("    tool: chat\n    resources: { gpu: 1 }\n"),
        "steps[0].resources.gpu",
        "unknown field `gpu`",
    );
}

#[test]
fn wrong_types_and_syntax_are_named() {
    assert_error(
        &seed_with("retries: 2", "retries: many"),
        "steps[0].retries",
        "invalid type",
    );
    assert_error(
        &seed_with("version: \"1.0.0\"", "version: 1.0"),
        "version",
        "must be a string",
    );
    let e = error("name: [unclosed\n");
    assert!(e.message.contains("line"), "{e}");
    let e = error("- a list\n");
    assert_eq!(e.at, "");
    assert!(e.message.contains("expected a workflow document"), "{e}");
    let e = parse(Path::new("wf/t.json"), "{\"name\": \"t\",}", &world()).unwrap_err();
    assert_eq!((e.file.to_str(), e.at.as_str()), (Some("wf/t.json"), ""));
    let e = parse(Path::new("wf/t.json"), "{\"name\": 3}", &world()).unwrap_err();
    assert_eq!(e.at, "name");
    let e = parse(Path::new("wf/t.toml"), "", &world()).unwrap_err();
    assert!(e.message.contains(".yaml"), "{e}");
    assert_error(
        "name: t\nversion: \"1\"\nsteps: []\n",
        "steps",
        "at least one step",
    );
    assert_error(
        &seed_with("strategy: parallel", "strategy: fastest"),
        "strategy",
        "resource_aware",
    );
    assert_error(
        &seed_with("  type: object", "  type: string"),
        "input.type",
        "`type` must be `object`",
    );
    assert_error(
        &seed_with("params: { phone: $input.phone }", "params: [1]"),
        "steps[0].params",
        "must be an object",
    );
    assert_error(
        &one_step("    tool: chat\n    resources: { cpu: -1 }\n"),
        "steps[0].resources.cpu",
        "CPU",
    );
}

#[test]
fn bad_names_and_duplicate_steps() {
    assert_error(
        &seed_with("name: send_coached_sms", "name: send coached sms"),
        "name",
        "bad workflow name `send coached sms`",
    );
    let long = "x".repeat(55);
    assert_error(
        &seed_with("name: send_coached_sms", &format!("name: {long}")),
        "name",
        "1 to 54",
    );
    assert_error(
        &seed_with("name: get_coach_info", "name: get.coach"),
        "steps[1].name",
        "bad step name `get.coach`",
    );
    assert_error(
        &seed_with("name: get_coach_info", "name: get_contact"),
        "steps[1].name",
        "step `get_contact` is defined twice (also steps[0])",
    );
}

#[test]
fn a_step_has_exactly_one_target() {
    assert_error(
        &one_step("    mcp: textbee\n    action: send\n    tool: chat\n"),
        "steps[0]",
        "the step has `mcp`, `action` and `tool`",
    );
    assert_error(
        &one_step("    tool: chat\n    capability: data_processing\n"),
        "steps[0]",
        "the step has `tool` and `capability`",
    );
    assert_error(&one_step("    params: {}\n"), "steps[0]", "no target");
    assert_error(
        &one_step("    mcp: textbee\n"),
        "steps[0]",
        "`mcp` needs `action`",
    );
    assert_error(
        &one_step("    action: send\n"),
        "steps[0]",
        "`action` needs `mcp`",
    );
    assert_error(
        &one_step("    capability: data_processing\n"),
        "steps[0]",
        "`capability` needs `action`",
    );
}

#[test]
fn targets_are_checked_against_the_world() {
    assert_error(
        &seed_with("mcp: textbee", "mcp: textbea"),
        "steps[2].mcp",
        "unknown server `textbea`",
    );
    assert_error(
        &seed_with("action: send\n", "action: sned\n"),
        "steps[2].action",
        "server `textbee` has no tool `sned`",
    );
    // main-platform is not up: its tools cannot be told, so no error.
    assert!(yaml(&seed_with("action: get_coach", "action: anything")).is_ok());
    assert_error(
        &one_step("    capability: gpu\n    action: x\n"),
        "steps[0].capability",
        "unknown capability `gpu`",
    );
    assert_error(
        &one_step("    tool: chatt\n"),
        "steps[0].tool",
        "unknown tool `chatt`",
    );
    assert_error(
        &one_step("    tool: workflow__t\n"),
        "steps[0].tool",
        "cannot call itself",
    );
    assert!(yaml(&one_step("    tool: workflow__other\n")).is_ok());
    // Without a host surface, any tool name passes.
    let w = World {
        host_tool: None,
        ..world()
    };
    assert!(parse(Path::new("t.yaml"), &one_step("    tool: chatt\n"), &w).is_ok());
}

#[test]
fn compensations_are_checked() {
    assert_error(
        &seed_with("action: send_cancellation_notice", "action: unsend"),
        "steps[2].compensation.action",
        "server `textbee` has no tool `unsend`",
    );
    assert_error(
        &seed_with(
            "action: send_cancellation_notice",
            "action: x\n      mcp: nowhere",
        ),
        "steps[2].compensation.mcp",
        "unknown server `nowhere`",
    );
    assert_error(
        &one_step("    tool: chat\n    compensation: { action: undo }\n"),
        "steps[0].compensation.action",
        "`action` needs `mcp`",
    );
    assert_error(
        &one_step("    tool: chat\n    compensation: { retries: 1 }\n"),
        "steps[0].compensation",
        "no target",
    );
    assert_error(
        &one_step("    tool: chat\n    compensation: { tool: embed, action: x }\n"),
        "steps[0].compensation",
        "not both",
    );
    let def = yaml(&one_step(
        "    tool: chat\n    compensation: { tool: embed, retries: 5, params: { id: $steps.a.result.id } }\n",
    ))
    .unwrap();
    let c = def.steps[0].compensation.as_ref().unwrap();
    assert_eq!(
        c.target,
        Target::Tool {
            name: "embed".into()
        }
    );
    assert_eq!(c.retries, 5);
}

#[test]
fn depends_on_names_exist_and_make_no_cycle() {
    assert_error(
        &seed_with(
            "dependsOn: [get_contact, get_coach_info]",
            "dependsOn: [get_contact, nope]",
        ),
        "steps[2].dependsOn[1]",
        "unknown step `nope`",
    );
    assert_error(
        &one_step("    tool: chat\n    dependsOn: [a]\n"),
        "steps[0].dependsOn[0]",
        "dependency cycle: a → a",
    );
    let e = error(
        r#"
name: t
version: "1"
steps:
  - { name: a, tool: chat, dependsOn: [c] }
  - { name: b, tool: chat, dependsOn: [a] }
  - { name: c, tool: chat, dependsOn: [b] }
  - { name: d, tool: chat }
"#,
    );
    assert_eq!(e.at, "steps[0].dependsOn");
    assert_eq!(e.message, "dependency cycle: a → b → c → a");
}

#[test]
fn steps_read_only_upstream_steps() {
    // get_coach_info runs in parallel with get_contact: it cannot read it.
    assert_error(
        &seed_with(
            "params: { coach_id: $input.coach_id }",
            "params: { coach_id: $steps.get_contact.result.coach }",
        ),
        "steps[1].params.coach_id",
        "step `get_coach_info` reads step `get_contact`, which is not upstream of it",
    );
    assert_error(
        &seed_with(
            "params: { coach_id: $input.coach_id }",
            "params: { coach_id: \"id ${steps.get_coach_info.result.id}\" }",
        ),
        "steps[1].params.coach_id",
        "cannot read its own result",
    );
    assert_error(
        &seed_with(
            "    parallel: true",
            "    parallel: true\n    condition: steps.get_contact.result.score > 5",
        ),
        "steps[1].condition",
        "step `get_coach_info` reads step `get_contact`, which is not upstream of it",
    );
    assert_error(
        &seed_with(
            "    parallel: true",
            "    parallel: true\n    condition: steps[\"send_sms\"].result.ok",
        ),
        "steps[1].condition",
        "reads step `send_sms`",
    );
    assert_error(
        &seed_with(
            "    parallel: true",
            "    parallel: true\n    condition: $steps.ghost.result",
        ),
        "steps[1].condition",
        "reads unknown step `ghost`",
    );
    assert_error(
        &seed_with(
            "sms_id: $steps.send_sms.result.id",
            "sms_id: $steps.ghost.result.id",
        ),
        "output.sms_id",
        "unknown step `ghost`",
    );
    // Transitively upstream is enough; a compensation may read its own step.
    let def = yaml(
        r#"
name: t
version: "1"
steps:
  - { name: a, tool: chat }
  - { name: b, tool: chat, dependsOn: [a] }
  - name: c
    tool: chat
    dependsOn: [b]
    params: { x: $steps.a.result }
    condition: "steps.a.result.n > 1"
    compensation: { tool: embed, params: { id: $steps.c.result.id } }
"#,
    )
    .unwrap();
    assert_eq!(def.upstream(2), BTreeSet::from([0, 1]));
}

#[test]
fn bad_templates_are_errors_at_their_key() {
    for (bad, says) in [
        ("$nope.x", "bad template `$nope.x`"),
        ("$input.", "cannot read `.`"),
        ("$steps.a", "must be followed by `.result`"),
        ("$steps.a.results", "must be followed by `.result`"),
        ("$input[x]", "not an array index"),
        ("$input[0", "without `]`"),
        ("$input.a b", "cannot read ` b`"),
        ("$5 off", "bad template"),
        ("hi ${unclosed", "not closed"),
        ("${input.a", "not closed"),
        ("x ${} y", "bad template"),
        ("x ${nope} y", "bad template"),
    ] {
        let text = seed_with(
            "message: \"Previous message cancelled\"",
            &format!("message: {}", serde_json::to_string(bad).unwrap()),
        );
        let e = error(&text);
        assert_eq!(e.at, "steps[2].compensation.params.message", "{bad}: {e}");
        assert!(e.message.contains(says), "{bad}: {e}");
    }
    assert_error(
        &seed_with("sms_id: $steps.send_sms.result.id", "sms_id: [1, $steps.x]"),
        "output.sms_id[1]",
        "bad template",
    );
    assert_error(
        &seed_with(
            "condition: $steps.get_contact.result.opted_in",
            "condition: $step.x",
        ),
        "steps[2].condition",
        "bad condition",
    );
    assert_error(
        &seed_with(
            "condition: $steps.get_contact.result.opted_in",
            "condition: \"1 +\"",
        ),
        "steps[2].condition",
        "not valid CEL",
    );
    assert_error(
        &seed_with(
            "condition: $steps.get_contact.result.opted_in",
            "condition: \"step.x == 1\"",
        ),
        "steps[2].condition",
        "unknown variable `step`",
    );
    assert_error(
        &seed_with(
            "condition: $steps.get_contact.result.opted_in",
            "condition: \"size(steps) > 0\"",
        ),
        "steps[2].condition",
        "use `steps` as `steps.<step>`",
    );
}

#[test]
fn bad_durations_are_errors() {
    for (bad, at) in [
        ("timeout: 180000  ", "timeout"),
        ("timeout: 15000", "steps[0].timeout"),
    ] {
        for value in ["0", "-5", "1.5", "\"3d\"", "\"soon\"", "true"] {
            let key = at.rsplit('.').next().unwrap_or(at);
            let text = seed_with(bad.trim_end(), &format!("{key}: {value}"));
            let e = error(&text);
            assert_eq!(e.at, at, "{value}: {e}");
            assert!(
                e.message.contains("milliseconds") || e.message.contains("more than 0"),
                "{e}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

fn template(v: Value) -> Template {
    template::Template::parse(&v, "t").unwrap()
}

#[test]
fn whole_references_keep_their_type() {
    let input = json!({"n": 3, "o": {"k": [1, 2]}, "s": "x"});
    let steps = results(&[(
        "search",
        json!({"results": [{"url": "https://a"}, {"url": "https://b"}], "n": 2.5}),
    )]);
    let t = template(json!({
        "n": "$input.n",
        "o": "$input.o",
        "all": "$input",
        "url": "$steps.search.result.results[1].url",
        "first": "$steps.search.result.results[0]",
        "whole": "$steps.search.result.n",
        "nested": ["$input.o.k[0]", {"deep": "$input.s"}],
        "lit": [1, "plain", true],
    }));
    assert_eq!(
        render(&t, &input, &steps),
        json!({
            "n": 3,
            "o": {"k": [1, 2]},
            "all": input,
            "url": "https://b",
            "first": {"url": "https://a"},
            "whole": 2.5,
            "nested": [1, {"deep": "x"}],
            "lit": [1, "plain", true],
        })
    );
}

#[test]
fn missing_values_are_null_whole_and_empty_inside_text() {
    let input = json!({"a": {"b": 1}, "list": []});
    let steps = results(&[("done", json!({"x": 1}))]);
    let t = template(json!({
        "missing": "$input.a.c",
        "through_scalar": "$input.a.b.c",
        "index": "$input.list[3]",
        "key_on_array": "$input.list.x",
        "skipped": "$steps.skipped.result.x",
        "skipped_whole": "$steps.skipped.result",
        "text": "[${input.nope}] [${steps.skipped.result}]",
        "artifact": "$artifacts.abc-123",
    }));
    assert_eq!(
        render(&t, &input, &steps),
        json!({
            "missing": null,
            "through_scalar": null,
            "index": null,
            "key_on_array": null,
            "skipped": null,
            "skipped_whole": null,
            "text": "[] []",
            "artifact": null,
        })
    );
}

#[test]
fn interpolation_and_the_dollar_escape() {
    let input = json!({"name": "Ann", "n": 4, "o": {"a": [1, "x"]}, "t": true});
    let t = template(json!({
        "greeting": "Hi ${input.name}, you have ${input.n} (${ input.o }) ${input.t}",
        "escaped": "$$input.name costs $$5",
        "lone": "costs $5 and ${input.n}$",
        "only_escape": "$$",
        "adjacent": "${input.name}${input.name}",
    }));
    assert_eq!(
        render(&t, &input, &BTreeMap::new()),
        json!({
            "greeting": "Hi Ann, you have 4 ({\"a\":[1,\"x\"]}) true",
            "escaped": "$input.name costs $5",
            "lone": "costs $5 and 4$",
            "only_escape": "$",
            "adjacent": "AnnAnn",
        })
    );
    assert!(t.steps_referenced().is_empty());
}

#[test]
fn references_are_listed_and_artifacts_resolve() {
    let t = template(json!({
        "a": "$artifacts.art-1",
        "b": "${artifacts.art-2.name} ${steps.x.result}",
        "c": "$artifacts.art-1.size_bytes",
    }));
    assert_eq!(
        t.artifacts_referenced(),
        BTreeSet::from(["art-1".to_owned(), "art-2".to_owned()])
    );
    assert_eq!(t.steps_referenced(), BTreeSet::from(["x".to_owned()]));
    let artifacts = |id: &str| (id == "art-1").then(|| json!({"name": "m", "size_bytes": 7}));
    let v = t
        .render(&Scope {
            input: &Value::Null,
            steps: &results(&[("x", json!("done"))]),
            artifacts: &artifacts,
        })
        .unwrap();
    assert_eq!(
        v,
        json!({"a": {"name": "m", "size_bytes": 7}, "b": " done", "c": 7})
    );
}

#[test]
fn the_seed_renders() {
    let def = seed();
    let input = json!({"phone": "+1", "coach_id": "c9", "message": "Hello"});
    let steps = results(&[
        ("get_contact", json!({"phone": "+1", "opted_in": true})),
        ("get_coach_info", json!({"phone": "+2", "name": "Kim"})),
        ("send_sms", json!({"id": 77})),
    ]);
    assert_eq!(
        render(&def.steps[2].params, &input, &steps),
        json!({"to": "+1", "from": "+2", "message": "Hello (sent by Kim)"})
    );
    assert_eq!(
        render(def.output.as_ref().unwrap(), &input, &steps),
        json!({"sms_id": 77})
    );
    let scope = Scope {
        input: &input,
        steps: &steps,
        artifacts: &no_artifacts,
    };
    assert_eq!(
        def.steps[2].condition.as_ref().unwrap().evaluate(&scope),
        Ok(true)
    );
}

// ---------------------------------------------------------------------------------------------
// Conditions

fn condition(source: &str) -> Condition {
    Condition::parse(source).unwrap()
}

fn evaluate(
    c: &Condition,
    input: &Value,
    steps: &BTreeMap<String, Value>,
) -> Result<bool, TemplateError> {
    c.evaluate(&Scope {
        input,
        steps,
        artifacts: &no_artifacts,
    })
}

#[test]
fn a_whole_reference_is_read_for_truthiness() {
    let c = condition("$steps.s.result.v");
    for (v, truthy) in [
        (json!(null), false),
        (json!(false), false),
        (json!(0), false),
        (json!(0.0), false),
        (json!(""), false),
        (json!([]), false),
        (json!({}), false),
        (json!(true), true),
        (json!(1), true),
        (json!(-0.5), true),
        (json!("no"), true),
        (json!("false"), true),
        (json!([0]), true),
        (json!({"a": null}), true),
    ] {
        let steps = results(&[("s", json!({"v": v}))]);
        assert_eq!(evaluate(&c, &json!({}), &steps), Ok(truthy), "{v}");
    }
    // A step with no result (skipped) is null: false.
    assert_eq!(evaluate(&c, &json!({}), &BTreeMap::new()), Ok(false));
    assert_eq!(
        evaluate(
            &condition("$input.flag"),
            &json!({"flag": 1}),
            &BTreeMap::new()
        ),
        Ok(true)
    );
}

#[test]
fn cel_conditions_compare_and_combine() {
    let c = condition("steps.get_contact.result.score > 5 && input.flag == true");
    assert_eq!(
        c.steps_referenced(),
        BTreeSet::from(["get_contact".to_owned()])
    );
    let steps = |score: Value| results(&[("get_contact", json!({"score": score}))]);
    assert_eq!(
        evaluate(&c, &json!({"flag": true}), &steps(json!(6))),
        Ok(true)
    );
    assert_eq!(
        evaluate(&c, &json!({"flag": true}), &steps(json!(5))),
        Ok(false)
    );
    assert_eq!(
        evaluate(&c, &json!({"flag": false}), &steps(json!(9))),
        Ok(false)
    );
    assert_eq!(
        evaluate(&c, &json!({"flag": true}), &steps(json!(5.5))),
        Ok(true)
    );

    let arithmetic = condition("steps.a.result.n + 1 == 3 && size(input.list) == 2");
    assert_eq!(
        evaluate(
            &arithmetic,
            &json!({"list": [1, 2]}),
            &results(&[("a", json!({"n": 2}))])
        ),
        Ok(true)
    );
    let macros = condition(
        "has(steps.a.result.x) || input.items.exists(i, i.ok) && steps[\"b-2\"].result == 'y'",
    );
    assert_eq!(
        macros.steps_referenced(),
        BTreeSet::from(["a".to_owned(), "b-2".to_owned()])
    );
    assert_eq!(
        evaluate(
            &macros,
            &json!({"items": [{"ok": false}, {"ok": true}]}),
            &results(&[("a", json!({})), ("b-2", json!("y"))])
        ),
        Ok(true)
    );
    // A skipped step reads as a null result.
    let guarded = condition("steps.a.result != null && steps.a.result.ok");
    assert_eq!(evaluate(&guarded, &json!({}), &BTreeMap::new()), Ok(false));
}

#[test]
fn cel_errors_and_non_bool_results_are_template_errors() {
    let e = evaluate(
        &condition("input.n + 1"),
        &json!({"n": 1}),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        TemplateError::NotBool {
            condition: "input.n + 1".into(),
            got: "2".into()
        }
    );
    assert!(e.to_string().contains("input.n + 1"), "{e}");
    let e = evaluate(
        &condition("input.missing == 1"),
        &json!({}),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, TemplateError::Condition { condition, .. } if condition == "input.missing == 1"),
        "{e:?}"
    );
    let e = evaluate(
        &condition("steps.a.result.ok"),
        &json!({}),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(matches!(e, TemplateError::Condition { .. }), "{e:?}");
}

#[test]
fn definitions_are_shareable_across_tasks() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Definition>();
}

// ---------------------------------------------------------------------------------------------
// Loading a directory

#[test]
fn load_dir_keeps_good_files_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("b_seed.yaml", SEED_YAML);
    write(
        "a_broken.yml",
        "name: broken\nversion: \"1\"\nsteps: [{ name: x }]\n",
    );
    write("c_again.json", SEED_JSON);
    write(
        "d_other.json",
        r#"{"name": "aaa", "version": "1", "steps": [{"name": "s", "tool": "chat"}]}"#,
    );
    write("notes.txt", "not a workflow");
    std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();

    let loaded = load_dir(dir.path(), &world());
    let names: Vec<&str> = loaded.definitions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["aaa", "send_coached_sms"]);
    assert_eq!(loaded.definitions[1].file, dir.path().join("b_seed.yaml"));

    assert_eq!(loaded.errors.len(), 2, "{:?}", loaded.errors);
    let broken = &loaded.errors[0];
    assert_eq!(broken.file, dir.path().join("a_broken.yml"));
    assert_eq!(broken.at, "steps[0]");
    let twice = &loaded.errors[1];
    assert_eq!(twice.file, dir.path().join("c_again.json"));
    assert_eq!(twice.at, "name");
    assert!(
        twice
            .message
            .contains(&dir.path().join("b_seed.yaml").display().to_string()),
        "{twice}"
    );

    let missing = load_dir(&dir.path().join("nope"), &world());
    assert!(missing.definitions.is_empty() && missing.errors.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Graphs

fn states() -> BTreeMap<String, StepStatus> {
    BTreeMap::from([
        ("get_contact".to_owned(), StepStatus::Completed),
        ("get_coach_info".to_owned(), StepStatus::Failed),
        ("send_sms".to_owned(), StepStatus::Pending),
    ])
}

#[test]
fn mermaid_graph() {
    let def = seed();
    insta::assert_snapshot!("seed_mermaid", mermaid(&def, None));
    insta::assert_snapshot!("seed_mermaid_states", mermaid(&def, Some(&states())));
}

#[test]
fn dot_graph() {
    let def = seed();
    insta::assert_snapshot!("seed_dot", dot(&def, None));
    insta::assert_snapshot!("seed_dot_states", dot(&def, Some(&states())));
}

#[test]
fn every_state_has_a_colour_but_pending() {
    let def = yaml(
        r#"
name: t
version: "1"
steps:
  - { name: a, tool: chat }
  - { name: b, capability: data_processing, action: go, dependsOn: [a] }
"#,
    )
    .unwrap();
    for s in StepStatus::ALL {
        let states = BTreeMap::from([("a".to_owned(), *s)]);
        let m = mermaid(&def, Some(&states));
        let d = dot(&def, Some(&states));
        let coloured = *s != StepStatus::Pending;
        assert_eq!(m.contains(&format!("classDef {s} ")), coloured, "{m}");
        assert_eq!(m.contains(&format!("class s0 {s}")), coloured, "{m}");
        assert_eq!(
            d.matches("fillcolor=").count(),
            1 + usize::from(coloured),
            "{d}"
        );
    }
}
