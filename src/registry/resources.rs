//! The children's resource use: every `resource_sample_interval` one reading of each running
//! child's process group (and of this process) from `/proc`, the latest kept for `status` and
//! `/metrics`, and a bounded history (`resource_history`, one point per `resource_history_step`:
//! mean CPU, peak memory) for charts and `metrics history`.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Registry;
use crate::{
    metrics::Histogram,
    procstat::{self, Reading},
    report::{HistoryPoint, ResourceSample},
};

/// The key of this process's own series.
pub const OWN: &str = "orchestrator";

/// One series: its last reading, the step being filled, and the finished points.
#[derive(Default)]
struct Series {
    last: Option<(Reading, Instant)>,
    sample: Option<ResourceSample>,
    step: Option<Step>,
    points: VecDeque<HistoryPoint>,
}

struct Step {
    at: i64,
    cpu_sum: f64,
    readings: u32,
    rss_peak: u64,
    last: ResourceSample,
    /// The call latency histogram before the step and at its last reading: their difference is
    /// the step's calls.
    calls_before: Option<Histogram>,
    calls_last: Option<Histogram>,
}

/// The latest readings and their history, by server id (and [`OWN`]).
#[derive(Default)]
pub struct Resources {
    series: Mutex<HashMap<String, Series>>,
}

impl Resources {
    /// Records a reading of `key` taken at `now` (monotonic) / `now_ms` (wall), with its call
    /// latency histogram since start when it has one, keeping at most `keep` points of `step_ms`
    /// each.
    #[expect(clippy::too_many_arguments, reason = "one reading and where it goes")]
    pub fn record(
        &self,
        key: &str,
        reading: Reading,
        calls: Option<Histogram>,
        now: Instant,
        now_ms: i64,
        step_ms: i64,
        keep: usize,
    ) {
        let mut all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = all.entry(key.to_owned()).or_default();
        let cpu = match s.last {
            Some((before, at)) => {
                procstat::cpu_percent(&before, &reading, (now - at).as_secs_f64())
            }
            None => 0.0,
        };
        s.last = Some((reading, now));
        let sample = ResourceSample {
            cpu_percent: (cpu * 10.0).round() / 10.0,
            rss_bytes: reading.rss_bytes,
            threads: reading.threads,
            open_fds: reading.open_fds,
            processes: reading.processes,
            cpu_seconds_total: reading.cpu_ticks as f64 / procstat::ticks_per_second() as f64,
        };
        s.sample = Some(sample);
        let start = now_ms - now_ms.rem_euclid(step_ms.max(1));
        match &mut s.step {
            Some(step) if step.at == start => {
                step.cpu_sum += sample.cpu_percent;
                step.readings += 1;
                step.rss_peak = step.rss_peak.max(sample.rss_bytes);
                step.last = sample;
                step.calls_last = calls;
            }
            _ => {
                let mut before = calls.clone();
                if let Some(done) = s.step.take() {
                    s.points.push_back(point(&done));
                    while s.points.len() > keep {
                        s.points.pop_front();
                    }
                    // Calls between the last step's last reading and this one count here.
                    before = done.calls_last.or(before);
                }
                s.step = Some(Step {
                    at: start,
                    cpu_sum: sample.cpu_percent,
                    readings: 1,
                    rss_peak: sample.rss_bytes,
                    last: sample,
                    calls_before: before,
                    calls_last: calls,
                });
            }
        }
    }

    /// Forgets a series (a child that is not running has no processes to read).
    pub fn clear_sample(&self, key: &str) {
        let mut all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = all.get_mut(key) {
            s.sample = None;
            s.last = None;
        }
    }

    /// The latest reading of `key`.
    pub fn latest(&self, key: &str) -> Option<ResourceSample> {
        let all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        all.get(key).and_then(|s| s.sample)
    }

    /// History since `since_ms` (unix ms), the step being filled included, by series.
    pub fn history(&self, since_ms: i64) -> BTreeMap<String, Vec<HistoryPoint>> {
        let all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .map(|(k, s)| {
                let mut points: Vec<HistoryPoint> = s
                    .points
                    .iter()
                    .filter(|p| p.at >= since_ms)
                    .copied()
                    .collect();
                if let Some(step) = &s.step
                    && step.at >= since_ms
                {
                    points.push(point(step));
                }
                (k.clone(), points)
            })
            .collect()
    }
}

fn point(step: &Step) -> HistoryPoint {
    let calls = match (&step.calls_last, &step.calls_before) {
        (Some(last), Some(before)) => Some(last.since(before)),
        _ => None,
    };
    let ms = |q: f64| {
        let us = calls.as_ref()?.quantile(q)?;
        Some((us / 10.0).round() / 100.0)
    };
    HistoryPoint {
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        at: step.at,
        cpu_percent: (step.cpu_sum / f64::from(step.readings.max(1)) * 10.0).round() / 10.0,
        rss_bytes: step.rss_peak,
        threads: step.last.threads,
        open_fds: step.last.open_fds,
    }
}

