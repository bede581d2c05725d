//! One bench run: set up a private world, run the chosen scenarios next to their
//! ceilings, check correctness, tear down what it made. Each scenario has a file of its
//! own under `scenarios/` (spread, hot, against_read, restock_latency, listing, burst, sweep), and so
//! has the machinery they share: the world, the load phases, the ceiling pools, rounds,
//! CPU metering, memory, sales' checkout batches, restock timelines, the machine's facts.

mod against_read;
mod burst;
mod ceiling_pools;
mod checkout_batches;
mod hot;
mod listing;
mod machine_facts;
mod memory;
mod metering;
mod phases;
mod restock_latency;
mod rounds;
mod sold_check;
mod spread;
mod sweep;
mod timelines;
mod world;

use std::time::Duration;

use chrono::Utc;
use warehouse::invariant;

use crate::report::Report;
use crate::{Args, system};
use memory::ResidentKib;
use world::World;

/// The reorder quantity of the skus that run out (restock and burst).
const RESTOCK_REORDER: i64 = 10;

pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let mut report = Report {
        title: format!("stockflow benchmark {}", Utc::now().format("%Y-%m-%d %H:%M UTC")),
        ..Report::default()
    };
    let load_before = system::loadavg();
    let mut world = World::set_up(args, &mut report, &load_before).await?;
    let result = scenarios(args, &mut world, &mut report).await;
    let at_end = memory::at_end(&world.services);
    world.tear_down(args.keep).await?;
    result?;
    report.sections.push(memory::whole_run_section(&at_end));
    report.facts.push(format!(
        "load average (1/5/15 min) at start: {load_before}; at end: {}",
        system::loadavg()
    ));
    Ok(report)
}

/// The scenarios `--scenarios` names (and `--sweep`), in their fixed order, then the
/// memory targets and the stock invariant over everything they sold.
async fn scenarios(args: &Args, world: &mut World, report: &mut Report) -> anyhow::Result<()> {
    let want = |s: &str| args.scenarios.iter().any(|x| x == s);
    let idle = memory::idle(&world.services).await;
    let pools = ceiling_pools::ceiling_pools(args, world.max_connections);
    let mut under_load = ResidentKib::new();
    if want("spread") {
        under_load = spread::run(args, world, report, &pools).await?;
    }
    if want("hot") {
        hot::run(args, world, report, &pools).await?;
    }
    if want("against-read") {
        against_read::run(args, world, report).await?;
    }
    if want("restock") {
        restock_latency::run(args, world, report).await?;
    }
    if want("listing") {
        listing::run(args, world, report).await?;
    }
    if want("burst") {
        burst::run(args, world, report).await?;
    }
    if args.sweep {
        sweep::run(args, world, report).await?;
    }
    memory::push_targets(report, &idle, &under_load);
    check_invariant(world, report).await
}

/// The warehouse's stock invariant over every sku of the run.
async fn check_invariant(world: &World, report: &mut Report) -> anyhow::Result<()> {
    let inv = invariant::check(&world.warehouse, Duration::from_secs(3600)).await?;
    if !inv.holds() {
        report.failures.push(format!(
            "stock invariant of the warehouse: {}",
            inv.violations.join("; ")
        ));
    }
    report.facts.push(format!(
        "stock invariant (initial + produced − sold == stock, no negative stock) over {} skus: {}",
        inv.balances.len(),
        if inv.holds() { "holds" } else { "VIOLATED" }
    ));
    Ok(())
}
