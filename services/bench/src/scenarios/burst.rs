//! The burst scenario: N skus run out at once (N out-of-stock purchases from many
//! clients, factory production time 0) and every one is restocked. Measured: the time from
//! the first shortage's commit (`requested_at`) to the last restock (`fulfilled_at`), and
//! per request p50/p99 of `fulfilled_at − requested_at`. Beside it, the floor: the same
//! two SNS → SQS hops per shortage with no service in between (`ceiling::hops`), with the
//! workers' consumer discipline (`WORKER_CONCURRENCY` messages in hand per queue, receives
//! of the free ones up to ten). Checked: every sku restocked exactly once (stock equals
//! the reorder quantity, one applied production order per sku). Each setting of
//! `--burst-concurrency` restarts both workers with it and runs system and floor with it.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use stockflow_messaging::consumer::ConsumerSettings;
use warehouse::reports;

use super::phases::{insert_products, numbered_skus};
use super::timelines::{ms_between, wait_until_fulfilled};
use super::{RESTOCK_REORDER, World};
use crate::ceiling::{self, HopPlan, Pace};
use crate::load::{self, HttpClient};
use crate::report::{self, Report, SummaryRow};
use crate::{Args, progress};

/// How long a burst took as a whole, and per shortage.
struct Timing {
    /// From the first shortage to the last restock, ms.
    total_ms: f64,
    /// Per shortage, ms, sorted.
    each: Vec<f64>,
}

impl Timing {
    fn new(total_ms: f64, mut each: Vec<f64>) -> Self {
        each.sort_by(f64::total_cmp);
        Self { total_ms, each }
    }

    /// The per-shortage quantile `q`, ms.
    fn ms(&self, q: f64) -> f64 {
        load::quantile(&self.each, q)
    }

    fn describe(&self) -> String {
        format!(
            "{:.1} s; per shortage p50 {:.0} ms, p99 {:.0} ms",
            self.total_ms / 1000.0,
            self.ms(0.5),
            self.ms(0.99)
        )
    }

    /// Total s, p50 ms and p99 ms as three table cells.
    fn cells(&self) -> String {
        format!(
            "{:.2} | {:.0} | {:.0}",
            self.total_ms / 1000.0,
            self.ms(0.5),
            self.ms(0.99)
        )
    }
}

/// What one burst through the services took: commit (`requested_at`) to restock
/// (`fulfilled_at`).
struct SystemBurst {
    timing: Timing,
    /// The client's time to get every 409, ms.
    ran_out_ms: f64,
    /// What the check found wrong, if anything.
    problem: Option<String>,
}

/// What the bare hops took for the same burst: first publish to last receive.
struct FloorBurst {
    timing: Timing,
    lost: usize,
}

pub(super) async fn run(args: &Args, world: &mut World, report: &mut Report) -> anyhow::Result<()> {
    let default = ConsumerSettings::default().max_in_flight;
    let mut current = default;
    let mut table = String::from(
        "| WORKER_CONCURRENCY | system: all restocked s | p50 ms | p99 ms | floor: all hops done s | p50 ms | p99 ms | ratio (total) | ratio (p50) | 409s answered in s |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (round, &concurrency) in args.burst_concurrency.iter().enumerate() {
        if concurrency != current {
            progress(format!(
                "burst: restarting both workers with WORKER_CONCURRENCY={concurrency}"
            ));
            restart_workers(world, concurrency, default).await?;
            current = concurrency;
        }
        let system = system_burst(args, world, round).await?;
        progress(format!(
            "burst floor: {} bare chains at once ({} publishers), {concurrency} in hand per queue (prefix {})",
            args.burst_skus, args.burst_clients, world.hop_prefix
        ));
        let floor = floor_burst(args, concurrency, &world.hop_prefix).await?;
        if let Some(problem) = &system.problem {
            report
                .failures
                .push(format!("burst (WORKER_CONCURRENCY={concurrency}): {problem}"));
        }
        if floor.lost > 0 {
            report
                .failures
                .push(format!("burst floor: {} bare chains lost", floor.lost));
        }
        let setting = Setting {
            concurrency,
            is_default: concurrency == default,
        };
        progress(format!(
            "burst WORKER_CONCURRENCY={concurrency}: system {}, floor {}: {:.2}×",
            system.timing.describe(),
            floor.timing.describe(),
            total_ratio(&system, &floor)
        ));
        table.push_str(&table_row(&setting, &system, &floor));
        report.rows.push(summary_row(args, &setting, &system, &floor));
    }
    if current != default {
        restart_workers(world, default, default).await?;
    }
    report.sections.push(section(args, &table));
    Ok(())
}

