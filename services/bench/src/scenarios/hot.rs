//! The hot scenario: a flash sale on one sku, demand above stock, sales next to two
//! ceilings (the checkout transaction one purchase per transaction straight on the
//! database, per pool; the bare conditional `UPDATE`, the hot row's physical limit), in
//! rounds, each phase on a fresh sku. Checked in every phase: exactly the stock sold (no
//! oversell, every 200 an order), no 5xx.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mysql_async::Pool;
use warehouse::reports::{self, Books};

use super::World;
use super::ceiling_pools::{CeilingPool, fastest};
use super::checkout_batches::BatchSizes;
use super::metering::{Metered, metered, processes};
use super::phases::Target::{Http, Sql};
use super::phases::{bare_update_phase, checkout_phase, insert_products};
use super::rounds::{self, Round};
use crate::load::Stats;
use crate::report::{self, Report, SummaryRow};
use crate::{Args, progress};

/// Clients of the bare-UPDATE ceiling, each on a connection of its own.
const BARE_UPDATE_CLIENTS: usize = 64;

pub(super) async fn run(
    args: &Args,
    world: &mut World,
    report: &mut Report,
    pools: &[CeilingPool],
) -> anyhow::Result<()> {
    let measured = measure(args, world, pools).await?;
    render(args, report, &measured);
    report.failures.extend(measured.problems);
    Ok(())
}

/// One measured hot phase on a fresh sku.
struct HotPhase {
    stats: Stats,
    /// What its books say, for the notes (none for the bare UPDATE).
    books: Option<String>,
    /// What its check found wrong.
    problem: Option<String>,
}

/// One ceiling pool's measured phase.
struct CeilingRun {
    pool: CeilingPool,
    phase: Metered<HotPhase>,
}

/// Everything hot measured.
struct Measured {
    ceilings: Vec<CeilingRun>,
    best_pool: CeilingPool,
    system: Metered<HotPhase>,
    batches: BatchSizes,
    bare_update: Metered<Stats>,
    /// The first round (the phases above) and the extra ones.
    rounds: Vec<Round>,
    /// What the checks found wrong, in the order the phases ran.
    problems: Vec<String>,
}

async fn measure(args: &Args, world: &mut World, pools: &[CeilingPool]) -> anyhow::Result<Measured> {
    let mut problems = Vec::new();
    let ceilings = measure_ceilings(args, world, pools).await?;
    problems.extend(ceilings.iter().filter_map(|c| c.phase.output.problem.clone()));
    let best = fastest(&ceilings, |c| &c.phase.output.stats).context("no ceiling pool")?;
    let best_pool = best.pool;
    let ceiling = best.phase.output.stats.clone();

    // The factory takes an hour per production during the system phases, so no restock
    // lands on the sku while it is measured: the system does the ceiling's work (exactly
    // the stock sold, then shortages joining one open request). Restocks under way are
    // the restock scenario's subject.
    let slow_factory = [("FACTORY_PRODUCTION_SECONDS".to_string(), "3600".to_string())];
    world.services.restart("factory", &slow_factory).await?;
    let SystemRun { system, batches } = measure_system(args, world).await?;
    problems.extend(system.output.problem.clone());

    // The hot row's physical limit: the bare single-statement UPDATE, autocommit, one
    // connection per client.
    let update_pool = CeilingPool {
        size: BARE_UPDATE_CLIENTS,
        reset: false,
    }
    .open(world)
    .await?;
    let update = metered(&processes(world), update_phase(args, world, &update_pool, "BHOT-U1")).await;
    let update_phase = update.output?;
    problems.extend(update_phase.problem);
    let bare_update = Metered {
        output: update_phase.stats,
        usage: update.usage,
    };
    progress(format!("hot bare UPDATE: {}", bare_update.output.summary()));

    let first = Round {
        ceiling,
        system: system.output.stats.clone(),
        bare: bare_update.output.clone(),
    };
    let rounds = extra_rounds(args, world, best_pool, &update_pool, first, &mut problems).await?;
    update_pool.disconnect().await.ok();
    world.services.restart("factory", &[]).await?;
    Ok(Measured {
        ceilings,
        best_pool,
        system,
        batches,
        bare_update,
        rounds,
        problems,
    })
}

