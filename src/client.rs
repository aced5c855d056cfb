#![doc = include_str!("client/README.md")]

mod types;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
    transport::async_rw::AsyncRwTransport,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::process::{Child, Command};

pub use types::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Message, Model, RouteOptions,
    SearchRequest, SearchResponse, SearchResult, Units, WeatherRequest, WeatherResponse,
};

pub use crate::report::{
    ArtifactKind, ArtifactReport, Attempt, AttemptOutcome, CapabilitiesReport, JobKind, JobReport,
    JobStatus, Lineage, Routing, RunReport, RunStatus, StatusReport, WorkflowRun,
};

/// The variable naming the `mcp-orchestrator` binary to start, when it is not on `PATH`.
pub const BIN_ENV: &str = "MCP_ORCHESTRATOR_BIN";

/// What can go wrong talking to the orchestrator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The process could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// What was run.
        program: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The MCP session could not be set up or broke.
    #[error("MCP session with the orchestrator failed: {0}")]
    Session(String),
    /// A JSON-RPC error (bad arguments, unknown tool, a server that is down…).
    #[error("{tool}: {source}")]
    Rpc {
        /// The tool called.
        tool: String,
        /// The error.
        source: rmcp::ServiceError,
    },
    /// The tool ran and failed (`isError`): the message says why, the routing what was tried.
    #[error("{tool} failed: {message}")]
    Tool {
        /// The tool called.
        tool: String,
        /// The tool's own message.
        message: String,
        /// For unified tools, every vendor tried and why each failed.
        routing: Option<Routing>,
    },
    /// The answer did not have the expected shape.
    #[error("{tool}: unexpected answer: {source}")]
    Decode {
        /// The tool called.
        tool: String,
        /// The decoding error.
        source: serde_json::Error,
    },
}

/// A session with an orchestrator (or any MCP server) running as a child process.
pub struct Client {
    service: RunningService<RoleClient, ()>,
    child: Option<Child>,
}

impl Client {
    /// Starts `mcp-orchestrator --config CONFIG serve` and connects to it. The binary is
    /// `$MCP_ORCHESTRATOR_BIN`, else the one next to the running executable, else `PATH`'s.
    pub async fn spawn(config: impl AsRef<Path>) -> Result<Self, ClientError> {
        Self::spawn_with(orchestrator_bin(), config).await
    }

    /// Like [`Client::spawn`], with an explicit binary.
    pub async fn spawn_with(
        bin: impl AsRef<Path>,
        config: impl AsRef<Path>,
    ) -> Result<Self, ClientError> {
        let mut cmd = Command::new(bin.as_ref());
        cmd.arg("--config").arg(config.as_ref()).arg("serve");
        Self::from_command(cmd).await
    }