/// One `--burst-concurrency` setting.
struct Setting {
    concurrency: usize,
    /// The workers' own default (no variable set).
    is_default: bool,
}

/// System over floor, first shortage to last restock.
fn total_ratio(system: &SystemBurst, floor: &FloorBurst) -> f64 {
    system.timing.total_ms / floor.timing.total_ms.max(1e-9)
}

fn table_row(setting: &Setting, system: &SystemBurst, floor: &FloorBurst) -> String {
    let (sys, bare) = (&system.timing, &floor.timing);
    let p50_ratio = sys.ms(0.5) / bare.ms(0.5).max(1e-9);
    format!(
        "| {}{} | {} | {} | {:.2}× | {p50_ratio:.2}× | {:.2} |\n",
        setting.concurrency,
        if setting.is_default { " (default)" } else { "" },
        sys.cells(),
        bare.cells(),
        total_ratio(system, floor),
        system.ran_out_ms / 1000.0,
    )
}

fn summary_row(args: &Args, setting: &Setting, system: &SystemBurst, floor: &FloorBurst) -> SummaryRow {
    let ratio = total_ratio(system, floor);
    SummaryRow {
        scenario: format!(
            "burst ({} skus at once, WORKER_CONCURRENCY={})",
            args.burst_skus, setting.concurrency
        ),
        system: format!("all restocked in {}", system.timing.describe()),
        ceiling: format!("{}, bare hops", floor.timing.describe()),
        ratio: format!("{ratio:.2}× total"),
        target: "≤ 1.3× the floor, each sku restocked once".into(),
        met: report::verdict(ratio <= 1.3 && system.problem.is_none()),
    }
}

fn section(args: &Args, table: &str) -> String {
    format!(
        "## burst\n\n{n} skus with no stock, {n} purchases of one unit from {c} clients at once (each a 409 that opens a restock request), factory production time 0. System: from the first `requested_at` to the last `fulfilled_at` (MariaDB's clock), and per request `fulfilled_at − requested_at`. Floor: {n} bare chains (SNS publish stock_empty → SQS receive stock_queue → SNS publish stock_arrival → delete; SQS receive stock_inc_queue → delete) through a private topology, {c} publishing at once, each queue read as the workers read theirs (WORKER_CONCURRENCY messages in hand, a receive asks for the free ones up to ten, 20 s long poll): from the first publish to the last receive. Check: every sku back at exactly its reorder quantity ({RESTOCK_REORDER}), one restock request and one applied production order per sku.\n\n{table}",
        n = args.burst_skus,
        c = args.burst_clients,
    )
}

/// Both workers restarted with `concurrency` messages in hand (no variable for the default).
async fn restart_workers(world: &mut World, concurrency: usize, default: usize) -> anyhow::Result<()> {
    let env = if concurrency == default {
        Vec::new()
    } else {
        vec![("WORKER_CONCURRENCY".to_string(), concurrency.to_string())]
    };
    for worker in ["stock-worker", "stock-inc-worker"] {
        world.services.restart(worker, &env).await?;
    }
    Ok(())
}

