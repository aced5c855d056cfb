//! Discovery (`orchestrator.discovery`): servers found in the environment and in DNS SRV records
//! join and leave the surface like a hot reload, are connected and callable, and show their
//! source in `status`. The remote servers are orchestrators serving the fixture child over
//! streamable HTTP with a bearer token (as in `remote.rs`); the DNS server is Debian's dnsmasq
//! on a loopback port, restarted with new records (scripts/setup-system.sh test installs it;
//! without it the DNS test skips, unless `MCP_REQUIRE_PEERS=1`).

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::{Value, json};

use crate::common::*;

pub(crate) const TOKEN: &str = "discovery-token-5b1e7f03";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP and TCP port free on 127.0.0.1 (DNS answers on both).
fn free_dns_port() -> u16 {
    loop {
        let port = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// An orchestrator serving the fixture child over streamable HTTP at `127.0.0.1:port/mcp`.
pub(crate) struct Remote {
    _config: TempConfig,
    _process: tokio::process::Child,
}

impl Remote {
    pub(crate) fn start(port: u16) -> Self {
        let config = write_config(
            &json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}),
        );
        let process = tokio::process::Command::new(orchestrator_bin())
            .args([
                "--config",
                config.path.to_str().unwrap(),
                "serve",
                "--no-watch",
            ])
            .args(["--http", &format!("127.0.0.1:{port}")])
            .env("XDG_RUNTIME_DIR", config.dir.path())
            .env("XDG_STATE_HOME", config.dir.path().join("state"))
            .env("MCP_ORCHESTRATOR_HTTP_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Self {
            _config: config,
            _process: process,
        }
    }
}

/// Settings for a front orchestrator whose remote servers reconnect quickly.
pub(crate) fn front_settings(discovery: Value) -> Value {
    let mut settings = fast_settings();
    settings["max_restarts"] = json!(50);
    settings["discovery"] = discovery;
    settings
}

/// The status report's text, as `orchestrator_status` gives it beside the object.
pub(crate) async fn status_text(host: &Host) -> String {
    let r = host.call("orchestrator_status", Value::Null).await.unwrap();
    r.content[0].as_text().unwrap().text.clone()
}

pub(crate) fn discovery_of<'a>(s: &'a Value, source: &str) -> &'a Value {
    static NONE: Value = Value::Null;
    s["discovery"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["source"] == source))
        .unwrap_or(&NONE)
}

pub(crate) async fn echo(host: &Host, tool: &str) -> Result<String, String> {
    match host.call(tool, json!({"message": "found"})).await {
        Ok(r) if r.is_error != Some(true) => Ok(r.content[0].as_text().unwrap().text.clone()),
        Ok(r) => Err(format!("{:?}", r.content)),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn env_variables_add_remote_servers_and_the_config_wins_an_id() {
    let port = free_port();
    let _remote = Remote::start(port);
    let front = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": front_settings(json!({"env": true}))
    }));
    let url = format!("http://127.0.0.1:{port}/mcp");
    let host = Host::start_with_env(
        &front.path,
        &[
            ("MCP_SERVER_FAR_AWAY_URL", url.clone()),
            ("MCP_SERVER_FAR_AWAY_TOKEN", TOKEN.to_owned()),
            // The config file's `fx` keeps its id.
            ("MCP_SERVER_FX_URL", url.clone()),
            ("MCP_SERVER_BAD_URL", "ftp://nowhere".to_owned()),
        ],
    )
    .await;
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            state_of(s, "far_away") == "running"
                && s["servers"]["far_away"]["tools"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("fx__echo")))
        })
        .await;
    assert_eq!(state_of(&s, "far_away"), "running", "{s}");
    assert_eq!(s["servers"]["far_away"]["source"], "env", "{s}");
    assert_eq!(s["servers"]["fx"]["source"], "config", "{s}");
    let env = discovery_of(&s, "env");
    assert_eq!(env["servers"], json!(["far_away", "fx"]), "{s}");
    assert_eq!(env["shadowed"], json!(["fx"]), "{s}");
    assert!(
        env["error"]
            .as_str()
            .is_some_and(|e| e.contains("MCP_SERVER_BAD_URL")),
        "{s}"
    );
    assert_eq!(
        echo(&host, "far_away__fx__echo").await.unwrap(),
        "echo: found"
    );
    assert_eq!(echo(&host, "fx__echo").await.unwrap(), "echo: found");

    let text = status_text(&host).await;
    assert!(text.contains("discovered: env"), "{text}");
    assert!(text.contains("env: far_away, fx"), "{text}");
    let log = host
        .stderr_when(Duration::from_secs(2), |l| l.contains("discovered"))
        .await;
    assert!(
        log.contains("a discovered server has the id of another definition"),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "the token leaked into the log: {log}");
    assert!(!text.contains(TOKEN) && !s.to_string().contains(TOKEN));
    host.close().await;
}

/// Debian's dnsmasq answering `_mcp._tcp.mcp.test` SRV records on a loopback port.
struct Dnsmasq {
    bin: PathBuf,
    port: u16,
    process: Option<tokio::process::Child>,
}

