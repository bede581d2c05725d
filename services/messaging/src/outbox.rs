//! The transactional outbox: an event is written to the `outbox` table in the same
//! transaction as the state change it announces, and published to SNS after commit.
//!
//! Two paths publish, so an event is delayed at worst, never lost:
//! - the fast path: right after its commit the caller hands the event to
//!   [`Outbox::publish_committed`], which publishes it in the background and marks the
//!   row (no extra transaction on the critical path);
//! - the sweeper ([`Relay`]): every `OUTBOX_SWEEP_MS` it claims rows still unpublished
//!   after a grace period (the fast path failed: SNS down, a crash after commit) with
//!   `FOR UPDATE SKIP LOCKED`, publishes them in batches and marks them together.
//!
//! Rare duplicates (a crash between publish and mark, a fast path slower than the grace
//! period) are harmless: every consumer is idempotent.
//!
//! Counted by path (`path="fast"|"sweep"`): `outbox_published_total` and
//! `outbox_publish_failures_total`; `outbox_sweep_claimed_total` counts the rows the
//! sweeper claimed (claims and publishes are also logged, so a replica's share shows in its
//! log when replicas share a port).
//!
//! The outbox owns its table: [`migrate`] applies `services/messaging/migrations` in every
//! database whose service writes events, with a history table of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Transaction};
use stockflow_kit::periodic::{Pace, Periodic};
use tokio_util::sync::CancellationToken;

use crate::publisher::{BatchEntry, Publisher};
use stockflow_contracts::events::Event;
use stockflow_kit::config::DatabaseSettings;
use stockflow_kit::db;
use stockflow_kit::health::Readiness;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The outbox's migration history, apart from the owning service's (`refinery_schema_history`).
pub const HISTORY_TABLE: &str = "outbox_schema_history";

/// How many rows one sweep claims.
const BATCH: usize = 50;
/// Rows younger than this are left to the fast path.
const FAST_PATH_GRACE: Duration = Duration::from_secs(2);
/// Published rows older than this are pruned...
const KEEP_PUBLISHED_DAYS: u32 = 7;
/// ...when the sweeper starts, then this often.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Creates (or updates) the outbox table in `database`; run it after the service's own migrations.
pub async fn migrate(settings: &DatabaseSettings, pool: &Pool, database: &str) -> anyhow::Result<()> {
    let mut runner = embedded::migrations::runner();
    runner.set_migration_table_name(HISTORY_TABLE);
    db::migrate(settings, pool, database, runner, &[]).await
}

/// An event written in a transaction; publish it once that transaction committed.
#[derive(Debug, Clone)]
pub struct Enqueued {
    id: u64,
    topic: &'static str,
    event_type: &'static str,
    correlation_id: String,
    payload: String,
}

/// Writes `event` to the outbox inside the caller's transaction.
pub async fn enqueue<E: Event>(
    tx: &mut Transaction<'_>,
    event: &E,
    aggregate_id: &str,
    correlation_id: &str,
) -> anyhow::Result<Enqueued> {
    let payload = serde_json::to_string(event)?;
    tx.exec_drop(
        "INSERT INTO outbox (topic, event_type, aggregate_id, correlation_id, payload) VALUES (?, ?, ?, ?, ?)",
        (E::TOPIC, E::TYPE, aggregate_id, correlation_id, &payload),
    )
    .await?;
    Ok(Enqueued {
        id: tx.last_insert_id().unwrap_or_default(),
        topic: E::TOPIC,
        event_type: E::TYPE,
        correlation_id: correlation_id.to_string(),
        payload,
    })
}

/// The fast path: publishes committed events in the background.
#[derive(Clone)]
pub struct Outbox {
    pool: Pool,
    publisher: Publisher,
}

impl Outbox {
    pub fn new(pool: Pool, publisher: Publisher) -> Self {
        Self { pool, publisher }
    }