/// The per-transaction ceiling, per pool size: a warm-up sku (sold out quickly), then a
/// fresh sku for the measured phase.
async fn measure_ceilings(args: &Args, world: &World, pools: &[CeilingPool]) -> anyhow::Result<Vec<CeilingRun>> {
    let clients = args.hot_clients;
    let limit = Duration::from_secs(args.max_seconds);
    let mut ceilings = Vec::new();
    for &pool in pools {
        let size = pool.label();
        let warm = format!("BHOTW-C{}", pool.tag());
        insert_products(&world.ceiling, std::slice::from_ref(&warm), args.hot_stock, 10).await?;
        let connections = pool.open(world).await?;
        progress(format!(
            "hot ceiling: direct SQL, {clients} clients on pool {size}: warm-up"
        ));
        checkout_phase(Sql(&connections), clients, args.warmup, limit, Arc::new(vec![warm])).await;
        let sku = format!("BHOT-C{}", pool.tag());
        let measured = metered(&processes(world), ceiling_phase(args, world, &connections, &sku)).await;
        let phase = Metered {
            output: measured.output?,
            usage: measured.usage,
        };
        connections.disconnect().await.ok();
        progress(format!("hot ceiling (pool {size}): {}", phase.output.stats.summary()));
        ceilings.push(CeilingRun { pool, phase });
    }
    Ok(ceilings)
}

/// The system's measured phase and the checkout batches sales ran in it.
struct SystemRun {
    system: Metered<HotPhase>,
    batches: BatchSizes,
}

/// The flash sale through sales (after a warm-up sku).
async fn measure_system(args: &Args, world: &World) -> anyhow::Result<SystemRun> {
    let (clients, stock) = (args.hot_clients, args.hot_stock);
    let limit = Duration::from_secs(args.max_seconds);
    let warm = "BHOTW-SYS".to_string();
    insert_products(&world.warehouse, std::slice::from_ref(&warm), stock, 10).await?;
    progress(format!(
        "hot: flash sale, {clients} clients → sales on one sku (stock {stock}): warm-up"
    ));
    checkout_phase(Http(world.sales), clients, args.warmup, limit, Arc::new(vec![warm])).await;
    let batches_before = BatchSizes::scrape(world.sales).await;
    let measured = metered(&processes(world), system_phase(args, world, "BHOT-SYS-1")).await;
    let batches = BatchSizes::scrape(world.sales).await.since(&batches_before);
    let system = Metered {
        output: measured.output?,
        usage: measured.usage,
    };
    progress(format!("hot system: {}", system.output.stats.summary()));
    Ok(SystemRun { system, batches })
}

/// `first`, then `--extra-rounds` more, back to back, each on fresh skus, in reverse
/// order every other round.
async fn extra_rounds(
    args: &Args,
    world: &World,
    best_pool: CeilingPool,
    update_pool: &Pool,
    first: Round,
    problems: &mut Vec<String>,
) -> anyhow::Result<Vec<Round>> {
    let mut rounds = vec![first];
    let pool = best_pool.open(world).await?;
    for round in 2..=args.extra_rounds + 1 {
        let ceiling_sku = format!("BHOT-P{round}");
        let system_sku = format!("BHOT-SYS-{round}");
        let update_sku = format!("BHOT-U{round}");
        let ran = rounds::run_round(
            round,
            ceiling_phase(args, world, &pool, &ceiling_sku),
            system_phase(args, world, &system_sku),
            update_phase(args, world, update_pool, &update_sku),
        )
        .await?;
        let rounds::Ran {
            ceiling,
            system,
            bare: update,
        } = ran;
        let mut found = [ceiling.problem, system.problem, update.problem];
        if rounds::reversed(round) {
            found.reverse();
        }
        problems.extend(found.into_iter().flatten());
        progress(format!(
            "hot round {round}: per-transaction ceiling {:.0}/s, system {:.0}/s, bare UPDATE {:.0}/s",
            ceiling.stats.throughput(),
            system.stats.throughput(),
            update.stats.throughput()
        ));
        rounds.push(Round {
            ceiling: ceiling.stats,
            system: system.stats,
            bare: update.stats,
        });
    }
    pool.disconnect().await.ok();
    Ok(rounds)
}

