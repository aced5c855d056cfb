//! Kubernetes discovery (`orchestrator.discovery.kubernetes`) against a fake API server in the
//! test: it answers the Services list (`GET /api/v1/namespaces/<ns>/services?labelSelector=…`,
//! with a `resourceVersion`) with a recorded `kubectl get svc -o json`-shaped response, then
//! streams the `watch=true` request as newline-delimited `{"type":"ADDED","object":{…}}` events
//! the test sends. Services carry the `mcp.io/url` annotation, since their cluster DNS names
//! cannot resolve here: it points at an orchestrator serving the fixture over streamable HTTP
//! (as in `discovery.rs`), so joined servers are really connected and callable.

use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{
    common::*,
    discovery::{Remote, TOKEN, discovery_of, echo, free_port, front_settings, status_text},
};

/// The bearer token the fake API server wants (from `token_env`); not the servers' `TOKEN`.
const KUBE_TOKEN: &str = "kube-api-token-9c2d41aa";
const NAMESPACE: &str = "tools";

/// What the fake API server holds and who asked it what.
#[derive(Default)]
struct ApiState {
    services: BTreeMap<String, Value>,
    version: u64,
    failing: bool,
    /// Each open watch; dropping a sender ends that response.
    watches: Vec<mpsc::UnboundedSender<Bytes>>,
    /// `list` or `watch`, with the label selector asked for.
    requests: Vec<(&'static str, String)>,
    unauthorized: usize,
}

#[derive(Clone, Default)]
struct FakeApi(Arc<Mutex<ApiState>>);

impl FakeApi {
    /// Serves on a loopback port; returns its base URL.
    async fn start(&self) -> String {
        let app = Router::new()
            .route("/api/v1/namespaces/{ns}/services", get(services))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ApiState> {
        self.0.lock().unwrap()
    }

    /// Adds (or replaces) a Service, telling open watches.
    fn apply(&self, mut svc: Value) {
        let mut s = self.state();
        s.version += 1;
        svc["metadata"]["resourceVersion"] = json!(s.version.to_string());
        let name = svc["metadata"]["name"].as_str().unwrap().to_owned();
        let kind = if s.services.contains_key(&name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        s.services.insert(name, svc.clone());
        broadcast(&mut s, kind, svc);
    }

    fn delete(&self, name: &str) {
        let mut s = self.state();
        s.version += 1;
        let mut svc = s.services.remove(name).unwrap();
        svc["metadata"]["resourceVersion"] = json!(s.version.to_string());
        broadcast(&mut s, "DELETED", svc);
    }

    /// Every request answers 503 from now on, and open watches end (so the client asks again).
    fn fail(&self, failing: bool) {
        let mut s = self.state();
        s.failing = failing;
        if failing {
            s.watches.clear();
        }
    }

    fn lists(&self) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.0 == "list")
            .count()
    }
}

fn broadcast(s: &mut ApiState, kind: &str, object: Value) {
    let line = Bytes::from(format!("{}\n", json!({"type": kind, "object": object})));
    s.watches.retain(|w| w.send(line.clone()).is_ok());
}

fn status_error(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()
    });
    (code, Json(body)).into_response()
}

async fn services(
    State(api): State<FakeApi>,
    Path(ns): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = api.state();
    let auth = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if auth != Some(format!("Bearer {KUBE_TOKEN}").as_bytes()) {
        s.unauthorized += 1;
        return status_error(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let selector = query.get("labelSelector").cloned().unwrap_or_default();
    s.requests
        .push((if watch { "watch" } else { "list" }, selector));
    if s.failing {
        return status_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        );
    }
    assert_eq!(ns, NAMESPACE);
    if watch {
        let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
        s.watches.push(tx);
        let lines = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
        });
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(lines))
            .unwrap();
    }
    Json(json!({
        "kind": "ServiceList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": s.version.to_string()},
        "items": s.services.values().cloned().collect::<Vec<_>>(),
    }))
    .into_response()
}

/// A Service as `kubectl get svc -o json` shows one, labelled for MCP.
fn service(name: &str, annotations: Value, ports: Value) -> Value {
    json!({
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": format!("6a1f0c2e-0000-4000-8000-{:0>12}", name.len()),
            "creationTimestamp": "2026-05-04T09:12:33Z",
            "labels": {"app.kubernetes.io/name": name, "mcp.io/server": "true"},
            "annotations": annotations
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.14.7",
            "clusterIPs": ["10.96.14.7"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "selector": {"app.kubernetes.io/name": name},
            "ports": ports
        },
        "status": {"loadBalancer": {}}
    })
}

/// A Service whose `mcp.io/url` reaches the remote orchestrator on `port`.
fn reachable(name: &str, port: u16) -> Value {
    service(
        name,
        json!({"mcp.io/url": format!("http://127.0.0.1:{port}/mcp")}),
        json!([{"name": "mcp", "protocol": "TCP", "port": 8080, "targetPort": 8080}]),
    )
}

fn fx_listed(s: &Value, id: &str) -> bool {
    s["servers"][id]["tools"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("fx__echo")))
}