    /// Publishes and marks events whose transaction has committed. A failure is
    /// logged and left to the sweeper.
    pub fn publish_committed(&self, events: Vec<Enqueued>) {
        if events.is_empty() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            for event in events {
                if let Err(err) = this.publish_one(&event).await {
                    tracing::warn!(error = %format!("{err:#}"), outbox_id = event.id, "publishing after commit failed; the outbox sweeper will retry");
                }
            }
        });
    }

    async fn publish_one(&self, event: &Enqueued) -> anyhow::Result<()> {
        let published = self
            .publisher
            .publish_raw(
                event.topic,
                event.event_type,
                &event.correlation_id,
                event.payload.clone(),
            )
            .await;
        if published.is_err() {
            metrics::counter!("outbox_publish_failures_total", "topic" => event.topic, "path" => "fast").increment(1);
        }
        published?;
        metrics::counter!("outbox_published_total", "topic" => event.topic, "path" => "fast").increment(1);
        let mut conn = self.pool.get_conn().await?;
        conn.exec_drop(
            "UPDATE outbox SET published_at = CURRENT_TIMESTAMP(6), attempts = attempts + 1 \
             WHERE id = ? AND published_at IS NULL",
            (event.id,),
        )
        .await?;
        Ok(())
    }
}

/// The sweeper: publishes what the fast path left, until shut down.
pub struct Relay {
    pool: Pool,
    publisher: Publisher,
    sweep_every: Duration,
}

type Row = (u64, String, String, String, String, chrono::NaiveDateTime);

impl Relay {
    pub fn new(pool: Pool, publisher: Publisher, sweep_every: Duration) -> Self {
        Self {
            pool,
            publisher,
            sweep_every,
        }
    }