    /// Starts any stdio MCP server command and connects to it.
    pub async fn from_command(mut cmd: Command) -> Result<Self, ClientError> {
        let program = format!("{:?}", cmd.as_std().get_program());
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|source| ClientError::Spawn { program, source })?;
        let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
            return Err(ClientError::Session("the child has no stdio pipes".into()));
        };
        let transport = AsyncRwTransport::new_client(stdout, stdin);
        let service = ().serve(transport).await.map_err(|e| ClientError::Session(e.to_string()))?;
        Ok(Self {
            service,
            child: Some(child),
        })
    }

    /// Wraps an established session (e.g. over a socket).
    pub fn from_service(service: RunningService<RoleClient, ()>) -> Self {
        Self {
            service,
            child: None,
        }
    }

    /// `chat` on the first vendor that works.
    pub async fn chat(&self, req: impl Into<ChatRequest>) -> Result<ChatResponse, ClientError> {
        self.typed("chat", req.into().to_arguments()).await
    }

    /// `embed`.
    pub async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse, ClientError> {
        self.typed("embed", req.to_arguments()).await
    }

    /// `search_web`.
    pub async fn search_web(
        &self,
        req: impl Into<SearchRequest>,
    ) -> Result<SearchResponse, ClientError> {
        self.typed("search_web", req.into().to_arguments()).await
    }

    /// `get_weather`.
    pub async fn get_weather(
        &self,
        req: impl Into<WeatherRequest>,
    ) -> Result<WeatherResponse, ClientError> {
        self.typed("get_weather", req.into().to_arguments()).await
    }

    /// Every vendor's models.
    pub async fn list_models(&self) -> Result<Vec<Model>, ClientError> {
        let list: types::ModelList = self.typed("list_models", Map::new()).await?;
        Ok(list.models)
    }

    /// Every tool the host would see, by server.
    pub async fn capabilities(&self) -> Result<CapabilitiesReport, ClientError> {
        self.typed("orchestrator_capabilities", Map::new()).await
    }

    /// The state of every server.
    pub async fn status(&self) -> Result<StatusReport, ClientError> {
        self.typed("orchestrator_status", Map::new()).await
    }

    /// Waits until no server is still starting or restarting (or `limit` passes), and returns
    /// the status then. Servers start in the background, so a status taken right after
    /// [`Client::spawn`] shows them `starting`.
    pub async fn wait_ready(&self, limit: Duration) -> Result<StatusReport, ClientError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let status = self.status().await?;
            let settled = status.servers.values().all(|s| s.state.is_settled());
            if settled || tokio::time::Instant::now() >= deadline {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the workflow `name` with `input` and waits for it to end. A run that failed or was
    /// compensated is an `Ok` too: its `status` and `error` say how it ended, and its `run_id`
    /// finds its steps and events ([`Client::workflow_status`]).
    pub async fn run_workflow(&self, name: &str, input: Value) -> Result<WorkflowRun, ClientError> {
        let tool = format!("workflow__{name}");
        let r = self.call_tool(&tool, input).await?;
        let structured = r.structured_content.unwrap_or(Value::Null);
        serde_json::from_value(structured).map_err(|source| ClientError::Decode { tool, source })
    }

    /// Starts the workflow `name` and returns its run id at once.
    pub async fn start_workflow(
        &self,
        name: &str,
        input: Value,
        priority: i64,
    ) -> Result<String, ClientError> {
        let mut args = Map::new();
        args.insert("workflow".into(), name.into());
        args.insert("input".into(), input);
        args.insert("priority".into(), priority.into());
        let started: Value = self.typed("workflow_start", args).await?;
        Ok(started["run_id"].as_str().unwrap_or_default().to_owned())
    }

    /// A run's state, its steps and its output.
    pub async fn workflow_status(&self, run_id: &str) -> Result<RunReport, ClientError> {
        let mut args = Map::new();
        args.insert("run_id".into(), run_id.into());
        self.typed("workflow_status", args).await
    }

    /// Cancels a run: running steps are cancelled and completed ones compensated. Returns the
    /// state the run was in.
    pub async fn cancel_workflow(&self, run_id: &str) -> Result<RunStatus, ClientError> {
        let mut args = Map::new();
        args.insert("run_id".into(), run_id.into());
        let answer: Value = self.typed("workflow_cancel", args).await?;
        serde_json::from_value(answer["was"].clone()).map_err(|source| ClientError::Decode {
            tool: "workflow_cancel".into(),
            source,
        })
    }

    /// Submits a job: `{"type", "payload", "metadata"}`, `{"tool", "arguments"}` or
    /// `{"workflow", "input"}` (plus optional `priority`, `ttl`). Returns its id at once.
    pub async fn submit_job(&self, job: Value) -> Result<String, ClientError> {
        let args = match job {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let answer: Value = self.typed("job_submit", args).await?;
        serde_json::from_value(answer["job_id"].clone()).map_err(|source| ClientError::Decode {
            tool: "job_submit".into(),
            source,
        })
    }

    /// A job's state, with its result or error once it has ended.
    pub async fn job_status(&self, job_id: &str) -> Result<JobReport, ClientError> {
        let mut args = Map::new();
        args.insert("job_id".into(), job_id.into());
        self.typed("job_status", args).await
    }

    /// Waits until the job has ended (or `limit` passed) and returns it as it is then.
    pub async fn wait_job(&self, job_id: &str, limit: Duration) -> Result<JobReport, ClientError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            // The server waits for us, up to a bound, so a long job costs few round trips.
            let mut args = Map::new();
            args.insert("job_id".into(), job_id.into());
            args.insert("wait_seconds".into(), left.as_secs_f64().min(60.0).into());
            let job: JobReport = self.typed("job_status", args).await?;
            if job.status.is_terminal() || left.is_zero() {
                return Ok(job);
            }
        }
    }

    /// Cancels a job; returns it as it is after the request.
    pub async fn cancel_job(&self, job_id: &str) -> Result<JobReport, ClientError> {
        let mut args = Map::new();
        args.insert("job_id".into(), job_id.into());
        self.typed("job_cancel", args).await
    }

    /// Jobs, newest first, optionally of one state and one type.
    pub async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        job_type: Option<&str>,
    ) -> Result<Vec<JobReport>, ClientError> {
        let mut args = Map::new();
        if let Some(s) = status {
            args.insert("status".into(), s.as_str().into());
        }
        if let Some(t) = job_type {
            args.insert("type".into(), t.into());
        }
        let answer: Value = self.typed("job_list", args).await?;
        serde_json::from_value(answer["jobs"].clone()).map_err(|source| ClientError::Decode {
            tool: "job_list".into(),
            source,
        })
    }

    /// Artifacts, newest first, optionally those one job produced.
    pub async fn artifacts(
        &self,
        job_id: Option<&str>,
    ) -> Result<Vec<ArtifactReport>, ClientError> {
        let mut args = Map::new();
        if let Some(j) = job_id {
            args.insert("job_id".into(), j.into());
        }
        let answer: Value = self.typed("artifact_list", args).await?;
        serde_json::from_value(answer["artifacts"].clone()).map_err(|source| ClientError::Decode {
            tool: "artifact_list".into(),
            source,
        })
    }

    /// An artifact's lineage both ways.
    pub async fn artifact_lineage(&self, artifact_id: &str) -> Result<Lineage, ClientError> {
        let mut args = Map::new();
        args.insert("artifact_id".into(), artifact_id.into());
        self.typed("artifact_lineage", args).await
    }

    /// Names of every tool offered.
    pub async fn tool_names(&self) -> Result<Vec<String>, ClientError> {
        let tools = self
            .service
            .list_all_tools()
            .await
            .map_err(|source| ClientError::Rpc {
                tool: "tools/list".into(),
                source,
            })?;
        Ok(tools.into_iter().map(|t| t.name.to_string()).collect())
    }

    /// Calls any tool; an `isError` result is returned as it is, not as an error.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<CallToolResult, ClientError> {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(map) = arguments {
            params = params.with_arguments(map);
        }
        self.service
            .call_tool(params)
            .await
            .map_err(|source| ClientError::Rpc {
                tool: name.to_owned(),
                source,
            })
    }

    async fn typed<T: DeserializeOwned>(
        &self,
        tool: &str,
        args: Map<String, Value>,
    ) -> Result<T, ClientError> {
        let r = self.call_tool(tool, Value::Object(args)).await?;
        let structured = r.structured_content.clone().unwrap_or(Value::Null);
        if r.is_error == Some(true) {
            let message = r
                .content
                .iter()
                .find_map(|c| c.as_text().map(|t| t.text.clone()))
                .unwrap_or_else(|| "failed".into());
            let routing = structured
                .get("routing")
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            return Err(ClientError::Tool {
                tool: tool.to_owned(),
                message,
                routing,
            });
        }
        serde_json::from_value(structured).map_err(|source| ClientError::Decode {
            tool: tool.to_owned(),
            source,
        })
    }

    /// Ends the session; the orchestrator then stops its servers and exits.
    pub async fn close(mut self) {
        let _ = self.service.close().await;
        if let Some(mut child) = self.child.take() {
            // Closing stdin is the orchestrator's signal to stop; give it time to stop its children.
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

/// The `mcp-orchestrator` binary to start.
pub fn orchestrator_bin() -> PathBuf {
    if let Some(p) = std::env::var_os(BIN_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().ok();
    // Next to us (an installed tool), or one level up (a cargo example or test in target/*/).
    let candidates = exe.iter().flat_map(|e| {
        let dir = e.parent().map(Path::to_path_buf);
        let up = dir.as_ref().and_then(|d| d.parent().map(Path::to_path_buf));
        [dir, up]
            .into_iter()
            .flatten()
            .map(|d| d.join("mcp-orchestrator"))
    });
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    PathBuf::from("mcp-orchestrator")
}

/// Starts the orchestrator on `config`, runs `f`, stops it.
async fn one_shot<T>(
    config: &Path,
    f: impl AsyncFnOnce(&Client) -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    let client = Client::spawn(config).await?;
    let out = f(&client).await;
    client.close().await;
    out
}

/// One `chat` round: the reply text.
pub async fn chat(config: impl AsRef<Path>, message: &str) -> Result<String, ClientError> {
    one_shot(config.as_ref(), async |c| {
        c.chat(message).await.map(|r| r.message)
    })
    .await
}

/// Embeddings of `texts`.
pub async fn embed<S: Into<String>>(
    config: impl AsRef<Path>,
    texts: impl IntoIterator<Item = S>,
) -> Result<Vec<Vec<f32>>, ClientError> {
    let req = EmbedRequest::new(texts);
    one_shot(config.as_ref(), async |c| {
        c.embed(req).await.map(|r| r.embeddings)
    })
    .await
}

/// Web search results for `query`.
pub async fn search(
    config: impl AsRef<Path>,
    query: &str,
) -> Result<Vec<SearchResult>, ClientError> {
    one_shot(config.as_ref(), async |c| {
        c.search_web(query).await.map(|r| r.results)
    })
    .await
}

/// Current weather at `location`.
pub async fn weather(
    config: impl AsRef<Path>,
    location: &str,
) -> Result<WeatherResponse, ClientError> {
    one_shot(config.as_ref(), async |c| c.get_weather(location).await).await
}
