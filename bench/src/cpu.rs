//! Where a phase's CPU goes, from `/proc`: the API process, PostgreSQL (its live processes and
//! the ones it reaped, such as the backends of connections closed meanwhile), this benchmark's
//! own process (the load's clients) and the rest of the machine (pgbench, when it runs), per
//! operation, with how busy the cores were. On a machine where all of them share the cores, a
//! ratio of throughputs is the inverse ratio of these sums.

/// Cumulative CPU time in clock ticks, as `/proc` counts it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    /// The API process's, when one runs (pgbench's runs have none).
    api: Option<u64>,
    /// PostgreSQL's, when it serves the phase (not on SQLite, where the API is the database).
    postgres: Option<u64>,
    own: u64,
    busy: u64,
    total: u64,
}

/// `/proc`'s clock ticks per second (`USER_HZ`, 100 on Linux whatever the kernel's own rate).
const TICKS_PER_SECOND: f64 = 100.0;

impl Cpu {
    /// The counters now; `api` the API process's id when one runs, `with_postgres` whether
    /// PostgreSQL serves it.
    pub(crate) fn now(api: Option<u32>, with_postgres: bool) -> Cpu {
        let (busy, total) = machine().unwrap_or_default();
        Cpu {
            api: api.map(|pid| process(&pid.to_string()).map_or(0, |p| p.own)),
            postgres: with_postgres.then(postgres),
            own: process("self").map_or(0, |p| p.own),
            busy,
            total,
        }
    }

    /// What went to each part from `self` to `later`, per operation of `ops`.
    pub(crate) fn per_op(&self, later: &Cpu, ops: usize) -> String {
        let d = |a: u64, b: u64| b.saturating_sub(a);
        let both = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| d(a, b));
        let (api, postgres) = (both(self.api, later.api), both(self.postgres, later.postgres));
        let (own, busy) = (d(self.own, later.own), d(self.busy, later.busy));
        let rest = busy.saturating_sub(api.unwrap_or(0) + postgres.unwrap_or(0) + own);
        let us = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / ops.max(1) as f64;
        let busy_pct = busy as f64 / d(self.total, later.total).max(1) as f64 * 100.0;
        let mut parts = Vec::new();
        if let Some(api) = api {
            parts.push(format!("cgs-api {:.0} µs", us(api)));
        }
        if let Some(postgres) = postgres {
            parts.push(format!("PostgreSQL {:.0} µs", us(postgres)));
        }
        if api.is_some() {
            parts.push(format!("the load's clients {:.0} µs", us(own)));
            parts.push(format!("the rest {:.0} µs", us(rest)));
        } else {
            parts.push(format!("pgbench and the rest {:.0} µs", us(rest + own)));
        }
        format!("CPU per op: {} (sum {:.0} µs; cores busy {busy_pct:.0} %)", parts.join(", "), us(busy))
    }
}

/// A process's CPU time: its own, and that of the children it reaped.
struct Process {
    own: u64,
    reaped: u64,
}

/// The process `pid` (a number, or `self`) from `/proc/<pid>/stat`.
fn process(pid: &str) -> Option<Process> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// A `/proc/<pid>/stat` line's CPU times.
fn parse_stat(stat: &str) -> Option<Process> {
    // The fields after the command's name, which is in parentheses and may hold spaces: state is
    // the 3rd field of the line, utime the 14th, stime, cutime and cstime after it.
    let fields: Vec<u64> =
        stat.rsplit_once(')')?.1.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
    let at = |field: usize| fields.get(field - 4).copied().unwrap_or(0);
    Some(Process { own: at(14) + at(15), reaped: at(16) + at(17) })
}

/// The CPU time of every `postgres` process, and of those they reaped.
fn postgres() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.flatten()
        .filter_map(|e| {
            e.file_name().to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())).map(str::to_owned)
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| process(&pid))
        .map(|p| p.own + p.reaped)
        .sum()
}

/// The machine's busy and total ticks, over all cores (`/proc/stat`'s `cpu` line).
fn machine() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user already).
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some((total - idle, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_times_after_a_name_with_spaces_and_parentheses() {
        let line = "4242 (postgres: a (b) c) S 1 4242 4242 0 -1 4194560 1 2 3 4 17 5 30 40 20 0 1 0 9 0";
        let p = parse_stat(line).expect("parsed");
        assert_eq!((p.own, p.reaped), (17 + 5, 30 + 40));
    }

    #[test]
    fn this_process_and_the_machine_count_time() {
        let before = Cpu::now(Some(std::process::id()), false);
        // Spins until the counters move (a tick is 10 ms of CPU), at most 10 s on a busy machine.
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        let mut after = before;
        let moved = |a: &Cpu| a.own > before.own && a.api > before.api && a.busy > before.busy;
        while !moved(&after) && t0.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            after = Cpu::now(Some(std::process::id()), false);
        }
        std::hint::black_box(x);
        assert!(after.own > before.own, "{before:?} {after:?}");
        assert!(after.api > before.api, "the process given as the API is this one: {before:?} {after:?}");
        assert!(after.total > before.total && after.busy > before.busy, "{before:?} {after:?}");
        let line = before.per_op(&after, 10);
        assert!(line.starts_with("CPU per op: cgs-api "), "{line}");
        assert!(!line.contains("PostgreSQL"), "{line}");
    }
}