/// The per-transaction ceiling on a fresh `sku`.
async fn ceiling_phase(args: &Args, world: &World, pool: &Pool, sku: &str) -> anyhow::Result<HotPhase> {
    insert_products(&world.ceiling, &[sku.to_string()], args.hot_stock, 10).await?;
    let limit = Duration::from_secs(args.max_seconds);
    let skus = Arc::new(vec![sku.to_string()]);
    let stats = checkout_phase(Sql(pool), args.hot_clients, args.hot_requests, limit, skus).await;
    let Books {
        initial,
        sold,
        stock: left,
        ..
    } = reports::books(&world.ceiling, sku).await?;
    let fine = sold == stats.sold as i64 && initial - sold == left && left >= 0 && stats.errors() == 0;
    Ok(HotPhase {
        books: Some(format!(
            "stock {initial}, sold {sold} (200s: {}), left {left}",
            stats.sold
        )),
        problem: (!fine).then(|| {
            format!(
                "hot ceiling {sku}: sold {sold}, 200s {}, stock {initial}, left {left}, errors {}",
                stats.sold,
                stats.errors()
            )
        }),
        stats,
    })
}

/// The system on a fresh `sku`: exactly the stock sold (no oversell, every 200 an
/// order), no 5xx.
async fn system_phase(args: &Args, world: &World, sku: &str) -> anyhow::Result<HotPhase> {
    insert_products(&world.warehouse, &[sku.to_string()], args.hot_stock, 10).await?;
    let limit = Duration::from_secs(args.max_seconds);
    let skus = Arc::new(vec![sku.to_string()]);
    let stats = checkout_phase(Http(world.sales), args.hot_clients, args.hot_requests, limit, skus).await;
    let Books {
        initial,
        produced,
        sold,
        stock: left,
        ..
    } = reports::books(&world.warehouse, sku).await?;
    let oversold = (sold - (initial + produced)).max(0);
    let fine = sold == stats.sold as i64 && initial + produced - sold == left && left >= 0 && stats.server_errors == 0;
    Ok(HotPhase {
        books: Some(format!(
            "stock {initial} + restocked during the sale {produced}; sold {sold} (200s: {}); left {left}; oversold {oversold}; 5xx {}",
            stats.sold, stats.server_errors
        )),
        problem: (!fine).then(|| {
            format!(
                "hot {sku}: 200s {}, orders {sold}, stock {initial} + produced {produced}, left {left}, 5xx {}",
                stats.sold, stats.server_errors
            )
        }),
        stats,
    })
}

/// The bare single-statement UPDATE on a fresh `sku`: the units sold must be exactly the
/// stock's fall (the conditional never oversells).
async fn update_phase(args: &Args, world: &World, pool: &Pool, sku: &str) -> anyhow::Result<HotPhase> {
    insert_products(&world.ceiling, &[sku.to_string()], args.hot_stock, 10).await?;
    let limit = Duration::from_secs(args.max_seconds);
    let stats = bare_update_phase(pool, BARE_UPDATE_CLIENTS, args.hot_requests, limit, sku).await;
    let Books {
        initial, stock: left, ..
    } = reports::books(&world.ceiling, sku).await?;
    let fine = initial - left == stats.sold as i64 && left >= 0 && stats.errors() == 0;
    Ok(HotPhase {
        books: None,
        problem: (!fine).then(|| {
            format!(
                "hot bare UPDATE {sku}: {} decrements answered, stock {initial} → {left}, errors {}",
                stats.sold,
                stats.errors()
            )
        }),
        stats,
    })
}

