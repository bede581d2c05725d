//! CPU metering of a measured phase: which processes count (the services, the bench
//! itself, the database server) and how many cores each kept busy over the phase, read
//! from /proc/<pid>/stat.

use std::future::Future;
use std::time::Instant;

use super::World;
use crate::system::Process;

/// The processes whose CPU a phase reports: the services, the bench, MariaDB.
pub(super) fn processes(world: &World) -> Vec<Process> {
    let mut processes = world.services.pids();
    processes.push(Process {
        name: "bench",
        pid: std::process::id(),
    });
    if let Some(pid) = world.db_pid {
        processes.push(Process { name: "mariadb", pid });
    }
    processes
}

/// A phase's output and the CPU its processes used meanwhile.
pub(super) struct Metered<T> {
    pub output: T,
    /// "name cores, …", two decimals each.
    pub cpu: String,
}

/// Runs `phase` with the CPU of `processes` metered.
pub(super) async fn metered<T>(processes: &[Process], phase: impl Future<Output = T>) -> Metered<T> {
    let meter = CpuMeter::start(processes);
    let output = phase.await;
    Metered {
        output,
        cpu: cpu_line(&meter.stop()),
    }
}

fn cpu_line(cpu: &[CpuUse]) -> String {
    cpu.iter()
        .map(|use_| format!("{} {:.2}", use_.name, use_.cores))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One process's CPU use over a phase.
struct CpuUse {
    name: &'static str,
    /// Cores kept busy on average (1.0 = one core busy the whole phase).
    cores: f64,
}

/// A process's CPU seconds at the start of a phase.
struct Before {
    process: Process,
    cpu_seconds: f64,
}

/// CPU seconds of a set of processes at the start of a phase.
struct CpuMeter {
    start: Instant,
    before: Vec<Before>,
}

impl CpuMeter {
    fn start(processes: &[Process]) -> Self {
        Self {
            start: Instant::now(),
            before: processes
                .iter()
                .map(|&process| Before {
                    process,
                    cpu_seconds: cpu_seconds(process.pid).unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Each process's CPU use over the phase.
    fn stop(&self) -> Vec<CpuUse> {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        self.before
            .iter()
            .map(|before| CpuUse {
                name: before.process.name,
                cores: (cpu_seconds(before.process.pid).unwrap_or(before.cpu_seconds) - before.cpu_seconds) / wall,
            })
            .collect()
    }
}

/// User + system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_line_names_each_process_with_two_decimals() {
        let cpu = [
            CpuUse {
                name: "sales",
                cores: 0.5,
            },
            CpuUse {
                name: "mariadb",
                cores: 1.234,
            },
        ];
        assert_eq!(cpu_line(&cpu), "sales 0.50, mariadb 1.23");
    }

    #[test]
    fn this_process_has_cpu_seconds() {
        assert!(cpu_seconds(std::process::id()).is_some());
    }
}
