//! OpenTelemetry end to end: `serve` exporting OTLP over HTTP to a receiver in the test (an axum
//! server decoding what arrives with the protocol's generated types), a host's trace continued
//! through the orchestrator into a child's `_meta`, workflow steps as spans, and the metrics.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use opentelemetry_proto::tonic::{
    collector::{metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest},
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::Metric,
    trace::v1::Span,
};
use prost::Message;
use rmcp::model::{CallToolRequestParams, RequestMetaObject};
use serde_json::{Value, json};

use crate::common::{Host, fast_settings, fixture, write_config};

/// What the receiver has been sent.
#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<Span>>>,
    metrics: Arc<Mutex<Vec<Metric>>>,
    service_names: Arc<Mutex<Vec<String>>>,
}

impl Received {
    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    fn metric_names(&self) -> Vec<String> {
        self.metrics
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.name.clone())
            .collect()
    }
}

fn service_name(attrs: &[KeyValue]) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| text(kv.value.as_ref()))
}

fn text(v: Option<&AnyValue>) -> Option<String> {
    match v?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()))
}

async fn traces(State(r): State<Received>, body: Bytes) -> StatusCode {
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    for rs in req.resource_spans {
        if let Some(res) = &rs.resource {
            r.service_names
                .lock()
                .unwrap()
                .extend(service_name(&res.attributes));
        }
        for ss in rs.scope_spans {
            r.spans.lock().unwrap().extend(ss.spans);
        }
    }
    StatusCode::OK
}

async fn metrics(State(r): State<Received>, body: Bytes) -> StatusCode {
    let Ok(req) = ExportMetricsServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    for rm in req.resource_metrics {
        for sm in rm.scope_metrics {
            r.metrics.lock().unwrap().extend(sm.metrics);
        }
    }
    StatusCode::OK
}

/// An OTLP/HTTP receiver on a free loopback port.
async fn receiver() -> (SocketAddr, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, received)
}

async fn wait_for(limit: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if pred() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pred()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const HOST_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_host_trace_crosses_the_orchestrator_into_the_child_and_reaches_the_collector() {
    let (addr, received) = receiver().await;
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&["--echo-meta"])},
        "orchestrator": fast_settings(),
    }));
    let dir = cfg.dir.path().join("workflows");
    std::fs::create_dir(&dir).unwrap();
    let workflow = json!({
        "name": "traced", "version": "1",
        "steps": [
            {"name": "first", "mcp": "fx", "action": "echo", "params": {"message": "one"}},
            {"name": "second", "mcp": "fx", "action": "add", "params": {"a": 1, "b": 2},
             "dependsOn": ["first"]}
        ]
    });
    std::fs::write(dir.join("traced.json"), workflow.to_string()).unwrap();
    let host = Host::start_with_env(
        &cfg.path,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}")),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500".into()),
        ],
    )
    .await;

    // A host request carrying a W3C trace context in `_meta`.
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent(format!("00-{TRACE}-{HOST_SPAN}-01"));
    meta.set_tracestate("host=1");
    let mut params = CallToolRequestParams::new("fx__echo")
        .with_arguments(json!({"message": "hi"}).as_object().unwrap().clone());
    params.meta = Some(meta);
    let r = host.client.call_tool(params).await.expect("call");
    let seen: Value = r.structured_content.expect("the fixture echoes its _meta")["meta"].clone();
    let child_parent = seen["traceparent"].as_str().expect("traceparent passed on");
    let parts: Vec<&str> = child_parent.split('-').collect();
    assert_eq!(parts[1], TRACE, "the child continues the host's trace");
    assert_ne!(
        parts[2], HOST_SPAN,
        "the child's parent is our span, not the host's"
    );
    assert_eq!(seen["tracestate"], "host=1");

    let run = host
        .call("workflow__traced", json!({}))
        .await
        .expect("workflow");
    assert_ne!(run.is_error, Some(true), "{run:?}");

    let spans = || received.spans();
    assert!(
        wait_for(Duration::from_secs(15), || {
            let s = spans();
            s.iter().any(|s| s.name.starts_with("tools/call fx__echo"))
                && s.iter()
                    .filter(|s| s.name.starts_with("step traced."))
                    .count()
                    >= 2
        })
        .await,
        "spans: {:?}",
        spans().iter().map(|s| s.name.clone()).collect::<Vec<_>>()
    );
    let spans = spans();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let request = spans
        .iter()
        .find(|s| s.name == "tools/call fx__echo" && hex(&s.trace_id) == TRACE)
        .expect("the host request's span, in the host's trace");
    assert_eq!(
        hex(&request.parent_span_id),
        HOST_SPAN,
        "under the host's span"
    );
    assert_eq!(attr(request, "mcp.outcome").as_deref(), Some("ok"));
    let child = spans
        .iter()
        .find(|s| s.parent_span_id == request.span_id)
        .expect("a child-call span under the request");
    assert_eq!(attr(child, "mcp.server").as_deref(), Some("fx"));
    assert_eq!(attr(child, "mcp.name").as_deref(), Some("echo"));
    assert_eq!(
        hex(&child.span_id),
        parts[2],
        "the child was told the child-call span is its parent"
    );
    let step = spans
        .iter()
        .find(|s| s.name == "step traced.second")
        .expect("a span per workflow step");
    assert_eq!(attr(step, "workflow.step").as_deref(), Some("second"));
    assert_eq!(attr(step, "mcp.outcome").as_deref(), Some("ok"));
    assert!(
        spans
            .iter()
            .any(|s| s.parent_span_id == step.span_id
                && attr(s, "mcp.name").as_deref() == Some("add")),
        "the step's child call hangs under the step"
    );
    assert!(
        received
            .service_names
            .lock()
            .unwrap()
            .iter()
            .all(|n| n == "mcp-orchestrator")
    );

    // Metrics: the call counters and histograms, and the status gauges.
    assert!(
        wait_for(Duration::from_secs(15), || {
            let names = received.metric_names();
            [
                "mcp_orchestrator.calls",
                "mcp_orchestrator.call.duration",
                "mcp_orchestrator.workflow.steps",
                "mcp_orchestrator.server.state",
                "mcp_orchestrator.process.memory.usage",
            ]
            .iter()
            .all(|n| names.iter().any(|m| m == n))
        })
        .await,
        "metrics: {:?}",
        received.metric_names()
    );
    let stderr = host.stderr();
    assert!(
        !stderr.contains("otel"),
        "spans stay out of the log: {stderr}"
    );
    host.close().await;
}

#[tokio::test]
async fn a_grpc_protocol_is_refused_with_what_to_set() {
    let cfg = write_config(&json!({"servers": {"fx": fixture(&[])}}));
    let out = crate::common::serve_command(
        &cfg.path,
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:4317".into(),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc") && stderr.contains("http/protobuf"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "stdout carries JSON-RPC only");
}
