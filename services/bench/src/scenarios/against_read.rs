//! Against the read: a purchase next to `GET /products/{sku}` (one database read per
//! request) on the same stack with the same clients, at each `--read-clients` count, in
//! rounds of three phases back to back: the read over many skus, a hot checkout (one sku
//! with ample stock, so every request is a sale) and a spread checkout (the same skus).
//! Even rounds run in reverse order. The goals (issue 20) are medians over the rounds:
//! hot ≥ 1.0× the read's throughput, spread ≥ 0.8×, and each p99 ≤ the read's. Checked:
//! every 200 of a checkout is one order and one unit less stock, and no phase has errors.
//! Each phase's CPU is metered per process, as milliseconds of CPU per request: when
//! the machine's cores are all busy, a phase's throughput is the cores over its CPU per
//! request, so the read's CPU per request over a checkout's bounds their ratio.
//! The knob sweep measures the same rounds under each of its settings ([`Trio`]).

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use warehouse::reports;

use super::World;
use super::metering::{CpuPerRequest, Metered, metered, processes};
use super::phases::Target::Http;
use super::phases::{checkout_phase, numbered_skus, read_phase, stock_unless_present};
use super::rounds::{self, median};
use super::sold_check::SoldCheck;
use crate::load::Stats;
use crate::report::{self, Report, SummaryRow};
use crate::{Args, progress};

/// The skus of this scenario: the read's and the spread checkout's, and the hot one.
const PREFIX: &str = "BRD-";
const HOT_SKU: &str = "BRD-HOT";
/// Stock per sku: more than any run sells, so every checkout is a sale.
const STOCK: i64 = 10_000_000;

/// The three phases of one round, each with the CPU its processes used.
struct Round {
    read: Metered<Stats>,
    hot: Metered<Stats>,
    spread: Metered<Stats>,
}

impl Round {
    fn hot_to_read(&self) -> f64 {
        self.hot.output.throughput() / self.read.output.throughput()
    }

    fn spread_to_read(&self) -> f64 {
        self.spread.output.throughput() / self.read.output.throughput()
    }

    fn hot_p99_to_read(&self) -> f64 {
        self.hot.output.ms(0.99) / self.read.output.ms(0.99)
    }

    fn spread_p99_to_read(&self) -> f64 {
        self.spread.output.ms(0.99) / self.read.output.ms(0.99)
    }
}

/// The rounds at one client count, and their books.
pub(super) struct AtClients {
    clients: usize,
    rounds: Vec<Round>,
    pub check: SoldCheck,
}

/// The medians over the rounds of one client count.
pub(super) struct Medians {
    pub hot: f64,
    pub spread: f64,
    pub hot_p99: f64,
    pub spread_p99: f64,
}

impl AtClients {
    pub(super) fn medians(&self) -> Medians {
        let of = |ratio: fn(&Round) -> f64| median(self.rounds.iter().map(ratio).collect());
        Medians {
            hot: of(Round::hot_to_read),
            spread: of(Round::spread_to_read),
            hot_p99: of(Round::hot_p99_to_read),
            spread_p99: of(Round::spread_p99_to_read),
        }
    }
}

impl Medians {
    fn met(&self) -> bool {
        self.hot >= 1.0 && self.spread >= 0.8 && self.hot_p99 <= 1.0 && self.spread_p99 <= 1.0
    }
}

pub(super) async fn run(args: &Args, world: &World, report: &mut Report) -> anyhow::Result<()> {
    let trio = Trio::stock(args, world).await?;
    let mut runs = Vec::new();
    for &clients in &args.read_clients {
        let run = trio.measure(args.extra_rounds + 1, args.read_requests, clients).await?;
        if !run.check.ok() {
            report
                .failures
                .push(format!("against the read, {clients} clients: {}", run.check.describe()));
        }
        runs.push(run);
    }
    render(args, report, &runs);
    Ok(())
}

