//! OpenTelemetry: traces and metrics exported over OTLP, and the W3C trace context that crosses
//! the orchestrator in requests' `_meta` (SEP-414).
//!
//! Off unless an OTLP endpoint is configured with the standard variables
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the per-signal `…_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`;
//! `OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none` and `OTEL_METRICS_EXPORTER=none` turn it
//! or one signal off). Everything else (headers, timeouts, batch delays, the export interval, the
//! resource) is the SDK's own handling of the standard variables.
//!
//! While off, a span is [`Span::none`] and a metric record is one atomic load: the per-call path
//! pays nothing for telemetry nobody reads. While on, spans are ordinary `tracing` spans under
//! [`TARGET`], which only the OpenTelemetry layer sees (the log output is unchanged).

use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use opentelemetry::{
    KeyValue,
    metrics::{Counter, Histogram, Meter, MeterProvider as _},
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::{Status, TracerProvider as _},
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator,
    trace::SdkTracerProvider,
};
use rmcp::model::MetaObject;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `tracing` target of every span meant for OpenTelemetry.
pub const TARGET: &str = "mcp_orchestrator::otel";

/// The service name when `OTEL_SERVICE_NAME` does not give one.
const SERVICE: &str = "mcp-orchestrator";

static TRACES: AtomicBool = AtomicBool::new(false);
static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
static GAUGES_SINK: OnceLock<Gauges> = OnceLock::new();

/// Makes `gauges` the ones [`gauges`] returns (once; later calls are ignored).
pub fn set_gauges(gauges: Option<Gauges>) {
    if let Some(g) = gauges {
        let _ = GAUGES_SINK.set(g);
    }
}

/// The gauges the orchestrator should keep fresh, when metrics are exported.
pub fn gauges() -> Option<&'static Gauges> {
    GAUGES_SINK.get()
}

/// Whether spans are exported.
pub fn tracing_on() -> bool {
    TRACES.load(Ordering::Relaxed)
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// A protocol this build does not speak.
    #[error(
        "{var}={value}: this build exports OTLP over HTTP only; set it to http/protobuf (port 4318) or http/json"
    )]
    Protocol {
        /// The variable that asked for it.
        var: &'static str,
        /// What it asked for.
        value: String,
    },
    /// The exporter refused its settings.
    #[error("OpenTelemetry exporter: {0}")]
    Exporter(String),
}

/// The exporters while telemetry is on; [`Pipeline::shutdown`] flushes them.
pub struct Pipeline {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn exporter_off(var: &str) -> bool {
    env(var).is_some_and(|v| v.eq_ignore_ascii_case("none"))
}

/// The OTLP protocol for one signal: the per-signal variable, then the general one, then
/// http/protobuf (the specification's default).
fn protocol(signal_var: &'static str) -> Result<Protocol, OtelError> {
    match env(signal_var) {
        Some(v) => parse_protocol(signal_var, v),
        None => match env("OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some(v) => parse_protocol("OTEL_EXPORTER_OTLP_PROTOCOL", v),
            None => Ok(Protocol::HttpBinary),
        },
    }
}

fn parse_protocol(var: &'static str, value: String) -> Result<Protocol, OtelError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(Protocol::HttpBinary),
        "http/json" => Ok(Protocol::HttpJson),
        _ => Err(OtelError::Protocol { var, value }),
    }
}

fn resource() -> Resource {
    let builder = Resource::builder();
    match env("OTEL_SERVICE_NAME") {
        Some(_) => builder.build(),
        None => builder.with_service_name(SERVICE).build(),
    }
}