    /// Sweeps every `sweep_every` (the first time one period after start) and prunes every
    /// [`PRUNE_EVERY`] (the first time at start) until `shutdown`, a failure being the
    /// periodic loop's to report (`stockflow_kit::periodic`); publishes everything pending
    /// once more before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        // The first sweep comes one period after start: what a crash left is older than
        // the grace by then anyway, and a long `OUTBOX_SWEEP_MS` keeps the sweeper out of
        // a test's way.
        let sweeping = Periodic::new("outbox_sweep", self.sweep_every)
            .first_after_period()
            .run(shutdown.clone(), || async {
                self.drain(FAST_PATH_GRACE).await.map(|()| Pace::Steady)
            });
        let pruning = Periodic::new("outbox_prune", PRUNE_EVERY)
            .run(shutdown, || async { self.prune().await.map(|()| Pace::Steady) });
        tokio::join!(sweeping, pruning);
        if let Err(err) = self.drain(Duration::ZERO).await {
            tracing::warn!(error = %format!("{err:#}"), "outbox sweeper: pending events stay for the next start");
        }
    }

    /// Publishes rows older than `grace` until none is left, then records the backlog.
    async fn drain(&self, grace: Duration) -> anyhow::Result<()> {
        let drained = async {
            while self.sweep_batch(grace).await? == BATCH {}
            anyhow::Ok(())
        }
        .await;
        if let Ok((pending, oldest_age)) = backlog(&self.pool).await {
            metrics::gauge!("outbox_pending_events").set(pending as f64);
            metrics::gauge!("outbox_oldest_pending_age_seconds").set(oldest_age);
        }
        drained
    }

    /// Claims one batch, publishes it (SNS batches per topic) and marks what went out
    /// with one statement; returns how many rows it claimed.
    async fn sweep_batch(&self, grace: Duration) -> anyhow::Result<usize> {
        let mut conn = self.pool.get_conn().await?;
        // The claim locks the rows it claims (and the first one past them), never the rows
        // too young for it, so another replica's sweeper can claim those: READ COMMITTED,
        // where REPEATABLE READ would keep the locks of every row scanned, and a scan of
        // `outbox_due` in its order, which ends where the young rows begin (a scan of
        // other rows kept their locks in MariaDB, even under READ COMMITTED).
        let mut opts = stockflow_kit::db::tx_opts();
        opts.with_isolation_level(mysql_async::IsolationLevel::ReadCommitted);
        let mut tx = conn.start_transaction(opts).await?;
        let rows: Vec<Row> = tx
            .exec(
                "SELECT id, topic, event_type, correlation_id, payload, created_at FROM outbox \
                 WHERE published_at IS NULL AND created_at < CURRENT_TIMESTAMP(6) - INTERVAL ? MICROSECOND \
                 ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED",
                (grace.as_micros() as u64, BATCH),
            )
            .await?;
        let claimed = rows.len();
        if claimed > 0 {
            metrics::counter!("outbox_sweep_claimed_total").increment(claimed as u64);
            tracing::info!(claimed, "outbox sweeper claimed events the fast path left");
        }
        let mut by_topic: BTreeMap<String, Vec<BatchEntry>> = BTreeMap::new();
        for (id, topic, event_type, correlation_id, payload, created_at) in rows {
            let lag = (chrono::Utc::now().naive_utc() - created_at).as_seconds_f64();
            metrics::histogram!("outbox_publish_lag_seconds", "topic" => topic.clone()).record(lag);
            by_topic.entry(topic).or_default().push(BatchEntry {
                id,
                event_type,
                correlation_id,
                payload,
            });
        }
        let mut published = Vec::new();
        let mut first_error = None;
        for (topic, entries) in by_topic {
            for (id, result) in self.publisher.publish_batch(&topic, entries).await {
                match result {
                    Ok(()) => {
                        metrics::counter!("outbox_published_total", "topic" => topic.clone(), "path" => "sweep")
                            .increment(1);
                        published.push(id);
                    }
                    Err(message) => {
                        metrics::counter!("outbox_publish_failures_total", "topic" => topic.clone(), "path" => "sweep")
                            .increment(1);
                        let message: String = message.chars().take(1000).collect();
                        tx.exec_drop(
                            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                            (&message, id),
                        )
                        .await?;
                        first_error.get_or_insert(message);
                    }
                }
            }
        }
        if !published.is_empty() {
            tracing::info!(
                published = published.len(),
                "outbox sweeper published events the fast path left"
            );
            let ids = published.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            tx.query_drop(format!(
                "UPDATE outbox SET published_at = CURRENT_TIMESTAMP(6), attempts = attempts + 1 WHERE id IN ({ids})"
            ))
            .await?;
        }
        tx.commit().await?;
        match first_error {
            Some(message) => Err(anyhow::anyhow!(message)),
            None => Ok(claimed),
        }
    }

    async fn prune(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get_conn().await?;
        conn.exec_drop(
            "DELETE FROM outbox WHERE published_at < CURRENT_TIMESTAMP(6) - INTERVAL ? DAY LIMIT 10000",
            (KEEP_PUBLISHED_DAYS,),
        )
        .await?;
        Ok(())
    }
}

/// `/ready` of a service that writes events: its database (where the outbox is) and SNS
/// (where the outbox publishes) both answer.
pub struct OutboxReadiness {
    pub pool: Pool,
    pub publisher: Publisher,
}

impl Readiness for OutboxReadiness {
    async fn checks(&self) -> Vec<(&'static str, anyhow::Result<()>)> {
        vec![
            ("database", db::ping(&self.pool).await),
            ("sns", self.publisher.ping().await),
        ]
    }
}

/// Unpublished events and the age of the oldest, for `/ready`, metrics and ops.
pub async fn backlog(pool: &Pool) -> anyhow::Result<(u64, f64)> {
    let mut conn = pool.get_conn().await?;
    let row: Option<(u64, Option<f64>)> = conn
        .query_first(
            "SELECT COUNT(*), CAST(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), CURRENT_TIMESTAMP(6)) AS DOUBLE) / 1e6 \
             FROM outbox WHERE published_at IS NULL",
        )
        .await?;
    let (count, age) = row.unwrap_or((0, None));
    Ok((count, age.unwrap_or(0.0)))
}
