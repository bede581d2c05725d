//! The knob sweep (`--sweep`): sales restarted under each setting (checkout batching,
//! lanes, pool size, workers, log level; innodb_flush_log_at_trx_commit=2 set globally
//! for its phases, then restored), a short spread phase and a short hot phase each, then
//! two rounds of the against-read trio (read, hot and spread checkout) at the first
//! `--read-clients` count, so that a knob's effect on the purchase-to-read ratios is
//! compared within one run.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::Pool;
use mysql_async::prelude::Queryable;

use super::World;
use super::against_read::{AtClients, Trio};
use super::phases::Target::Http;
use super::phases::{checkout_phase, insert_products};
use super::spread;
use crate::load::Stats;
use crate::report::Report;
use crate::{Args, progress};

/// One setting sales is measured under.
struct Knob {
    name: &'static str,
    /// Extra environment of sales.
    sales_env: Vec<(String, String)>,
    /// A global innodb_flush_log_at_trx_commit for the knob's phases.
    flush_log_at_trx_commit: Option<u8>,
}

impl Knob {
    /// Sales with one variable set.
    fn env(name: &'static str, variable: &str, value: &str) -> Self {
        Self {
            name,
            sales_env: vec![(variable.into(), value.into())],
            flush_log_at_trx_commit: None,
        }
    }
}

fn knobs() -> Vec<Knob> {
    vec![
        Knob {
            name: "defaults (CHECKOUT_BATCH_MAX=64, CHECKOUT_LANES=2, DB_POOL_MAX=16, SALES_WORKERS=1, RUST_LOG=info)",
            sales_env: Vec::new(),
            flush_log_at_trx_commit: None,
        },
        Knob::env(
            "CHECKOUT_BATCH_MAX=1 (one transaction per purchase)",
            "CHECKOUT_BATCH_MAX",
            "1",
        ),
        Knob::env("CHECKOUT_BATCH_MAX=8", "CHECKOUT_BATCH_MAX", "8"),
        Knob::env("CHECKOUT_BATCH_MAX=256", "CHECKOUT_BATCH_MAX", "256"),
        Knob::env("CHECKOUT_LANES=1", "CHECKOUT_LANES", "1"),
        Knob::env("CHECKOUT_LANES=4 (the default until 2026-12-03)", "CHECKOUT_LANES", "4"),
        Knob::env("CHECKOUT_LANES=8", "CHECKOUT_LANES", "8"),
        Knob::env("CHECKOUT_LANES=16", "CHECKOUT_LANES", "16"),
        Knob::env("DB_POOL_MAX=4", "DB_POOL_MAX", "4"),
        Knob::env("DB_POOL_MAX=64", "DB_POOL_MAX", "64"),
        Knob::env("SALES_WORKERS=0 (one per core)", "SALES_WORKERS", "0"),
        Knob::env(
            "RUST_LOG=warn (no info lines; a sale logs at debug anyway)",
            "RUST_LOG",
            "warn",
        ),
        Knob {
            name: "innodb_flush_log_at_trx_commit=2 (global, restored after)",
            sales_env: Vec::new(),
            flush_log_at_trx_commit: Some(2),
        },
    ]
}

/// What one knob gave.
struct KnobPhases {
    spread: Stats,
    hot: Stats,
    against_read: AtClients,
}

/// Rounds of the against-read trio per knob (the second one reversed).
const READ_ROUNDS: usize = 2;

