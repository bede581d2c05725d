//! CPU metering of a measured phase: which processes count (the services, the bench
//! itself, the database server) and how many cores each kept busy over the phase, read
//! from /proc/<pid>/stat; and a phase's CPU per request, by process.

use std::future::Future;
use std::time::Instant;

use super::World;
use super::rounds::median;
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
    /// Each process's CPU over the phase.
    pub usage: Vec<CpuUse>,
}

impl<T> Metered<T> {
    /// "name cores, …", two decimals each.
    pub fn cpu(&self) -> String {
        cpu_line(&self.usage)
    }
}

/// Runs `phase` with the CPU of `processes` metered.
pub(super) async fn metered<T>(processes: &[Process], phase: impl Future<Output = T>) -> Metered<T> {
    let meter = CpuMeter::start(processes);
    let output = phase.await;
    Metered {
        output,
        usage: meter.stop(),
    }
}

fn cpu_line(cpu: &[CpuUse]) -> String {
    cpu.iter()
        .map(|use_| format!("{} {:.2}", use_.name, use_.cores))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds of CPU per request of a phase, by process.
#[derive(Debug, PartialEq)]
pub(super) struct CpuPerRequest {
    sales: f64,
    mariadb: f64,
    bench: f64,
    /// The other services (factory, workers): idle beside the phase, counted all the same.
    others: f64,
    /// Cores kept busy on average by all of them together.
    cores: f64,
}

impl CpuPerRequest {
    pub(super) fn of(usage: &[CpuUse], requests: u64) -> Self {
        const KNOWN: [&str; 3] = ["sales", "mariadb", "bench"];
        // A fold from +0.0: an empty f64 sum is -0.0, which would print as "-0.000".
        let ms = |which: &dyn Fn(&str) -> bool| {
            let seconds = usage
                .iter()
                .filter(|u| which(u.name))
                .fold(0.0, |sum, u| sum + u.seconds);
            seconds * 1000.0 / requests.max(1) as f64
        };
        Self {
            sales: ms(&|name| name == "sales"),
            mariadb: ms(&|name| name == "mariadb"),
            bench: ms(&|name| name == "bench"),
            others: ms(&|name| !KNOWN.contains(&name)),
            cores: usage.iter().fold(0.0, |sum, u| sum + u.cores),
        }
    }

    pub(super) fn total(&self) -> f64 {
        self.sales + self.mariadb + self.bench + self.others
    }

    /// The medians, field by field, over phases.
    pub(super) fn median_of(all: &[Self]) -> Self {
        let of = |field: fn(&Self) -> f64| median(all.iter().map(field).collect());
        Self {
            sales: of(|c| c.sales),
            mariadb: of(|c| c.mariadb),
            bench: of(|c| c.bench),
            others: of(|c| c.others),
            cores: of(|c| c.cores),
        }
    }

    /// A row of the CPU table: the phase, each process's ms, the total, the cores busy,
    /// and the read's total over this one (the throughput ratio the CPU allows).
    pub(super) fn row(&self, phase: &str, read: &Self) -> String {
        format!(
            "| {phase} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2}× |",
            self.sales,
            self.mariadb,
            self.bench,
            self.others,
            self.total(),
            self.cores,
            read.total() / self.total()
        )
    }
}

/// One process's CPU use over a phase.
pub(super) struct CpuUse {
    pub name: &'static str,
    /// CPU seconds (user + system) the process used over the phase.
    pub seconds: f64,
    /// Cores kept busy on average (1.0 = one core busy the whole phase).
    pub cores: f64,
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
            .map(|before| {
                let seconds = cpu_seconds(before.process.pid).unwrap_or(before.cpu_seconds) - before.cpu_seconds;
                CpuUse {
                    name: before.process.name,
                    seconds,
                    cores: seconds / wall,
                }
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
                seconds: 1.0,
                cores: 0.5,
            },
            CpuUse {
                name: "mariadb",
                seconds: 2.468,
                cores: 1.234,
            },
        ];
        assert_eq!(cpu_line(&cpu), "sales 0.50, mariadb 1.23");
    }

    #[test]
    fn this_process_has_cpu_seconds() {
        assert!(cpu_seconds(std::process::id()).is_some());
    }

    fn used(name: &'static str, seconds: f64) -> CpuUse {
        CpuUse {
            name,
            seconds,
            cores: seconds / 8.0,
        }
    }

    #[test]
    fn cpu_per_request_is_each_process_s_seconds_over_the_requests_the_rest_as_others() {
        let usage = [
            used("sales", 1.0),
            used("mariadb", 2.0),
            used("bench", 0.5),
            used("factory", 0.25),
            used("stock-worker", 0.25),
        ];
        let cpu = CpuPerRequest::of(&usage, 1000);
        assert_eq!(
            cpu,
            CpuPerRequest {
                sales: 1.0,
                mariadb: 2.0,
                bench: 0.5,
                others: 0.5,
                cores: 0.5,
            }
        );
        assert_eq!(cpu.total(), 4.0);
    }

    #[test]
    fn a_cpu_row_gives_the_read_s_total_over_the_phase_s() {
        let read = CpuPerRequest::of(&[used("sales", 0.5), used("mariadb", 0.5)], 1000);
        let checkout = CpuPerRequest::of(&[used("sales", 0.5), used("mariadb", 1.5)], 1000);
        assert_eq!(
            checkout.row("hot checkout", &read),
            "| hot checkout | 0.500 | 1.500 | 0.000 | 0.000 | 2.000 | 0.25 | 0.50× |"
        );
    }
}
