//! MySQL connection pools and schema migrations.
//!
//! A service names the server (`MYSQL_URL`) and its database separately; the
//! database is created when missing and migrated at start, under a named lock so
//! that replicas starting together never race each other.

use std::time::Duration;

use anyhow::Context;
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};

use crate::config::DatabaseSettings;

/// How long a pooled connection may sit idle before it is closed (down to one per pool).
const IDLE_CONNECTION_TTL: Duration = Duration::from_secs(60);
/// Prepared statements kept per connection (mysql_async's default is 32). A combined
/// checkout's statements come in about a hundred shapes (its `IN` lists rounded to powers
/// of two, one `INSERT` per batch size); mind the server's `max_prepared_stmt_count`
/// (16,382 by default) across connections and replicas (docs/scaling.md).
const STATEMENT_CACHE: usize = 128;

/// Opens a pool on `database`, creating the database first if it does not exist.
pub async fn connect(settings: &DatabaseSettings, database: &str) -> anyhow::Result<Pool> {
    create_database(settings, database).await?;
    Ok(Pool::new(pool_opts(
        database_opts(settings, database)?,
        settings.db_pool_max,
    )?))
}

/// One pool per HTTP worker thread, each opened on the thread that uses it.
///
/// actix-web runs every worker on a single-threaded runtime of its own, and a
/// mysql_async connection (its socket, and the pool's recycler that takes it back) is
/// driven by the runtime that created it. A pool shared by all workers therefore makes
/// most round trips hop between threads; a pool per worker keeps each connection on its
/// thread. `DB_POOL_MAX` is split among the workers (rounded up).
#[derive(Clone)]
pub struct WorkerPools {
    opts: Opts,
}

impl WorkerPools {
    /// Pools on `database` (which must exist: [`connect`] it first) for `workers` threads.
    pub fn new(settings: &DatabaseSettings, database: &str, workers: usize) -> anyhow::Result<Self> {
        let opts = database_opts(settings, database)?;
        let per_worker = settings.db_pool_max.max(1).div_ceil(workers.max(1));
        Ok(Self {
            opts: pool_opts(opts, per_worker)?,
        })
    }

    /// The calling worker's pool: call it from the `HttpServer::new` app factory.
    pub fn open(&self) -> Pool {
        Pool::new(self.opts.clone())
    }
}

/// The server's options (`MYSQL_URL`) with `database` selected.
fn database_opts(settings: &DatabaseSettings, database: &str) -> anyhow::Result<Opts> {
    Ok(OptsBuilder::from_opts(server_opts(settings)?)
        .db_name(Some(database))
        .into())
}

fn server_opts(settings: &DatabaseSettings) -> anyhow::Result<Opts> {
    Opts::from_url(&settings.mysql_url)
        .with_context(|| format!("MYSQL_URL is not a valid mysql:// URL: {}", settings.mysql_url))
}

/// Creates `database` when it does not exist.
async fn create_database(settings: &DatabaseSettings, database: &str) -> anyhow::Result<()> {
    validate_identifier(database)?;
    let server = server_opts(settings)?;

    let mut admin = mysql_async::Conn::new(OptsBuilder::from_opts(server.clone()).db_name(None::<String>))
        .await
        .with_context(|| {
            format!(
                "cannot connect to MySQL at {} (is the server running? set MYSQL_URL)",
                redact(&settings.mysql_url)
            )
        })?;
    admin
        .query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await
        .with_context(|| format!("cannot create database `{database}`"))?;
    admin.disconnect().await.ok();
    Ok(())
}

/// The options of every stockflow pool of at most `max` connections on `database`.
pub fn pool_opts(database: Opts, max: usize) -> anyhow::Result<Opts> {
    let constraints = PoolConstraints::new(1, max.max(1)).context("DB_POOL_MAX must be at least 1")?;
    Ok(OptsBuilder::from_opts(database)
        .pool_opts(
            PoolOpts::default()
                .with_constraints(constraints)
                // Keep up to `max` idle connections, closing those idle for a minute down
                // to one. (Without a time to live mysql_async keeps only `min` idle: every
                // other connection would be closed when it comes back, and each checkout
                // would pay a new connection, its init statements and its prepares.)
                .with_inactive_connection_ttl(IDLE_CONNECTION_TTL)
                // No COM_RESET_CONNECTION on return to the pool: prepared statements stay
                // cached. Open transactions are still rolled back when a connection comes back.
                .with_reset_connection(false),
        )
        // Room for the few shapes of statements a combined checkout prepares (warehouse::checkout).
        .stmt_cache_size(STATEMENT_CACHE)
        .init(vec![
            "SET SESSION time_zone = '+00:00'",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        ])
        .into())
}

/// A migration edited on purpose after databases had applied it, in a way that changes
/// none of them (a table it created moved to a migration of its own that creates it only
/// if missing): its checksum before the edit.
#[derive(Debug, Clone, Copy)]
pub struct Edited {
    pub version: i32,
    pub checksum_before: u64,
}