/// The read, the hot and the spread checkout on the scenario's products.
pub(super) struct Trio<'a> {
    args: &'a Args,
    world: &'a World,
    skus: Arc<Vec<String>>,
}

impl<'a> Trio<'a> {
    /// The scenario's products, added unless an earlier scenario of the run added them.
    pub(super) async fn stock(args: &'a Args, world: &'a World) -> anyhow::Result<Self> {
        let skus = Arc::new(numbered_skus(PREFIX, args.spread_skus));
        stock_unless_present(&world.warehouse, &skus, STOCK).await?;
        stock_unless_present(&world.warehouse, &[HOT_SKU.to_string()], STOCK).await?;
        Ok(Self { args, world, skus })
    }

    /// A warm-up of each phase, then `round_count` rounds of `requests` a phase at
    /// `clients`, with the books of the scenario's skus read before and after the rounds.
    pub(super) async fn measure(&self, round_count: usize, requests: u64, clients: usize) -> anyhow::Result<AtClients> {
        let Self { args, world, skus } = self;
        let limit = Duration::from_secs(args.max_seconds);
        let hot = Arc::new(vec![HOT_SKU.to_string()]);
        let metering = processes(world);
        let read = |requests| {
            metered(
                &metering,
                read_phase(world.sales, clients, requests, limit, skus.clone()),
            )
        };
        let checkout = |requests, skus: &Arc<Vec<String>>| {
            metered(
                &metering,
                checkout_phase(Http(world.sales), clients, requests, limit, skus.clone()),
            )
        };
        progress(format!("against the read: {clients} clients → sales: warm-up"));
        read(args.warmup).await;
        checkout(args.warmup, &hot).await;
        checkout(args.warmup, skus).await;
        let pattern = format!("{PREFIX}%");
        let before = reports::books(&world.warehouse, &pattern).await?;
        let mut rounds = Vec::new();
        for number in 1..=round_count {
            // run_round's three slots, in its order: read, hot, spread (reversed in even rounds).
            let phase = |name: &str| progress(format!("against the read, {clients} clients, round {number}: {name}"));
            let ran = rounds::run_round(
                number,
                async {
                    phase("read");
                    anyhow::Ok(read(requests).await)
                },
                async {
                    phase("hot checkout");
                    anyhow::Ok(checkout(requests, &hot).await)
                },
                async {
                    phase("spread checkout");
                    anyhow::Ok(checkout(requests, skus).await)
                },
            )
            .await?;
            let round = Round {
                read: ran.ceiling,
                hot: ran.system,
                spread: ran.bare,
            };
            progress(format!(
                "against the read, {clients} clients, round {number}: read {}, hot {}, spread {}",
                short(&round.read.output),
                short(&round.hot.output),
                short(&round.spread.output)
            ));
            rounds.push(round);
        }
        let after = reports::books(&world.warehouse, &pattern).await?;
        let check = SoldCheck::new(
            rounds.iter().map(|r| r.hot.output.sold + r.spread.output.sold).sum(),
            rounds
                .iter()
                .map(|r| r.read.output.errors() + r.hot.output.errors() + r.spread.output.errors())
                .sum(),
            &before,
            &after,
        );
        Ok(AtClients { clients, rounds, check })
    }
}