impl Dnsmasq {
    /// `None` (the test skips) when dnsmasq is not installed and peers are not required.
    fn find(port: u16) -> Option<Self> {
        let bin = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file());
        let Some(bin) = bin else {
            assert!(
                std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
                "dnsmasq is not installed: run scripts/setup-system.sh test"
            );
            eprintln!("skipping: no dnsmasq (scripts/setup-system.sh test installs it)");
            return None;
        };
        Some(Self {
            bin,
            port,
            process: None,
        })
    }

    /// (Re)starts it with one SRV record per `(name, port)`: target `<name>.mcp.test`, whose
    /// address is 127.0.0.1.
    async fn serve(&mut self, servers: &[(&str, u16)]) {
        self.stop().await;
        let mut command = tokio::process::Command::new(&self.bin);
        command.args([
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            &format!("--port={}", self.port),
        ]);
        for (name, port) in servers {
            command.arg(format!(
                "--srv-host=_mcp._tcp.mcp.test,{name}.mcp.test,{port}"
            ));
            command.arg(format!("--host-record={name}.mcp.test,127.0.0.1"));
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let log = capture_stderr(&mut child);
        // It says so once its sockets are bound.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !log.lock().unwrap().contains("started") {
            assert!(
                tokio::time::Instant::now() < deadline,
                "dnsmasq did not start: {}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.process = Some(child);
    }

    async fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill().await.unwrap();
        }
    }
}

#[tokio::test]
async fn dns_srv_records_add_and_remove_servers_and_a_failing_dns_keeps_the_last_set() {
    let dns_port = free_dns_port();
    let Some(mut dns) = Dnsmasq::find(dns_port) else {
        return;
    };
    let (alpha_port, beta_port) = (free_port(), free_port());
    let _alpha = Remote::start(alpha_port);
    let _beta = Remote::start(beta_port);
    dns.serve(&[("alpha", alpha_port)]).await;
    let front = write_config(&json!({
        "servers": {},
        "orchestrator": front_settings(json!({"dns": {
            "domain": "mcp.test", "interval": 0.3, "use_addresses": true,
            "nameserver": format!("127.0.0.1:{dns_port}"),
            "headers": {"Authorization": "Bearer ${MCP_TEST_DISCOVERY_TOKEN}"}
        }}))
    }));
    let host = Host::start_with_env(
        &front.path,
        &[("MCP_TEST_DISCOVERY_TOKEN", TOKEN.to_owned())],
    )
    .await;
    let fx_listed = |s: &Value, id: &str| {
        s["servers"][id]["tools"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("fx__echo")))
    };

    // One record: alpha joins, connected and callable.
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            state_of(s, "alpha") == "running" && fx_listed(s, "alpha")
        })
        .await;
    assert_eq!(state_of(&s, "alpha"), "running", "{s}");
    assert_eq!(s["servers"]["alpha"]["source"], "dns", "{s}");
    assert_eq!(echo(&host, "alpha__fx__echo").await.unwrap(), "echo: found");
    let before = host.settled_list_changed().await;

    // A second record: beta joins with one list_changed; alpha keeps its connection.
    dns.serve(&[("alpha", alpha_port), ("beta", beta_port)])
        .await;
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            state_of(s, "beta") == "running" && fx_listed(s, "beta")
        })
        .await;
    assert_eq!(state_of(&s, "beta"), "running", "{s}");
    assert_eq!(echo(&host, "beta__fx__echo").await.unwrap(), "echo: found");
    assert_eq!(s["servers"]["alpha"]["restarts"], 0, "{s}");
    assert_eq!(discovery_of(&s, "dns")["servers"], json!(["alpha", "beta"]));
    let joined = host.settled_list_changed().await;
    assert_eq!(joined, before + 1, "one list_changed for beta joining");
    let tools = host.tool_names().await;
    assert!(
        tools.contains(&"alpha__fx__echo".to_owned())
            && tools.contains(&"beta__fx__echo".to_owned())
    );

    // The DNS server goes away: the set stays, status says why and how old it is.
    dns.stop().await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            discovery_of(s, "dns")["error"].is_string()
        })
        .await;
    let d = discovery_of(&s, "dns");
    assert!(
        d["error"].as_str().unwrap().contains("_mcp._tcp.mcp.test"),
        "{s}"
    );
    assert_eq!(d["servers"], json!(["alpha", "beta"]), "{s}");
    assert!(d["last_good_age_s"].as_f64().is_some(), "{s}");
    assert_eq!(state_of(&s, "alpha"), "running");
    assert_eq!(echo(&host, "alpha__fx__echo").await.unwrap(), "echo: found");
    let text = status_text(&host).await;
    assert!(text.contains("discovered: dns"), "{text}");
    assert!(
        text.contains("failing, keeping the last good set"),
        "{text}"
    );
    assert_eq!(host.list_changed(), joined, "a failure changes nothing");

    // Back with alpha's record gone: alpha leaves, with one list_changed.
    dns.serve(&[("beta", beta_port)]).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            s["servers"].get("alpha").is_none() && discovery_of(s, "dns")["error"].is_null()
        })
        .await;
    assert!(s["servers"].get("alpha").is_none(), "{s}");
    assert_eq!(discovery_of(&s, "dns")["servers"], json!(["beta"]), "{s}");
    assert!(echo(&host, "alpha__fx__echo").await.is_err());
    assert_eq!(echo(&host, "beta__fx__echo").await.unwrap(), "echo: found");
    assert_eq!(
        host.settled_list_changed().await,
        joined + 1,
        "one list_changed for alpha leaving"
    );

    let log = host.stderr();
    assert!(!log.contains(TOKEN), "the token leaked into the log: {log}");
    host.close().await;
    dns.stop().await;
}
