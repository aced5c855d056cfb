//! A deliberately misbehaving MCP server for the orchestrator's process tests.
//!
//! Flags (any combination):
//! - `--exit-at-start CODE`: print a line on stderr and exit before speaking MCP;
//! - `--crash-after N`: exit with code 3 when the N-th tool call arrives;
//! - `--garbage`: write non-JSON lines to stdout before and between messages;
//! - `--grandchild`: start `sleep 300` in the background (same process group), as npx does;
//! - `--slow-start MS`: sleep before serving;
//! - `--long-names`: add a tool whose name is far over 64 characters;
//! - `--tool NAME`: add an extra echo tool under NAME (repeatable), for collision tests.
//!
//! Tools: `echo`, `add`, `slow` (progress), `hang` (never answers), `crash` (exits mid-call),
//! `freeze` (blocks the whole server, so pings go unanswered), `add_tool` (adds a tool and sends
//! list_changed), `env_names` (names of the variables it was given), `stderr` (writes a line).
//! Also a prompt `greet` and a resource `fixture://info`.

use std::{
    io::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, model::*, service::RequestContext,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Opts {
    crash_after: Option<u32>,
    garbage: bool,
    long_names: bool,
    extra_tools: Vec<String>,
}

#[derive(Clone)]
struct Fixture {
    opts: Arc<Opts>,
    calls: Arc<AtomicU32>,
    added: Arc<Mutex<Vec<String>>>,
}

fn schema(v: Value) -> Arc<JsonObject> {
    Arc::new(serde_json::from_value(v).unwrap_or_default())
}

fn text(s: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(s.into())])
}

impl Fixture {
    fn tools(&self) -> Vec<Tool> {
        let obj = |props: Value| schema(json!({"type": "object", "properties": props}));
        let mut tools = vec![
            Tool::new(
                "echo",
                "Echoes `message`.",
                obj(json!({"message": {"type": "string"}})),
            ),
            Tool::new(
                "add",
                "Adds a and b.",
                obj(json!({"a": {"type": "number"}, "b": {"type": "number"}})),
            ),
            Tool::new(
                "slow",
                "Sleeps `ms` milliseconds in `steps` steps, reporting progress.",
                obj(json!({"ms": {"type": "integer"}, "steps": {"type": "integer"}})),
            ),
            Tool::new("hang", "Never answers.", obj(json!({}))),
            Tool::new("crash", "Exits the process mid-call.", obj(json!({}))),
            Tool::new(
                "freeze",
                "Blocks the whole server for `ms` milliseconds.",
                obj(json!({"ms": {"type": "integer"}})),
            ),
            Tool::new(
                "add_tool",
                "Adds a tool named `name` and sends tools/list_changed.",
                obj(json!({"name": {"type": "string"}})),
            ),
            Tool::new(
                "env_names",
                "Names of the environment variables this process has.",
                obj(json!({})),
            ),
            Tool::new(
                "stderr",
                "Writes `text` to stderr.",
                obj(json!({"text": {"type": "string"}})),
            ),
            Tool::new(
                "fail",
                "Returns a tool error (isError) with `message`.",
                obj(json!({"message": {"type": "string"}})),
            ),
        ];
        if self.opts.long_names {
            tools.push(Tool::new(
                "a_tool_name_that_is_much_longer_than_sixty_four_characters_allowed_by_hosts",
                "Long-named echo.",
                obj(json!({"message": {"type": "string"}})),
            ));
        }
        for name in self
            .opts
            .extra_tools
            .iter()
            .chain(self.added.lock().unwrap().iter())
        {
            tools.push(Tool::new(
                name.clone(),
                "Extra echo.",
                obj(json!({"message": {"type": "string"}})),
            ));
        }
        tools
    }
}

