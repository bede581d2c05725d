//! One bench run: set up a private world, run the scenarios next to their ceilings,
//! check correctness, tear down what it made. The listing and burst scenarios live in
//! files of their own (`scenarios/`).

mod burst;
mod listing;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDateTime, Utc};
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_messaging::aws;
use stockflow_kit::config::{DatabaseSettings};
use stockflow_messaging::aws::AwsSettings;
use stockflow_messaging::consumer::ConsumerSettings;
use stockflow_kit::db;
use warehouse::products::{self, NewProduct};
use warehouse::{invariant, reports};

use crate::bare::BareService;
use crate::load::{self, HttpClient, Stats};
use crate::report::{self, Report};
use crate::system::{self, Config, CpuMeter, RssSampler, Services};
use crate::{Args, ceiling, progress};
use stockflow_devstack::service::Ports;
use stockflow_devstack::topology::Topology;

const SPREAD_STOCK: i64 = 10_000_000;
const RESTOCK_REORDER: i64 = 10;

struct World {
    admin: Pool,
    warehouse: Pool,
    ceiling: Pool,
    database: DatabaseSettings,
    ceiling_db: String,
    /// Where sales listens.
    sales: SocketAddr,
    services: Services,
    db_pid: Option<u32>,
}

pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let mut report = Report {
        title: format!("stockflow benchmark {}", Utc::now().format("%Y-%m-%d %H:%M UTC")),
        ..Report::default()
    };
    let load_before = system::loadavg();
    let database = DatabaseSettings {
        mysql_url: args.mysql_url.clone(),
        db_pool_max: 4,
    };
    let admin = db::connect(&database, "mysql")
        .await
        .context("MySQL/MariaDB not reachable")?;
    machine_facts(&mut report, &admin, args, &id, &load_before).await?;

    // The private topology of the services and a second one for the bare hops.
    let prefix = format!("b{id}_");
    let hop_prefix = format!("b{id}h_");
    let aws_settings = |p: &str| AwsSettings {
        aws_endpoint_url: args.aws_endpoint.clone(),
        aws_region: "us-east-1".into(),
        stockflow_prefix: p.to_string(),
    };
    let sdk = aws::sdk_config(&aws_settings(&prefix)).await;
    let cf = aws_sdk_cloudformation::Client::new(&sdk);
    let stacks = [format!("stockflow-bench-{id}"), format!("stockflow-bench-{id}-hops")];
    progress(format!(
        "deploying localstack/stockflow.yaml twice: prefix {prefix} (services) and {hop_prefix} (bare hops)"
    ));
    let (params, hop_params) = ([("Prefix", prefix.clone())], [("Prefix", hop_prefix.clone())]);
    let (a, b) = tokio::join!(
        Topology::deploy(&cf, &stacks[0], &params),
        Topology::deploy(&cf, &stacks[1], &hop_params)
    );
    let topologies = [a?, b?];

    let warehouse_db = format!("bench_{id}_warehouse");
    let factory_db = format!("bench_{id}_factory");
    let ceiling_db = format!("bench_{id}_ceiling");
    let ports = Ports::free(1)?;
    let log_dir = args
        .out
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(format!("run-{id}"));
    let config = Config {
        bin_dir: args.bin_dir.clone(),
        log_dir,
        mysql_url: args.mysql_url.clone(),
        aws_endpoint: args.aws_endpoint.clone(),
        prefix: prefix.clone(),
        warehouse_db: warehouse_db.clone(),
        factory_db: factory_db.clone(),
        ports: ports.clone(),
        env: args.env.clone(),
        sales_env: Vec::new(),
    };
    progress(format!(
        "starting {} from {} (sales :{}, factory :{}; logs in {})",
        system::service_names().join(", "),
        args.bin_dir.display(),
        ports.sales,
        ports.factory,
        config.log_dir.display()
    ));
    let services = Services::start(config).await?;
    report.facts.push(format!(
        "services: release binaries as processes, prefix `{prefix}`, databases `{warehouse_db}`/`{factory_db}`, \
         FACTORY_PRODUCTION_SECONDS=0 (3600 during the hot phase), otherwise the README defaults{}; logs in `{}`",
        if args.env.is_empty() {
            String::new()
        } else {
            format!(
                " plus {}",
                args.env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        },
        services.log_dir().display()
    ));

    let max_pool = max_connections(&admin).await.unwrap_or(151);
    let world = World {
        warehouse: db::connect(&database_with(&database, 8), &warehouse_db).await?,
        ceiling: warehouse::open(&database_with(&database, 4), &ceiling_db).await?,
        admin,
        database: database.clone(),
        ceiling_db: ceiling_db.clone(),
        sales: SocketAddr::from(([127, 0, 0, 1], ports.sales)),
        services,
        db_pid: system::database_pid(),
    };
    let mut world = world;
    let result = scenarios(args, &mut world, &mut report, max_pool, &hop_prefix).await;

    // Teardown: only what this run created.
    progress("stopping the services (SIGTERM to the pids this run started)");
    let rss_end: Vec<_> = world
        .services
        .pids()
        .into_iter()
        .map(|(n, pid)| (n, system::memory_kib(pid)))
        .collect();
    world.services.stop().await;
    if !args.keep {
        let mut conn = world.admin.get_conn().await?;
        for name in [&warehouse_db, &factory_db, &ceiling_db] {
            conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).await.ok();
        }
        for topology in &topologies {
            if let Err(err) = topology.delete(&cf).await {
                progress(format!("{err:#}"));
            }
        }
    }
    result?;
    let mut mem = String::from(
        "Peak RSS (VmHWM) and RSS at the end of the processes running at the end (with `--sweep`, sales was restarted, so its peak is that of the last sales process):\n\n| service | VmHWM MiB | VmRSS at end MiB |\n|---|---|---|\n",
    );
    for (n, m) in rss_end {
        if let Some((rss, hwm)) = m {
            let _ = writeln!(mem, "| {n} | {:.1} | {:.1} |", hwm as f64 / 1024.0, rss as f64 / 1024.0);
        }
    }
    report.sections.push(format!("## Memory over the whole run\n\n{mem}"));
    report.facts.push(format!(
        "load average (1/5/15 min) at start: {load_before}; at end: {}",
        system::loadavg()
    ));
    Ok(report)
}

fn database_with(settings: &DatabaseSettings, pool: usize) -> DatabaseSettings {
    DatabaseSettings {
        mysql_url: settings.mysql_url.clone(),
        db_pool_max: pool,
    }
}

