//! Graceful shutdown: SIGTERM on `serve --http` drains before it stops.
//!
//! - one replica: readiness turns 503 at once while liveness stays 200, the tool call in flight
//!   is answered, a new call is refused with the draining error (HTTP 503, JSON-RPC `-32011`),
//!   and the process exits 0 once the call is done;
//! - on stdio the same: the call in flight is answered, a new one refused with `-32011`, exit 0;
//! - two replicas on one PostgreSQL behind haproxy (fleet.rs's): replica A is stopped mid-run
//!   while its steps outlast `drain_timeout`; it hands the runs' leases back, B takes them over
//!   at once (not after the lease expires), repeats only the step that is safe to repeat, and
//!   clients of the load balancer are answered throughout.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    common::*,
    fleet::{Fleet, jsonrpc_response, lines},
};

const MODERN: &str = "2026-07-28";

fn sigterm(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

/// A stateless (2026-07-28) `tools/call` of `name`: the HTTP status and the JSON-RPC response.
async fn call(http: &reqwest::Client, url: &str, id: u64, name: &str, args: Value) -> (u16, Value) {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "drain-test", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": name, "arguments": args, "_meta": meta}});
    let r = http
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", MODERN)
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", name)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, jsonrpc_response(&text, id))
}

async fn status_of(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

/// Polls `url` until it answers `want`; how long that took.
async fn until_status(http: &reqwest::Client, url: &str, want: u16, limit: Duration) -> Duration {
    let began = Instant::now();
    while status_of(http, url).await != Some(want) {
        assert!(began.elapsed() < limit, "{url} never answered {want}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    began.elapsed()
}

/// Calls to the fixture in flight now, from `/metrics`.
async fn fx_in_flight(http: &reqwest::Client, url: &str) -> u64 {
    let text = http.get(url).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("mcp_orchestrator_in_flight{") && l.contains("server=\"fx\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn sigterm_answers_the_call_in_flight_refuses_new_ones_and_exits_0() {
    let drain_timeout = 10;
    let mut settings = fast_settings();
    settings["drain_timeout"] = json!(drain_timeout);
    let cfg = write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": settings}));
    let mut serve = HttpServe::start(&cfg.path, &[], &[]).await;
    let http = reqwest::Client::new();
    until_status(
        &http,
        &serve.at("/health/ready"),
        200,
        Duration::from_secs(30),
    )
    .await;

    let slow = {
        let (http, url) = (http.clone(), serve.url.clone());
        tokio::spawn(async move {
            call(&http, &url, 1, "fx__slow", json!({"ms": 3000, "steps": 1})).await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while fx_in_flight(&http, &serve.at("/metrics")).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the slow call never reached the child"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let term = Instant::now();
    sigterm(serve.child.id().unwrap());
    let to_not_ready = until_status(
        &http,
        &serve.at("/health/ready"),
        503,
        Duration::from_secs(1),
    )
    .await;
    let ready: Value = http
        .get(serve.at("/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ready["problems"].to_string().contains("draining"),
        "{ready}"
    );
    assert_eq!(
        status_of(&http, &serve.at("/health")).await,
        Some(200),
        "alive while draining"
    );

    let refused_at = Instant::now();
    let (status, refused) =
        call(&http, &serve.url, 2, "fx__echo", json!({"message": "late"})).await;
    let refusal = refused_at.elapsed();
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["id"], json!(2), "{refused}");
    assert_eq!(refused["error"]["code"], json!(-32011), "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("draining"),
        "{refused}"
    );

    let (status, done) = slow.await.unwrap();
    let answered = term.elapsed();
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"], "slept 3000 ms",
        "{done}"
    );

    let exit = tokio::time::timeout(Duration::from_secs(drain_timeout + 10), serve.child.wait())
        .await
        .expect("serve exits within the grace")
        .unwrap();
    let exited = term.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(
        exited < Duration::from_secs(drain_timeout),
        "it exits once the call is done, not at the end of drain_timeout: {exited:?}"
    );
    eprintln!(
        "drain (one replica): readiness 503 {:.1} ms after SIGTERM; a new call refused in {:.1} ms; \
         the call in flight (3 s) answered {:.2} s after SIGTERM; exit 0 after {:.2} s",
        to_not_ready.as_secs_f64() * 1000.0,
        refusal.as_secs_f64() * 1000.0,
        answered.as_secs_f64(),
        exited.as_secs_f64()
    );
}

#[tokio::test]
async fn sigterm_on_stdio_answers_the_call_in_flight_and_refuses_new_ones() {
    let mut settings = fast_settings();
    settings["drain_timeout"] = json!(10);
    let cfg = write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": settings}));
    let host = std::sync::Arc::new(Host::start(&cfg.path).await);
    host.wait_status(Duration::from_secs(20), |s| state_of(s, "fx") == "running")
        .await;
    let slow = {
        let host = host.clone();
        tokio::spawn(async move { host.call("fx__slow", json!({"ms": 2000, "steps": 1})).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let term = Instant::now();
    sigterm(host.process.id().unwrap());
    host.stderr_when(Duration::from_secs(5), |e| e.contains("draining"))
        .await;
    let refused = host.call("fx__echo", json!({"message": "late"})).await;
    let Err(rmcp::ServiceError::McpError(e)) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert_eq!(e.code.0, -32011, "{e:?}");
    let done = slow.await.unwrap().expect("the call in flight is answered");
    assert_eq!(done.content[0].as_text().unwrap().text, "slept 2000 ms");
    let mut host = std::sync::Arc::into_inner(host).unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(20), host.process.wait())
        .await
        .expect("serve exits")
        .unwrap();
    assert!(exit.success(), "{exit:?}\n{}", host.stderr());
    assert!(
        term.elapsed() < Duration::from_secs(10),
        "{:?}",
        term.elapsed()
    );
}

/// The run's lease holder in the fleet's database.
async fn owner(db: &mut sqlx::PgConnection, run: &str) -> Option<String> {
    use sqlx::Row;
    sqlx::query("SELECT owner FROM runs WHERE id = $1")
        .bind(run)
        .fetch_one(db)
        .await
        .unwrap()
        .get::<Option<String>, _>("owner")
}

#[tokio::test]
async fn a_replica_stopped_mid_run_hands_its_runs_back_and_the_other_takes_them_at_once() {
    use sqlx::Connection;
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.path().to_str().unwrap().to_owned();
    // Both runs' second step outlasts the 2 s drain: s2 is safe to repeat, b is not.
    let [safe, risky] = crate::fleet::safe_and_risky(&file, 8000);
    // As on two machines where the kernel allows it (each replica in a UTS namespace of its own):
    // B cannot see A's pid, so without the hand-back it would wait for the lease to expire.
    let uts = std::process::Command::new("unshare")
        .args(["--uts", "hostname", "probe"])
        .output()
        .is_ok_and(|o| o.status.success());
    let hostnames = uts.then_some(["drain-a", "drain-b"]);
    let lease_ttl = 15;
    let settings = json!({"drain_timeout": 2, "lease_ttl": lease_ttl, "default_timeout": 20});
    let Some(mut fleet) = Fleet::start_with(
        &[("safe", safe), ("risky", risky)],
        hostnames,
        false,
        settings,
    )
    .await
    else {
        return;
    };
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(fleet.config_path()).unwrap()).unwrap();
    let mut db = sqlx::PgConnection::connect(config["orchestrator"]["store"].as_str().unwrap())
        .await
        .unwrap();
    let a_mcp = fleet.replicas[0].at("/mcp");
    let mut runs = Vec::new();
    for name in ["safe", "risky"] {
        let (_, r) = fleet
            .modern_call(&a_mcp, "workflow_start", json!({"workflow": name}))
            .await;
        runs.push(
            r["structuredContent"]["run_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !["s2", "b"]
        .iter()
        .all(|l| lines(log.path()).contains(&(*l).to_owned()))
    {
        assert!(
            Instant::now() < deadline,
            "s2 and b never started\n{}",
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a_owner = owner(&mut db, &runs[0]).await.expect("A holds the run");

    let term = Instant::now();
    sigterm(fleet.replicas[0].child.id().unwrap());
    // Once A drains (the signal is handled: readiness 503), clients of the load balancer are
    // still answered, by B (haproxy sends the refused requests there: `retry-on 503`, then its
    // health check takes A out). A call sent before A saw the signal is A's to answer.
    until_status(
        &reqwest::Client::new(),
        &fleet.replicas[0].at("/health/ready"),
        503,
        Duration::from_secs(10),
    )
    .await;
    let lb = fleet.lb.at("/mcp");
    for i in 0..5 {
        let (replica, r) = fleet
            .modern_call(&lb, "fx__echo", json!({"message": format!("during {i}")}))
            .await;
        assert_eq!(r["content"][0]["text"], format!("echo: during {i}"), "{r}");
        assert_eq!(replica.as_deref(), Some("mcp2"), "{r}");
    }

    // When A lets go of each run (its owner leaves A) and B has it.
    let (mut released, mut claimed, mut a_exit) = ([None; 2], [None; 2], None);
    let deadline = term + Duration::from_secs(30);
    while claimed.iter().any(Option::is_none) || a_exit.is_none() {
        if a_exit.is_none()
            && let Ok(Some(status)) = fleet.replicas[0].child.try_wait()
        {
            a_exit = Some((status, term.elapsed()));
        }
        for (i, run) in runs.iter().enumerate() {
            let now = owner(&mut db, run).await;
            if released[i].is_none() && now.as_deref() != Some(a_owner.as_str()) {
                released[i] = Some(term.elapsed());
            }
            if claimed[i].is_none() && now.is_some_and(|o| o != a_owner) {
                claimed[i] = Some(term.elapsed());
            }
        }
        assert!(
            Instant::now() < deadline,
            "B never took the runs, or A never exited\n{}",
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (exit, exited) = a_exit.unwrap();
    assert!(exit.success(), "{exit:?}\n{}", fleet.logs());
    assert!(
        fleet.replicas[0].log().contains("run handed back"),
        "{}",
        fleet.logs()
    );

    let b_mcp = fleet.replicas[1].at("/mcp");
    let mut ended = Vec::new();
    for run in &runs {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let (_, r) = fleet
                .modern_call(&b_mcp, "workflow_status", json!({"run_id": run}))
                .await;
            let s = r["structuredContent"].clone();
            if !["pending", "running", "paused"].contains(&s["status"].as_str().unwrap()) {
                ended.push(s);
                break;
            }
            assert!(Instant::now() < deadline, "{s}\n{}", fleet.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(ended[0]["status"], "completed", "{}", ended[0]);
    assert_eq!(ended[1]["status"], "compensated", "{}", ended[1]);
    assert_eq!(ended[1]["steps"][1]["status"], "unknown", "{}", ended[1]);
    let recorded = lines(log.path());
    let n = |l: &str| recorded.iter().filter(|x| *x == l).count();
    assert_eq!(
        [n("s1"), n("s2"), n("s3")],
        [1, 2, 1],
        "only the safe step repeats: {recorded:?}"
    );
    assert_eq!(
        [n("a"), n("b"), n("undo_a")],
        [1, 1, 1],
        "the step not safe to repeat runs once; the run compensates: {recorded:?}"
    );

    let handed = released.iter().flatten().max().copied().unwrap();
    let taken = claimed.iter().flatten().max().copied().unwrap();
    let gap = claimed
        .iter()
        .zip(&released)
        .map(|(c, r)| c.unwrap() - r.unwrap())
        .max()
        .unwrap();
    // The hand-back comes at the end of the drain (2 s), not at exit; B claims on its next
    // maintenance tick (lease_ttl / 3, at most 5 s), not after the 15 s lease.
    assert!(
        handed >= Duration::from_secs(2) && handed < Duration::from_secs(6),
        "{handed:?}"
    );
    assert!(gap < Duration::from_secs(6), "{gap:?}");
    assert!(taken < Duration::from_secs(lease_ttl), "{taken:?}");
    eprintln!(
        "drain (two replicas, {}): A handed both runs back {:.2} s after SIGTERM (drain_timeout 2 s); \
         B held them {:.2} s after SIGTERM ({:.2} s after the hand-back; lease_ttl {lease_ttl} s); \
         A exited 0 after {:.2} s",
        if uts {
            "as on two machines"
        } else {
            "one host"
        },
        handed.as_secs_f64(),
        taken.as_secs_f64(),
        gap.as_secs_f64(),
        exited.as_secs_f64()
    );
}
