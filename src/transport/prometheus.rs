//! `/metrics`: the status report and the children's call series in the Prometheus text format
//! (prometheus-client's encoder), built at scrape time from what the orchestrator already keeps,
//! so metrics add nothing to a call beyond the counters its one metrics lock already guards.
//!
//! Labels are bounded: server ids and job types come from the config, tool names from the
//! children's own lists (capped per server, see [`crate::metrics::MAX_TOOLS`]), states and error
//! kinds from fixed sets. Nothing a host sends becomes a label.

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};

use crate::{
    metrics::{BUCKETS_US, Export, Histogram},
    report::{ResourceSample, ServerState, StatusReport},
};

/// What one scrape renders.
#[derive(Debug)]
pub struct Scrape {
    /// The status report (servers, circuits, usage, workflows, jobs).
    pub report: StatusReport,
    /// Each server's call series since start.
    pub series: Vec<(String, Export)>,
}

/// The exposition, in the Prometheus text format (version 0.0.4).
pub fn render(scrape: Scrape) -> String {
    let mut registry = Registry::with_prefix("mcp_orchestrator");
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
        tracing::warn!(error = %e, "metrics exposition failed");
    }
    out
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// One family's samples: label set and value.
fn family<M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, M)>,
) -> std::fmt::Result {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in samples {
        metric.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn fcounter(v: f64) -> ConstCounter<f64> {
    ConstCounter::new(v)
}

fn gauge(v: f64) -> ConstGauge<f64> {
    ConstGauge::new(v)
}

fn server(id: &str) -> Labels {
    vec![("server", id.to_owned())]
}

fn histograms(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(String, &Histogram)],
) -> std::fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (id, h) in series {
        let mut cumulative = 0;
        let mut buckets: Vec<(f64, u64)> = BUCKETS_US
            .iter()
            .zip(h.counts)
            .map(|(bound, n)| {
                cumulative += n;
                (*bound as f64 / 1e6, cumulative)
            })
            .collect();
        buckets.push((f64::INFINITY, h.count()));
        let labels = server(id);
        m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
            h.sum_us as f64 / 1e6,
            h.count(),
            &buckets,
            None,
        )?;
    }
    Ok(())
}

