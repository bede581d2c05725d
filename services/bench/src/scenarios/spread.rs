//! The spread scenario: quantity-1 purchases over many skus with ample stock, sales next
//! to its ceilings (the checkout transaction straight on the database, per pool; the bare
//! service: hyper around the same transaction; the HTTP floor: `GET /health`), in rounds.
//! Checked: every 200 is one order and one unit less stock, no errors.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use warehouse::reports::{self, Books};

use super::World;
use super::ceiling_pools::{CeilingPool, fastest};
use super::checkout_batches::BatchSizes;
use super::memory::ResidentKib;
use super::metering::{Metered, metered, processes};
use super::phases::Target::{self, Http, Sql};
use super::phases::{checkout_phase, get_phase, insert_products, numbered_skus, stock_unless_present};
use super::rounds::{self, Round};
use super::sold_check::SoldCheck;
use crate::bare::BareService;
use crate::load::Stats;
use crate::report::{self, Report, SummaryRow};
use crate::system::{Process, RssSampler};
use crate::{Args, progress};

/// The skus of spread (and of the knob sweep's spread phases).
const PREFIX: &str = "BSP-";
/// Stock per sku: more than any run sells.
const STOCK: i64 = 10_000_000;

/// Spread's skus, `--spread-skus` of them.
pub(super) fn skus(args: &Args) -> Arc<Vec<String>> {
    Arc::new(numbered_skus(PREFIX, args.spread_skus))
}

/// Spread's skus in the warehouse, added unless spread ran before in this run (the knob
/// sweep's spread phases run on them).
pub(super) async fn stocked_skus(args: &Args, world: &World) -> anyhow::Result<Arc<Vec<String>>> {
    let skus = skus(args);
    stock_unless_present(&world.warehouse, &skus, STOCK).await?;
    Ok(skus)
}

/// Runs spread; the services' peak resident memory under it.
pub(super) async fn run(
    args: &Args,
    world: &World,
    report: &mut Report,
    pools: &[CeilingPool],
) -> anyhow::Result<ResidentKib> {
    let skus = skus(args);
    insert_products(&world.warehouse, &skus, STOCK, 10).await?;
    insert_products(&world.ceiling, &skus, STOCK, 10).await?;
    let measured = measure(args, world, pools, skus).await?;
    let check = SoldCheck::new(
        measured.rounds.iter().map(|r| r.system.sold).sum(),
        measured.rounds.iter().map(|r| r.system.errors()).sum(),
        &measured.books_before,
        &measured.books_after,
    );
    if !check.ok() {
        report.failures.push(format!("spread: {}", check.describe()));
    }
    render(args, report, &measured, &check);
    Ok(measured.peak_rss)
}

/// One ceiling pool's measured phase.
struct CeilingRun {
    pool: CeilingPool,
    phase: Metered<Stats>,
}

/// Everything spread measured.
struct Measured {
    ceilings: Vec<CeilingRun>,
    /// The pool the ceiling did best on (its phase opens the rounds).
    best_pool: CeilingPool,
    system: Metered<Stats>,
    batches: BatchSizes,
    peak_rss: ResidentKib,
    bare: Metered<Stats>,
    /// The first round (the phases above) and the extra ones.
    rounds: Vec<Round>,
    books_before: Books,
    books_after: Books,
    floor: Stats,
}

/// The system's phase and the services' peak resident memory during it.
struct SampledPhase {
    stats: Stats,
    peak_rss: ResidentKib,
}

/// How a phase of spread runs: clients, budget, time limit, skus.
struct Load {
    clients: usize,
    requests: u64,
    warmup: u64,
    limit: Duration,
    skus: Arc<Vec<String>>,
}

impl Load {
    /// `requests` checkouts against `target`.
    async fn run(&self, target: Target<'_>, requests: u64) -> Stats {
        checkout_phase(target, self.clients, requests, self.limit, self.skus.clone()).await
    }
}

