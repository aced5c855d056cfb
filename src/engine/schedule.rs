//! Which ready steps start now: the strategies, as pure functions of what is ready, what runs,
//! and the limits, so each promise (order, width, budget) is tested without running anything.

use crate::{
    config::ResourceLimits,
    workflow::{Resources, Strategy},
};

/// A step as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// Its index in the definition (file order).
    pub index: usize,
    /// Its `priority` (higher first).
    pub priority: i64,
    /// What it declared it uses.
    pub resources: Resources,
}

/// What bounds a pick besides the strategy.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Step slots free now (the global `max_concurrent_steps` less what runs elsewhere).
    pub free: usize,
    /// The machine's budget, for `resource_aware`.
    pub resources: ResourceLimits,
    /// The adaptive width now, for `adaptive`.
    pub width: usize,
}

/// The steps to start now, in the order to start them. `ready` is in file order; `running` are
/// this run's steps under way.
pub fn pick(strategy: Strategy, ready: &[Slot], running: &[Slot], bounds: Bounds) -> Vec<usize> {
    let take = |slots: &mut dyn Iterator<Item = &Slot>, n: usize| -> Vec<usize> {
        slots.take(n).map(|s| s.index).collect()
    };
    match strategy {
        Strategy::Sequential => {
            if running.is_empty() {
                take(&mut ready.iter(), bounds.free.min(1))
            } else {
                Vec::new()
            }
        }
        Strategy::Parallel => take(&mut ready.iter(), bounds.free),
        Strategy::Priority => {
            let mut by_priority: Vec<&Slot> = ready.iter().collect();
            // Stable: equal priorities keep file order.
            by_priority.sort_by_key(|s| std::cmp::Reverse(s.priority));
            take(&mut by_priority.into_iter(), bounds.free)
        }
        Strategy::Adaptive => {
            let room = bounds.width.saturating_sub(running.len()).min(bounds.free);
            take(&mut ready.iter(), room)
        }
        Strategy::ResourceAware => {
            let (mut cpu, mut mem) = running.iter().fold((0.0, 0u64), |(c, m), s| {
                (c + s.resources.cpu, m + s.resources.memory_mb)
            });
            let mut picked = Vec::new();
            for s in ready {
                if picked.len() >= bounds.free {
                    break;
                }
                let fits = cpu + s.resources.cpu <= bounds.resources.cpu + f64::EPSILON
                    && mem + s.resources.memory_mb <= bounds.resources.memory_mb;
                if fits {
                    cpu += s.resources.cpu;
                    mem += s.resources.memory_mb;
                    picked.push(s.index);
                }
            }
            picked
        }
    }
}

/// Whether a step could ever run under the budget (one that needs more than the whole machine
/// would wait forever).
pub fn ever_fits(resources: Resources, limits: ResourceLimits) -> bool {
    resources.cpu <= limits.cpu + f64::EPSILON && resources.memory_mb <= limits.memory_mb
}

/// The `adaptive` strategy's width: additive increase while calls are as fast as the best seen,
/// halved when a call comes back overloaded or much slower than that baseline (the target child
/// or the machine is saturated). The shape of TCP's congestion control, applied to step calls.
#[derive(Debug, Clone)]
pub struct AdaptiveWidth {
    width: f64,
    min: f64,
    max: f64,
    /// The fastest call seen, decayed slowly upward so one lucky call does not pin it.
    baseline_ms: Option<f64>,
}

impl AdaptiveWidth {
    /// Slower than this many baselines counts as saturation.
    const SLOW: f64 = 2.0;

    /// Starts at `max / 2` (at least 1), between 1 and `max`.
    pub fn new(max: usize) -> Self {
        let max = max.max(1) as f64;
        Self {
            width: (max / 2.0).max(1.0),
            min: 1.0,
            max,
            baseline_ms: None,
        }
    }

    /// The width now.
    pub fn width(&self) -> usize {
        self.width.floor() as usize
    }