fn render(args: &Args, report: &mut Report, measured: &Measured) {
    let (clients, stock) = (args.hot_clients, args.hot_stock);
    let ratios = rounds::ratios(&measured.rounds);
    let to_update = rounds::median_of(&measured.rounds, |r| r.system.throughput() / r.bare.throughput());
    let server_errors: u64 = measured.rounds.iter().map(|r| r.system.server_errors).sum();
    let ok = measured.problems.is_empty();
    let system = &measured.system.output.stats;
    let ceiling = &measured.rounds[0].ceiling;
    report.rows.push(SummaryRow {
        scenario: format!("hot ({clients} clients, 1 sku, stock {stock})"),
        system: format!(
            "{:.0}/s, p99 {:.1} ms, {}, 5xx {server_errors}",
            system.throughput(),
            system.ms(0.99),
            if ok { "exactly the stock sold" } else { "**books off**" },
        ),
        ceiling: measured.best_pool.summary(ceiling),
        ratio: format!(
            "{:.2}× the per-transaction ceiling, {to_update:.2}× the bare UPDATE, p99 {:.2}× (medians of {} rounds)",
            ratios.throughput,
            ratios.p99,
            measured.rounds.len()
        ),
        target: "≥ 2× per-transaction, ≥ 1.0× bare UPDATE, p99 ≤ 1×, zero oversell, zero 5xx".into(),
        met: report::verdict(ratios.throughput >= 2.0 && to_update >= 1.0 && ratios.p99 <= 1.0 && ok),
    });
    report.sections.push(format!(
        "## hot\n\nA flash sale: {clients} concurrent clients buy one unit each of one sku, {} requests against a stock of {stock}; after the stock is gone every purchase takes the shortage path (409, joins the open restock request). The factory is restarted with an hour of production time for the system phases, so no restock lands during them and the system does the ceiling's work. Two ceilings: the checkout transaction run one purchase per transaction straight on the database (the per-transaction ceiling), and the bare `UPDATE products SET stock = stock - 1 WHERE sku = ? AND stock >= 1`, autocommit, run by 64 clients on a connection each (the hot row's physical limit). Sales combines concurrent checkouts into shared transactions (`CHECKOUT_BATCH_MAX`).\n\n{}\n\n{}\n{}\nCheck: {}.",
        args.hot_requests,
        stats_table(measured),
        notes(measured),
        rounds::table(&measured.rounds, "bare UPDATE"),
        if ok { "in every phase exactly the stock was sold (no oversell), no 5xx" } else { "**FAILED**" }
    ));
}

fn stats_table(measured: &Measured) -> String {
    let ceilings = measured
        .ceilings
        .iter()
        .map(|c| c.pool.stats_row(&c.phase.output.stats));
    report::stats_table(ceilings.chain([
        report::stats_row("system: sales", "16 (DB_POOL_MAX)", &measured.system.output.stats),
        report::stats_row(
            "ceiling: bare single UPDATE, autocommit",
            &format!("{BARE_UPDATE_CLIENTS} (one per client)"),
            &measured.bare_update.output,
        ),
    ]))
}

fn notes(measured: &Measured) -> String {
    let books = |phase: &HotPhase| phase.books.clone().unwrap_or_default();
    let mut notes = String::new();
    for c in &measured.ceilings {
        let _ = writeln!(
            notes,
            "{}",
            c.pool.note(c.phase.output.books.as_deref(), &c.phase.cpu())
        );
    }
    let _ = writeln!(
        notes,
        "- system: {}; CPU in cores: {}; {}",
        books(&measured.system.output),
        measured.system.cpu(),
        measured.batches.describe()
    );
    let _ = writeln!(notes, "- bare UPDATE: CPU in cores: {}", measured.bare_update.cpu());
    notes
}
