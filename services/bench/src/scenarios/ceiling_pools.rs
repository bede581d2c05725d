//! The direct-SQL ceiling's connection pools: which sizes a run measures (the first also
//! with connections reset on return), opening one exactly that full on the ceiling
//! database, and picking the pool the ceiling did best on.

use mysql_async::Pool;

use super::World;
use crate::Args;
use crate::load::Stats;

/// How the direct-SQL ceiling connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CeilingPool {
    pub size: usize,
    /// `COM_RESET_CONNECTION` when a connection returns to the pool (mysql_async's
    /// default; the services turn it off): it also empties the prepared-statement cache.
    pub reset: bool,
}

impl CeilingPool {
    pub fn label(&self) -> String {
        if self.reset {
            format!("{} (reset on return)", self.size)
        } else {
            format!("{} (no reset: statements stay cached, as the services)", self.size)
        }
    }

    /// A short name for skus of this pool's phases.
    pub fn tag(&self) -> String {
        format!("{}{}", self.size, if self.reset { "R" } else { "" })
    }

    /// The summary's ceiling cell: the ceiling's phase on this pool.
    pub fn summary(&self, stats: &Stats) -> String {
        format!(
            "{:.0}/s, p99 {:.1} ms [pool {}]",
            stats.throughput(),
            stats.ms(0.99),
            self.label()
        )
    }

    /// The latency table's row of the ceiling's phase on this pool.
    pub fn stats_row(&self, stats: &Stats) -> String {
        crate::report::stats_row("ceiling: direct SQL", &self.label(), stats)
    }

    /// The notes' line of the ceiling's phase on this pool: what it found (if anything)
    /// and the CPU it took.
    pub fn note(&self, found: Option<&str>, cpu: &str) -> String {
        let found = found.map(|f| format!("{f}; ")).unwrap_or_default();
        format!("- ceiling, pool {}: {found}CPU in cores: {cpu}", self.label())
    }

    /// A pool of exactly `size` connections on the ceiling database, opened before
    /// measuring, with the services' pool options (`stockflow_kit::db::pool_opts`).
    pub async fn open(&self, world: &World) -> anyhow::Result<Pool> {
        let server = mysql_async::Opts::from_url(&world.database.mysql_url)?;
        let database = mysql_async::OptsBuilder::from_opts(server).db_name(Some(&world.ceiling_db));
        let services = stockflow_kit::db::pool_opts(database.into(), self.size)?;
        let pool_opts = services.pool_opts().clone().with_reset_connection(self.reset);
        let pool = Pool::new(mysql_async::OptsBuilder::from_opts(services).pool_opts(pool_opts));
        let conns = futures::future::join_all((0..self.size).map(|_| pool.get_conn())).await;
        drop(conns);
        Ok(pool)
    }
}

/// The pools a run measures (`--ceiling-pools`, each capped 40 below the server's
/// `max_connections`): the first size also with the services' pool options but reset on
/// return (which empties the statement cache), then every size with statements cached.
pub(super) fn ceiling_pools(args: &Args, max_connections: usize) -> Vec<CeilingPool> {
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
    pools
}

/// The run of `runs` with the highest throughput (the first of equals).
pub(super) fn fastest<T>(runs: &[T], stats: impl Fn(&T) -> &Stats) -> Option<&T> {
    let mut best: Option<&T> = None;
    for run in runs {
        if best.is_none_or(|b| stats(run).throughput() > stats(b).throughput()) {
            best = Some(run);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_tags_tell_reset_pools_apart() {
        let reset = CeilingPool { size: 16, reset: true };
        let cached = CeilingPool { size: 64, reset: false };
        assert_eq!(reset.label(), "16 (reset on return)");
        assert_eq!(reset.tag(), "16R");
        assert_eq!(cached.label(), "64 (no reset: statements stay cached, as the services)");
        assert_eq!(cached.tag(), "64");
    }
}