pub(super) async fn run(args: &Args, world: &mut World, report: &mut Report) -> anyhow::Result<()> {
    let skus = spread::stocked_skus(args, world).await?;
    let mut table = String::from(
        "| knob | spread /s | spread p99 ms | hot /s | hot p99 ms | hot 5xx | hot / read | spread / read | p99 hot / read | p99 spread / read |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let original_flush: Option<u8> = {
        let mut conn = world.admin.get_conn().await?;
        conn.query_first("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit")
            .await?
    };
    for (k, knob) in knobs().into_iter().enumerate() {
        progress(format!("sweep: {}", knob.name));
        world.services.restart("sales", &knob.sales_env).await?;
        if let Some(v) = knob.flush_log_at_trx_commit {
            set_flush_log_at_trx_commit(&world.admin, v).await?;
        }
        let result = measure(args, world, &skus, k).await;
        if knob.flush_log_at_trx_commit.is_some()
            && let Some(orig) = original_flush
        {
            set_flush_log_at_trx_commit(&world.admin, orig).await?;
            progress(format!("sweep: innodb_flush_log_at_trx_commit restored to {orig}"));
        }
        let phases = result?;
        if !phases.against_read.check.ok() {
            report.failures.push(format!(
                "sweep {}, against the read: {}",
                knob.name,
                phases.against_read.check.describe()
            ));
        }
        progress(format!(
            "sweep {}: spread {} | hot {}",
            knob.name,
            phases.spread.summary(),
            phases.hot.summary()
        ));
        table.push_str(&row(knob.name, &phases));
    }
    world.services.restart("sales", &[]).await?;
    report.sections.push(format!(
        "## Knobs\n\nSales restarted under each setting; {} spread requests ({} clients) and {} hot requests ({} clients, stock a quarter of that) each, after {} warm-up requests; then the against-read trio (read, hot with ample stock, spread) at {} clients, {READ_ROUNDS} rounds of {} requests a phase, its ratios the medians of the rounds. Same machine, same moment, so compare rows with each other.\n\n{table}",
        args.sweep_requests,
        args.spread_clients,
        args.sweep_requests,
        args.hot_clients,
        args.warmup,
        read_clients(args),
        args.sweep_requests
    ));
    Ok(())
}

async fn set_flush_log_at_trx_commit(admin: &Pool, value: u8) -> anyhow::Result<()> {
    let mut conn = admin.get_conn().await?;
    conn.query_drop(format!("SET GLOBAL innodb_flush_log_at_trx_commit = {value}"))
        .await?;
    Ok(())
}

/// The client count of the against-read rounds: the first `--read-clients`.
fn read_clients(args: &Args) -> usize {
    args.read_clients.first().copied().unwrap_or(args.spread_clients)
}

/// The `k`-th knob's phases: a warm-up and a spread phase, then hot on a fresh sku with a
/// quarter of the requests as stock, then the against-read rounds.
async fn measure(args: &Args, world: &World, skus: &Arc<Vec<String>>, k: usize) -> anyhow::Result<KnobPhases> {
    let limit = Duration::from_secs(args.max_seconds);
    checkout_phase(Http(world.sales), args.spread_clients, args.warmup, limit, skus.clone()).await;
    let spread = checkout_phase(
        Http(world.sales),
        args.spread_clients,
        args.sweep_requests,
        limit,
        skus.clone(),
    )
    .await;
    let sku = format!("BHOTK-{k}");
    let stock = args.sweep_requests as i64 / 4;
    insert_products(&world.warehouse, std::slice::from_ref(&sku), stock, 10).await?;
    let hot = checkout_phase(
        Http(world.sales),
        args.hot_clients,
        args.sweep_requests,
        limit,
        Arc::new(vec![sku]),
    )
    .await;
    let against_read = Trio::stock(args, world)
        .await?
        .measure(READ_ROUNDS, args.sweep_requests, read_clients(args))
        .await?;
    Ok(KnobPhases {
        spread,
        hot,
        against_read,
    })
}

fn row(name: &str, phases: &KnobPhases) -> String {
    let KnobPhases {
        spread,
        hot,
        against_read,
    } = phases;
    let m = against_read.medians();
    let mut row = String::new();
    let _ = writeln!(
        row,
        "| {name} | {:.0} | {:.1} | {:.0} | {:.1} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
        spread.throughput(),
        spread.ms(0.99),
        hot.throughput(),
        hot.ms(0.99),
        hot.server_errors,
        m.hot,
        m.spread,
        m.hot_p99,
        m.spread_p99
    );
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_has_thirteen_knobs_one_of_them_on_the_server() {
        let knobs = knobs();
        assert_eq!(knobs.len(), 13);
        assert!(knobs[0].sales_env.is_empty() && knobs[0].flush_log_at_trx_commit.is_none());
        assert_eq!(
            knobs[1].sales_env,
            [("CHECKOUT_BATCH_MAX".to_string(), "1".to_string())]
        );
        let server: Vec<_> = knobs.iter().filter(|k| k.flush_log_at_trx_commit.is_some()).collect();
        assert_eq!(server.len(), 1);
        assert!(server[0].sales_env.is_empty());
    }
}