async fn measure(
    args: &Args,
    world: &World,
    pools: &[CeilingPool],
    skus: Arc<Vec<String>>,
) -> anyhow::Result<Measured> {
    let load = Load {
        clients: args.spread_clients,
        requests: args.spread_requests,
        warmup: args.warmup,
        limit: Duration::from_secs(args.max_seconds),
        skus,
    };
    let ceilings = measure_ceilings(world, pools, &load).await?;
    let best = fastest(&ceilings, |c| &c.phase.output).context("no ceiling pool")?;
    let best_pool = best.pool;
    let ceiling = best.phase.output.clone();

    let clients = load.clients;
    progress(format!("spread: {clients} clients → sales: warm-up"));
    load.run(Http(world.sales), load.warmup).await;
    let books_before = reports::books(&world.warehouse, &format!("{PREFIX}%")).await?;
    let batches_before = BatchSizes::scrape(world.sales).await;
    let measured = metered(&processes(world), async {
        let rss = RssSampler::start(world.services.pids());
        let stats = load.run(Http(world.sales), load.requests).await;
        SampledPhase {
            stats,
            peak_rss: rss.stop().await,
        }
    })
    .await;
    let batches = BatchSizes::scrape(world.sales).await.since(&batches_before);
    let SampledPhase { stats, peak_rss } = measured.output;
    let system = Metered {
        output: stats,
        usage: measured.usage,
    };
    progress(format!("spread system: {}", system.output.summary()));

    // The bare service: the same transaction behind the smallest HTTP server, as a
    // process of its own (bare.rs): what the HTTP hop costs without stockflow.
    let bare_service = BareService::start(&world.database.mysql_url, &world.ceiling_db).await?;
    progress(format!(
        "spread: {clients} clients → bare service (hyper + the same transaction): warm-up"
    ));
    load.run(Http(bare_service.addr), load.warmup).await;
    let mut bare_processes = processes(world);
    bare_processes.extend(bare_service.pid().map(|pid| Process {
        name: "bare service",
        pid,
    }));
    let bare = metered(&bare_processes, load.run(Http(bare_service.addr), load.requests)).await;
    progress(format!("spread bare service: {}", bare.output.summary()));

    let first = Round {
        ceiling,
        system: system.output.clone(),
        bare: bare.output.clone(),
    };
    let rounds = extra_rounds(args, world, &load, best_pool, &bare_service, first).await?;
    bare_service.stop().await;
    let books_after = reports::books(&world.warehouse, &format!("{PREFIX}%")).await?;

    // The HTTP floor: the same clients against `GET /health` (no work behind it). With
    // HTTP and SQL sharing the cores, a checkout can at best cost both.
    progress(format!("spread http floor: {clients} clients → GET /health"));
    let floor = get_phase(world.sales, clients, load.requests, load.limit, |_| "/health".into()).await;
    progress(format!("spread http floor: {}", floor.summary()));
    Ok(Measured {
        ceilings,
        best_pool,
        system,
        batches,
        peak_rss,
        bare,
        rounds,
        books_before,
        books_after,
        floor,
    })
}

/// The ceiling: the same transaction straight against the database, per pool size.
async fn measure_ceilings(world: &World, pools: &[CeilingPool], load: &Load) -> anyhow::Result<Vec<CeilingRun>> {
    let mut ceilings = Vec::new();
    for &pool in pools {
        let size = pool.label();
        let connections = pool.open(world).await?;
        progress(format!(
            "spread ceiling: direct SQL, {} clients on pool {size}: warm-up",
            load.clients
        ));
        load.run(Sql(&connections), load.warmup).await;
        let phase = metered(&processes(world), load.run(Sql(&connections), load.requests)).await;
        progress(format!("spread ceiling (pool {size}): {}", phase.output.summary()));
        connections.disconnect().await.ok();
        ceilings.push(CeilingRun { pool, phase });
    }
    Ok(ceilings)
}