impl Pipeline {
    /// The pipeline the environment asks for, or `None` when it asks for none.
    pub fn from_env() -> Result<Option<Self>, OtelError> {
        if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let any = env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        let traces = (any || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some())
            && !exporter_off("OTEL_TRACES_EXPORTER");
        let metrics = (any || env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_some())
            && !exporter_off("OTEL_METRICS_EXPORTER");
        if !traces && !metrics {
            return Ok(None);
        }
        let exporter =
            |e: opentelemetry_otlp::ExporterBuildError| OtelError::Exporter(e.to_string());
        let tracer = if traces {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")?)
                .build()
                .map_err(exporter)?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource())
                    .build(),
            )
        } else {
            None
        };
        let meter = if metrics {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(protocol("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")?)
                .build()
                .map_err(exporter)?;
            let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter).build();
            Some(
                SdkMeterProvider::builder()
                    .with_reader(reader)
                    .with_resource(resource())
                    .build(),
            )
        } else {
            None
        };
        if let Some(meter) = &meter {
            let _ = INSTRUMENTS.set(Instruments::new(&meter.meter(SERVICE)));
        }
        TRACES.store(tracer.is_some(), Ordering::Relaxed);
        Ok(Some(Self { tracer, meter }))
    }

    /// The `tracing` layer that turns [`TARGET`] spans into exported spans, if traces are on.
    pub fn layer<S>(&self) -> Option<impl tracing_subscriber::Layer<S> + use<S>>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let tracer = self.tracer.as_ref()?.tracer(SERVICE);
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false),
        )
    }

    /// Gauges read from a snapshot the orchestrator refreshes ([`Gauges`]), if metrics are on.
    pub fn gauges(&self) -> Option<Gauges> {
        let meter = self.meter.as_ref()?.meter(SERVICE);
        Some(Gauges::register(&meter))
    }

    /// Exports what is buffered and stops the exporters (bounded by their own timeouts).
    pub fn shutdown(self) {
        TRACES.store(false, Ordering::Relaxed);
        if let Some(t) = self.tracer
            && let Err(e) = t.shutdown()
        {
            tracing::warn!(error = %e, "OpenTelemetry traces: the last export failed");
        }
        if let Some(m) = self.meter
            && let Err(e) = m.shutdown()
        {
            tracing::warn!(error = %e, "OpenTelemetry metrics: the last export failed");
        }
    }
}

// ---- trace context -------------------------------------------------------------------------

/// The W3C trace context a request carried in `_meta` (`traceparent`, `tracestate`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl TraceContext {
    /// What a request's `_meta` carries.
    pub fn from_meta(meta: &MetaObject) -> Self {
        Self {
            traceparent: meta.get_traceparent().map(str::to_owned),
            tracestate: meta.get_tracestate().map(str::to_owned),
        }
    }

    /// Writes the context into an outgoing request's `_meta`: the current span's when traces
    /// are exported (so the child's spans hang under ours), else the caller's unchanged (so a
    /// trace still crosses an orchestrator that records none of it).
    pub fn write_to(&self, span: &Span, meta: &mut MetaObject) {
        let (parent, state) = if tracing_on() && !span.is_none() {
            let mut carrier = Carrier::default();
            TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
            (carrier.traceparent, carrier.tracestate)
        } else {
            (self.traceparent.clone(), self.tracestate.clone())
        };
        if let Some(p) = parent {
            meta.set_traceparent(&p);
            if let Some(s) = state.filter(|s| !s.is_empty()) {
                meta.set_tracestate(&s);
            }
        }
    }

    fn parent(&self) -> Option<opentelemetry::Context> {
        let carrier = Carrier {
            traceparent: self.traceparent.clone(),
            tracestate: self.tracestate.clone(),
        };
        carrier.traceparent.as_ref()?;
        Some(TraceContextPropagator::new().extract(&carrier))
    }
}

#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value),
            _ => {}
        }
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

// ---- spans ---------------------------------------------------------------------------------

/// The span of one host request (`tools/call x`), continuing the host's trace when it sent one.
pub fn request_span(method: &'static str, name: &str, trace: &TraceContext) -> Span {
    if !tracing_on() {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = %format_args!("{method} {name}"),
        otel.kind = "server",
        rpc.system = "mcp",
        rpc.method = method,
        mcp.name = name,
    );
    if let Some(parent) = trace.parent() {
        let _ = span.set_parent(parent);
    }
    span
}

/// The span of one request to a child.
pub fn child_span(server: &str, method: &'static str, name: &str) -> Span {
    if !tracing_on() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "child call",
        otel.name = %format_args!("{server} {method} {name}"),
        otel.kind = "client",
        rpc.system = "mcp",
        rpc.method = method,
        mcp.server = server,
        mcp.name = name,
    )
}

