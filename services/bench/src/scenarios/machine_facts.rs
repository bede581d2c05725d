//! The report's opening facts about the machine and the run: cores, CPU model and RAM,
//! the database server's version and durability settings, the run id and phase budget,
//! the load average when the run began.

use mysql_async::Pool;
use mysql_async::prelude::Queryable;

use crate::Args;
use crate::report::Report;

/// The variables of the server that decide what a commit costs.
const SERVER_VARIABLES: &str = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin', \
     'innodb_buffer_pool_size', 'max_connections', 'thread_handling', 'innodb_flush_method', 'tx_isolation', \
     'transaction_isolation')";

/// Pushes the facts; `load`: the load average when the run began.
pub(super) async fn push(report: &mut Report, admin: &Pool, args: &Args, id: &str, load: &str) -> anyhow::Result<()> {
    report.facts.push(machine());
    report.facts.push(database(admin).await?);
    report.facts.push(format!(
        "run id {id}; each measured phase: a request budget (spread {} requests, hot {}) or {} s, whichever ends first, after {} unmeasured warm-up requests",
        args.spread_requests, args.hot_requests, args.max_seconds, args.warmup
    ));
    report
        .facts
        .push(format!("load average (1/5/15 min) when the run began: {load}"));
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or_default();
    format!(
        "machine: {cores} cores ({model}), {:.1} GiB RAM; load generator, services, MariaDB and LocalStack share these cores",
        mem_kib as f64 / 1024.0 / 1024.0
    )
}

async fn database(admin: &Pool) -> anyhow::Result<String> {
    let mut conn = admin.get_conn().await?;
    let version: Option<String> = conn.query_first("SELECT VERSION()").await?;
    let variables: Vec<(String, String)> = conn.query(SERVER_VARIABLES).await?;
    Ok(format!(
        "database: {} ({})",
        version.unwrap_or_default(),
        variables
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
