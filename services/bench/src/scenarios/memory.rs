//! The services' memory: resident at idle before the scenarios, its peak under spread
//! (from `RssSampler`), both against their targets; and the peak and resident memory of
//! the processes at the end of the run.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::progress;
use crate::report::{self, Report, SummaryRow};
use crate::system::{self, Memory, Services};

/// Resident memory per service, KiB.
pub(super) type ResidentKib = BTreeMap<&'static str, u64>;

/// Targets, MiB.
const IDLE_TARGET: f64 = 30.0;
const LOAD_TARGET: f64 = 100.0;

/// Each service's resident memory once the services have settled (2 s after the start).
pub(super) async fn idle(services: &Services) -> ResidentKib {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: ResidentKib = services
        .pids()
        .into_iter()
        .filter_map(|p| system::memory_kib(p.pid).map(|m| (p.name, m.rss_kib)))
        .collect();
    progress(format!(
        "idle RSS: {}",
        idle.iter()
            .map(|(n, kb)| format!("{n} {:.1} MiB", *kb as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    idle
}

/// The memory table (the first section) and its summary row; `under_load` is empty when
/// spread did not run.
pub(super) fn push_targets(report: &mut Report, idle: &ResidentKib, under_load: &ResidentKib) {
    let mib = |kib: Option<&u64>| kib.copied().unwrap_or_default() as f64 / 1024.0;
    let mut table = String::from(
        "| service | RSS idle MiB | peak RSS under spread MiB | target idle < 30 | target load < 100 |\n|---|---|---|---|---|\n",
    );
    let mut all_met = true;
    for name in system::service_names() {
        let i = mib(idle.get(name));
        let l = mib(under_load.get(name));
        all_met &= i < IDLE_TARGET && (l < LOAD_TARGET);
        let _ = writeln!(
            table,
            "| {name} | {i:.1} | {} | {} | {} |",
            if under_load.is_empty() {
                "-".into()
            } else {
                format!("{l:.1}")
            },
            report::verdict(i < IDLE_TARGET),
            report::verdict(l < LOAD_TARGET)
        );
    }
    report
        .sections
        .insert(0, format!("## Memory (VmRSS from /proc/<pid>/status)\n\n{table}"));
    report.rows.push(SummaryRow {
        scenario: "memory".into(),
        system: format!(
            "max idle {:.1} MiB, max under spread {:.1} MiB",
            mib(idle.values().max()),
            mib(under_load.values().max())
        ),
        ceiling: "-".into(),
        ratio: "-".into(),
        target: "each < 30 MiB idle, < 100 MiB under spread".into(),
        met: report::verdict(all_met),
    });
}

/// A process's memory at the end of the run.
pub(super) struct AtEnd {
    name: &'static str,
    memory: Option<Memory>,
}

/// The memory of the processes running now (read before they stop).
pub(super) fn at_end(services: &Services) -> Vec<AtEnd> {
    services
        .pids()
        .into_iter()
        .map(|p| AtEnd {
            name: p.name,
            memory: system::memory_kib(p.pid),
        })
        .collect()
}

/// The section of the memory over the whole run.
pub(super) fn whole_run_section(at_end: &[AtEnd]) -> String {
    let mut table = String::from(
        "Peak RSS (VmHWM) and RSS at the end of the processes running at the end (with `--sweep`, sales was restarted, so its peak is that of the last sales process), and what the RSS at the end is made of: the process's own memory (`RssAnon`) and pages of mapped files (`RssFile`, above all the binary's own code, which the kernel may drop and read again):\n\n| service | VmHWM MiB | VmRSS at end MiB | of it RssAnon MiB | of it RssFile MiB |\n|---|---|---|---|---|\n",
    );
    for process in at_end {
        if let Some(m) = process.memory {
            let mib = |kib: u64| kib as f64 / 1024.0;
            let _ = writeln!(
                table,
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                process.name,
                mib(m.hwm_kib),
                mib(m.rss_kib),
                mib(m.anon_kib),
                mib(m.file_kib)
            );
        }
    }
    format!("## Memory over the whole run\n\n{table}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_table_leaves_the_spread_column_empty_without_spread() {
        let mut report = Report::default();
        let idle = ResidentKib::from([("sales", 10 * 1024)]);
        push_targets(&mut report, &idle, &ResidentKib::new());
        assert!(report.sections[0].contains("| sales | 10.0 | - | met | met |"));
        assert_eq!(report.rows[0].system, "max idle 10.0 MiB, max under spread 0.0 MiB");
        assert_eq!(report.rows[0].met, "met");
    }

    #[test]
    fn the_whole_run_table_skips_processes_gone() {
        let at_end = [
            AtEnd {
                name: "sales",
                memory: Some(Memory {
                    rss_kib: 2048,
                    hwm_kib: 4096,
                    anon_kib: 512,
                    file_kib: 1536,
                }),
            },
            AtEnd {
                name: "factory",
                memory: None,
            },
        ];
        let section = whole_run_section(&at_end);
        assert!(section.ends_with("|---|---|---|---|---|\n| sales | 4.0 | 2.0 | 0.5 | 1.5 |\n"));
    }
}
