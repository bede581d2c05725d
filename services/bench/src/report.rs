//! The Markdown report: machine and settings, the summary table (system vs ceiling,
//! ratio, target met or not), then each scenario's details.

use std::fmt::Write;

use crate::load::Stats;

#[derive(Default)]
pub struct Report {
    pub title: String,
    /// Machine and run facts, one line each.
    pub facts: Vec<String>,
    /// The summary table, a row per scenario (and setting).
    pub rows: Vec<SummaryRow>,
    /// Detail sections (already Markdown).
    pub sections: Vec<String>,
    /// Correctness checks that failed (a failed check fails the run).
    pub failures: Vec<String>,
}

/// One row of the summary: the system next to its ceiling, and whether the target is met.
pub struct SummaryRow {
    pub scenario: String,
    pub system: String,
    pub ceiling: String,
    /// System to ceiling, as the scenario states it.
    pub ratio: String,
    pub target: String,
    /// `verdict(…)`.
    pub met: String,
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
                r.scenario, r.system, r.ceiling, r.ratio, r.target, r.met
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

/// A latency table: the header, then `rows` (each from `stats_row`), no newline after.
pub fn stats_table(rows: impl IntoIterator<Item = String>) -> String {
    let mut table = String::from(STATS_HEADER);
    for row in rows {
        table.push('\n');
        table.push_str(&row);
    }
    table
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_has_facts_summary_checks_and_sections_in_order() {
        let report = Report {
            title: "t".into(),
            facts: vec!["a fact".into()],
            rows: vec![SummaryRow {
                scenario: "s".into(),
                system: "1/s".into(),
                ceiling: "2/s".into(),
                ratio: "0.50×".into(),
                target: "≥ 1".into(),
                met: verdict(false),
            }],
            sections: vec!["## s\n\ndetail".into()],
            failures: Vec::new(),
        };
        assert_eq!(
            report.markdown(),
            "# t\n\n- a fact\n\n## Summary\n\n| scenario | system | ceiling | ratio | target | met |\n|---|---|---|---|---|---|\n\
             | s | 1/s | 2/s | 0.50× | ≥ 1 | **not met** |\n\nCorrectness: every check passed.\n\n## s\n\ndetail\n"
        );
    }
}