async fn system_burst(args: &Args, world: &World, round: usize) -> anyhow::Result<SystemBurst> {
    let n = args.burst_skus;
    let pattern = format!("BBU{round}-%");
    let skus = numbered_skus(&format!("BBU{round}-"), n);
    insert_products(&world.warehouse, &skus, 0, RESTOCK_REORDER).await?;
    progress(format!(
        "burst: {n} skus run out at once ({} clients), factory production time 0",
        args.burst_clients
    ));
    let deadline = Duration::from_secs(args.burst_deadline_seconds);
    let skus = std::sync::Arc::new(skus);
    let purchases = load::closed_loop(
        args.burst_clients,
        n as u64,
        deadline,
        || HttpClient::new(world.sales),
        move |mut client, i| {
            let skus = skus.clone();
            async move {
                let outcome = client.checkout(&skus[i as usize], 1).await.0;
                (client, outcome)
            }
        },
    )
    .await;
    wait_until_fulfilled(&world.warehouse, &pattern, deadline, Duration::from_millis(100)).await?;
    let rows = reports::restock_timelines(&world.warehouse, &pattern).await?;
    let per_request: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.fulfilled_at.map(|f| ms_between(r.requested_at, f)))
        .collect();
    let first = rows.iter().map(|r| r.requested_at).min();
    let last = rows.iter().filter_map(|r| r.fulfilled_at).max();
    let total_ms = match (first, last) {
        (Some(first), Some(last)) => ms_between(first, last),
        _ => 0.0,
    };

    let restocked = reports::count_at_stock(&world.warehouse, &pattern, RESTOCK_REORDER).await?;
    let Applied {
        orders: applied,
        skus: applied_skus,
    } = applied(world, &pattern).await?;
    let n = n as i64;
    let fine = purchases.out_of_stock as i64 == n
        && rows.len() as i64 == n
        && per_request.len() as i64 == n
        && restocked == n
        && applied == n
        && applied_skus == n;
    let problem = (!fine).then(|| {
        format!(
            "{} of {n} purchases answered 409, {} restock requests, {} fulfilled within {} s, {restocked} skus at exactly {RESTOCK_REORDER}, {applied} production orders applied over {applied_skus} skus",
            purchases.out_of_stock,
            rows.len(),
            per_request.len(),
            deadline.as_secs()
        )
    });
    Ok(SystemBurst {
        timing: Timing::new(total_ms, per_request),
        ran_out_ms: purchases.elapsed.as_secs_f64() * 1000.0,
        problem,
    })
}

/// The production orders the warehouse applied to the skus matching a pattern.
struct Applied {
    orders: i64,
    /// Distinct skus among them.
    skus: i64,
}

async fn applied(world: &World, pattern: &str) -> anyhow::Result<Applied> {
    let mut conn = world.warehouse.get_conn().await?;
    let counts: Option<(i64, i64)> = conn
        .exec_first(
            "SELECT COUNT(*), COUNT(DISTINCT sku) FROM applied_production_orders WHERE sku LIKE ?",
            (pattern,),
        )
        .await?;
    let (orders, skus) = counts.unwrap_or_default();
    Ok(Applied { orders, skus })
}

async fn floor_burst(args: &Args, concurrency: usize, hop_prefix: &str) -> anyhow::Result<FloorBurst> {
    let topology = ceiling::Topology::discover(&args.aws_endpoint, hop_prefix).await?;
    let plan = HopPlan {
        chains: args.burst_skus,
        pace: Pace::Burst {
            publishers: args.burst_clients,
        },
        in_flight: concurrency,
        wait_seconds: 20,
        deadline: Duration::from_secs(args.burst_deadline_seconds),
    };
    let hops = ceiling::hops(topology, plan).await?;
    let per_chain: Vec<f64> = hops.chains.iter().map(|c| c.second_receive).collect();
    Ok(FloorBurst {
        timing: Timing::new(hops.span_ms(), per_chain),
        lost: hops.lost,
    })
}