/// Reads every running child and this process until shutdown.
pub(super) async fn sampler(registry: Weak<Registry>, stop: CancellationToken) {
    let interval = match registry.upgrade() {
        Some(r) => r.config().settings.resource_sample_interval,
        None => return,
    };
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let settings = registry.config().settings.clone();
        let step_ms = settings.resource_history_step.as_millis().max(1) as i64;
        let keep = (settings.resource_history.as_millis() as i64 / step_ms).max(1) as usize;
        let children: Vec<(Arc<str>, Option<u32>)> = registry
            .children()
            .iter()
            .map(|c| (c.id().clone(), c.status().pid))
            .collect();
        let calls: HashMap<Arc<str>, Histogram> = registry
            .children()
            .iter()
            .map(|c| (c.id().clone(), c.metrics().latency_histogram()))
            .collect();
        // /proc is read on a blocking thread: a scan of every process is a few ms of syscalls.
        let readings = tokio::task::spawn_blocking(move || {
            let own = procstat::own();
            let children: Vec<(Arc<str>, Option<Reading>)> = children
                .into_iter()
                .map(|(id, pid)| (id, pid.and_then(procstat::group)))
                .collect();
            (own, children)
        })
        .await;
        let Ok((own, children)) = readings else {
            continue;
        };
        let now = Instant::now();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let r = registry.resources();
        if let Some(own) = own {
            r.record(OWN, own, None, now, now_ms, step_ms, keep);
        }
        for (id, reading) in children {
            match reading {
                Some(reading) => {
                    let calls = calls.get(&id).cloned();
                    r.record(&id, reading, calls, now, now_ms, step_ms, keep);
                }
                None => r.clear_sample(&id),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(ticks: u64, rss: u64) -> Reading {
        Reading {
            cpu_ticks: ticks,
            rss_bytes: rss,
            threads: 2,
            open_fds: 5,
            processes: 1,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn readings_become_steps_with_mean_cpu_and_peak_memory_and_the_history_is_bounded() {
        let r = Resources::default();
        let hz = procstat::ticks_per_second();
        let t0 = Instant::now();
        // Five readings a second apart in one 10 s step: CPU 0 (first), then half a core each.
        for i in 0..5u64 {
            let at = t0 + Duration::from_secs(i);
            r.record(
                "fx",
                reading(i * hz / 2, 100 + i),
                None,
                at,
                1_000 * i as i64,
                10_000,
                3,
            );
        }
        let s = r.latest("fx").unwrap();
        assert_eq!((s.cpu_percent, s.rss_bytes, s.processes), (50.0, 104, 1));
        let h = r.history(0);
        assert_eq!(h["fx"].len(), 1, "the step being filled");
        assert_eq!(h["fx"][0].cpu_percent, 40.0, "mean of 0, 50, 50, 50, 50");
        assert_eq!(h["fx"][0].rss_bytes, 104, "peak");
        // Steps 10 s apart: four more finished steps, of which three are kept.
        for i in 1..=5i64 {
            r.record(
                "fx",
                reading(0, 1),
                None,
                t0 + Duration::from_secs(10 + i as u64),
                10_000 * i,
                10_000,
                3,
            );
        }
        let h = r.history(0);
        assert_eq!(h["fx"].len(), 4, "three kept plus the step being filled");
        assert_eq!(h["fx"][0].at, 20_000);
        assert_eq!(r.history(40_000)["fx"].len(), 2);
        r.clear_sample("fx");
        assert!(r.latest("fx").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn each_step_carries_the_latency_percentiles_of_its_own_calls() {
        use crate::metrics::{Call, CallMetrics};
        let (r, m, t0) = (Resources::default(), CallMetrics::default(), Instant::now());
        let call = |us: u64| Call {
            total: Duration::from_micros(us),
            waiting: Duration::ZERO,
            name: "",
            error: None,
        };
        let read = |i: u64| {
            let at = t0 + Duration::from_secs(i);
            let calls = Some(m.latency_histogram());
            r.record("fx", reading(0, 1), calls, at, 1_000 * i as i64, 10_000, 10);
        };
        read(0);
        (0..10).for_each(|_| m.record_call(call(5_000_000)));
        read(5);
        // The next step: fast calls only, some of them before its first reading.
        (0..50).for_each(|_| m.record_call(call(80)));
        read(10);
        (0..50).for_each(|_| m.record_call(call(80)));
        read(15);
        let h = r.history(0)["fx"].clone();
        assert_eq!(h.len(), 2);
        assert_eq!(
            h[0].p50_ms,
            Some(6250.0),
            "slow step: 5 s calls, halfway up 2.5–10 s"
        );
        assert!(h[1].p99_ms.unwrap() <= 0.1, "fast step: {:?}", h[1]);
        read(25);
        assert_eq!(
            r.history(0)["fx"][2].p50_ms,
            None,
            "no calls, no percentiles"
        );
    }
}