fn render(args: &Args, report: &mut Report, runs: &[AtClients]) {
    for run in runs {
        let m = run.medians();
        let last = run.rounds.last().expect("at least one round");
        report.rows.push(SummaryRow {
            scenario: format!("against the read ({} clients)", run.clients),
            system: format!(
                "hot {}; spread {} (last round)",
                short(&last.hot.output),
                short(&last.spread.output)
            ),
            ceiling: format!("GET /products/{{sku}} {}", short(&last.read.output)),
            ratio: format!(
                "hot {:.2}×, spread {:.2}× the read; p99 hot {:.2}×, spread {:.2}× the read's (medians of {} rounds)",
                m.hot,
                m.spread,
                m.hot_p99,
                m.spread_p99,
                run.rounds.len()
            ),
            target: "hot ≥ 1.0×, spread ≥ 0.8×, both p99 ≤ 1×, every 200 an order, no errors".into(),
            met: report::verdict(m.met() && run.check.ok()),
        });
    }
    let mut section = format!(
        "## against the read\n\nA purchase next to a read on the same stack with the same closed-loop clients: `GET /products/{{sku}}` over {} skus (one database read per request), a hot `POST /checkout` on one sku with ample stock (every request a sale) and a spread `POST /checkout` over the same {} skus. Per client count, a warm-up of each phase, then {} rounds of {} requests a phase back to back (read, hot, spread; reversed in even rounds); the ratios are the medians over the rounds.\n",
        args.spread_skus,
        args.spread_skus,
        args.extra_rounds + 1,
        args.read_requests
    );
    for run in runs {
        let _ = write!(
            section,
            "\n### {} clients\n\n| round | read /s | read p99 ms | hot /s | hot p99 ms | spread /s | spread p99 ms | hot / read | spread / read |\n|---|---|---|---|---|---|---|---|---|\n",
            run.clients
        );
        for (i, r) in run.rounds.iter().enumerate() {
            let _ = writeln!(
                section,
                "| {} | {} | {} | {} | {:.2} | {:.2} |",
                i + 1,
                cells(&r.read.output),
                cells(&r.hot.output),
                cells(&r.spread.output),
                r.hot_to_read(),
                r.spread_to_read()
            );
        }
    }
    for run in runs {
        section.push_str(&cpu_table(run));
    }
    for run in runs {
        let _ = write!(section, "\nCheck at {} clients: {}.", run.clients, run.check.describe());
    }
    report.sections.push(section);
}

/// The CPU per request of each phase at one client count (medians over the rounds), and
/// the throughput ratio to the read that it allows when every core is busy.
fn cpu_table(run: &AtClients) -> String {
    let median_of = |phase: fn(&Round) -> &Metered<Stats>| {
        CpuPerRequest::median_of(
            &run.rounds
                .iter()
                .map(|r| {
                    let phase = phase(r);
                    CpuPerRequest::of(&phase.usage, phase.output.requests())
                })
                .collect::<Vec<_>>(),
        )
    };
    let read = median_of(|r| &r.read);
    let hot = median_of(|r| &r.hot);
    let spread = median_of(|r| &r.spread);
    format!(
        "\n#### CPU per request at {} clients (ms, medians of the rounds)\n\n| phase | sales | mariadb | bench | other services | total | cores busy | read's total ÷ this |\n|---|---|---|---|---|---|---|---|\n{}\n{}\n{}\n",
        run.clients,
        read.row("read", &read),
        hot.row("hot checkout", &read),
        spread.row("spread checkout", &read)
    )
}

/// Throughput and p99 of a phase, for the progress and the summary.
fn short(stats: &Stats) -> String {
    format!("{:.0}/s p99 {:.1} ms", stats.throughput(), stats.ms(0.99))
}

/// Throughput and p99 of a phase, as two table cells.
fn cells(stats: &Stats) -> String {
    format!("{:.0} | {:.1}", stats.throughput(), stats.ms(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_goals_are_met_only_when_every_ratio_is() {
        let at = |hot, spread, hot_p99, spread_p99| Medians {
            hot,
            spread,
            hot_p99,
            spread_p99,
        };
        assert!(at(1.0, 0.8, 1.0, 1.0).met());
        assert!(!at(0.99, 0.8, 1.0, 1.0).met());
        assert!(!at(1.0, 0.79, 1.0, 1.0).met());
        assert!(!at(1.0, 0.8, 1.01, 1.0).met());
        assert!(!at(1.0, 0.8, 1.0, 1.01).met());
    }
}
