//! Monitoring with real parts: `/metrics` checked by `promtool check metrics` and scraped by a
//! real Prometheus server (Debian's `prometheus`), whose query API must see the calls made; the
//! children's resource use in `status`; `serve --metrics` beside stdio; `metrics history`.

use std::{io::Write, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::*;

const TOKEN: &str = "metrics-token-0123456789";

fn env_for(cfg: &TempConfig) -> Vec<(&'static str, String)> {
    vec![
        ("XDG_RUNTIME_DIR", cfg.dir.path().display().to_string()),
        (
            "XDG_STATE_HOME",
            cfg.dir.path().join("state").display().to_string(),
        ),
        ("MCP_ORCHESTRATOR_HTTP_TOKEN", TOKEN.to_owned()),
    ]
}

async fn scrape(url: &str) -> String {
    let r = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    r.text().await.unwrap()
}

/// The value of the sample `line_start` (a name with its labels) in an exposition.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn require(tool: &str) -> bool {
    if std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok()
    {
        return true;
    }
    assert!(
        std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{tool} is missing: run scripts/setup-system.sh test (Debian package prometheus)"
    );
    eprintln!("skipping: {tool} is not installed (Debian package prometheus)");
    false
}

#[tokio::test]
async fn prometheus_scrapes_the_metrics_and_promtool_accepts_them() {
    if !require("promtool") || !require("prometheus") {
        return;
    }
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": {"resource_sample_interval": 0.2}
    }));
    let srv = HttpServe::start(&cfg.path, &[], &env_for(&cfg)).await;
    for message in ["a", "b", "c"] {
        let (code, out, err) = cli(
            &cfg.path,
            &[
                "call",
                "fx__echo",
                "--args",
                &json!({"message": message}).to_string(),
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, _, _) = cli(
        &cfg.path,
        &["call", "fx__fail", "--args", r#"{"message": "no"}"#],
    );
    assert_eq!(code, 1);
    // The sampler has read the child at least twice (CPU needs two readings).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let text = scrape(&srv.at("/metrics")).await;
    assert_eq!(
        sample(
            &text,
            r#"mcp_orchestrator_tool_calls_total{server="fx",tool="echo"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"mcp_orchestrator_call_errors_total{server="fx",kind="tool_error"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mcp_orchestrator_call_duration_seconds_count{server="fx"}"#
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mcp_orchestrator_server_state{server="fx",state="running"}"#
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            r#"mcp_orchestrator_child_resident_memory_bytes{server="fx"}"#
        )
        .unwrap()
            > 0.0
    );
    assert!(sample(&text, "mcp_orchestrator_process_resident_memory_bytes").unwrap() > 0.0);
    // Unauthenticated scrapes are refused like any other request.
    let anonymous = reqwest::get(srv.at("/metrics")).await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // promtool's linter.
    let mut check = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A real Prometheus scraping it, queried through its API.
    let dir = cfg.dir.path().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let prom_config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mcp\n    authorization:\n      credentials: {TOKEN}\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        srv.port
    );
    std::fs::write(dir.join("prometheus.yml"), prom_config).unwrap();
    let port = free_port();
    let mut prometheus = tokio::process::Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let query = |q: &str| {
        format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            q.replace('"', "%22")
                .replace('{', "%7B")
                .replace('}', "%7D")
                .replace(',', "%2C")
        )
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let calls = loop {
        let answer = reqwest::get(query(
            r#"mcp_orchestrator_tool_calls_total{server="fx",tool="echo"}"#,
        ))
        .await;
        if let Ok(r) = answer
            && let Ok(v) = r.json::<Value>().await
            && let Some(value) = v["data"]["result"][0]["value"][1].as_str()
        {
            break value.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never scraped the orchestrator"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(calls, "3");
    let up: Value = reqwest::get(query(r#"up{job="mcp"}"#))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    let _ = prometheus.start_kill();
}

#[tokio::test]
async fn stdio_serve_has_a_metrics_listener_and_status_shows_resource_use() {
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": {"resource_sample_interval": 0.2, "resource_history_step": 1}
    }));
    let mut process = serve_command(
        &cfg.path,
        &[("MCP_ORCHESTRATOR_HTTP_TOKEN", TOKEN.to_owned())],
    )
    .args(["--metrics", "127.0.0.1:0"])
    .env("MCP_ORCHESTRATOR_LOG", "info")
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(process.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("serving metrics")
                && let Some(i) = line.find("http://")
            {
                return line[i..].split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("no metrics listener was announced");
    })
    .await
    .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // The listener serves metrics and probes, not MCP.
    let base = url.trim_end_matches("/metrics").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(&url).await;
        if sample(&text, r#"mcp_orchestrator_child_threads{server="fx"}"#).is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mcp = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.status(), 404);
    // Resource use in status, text and JSON.
    let (code, stdout, _) = cli(&cfg.path, &["status", "--json"]);
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        status["servers"]["fx"]["usage"]["rss_bytes"]
            .as_u64()
            .unwrap()
            > 0,
        "{status}"
    );
    assert!(
        status["servers"]["fx"]["usage"]["threads"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(status["orchestrator"]["open_fds"].as_u64().unwrap() > 0);
    let (_, text, _) = cli(&cfg.path, &["status"]);
    assert!(
        text.contains("RSS MiB") && text.contains("orchestrator: cpu"),
        "{text}"
    );
    // History: a point per step (1 s here) for the child and for the orchestrator.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (code, stdout, stderr) = cli(
        &cfg.path,
        &["metrics", "history", "--since", "60", "--json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let history: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        !history["series"]["fx"].as_array().unwrap().is_empty(),
        "{history}"
    );
    assert!(
        !history["series"]["orchestrator"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let _ = process.start_kill();
}

#[tokio::test]
async fn an_alert_fires_once_stays_quiet_in_its_cooldown_and_resolves() {
    use axum::{Router, routing::post};
    // A webhook receiver that records what it is sent.
    let got: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let sink = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let app = app.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": {"resource_sample_interval": 0.2},
        "alerts": [{"name": "fx-errors", "metric": "error_rate", "server": "fx",
                    "threshold": 0.5, "for": 0, "cooldown": 60, "webhook": hook}]
    }));
    let host = Host::start(&cfg.path).await;
    let fail = || async {
        host.call("fx__fail", json!({"message": "boom"}))
            .await
            .unwrap();
    };
    let statuses = || {
        got.lock()
            .unwrap()
            .iter()
            .map(|v| v["status"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let wait_for = |n: usize| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while statuses().len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "webhook got {:?}",
                statuses()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // Failing calls: it fires.
    for _ in 0..3 {
        fail().await;
    }
    wait_for(1).await;
    let status = host.status().await;
    assert_eq!(status["alerts"][0]["state"], "firing", "{status}");
    // Still failing over several evaluations: no second alert.
    for _ in 0..4 {
        fail().await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Quiet (no calls, no data): it resolves.
    wait_for(2).await;
    // Failing again within the cooldown: held back, nothing sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        fail().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status = host.status().await;
        if status["alerts"][0]["state"] == "suppressed" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(statuses(), ["firing", "resolved"]);
    let first = got.lock().unwrap()[0].clone();
    assert_eq!(first["alert"], "fx-errors");
    assert_eq!(first["server"], "fx");
    assert_eq!(first["metric"], "error_rate");
    // The host heard of both as logging notifications.
    let logs = host.recorder.recorded.lock().unwrap().logs.clone();
    let alerts: Vec<&str> = logs
        .iter()
        .filter(|(logger, _)| logger.as_deref() == Some("mcp-orchestrator/alerts"))
        .map(|(_, d)| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(alerts, ["firing", "resolved"], "{logs:?}");
    host.close().await;
}

#[tokio::test]
async fn top_shows_the_live_table_in_a_terminal_and_quits_on_q() {
    if !require("tmux") {
        return;
    }
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": {"resource_sample_interval": 0.2, "max_restarts": 5}
    }));
    let host = Host::start(&cfg.path).await;
    host.call("fx__echo", json!({"message": "hi"}))
        .await
        .unwrap();
    let socket = format!("mcp-top-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap()
    };
    let command = format!(
        "XDG_RUNTIME_DIR={dir} XDG_STATE_HOME={dir}/state {bin} --config {cfg} top --interval 0.2",
        dir = cfg.dir.path().display(),
        bin = orchestrator_bin().display(),
        cfg = cfg.path.display()
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "160",
        "-y",
        "30",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    let screen =
        || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned();
    let until = |what: &dyn Fn(&str) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let s = screen();
            if what(&s) {
                return s;
            }
            assert!(std::time::Instant::now() < deadline, "screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let row = |s: &str| {
        s.lines()
            .find(|l| l.contains("│fx "))
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let s = until(&|s| row(s).get(1).is_some_and(|st| st == "running"));
    assert!(
        s.contains("SERVER") && s.contains("RSS MiB") && s.contains("orchestrator: cpu"),
        "{s}"
    );
    assert_eq!(row(&s)[5], "1", "one call: {s}");
    // The child crashes: the table shows the restart.
    let _ = host.call("fx__crash", json!({})).await;
    until(&|s| row(s).get(3).is_some_and(|r| r == "1") && row(s)[1] == "running");
    let _ = tmux(&["send-keys", "-t", "top", "q"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tmux(&["has-session", "-t", "top"]).status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "top did not quit on q"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = tmux(&["kill-server"]);
    host.close().await;
}

/// Headless Chromium (Debian's `chromium`) on `url`: the DOM after `budget_ms` of virtual time,
/// or, with `screenshot`, a PNG of the page.
fn chromium(url: &str, budget_ms: u32, screenshot: Option<&std::path::Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--virtual-time-budget={budget_ms}"));
    match screenshot {
        Some(path) => cmd.arg(format!("--screenshot={}", path.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).stderr(Stdio::null()).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_dashboard_shows_live_state_in_a_real_browser() {
    if !require("chromium") {
        return;
    }
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": {
            "resource_sample_interval": 0.2, "resource_history_step": 1, "max_restarts": 5
        },
        "jobs": {"types": {"echo": {"tool": "fx__echo"}}}
    }));
    // A diamond: `fetch` first, `left` and `right` after it, `join` after both.
    let dir = cfg.dir.path().join("workflows");
    std::fs::create_dir(&dir).unwrap();
    let step = |name: &str, after: &[&str]| {
        json!({"name": name, "mcp": "fx", "action": "echo", "params": {"message": name},
               "dependsOn": after})
    };
    let diamond = json!({"name": "diamond", "version": "1", "steps": [
        step("fetch", &[]), step("left", &["fetch"]), step("right", &["fetch"]),
        step("join", &["left", "right"]),
    ]});
    std::fs::write(dir.join("diamond.json"), diamond.to_string()).unwrap();
    let srv = HttpServe::start(&cfg.path, &[], &env_for(&cfg)).await;
    let (code, _, err) = cli(&cfg.path, &["workflow", "run", "diamond"]);
    assert_eq!(code, 0, "{err}");
    // Calls in two history steps, so the latency sparkline has two points.
    for _ in 0..2 {
        for _ in 0..5 {
            let _ = cli(&cfg.path, &["call", "fx__echo", r#"{"message": "x"}"#]);
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let (code, _, err) = cli(
        &cfg.path,
        &[
            "jobs",
            "submit",
            "--type",
            "echo",
            "--config",
            r#"{"message": "hi"}"#,
            "--wait",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let page = format!("{}#token={TOKEN}", srv.at("/ui"));
    let row = |dom: &str| {
        let start = dom.find(r#"<tr data-server="fx">"#)?;
        let end = dom[start..].find("</tr>")? + start;
        Some(dom[start..end].to_owned())
    };
    let cell = |row: &str, class: &str| {
        let at = row.find(&format!(r#"class="{class}""#))?;
        let rest = &row[at..];
        let text = &rest[rest.find('>')? + 1..];
        Some(text[..text.find('<')?].to_owned())
    };
    let dom = chromium(&page, 4000, None);
    let fx = row(&dom).unwrap_or_else(|| panic!("no server row:\n{dom}"));
    assert_eq!(
        cell(&fx, "state running").as_deref(),
        Some("running"),
        "{fx}"
    );
    assert_eq!(cell(&fx, "num restarts").as_deref(), Some("0"));
    assert!(dom.contains("Orchestrator: CPU"), "{dom}");
    // Latency: p50 and p99 per history step, two lines in the cell's sparkline once two steps
    // have had calls (the sampler's timing on a loaded machine decides when).
    let latency_of = |fx: &str| {
        let cell = &fx[fx.find(r#"class="num latency""#)?..];
        Some(cell[..cell.find("</td>")?].to_owned())
    };
    let mut latency = latency_of(&fx).unwrap_or_default();
    assert!(latency.contains("p50 (blue) and p99 (red)"), "{latency}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while latency.matches("<polyline").count() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "{latency}");
        let _ = cli(&cfg.path, &["call", "fx__echo", r#"{"message": "x"}"#]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let dom = chromium(&page, 2000, None);
        latency = row(&dom).and_then(|fx| latency_of(&fx)).unwrap_or_default();
    }
    assert_eq!(latency.matches("<polyline").count(), 2, "{latency}");
    // The run's step graph: four boxes coloured by state, four dependency lines.
    let graph = &dom[dom
        .find(r#"<svg class="dag""#)
        .unwrap_or_else(|| panic!("{dom}"))..];
    let graph = &graph[..graph.find("</svg>").unwrap()];
    for name in ["fetch", "left", "right", "join"] {
        assert!(
            graph.contains(&format!(r#"<g class="completed" data-step="{name}">"#)),
            "{name}: {graph}"
        );
    }
    assert_eq!(graph.matches("<line").count(), 4, "{graph}");
    assert!(
        graph.contains("join completed after left, right"),
        "{graph}"
    );
    assert!(
        dom.contains("echo") && dom.contains("completed"),
        "the job is listed: {dom}"
    );
    // Without the token the page says so instead of showing data.
    let anonymous = chromium(&srv.at("/ui"), 3000, None);
    assert!(
        anonymous.contains("token is missing or wrong"),
        "{anonymous}"
    );
    assert!(row(&anonymous).is_none());
    // The child crashes and comes back: the page shows the restart.
    let _ = cli(&cfg.path, &["call", "fx__crash"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let dom = chromium(&page, 3000, None);
        if let Some(fx) = row(&dom)
            && cell(&fx, "num restarts").as_deref() == Some("1")
            && fx.contains("state running")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{dom}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let png = std::env::var_os("MCP_UI_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| cfg.dir.path().join("dashboard.png"));
    chromium(&page, 4000, Some(&png));
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG"),
        "a screenshot"
    );
}