/// Applies `runner`'s migrations through `pool`, holding a server-wide named lock
/// meanwhile on a connection of its own (so that a pool of one connection suffices).
///
/// First each of `edited` is accepted: where a database recorded the migration with its
/// checksum from before the edit, the record gets the new text's checksum, so refinery
/// does not refuse it as divergent. Any other recorded checksum is left as it is, and
/// refused as it should be.
pub async fn migrate(
    settings: &DatabaseSettings,
    pool: &Pool,
    database: &str,
    runner: refinery::Runner,
    edited: &[Edited],
) -> anyhow::Result<()> {
    let mut lock_conn = mysql_async::Conn::new(database_opts(settings, database)?)
        .await
        .context("cannot open a connection to migrate")?;
    let lock = format!("stockflow_migrate_{database}");
    let acquired: Option<i64> = lock_conn
        .exec_first("SELECT GET_LOCK(?, 60)", (&lock,))
        .await
        .context("cannot take the migration lock")?;
    anyhow::ensure!(
        acquired == Some(1),
        "another process held the migration lock of `{database}` for 60 s"
    );
    let result = async {
        accept_edited(pool, &runner, edited).await?;
        runner.run_async(&mut pool.clone()).await.map_err(anyhow::Error::from)
    }
    .await
    .with_context(|| format!("migrating database `{database}` failed"));
    lock_conn.exec_drop("SELECT RELEASE_LOCK(?)", (&lock,)).await.ok();
    lock_conn.disconnect().await.ok();
    result.map(|report| {
        for migration in report.applied_migrations() {
            tracing::info!(database, migration = %migration, "migration applied");
        }
    })
}

/// The history of the services' own migrations (refinery's default name).
const HISTORY_TABLE: &str = "refinery_schema_history";

async fn accept_edited(pool: &Pool, runner: &refinery::Runner, edited: &[Edited]) -> anyhow::Result<()> {
    let mut conn = pool.get_conn().await?;
    for edit in edited {
        let migration = runner
            .get_migrations()
            .iter()
            .find(|m| m.version() == edit.version)
            .with_context(|| format!("edited migration V{} is not among the migrations", edit.version))?;
        let accepted = conn
            .exec_drop(
                format!("UPDATE {HISTORY_TABLE} SET checksum = ? WHERE version = ? AND checksum = ?"),
                (
                    migration.checksum().to_string(),
                    edit.version,
                    edit.checksum_before.to_string(),
                ),
            )
            .await;
        match accepted {
            Err(mysql_async::Error::Server(err)) if err.code == code::NO_SUCH_TABLE => return Ok(()), // a new database
            other => other.with_context(|| format!("cannot accept the edit of migration V{}", edit.version))?,
        }
    }
    Ok(())
}

/// Options of every stockflow transaction. Every connection runs at READ COMMITTED
/// (set once per connection by the pool's init statements in [`pool_opts`], which every
/// pool here is built from, so no statement is added per transaction): correctness rests on row locks (the conditional update, `FOR UPDATE`
/// on the product row, unique keys), never on gap locks, whose insert-intention
/// conflicts deadlock concurrent shortages of different skus under REPEATABLE READ.
pub fn tx_opts() -> mysql_async::TxOpts {
    mysql_async::TxOpts::default()
}

/// MySQL's error codes that stockflow acts on, named once.
pub mod code {
    /// `ER_NO_SUCH_TABLE`.
    pub const NO_SUCH_TABLE: u16 = 1146;
    /// `ER_DUP_ENTRY`: an insert hit a primary or unique key.
    pub const DUPLICATE_KEY: u16 = 1062;
    /// `ER_LOCK_WAIT_TIMEOUT`.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// `ER_LOCK_DEADLOCK`.
    pub const DEADLOCK: u16 = 1213;
}

/// Deadlocks and lock wait timeouts succeed when tried again.
pub fn is_retryable(err: &mysql_async::Error) -> bool {
    matches!(err, mysql_async::Error::Server(server) if server.code == code::DEADLOCK || server.code == code::LOCK_WAIT_TIMEOUT)
}

/// An insert hit a primary or unique key: the row exists already.
pub fn is_duplicate_key(err: &mysql_async::Error) -> bool {
    matches!(err, mysql_async::Error::Server(server) if server.code == code::DUPLICATE_KEY)
}

/// Answers whether the database takes a query now (for `/ready`).
pub async fn ping(pool: &Pool) -> anyhow::Result<()> {
    crate::health::within("the database", async {
        let mut conn = pool.get_conn().await?;
        conn.ping().await?;
        Ok(())
    })
    .await
}

fn validate_identifier(name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    anyhow::ensure!(
        valid,
        "database name `{name}` must be 1-64 characters of A-Z, a-z, 0-9 and _"
    );
    Ok(())
}

/// The URL with any password replaced, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("mysql://root:secret@db:3306"), "mysql://root:***@db:3306");
        assert_eq!(redact("mysql://root@db:3306"), "mysql://root@db:3306");
    }

    #[test]
    fn database_names_are_plain_identifiers() {
        assert!(validate_identifier("stockflow_test_1").is_ok());
        assert!(validate_identifier("x`; DROP DATABASE y").is_err());
        assert!(validate_identifier("").is_err());
    }
}