    /// Feeds one finished call: its duration and whether the callee said it was overloaded.
    pub fn observe(&mut self, took_ms: f64, overloaded: bool) {
        let baseline = match self.baseline_ms {
            Some(b) => took_ms.min(b * 1.01),
            None => took_ms,
        }
        .max(0.001);
        self.baseline_ms = Some(baseline);
        let saturated = overloaded || took_ms > Self::SLOW * baseline.max(1.0);
        self.width = if saturated {
            (self.width / 2.0).max(self.min)
        } else {
            (self.width + 1.0 / self.width.max(1.0)).min(self.max)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(index: usize, priority: i64, cpu: f64, memory_mb: u64) -> Slot {
        Slot {
            index,
            priority,
            resources: Resources { cpu, memory_mb },
        }
    }

    fn bounds(free: usize) -> Bounds {
        Bounds {
            free,
            resources: ResourceLimits {
                cpu: 2.0,
                memory_mb: 1000,
            },
            width: 2,
        }
    }

    #[test]
    fn sequential_starts_one_step_in_file_order_and_only_when_none_runs() {
        let ready = [slot(3, 9, 0.0, 0), slot(1, 0, 0.0, 0)];
        assert_eq!(pick(Strategy::Sequential, &ready, &[], bounds(8)), [3]);
        let running = [slot(0, 0, 0.0, 0)];
        assert!(pick(Strategy::Sequential, &ready, &running, bounds(8)).is_empty());
        assert!(pick(Strategy::Sequential, &ready, &[], bounds(0)).is_empty());
    }

    #[test]
    fn parallel_starts_every_ready_step_up_to_the_free_slots() {
        let ready: Vec<_> = (0..5).map(|i| slot(i, 0, 0.0, 0)).collect();
        assert_eq!(
            pick(Strategy::Parallel, &ready, &[], bounds(8)),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(pick(Strategy::Parallel, &ready, &[], bounds(3)), [0, 1, 2]);
    }

    #[test]
    fn priority_orders_ready_steps_by_priority_then_file_order() {
        let ready = [
            slot(0, 1, 0.0, 0),
            slot(1, 5, 0.0, 0),
            slot(2, 1, 0.0, 0),
            slot(3, 7, 0.0, 0),
        ];
        assert_eq!(
            pick(Strategy::Priority, &ready, &[], bounds(8)),
            [3, 1, 0, 2]
        );
        assert_eq!(pick(Strategy::Priority, &ready, &[], bounds(2)), [3, 1]);
    }

    #[test]
    fn resource_aware_starts_only_what_fits_beside_the_running_steps() {
        let ready = [
            slot(0, 0, 1.5, 100),
            slot(1, 0, 1.0, 100),
            slot(2, 0, 0.5, 100),
            slot(3, 0, 0.0, 950),
        ];
        // 1.5 + 0.5 CPUs fit in 2; 1.0 would not after 1.5; 950 MiB not after 200.
        assert_eq!(
            pick(Strategy::ResourceAware, &ready, &[], bounds(8)),
            [0, 2]
        );
        // Beside a running 1-CPU step only the 1-CPU step fits; then 950 MiB no longer does.
        let running = [slot(9, 0, 1.0, 0)];
        assert_eq!(
            pick(Strategy::ResourceAware, &ready, &running, bounds(8)),
            [1]
        );
        let idle = [slot(9, 0, 0.0, 0)];
        assert_eq!(
            pick(Strategy::ResourceAware, &ready[3..], &idle, bounds(8)),
            [3]
        );
        let limits = bounds(1).resources;
        assert!(ever_fits(
            Resources {
                cpu: 2.0,
                memory_mb: 1000
            },
            limits
        ));
        assert!(!ever_fits(
            Resources {
                cpu: 2.5,
                memory_mb: 10
            },
            limits
        ));
    }

    #[test]
    fn adaptive_fills_to_its_width() {
        let ready: Vec<_> = (0..5).map(|i| slot(i, 0, 0.0, 0)).collect();
        let running = [slot(9, 0, 0.0, 0)];
        assert_eq!(pick(Strategy::Adaptive, &ready, &running, bounds(8)), [0]);
        assert_eq!(pick(Strategy::Adaptive, &ready, &[], bounds(8)), [0, 1]);
    }

    #[test]
    fn adaptive_width_halves_under_saturation_and_grows_back_when_calls_are_fast() {
        let mut w = AdaptiveWidth::new(16);
        assert_eq!(w.width(), 8);
        for _ in 0..200 {
            w.observe(10.0, false);
        }
        assert_eq!(w.width(), 16, "fast calls grow it to the cap");
        w.observe(10.0, true);
        assert_eq!(w.width(), 8, "an overloaded answer halves it");
        w.observe(100.0, false);
        assert_eq!(w.width(), 4, "a call ten times the baseline halves it");
        for _ in 0..3 {
            w.observe(100.0, false);
        }
        assert_eq!(w.width(), 1, "never below one");
        for _ in 0..12 {
            w.observe(10.0, false);
        }
        assert!(w.width() >= 3, "recovers: {}", w.width());
    }
}