/// `first`, then `--extra-rounds` more, back to back, in reverse order every other round.
async fn extra_rounds(
    args: &Args,
    world: &World,
    load: &Load,
    best_pool: CeilingPool,
    bare: &BareService,
    first: Round,
) -> anyhow::Result<Vec<Round>> {
    let mut rounds = vec![first];
    let pool = best_pool.open(world).await?;
    let requests = load.requests;
    for round in 2..=args.extra_rounds + 1 {
        let ran = rounds::run_round(
            round,
            async { anyhow::Ok(load.run(Sql(&pool), requests).await) },
            async { anyhow::Ok(load.run(Http(world.sales), requests).await) },
            async { anyhow::Ok(load.run(Http(bare.addr), requests).await) },
        )
        .await?;
        progress(format!(
            "spread round {round}: ceiling {:.0}/s, system {:.0}/s, bare service {:.0}/s",
            ran.ceiling.throughput(),
            ran.system.throughput(),
            ran.bare.throughput()
        ));
        rounds.push(ran.into());
    }
    pool.disconnect().await.ok();
    Ok(rounds)
}

fn render(args: &Args, report: &mut Report, measured: &Measured, check: &SoldCheck) {
    let clients = args.spread_clients;
    let ceiling = &measured.rounds[0].ceiling;
    let system = &measured.system.output;
    let ratios = rounds::ratios(&measured.rounds);
    let bare_to_ceiling = rounds::median_of(&measured.rounds, |r| r.bare.throughput() / r.ceiling.throughput());
    let system_to_bare = rounds::median_of(&measured.rounds, |r| r.system.throughput() / r.bare.throughput());
    report.rows.push(SummaryRow {
        scenario: format!("spread ({clients} clients, {} skus)", args.spread_skus),
        system: format!("{:.0}/s, p99 {:.1} ms", system.throughput(), system.ms(0.99)),
        ceiling: measured.best_pool.summary(ceiling),
        ratio: format!(
            "{:.2}× thr, {:.2}× p99 (median of {} rounds); the bare service reaches {bare_to_ceiling:.2}× the ceiling and sales {system_to_bare:.2}× the bare service",
            ratios.throughput,
            ratios.p99,
            measured.rounds.len()
        ),
        target: "≥ 1.0× thr, p99 ≤ 2× ceiling p99".into(),
        met: report::verdict(ratios.throughput >= 1.0 && ratios.p99 <= 2.0),
    });
    report.sections.push(format!(
        "## spread\n\nQuantity-1 purchases over {} skus with ample stock, {clients} concurrent clients.\n\n{}\n\n{}\n{}\nCheck over the system phases: {}.",
        args.spread_skus,
        stats_table(measured),
        cpu_notes(measured, ceiling),
        rounds::table(&measured.rounds, "bare service"),
        check.describe()
    ));
}

fn stats_table(measured: &Measured) -> String {
    let ceilings = measured.ceilings.iter().map(|c| c.pool.stats_row(&c.phase.output));
    report::stats_table(ceilings.chain([
        report::stats_row("system: sales", "16 (DB_POOL_MAX)", &measured.system.output),
        report::stats_row("bare service: hyper + the same SQL", "16", &measured.bare.output),
        report::stats_row("http floor: GET /health", "-", &measured.floor),
    ]))
}

fn cpu_notes(measured: &Measured, ceiling: &Stats) -> String {
    let mut notes = String::new();
    for c in &measured.ceilings {
        let _ = writeln!(notes, "{}", c.pool.note(None, &c.phase.cpu()));
    }
    let _ = writeln!(notes, "- system: {}", measured.batches.describe());
    let _ = writeln!(notes, "- system: CPU in cores: {}", measured.system.cpu());
    let _ = writeln!(notes, "- bare service: CPU in cores: {}", measured.bare.cpu());
    let floor = &measured.floor;
    let combined = 1.0 / (1.0 / floor.throughput() + 1.0 / ceiling.throughput());
    let _ = writeln!(
        notes,
        "- HTTP and SQL on the same cores: 1 / (1/{:.0} + 1/{:.0}) = {combined:.0}/s if a checkout cost exactly one bare HTTP exchange plus the bare transaction; sales reaches {:.2}× of that",
        floor.throughput(),
        ceiling.throughput(),
        measured.system.output.throughput() / combined
    );
    notes
}