async fn max_connections(admin: &Pool) -> anyhow::Result<usize> {
    let mut conn = admin.get_conn().await?;
    let v: Option<usize> = conn.query_first("SELECT @@GLOBAL.max_connections").await?;
    Ok(v.unwrap_or(151))
}

async fn machine_facts(report: &mut Report, admin: &Pool, args: &Args, id: &str, load: &str) -> anyhow::Result<()> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or_default();
    report.facts.push(format!(
        "machine: {cores} cores ({model}), {:.1} GiB RAM; load generator, services, MariaDB and LocalStack share these cores",
        mem as f64 / 1024.0 / 1024.0
    ));
    let mut conn = admin.get_conn().await?;
    let version: Option<String> = conn.query_first("SELECT VERSION()").await?;
    let vars: Vec<(String, String)> = conn
        .query(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin', \
             'innodb_buffer_pool_size', 'max_connections', 'thread_handling', 'innodb_flush_method', 'tx_isolation', \
             'transaction_isolation')",
        )
        .await?;
    report.facts.push(format!(
        "database: {} ({})",
        version.unwrap_or_default(),
        vars.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    report.facts.push(format!(
        "run id {id}; each measured phase: a request budget (spread {} requests, hot {}) or {} s, whichever ends first, after {} unmeasured warm-up requests",
        args.spread_requests, args.hot_requests, args.max_seconds, args.warmup
    ));
    report
        .facts
        .push(format!("load average (1/5/15 min) when the run began: {load}"));
    Ok(())
}

async fn scenarios(
    args: &Args,
    world: &mut World,
    report: &mut Report,
    max_connections: usize,
    hop_prefix: &str,
) -> anyhow::Result<()> {
    let want = |s: &str| args.scenarios.iter().any(|x| x == s);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: BTreeMap<&str, u64> = world
        .services
        .pids()
        .into_iter()
        .filter_map(|(n, pid)| system::memory_kib(pid).map(|(rss, _)| (n, rss)))
        .collect();
    progress(format!(
        "idle RSS: {}",
        idle.iter()
            .map(|(n, kb)| format!("{n} {:.1} MiB", *kb as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Ceiling pools: the first size also with the services' pool options (reset on
    // return, which empties the statement cache), every size with statements cached.
    let sizes: Vec<usize> = args
        .ceiling_pools
        .iter()
        .map(|p| (*p).min(max_connections.saturating_sub(40).max(1)))
        .collect();
    let mut pools: Vec<CeilingPool> = Vec::new();
    if let Some(&first) = sizes.first() {
        pools.push(CeilingPool {
            size: first,
            reset: true,
        });
    }
    pools.extend(sizes.iter().map(|&size| CeilingPool { size, reset: false }));
    let pools = &pools[..];

    let mut under_load = BTreeMap::new();
    if want("spread") {
        under_load = spread(args, world, report, pools).await?;
    }
    if want("hot") {
        hot(args, world, report, pools).await?;
    }
    if want("restock") {
        restock(args, world, report, hop_prefix).await?;
    }
    if want("listing") {
        listing::run(args, world, report).await?;
    }
    if want("burst") {
        burst::run(args, world, report, hop_prefix).await?;
    }
    if args.sweep {
        sweep(args, world, report).await?;
    }
    let world = &*world;

    // Memory table and its target.
    let mut mem = String::from(
        "| service | RSS idle MiB | peak RSS under spread MiB | target idle < 30 | target load < 100 |\n|---|---|---|---|---|\n",
    );
    let mut all_met = true;
    for name in system::service_names() {
        let i = idle.get(name).copied().unwrap_or_default() as f64 / 1024.0;
        let l = under_load.get(name).copied().unwrap_or_default() as f64 / 1024.0;
        all_met &= i < 30.0 && (l < 100.0);
        let _ = writeln!(
            mem,
            "| {name} | {i:.1} | {} | {} | {} |",
            if under_load.is_empty() {
                "-".into()
            } else {
                format!("{l:.1}")
            },
            report::verdict(i < 30.0),
            report::verdict(l < 100.0)
        );
    }
    report
        .sections
        .insert(0, format!("## Memory (VmRSS from /proc/<pid>/status)\n\n{mem}"));
    report.rows.push([
        "memory".into(),
        format!(
            "max idle {:.1} MiB, max under spread {:.1} MiB",
            idle.values().max().copied().unwrap_or_default() as f64 / 1024.0,
            under_load.values().max().copied().unwrap_or_default() as f64 / 1024.0
        ),
        "-".into(),
        "-".into(),
        "each < 30 MiB idle, < 100 MiB under spread".into(),
        report::verdict(all_met),
    ]);

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

fn procs(world: &World) -> Vec<(String, u32)> {
    let mut p: Vec<(String, u32)> = world
        .services
        .pids()
        .into_iter()
        .map(|(n, pid)| (n.to_string(), pid))
        .collect();
    p.push(("bench".into(), std::process::id()));
    if let Some(pid) = world.db_pid {
        p.push(("mariadb".into(), pid));
    }
    p
}

/// Runs `phase` with the CPU of `procs` metered: its output and "name cores, …".
async fn metered<T>(procs: &[(String, u32)], phase: impl Future<Output = T>) -> (T, String) {
    let meter = CpuMeter::start(procs);
    let output = phase.await;
    (output, cpu_line(&meter.stop()))
}

fn cpu_line(cpu: &[(String, f64)]) -> String {
    cpu.iter()
        .map(|(n, c)| format!("{n} {c:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn insert_products(pool: &Pool, skus: &[String], stock: i64, reorder: i64) -> anyhow::Result<()> {
    let products: Vec<NewProduct> = skus
        .iter()
        .map(|sku| NewProduct {
            sku: sku.clone(),
            name: format!("bench {sku}"),
            price: 1000,
            stock,
            reorder_quantity: reorder,
            factory_id: "FF-BENCH".into(),
            factory_name: "bench factory".into(),
        })
        .collect();
    Ok(products::add(pool, &products).await?)
}

/// (initial, produced, sold, stock now) of the skus matching the `LIKE` pattern.
async fn books(pool: &Pool, pattern: &str) -> anyhow::Result<(i64, i64, i64, i64)> {
    let b = reports::books(pool, pattern).await?;
    Ok((b.initial, b.produced, b.sold, b.stock))
}

/// Checkouts over HTTP against `target` (sales, or the bare service).
async fn http_phase(
    target: SocketAddr,
    clients: usize,
    requests: u64,
    limit: Duration,
    skus: Arc<Vec<String>>,
) -> Stats {
    load::closed_loop(
        clients,
        requests,
        limit,
        || HttpClient::new(target),
        move |mut client, i| {
            let skus = skus.clone();
            async move {
                let sku = &skus[(i as usize).wrapping_mul(7919) % skus.len()];
                let outcome = client.checkout(sku, 1).await.0;
                (client, outcome)
            }
        },
    )
    .await
}

async fn sql_phase(pool: &Pool, clients: usize, requests: u64, limit: Duration, skus: Arc<Vec<String>>) -> Stats {
    load::closed_loop(
        clients,
        requests,
        limit,
        || pool.clone(),
        move |pool, i| {
            let skus = skus.clone();
            async move {
                let sku = &skus[(i as usize).wrapping_mul(7919) % skus.len()];
                let outcome = ceiling::checkout(&pool, sku, 1).await;
                (pool, outcome)
            }
        },
    )
    .await
}

/// One round of phases measured back to back: the ceiling at its best pool, the system,
/// and (spread) the bare service.
struct Round {
    ceiling: Stats,
    system: Stats,
    bare: Option<Stats>,
}

/// Whether round `round` (1-based) runs its phases in reverse order (the bare service or
/// the system first, the ceiling last). The order alternates, so that a drift of the
/// machine's speed during the run (the later phase was the slower more often than not)
/// favours no side.
fn reversed(round: usize) -> bool {
    round.is_multiple_of(2)
}

/// The median throughput and p99 ratios (system / ceiling) of `rounds`, and their table.
fn round_ratios(rounds: &[Round], bare_label: &str) -> (f64, f64, String) {
    let with_bare = rounds.iter().all(|r| r.bare.is_some());
    let (order, bare_columns, bare_rule) = if with_bare {
        (
            format!("ceiling, system, {bare_label}"),
            format!(" {bare_label} /s | bare / ceiling | system / bare |"),
            "---|---|---|",
        )
    } else {
        ("ceiling, system".to_string(), String::new(), "")
    };
    let mut table = format!(
        "Rounds measured back to back (in the order {order}, reversed in even rounds); the verdict takes the median ratio of system to ceiling:\n\n\
         | round | ceiling /s | system /s | throughput ratio | ceiling p99 ms | system p99 ms | p99 ratio |{bare_columns}\n|---|---|---|---|---|---|---|{bare_rule}\n",
    );
    let mut throughput = Vec::new();
    let mut p99 = Vec::new();
    for (i, Round { ceiling, system, bare }) in rounds.iter().enumerate() {
        let ratio = system.throughput() / ceiling.throughput();
        let p99_ratio = system.ms(0.99) / ceiling.ms(0.99);
        let _ = write!(
            table,
            "| {} | {:.0} | {:.0} | {ratio:.2} | {:.1} | {:.1} | {p99_ratio:.2} |",
            i + 1,
            ceiling.throughput(),
            system.throughput(),
            ceiling.ms(0.99),
            system.ms(0.99)
        );
        if let Some(bare) = bare {
            let _ = write!(
                table,
                " {:.0} | {:.2} | {:.2} |",
                bare.throughput(),
                bare.throughput() / ceiling.throughput(),
                system.throughput() / bare.throughput()
            );
        }
        table.push('\n');
        throughput.push(ratio);
        p99.push(p99_ratio);
    }
    (median(throughput), median(p99), table)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// How the direct-SQL ceiling connects.
#[derive(Clone, Copy, Debug)]
struct CeilingPool {
    size: usize,
    /// `COM_RESET_CONNECTION` when a connection returns to the pool (mysql_async's
    /// default; the services turn it off): it also empties the prepared-statement cache.
    reset: bool,
}

impl CeilingPool {
    fn label(&self) -> String {
        if self.reset {
            format!("{} (reset on return)", self.size)
        } else {
            format!("{} (no reset: statements stay cached, as the services)", self.size)
        }
    }

    fn tag(&self) -> String {
        format!("{}{}", self.size, if self.reset { "R" } else { "" })
    }
}

/// A pool of exactly `size` connections on the ceiling database, opened before measuring,
/// with the services' pool options (`stockflow_kit::db::pool_opts`).
async fn ceiling_pool(world: &World, how: CeilingPool) -> anyhow::Result<Pool> {
    let server = mysql_async::Opts::from_url(&world.database.mysql_url)?;
    let database = mysql_async::OptsBuilder::from_opts(server).db_name(Some(&world.ceiling_db));
    let services = stockflow_kit::db::pool_opts(database.into(), how.size)?;
    let pool_opts = services.pool_opts().clone().with_reset_connection(how.reset);
    let pool = Pool::new(mysql_async::OptsBuilder::from_opts(services).pool_opts(pool_opts));
    let conns = futures::future::join_all((0..how.size).map(|_| pool.get_conn())).await;
    drop(conns);
    Ok(pool)
}

async fn spread(
    args: &Args,
    world: &World,
    report: &mut Report,
    pools: &[CeilingPool],
) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let limit = Duration::from_secs(args.max_seconds);
    let skus: Arc<Vec<String>> = Arc::new((0..args.spread_skus).map(|i| format!("BSP-{i:05}")).collect());
    insert_products(&world.warehouse, &skus, SPREAD_STOCK, 10).await?;
    insert_products(&world.ceiling, &skus, SPREAD_STOCK, 10).await?;
    let clients = args.spread_clients;
    let mut table = String::from(report::STATS_HEADER);
    let mut cpu_notes = String::new();

    // Ceiling: the same transaction straight against the database, per pool size.
    let mut best: Option<(CeilingPool, Stats)> = None;
    for &how in pools {
        let size = how.label();
        let pool = ceiling_pool(world, how).await?;
        progress(format!(
            "spread ceiling: direct SQL, {clients} clients on pool {size}: warm-up"
        ));
        sql_phase(&pool, clients, args.warmup, limit, skus.clone()).await;
        let (s, cpu) = metered(
            &procs(world),
            sql_phase(&pool, clients, args.spread_requests, limit, skus.clone()),
        )
        .await;
        progress(format!("spread ceiling (pool {size}): {}", s.summary()));
        let _ = write!(table, "\n{}", report::stats_row("ceiling: direct SQL", &size, &s));
        let _ = writeln!(cpu_notes, "- ceiling, pool {size}: CPU in cores: {cpu}");
        pool.disconnect().await.ok();
        if best.as_ref().is_none_or(|(_, b)| s.throughput() > b.throughput()) {
            best = Some((how, s));
        }
    }
    let (best_pool, ceil) = best.context("no ceiling pool")?;

    progress(format!("spread: {clients} clients → sales: warm-up"));
    http_phase(world.sales, clients, args.warmup, limit, skus.clone()).await;
    let before = books(&world.warehouse, "BSP-%").await?;
    let batches_before = BatchSizes::scrape(world.sales).await;
    let ((s, rss), cpu) = metered(&procs(world), async {
        let rss = RssSampler::start(world.services.pids());
        let s = http_phase(world.sales, clients, args.spread_requests, limit, skus.clone()).await;
        (s, rss.stop().await)
    })
    .await;
    let batches = BatchSizes::scrape(world.sales).await.since(&batches_before);
    let _ = writeln!(cpu_notes, "- system: {}", batches.describe());
    progress(format!("spread system: {}", s.summary()));
    let _ = write!(
        table,
        "\n{}",
        report::stats_row("system: sales", "16 (DB_POOL_MAX)", &s)
    );
    let _ = writeln!(cpu_notes, "- system: CPU in cores: {cpu}");

    // The bare service: the same transaction behind the smallest HTTP server, as a
    // process of its own (bare.rs): what the HTTP hop costs without stockflow.
    let bare = BareService::start(&world.database.mysql_url, &world.ceiling_db).await?;
    progress(format!(
        "spread: {clients} clients → bare service (hyper + the same transaction): warm-up"
    ));
    http_phase(bare.addr, clients, args.warmup, limit, skus.clone()).await;
    let mut bare_procs = procs(world);
    bare_procs.extend(bare.pid().map(|pid| ("bare service".to_string(), pid)));
    let (b, cpu) = metered(
        &bare_procs,
        http_phase(bare.addr, clients, args.spread_requests, limit, skus.clone()),
    )
    .await;
    progress(format!("spread bare service: {}", b.summary()));
    let _ = write!(
        table,
        "\n{}",
        report::stats_row("bare service: hyper + the same SQL", "16", &b)
    );
    let _ = writeln!(cpu_notes, "- bare service: CPU in cores: {cpu}");

    // More rounds, back to back, in reverse order every other round.
    let mut rounds = vec![Round {
        ceiling: ceil.clone(),
        system: s.clone(),
        bare: Some(b),
    }];
    let mut system_phases = vec![s.clone()];
    let pool = ceiling_pool(world, best_pool).await?;
    for round in 2..=args.extra_rounds + 1 {
        let ceiling = || sql_phase(&pool, clients, args.spread_requests, limit, skus.clone());
        let system = || http_phase(world.sales, clients, args.spread_requests, limit, skus.clone());
        let bare_phase = || http_phase(bare.addr, clients, args.spread_requests, limit, skus.clone());
        let (c, y, b) = if reversed(round) {
            let b = bare_phase().await;
            let y = system().await;
            (ceiling().await, y, b)
        } else {
            let c = ceiling().await;
            let y = system().await;
            (c, y, bare_phase().await)
        };
        progress(format!(
            "spread round {round}: ceiling {:.0}/s, system {:.0}/s, bare service {:.0}/s",
            c.throughput(),
            y.throughput(),
            b.throughput()
        ));
        system_phases.push(y.clone());
        rounds.push(Round {
            ceiling: c,
            system: y,
            bare: Some(b),
        });
    }
    pool.disconnect().await.ok();
    bare.stop().await;
    let (ratio, p99_ratio, rounds_table) = round_ratios(&rounds, "bare service");
    let bare_to_ceiling = median(
        rounds
            .iter()
            .filter_map(|r| Some(r.bare.as_ref()?.throughput() / r.ceiling.throughput()))
            .collect(),
    );
    let system_to_bare = median(
        rounds
            .iter()
            .filter_map(|r| Some(r.system.throughput() / r.bare.as_ref()?.throughput()))
            .collect(),
    );

    // Correctness: every 200 is one order and one unit less stock; no 5xx.
    let after = books(&world.warehouse, "BSP-%").await?;
    let orders = after.2 - before.2;
    let stock_drop = before.3 - after.3;
    let sold: u64 = system_phases.iter().map(|p| p.sold).sum();
    let errors: u64 = system_phases.iter().map(Stats::errors).sum();
    let ok = orders == sold as i64 && stock_drop == sold as i64 && errors == 0;
    if !ok {
        report.failures.push(format!(
            "spread: {sold} answered 200 but {orders} orders were recorded and stock fell by {stock_drop}; errors {errors}",
        ));
    }
    let ceil_size = best_pool.label();

    // The HTTP floor: the same clients against `GET /health` (no work behind it). With
    // HTTP and SQL sharing the cores, a checkout can at best cost both.
    progress(format!("spread http floor: {clients} clients → GET /health"));
    let sales = world.sales;
    let floor = load::closed_loop(
        clients,
        args.spread_requests,
        limit,
        || HttpClient::new(sales),
        |mut client, _| async move {
            let outcome = client.get("/health").await;
            (client, outcome)
        },
    )
    .await;
    progress(format!("spread http floor: {}", floor.summary()));
    let _ = write!(table, "\n{}", report::stats_row("http floor: GET /health", "-", &floor));
    let combined = 1.0 / (1.0 / floor.throughput() + 1.0 / ceil.throughput());
    let _ = writeln!(
        cpu_notes,
        "- HTTP and SQL on the same cores: 1 / (1/{:.0} + 1/{:.0}) = {combined:.0}/s if a checkout cost exactly one bare HTTP exchange plus the bare transaction; sales reaches {:.2}× of that",
        floor.throughput(),
        ceil.throughput(),
        s.throughput() / combined
    );
    report.rows.push([
        format!("spread ({clients} clients, {} skus)", args.spread_skus),
        format!("{:.0}/s, p99 {:.1} ms", s.throughput(), s.ms(0.99)),
        format!(
            "{:.0}/s, p99 {:.1} ms [pool {ceil_size}]",
            ceil.throughput(),
            ceil.ms(0.99)
        ),
        format!(
            "{ratio:.2}× thr, {p99_ratio:.2}× p99 (median of {} rounds); the bare service reaches {bare_to_ceiling:.2}× the ceiling and sales {system_to_bare:.2}× the bare service",
            rounds.len()
        ),
        "≥ 1.0× thr, p99 ≤ 2× ceiling p99".into(),
        report::verdict(ratio >= 1.0 && p99_ratio <= 2.0),
    ]);
    report.sections.push(format!(
        "## spread\n\nQuantity-1 purchases over {} skus with ample stock, {clients} concurrent clients.\n\n{table}\n\n{cpu_notes}\n{rounds_table}\nCheck: {sold} answered 200 over the system phases, {orders} orders recorded, stock fell by {stock_drop}: {}.",
        args.spread_skus,
        if ok { "consistent" } else { "**INCONSISTENT**" }
    ));
    Ok(rss)
}

async fn hot(args: &Args, world: &mut World, report: &mut Report, pools: &[CeilingPool]) -> anyhow::Result<()> {
    let limit = Duration::from_secs(args.max_seconds);
    let clients = args.hot_clients;
    let stock = args.hot_stock;
    let mut table = String::from(report::STATS_HEADER);
    let mut notes = String::new();
    let mut failures = Vec::new();

    let mut best: Option<(CeilingPool, Stats)> = None;
    for &how in pools {
        let size = how.label();
        // A warm-up sku (sold out quickly), then a fresh sku for the measured phase.
        let warm = format!("BHOTW-C{}", how.tag());
        insert_products(&world.ceiling, std::slice::from_ref(&warm), stock, 10).await?;
        let pool = ceiling_pool(world, how).await?;
        progress(format!(
            "hot ceiling: direct SQL, {clients} clients on pool {size}: warm-up"
        ));
        sql_phase(&pool, clients, args.warmup, limit, Arc::new(vec![warm])).await;
        let sku = format!("BHOT-C{}", how.tag());
        let (measured, cpu) = metered(
            &procs(world),
            hot_ceiling_phase(args, world, &pool, &sku, &mut failures),
        )
        .await;
        let (s, books_line) = measured?;
        pool.disconnect().await.ok();
        progress(format!("hot ceiling (pool {size}): {}", s.summary()));
        let _ = write!(table, "\n{}", report::stats_row("ceiling: direct SQL", &size, &s));
        let _ = writeln!(notes, "- ceiling, pool {size}: {books_line}; CPU in cores: {cpu}");
        if best.as_ref().is_none_or(|(_, b)| s.throughput() > b.throughput()) {
            best = Some((how, s));
        }
    }
    let (best_pool, ceil) = best.context("no ceiling pool")?;

    // The factory takes an hour per production during the system phases, so no restock
    // lands on the sku while it is measured: the system does the ceiling's work (exactly
    // the stock sold, then shortages joining one open request). Restocks under way are
    // the restock scenario's subject.
    let slow_factory = [("FACTORY_PRODUCTION_SECONDS".to_string(), "3600".to_string())];
    world.services.restart("factory", &slow_factory).await?;
    let warm = "BHOTW-SYS".to_string();
    insert_products(&world.warehouse, std::slice::from_ref(&warm), stock, 10).await?;
    progress(format!(
        "hot: flash sale, {clients} clients → sales on one sku (stock {stock}): warm-up"
    ));
    http_phase(world.sales, clients, args.warmup, limit, Arc::new(vec![warm])).await;
    let batches_before = BatchSizes::scrape(world.sales).await;
    let (measured, cpu) = metered(
        &procs(world),
        hot_system_phase(args, world, "BHOT-SYS-1", &mut failures),
    )
    .await;
    let batches = BatchSizes::scrape(world.sales).await.since(&batches_before);
    let (s, books_line) = measured?;
    progress(format!("hot system: {}", s.summary()));
    let _ = write!(
        table,
        "\n{}",
        report::stats_row("system: sales", "16 (DB_POOL_MAX)", &s)
    );
    let _ = writeln!(
        notes,
        "- system: {books_line}; CPU in cores: {cpu}; {}",
        batches.describe()
    );

    // The hot row's physical limit: the bare single-statement UPDATE, autocommit, one
    // connection per client.
    let update_pool = ceiling_pool(
        world,
        CeilingPool {
            size: BARE_UPDATE_CLIENTS,
            reset: false,
        },
    )
    .await?;
    let (u, cpu) = metered(
        &procs(world),
        hot_bare_update_phase(args, world, &update_pool, "BHOT-U1", &mut failures),
    )
    .await;
    let u = u?;
    progress(format!("hot bare UPDATE: {}", u.summary()));
    let _ = write!(
        table,
        "\n{}",
        report::stats_row(
            "ceiling: bare single UPDATE, autocommit",
            &format!("{BARE_UPDATE_CLIENTS} (one per client)"),
            &u
        )
    );
    let _ = writeln!(notes, "- bare UPDATE: CPU in cores: {cpu}");

    // More rounds, back to back, each on fresh skus, in reverse order every other round.
    let mut rounds = vec![Round {
        ceiling: ceil.clone(),
        system: s.clone(),
        bare: Some(u),
    }];
    let pool = ceiling_pool(world, best_pool).await?;
    for round in 2..=args.extra_rounds + 1 {
        let ceiling_sku = format!("BHOT-P{round}");
        let system_sku = format!("BHOT-SYS-{round}");
        let update_sku = format!("BHOT-U{round}");
        let (c, y, u) = if reversed(round) {
            let u = hot_bare_update_phase(args, world, &update_pool, &update_sku, &mut failures).await?;
            let (y, _) = hot_system_phase(args, world, &system_sku, &mut failures).await?;
            let (c, _) = hot_ceiling_phase(args, world, &pool, &ceiling_sku, &mut failures).await?;
            (c, y, u)
        } else {
            let (c, _) = hot_ceiling_phase(args, world, &pool, &ceiling_sku, &mut failures).await?;
            let (y, _) = hot_system_phase(args, world, &system_sku, &mut failures).await?;
            let u = hot_bare_update_phase(args, world, &update_pool, &update_sku, &mut failures).await?;
            (c, y, u)
        };
        progress(format!(
            "hot round {round}: per-transaction ceiling {:.0}/s, system {:.0}/s, bare UPDATE {:.0}/s",
            c.throughput(),
            y.throughput(),
            u.throughput()
        ));
        rounds.push(Round {
            ceiling: c,
            system: y,
            bare: Some(u),
        });
    }
    pool.disconnect().await.ok();
    update_pool.disconnect().await.ok();
    world.services.restart("factory", &[]).await?;
    let (ratio, p99_ratio, rounds_table) = round_ratios(&rounds, "bare UPDATE");
    let to_update = median(
        rounds
            .iter()
            .filter_map(|r| Some(r.system.throughput() / r.bare.as_ref()?.throughput()))
            .collect(),
    );

    let server_errors: u64 = rounds.iter().map(|r| r.system.server_errors).sum();
    let ok = failures.is_empty();
    report.rows.push([
        format!("hot ({clients} clients, 1 sku, stock {stock})"),
        format!(
            "{:.0}/s, p99 {:.1} ms, {}, 5xx {server_errors}",
            s.throughput(),
            s.ms(0.99),
            if ok { "exactly the stock sold" } else { "**books off**" },
        ),
        format!(
            "{:.0}/s, p99 {:.1} ms [pool {}]",
            ceil.throughput(),
            ceil.ms(0.99),
            best_pool.label()
        ),
        format!(
            "{ratio:.2}× the per-transaction ceiling, {to_update:.2}× the bare UPDATE, p99 {p99_ratio:.2}× (medians of {} rounds)",
            rounds.len()
        ),
        "≥ 2× per-transaction, ≥ 1.0× bare UPDATE, p99 ≤ 1×, zero oversell, zero 5xx".into(),
        report::verdict(ratio >= 2.0 && to_update >= 1.0 && p99_ratio <= 1.0 && ok),
    ]);
    report.sections.push(format!(
        "## hot\n\nA flash sale: {clients} concurrent clients buy one unit each of one sku, {} requests against a stock of {stock}; after the stock is gone every purchase takes the shortage path (409, joins the open restock request). The factory is restarted with an hour of production time for the system phases, so no restock lands during them and the system does the ceiling's work. Two ceilings: the checkout transaction run one purchase per transaction straight on the database (the per-transaction ceiling), and the bare `UPDATE products SET stock = stock - 1 WHERE sku = ? AND stock >= 1`, autocommit, run by 64 clients on a connection each (the hot row's physical limit). Sales combines concurrent checkouts into shared transactions (`CHECKOUT_BATCH_MAX`).\n\n{table}\n\n{notes}\n{rounds_table}\nCheck: {}.",
        args.hot_requests,
        if ok { "in every phase exactly the stock was sold (no oversell), no 5xx" } else { "**FAILED**" }
    ));
    report.failures.extend(failures);
    Ok(())
}

/// One measured hot phase of the ceiling on a fresh `sku`: its stats and its books.
async fn hot_ceiling_phase(
    args: &Args,
    world: &World,
    pool: &Pool,
    sku: &str,
    failures: &mut Vec<String>,
) -> anyhow::Result<(Stats, String)> {
    insert_products(&world.ceiling, &[sku.to_string()], args.hot_stock, 10).await?;
    let limit = Duration::from_secs(args.max_seconds);
    let s = sql_phase(
        pool,
        args.hot_clients,
        args.hot_requests,
        limit,
        Arc::new(vec![sku.to_string()]),
    )
    .await;
    let (initial, _, sold, left) = books(&world.ceiling, sku).await?;
    if sold != s.sold as i64 || initial - sold != left || left < 0 || s.errors() > 0 {
        failures.push(format!(
            "hot ceiling {sku}: sold {sold}, 200s {}, stock {initial}, left {left}, errors {}",
            s.sold,
            s.errors()
        ));
    }
    let line = format!("stock {initial}, sold {sold} (200s: {}), left {left}", s.sold);
    Ok((s, line))
}

/// Clients of the bare-UPDATE ceiling, each on a connection of its own.
const BARE_UPDATE_CLIENTS: usize = 64;

/// One measured hot phase of the bare single-statement UPDATE on a fresh `sku`: the
/// units sold must be exactly the stock's fall (the conditional never oversells).
async fn hot_bare_update_phase(
    args: &Args,
    world: &World,
    pool: &Pool,
    sku: &str,
    failures: &mut Vec<String>,
) -> anyhow::Result<Stats> {
    insert_products(&world.ceiling, &[sku.to_string()], args.hot_stock, 10).await?;
    let limit = Duration::from_secs(args.max_seconds);
    let target = sku.to_string();
    let s = load::closed_loop(
        BARE_UPDATE_CLIENTS,
        args.hot_requests,
        limit,
        || pool.clone(),
        move |pool, _| {
            let sku = target.clone();
            async move {
                let outcome = ceiling::bare_update(&pool, &sku).await;
                (pool, outcome)
            }
        },
    )
    .await;
    let (initial, _, _, left) = books(&world.ceiling, sku).await?;
    if initial - left != s.sold as i64 || left < 0 || s.errors() > 0 {
        failures.push(format!(
            "hot bare UPDATE {sku}: {} decrements answered, stock {initial} → {left}, errors {}",
            s.sold,
            s.errors()
        ));
    }
    Ok(s)
}

/// The sizes of the checkout transactions sales ran (its `warehouse_checkout_batch_size`
/// metric): purchases and transactions so far, and the quantiles since it started.
#[derive(Debug, Default)]
struct BatchSizes {
    purchases: f64,
    transactions: f64,
    quantiles: String,
}

impl BatchSizes {
    async fn scrape(sales: SocketAddr) -> Self {
        let text = HttpClient::new(sales).text("/metrics").await.unwrap_or_default();
        let mut sizes = Self::default();
        let mut quantiles = Vec::new();
        for line in text.lines().filter(|l| l.starts_with("warehouse_checkout_batch_size")) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value.parse().unwrap_or_default();
            match name {
                "warehouse_checkout_batch_size_sum" => sizes.purchases = value,
                "warehouse_checkout_batch_size_count" => sizes.transactions = value,
                _ => {
                    if let Some(q) = name.split("quantile=\"").nth(1).and_then(|q| q.split('"').next()) {
                        quantiles.push(format!(
                            "p{} {value:.0}",
                            (q.parse::<f64>().unwrap_or_default() * 100.0).round()
                        ));
                    }
                }
            }
        }
        sizes.quantiles = quantiles.join(", ");
        sizes
    }

    /// This phase's counts (the quantiles stay those of the whole run so far).
    fn since(self, before: &Self) -> Self {
        Self {
            purchases: self.purchases - before.purchases,
            transactions: self.transactions - before.transactions,
            quantiles: self.quantiles,
        }
    }

    fn describe(&self) -> String {
        format!(
            "{:.0} purchases in {:.0} checkout transactions (mean batch {:.1}; batch sizes over the run so far: {})",
            self.purchases,
            self.transactions,
            self.purchases / self.transactions.max(1.0),
            if self.quantiles.is_empty() {
                "none"
            } else {
                &self.quantiles
            }
        )
    }
}

/// One measured hot phase of the system on a fresh `sku`: its stats and its books
/// (exactly the stock sold: no oversell, every 200 an order; no 5xx).
async fn hot_system_phase(
    args: &Args,
    world: &World,
    sku: &str,
    failures: &mut Vec<String>,
) -> anyhow::Result<(Stats, String)> {
    insert_products(&world.warehouse, &[sku.to_string()], args.hot_stock, 10).await?;
    let limit = Duration::from_secs(args.max_seconds);
    let s = http_phase(
        world.sales,
        args.hot_clients,
        args.hot_requests,
        limit,
        Arc::new(vec![sku.to_string()]),
    )
    .await;
    let (initial, produced, sold, left) = books(&world.warehouse, sku).await?;
    let oversold = (sold - (initial + produced)).max(0);
    if sold != s.sold as i64 || initial + produced - sold != left || left < 0 || s.server_errors > 0 {
        failures.push(format!(
            "hot {sku}: 200s {}, orders {sold}, stock {initial} + produced {produced}, left {left}, 5xx {}",
            s.sold, s.server_errors
        ));
    }
    let line = format!(
        "stock {initial} + restocked during the sale {produced}; sold {sold} (200s: {}); left {left}; oversold {oversold}; 5xx {}",
        s.sold, s.server_errors
    );
    Ok((s, line))
}

async fn restock(args: &Args, world: &World, report: &mut Report, hop_prefix: &str) -> anyhow::Result<()> {
    let n = args.restock_count;
    let rate = args.restock_rate;
    let skus: Vec<String> = (0..n).map(|i| format!("BRS-{i:05}")).collect();
    insert_products(&world.warehouse, &skus, 0, RESTOCK_REORDER).await?;
    progress(format!(
        "restock: {n} out-of-stock purchases on distinct skus at {rate}/s (factory production time 0)"
    ));
    let every = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let t_start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, sku) in skus.iter().enumerate() {
        let (mut client, sku) = (HttpClient::new(world.sales), sku.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(t_start + every * i as u32).await;
            let (outcome, body) = client.checkout(&sku, 1).await;
            let answered = Utc::now();
            let id = body
                .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                .and_then(|v| v["restock_request_id"].as_str().map(str::to_string));
            (outcome, id, answered)
        }));
    }
    let mut answers = BTreeMap::new();
    let mut not_409 = 0;
    for t in futures::future::join_all(tasks).await {
        match t? {
            (load::Outcome::OutOfStock, Some(id), at) => {
                answers.insert(id, at);
            }
            _ => not_409 += 1,
        }
    }
    // Wait until every request is fulfilled (stock back), or 60 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let open = reports::books(&world.warehouse, "BRS-%").await?.open_restocks;
        if open == 0 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows = reports::restock_timelines(&world.warehouse, "BRS-%").await?;
    let ms = |a: NaiveDateTime, b: NaiveDateTime| (b - a).num_microseconds().unwrap_or_default() as f64 / 1000.0;
    let mut stages: [Vec<f64>; 6] = Default::default();
    let mut unfinished = 0;
    for row in &rows {
        let requested = &row.requested_at;
        let (Some(p), Some(o), Some(d), Some(f), Some(answered)) = (
            &row.published_at,
            &row.ordered_at,
            &row.produced_at,
            &row.fulfilled_at,
            answers.get(&row.id),
        ) else {
            unfinished += 1;
            continue;
        };
        let answered = answered.naive_utc();
        stages[0].push(ms(*requested, answered));
        stages[1].push(ms(*requested, *p));
        stages[2].push(ms(*p, *o));
        stages[3].push(ms(*o, *d));
        stages[4].push(ms(*d, *f));
        stages[5].push(ms(answered, *f));
    }
    let stock_back = reports::count_at_stock(&world.warehouse, "BRS-%", 10).await?;

    // The floor: the bare hops through a private topology, same count and rate.
    progress(format!(
        "restock floor: bare SNS → SQS → SNS → SQS hops (prefix {hop_prefix}), {n} chains at {rate}/s"
    ));
    let (sns, sqs, topology) = ceiling::Topology::discover(&args.aws_endpoint, hop_prefix).await?;
    let plan = ceiling::HopPlan {
        chains: n,
        pace: ceiling::Pace::Rate(rate),
        in_flight: ConsumerSettings::default().max_in_flight,
        wait_seconds: 20,
        deadline: Duration::from_secs(30),
    };
    let hops = ceiling::hops(sns, sqs, topology, plan).await?;
    let mut h1: Vec<f64> = hops.chains.iter().map(|c| c.first_receive).collect();
    let mut h2: Vec<f64> = hops.chains.iter().map(|c| c.second_publish - c.first_receive).collect();
    let mut h3: Vec<f64> = hops
        .chains
        .iter()
        .map(|c| c.second_receive - c.second_publish)
        .collect();
    let mut hall: Vec<f64> = hops.chains.iter().map(|c| c.second_receive).collect();
    let floor = ceiling::hop_quantiles(&mut hall);

    let names = [
        "requested → 409 answer (commit + HTTP)",
        "requested → published (outbox relay: SNS publish of stock_empty)",
        "published → ordered (SNS → stock_queue → stock-worker → factory order)",
        "ordered → produced (factory production line, production time 0)",
        "produced → fulfilled (factory outbox → SNS → stock_inc_queue → stock-inc-worker tx)",
        "**409 answer → stock back (fulfilled_at), end to end**",
    ];
    let mut table = String::from("| stage | p50 ms | p95 ms | max ms |\n|---|---|---|---|\n");
    let mut e2e = (0.0, 0.0, 0.0);
    for (i, name) in names.iter().enumerate() {
        let q = ceiling::hop_quantiles(&mut stages[i]);
        if i == 5 {
            e2e = q;
        }
        let _ = writeln!(table, "| {name} | {:.1} | {:.1} | {:.1} |", q.0, q.1, q.2);
    }
    let mut floor_table = String::from("| bare hop | p50 ms | p95 ms | max ms |\n|---|---|---|---|\n");
    for (name, v) in [
        ("SNS publish → SQS receive (stock_empty → stock_queue)", &mut h1),
        ("SNS publish (stock_arrival), after receive", &mut h2),
        ("→ SQS receive (stock_inc_queue)", &mut h3),
    ] {
        let q = ceiling::hop_quantiles(v);
        let _ = writeln!(floor_table, "| {name} | {:.1} | {:.1} | {:.1} |", q.0, q.1, q.2);
    }
    let _ = writeln!(
        floor_table,
        "| **all four hops, end to end** | {:.1} | {:.1} | {:.1} |",
        floor.0, floor.1, floor.2
    );
    let ok = not_409 == 0 && unfinished == 0 && stock_back == n as i64 && hops.lost == 0;
    if !ok {
        report.failures.push(format!(
            "restock: {not_409} purchases not answered 409, {unfinished} requests not fulfilled within 60 s, {stock_back}/{n} skus back in stock, {} bare-hop chains lost",
            hops.lost
        ));
    }
    let ratio = e2e.0 / floor.0.max(1e-9);
    report.rows.push([
        format!("restock ({n} skus at {rate}/s)"),
        format!("median {:.0} ms (p95 {:.0})", e2e.0, e2e.1),
        format!("median {:.0} ms (p95 {:.0}), bare hops", floor.0, floor.1),
        format!("{ratio:.2}× median"),
        "median ≤ 2× bare-hop floor".into(),
        report::verdict(ratio <= 2.0),
    ]);
    report.sections.push(format!(
        "## restock\n\n{n} out-of-stock purchases on distinct skus, {rate} per second; factory production time 0. Stages from the restock request's timestamps (`requested_at`, the outbox row's `published_at`, `ordered_at`, `produced_at`, `fulfilled_at`) and the client's clock at the 409 answer (one machine, one clock).\n\n{table}\nFloor: the same count and rate of bare chains through a private topology (one long-polling receive loop per queue, 20 s wait, as the workers):\n\n{floor_table}\nCheck: {} answered 409, {} of {n} fulfilled, {stock_back} skus back in stock; {} bare chains lost: {}.",
        answers.len(),
        n - unfinished,
        hops.lost,
        if ok { "all restocked" } else { "**FAILED**" }
    ));
    Ok(())
}

/// A knob: its name, extra sales environment, and a global innodb_flush_log_at_trx_commit.
type Knob = (&'static str, Vec<(String, String)>, Option<u8>);

/// Knobs: sales restarted under each setting, short spread and hot phases each.
async fn sweep(args: &Args, world: &mut World, report: &mut Report) -> anyhow::Result<()> {
    let limit = Duration::from_secs(args.max_seconds);
    let knobs: Vec<Knob> = vec![
        (
            "defaults (CHECKOUT_BATCH_MAX=64, CHECKOUT_LANES=4, DB_POOL_MAX=16, SALES_WORKERS=1, RUST_LOG=info)",
            vec![],
            None,
        ),
        (
            "CHECKOUT_BATCH_MAX=1 (one transaction per purchase)",
            vec![("CHECKOUT_BATCH_MAX".into(), "1".into())],
            None,
        ),
        (
            "CHECKOUT_BATCH_MAX=8",
            vec![("CHECKOUT_BATCH_MAX".into(), "8".into())],
            None,
        ),
        (
            "CHECKOUT_BATCH_MAX=256",
            vec![("CHECKOUT_BATCH_MAX".into(), "256".into())],
            None,
        ),
        ("CHECKOUT_LANES=1", vec![("CHECKOUT_LANES".into(), "1".into())], None),
        ("CHECKOUT_LANES=16", vec![("CHECKOUT_LANES".into(), "16".into())], None),
        ("DB_POOL_MAX=4", vec![("DB_POOL_MAX".into(), "4".into())], None),
        ("DB_POOL_MAX=64", vec![("DB_POOL_MAX".into(), "64".into())], None),
        (
            "SALES_WORKERS=0 (one per core)",
            vec![("SALES_WORKERS".into(), "0".into())],
            None,
        ),
        (
            "RUST_LOG=warn (no info lines; a sale logs at debug anyway)",
            vec![("RUST_LOG".into(), "warn".into())],
            None,
        ),
        (
            "innodb_flush_log_at_trx_commit=2 (global, restored after)",
            vec![],
            Some(2),
        ),
    ];
    let skus: Arc<Vec<String>> = Arc::new((0..args.spread_skus).map(|i| format!("BSP-{i:05}")).collect());
    let mut table = String::from(
        "| knob | spread /s | spread p99 ms | hot /s | hot p99 ms | hot 5xx |\n|---|---|---|---|---|---|\n",
    );
    let original_flush: Option<u8> = {
        let mut conn = world.admin.get_conn().await?;
        conn.query_first("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit")
            .await?
    };
    for (k, (name, env, flush)) in knobs.into_iter().enumerate() {
        progress(format!("sweep: {name}"));
        world.services.restart("sales", &env).await?;
        if let Some(v) = flush {
            let mut conn = world.admin.get_conn().await?;
            conn.query_drop(format!("SET GLOBAL innodb_flush_log_at_trx_commit = {v}"))
                .await?;
        }
        let world = &*world;
        let result = async {
            http_phase(world.sales, args.spread_clients, args.warmup, limit, skus.clone()).await;
            let spread = http_phase(
                world.sales,
                args.spread_clients,
                args.sweep_requests,
                limit,
                skus.clone(),
            )
            .await;
            let sku = format!("BHOTK-{k}");
            insert_products(
                &world.warehouse,
                std::slice::from_ref(&sku),
                args.sweep_requests as i64 / 4,
                10,
            )
            .await?;
            let hot = http_phase(
                world.sales,
                args.hot_clients,
                args.sweep_requests,
                limit,
                Arc::new(vec![sku]),
            )
            .await;
            anyhow::Ok((spread, hot))
        }
        .await;
        if flush.is_some()
            && let Some(orig) = original_flush
        {
            let mut conn = world.admin.get_conn().await?;
            conn.query_drop(format!("SET GLOBAL innodb_flush_log_at_trx_commit = {orig}"))
                .await?;
            progress(format!("sweep: innodb_flush_log_at_trx_commit restored to {orig}"));
        }
        let (spread, hot) = result?;
        progress(format!(
            "sweep {name}: spread {} | hot {}",
            spread.summary(),
            hot.summary()
        ));
        let _ = writeln!(
            table,
            "| {name} | {:.0} | {:.1} | {:.0} | {:.1} | {} |",
            spread.throughput(),
            spread.ms(0.99),
            hot.throughput(),
            hot.ms(0.99),
            hot.server_errors
        );
    }
    world.services.restart("sales", &[]).await?;
    report.sections.push(format!(
        "## Knobs\n\nSales restarted under each setting; {} spread requests ({} clients) and {} hot requests ({} clients, stock a quarter of that) each, after {} warm-up requests. Same machine, same moment, so compare rows with each other.\n\n{table}",
        args.sweep_requests, args.spread_clients, args.sweep_requests, args.hot_clients, args.warmup
    ));
    Ok(())
}