fn arg<'a>(req: &'a CallToolRequestParams, key: &str) -> Option<&'a Value> {
    req.arguments.as_ref().and_then(|a| a.get(key))
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("fixture", "1.0.0"))
    }

    async fn list_tools(
        &self,
        _r: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        req: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.opts.crash_after.is_some_and(|limit| n >= limit) {
            eprintln!("fixture: crashing on call {n} as asked");
            std::process::exit(3);
        }
        if self.opts.garbage {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "this is not JSON-RPC {{ at all");
            let _ = out.flush();
        }
        let s = |k: &str| {
            arg(&req, k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let u = |k: &str, d: u64| arg(&req, k).and_then(Value::as_u64).unwrap_or(d);
        let result = match req.name.as_ref() {
            "echo" => text(format!("echo: {}", s("message"))),
            "add" => {
                let f = |k: &str| arg(&req, k).and_then(Value::as_f64).unwrap_or(0.0);
                let sum = f("a") + f("b");
                let mut r = text(sum.to_string());
                r.structured_content = Some(json!({"sum": sum}));
                r
            }
            "slow" => {
                let (ms, steps) = (u("ms", 200), u("steps", 4).max(1));
                for i in 1..=steps {
                    tokio::time::sleep(Duration::from_millis(ms / steps)).await;
                    if let Some(token) = cx.meta.get_progress_token() {
                        let mut p = ProgressNotificationParam::new(token, i as f64);
                        p.total = Some(steps as f64);
                        let _ = cx.peer.notify_progress(p).await;
                    }
                }
                text(format!("slept {ms} ms"))
            }
            "hang" => {
                cx.ct.cancelled().await;
                eprintln!("fixture: hang was cancelled");
                return Err(McpError::internal_error("cancelled", None));
            }
            "crash" => {
                eprintln!("fixture: crash tool called");
                std::process::exit(4);
            }
            "freeze" => {
                std::thread::sleep(Duration::from_millis(u("ms", 60_000)));
                text("thawed")
            }
            "add_tool" => {
                self.added.lock().unwrap().push(s("name"));
                let _ = cx.peer.notify_tool_list_changed().await;
                text("added")
            }
            "env_names" => {
                let mut names: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                names.sort();
                let mut r = text(names.join(","));
                r.structured_content = Some(json!({"names": names}));
                r
            }
            "fail" => {
                let mut r = CallToolResult::error(vec![ContentBlock::text(s("message"))]);
                r.structured_content = Some(json!({"reason": s("message")}));
                r
            }
            "stderr" => {
                eprintln!("{}", s("text"));
                text("written")
            }
            other if self.tools().iter().any(|t| t.name == other) => {
                text(format!("{other}: {}", s("message")))
            }
            other => return Err(McpError::invalid_params(format!("no tool {other}"), None)),
        };
        Ok(result.into())
    }

    async fn list_prompts(
        &self,
        _r: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("Greets someone."),
            Some(vec![PromptArgument::new("name").with_required(true)]),
        )]))
    }

    async fn get_prompt(
        &self,
        req: GetPromptRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let name = req
            .arguments
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("you")
            .to_owned();
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Hello, {name}!"),
        )])
        .into())
    }

    async fn list_resources(
        &self,
        _r: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "fixture://info",
            "info",
        )]))
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        Ok(ReadResourceResult::new(vec![ResourceContents::text("fixture info", req.uri)]).into())
    }
}

fn main() {
    let mut opts = Opts::default();
    let mut args = std::env::args().skip(1);
    let mut exit_at_start = None;
    let mut grandchild = false;
    let mut slow_start = 0u64;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--exit-at-start" => exit_at_start = args.next().and_then(|v| v.parse::<i32>().ok()),
            "--crash-after" => opts.crash_after = args.next().and_then(|v| v.parse().ok()),
            "--garbage" => opts.garbage = true,
            "--grandchild" => grandchild = true,
            "--slow-start" => slow_start = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--long-names" => opts.long_names = true,
            "--tool" => opts.extra_tools.extend(args.next()),
            other => {
                eprintln!("fixture: unknown flag {other}");
                std::process::exit(64);
            }
        }
    }
    if let Some(code) = exit_at_start {
        eprintln!("fixture: exiting at start with code {code} as asked");
        std::process::exit(code);
    }
    if grandchild {
        match std::process::Command::new("sleep")
            .arg("300")
            .stdin(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => eprintln!("fixture: grandchild pid {}", c.id()),
            Err(e) => eprintln!("fixture: cannot start grandchild: {e}"),
        }
    }
    std::thread::sleep(Duration::from_millis(slow_start));
    if opts.garbage {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "garbage before the handshake");
        let _ = out.flush();
    }
    // One thread: `freeze` must stop the whole server, pings included.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let server = Fixture {
            opts: Arc::new(opts),
            calls: Arc::default(),
            added: Arc::default(),
        };
        match server.serve(rmcp::transport::stdio()).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => eprintln!("fixture: {e}"),
        }
    });
    eprintln!("fixture: stdin closed, exiting");
}
