//! `stockflow-bench`: the services under load, side by side with their ceilings.
//!
//! One run deploys a private copy of the topology (unique prefix), creates private
//! databases, starts the four release binaries as processes, and runs:
//! - spread: quantity-1 purchases over many skus with ample stock;
//! - hot: a flash sale on one sku, demand above stock;
//! - against-read: hot and spread checkouts next to `GET /products/{sku}`, same clients;
//! - restock: out-of-stock purchases on distinct skus, 409 → stock back, per stage;
//! - listing: one catalogue page as the catalogue grows from 1,000 to 100,000 products;
//! - burst: many skus out of stock at once, until every one is restocked exactly once;
//!
//! each next to its ceiling measured in the same run (the checkout transaction straight
//! against the database; the bare SNS/SQS hops). It writes a Markdown report.

mod bare;
mod ceiling;
mod load;
mod report;
mod scenarios;
mod system;

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug, Clone)]
#[command(about = "Load tool: stockflow under load next to its ceilings (direct SQL, bare SNS/SQS hops)")]
pub struct Args {
    /// Directory holding the release binaries sales, factory, stock-worker, stock-inc-worker.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Where the Markdown report goes (run logs go next to it).
    #[arg(long, default_value = "target/bench/report.md")]
    pub out: PathBuf,
    /// MySQL/MariaDB server (no database name).
    #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306")]
    pub mysql_url: String,
    /// LocalStack endpoint.
    #[arg(long, env = "AWS_ENDPOINT_URL", default_value = "http://127.0.0.1:4566")]
    pub aws_endpoint: String,
    /// Scenarios to run, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "spread,hot,against-read,restock,listing,burst"
    )]
    pub scenarios: Vec<String>,
    /// Fixed time limit of each measured phase, seconds (the request budget usually ends it first).
    #[arg(long, default_value_t = 20)]
    pub max_seconds: u64,
    /// spread: concurrent clients, requests, skus.
    #[arg(long, default_value_t = 64)]
    pub spread_clients: usize,
    #[arg(long, default_value_t = 60_000)]
    pub spread_requests: u64,
    #[arg(long, default_value_t = 1000)]
    pub spread_skus: usize,
    /// hot: concurrent clients, requests, stock of the one sku (smaller than the demand).
    #[arg(long, default_value_t = 256)]
    pub hot_clients: usize,
    #[arg(long, default_value_t = 20_000)]
    pub hot_requests: u64,
    #[arg(long, default_value_t = 5_000)]
    pub hot_stock: i64,
    /// against-read: the client counts at which the read, a hot and a spread checkout are
    /// measured side by side, and the requests of each phase.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    pub read_clients: Vec<usize>,
    #[arg(long, default_value_t = 30_000)]
    pub read_requests: u64,
    /// restock: out-of-stock purchases (distinct skus) and their rate per second.
    #[arg(long, default_value_t = 100)]
    pub restock_count: usize,
    #[arg(long, default_value_t = 10.0)]
    pub restock_rate: f64,
    /// listing: catalogue sizes (products in the warehouse) at which one page is measured;
    /// the verdict is the ratio of the largest to the smallest.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub listing_sizes: Vec<usize>,
    /// listing: products per page (`limit`), concurrent clients, page requests per size.
    #[arg(long, default_value_t = 100)]
    pub listing_limit: u32,
    #[arg(long, default_value_t = 16)]
    pub listing_clients: usize,
    #[arg(long, default_value_t = 10_000)]
    pub listing_requests: u64,
    /// burst: skus that run out at once, and the clients buying them.
    #[arg(long, default_value_t = 1000)]
    pub burst_skus: usize,
    #[arg(long, default_value_t = 64)]
    pub burst_clients: usize,
    /// burst: the workers' WORKER_CONCURRENCY for each burst (both workers restarted with
    /// it; the floor uses the same); one burst and one floor per value.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pub burst_concurrency: Vec<usize>,
    /// burst: longest wait for the last restock (and the floor's last chain), seconds.
    #[arg(long, default_value_t = 300)]
    pub burst_deadline_seconds: u64,
    /// Connection pool sizes of the direct-SQL ceiling (capped by the server's max_connections).
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub ceiling_pools: Vec<usize>,
    /// spread and hot: rounds of phases back to back (the ceiling at its best pool, the
    /// system, and for spread the bare service; reversed in even rounds) run after the
    /// first; the verdict takes the median ratio of all rounds, so that a drift of the
    /// machine's speed does not decide it.
    #[arg(long, default_value_t = 3)]
    pub extra_rounds: usize,
    /// Unmeasured requests before each measured phase (connections, caches, JIT of nothing).
    #[arg(long, default_value_t = 1000)]
    pub warmup: u64,
    /// Extra environment for every service, KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_kv)]
    pub env: Vec<(String, String)>,
    /// After the scenarios, re-run short spread and hot phases and two rounds of the
    /// against-read trio with sales restarted under each knob (CHECKOUT_BATCH_MAX,
    /// CHECKOUT_LANES, DB_POOL_MAX, SALES_WORKERS, RUST_LOG) and with
    /// innodb_flush_log_at_trx_commit=2 (set globally for the phases, then restored).
    #[arg(long)]
    pub sweep: bool,
    /// Requests per sweep phase.
    #[arg(long, default_value_t = 15_000)]
    pub sweep_requests: u64,
    /// Keep the databases and the stacks afterwards (for a look inside).
    #[arg(long)]
    pub keep: bool,
    /// Internal: run as the bare service (see bare.rs) on this port, instead of the bench.
    #[arg(long, hide = true, requires = "bare_service_db")]
    pub bare_service_port: Option<u16>,
    /// Internal: the bare service's database.
    #[arg(long, hide = true)]
    pub bare_service_db: Option<String>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

pub fn progress(message: impl std::fmt::Display) {
    eprintln!("[bench {}] {message}", chrono::Utc::now().format("%H:%M:%S"));
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let (Some(port), Some(database)) = (args.bare_service_port, &args.bare_service_db) {
        // One thread, as sales with its default SALES_WORKERS=1.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        return runtime.block_on(bare::serve(&args.mysql_url, database, port));
    }
    tokio::runtime::Runtime::new()?.block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = scenarios::run(&args).await?;
    let text = report.markdown();
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &text)?;
    println!("{text}");
    progress(format!(
        "report written to {} ({:.0} s)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    ));
    if !report.failures.is_empty() {
        // Correctness failures make the run fail; missed performance targets do not.
        std::process::exit(1);
    }
    Ok(())
}