/// The span of one workflow step attempt.
pub fn step_span(workflow: &str, run: &str, step: &str, tool: &str, attempt: u32) -> Span {
    if !tracing_on() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "workflow step",
        otel.name = %format_args!("step {workflow}.{step}"),
        otel.kind = "internal",
        workflow.name = workflow,
        workflow.run = run,
        workflow.step = step,
        mcp.name = tool,
        workflow.attempt = attempt,
    )
}

/// A span's outcome: `ok`, or the kind of failure (`tool_error`, `timeout`, …), which also
/// marks the span as an error.
pub fn set_outcome(span: &Span, error: Option<&str>) {
    if span.is_none() {
        return;
    }
    span.set_attribute("mcp.outcome", error.unwrap_or("ok").to_owned());
    if let Some(kind) = error {
        span.set_status(Status::error(kind.to_owned()));
    }
}

/// What a unified tool's routing did, on the span of the request it serves.
pub fn set_routing(span: &Span, vendor: Option<&str>, attempts: usize) {
    if span.is_none() {
        return;
    }
    if let Some(v) = vendor {
        span.set_attribute("mcp.vendor", v.to_owned());
    }
    span.set_attribute("mcp.attempts", attempts as i64);
}

// ---- metrics -------------------------------------------------------------------------------

/// Seconds, for the histograms: the Prometheus exposition's bucket bounds, so both exports agree.
fn boundaries() -> Vec<f64> {
    crate::metrics::BUCKETS_US
        .iter()
        .map(|us| *us as f64 / 1e6)
        .collect()
}

/// The instruments recorded as calls happen (histograms cannot be observed after the fact).
struct Instruments {
    calls: Counter<u64>,
    duration: Histogram<f64>,
    overhead: Histogram<f64>,
    steps: Counter<u64>,
    step_duration: Histogram<f64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Self {
            calls: meter
                .u64_counter("mcp_orchestrator.calls")
                .with_description("Requests routed to a child server, by tool and outcome")
                .build(),
            duration: meter
                .f64_histogram("mcp_orchestrator.call.duration")
                .with_unit("s")
                .with_description("Time from a request reaching the orchestrator to its answer")
                .with_boundaries(boundaries())
                .build(),
            overhead: meter
                .f64_histogram("mcp_orchestrator.overhead")
                .with_unit("s")
                .with_description(
                    "The orchestrator's own part of a request (total minus waiting on the child)",
                )
                .with_boundaries(boundaries())
                .build(),
            steps: meter
                .u64_counter("mcp_orchestrator.workflow.steps")
                .with_description("Workflow step attempts, by workflow and outcome")
                .build(),
            step_duration: meter
                .f64_histogram("mcp_orchestrator.workflow.step.duration")
                .with_unit("s")
                .with_description("Time of one workflow step attempt")
                .with_boundaries(boundaries())
                .build(),
        }
    }
}

/// Records one request to a child. `name` is a tool, prompt or resource the child listed (a
/// bounded set), never host input.
pub fn record_call(
    server: &str,
    name: &str,
    error: Option<&'static str>,
    total: Duration,
    overhead: Duration,
) {
    let Some(i) = INSTRUMENTS.get() else { return };
    let server = KeyValue::new("server", server.to_owned());
    let outcome = KeyValue::new("outcome", error.unwrap_or("ok"));
    i.calls.add(
        1,
        &[
            server.clone(),
            KeyValue::new("tool", name.to_owned()),
            outcome.clone(),
        ],
    );
    i.duration
        .record(total.as_secs_f64(), &[server.clone(), outcome]);
    i.overhead.record(overhead.as_secs_f64(), &[server]);
}

/// Records one workflow step attempt.
pub fn record_step(workflow: &str, error: Option<&'static str>, took: Duration) {
    let Some(i) = INSTRUMENTS.get() else { return };
    let attrs = [
        KeyValue::new("workflow", workflow.to_owned()),
        KeyValue::new("outcome", error.unwrap_or("ok")),
    ];
    i.steps.add(1, &attrs);
    i.step_duration.record(took.as_secs_f64(), &attrs);
}