#[tokio::test]
async fn labelled_services_join_and_leave_and_a_failing_api_keeps_the_last_set() {
    let remote_port = free_port();
    let _remote = Remote::start(remote_port);
    let api = FakeApi::default();
    // Recorded before the orchestrator starts: served by the first list.
    api.apply(reachable("alpha", remote_port));
    // No ports and no URL: skipped with a warning, the others still join.
    api.apply(service("broken", json!({}), json!([])));
    let api_url = api.start().await;
    let front = write_config(&json!({
        "servers": {},
        "orchestrator": front_settings(json!({"kubernetes": {
            "namespace": NAMESPACE, "api_url": api_url, "token_env": "MCP_TEST_KUBE_TOKEN",
            "headers": {"Authorization": "Bearer ${MCP_TEST_DISCOVERY_TOKEN}"}
        }}))
    }));
    let host = Host::start_with_env(
        &front.path,
        &[
            ("MCP_TEST_KUBE_TOKEN", KUBE_TOKEN.to_owned()),
            ("MCP_TEST_DISCOVERY_TOKEN", TOKEN.to_owned()),
        ],
    )
    .await;

    // The listed Service joins, connected and callable.
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            state_of(s, "alpha") == "running" && fx_listed(s, "alpha")
        })
        .await;
    assert_eq!(state_of(&s, "alpha"), "running", "{s}");
    assert_eq!(s["servers"]["alpha"]["source"], "kubernetes", "{s}");
    assert_eq!(
        discovery_of(&s, "kubernetes")["servers"],
        json!(["alpha"]),
        "{s}"
    );
    assert_eq!(echo(&host, "alpha__fx__echo").await.unwrap(), "echo: found");
    {
        let a = api.state();
        assert_eq!(a.unauthorized, 0, "the token_env token is sent");
        assert!(
            a.requests
                .iter()
                .all(|(_, selector)| selector == "mcp.io/server=true"),
            "{:?}",
            a.requests
        );
        assert!(
            a.requests.iter().any(|r| r.0 == "watch"),
            "{:?}",
            a.requests
        );
    }
    let log = host
        .stderr_when(Duration::from_secs(2), |l| l.contains("Service skipped"))
        .await;
    assert!(log.contains("Service tools/broken: no ports"), "{log}");
    let before = host.settled_list_changed().await;

    // ADDED: beta joins with one list_changed; alpha keeps its connection.
    api.apply(reachable("beta", remote_port));
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            state_of(s, "beta") == "running" && fx_listed(s, "beta")
        })
        .await;
    assert_eq!(state_of(&s, "beta"), "running", "{s}");
    assert_eq!(echo(&host, "beta__fx__echo").await.unwrap(), "echo: found");
    assert_eq!(s["servers"]["alpha"]["restarts"], 0, "{s}");
    let joined = host.settled_list_changed().await;
    assert_eq!(joined, before + 1, "one list_changed for beta joining");

    // DELETED: beta leaves with one list_changed.
    api.delete("beta");
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            s["servers"].get("beta").is_none()
        })
        .await;
    assert!(s["servers"].get("beta").is_none(), "{s}");
    assert!(echo(&host, "beta__fx__echo").await.is_err());
    let left = host.settled_list_changed().await;
    assert_eq!(left, joined + 1, "one list_changed for beta leaving");

    // The API fails (503): the set stays, status says why and how old it is.
    let lists_before = api.lists();
    api.fail(true);
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            discovery_of(s, "kubernetes")["error"].is_string()
        })
        .await;
    let k = discovery_of(&s, "kubernetes");
    let error = k["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("namespace tools") && error.contains("unable to handle the request"),
        "{s}"
    );
    assert_eq!(k["servers"], json!(["alpha"]), "{s}");
    assert!(k["last_good_age_s"].as_f64().is_some(), "{s}");
    assert_eq!(state_of(&s, "alpha"), "running");
    assert_eq!(echo(&host, "alpha__fx__echo").await.unwrap(), "echo: found");
    let text = status_text(&host).await;
    assert!(text.contains("discovered: kubernetes"), "{text}");
    assert!(
        text.contains("failing, keeping the last good set"),
        "{text}"
    );
    assert_eq!(host.list_changed(), left, "a failure changes nothing");

    // Back: a fresh list confirms the set and clears the error, with no change to the surface.
    api.fail(false);
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            discovery_of(s, "kubernetes")["error"].is_null()
        })
        .await;
    assert!(discovery_of(&s, "kubernetes")["error"].is_null(), "{s}");
    assert!(api.lists() > lists_before, "recovery lists afresh");
    assert_eq!(s["servers"]["alpha"]["restarts"], 0, "{s}");
    assert_eq!(host.settled_list_changed().await, left);

    let log = host.stderr();
    assert!(!log.contains(TOKEN), "a server token leaked into the log");
    assert!(
        !log.contains(KUBE_TOKEN),
        "the API token leaked into the log"
    );
    let status = host.status().await.to_string() + &status_text(&host).await;
    assert!(!status.contains(TOKEN) && !status.contains(KUBE_TOKEN));
    host.close().await;
}