fn usage_families(
    enc: &mut DescriptorEncoder,
    prefix: &str,
    what: &str,
    rows: &[(Labels, ResourceSample)],
) -> std::fmt::Result {
    let each = |f: fn(&ResourceSample) -> f64| {
        rows.iter()
            .map(move |(l, u)| (l.clone(), gauge(f(u))))
            .collect::<Vec<_>>()
    };
    family(
        enc,
        &format!("{prefix}_cpu_seconds"),
        &format!("CPU time of {what}, seconds"),
        MetricType::Counter,
        rows.iter()
            .map(|(l, u)| (l.clone(), fcounter(u.cpu_seconds_total))),
    )?;
    family(
        enc,
        &format!("{prefix}_cpu_percent"),
        &format!("CPU use of {what} over the last sample interval, percent of one core"),
        MetricType::Gauge,
        each(|u| u.cpu_percent),
    )?;
    family(
        enc,
        &format!("{prefix}_resident_memory_bytes"),
        &format!("Resident memory of {what}"),
        MetricType::Gauge,
        each(|u| u.rss_bytes as f64),
    )?;
    family(
        enc,
        &format!("{prefix}_threads"),
        &format!("Threads of {what}"),
        MetricType::Gauge,
        each(|u| u.threads as f64),
    )?;
    family(
        enc,
        &format!("{prefix}_open_fds"),
        &format!("Open file descriptors of {what}"),
        MetricType::Gauge,
        each(|u| u.open_fds as f64),
    )
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let r = &self.report;
        let series = &self.series;
        family(
            &mut enc,
            "calls",
            "Requests routed to a child server",
            MetricType::Counter,
            series.iter().map(|(id, e)| (server(id), counter(e.calls))),
        )?;
        family(
            &mut enc,
            "call_errors",
            "Requests to a child that failed, by kind (tool_error: an isError result)",
            MetricType::Counter,
            series.iter().flat_map(|(id, e)| {
                e.error_kinds.iter().map(move |(kind, n)| {
                    (
                        vec![("server", id.clone()), ("kind", (*kind).to_owned())],
                        counter(*n),
                    )
                })
            }),
        )?;
        let per_tool = |f: fn(&crate::metrics::ToolCounts) -> u64| {
            series
                .iter()
                .flat_map(move |(id, e)| {
                    e.tools.iter().map(move |(tool, t)| {
                        (
                            vec![("server", id.clone()), ("tool", tool.clone())],
                            counter(f(t)),
                        )
                    })
                })
                .collect::<Vec<_>>()
        };
        family(
            &mut enc,
            "tool_calls",
            "Requests to a child by tool (prompt or resource) name",
            MetricType::Counter,
            per_tool(|t| t.calls),
        )?;
        family(
            &mut enc,
            "tool_errors",
            "Failed requests to a child by tool (prompt or resource) name",
            MetricType::Counter,
            per_tool(|t| t.errors),
        )?;
        let latency: Vec<(String, &Histogram)> = series
            .iter()
            .map(|(id, e)| (id.clone(), &e.latency))
            .collect();
        histograms(
            &mut enc,
            "call_duration_seconds",
            "Time from a request reaching the orchestrator to its answer",
            &latency,
        )?;
        let overhead: Vec<(String, &Histogram)> = series
            .iter()
            .map(|(id, e)| (id.clone(), &e.overhead))
            .collect();
        histograms(
            &mut enc,
            "overhead_seconds",
            "The orchestrator's own part of a request (total minus waiting on the child)",
            &overhead,
        )?;
        family(
            &mut enc,
            "restarts",
            "Restarts of a child server since start",
            MetricType::Counter,
            r.servers
                .iter()
                .map(|(id, s)| (server(id), counter(u64::from(s.restarts)))),
        )?;
        family(
            &mut enc,
            "server_state",
            "1 for the state a child server is in, 0 for the others",
            MetricType::Gauge,
            r.servers.iter().flat_map(|(id, s)| {
                ServerState::ALL.iter().map(move |state| {
                    (
                        vec![("server", id.clone()), ("state", state.as_str().to_owned())],
                        gauge(f64::from(u8::from(s.state == *state))),
                    )
                })
            }),
        )?;
        family(
            &mut enc,
            "in_flight",
            "Requests to a child server in flight now",
            MetricType::Gauge,
            r.servers
                .iter()
                .map(|(id, s)| (server(id), gauge(s.in_flight as f64))),
        )?;
        family(
            &mut enc,
            "circuit_open",
            "1 while a vendor's circuit breaker is open (its unified-tool calls are skipped)",
            MetricType::Gauge,
            r.servers.iter().filter_map(|(id, s)| {
                s.circuit.map(|c| {
                    let open = matches!(c, crate::report::CircuitState::Open);
                    (server(id), gauge(f64::from(u8::from(open))))
                })
            }),
        )?;
        let children: Vec<(Labels, ResourceSample)> = r
            .servers
            .iter()
            .filter_map(|(id, s)| s.usage.map(|u| (server(id), u)))
            .collect();
        usage_families(
            &mut enc,
            "child",
            "a child server's process group",
            &children,
        )?;
        let own: Vec<(Labels, ResourceSample)> = r
            .orchestrator
            .map(|u| (Vec::new(), u))
            .into_iter()
            .collect();
        usage_families(&mut enc, "process", "the orchestrator process", &own)?;
        family(
            &mut enc,
            "unified_calls",
            "Calls of a unified tool (chat, embed, …)",
            MetricType::Counter,
            r.unified
                .iter()
                .map(|(t, m)| (vec![("tool", t.clone())], counter(m.calls))),
        )?;
        family(
            &mut enc,
            "unified_errors",
            "Calls of a unified tool that failed on every vendor",
            MetricType::Counter,
            r.unified
                .iter()
                .map(|(t, m)| (vec![("tool", t.clone())], counter(m.errors))),
        )?;
        if let Some(w) = &r.workflows {
            family(
                &mut enc,
                "workflow_runs",
                "Workflow runs in the store, by state",
                MetricType::Gauge,
                w.totals
                    .iter()
                    .map(|(s, n)| (vec![("status", s.clone())], gauge(*n as f64))),
            )?;
        }
        if let Some(j) = &r.jobs {
            family(
                &mut enc,
                "jobs",
                "Jobs in the store, by state",
                MetricType::Gauge,
                j.totals
                    .iter()
                    .map(|(s, n)| (vec![("status", s.clone())], gauge(*n as f64))),
            )?;
            family(
                &mut enc,
                "jobs_running_here",
                "Jobs this process runs now",
                MetricType::Gauge,
                [(Vec::new(), gauge(j.running_here as f64))],
            )?;
            family(
                &mut enc,
                "artifacts",
                "Artifacts registered",
                MetricType::Gauge,
                [(Vec::new(), gauge(j.artifacts as f64))],
            )?;
            family(
                &mut enc,
                "service_up",
                "1 when a job type's external service answered its last health check",
                MetricType::Gauge,
                j.types.iter().filter_map(|t| {
                    t.health.as_deref().map(|h| {
                        (
                            vec![("type", t.job_type.clone())],
                            gauge(f64::from(u8::from(h == "healthy"))),
                        )
                    })
                }),
            )?;
        }
        Ok(())
    }
}