/// One gauge reading: a metric of [`GAUGES`], its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Which gauge (a name from [`GAUGES`]).
    pub gauge: &'static str,
    /// Its labels (bounded sets: server ids, states, job types).
    pub labels: Vec<(&'static str, String)>,
    /// Its value.
    pub value: f64,
}

/// The gauges the status report feeds: name, unit, description. The same quantities as the
/// Prometheus exposition's gauges.
pub const GAUGES: &[(&str, &str, &str)] = &[
    (
        "mcp_orchestrator.server.state",
        "1",
        "1 for the state a child server is in",
    ),
    (
        "mcp_orchestrator.in_flight",
        "{request}",
        "Requests to a child server in flight now",
    ),
    (
        "mcp_orchestrator.restarts",
        "{restart}",
        "Restarts of a child server since start",
    ),
    (
        "mcp_orchestrator.circuit_open",
        "1",
        "1 while a vendor's circuit breaker is open",
    ),
    (
        "mcp_orchestrator.process.cpu.utilization",
        "1",
        "CPU of a process group, in cores",
    ),
    (
        "mcp_orchestrator.process.memory.usage",
        "By",
        "Resident memory of a process group",
    ),
    (
        "mcp_orchestrator.workflow.runs",
        "{run}",
        "Workflow runs in the store, by state",
    ),
    (
        "mcp_orchestrator.jobs",
        "{job}",
        "Jobs in the store, by state",
    ),
];

/// The latest gauge readings, which the orchestrator refreshes and the exporter's callbacks read
/// (the callbacks run on the exporter's thread and cannot wait for the store).
#[derive(Clone, Default)]
pub struct Gauges {
    latest: Arc<Mutex<Vec<Reading>>>,
}

impl Gauges {
    fn register(meter: &Meter) -> Self {
        let gauges = Self::default();
        for (name, unit, description) in GAUGES {
            let latest = gauges.latest.clone();
            meter
                .f64_observable_gauge(*name)
                .with_unit(*unit)
                .with_description(*description)
                .with_callback(move |observer| {
                    let readings = latest.lock().unwrap_or_else(|p| p.into_inner());
                    for r in readings.iter().filter(|r| r.gauge == *name) {
                        let attrs: Vec<KeyValue> = r
                            .labels
                            .iter()
                            .map(|(k, v)| KeyValue::new(*k, v.clone()))
                            .collect();
                        observer.observe(r.value, &attrs);
                    }
                })
                .build();
        }
        gauges
    }

    /// Replaces the readings.
    pub fn set(&self, readings: Vec<Reading>) {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = readings;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_trace_context_passes_through_unchanged_while_traces_are_off() {
        let mut meta = MetaObject::new();
        meta.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01");
        meta.set_tracestate("vendor=x");
        let trace = TraceContext::from_meta(&meta);
        let mut out = MetaObject::new();
        trace.write_to(&Span::none(), &mut out);
        assert_eq!(
            out.get_traceparent(),
            Some("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01")
        );
        assert_eq!(out.get_tracestate(), Some("vendor=x"));
        let mut none = MetaObject::new();
        TraceContext::default().write_to(&Span::none(), &mut none);
        assert!(none.get_traceparent().is_none(), "nothing invented");
    }

    #[test]
    fn the_parent_is_read_from_a_valid_traceparent_only() {
        use opentelemetry::trace::TraceContextExt as _;
        let good = TraceContext {
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01".into()),
            tracestate: None,
        };
        let cx = good.parent().unwrap();
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let bad = TraceContext {
            traceparent: Some("not a traceparent".into()),
            tracestate: None,
        };
        assert!(!bad.parent().unwrap().span().span_context().is_valid());
        assert!(TraceContext::default().parent().is_none());
    }

    #[test]
    fn only_http_protocols_are_accepted() {
        let p = |v: &str| parse_protocol("OTEL_EXPORTER_OTLP_PROTOCOL", v.into());
        assert!(matches!(p("http/protobuf"), Ok(Protocol::HttpBinary)));
        assert!(matches!(p(" HTTP/JSON"), Ok(Protocol::HttpJson)));
        let e = p("grpc").unwrap_err().to_string();
        assert!(e.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"), "{e}");
        assert!(e.contains("http/protobuf"), "{e}");
    }
}
