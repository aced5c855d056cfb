//! Resource use of process groups from `/proc`: each child runs in a process group of its own
//! (see [`crate::pgroup`]), so "the child and its descendants" is every process in that group.
//! CPU is cumulative ticks; a sampler turns two readings into a percentage.

use procfs::{
    WithCurrentSystemInfo,
    process::{Process, all_processes},
};

/// One reading of a group (or of one process).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// User + system CPU time of the live processes, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors (of the processes this user may read).
    pub open_fds: u64,
    /// Processes.
    pub processes: u64,
}

/// Clock ticks per second (for CPU percentages).
pub fn ticks_per_second() -> u64 {
    procfs::ticks_per_second()
}

/// The processes whose process group is `pgid`, summed; `None` when there are none.
pub fn group(pgid: u32) -> Option<Reading> {
    let mut total = Reading::default();
    for p in all_processes().ok()?.flatten() {
        let Ok(stat) = p.stat() else { continue };
        if u32::try_from(stat.pgrp).ok() != Some(pgid) {
            continue;
        }
        add(&mut total, &p, &stat);
    }
    (total.processes > 0).then_some(total)
}

/// This process alone.
pub fn own() -> Option<Reading> {
    let p = Process::myself().ok()?;
    let stat = p.stat().ok()?;
    let mut r = Reading::default();
    add(&mut r, &p, &stat);
    Some(r)
}

fn add(total: &mut Reading, p: &Process, stat: &procfs::process::Stat) {
    total.processes += 1;
    total.cpu_ticks += stat.utime + stat.stime;
    total.rss_bytes += stat.rss_bytes().get();
    total.threads += u64::try_from(stat.num_threads).unwrap_or(0);
    total.open_fds += p.fd_count().map_or(0, |n| n as u64);
}

/// CPU percent (of one core) between two readings `elapsed_s` apart.
pub fn cpu_percent(before: &Reading, after: &Reading, elapsed_s: f64) -> f64 {
    if elapsed_s <= 0.0 {
        return 0.0;
    }
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    ticks / ticks_per_second() as f64 / elapsed_s * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_its_group_read_back() {
        let me = own().expect("our own /proc entry");
        assert!(me.rss_bytes > 0 && me.threads >= 1 && me.open_fds >= 3);
        let pgid = nix::unistd::getpgrp().as_raw() as u32;
        let g = group(pgid).expect("our group");
        assert!(g.processes >= 1 && g.rss_bytes >= me.rss_bytes);
        assert!(group(u32::MAX).is_none());
    }

    #[test]
    fn cpu_percent_of_a_tick_delta() {
        let a = Reading::default();
        let b = Reading {
            cpu_ticks: ticks_per_second(),
            ..a
        };
        assert!((cpu_percent(&a, &b, 2.0) - 50.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&a, &b, 0.0), 0.0);
    }
}
