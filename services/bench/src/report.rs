//! The Markdown report: machine and settings, the summary table (system vs ceiling,
//! ratio, target met or not), then each scenario's details.

use std::fmt::Write;

use crate::load::Stats;

#[derive(Default)]
pub struct Report {
    pub title: String,
    /// Machine and run facts, one line each.
    pub facts: Vec<String>,
    /// Summary: scenario, system, ceiling, ratio, target, verdict.
    pub rows: Vec<[String; 6]>,
    /// Detail sections (already Markdown).
    pub sections: Vec<String>,
    /// Correctness checks that failed (a failed check fails the run).
    pub failures: Vec<String>,
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n", self.title);
        for fact in &self.facts {
            let _ = writeln!(out, "- {fact}");
        }
        let _ = writeln!(out, "\n## Summary\n");
        let _ = writeln!(out, "| scenario | system | ceiling | ratio | target | met |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r[0], r[1], r[2], r[3], r[4], r[5]
            );
        }
        if self.failures.is_empty() {
            let _ = writeln!(out, "\nCorrectness: every check passed.");
        } else {
            let _ = writeln!(out, "\nCorrectness: **{} check(s) FAILED**:", self.failures.len());
            for f in &self.failures {
                let _ = writeln!(out, "- {f}");
            }
        }
        for s in &self.sections {
            let _ = writeln!(out, "\n{s}");
        }
        out
    }
}

/// The header of a latency table.
pub const STATS_HEADER: &str = "| phase | clients | pool | requests | answered/s | p50 ms | p95 ms | p99 ms | max ms | 200 | 409 | 4xx | 5xx | transport |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

pub fn stats_row(phase: &str, pool: &str, s: &Stats) -> String {
    format!(
        "| {phase} | {} | {pool} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} | {} |",
        s.clients,
        s.requests(),
        s.throughput(),
        s.ms(0.5),
        s.ms(0.95),
        s.ms(0.99),
        s.max_ms(),
        s.sold,
        s.out_of_stock,
        s.client_errors,
        s.server_errors,
        s.transport_errors
    )
}

pub fn verdict(met: bool) -> String {
    if met { "met".into() } else { "**not met**".into() }
}
